//! A transposed convolution computed as a direct convolution of the zero-inserted input, for
//! burn's cubecl backends (wgpu natively, WebGPU in the page).
//!
//! burn's cubecl `conv_transpose2d` autotunes between a direct kernel and `col2im`, a matrix
//! product; compiling cubecl's matrix-product kernels crashes lavapipe (a segmentation fault in
//! its shader compiler) and stops the page's WebGPU build on SwiftShader. A stride-`s` transposed
//! convolution is the convolution, by the spatially flipped kernel with input and output channels
//! swapped, of the input with `s − 1` zeros between neighbouring pixels, padded by `k − 1 − p`:
//! that goes through burn's ordinary convolution kernels, which every adapter compiles. The
//! zeros cost multiply-adds (4× those of the U-Net's 2×2 stride-2 layers, about a tenth more for
//! the whole network), not accuracy: the sums are the same.

use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Tensor, module};

/// Whether [`conv_transpose2d`] computes this transposed convolution: one group, no dilation, no
/// output padding, and padding smaller than the kernel.
pub fn applies(kernel: [usize; 2], options: &ConvTransposeOptions<2>) -> bool {
    options.groups == 1
        && options.dilation == [1, 1]
        && options.padding_out == [0, 0]
        && (0..2).all(|axis| options.padding[axis] < kernel[axis])
}

/// burn's `conv_transpose2d(x, weight, bias, options)` for the options that [`applies`] accepts.
///
/// - `x`: `[batch, channels_in, height, width]`
/// - `weight`: `[channels_in, channels_out, kh, kw]`, `bias`: `[channels_out]`
/// - output: `[batch, channels_out, (height − 1)·sh + kh − 2·ph, (width − 1)·sw + kw − 2·pw]`
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvTransposeOptions<2>,
) -> Tensor<4> {
    let [_, _, kh, kw] = weight.dims();
    let spread = insert_zeros(x, options.stride);
    // [channels_out, channels_in, kh, kw], flipped in space.
    let weight = weight.swap_dims(0, 1).flip([2, 3]);
    let padding = [kh - 1 - options.padding[0], kw - 1 - options.padding[1]];
    module::conv2d(spread, weight, bias, ConvOptions::new([1, 1], padding, [1, 1], 1))
}

/// `x` with `stride − 1` zeros between neighbouring pixels along each axis.
///
/// - `x`: `[batch, channels, height, width]`
/// - output: `[batch, channels, (height − 1)·sh + 1, (width − 1)·sw + 1]`
pub fn insert_zeros(x: Tensor<4>, [sh, sw]: [usize; 2]) -> Tensor<4> {
    let [batch, channels, height, width] = x.dims();
    let spread = spread_axis(spread_axis(x, 3, sw), 2, sh);
    spread.slice([0..batch, 0..channels, 0..(height - 1) * sh + 1, 0..(width - 1) * sw + 1])
}

/// Each pixel of `x` followed by `stride − 1` zeros along `axis` (2: rows, 3: columns).
///
/// - `x`: `[batch, channels, height, width]`
/// - output: the same with `axis` `stride` times as long
fn spread_axis(x: Tensor<4>, axis: usize, stride: usize) -> Tensor<4> {
    if stride == 1 {
        return x;
    }
    let mut dims = x.dims();
    dims[axis] *= stride;
    let zeros = x.zeros_like();
    // [.., n, stride, ..] with the pixel first: read as [.., n · stride, ..].
    let interleaved: Tensor<5> = Tensor::stack([vec![x], vec![zeros; stride - 1]].concat(), axis + 1);
    interleaved.reshape(dims)
}
