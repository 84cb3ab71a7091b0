//! 3×3 stride-1 convolutions (the residual blocks', three quarters of the generator's
//! multiply-adds) by Winograd's minimal filtering F(6×6, 3×3) (Lavin & Gray, "Fast Algorithms
//! for Convolutional Neural Networks", 2015): each 6×6 tile of output pixels is computed from
//! the 8×8 input pixels it sees as `Aᵀ [U ⊙ (Bᵀ d B)] A`, where `U = G g Gᵀ` is the kernel `g`
//! transformed once, when the generator is compiled. The element-wise products, summed over
//! the input channels, are 64 matrix products `[tiles, cin] × [cin, cout]` (one per position of
//! the 8×8 transform): 64 multiply-adds per input and output channel for 36 pixels, against
//! 324 written out, a fifth. The transforms are additions and multiplications by small
//! constants along the channels, a few percent of the work at 128 channels. The points are
//! 0, ±1, ±2, ±1/2 and infinity, with the factors of ±1/2 moved from `G` into `A` as ncnn does
//! (smaller kernel values, the same products).

use std::ops::Range;

use super::lanes::F32x4;
use super::conv::Band;
use super::{Conv, FeatureMap};

/// Output pixels on a tile's side.
pub const TILE: usize = 6;
/// Input pixels on a tile's side: `TILE + 2` (the kernel's reach).
const INPUT_TILE: usize = TILE + 2;
/// Positions of the transformed tile: the matrix products per tile chunk.
const POSITIONS: usize = INPUT_TILE * INPUT_TILE;
/// Tiles transformed before their products run: the chunk's transformed inputs and products
/// (64 × 16 × 128 values each at 128 channels, 512 KiB) stay in the L2 cache.
const CHUNK_TILES: usize = 16;

/// `G`, the kernel transform (8 × 3).
const G: [[f64; 3]; INPUT_TILE] = [
    [1.0, 0.0, 0.0],
    [-2.0 / 9.0, -2.0 / 9.0, -2.0 / 9.0],
    [-2.0 / 9.0, 2.0 / 9.0, -2.0 / 9.0],
    [1.0 / 90.0, 1.0 / 45.0, 2.0 / 45.0],
    [1.0 / 90.0, -1.0 / 45.0, 2.0 / 45.0],
    [1.0 / 45.0, 1.0 / 90.0, 1.0 / 180.0],
    [1.0 / 45.0, -1.0 / 90.0, 1.0 / 180.0],
    [0.0, 0.0, 1.0],
];

/// A 3×3 stride-1 convolution as 64 matrix products (see the module's documentation).
#[derive(Debug, Clone)]
pub struct Winograd {
    /// `products[8 i + j]`: `U[i][j]`, the transformed kernel at position (`i`, `j`), as a 1×1
    /// convolution from `cin` to `cout` channels.
    products: Vec<Conv>,
    cin: usize,
    cout: usize,
}

impl Winograd {
    /// Whether a convolution of this shape runs here: 3×3, stride 1, channels in fours (the
    /// transforms take four channels at a time).
    pub fn applies([cout, cin, kh, kw]: [usize; 4], stride: usize) -> bool {
        [kh, kw] == [3, 3] && stride == 1 && cin % 4 == 0 && cout % 4 == 0
    }

    /// The convolution from burn's layout: `weight` `[cout, cin, 3, 3]` flattened.
    pub fn new(weight: &[f32], shape: [usize; 4]) -> Self {
        assert!(Self::applies(shape, 1), "Winograd F(6×6, 3×3) takes 3×3 kernels and channels in fours, not {shape:?}");
        let [cout, cin, _, _] = shape;
        let mut transformed = vec![vec![0.0f32; cout * cin]; POSITIONS];
        for (at, g) in weight.chunks_exact(9).enumerate() {
            // `G g` (8 × 3), then `(G g) Gᵀ` (8 × 8).
            let g_rows: [[f64; 3]; INPUT_TILE] =
                std::array::from_fn(|i| std::array::from_fn(|kx| (0..3).map(|ky| G[i][ky] * f64::from(g[ky * 3 + kx])).sum()));
            for (i, row) in g_rows.iter().enumerate() {
                for (j, g_j) in G.iter().enumerate() {
                    let u: f64 = row.iter().zip(g_j).map(|(a, b)| a * b).sum();
                    transformed[i * INPUT_TILE + j][at] = u as f32;
                }
            }
        }
        let products = transformed.iter().map(|u| Conv::new(u, [cout, cin, 1, 1], vec![0.0; cout], 1)).collect();
        Self { products, cin, cout }
    }

