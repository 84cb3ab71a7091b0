//! Convolutions as matrix products without im2col: in a channels-last map, the `kw · cin`
//! values a kernel row reads for one output pixel are contiguous, and the next pixel's start
//! `stride · cin` values further on. So each kernel row is one gemm that reads the map itself,
//! with overlapping rows: `kh` gemms per band of output rows, no copy. The output is channels
//! last too; gemm's vectors then run along the output channels (its long side) and read the map
//! as it is, unpacked. Convolutions to fewer channels than a vector holds (the head's 3) are
//! [`super::NarrowConv`]'s. The page's wasm runs the same products on
//! `packed_conv`'s kernel instead of gemm's, and 3×3 stride-1 ones by [`Winograd`] where asked
//! ([`Conv::winograd`]).

use std::ops::Range;

use super::winograd::Winograd;

/// A convolution ready for the engine: normalisation folded in, each kernel row a gemm
/// right-hand side, or 3×3 stride-1 ones by [`Winograd`]'s transform.
#[derive(Debug, Clone)]
pub struct Conv {
    method: Method,
    /// One per output channel.
    pub bias: Vec<f32>,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// The same on both axes.
    pub stride: usize,
}

/// How a [`Conv`] computes.
#[derive(Debug, Clone)]
enum Method {
    Direct(DirectKernel),
    Winograd(Box<Winograd>),
}

/// The weights of a directly computed convolution, natively: `kernel_rows[ky]` is
/// `[kw · cin, cout]` row-major (row `kx · cin + ci`, column `co`), a gemm right-hand side.
#[cfg(not(target_arch = "wasm32"))]
type DirectKernel = Vec<Vec<f32>>;

/// The weights of a directly computed convolution, in the page's wasm.
#[cfg(target_arch = "wasm32")]
type DirectKernel = super::packed_conv::PackedKernel;

/// Output rows computed by [`Conv::compute`], channels last: the band's pixel (`row`, `x`) has
/// its `cout` values at `(row · row_pitch + x) · cout`.
pub struct Band<'a> {
    pub(super) values: &'a [f32],
    pub(super) row_pitch: usize,
    pub(super) cout: usize,
}

impl Band<'_> {
    /// The output channels of the pixel `x` of the band's row `row`, before the bias.
    #[inline]
    pub fn pixel(&self, row: usize, x: usize) -> &[f32] {
        let start = (row * self.row_pitch + x) * self.cout;
        &self.values[start..start + self.cout]
    }
}

impl Conv {
    /// A 3×3 stride-1 convolution computed by [`Winograd`]'s transform (it must
    /// [apply](Winograd::applies)); `weight` and `bias` as for [`Conv::new`].
    pub fn winograd(weight: &[f32], shape: [usize; 4], bias: Vec<f32>) -> Self {
        let [cout, cin, kh, kw] = shape;
        assert_eq!(bias.len(), cout, "one bias per output channel");
        let method = Method::Winograd(Box::new(Winograd::new(weight, shape)));
        Self { method, bias, kernel: [kh, kw], cin, cout, stride: 1 }
    }

    /// A convolution from burn's layout, computed directly: `weight` `[cout, cin, kh, kw]`
    /// flattened, `bias` one per output channel.
    pub fn new(weight: &[f32], [cout, cin, kh, kw]: [usize; 4], bias: Vec<f32>, stride: usize) -> Self {
        assert_eq!(weight.len(), cout * cin * kh * kw, "kernel of {cout}×{cin}×{kh}×{kw}");
        assert_eq!(bias.len(), cout, "one bias per output channel");
        #[cfg(not(target_arch = "wasm32"))]
        let kernel = (0..kh)
            .map(|ky| {
                let mut rows = vec![0.0; kw * cin * cout];
                for co in 0..cout {
                    for ci in 0..cin {
                        for kx in 0..kw {
                            rows[(kx * cin + ci) * cout + co] = weight[((co * cin + ci) * kh + ky) * kw + kx];
                        }
                    }
                }
                rows
            })
            .collect();
        #[cfg(target_arch = "wasm32")]
        let kernel = super::packed_conv::PackedKernel::new(weight, [cout, cin, kh, kw]);
        Self { method: Method::Direct(kernel), bias, kernel: [kh, kw], cin, cout, stride }
    }

