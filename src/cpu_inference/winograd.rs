//! 3×3 stride-1 convolutions (the residual blocks', three quarters of the generator's
//! multiply-adds) by Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray, "Fast Algorithms
//! for Convolutional Neural Networks", 2015): each 4×4 tile of output pixels is computed from
//! the 6×6 input pixels it sees as `Aᵀ [U ⊙ (Bᵀ d B)] A`, where `U = G g Gᵀ` is the kernel `g`
//! transformed once, when the generator is compiled. The element-wise products, summed over
//! the input channels, are 36 matrix products `[tiles, cin] × [cin, cout]` (one per position of
//! the 6×6 transform): 36 multiply-adds per input and output channel for 16 pixels, against
//! 144 written out, a quarter. The transforms are additions and multiplications by small
//! constants along the channels, a few percent of the work at 128 channels.

use std::ops::Range;

use super::lanes::F32x4;
use super::conv::Band;
use super::{Conv, FeatureMap};

/// Output pixels on a tile's side.
pub const TILE: usize = 4;
/// Input pixels on a tile's side: `TILE + 2` (the kernel's reach).
const INPUT_TILE: usize = TILE + 2;
/// Positions of the transformed tile: the matrix products per tile chunk.
const POSITIONS: usize = INPUT_TILE * INPUT_TILE;
/// Tiles transformed before their products run: the chunk's transformed inputs and products
/// (36 × 32 × 128 values each at 128 channels, 576 KiB) stay in the L2 cache.
const CHUNK_TILES: usize = 32;

/// `G`, the kernel transform (6 × 3), for Lavin's points 0, ±1, ±2 and infinity.
const G: [[f64; 3]; INPUT_TILE] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// A 3×3 stride-1 convolution as 36 matrix products (see the module's documentation).
#[derive(Debug, Clone)]
pub struct Winograd {
    /// `products[6 i + j]`: `U[i][j]`, the transformed kernel at position (`i`, `j`), as a 1×1
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
        assert!(Self::applies(shape, 1), "Winograd F(4×4, 3×3) takes 3×3 kernels and channels in fours, not {shape:?}");
        let [cout, cin, _, _] = shape;
        let mut transformed = vec![vec![0.0f32; cout * cin]; POSITIONS];
        for co in 0..cout {
            for ci in 0..cin {
                let g = |ky: usize, kx: usize| f64::from(weight[((co * cin + ci) * 3 + ky) * 3 + kx]);
                for i in 0..INPUT_TILE {
                    for j in 0..INPUT_TILE {
                        let u: f64 = (0..9).map(|tap| G[i][tap / 3] * g(tap / 3, tap % 3) * G[j][tap % 3]).sum();
                        transformed[i * INPUT_TILE + j][co * cin + ci] = u as f32;
                    }
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

/// `Bᵀ d`, one column of a tile (6 values in, 6 out).
#[inline(always)]
fn input_column([d0, d1, d2, d3, d4, d5]: [F32x4; INPUT_TILE]) -> [F32x4; INPUT_TILE] {
    let (d1_plus_d2, d1_minus_d2) = (d1.add(d2), d1.sub(d2));
    let (d4_minus_d2, d3_minus_d1) = (d4.sub(d2), d3.sub(d1));
    [
        d0.scale(4.0).sub(d2.scale(5.0)).add(d4),
        d3.add(d4).sub(d1_plus_d2.scale(4.0)),
        d4.sub(d3).add(d1_minus_d2.scale(4.0)),
        d4_minus_d2.add(d3_minus_d1.scale(2.0)),
        d4_minus_d2.sub(d3_minus_d1.scale(2.0)),
        d1.scale(4.0).sub(d3.scale(5.0)).add(d5),
    ]
}

/// `Aᵀ m`, one column of a transformed tile (6 values in, 4 out).
#[inline(always)]
fn output_column([m0, m1, m2, m3, m4, m5]: [F32x4; INPUT_TILE]) -> [F32x4; TILE] {
    let (m1_plus_m2, m1_minus_m2) = (m1.add(m2), m1.sub(m2));
    let (m3_plus_m4, m3_minus_m4) = (m3.add(m4), m3.sub(m4));
    [
        m0.add(m1_plus_m2).add(m3_plus_m4),
        m1_minus_m2.add(m3_minus_m4.scale(2.0)),
        m1_plus_m2.add(m3_plus_m4.scale(4.0)),
        m1_minus_m2.add(m3_minus_m4.scale(8.0)).add(m5),
    ]
}

/// Writes `Bᵀ d B` for the 6×6 input pixels whose first is `input`'s stored pixel `origin`
/// (zeros past the map) as tile `t` of `transformed` (`[36, CHUNK_TILES, cin]`).
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
                // SAFETY: `at + 4 <= transformed.len()`: position below 36, tile below the chunk.
                unsafe { value.store(transformed[at..at + 4].as_mut_ptr()) };
            }
        }
    }
}

/// Writes `Aᵀ m A` for tile `t` of `products` (`[36, CHUNK_TILES, cout]`): its `kept` rows and
/// columns of 4×4 output pixels into `out`, rows `row_len` values apart, `cout` values a pixel.
fn transform_output(products: &[f32], t: usize, cout: usize, kept: [usize; 2], out: &mut [f32], row_len: usize) {
    for channel in (0..cout).step_by(4) {
        let m = |i: usize, j: usize| {
            let at = ((i * INPUT_TILE + j) * CHUNK_TILES + t) * cout + channel;
            // SAFETY: position below 36, tile below the chunk: `at + 4 <= products.len()`.
            unsafe { F32x4::load(products[at..at + 4].as_ptr()) }
        };
        // Columns first (`Aᵀ m`, 4 × 6), then rows (`(Aᵀ m) A`, 4 × 4).
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