    /// [`Conv::compute`] for this convolution: output rows `rows`, `out_width` pixels each, of
    /// the 3×3 convolution whose tap (`ky`, `kx`) for output pixel (`row`, `x`) is `input`'s
    /// stored pixel (`row + ky + offset[0]`, `x + kx + offset[1]`). Tiles reaching past the
    /// map read zeros there (the outputs they feed are not kept).
    pub fn compute<'a>(
        &self,
        input: &FeatureMap,
        offset: [usize; 2],
        rows: Range<usize>,
        out_width: usize,
        scratch: &'a mut Vec<f32>,
    ) -> Band<'a> {
        let (cin, cout) = (self.cin, self.cout);
        assert_eq!(input.channels, cin, "input channels");
        assert!(!rows.is_empty() && out_width > 0, "an empty band");
        let band_len = rows.len() * out_width * cout;
        let (transformed_len, products_len) = (POSITIONS * CHUNK_TILES * cin, POSITIONS * CHUNK_TILES * cout);
        if scratch.len() < band_len + transformed_len + products_len {
            scratch.resize(band_len + transformed_len + products_len, 0.0);
        }
        let (band, rest) = scratch.split_at_mut(band_len);
        let (transformed, rest) = rest.split_at_mut(transformed_len);
        let products = &mut rest[..products_len];
        let columns = out_width.div_ceil(TILE);
        let tiles = rows.len().div_ceil(TILE) * columns;
        let origin = |tile: usize| (rows.start + tile / columns * TILE, tile % columns * TILE);
        for chunk in (0..tiles).step_by(CHUNK_TILES) {
            let count = CHUNK_TILES.min(tiles - chunk);
            for t in 0..count {
                let (row, x) = origin(chunk + t);
                transform_input(input, [row + offset[0], x + offset[1]], transformed, t);
            }
            for (position, product) in self.products.iter().enumerate() {
                let lhs = &transformed[position * CHUNK_TILES * cin..][..count * cin];
                let out = &mut products[position * CHUNK_TILES * cout..][..count * cout];
                product.product(lhs, count, out);
            }
            for t in 0..count {
                let (row, x) = origin(chunk + t);
                let kept = [TILE.min(rows.end - row), TILE.min(out_width - x)];
                let at = ((row - rows.start) * out_width + x) * cout;
                transform_output(products, t, cout, kept, &mut band[at..], out_width * cout);
            }
        }
        Band { values: &scratch[..band_len], row_pitch: out_width, cout }
    }
}

/// `Bᵀ d`, one column of a tile (8 values in, 8 out).
#[inline(always)]
fn input_column([d0, d1, d2, d3, d4, d5, d6, d7]: [F32x4; INPUT_TILE]) -> [F32x4; INPUT_TILE] {
    let (d4_by_1_25, d3_by_2_5) = (d4.scale(1.25), d3.scale(2.5));
    let even_1 = d2.add(d6).sub(d4.scale(4.25));
    let odd_1 = d1.add(d5).sub(d3.scale(4.25));
    let even_half = d6.add(d2.scale(0.25)).sub(d4_by_1_25);
    let odd_half = d1.scale(0.5).sub(d3_by_2_5).add(d5.scale(2.0));
    let even_2 = d6.add(d2.sub(d4_by_1_25).scale(4.0));
    let odd_2 = d1.scale(2.0).sub(d3_by_2_5).add(d5.scale(0.5));
    [
        d0.sub(d6).add(d4.sub(d2).scale(5.25)),
        even_1.add(odd_1),
        even_1.sub(odd_1),
        even_half.add(odd_half),
        even_half.sub(odd_half),
        even_2.add(odd_2),
        even_2.sub(odd_2),
        d7.sub(d1).add(d3.sub(d5).scale(5.25)),
    ]
}

