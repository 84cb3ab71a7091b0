//! Convolutions to a few output channels (the head's 3), computed directly: gemm's vectors run
//! along the output channels or the pixels and would be mostly empty or packed pixel by pixel,
//! so here each output value is the sum of its kernel taps' dot products over the input
//! channels, vectorised along those channels. The page's wasm runs them on
//! [`super::packed_conv`]'s kernel instead (3 of its 8 lanes used): SIMD128's 4 lanes make the
//! dot products above cost more in loads and horizontal sums than the lanes it wastes.

use std::ops::Range;

use super::FeatureMap;

/// Lanes of the dot products: one AVX-512 vector, two AVX2 ones, four SIMD128 ones.
#[cfg(not(target_arch = "wasm32"))]
const LANES: usize = 16;

/// A stride-1 convolution to `COUT` output channels, normalisation folded in.
#[derive(Debug, Clone)]
pub struct NarrowConv<const COUT: usize> {
    /// `[kh, kw, COUT, cin]` flattened: for each tap, each output channel's weights over the
    /// input channels, contiguous.
    #[cfg(not(target_arch = "wasm32"))]
    weights: Vec<f32>,
    /// The kernel for the page's wasm.
    #[cfg(target_arch = "wasm32")]
    packed: super::packed_conv::PackedKernel,
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
        let bias = bias.try_into().expect("one bias per output channel");
        Self {
            #[cfg(not(target_arch = "wasm32"))]
            weights,
            #[cfg(target_arch = "wasm32")]
            packed: super::packed_conv::PackedKernel::new(weight, [cout, cin, kh, kw]),
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
        {
            let line = input.pitch() * self.cin;
            for (row, out) in rows.zip(out.chunks_exact_mut(width * COUT)) {
                self.packed.run(&input.data, input.padded_index(row, 0), line, self.cin, width, out);
                for pixel in out.chunks_exact_mut(COUT) {
                    pixel.iter_mut().zip(&self.bias).for_each(|(value, bias)| *value += bias);
                }
            }
        }
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
                        let got = out[(i * out_width + x) * 3 + co];
                        assert!((got - expected).abs() < 1e-3, "cin {cin} kernel {kernel} ({row}, {x}, {co}): {got} vs {expected}");
                    }
                }
            }
        }
    }
}
