//! Convolutions to a few output channels (the head's 3), computed directly: gemm's vectors run
//! along the output channels or the pixels and would be mostly empty or packed pixel by pixel,
//! so here each output value is the sum of its kernel taps' dot products over the input
//! channels, vectorised along those channels. Natively the compiler vectorises the loops for
//! AVX-512 or AVX2, one pixel at a time; in the page's wasm a register tile of [`PIXELS`]
//! pixels × `COUT` channels of SIMD128 vectors runs along a kernel row's `kw · cin` contiguous
//! values, so that each weight vector loaded serves every pixel of the tile and the horizontal
//! sums come once per output value.

use std::ops::Range;

use super::FeatureMap;
#[cfg(any(target_arch = "wasm32", test))]
use super::lanes::F32x4;

/// Lanes of the dot products natively: one AVX-512 vector, two AVX2 ones.
#[cfg(not(target_arch = "wasm32"))]
const LANES: usize = 16;

/// Pixels of the wasm kernel's register tile: with 3 channels, 9 vectors of sums, 3 of weights
/// and the input's, within the 16 registers of a browser's x86-64 code.
#[cfg(any(target_arch = "wasm32", test))]
const PIXELS: usize = 3;

/// A stride-1 convolution to `COUT` output channels, normalisation folded in.
#[derive(Debug, Clone)]
pub struct NarrowConv<const COUT: usize> {
    /// `[kh, kw, COUT, cin]` flattened: for each tap, each output channel's weights over the
    /// input channels, contiguous.
    #[cfg(not(target_arch = "wasm32"))]
    weights: Vec<f32>,
    /// `[kh, COUT, kw · cin]` flattened, for the wasm kernel: for each kernel row, each output
    /// channel's weights in the order the map stores a row's `kw` pixels.
    #[cfg(any(target_arch = "wasm32", test))]
    row_weights: Vec<f32>,
    bias: [f32; COUT],
    kernel: [usize; 2],
    cin: usize,
}

impl<const COUT: usize> NarrowConv<COUT> {
    /// A convolution from burn's layout: `weight` `[COUT, cin, kh, kw]` flattened.
    pub fn new(weight: &[f32], [cout, cin, kh, kw]: [usize; 4], bias: &[f32]) -> Self {
        assert_eq!(cout, COUT, "output channels");
        assert_eq!(weight.len(), cout * cin * kh * kw, "kernel of {cout}×{cin}×{kh}×{kw}");
        #[cfg(not(target_arch = "wasm32"))]
        let mut weights = vec![0.0; weight.len()];
        #[cfg(not(target_arch = "wasm32"))]
        for co in 0..cout {
            for ci in 0..cin {
                for ky in 0..kh {
                    for kx in 0..kw {
                        weights[((ky * kw + kx) * cout + co) * cin + ci] = weight[((co * cin + ci) * kh + ky) * kw + kx];
                    }
                }
            }
        }
        #[cfg(any(target_arch = "wasm32", test))]
        let mut row_weights = vec![0.0; weight.len()];
        #[cfg(any(target_arch = "wasm32", test))]
        for co in 0..cout {
            for ci in 0..cin {
                for ky in 0..kh {
                    for kx in 0..kw {
                        row_weights[((ky * cout + co) * kw + kx) * cin + ci] = weight[((co * cin + ci) * kh + ky) * kw + kx];
                    }
                }
            }
        }
        let bias = bias.try_into().expect("one bias per output channel");
        Self {
            #[cfg(not(target_arch = "wasm32"))]
            weights,
            #[cfg(any(target_arch = "wasm32", test))]
            row_weights,
            bias,
            kernel: [kh, kw],
            cin,
        }
    }