/// `Aᵀ m`, one column of a transformed tile (8 values in, 6 out).
#[inline(always)]
fn output_column([m0, m1, m2, m3, m4, m5, m6, m7]: [F32x4; INPUT_TILE]) -> [F32x4; TILE] {
    let (m1_plus_m2, m1_minus_m2) = (m1.add(m2), m1.sub(m2));
    let (m3_plus_m4, m3_minus_m4) = (m3.add(m4), m3.sub(m4));
    let (m5_plus_m6, m5_minus_m6) = (m5.add(m6), m5.sub(m6));
    [
        m0.add(m1_plus_m2).add(m3_plus_m4).add(m5_plus_m6.scale(32.0)),
        m1_minus_m2.add(m3_minus_m4.scale(2.0)).add(m5_minus_m6.scale(16.0)),
        m1_plus_m2.add(m3_plus_m4.scale(4.0)).add(m5_plus_m6.scale(8.0)),
        m1_minus_m2.add(m3_minus_m4.scale(8.0)).add(m5_minus_m6.scale(4.0)),
        m1_plus_m2.add(m3_plus_m4.scale(16.0)).add(m5_plus_m6.scale(2.0)),
        m1_minus_m2.add(m3_minus_m4.scale(32.0)).add(m5_minus_m6).add(m7),
    ]
}

/// Writes `Bᵀ d B` for the 8×8 input pixels whose first is `input`'s stored pixel `origin`
/// (zeros past the map) as tile `t` of `transformed` (`[64, CHUNK_TILES, cin]`).
fn transform_input(input: &FeatureMap, [row, column]: [usize; 2], transformed: &mut [f32], t: usize) {
    let cin = input.channels;
    let inside = [
        INPUT_TILE.min((input.height + 2 * input.pad).saturating_sub(row)),
        INPUT_TILE.min(input.pitch().saturating_sub(column)),
    ];
    for channel in (0..cin).step_by(4) {
        let mut d = [[F32x4::zero(); INPUT_TILE]; INPUT_TILE];
        for (y, d) in d.iter_mut().enumerate().take(inside[0]) {
            let at = input.padded_index(row + y, column) + channel;
            let values = &input.data[at..at + (inside[1] - 1) * cin + 4];
            for (x, d) in d.iter_mut().enumerate().take(inside[1]) {
                // SAFETY: `values` holds the row's pixels `0..inside[1]`, 4 channels each.
                *d = unsafe { F32x4::load(values[x * cin..x * cin + 4].as_ptr()) };
            }
        }
        // Columns first (`Bᵀ d`), then rows (`(Bᵀ d) B`).
        let mut columns = [[F32x4::zero(); INPUT_TILE]; INPUT_TILE];
        for x in 0..INPUT_TILE {
            let column = input_column(std::array::from_fn(|y| d[y][x]));
            for (i, value) in column.into_iter().enumerate() {
                columns[i][x] = value;
            }
        }
        for (i, row) in columns.into_iter().enumerate() {
            for (j, value) in input_column(row).into_iter().enumerate() {
                let at = ((i * INPUT_TILE + j) * CHUNK_TILES + t) * cin + channel;
                // SAFETY: `at + 4 <= transformed.len()`: position below 64, tile below the chunk.
                unsafe { value.store(transformed[at..at + 4].as_mut_ptr()) };
            }
        }
    }
}