    /// Output rows a band should hold a multiple of (bands end where tiles end): 4 for
    /// [`Winograd`]'s tiles, else 1.
    pub fn row_multiple(&self) -> usize {
        match self.method {
            Method::Winograd(_) => super::winograd::TILE,
            Method::Direct(_) => 1,
        }
    }

    /// For a 1×1 convolution: `out[p · cout + co]` = the sum over `ci` of
    /// `lhs[p · cin + ci] · weight(co, ci)`, for the `pixels` pixels `p` (bias not added).
    pub fn product(&self, lhs: &[f32], pixels: usize, out: &mut [f32]) {
        let (cin, cout) = (self.cin, self.cout);
        assert_eq!(self.kernel, [1, 1], "a product is a 1×1 convolution");
        assert!(lhs.len() >= pixels * cin && out.len() >= pixels * cout, "{pixels} pixels of {cin} → {cout} channels");
        let Method::Direct(kernel) = &self.method else { unreachable!("1×1 convolutions are direct") };
        #[cfg(target_arch = "wasm32")]
        kernel.run(lhs, 0, 0, cin, pixels, out);
        // SAFETY: `lhs` holds `pixels · cin` values and `out` `pixels · cout` (checked above).
        #[cfg(not(target_arch = "wasm32"))]
        unsafe {
            gemm_rows(pixels, cout, cin, out.as_mut_ptr(), false, lhs.as_ptr(), cin, &kernel[0])
        };
    }

    /// Computes the output rows `rows` (each `out_width` pixels wide) of this convolution over
    /// `input`, a map of `cin` channels whose stored pixel (`stride · row + ky + offset[0]`,
    /// `stride · x + kx + offset[1]`) (border included) is the kernel's tap (`ky`, `kx`) for the
    /// output pixel (`row`, `x`). `scratch` holds the result.
    pub fn compute<'a>(
        &self,
        input: &super::FeatureMap,
        offset: [usize; 2],
        rows: Range<usize>,
        out_width: usize,
        scratch: &'a mut Vec<f32>,
    ) -> Band<'a> {
        let kernel = match &self.method {
            Method::Winograd(winograd) => return winograd.compute(input, offset, rows, out_width, scratch),
            Method::Direct(kernel) => kernel,
        };
        assert_eq!(input.channels, self.cin, "input channels");
        assert!(!rows.is_empty() && out_width > 0, "an empty band");
        let (stride, cin, cout) = (self.stride, self.cin, self.cout);
        let pitch = input.pitch();
        // Stride 1: the band's rows are one run of pixels `pitch` apart (the pixels between a
        // row's end and the next row's start are computed and never read). Stride 2: a gemm a row.
        let (row_pitch, plane) = match stride {
            1 => (pitch, (rows.len() - 1) * pitch + out_width),
            _ => (out_width, rows.len() * out_width),
        };
        if scratch.len() < plane * cout {
            scratch.resize(plane * cout, 0.0);
        }
        let runs: Vec<(usize, usize, usize)> = match stride {
            1 => vec![(rows.start, 0, plane)],
            _ => rows.clone().enumerate().map(|(i, row)| (row, i * out_width, out_width)).collect(),
        };
        #[cfg(target_arch = "wasm32")]
        for &(row, dst_offset, m) in &runs {
            let start = input.padded_index(stride * row + offset[0], offset[1]);
            let out = &mut scratch[dst_offset * cout..(dst_offset + m) * cout];
            kernel.run(&input.data, start, pitch * cin, stride * cin, m, out);
        }
        // gemm: a product per kernel row, each adding to the last (`ky > 0`); `k` values a pixel.
        #[cfg(not(target_arch = "wasm32"))]
        let k = self.kernel[1] * cin;
        #[cfg(not(target_arch = "wasm32"))]
        for (ky, rhs) in kernel.iter().enumerate() {
            for &(row, dst_offset, m) in &runs {
                let start = input.padded_index(stride * row + ky + offset[0], offset[1]);
                // The last value read: pixel m - 1's kernel row ends k values after its start.
                let end = start + (m - 1) * stride * cin + k;
                assert!(end <= input.data.len(), "the kernel reads past the map ({end} > {})", input.data.len());
                assert!((dst_offset + m) * cout <= scratch.len(), "the band overflows its scratch");
                // SAFETY: every index gemm touches is inside `input.data` (checked above: rows
                // `stride · cin` apart, `k` values each) and inside `scratch` (pixels
                // `dst_offset..dst_offset + m`, `cout` channels: checked above); gemm only reads
                // the left-hand side, so its overlapping rows alias nothing written.
                unsafe {
                    gemm_rows(m, cout, k, scratch.as_mut_ptr().add(dst_offset * cout), ky > 0, input.data.as_ptr().add(start), stride * cin, rhs)
                };
            }
        }
        Band { values: &scratch[..plane * cout], row_pitch, cout }
    }
}