    /// Output rows `rows` (`width` pixels each) over `input`, whose stored pixel
    /// (`row + ky`, `x + kx`) (border included) is tap (`ky`, `kx`) of output pixel (`row`, `x`):
    /// `out[(i · width + x) · COUT + co]` for the band's `i`-th row, bias added.
    pub fn compute(&self, input: &FeatureMap, rows: Range<usize>, width: usize, out: &mut [f32]) {
        assert_eq!(input.channels, self.cin, "input channels");
        let [kh, kw] = self.kernel;
        assert!(rows.end + kh - 1 <= input.height + 2 * input.pad && width + kw - 1 <= input.pitch(), "the kernel reads past the map");
        assert_eq!(out.len(), rows.len() * width * COUT, "output band size");
        #[cfg(target_arch = "wasm32")]
        self.compute_lanes(input, rows.clone(), width, out);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked just above).
                return unsafe { self.compute_avx512(input, rows, width, out) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { self.compute_avx2(input, rows, width, out) };
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        self.compute_portable(input, rows, width, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn compute_avx512(&self, input: &FeatureMap, rows: Range<usize>, width: usize, out: &mut [f32]) {
        self.compute_portable(input, rows, width, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn compute_avx2(&self, input: &FeatureMap, rows: Range<usize>, width: usize, out: &mut [f32]) {
        self.compute_portable(input, rows, width, out)
    }

    /// The loops, compiled once per instruction set by the callers above.
    #[cfg(not(target_arch = "wasm32"))]
    #[inline(always)]
    fn compute_portable(&self, input: &FeatureMap, rows: Range<usize>, width: usize, out: &mut [f32]) {
        let cin = self.cin;
        let [kh, kw] = self.kernel;
        let chunks = cin / LANES;
        let tap_weights = COUT * cin;
        for (i, row) in rows.enumerate() {
            for x in 0..width {
                let mut vector = [[0.0f32; LANES]; COUT];
                let mut scalar = [0.0f32; COUT];
                for ky in 0..kh {
                    let start = input.padded_index(row + ky, x);
                    let line = &input.data[start..start + kw * cin];
                    let weights = &self.weights[ky * kw * tap_weights..(ky + 1) * kw * tap_weights];
                    for (pixel, weights) in line.chunks_exact(cin).zip(weights.chunks_exact(tap_weights)) {
                        for chunk in 0..chunks {
                            let values: &[f32; LANES] = pixel[chunk * LANES..][..LANES].try_into().unwrap();
                            for (co, sum) in vector.iter_mut().enumerate() {
                                let w: &[f32; LANES] = weights[co * cin + chunk * LANES..][..LANES].try_into().unwrap();
                                for lane in 0..LANES {
                                    sum[lane] += values[lane] * w[lane];
                                }
                            }
                        }
                        for ci in chunks * LANES..cin {
                            for (co, sum) in scalar.iter_mut().enumerate() {
                                *sum += pixel[ci] * weights[co * cin + ci];
                            }
                        }
                    }
                }
                let at = (i * width + x) * COUT;
                for co in 0..COUT {
                    out[at + co] = vector[co].iter().sum::<f32>() + scalar[co] + self.bias[co];
                }
            }
        }
    }
}

#[cfg(any(target_arch = "wasm32", test))]
impl<const COUT: usize> NarrowConv<COUT> {
    /// [`NarrowConv::compute`] on [`F32x4`] (the page's kernel; natively for the tests), after
    /// its checks.
    #[cfg_attr(all(target_arch = "wasm32", feature = "relaxed-simd"), target_feature(enable = "relaxed-simd"))]
    fn compute_lanes(&self, input: &FeatureMap, rows: Range<usize>, width: usize, out: &mut [f32]) {
        let cin = self.cin;
        let [kh, kw] = self.kernel;
        let geometry = RowGeometry { line: input.pitch() * cin, pixel_step: cin, kh, row_len: kw * cin };
        for (row, out) in rows.zip(out.chunks_exact_mut(width * COUT)) {
            // SAFETY: `compute` checked that rows `row..row + kh` and pixels `0..width + kw - 1`
            // are in the map, which holds every value a pixel below `width` reads; `out` holds
            // `width · COUT` values.
            unsafe {
                let from = input.data.as_ptr().add(input.padded_index(row, 0));
                let mut x = 0;
                while x + PIXELS <= width {
                    self.tile::<PIXELS>(&geometry, from.add(x * cin), out.as_mut_ptr().add(x * COUT));
                    x += PIXELS;
                }
                for x in x..width {
                    self.tile::<1>(&geometry, from.add(x * cin), out.as_mut_ptr().add(x * COUT));
                }
            }
        }
    }

    /// `P` adjacent output pixels, all `COUT` channels, bias added: `input` at the first
    /// pixel's first value in the first kernel row, `out` at its first channel.
    ///
    /// # Safety
    /// The `kh` rows of `row_len + (P - 1) · pixel_step` values from `input`, `line` apart, must
    /// be readable, and `P · COUT` values from `out` writable.
    #[inline(always)]
    unsafe fn tile<const P: usize>(&self, geometry: &RowGeometry, input: *const f32, out: *mut f32) {
        let RowGeometry { line, pixel_step, kh, row_len } = *geometry;
        let vectors = row_len / 4;
        let mut sums = [[F32x4::zero(); COUT]; P];
        let mut tails = [[0.0f32; COUT]; P];
        for ky in 0..kh {
            // SAFETY (this block): the caller's, and `row_weights` holds `kh · COUT · row_len`.
            unsafe {
                let row = input.add(ky * line);
                let weights = self.row_weights.as_ptr().add(ky * COUT * row_len);
                for v in 0..vectors {
                    let w: [F32x4; COUT] = std::array::from_fn(|co| F32x4::load(weights.add(co * row_len + 4 * v)));
                    for (p, sums) in sums.iter_mut().enumerate() {
                        let value = F32x4::load(row.add(p * pixel_step + 4 * v));
                        for (sum, w) in sums.iter_mut().zip(w) {
                            *sum = sum.mul_add(value, w);
                        }
                    }
                }
                for j in 4 * vectors..row_len {
                    for (p, tails) in tails.iter_mut().enumerate() {
                        let value = *row.add(p * pixel_step + j);
                        for (co, tail) in tails.iter_mut().enumerate() {
                            *tail += value * *weights.add(co * row_len + j);
                        }
                    }
                }
            }
        }
        for (p, (sums, tails)) in sums.iter().zip(&tails).enumerate() {
            for co in 0..COUT {
                // SAFETY: the caller's.
                unsafe { *out.add(p * COUT + co) = sums[co].sum() + tails[co] + self.bias[co] };
            }
        }
    }
}

/// Where [`NarrowConv::tile`]'s values are, in values.
#[cfg(any(target_arch = "wasm32", test))]
struct RowGeometry {
    /// From a stored row to the next.
    line: usize,
    /// From an output pixel's first value to the next pixel's.
    pixel_step: usize,
    kh: usize,
    /// Values of a kernel row for one pixel: `kw · cin`.
    row_len: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_direct_convolution_equals_the_convolution_written_out() {
        let values = |n: usize, seed: usize| -> Vec<f32> { (0..n).map(|i| (((i * 7919 + seed) % 101) as f32 - 50.0) / 50.0).collect() };
        // 40 input channels: two full vectors and a scalar tail.
        for (cin, kernel) in [(40, 3), (5, 7), (16, 2)] {
            let (height, width, pad) = (9, 10, kernel / 2);
            let mut input = FeatureMap::zeros(height, width, cin, pad);
            input.data = values(input.data.len(), 1);
            let weight = values(3 * cin * kernel * kernel, 2);
            let bias = [0.5, -0.25, 0.125];
            let conv = NarrowConv::<3>::new(&weight, [3, cin, kernel, kernel], &bias);
            let (out_height, out_width) = (height + 2 * pad - kernel + 1, width + 2 * pad - kernel + 1);
            let rows = 1..out_height;
            let mut out = vec![0.0; rows.len() * out_width * 3];
            conv.compute(&input, rows.clone(), out_width, &mut out);
            // The wasm kernel, natively on plain arrays.
            let mut out_lanes = vec![0.0; out.len()];
            conv.compute_lanes(&input, rows.clone(), out_width, &mut out_lanes);
            for (i, row) in rows.enumerate() {
                for x in 0..out_width {
                    for co in 0..3 {
                        let mut expected = bias[co];
                        for ci in 0..cin {
                            for ky in 0..kernel {
                                for kx in 0..kernel {
                                    let at = input.padded_index(row + ky, x + kx) + ci;
                                    expected += weight[((co * cin + ci) * kernel + ky) * kernel + kx] * input.data[at];
                                }
                            }
                        }
                        for (path, out) in [("compute", &out), ("compute_lanes", &out_lanes)] {
                            let got = out[(i * out_width + x) * 3 + co];
                            assert!((got - expected).abs() < 1e-3, "{path}: cin {cin} kernel {kernel} ({row}, {x}, {co}): {got} vs {expected}");
                        }
                    }
                }
            }
        }
    }
}
