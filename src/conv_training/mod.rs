//! Convolutions for training on the CPU (feature `train`). Where a convolution's input lives on
//! Flex with autodiff, these compute as matrix products on patches (im2col, [`forward`],
//! [`weight_gradient`]): the forward pass, the weight gradient (burn's default is a convolution
//! whose kernel is the whole output-gradient map, most of a training step's time on Flex), and
//! the input gradient of stride-1 and transposed convolutions. Elsewhere (inference, wgpu,
//! grouped convolutions) these are burn's `conv2d` and `conv_transpose2d`, unchanged.

mod extension;
pub mod forward;
pub mod im2col;
pub mod profile;
pub mod weight_gradient;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::ops::{ConvOptions, ConvTransposeOptions};
use burn::backend::{Dispatch, DispatchDevice};
use burn::tensor::{Device, Tensor, module};

pub use extension::ConvTraining;

static BURN_CONVOLUTIONS: AtomicBool = AtomicBool::new(false);

/// How the training convolutions compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convolutions {
    /// As matrix products on patches ([`forward`], [`weight_gradient`]): the default.
    MatrixProducts,
    /// burn Flex's forward and burn's default backward (whose weight gradient is a convolution
    /// by the whole gradient map): the reference, for benchmarks and tests that compare the two.
    Burn,
}

/// Chooses how every training convolution of the process computes.
pub fn set_convolutions(method: Convolutions) {
    BURN_CONVOLUTIONS.store(method == Convolutions::Burn, Ordering::SeqCst);
}

/// How the training convolutions compute now.
pub fn convolutions() -> Convolutions {
    if BURN_CONVOLUTIONS.load(Ordering::Relaxed) { Convolutions::Burn } else { Convolutions::MatrixProducts }
}

/// Whether tensors on `device` take the training convolutions: Flex with autodiff.
pub fn applies(device: &Device) -> bool {
    device.is_autodiff() && matches!(device.clone().inner().as_dispatch(), DispatchDevice::Flex(_))
}

/// The layer's bias, or a constant zero bias (not trained) of `channels` for a layer without one.
fn bias_or_zero(bias: Option<Tensor<1>>, channels: usize, device: &Device) -> Tensor<1> {
    bias.unwrap_or_else(|| Tensor::zeros([channels], device))
}

/// burn's `conv2d`, as matrix products on Flex with autodiff.
///
/// - `x`: `[batch, channels_in, height, width]`
/// - `weight`: `[channels_out, channels_in / groups, kh, kw]`, `bias`: `[channels_out]`
/// - output: `[batch, channels_out, height_out, width_out]`
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, options: ConvOptions<2>) -> Tensor<4> {
    if options.groups != 1 || !applies(&x.device()) {
        return module::conv2d(x, weight, bias, options);
    }
    let bias = bias_or_zero(bias, weight.dims()[0], &x.device());
    let output =
        <Dispatch as ConvTraining>::conv2d_training(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch(), options);
    Tensor::from_dispatch(output)
}

/// burn's `conv_transpose2d`, with matrix-product gradients on Flex with autodiff.
///
/// - `x`: `[batch, channels_in, height, width]`
/// - `weight`: `[channels_in, channels_out / groups, kh, kw]`, `bias`: `[channels_out]`
/// - output: `[batch, channels_out, height_out, width_out]`
pub fn conv_transpose2d(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, options: ConvTransposeOptions<2>) -> Tensor<4> {
    if options.groups != 1 || !applies(&x.device()) {
        return module::conv_transpose2d(x, weight, bias, options);
    }
    let bias = bias_or_zero(bias, weight.dims()[1], &x.device());
    let output = <Dispatch as ConvTraining>::conv_transpose2d_training(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        options,
    );
    Tensor::from_dispatch(output)
}