/// `dst[i · n + j]` (`+=` when `accumulate`) the sum over `l < k` of `lhs[i · lhs_step + l] ·
/// rhs[l · n + j]`, for `i < m`, `j < n`, on one thread: gemm with `dst` and `rhs` row-major and
/// the left-hand side's rows `lhs_step` apart (overlapping where `lhs_step < k`).
///
/// # Safety
/// `dst` must hold `m · n` writable values and `lhs` the `(m - 1) · lhs_step + k` values read;
/// `rhs` is `k · n` values; `dst` must not overlap `lhs`.
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_rows(m: usize, n: usize, k: usize, dst: *mut f32, accumulate: bool, lhs: *const f32, lhs_step: usize, rhs: &[f32]) {
    debug_assert_eq!(rhs.len(), k * n, "a [{k}, {n}] right-hand side");
    // SAFETY: the caller's.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            lhs,
            1,
            lhs_step as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu_inference::FeatureMap;

    /// The convolution written out: output (row, x, co) of a map with its border.
    fn direct(weight: &[f32], shape: [usize; 4], input: &FeatureMap, stride: usize, row: usize, x: usize, co: usize) -> f32 {
        let [_, cin, kh, kw] = shape;
        let mut sum = 0.0;
        for ci in 0..cin {
            for ky in 0..kh {
                for kx in 0..kw {
                    let at = input.padded_index(stride * row + ky, stride * x + kx);
                    sum += weight[((co * cin + ci) * kh + ky) * kw + kx] * input.data[at + ci];
                }
            }
        }
        sum
    }

    #[test]
    fn bands_of_rows_equal_the_convolution_written_out() {
        let values = |n: usize, seed: usize| -> Vec<f32> { (0..n).map(|i| (((i * 7919 + seed) % 101) as f32 - 50.0) / 50.0).collect() };
        for (stride, kernel, cin, cout) in [(1, 3, 5, 4), (1, 7, 3, 6), (2, 3, 4, 7), (1, 2, 3, 2), (1, 3, 6, 32), (2, 3, 5, 16)] {
            let (height, width, pad) = (9, 11, 1);
            let mut input = FeatureMap::zeros(height, width, cin, pad);
            input.data = values(input.data.len(), 3);
            let shape = [cout, cin, kernel, kernel];
            let weight = values(cout * cin * kernel * kernel, 11);
            let conv = Conv::new(&weight, shape, vec![0.0; cout], stride);
            let out_height = (height + 2 * pad - kernel) / stride + 1;
            let out_width = (width + 2 * pad - kernel) / stride + 1;
            let mut scratch = Vec::new();
            for rows in [0..out_height, 1..out_height - 1, out_height - 1..out_height] {
                let band = conv.compute(&input, [0, 0], rows.clone(), out_width, &mut scratch);
                for (i, row) in rows.enumerate() {
                    for x in 0..out_width {
                        for co in 0..cout {
                            let expected = direct(&weight, shape, &input, stride, row, x, co);
                            let got = band.pixel(i, x)[co];
                            assert!((got - expected).abs() < 1e-4, "stride {stride} kernel {kernel}: ({row}, {x}, {co}) {got} vs {expected}");
                        }
                    }
                }
            }
        }
    }
}
