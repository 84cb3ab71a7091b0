//! The page's convolution kernel: the wasm build's [`super::Conv`] runs on this instead of gemm.
//! gemm 0.19's SIMD128 micro-kernel keeps 12 × 4 sums (12 vectors) and packs its operands on
//! every call; here the weights are packed once, when the generator is compiled, and a register
//! tile is [`PIXELS`] pixels × [`CHANNELS`] output channels (8 vectors of sums, 11 registers in
//! all of the 16 that a browser's x86-64 code has), summed over every kernel row at once, so that
//! each output value is written once. The map is read in place, as gemm reads it: the `kw · cin`
//! values a kernel row takes for a pixel are contiguous.

use super::lanes::F32x4;

/// Output channels of a register tile: two vectors.
pub const CHANNELS: usize = 8;

/// Pixels of a register tile (the tails of [`PackedKernel::run`] take up to 3).
pub const PIXELS: usize = 4;
const _: () = assert!(PIXELS == 4, "PackedKernel::run computes tails of 1 to 3 pixels");

/// Pixels computed against one block of [`CHANNELS`] before the next block: the block's packed
/// weights (36 KiB for a 3×3 convolution of 128 channels) stay in the L1 cache meanwhile, and
/// the chunk's input rows in L2.
const CHUNK_PIXELS: usize = 64;

/// A convolution's weights packed for [`PackedKernel::run`]: `[⌈cout / 8⌉, kh, kw · cin, 8]`
/// flattened, zeros past `cout`.
#[derive(Debug, Clone)]
pub struct PackedKernel {
    values: Vec<f32>,
    /// Kernel rows.
    kh: usize,
    /// Values of a kernel row for one pixel: `kw · cin`.
    row_len: usize,
    cout: usize,
}

impl PackedKernel {
    /// The kernel from burn's layout: `weight` `[cout, cin, kh, kw]` flattened.
    pub fn new(weight: &[f32], [cout, cin, kh, kw]: [usize; 4]) -> Self {
        assert_eq!(weight.len(), cout * cin * kh * kw, "kernel of {cout}×{cin}×{kh}×{kw}");
        let row_len = kw * cin;
        let blocks = cout.div_ceil(CHANNELS);
        let mut values = vec![0.0; blocks * kh * row_len * CHANNELS];
        for co in 0..cout {
            let (block, lane) = (co / CHANNELS, co % CHANNELS);
            for ky in 0..kh {
                for kx in 0..kw {
                    for ci in 0..cin {
                        let at = ((block * kh + ky) * row_len + kx * cin + ci) * CHANNELS + lane;
                        values[at] = weight[((co * cin + ci) * kh + ky) * kw + kx];
                    }
                }
            }
        }
        Self { values, kh, row_len, cout }
    }

    /// `out[p · cout + co]`, for the `pixels` output pixels `p` and every output channel `co`:
    /// the sum over kernel rows `ky` and row values `j < kw · cin` of
    /// `input[start + ky · row_step + p · pixel_step + j] · weight(co, ky, j)`, where `j` is
    /// `kx · cin + ci`. In a channels-last map, `row_step` is a stored row (`pitch · cin`) and
    /// `pixel_step` the stride times `cin`.
    #[cfg_attr(all(target_arch = "wasm32", feature = "relaxed-simd"), target_feature(enable = "relaxed-simd"))]
    pub fn run(&self, input: &[f32], start: usize, row_step: usize, pixel_step: usize, pixels: usize, out: &mut [f32]) {
        if pixels == 0 {
            return;
        }
        let (kh, row_len, cout) = (self.kh, self.row_len, self.cout);
        let last_read = start + (kh - 1) * row_step + (pixels - 1) * pixel_step + row_len;
        assert!(last_read <= input.len(), "the kernel reads past the map ({last_read} > {})", input.len());
        assert!(pixels * cout <= out.len(), "{pixels} pixels of {cout} channels overflow the output");
        let geometry = Geometry { row_step, pixel_step, kh, row_len, cout };
        // SAFETY: `start` is inside `input` (checked above).
        let (input_at, out_at) = (unsafe { input.as_ptr().add(start) }, out.as_mut_ptr());
        for chunk in (0..pixels).step_by(CHUNK_PIXELS) {
            let chunk_end = (chunk + CHUNK_PIXELS).min(pixels);
            for (block, weights) in self.values.chunks_exact(kh * row_len * CHANNELS).enumerate() {
                let lanes = CHANNELS.min(cout - block * CHANNELS);
                let mut pixel = chunk;
                // SAFETY: pixels `pixel..pixel + P` are below `pixels`, so every value read is
                // inside `input` (`last_read`, checked above) and every value written inside
                // `out` (channels `block · 8..block · 8 + lanes` of pixels below `pixels`).
                unsafe {
                    let tile_at = |pixel: usize| (input_at.add(pixel * pixel_step), out_at.add(pixel * cout + block * CHANNELS));
                    while pixel + PIXELS <= chunk_end {
                        let (from, to) = tile_at(pixel);
                        tile::<PIXELS>(&geometry, from, weights.as_ptr(), to, lanes);
                        pixel += PIXELS;
                    }
                    let tail = chunk_end - pixel;
                    if tail > 0 {
                        let (from, to) = tile_at(pixel);
                        match tail {
                            3 => tile::<3>(&geometry, from, weights.as_ptr(), to, lanes),
                            2 => tile::<2>(&geometry, from, weights.as_ptr(), to, lanes),
                            _ => tile::<1>(&geometry, from, weights.as_ptr(), to, lanes),
                        }
                    }
                }
            }
        }
    }
}