/// Writes `Aᵀ m A` for tile `t` of `products` (`[64, CHUNK_TILES, cout]`): its `kept` rows and
/// columns of 6×6 output pixels into `out`, rows `row_len` values apart, `cout` values a pixel.
fn transform_output(products: &[f32], t: usize, cout: usize, kept: [usize; 2], out: &mut [f32], row_len: usize) {
    for channel in (0..cout).step_by(4) {
        let m = |i: usize, j: usize| {
            let at = ((i * INPUT_TILE + j) * CHUNK_TILES + t) * cout + channel;
            // SAFETY: position below 64, tile below the chunk: `at + 4 <= products.len()`.
            unsafe { F32x4::load(products[at..at + 4].as_ptr()) }
        };
        // Columns first (`Aᵀ m`, 6 × 8), then rows (`(Aᵀ m) A`, 6 × 6).
        let mut columns = [[F32x4::zero(); INPUT_TILE]; TILE];
        for j in 0..INPUT_TILE {
            let column = output_column(std::array::from_fn(|i| m(i, j)));
            for (row, value) in columns.iter_mut().zip(column) {
                row[j] = value;
            }
        }
        for (y, row) in columns.into_iter().enumerate().take(kept[0]) {
            for (x, value) in output_column(row).into_iter().enumerate().take(kept[1]) {
                let at = y * row_len + x * cout + channel;
                // SAFETY: the pixel is inside the band (`kept` stops at its edges).
                unsafe { value.store(out[at..at + 4].as_mut_ptr()) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution written out: output (row, x, co) of a map with its border.
    fn direct(weight: &[f32], [_, cin, _, _]: [usize; 4], input: &FeatureMap, row: usize, x: usize, co: usize) -> f64 {
        let mut sum = 0.0;
        for ci in 0..cin {
            for ky in 0..3 {
                for kx in 0..3 {
                    let at = input.padded_index(row + ky, x + kx);
                    sum += f64::from(weight[((co * cin + ci) * 3 + ky) * 3 + kx]) * f64::from(input.data[at + ci]);
                }
            }
        }
        sum
    }

    #[test]
    fn tiles_equal_the_convolution_written_out() {
        let values = |n: usize, seed: usize| -> Vec<f32> { (0..n).map(|i| (((i * 7919 + seed) % 101) as f32 - 50.0) / 50.0).collect() };
        // Sides that are and are not multiples of the tile, more tiles than a chunk, and the
        // generator's 128 channels.
        for (height, width, cin, cout) in [(9, 11, 4, 8), (8, 8, 8, 4), (13, 30, 12, 16), (5, 6, 128, 128)] {
            let pad = 1;
            let mut input = FeatureMap::zeros(height, width, cin, pad);
            input.data = values(input.data.len(), 3);
            let shape = [cout, cin, 3, 3];
            let weight = values(cout * cin * 9, 11);
            let conv = Winograd::new(&weight, shape);
            let mut scratch = Vec::new();
            for rows in [0..height, 1..height - 1, height - 1..height, 4..8.min(height)] {
                let band = conv.compute(&input, [0, 0], rows.clone(), width, &mut scratch);
                for (i, row) in rows.enumerate() {
                    for x in 0..width {
                        for co in 0..cout {
                            let expected = direct(&weight, shape, &input, row, x, co);
                            let got = f64::from(band.pixel(i, x)[co]);
                            // Sums of up to 1152 products of values below 1: 1e-4 of their scale.
                            let tolerance = 1e-4 * (cin as f64 * 9.0).sqrt();
                            assert!((got - expected).abs() < tolerance, "{height}×{width}, {cin}→{cout}: ({row}, {x}, {co}) {got} vs {expected}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn other_shapes_are_not_taken() {
        assert!(Winograd::applies([128, 128, 3, 3], 1));
        assert!(!Winograd::applies([128, 128, 3, 3], 2));
        assert!(!Winograd::applies([32, 3, 7, 7], 1));
        assert!(!Winograd::applies([6, 5, 3, 3], 1));
    }
}
