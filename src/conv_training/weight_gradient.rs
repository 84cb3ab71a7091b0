//! The weight gradient of a convolution as matrix products: for each image and band of output
//! rows, the input's patches laid out as columns (im2col) against the output gradient, summed
//! into one `[channels_out, channels_in · kernel²]` matrix. burn's default computes the same sum
//! as a convolution whose kernel is the whole gradient map, which no CPU kernel tiles.
//!
//! `dW[co, ci, ky, kx] = Σₙ Σ_{oy, ox} grad[n, co, oy, ox] · input[n, ci, oy·s + ky·d − p, ox·s + kx·d − p]`
//! (zero outside the input).

use rayon::prelude::*;

use super::im2col::{ConvGeometry, band_rows, im2col_band, min_band_pixels};

/// The gradient of the convolution's weight, `[channels_out, channels_in, kh, kw]` row-major.
///
/// - `input`: `[batch, channels_in, height, width]` row-major, its shape in `input_shape`
/// - `grad`: the output's gradient `[batch, channels_out, height_out, width_out]`, its shape in
///   `grad_shape`
///
/// Chunks of output rows are shared among rayon's threads, each summing into its own matrix.
pub fn conv2d_weight_gradient(
    input: &[f32],
    input_shape: [usize; 4],
    grad: &[f32],
    grad_shape: [usize; 4],
    geometry: ConvGeometry,
) -> Vec<f32> {
    let [batch, channels_in, height, width] = input_shape;
    let [grad_batch, channels_out, height_out, width_out] = grad_shape;
    assert_eq!(batch, grad_batch, "the input and the gradient hold different batches");
    assert_eq!(input.len(), input_shape.iter().product::<usize>(), "the input's length");
    assert_eq!(grad.len(), grad_shape.iter().product::<usize>(), "the gradient's length");
    let [kh, kw] = geometry.kernel;
    let columns = channels_in * kh * kw;
    let out_pixels = height_out * width_out;
    if columns == 0 || channels_out == 0 {
        return vec![0.0; channels_out * columns];
    }
    // Chunks of whole output rows, running on from one image into the next, so that deep layers
    // (many columns, small maps) sum over enough pixels per product even where an image holds
    // fewer (`min_band_pixels`).
    let total_rows = batch * height_out;
    let chunk_rows = band_rows(columns, channels_out, height_out, width_out)
        .max(min_band_pixels(columns, channels_out).div_ceil(width_out.max(1)))
        .min(total_rows.div_ceil(rayon::current_num_threads()))
        .max(1);
    let plane = height * width;
    (0..total_rows.div_ceil(chunk_rows))
        .into_par_iter()
        .fold(
            || (vec![0.0f32; channels_out * columns], Vec::<f32>::new(), Vec::<f32>::new()),
            |(mut sum, mut patches, mut gradients), chunk| {
                let first = chunk * chunk_rows;
                let end = (first + chunk_rows).min(total_rows);
                let pixels = (end - first) * width_out;
                patches.resize(columns * pixels, 0.0);
                gradients.resize(channels_out * pixels, 0.0);
                // The chunk's rows, image by image.
                let mut row = first;
                while row < end {
                    let (image, first_row) = (row / height_out, row % height_out);
                    let rows = (height_out - first_row).min(end - row);
                    let offset = (row - first) * width_out;
                    let image_input = &input[image * channels_in * plane..(image + 1) * channels_in * plane];
                    let band = [first_row, rows, width_out];
                    im2col_band(image_input, [channels_in, height, width], band, geometry, &mut patches[offset..], pixels);
                    for co in 0..channels_out {
                        let source = (image * channels_out + co) * out_pixels + first_row * width_out;
                        gradients[co * pixels + offset..][..rows * width_out].copy_from_slice(&grad[source..][..rows * width_out]);
                    }
                    row += rows;
                }
                // SAFETY: `sum` holds `channels_out · columns` values written row by row
                // (`columns` apart); the left-hand side reads `gradients` as `channels_out` rows
                // of `pixels` values, the right-hand side `patches` as `pixels` rows × `columns`
                // columns stored column by column (`pixels` apart): their lengths. No two of them
                // overlap.
                unsafe {
                    gemm::gemm(
                        channels_out,
                        columns,
                        pixels,
                        sum.as_mut_ptr(),
                        1,
                        columns as isize,
                        true,
                        gradients.as_ptr(),
                        1,
                        pixels as isize,
                        patches.as_ptr(),
                        pixels as isize,
                        1,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
                (sum, patches, gradients)
            },
        )
        .map(|(sum, _, _)| sum)
        .reduce(
            || vec![0.0f32; channels_out * columns],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, summed term by term.
    fn direct(input: &[f32], input_shape: [usize; 4], grad: &[f32], grad_shape: [usize; 4], g: ConvGeometry) -> Vec<f32> {
        let [batch, cin, h, w] = input_shape;
        let [_, cout, ho, wo] = grad_shape;
        let [kh, kw] = g.kernel;
        let mut out = vec![0.0f32; cout * cin * kh * kw];
        for n in 0..batch {
            for co in 0..cout {
                for ci in 0..cin {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let mut sum = 0.0f64;
                            for oy in 0..ho {
                                for ox in 0..wo {
                                    let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.padding[0] as isize;
                                    let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.padding[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let x = input[((n * cin + ci) * h + iy as usize) * w + ix as usize];
                                    sum += (grad[((n * cout + co) * ho + oy) * wo + ox] * x) as f64;
                                }
                            }
                            out[((co * cin + ci) * kh + ky) * kw + kx] += sum as f32;
                        }
                    }
                }
            }
        }
        out
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len).map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) % 1000) as f32 / 500.0 - 1.0).collect()
    }

    #[test]
    fn matches_the_definition_for_strides_paddings_and_dilations() {
        // (input shape, channels out, kernel, stride, padding, dilation)
        let cases = [
            ([2, 3, 9, 7], 4, [3, 3], [1, 1], [1, 1], [1, 1]),
            ([1, 2, 11, 10], 3, [3, 3], [2, 2], [1, 1], [1, 1]),
            ([3, 5, 6, 5], 2, [1, 1], [1, 1], [0, 0], [1, 1]),
            ([1, 4, 8, 9], 3, [2, 2], [2, 2], [0, 0], [1, 1]),
            ([2, 2, 7, 8], 3, [3, 2], [1, 2], [2, 0], [2, 1]),
        ];
        for (index, (input_shape, cout, kernel, stride, padding, dilation)) in cases.into_iter().enumerate() {
            let g = ConvGeometry { kernel, stride, padding, dilation };
            let out = |size: usize, k: usize, s: usize, p: usize, d: usize| (size + 2 * p - d * (k - 1) - 1) / s + 1;
            let grad_shape = [
                input_shape[0],
                cout,
                out(input_shape[2], kernel[0], stride[0], padding[0], dilation[0]),
                out(input_shape[3], kernel[1], stride[1], padding[1], dilation[1]),
            ];
            let input = values(input_shape.iter().product(), 1 + index as u32);
            let grad = values(grad_shape.iter().product(), 100 + index as u32);
            let fast = conv2d_weight_gradient(&input, input_shape, &grad, grad_shape, g);
            let slow = direct(&input, input_shape, &grad, grad_shape, g);
            for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "case {index}, value {i}: {a} against {b}");
            }
        }
    }
}
