//! The convolution layers' forward passes, as burn's `Conv2d::forward` and
//! `ConvTranspose2d::forward` compute them. With feature `train` they go through
//! [`crate::conv_training`], whose backward step is faster on the CPU; the layers and their
//! weights are burn's either way.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::backend::DispatchDevice;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor};

use super::zero_insertion;

/// `layer` applied to `x`.
///
/// - `x`: `[batch, channels_in, height, width]`
/// - output: `[batch, channels_out, height_out, width_out]`
pub fn conv2d(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let padding = match layer.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        // Padding that depends on the input's size: burn's own forward (no layer here has it).
        PaddingConfig2d::Same => return layer.forward(x),
    };
    let options = ConvOptions::new_with_padding(layer.stride, padding, layer.dilation, layer.groups);
    let (weight, bias) = (layer.weight.val(), layer.bias.as_ref().map(|bias| bias.val()));
    #[cfg(feature = "train")]
    return crate::conv_training::conv2d(x, weight, bias, options);
    #[cfg(not(feature = "train"))]
    return burn::tensor::module::conv2d(x, weight, bias, options);
}

/// `layer` applied to `x`.
///
/// - `x`: `[batch, channels_in, height, width]`
/// - output: `[batch, channels_out, height_out, width_out]`
///
/// On burn's cubecl backends (wgpu, WebGPU) it is a direct convolution of the zero-inserted input
/// ([`super::zero_insertion`]): their own transposed convolution compiles matrix-product kernels
/// that lavapipe and SwiftShader fail on.
pub fn conv_transpose2d(layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let options = ConvTransposeOptions::new(layer.stride, layer.padding, layer.padding_out, layer.dilation, layer.groups);
    let (weight, bias) = (layer.weight.val(), layer.bias.as_ref().map(|bias| bias.val()));
    if on_cubecl(&x.device()) && zero_insertion::applies(layer.kernel_size, &options) {
        return zero_insertion::conv_transpose2d(x, weight, bias, options);
    }
    #[cfg(feature = "train")]
    return crate::conv_training::conv_transpose2d(x, weight, bias, options);
    #[cfg(not(feature = "train"))]
    return burn::tensor::module::conv_transpose2d(x, weight, bias, options);
}

/// Whether `device` is one of burn's cubecl backends (wgpu, WebGPU, CUDA): any but Flex.
fn on_cubecl(device: &Device) -> bool {
    !matches!(device.clone().inner().as_dispatch(), DispatchDevice::Flex(_))
}
