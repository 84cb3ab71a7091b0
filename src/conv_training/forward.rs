//! A convolution as matrix products, in burn's `[batch, channels, height, width]` layout: for
//! each image and band of output rows, the weight `[channels_out, channels_in · kernel²]` times
//! the band's patches (im2col). Training runs it forward, and backward for the input's gradient
//! of a stride-1 convolution (the same convolution of the output's gradient by the weight turned
//! half a turn, channels swapped) and of a transposed one (a convolution of its output's
//! gradient).

use rayon::prelude::*;

use super::im2col::{ConvGeometry, band_rows, im2col_band};

/// The convolution of `input` by `weight` plus `bias`, `[batch, channels_out, height_out,
/// width_out]` row-major.
///
/// - `input`: `[batch, channels_in, height, width]`, its shape in `input_shape`
/// - `weight`: `[channels_out, channels_in, kh, kw]`, its shape in `weight_shape`
/// - `bias`: `[channels_out]` or none
/// - `output_size`: `[height_out, width_out]` (with the geometry's padding before, the padding
///   after is what this size implies)
///
/// Images are shared among rayon's threads; an image alone lets the matrix products use them.
pub fn conv2d_forward(
    input: &[f32],
    input_shape: [usize; 4],
    weight: &[f32],
    weight_shape: [usize; 4],
    bias: Option<&[f32]>,
    geometry: ConvGeometry,
    output_size: [usize; 2],
) -> Vec<f32> {
    let [batch, channels_in, height, width] = input_shape;
    let [channels_out, weight_in, kh, kw] = weight_shape;
    assert_eq!(channels_in, weight_in, "the weight's input channels");
    assert_eq!([kh, kw], geometry.kernel, "the weight's kernel");
    assert_eq!(input.len(), input_shape.iter().product::<usize>(), "the input's length");
    assert_eq!(weight.len(), weight_shape.iter().product::<usize>(), "the weight's length");
    let [height_out, width_out] = output_size;
    let out_pixels = height_out * width_out;
    let columns = channels_in * kh * kw;
    let mut output = vec![0.0f32; batch * channels_out * out_pixels];
    if output.is_empty() {
        return output;
    }
    if let Some(bias) = bias {
        assert_eq!(bias.len(), channels_out, "the bias's length");
        // Planes run image by image, channel by channel.
        output.chunks_exact_mut(out_pixels).enumerate().for_each(|(index, plane)| plane.fill(bias[index % channels_out]));
    }
    let plane = height * width;
    let threads = rayon::current_num_threads();
    let parallelism = if batch < threads { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    let rows_per_band = band_rows(columns, channels_out, height_out, width_out);
    output.par_chunks_mut(channels_out * out_pixels).enumerate().for_each(|(image, out)| {
        let image_input = &input[image * channels_in * plane..(image + 1) * channels_in * plane];
        let mut patches = Vec::new();
        for first_row in (0..height_out).step_by(rows_per_band) {
            let rows = rows_per_band.min(height_out - first_row);
            let pixels = rows * width_out;
            patches.resize(columns * pixels, 0.0);
            im2col_band(image_input, [channels_in, height, width], [first_row, rows, width_out], geometry, &mut patches, pixels);
            let dst = &mut out[first_row * width_out..];
            // SAFETY: the destination is `channels_out` rows of `pixels` values `out_pixels`
            // apart from the band's first pixel, inside this image's output (the band ends at or
            // before the plane's end); the weight is `channels_out × columns` row-major and the
            // patches `columns × pixels` row-major, their lengths. None overlap.
            unsafe {
                gemm::gemm(
                    channels_out,
                    pixels,
                    columns,
                    dst.as_mut_ptr(),
                    1,
                    out_pixels as isize,
                    true,
                    weight.as_ptr(),
                    1,
                    columns as isize,
                    patches.as_ptr(),
                    1,
                    pixels as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    parallelism,
                );
            }
        }
    });
    output
}

/// `weight` `[channels_out, channels_in, kh, kw]` turned half a turn with its channels swapped:
/// `[channels_in, channels_out, kh, kw]`, tap `(ky, kx)` from `(kh − 1 − ky, kw − 1 − kx)`. A
/// stride-1 convolution's input gradient is the convolution of the output's gradient by it.
pub fn flipped_transposed(weight: &[f32], [channels_out, channels_in, kh, kw]: [usize; 4]) -> Vec<f32> {
    let mut out = vec![0.0f32; weight.len()];
    for co in 0..channels_out {
        for ci in 0..channels_in {
            for ky in 0..kh {
                for kx in 0..kw {
                    out[((ci * channels_out + co) * kh + ky) * kw + kx] =
                        weight[((co * channels_in + ci) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len).map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) % 1000) as f32 / 500.0 - 1.0).collect()
    }

    /// The definition, term by term.
    fn direct(input: &[f32], [batch, cin, h, w]: [usize; 4], weight: &[f32], [cout, _, kh, kw]: [usize; 4], bias: &[f32], g: ConvGeometry, [ho, wo]: [usize; 2]) -> Vec<f32> {
        let mut out = vec![0.0f32; batch * cout * ho * wo];
        for n in 0..batch {
            for co in 0..cout {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut sum = bias[co] as f64;
                        for ci in 0..cin {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.padding[0] as isize;
                                    let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.padding[1] as isize;
                                    if iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize {
                                        sum += (weight[((co * cin + ci) * kh + ky) * kw + kx] * input[((n * cin + ci) * h + iy as usize) * w + ix as usize]) as f64;
                                    }
                                }
                            }
                        }
                        out[((n * cout + co) * ho + oy) * wo + ox] = sum as f32;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_definition() {
        // (input, weight, stride, padding, output size)
        let cases = [
            ([2, 3, 9, 7], [4, 3, 3, 3], [1, 1], [1, 1], [9, 7]),
            ([1, 2, 11, 10], [3, 2, 3, 3], [2, 2], [1, 1], [6, 5]),
            ([3, 5, 6, 5], [2, 5, 1, 1], [1, 1], [0, 0], [6, 5]),
            ([2, 2, 7, 8], [3, 2, 4, 4], [1, 1], [1, 1], [6, 7]),
        ];
        for (index, (input_shape, weight_shape, stride, padding, output_size)) in cases.into_iter().enumerate() {
            let g = ConvGeometry { kernel: [weight_shape[2], weight_shape[3]], stride, padding, dilation: [1, 1] };
            let input = values(input_shape.iter().product(), index as u32);
            let weight = values(weight_shape.iter().product(), 50 + index as u32);
            let bias = values(weight_shape[0], 90 + index as u32);
            let fast = conv2d_forward(&input, input_shape, &weight, weight_shape, Some(&bias), g, output_size);
            let slow = direct(&input, input_shape, &weight, weight_shape, &bias, g, output_size);
            for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "case {index}, value {i}: {a} against {b}");
            }
        }
    }
}