/// Where a tile's values are, in values (see [`PackedKernel::run`]).
struct Geometry {
    row_step: usize,
    pixel_step: usize,
    kh: usize,
    row_len: usize,
    cout: usize,
}

/// `P` pixels × the `lanes` (≤ 8) channels of one weight block: `input` at the first pixel's
/// first value, `weights` at the block's, `out` at the first pixel's first channel of the block.
///
/// # Safety
/// Every value the tile reads and writes (see [`PackedKernel::run`]) must be in bounds.
#[inline(always)]
unsafe fn tile<const P: usize>(geometry: &Geometry, input: *const f32, weights: *const f32, out: *mut f32, lanes: usize) {
    let Geometry { row_step, pixel_step, kh, row_len, cout } = *geometry;
    let mut sums = [[F32x4::zero(); 2]; P];
    for ky in 0..kh {
        // SAFETY (this block): the caller's.
        unsafe {
            let row = input.add(ky * row_step);
            let weights = weights.add(ky * row_len * CHANNELS);
            for j in 0..row_len {
                let low = F32x4::load(weights.add(j * CHANNELS));
                let high = F32x4::load(weights.add(j * CHANNELS + 4));
                for (i, sums) in sums.iter_mut().enumerate() {
                    let value = F32x4::splat(row.add(i * pixel_step + j));
                    sums[0] = sums[0].mul_add(value, low);
                    sums[1] = sums[1].mul_add(value, high);
                }
            }
        }
    }
    for (i, [low, high]) in sums.into_iter().enumerate() {
        // SAFETY: the caller's; a block of fewer than 8 channels goes through `full`.
        unsafe {
            let to = out.add(i * cout);
            if lanes == CHANNELS {
                low.store(to);
                high.store(to.add(4));
            } else {
                let mut full = [0.0f32; CHANNELS];
                low.store(full.as_mut_ptr());
                high.store(full.as_mut_ptr().add(4));
                std::ptr::copy_nonoverlapping(full.as_ptr(), to, lanes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_equal_the_sums_written_out() {
        let values = |n: usize, seed: usize| -> Vec<f32> { (0..n).map(|i| (((i * 7919 + seed) % 101) as f32 - 50.0) / 50.0).collect() };
        // Channel counts below, at and past a block; pixel counts past a chunk with every tail.
        for (cin, cout, kh, kw, stride) in [(3, 32, 7, 7, 1), (5, 8, 3, 3, 2), (4, 13, 3, 3, 1), (6, 3, 2, 2, 1), (2, 20, 1, 3, 1)] {
            for pixels in [1, 2, 3, 4, 7, 64, 70, 131] {
                let pitch = stride * pixels + kw + 2;
                let (row_step, pixel_step) = (pitch * cin, stride * cin);
                let start = cin + 1;
                let input = values(start + kh * row_step, 3);
                let weight = values(cout * cin * kh * kw, 11);
                let kernel = PackedKernel::new(&weight, [cout, cin, kh, kw]);
                let mut out = vec![f32::NAN; pixels * cout + 5];
                kernel.run(&input, start, row_step, pixel_step, pixels, &mut out);
                for p in 0..pixels {
                    for co in 0..cout {
                        let mut expected = 0.0;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                for ci in 0..cin {
                                    let value = input[start + ky * row_step + p * pixel_step + kx * cin + ci];
                                    expected += value * weight[((co * cin + ci) * kh + ky) * kw + kx];
                                }
                            }
                        }
                        let got = out[p * cout + co];
                        assert!((got - expected).abs() < 1e-4, "{cin}→{cout} {kh}×{kw}, {pixels} pixels: ({p}, {co}) {got} vs {expected}");
                    }
                }
                assert!(out[pixels * cout..].iter().all(|value| value.is_nan()), "wrote past the pixels asked for");
            }
        }
    }

    #[test]
    #[should_panic(expected = "reads past the map")]
    fn a_run_past_the_map_is_refused() {
        let kernel = PackedKernel::new(&[1.0; 8 * 2 * 3 * 3], [8, 2, 3, 3]);
        // The last pixel's last row ends at 2 · 20 + 39 · 2 + 6 = 124 values.
        kernel.run(&[0.0; 100], 0, 20, 2, 40, &mut [0.0; 320]);
    }
}
