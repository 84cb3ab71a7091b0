//! Tiled inference: a photo of any size is cut into overlapping tiles of a fixed size, each
//! deblurred on its own, and blended back with feathered weights. Peak memory on the device
//! depends on the tile size, not on the photo; on the host only a band of tile rows is kept.

use image::RgbImage;

use crate::convert::from_unit;
use crate::model::{MIN_SIZE, SIZE_MULTIPLE};

/// Default tile side in pixels.
pub const DEFAULT_TILE_SIZE: usize = 256;
/// Default overlap between neighbouring tiles in pixels.
pub const DEFAULT_OVERLAP: usize = 64;

/// How a photo is cut into tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileOptions {
    /// Side of a tile, a multiple of [`SIZE_MULTIPLE`] (8) of at least 32; `None` runs the whole
    /// photo at once.
    pub tile_size: Option<usize>,
    /// Pixels shared by neighbouring tiles, at least 8 and less than half the tile.
    pub overlap: usize,
}

/// Why tile options are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileOptionsError {
    /// Tile too small or not a multiple of [`SIZE_MULTIPLE`].
    #[error("the tile size must be a multiple of 8 and at least 32 pixels, not {0}")]
    TileSize(usize),
    /// Overlap out of range.
    #[error("the overlap must be at least 8 pixels and less than half the tile ({tile_size}), not {overlap}")]
    Overlap {
        /// The overlap asked for.
        overlap: usize,
        /// The tile size.
        tile_size: usize,
    },
}

impl Default for TileOptions {
    fn default() -> Self {
        Self {
            tile_size: Some(DEFAULT_TILE_SIZE),
            overlap: DEFAULT_OVERLAP,
        }
    }
}

impl TileOptions {
    /// Tiles of `tile_size`² overlapping by `overlap` pixels.
    pub fn new(tile_size: usize, overlap: usize) -> Result<Self, TileOptionsError> {
        if tile_size < 32 || tile_size % SIZE_MULTIPLE != 0 {
            return Err(TileOptionsError::TileSize(tile_size));
        }
        if overlap < 8 || 2 * overlap >= tile_size {
            return Err(TileOptionsError::Overlap { overlap, tile_size });
        }
        Ok(Self {
            tile_size: Some(tile_size),
            overlap,
        })
    }

    /// The whole photo as one tile (memory grows with the photo).
    pub fn whole_image() -> Self {
        Self {
            tile_size: None,
            overlap: 0,
        }
    }

    /// Pixels at a tile's inner edges whose output is not used at all (the network sees too
    /// little context there); the rest of the overlap is a linear cross-fade.
    fn margin(&self) -> usize {
        self.overlap / 4
    }
}

/// A tile: a rectangle of the photo, entirely inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

impl Tile {
    /// Width and height of the network input for this tile: grown to what the generator takes
    /// (multiples of [`SIZE_MULTIPLE`], at least [`MIN_SIZE`]); the extra pixels come from the photo's neighbouring
    /// pixels, or by reflection past its border.
    pub fn input_size(&self) -> (usize, usize) {
        (network_side(self.width), network_side(self.height))
    }
}

/// The side the generator is given for `side` pixels of photo.
pub fn network_side(side: usize) -> usize {
    side.max(MIN_SIZE).next_multiple_of(SIZE_MULTIPLE)
}

/// Where the tiles of one photo lie, in row-major order.
#[derive(Debug, Clone)]
pub struct TilePlan {
    width: usize,
    height: usize,
    options: TileOptions,
    columns: Vec<(usize, usize)>,
    rows: Vec<(usize, usize)>,
}

/// Start and length of the tiles along one axis of `len` pixels.
///
/// Every tile starts at a multiple of [`SIZE_MULTIPLE`]: the generators downsample by 2 up to
/// three times, so their output is the same for the same pixels only on the same 8-pixel grid (a
/// U-Net's tile shifted by a few pixels against the whole photo gave 43.5 dB tiled against
/// whole). Neighbours overlap by at least `overlap`; the last tile ends at the border, up to
/// `SIZE_MULTIPLE − 1` pixels longer than the others.
fn spans(len: usize, options: &TileOptions) -> Vec<(usize, usize)> {
    let tile = match options.tile_size {
        Some(tile) if tile < len => tile,
        _ => return vec![(0, len)],
    };
    let last = (len - tile) / SIZE_MULTIPLE * SIZE_MULTIPLE;
    let mut count = (len - options.overlap).div_ceil(tile - options.overlap).max(2);
    loop {
        // Spread evenly, each start rounded down to the grid; more tiles if rounding made any
        // two neighbours overlap by less than asked (at worst every grid step: tile − overlap ≥ 8).
        let mut starts: Vec<usize> =
            (0..count).map(|i| (i * last + (count - 1) / 2) / (count - 1) / SIZE_MULTIPLE * SIZE_MULTIPLE).collect();
        starts.dedup();
        if starts.windows(2).all(|pair| pair[0] + tile >= pair[1] + options.overlap) {
            return starts.iter().map(|&start| (start, if start == last { len - start } else { tile })).collect();
        }
        count += 1;
    }
}

impl TilePlan {
    /// Plans the tiles of a `width`×`height` photo.
    pub fn new(width: usize, height: usize, options: TileOptions) -> Self {
        assert!(width > 0 && height > 0, "a photo has pixels");
        Self {
            width,
            height,
            columns: spans(width, &options),
            rows: spans(height, &options),
            options,
        }
    }

    /// Number of tiles.
    pub fn len(&self) -> usize {
        self.columns.len() * self.rows.len()
    }

    /// Whether there is no tile (never: a photo has at least one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tiles, row by row.
    pub fn tiles(&self) -> impl Iterator<Item = Tile> + '_ {
        self.rows.iter().flat_map(move |&(y, height)| {
            self.columns.iter().map(move |&(x, width)| Tile {
                x,
                y,
                width,
                height,
            })
        })
    }

    /// Blending weight of each pixel of a tile along one axis: 0 in the margin at an inner
    /// edge, a linear ramp across the rest of the overlap, 1 elsewhere and at the photo's border.
    fn axis_weights(&self, start: usize, len: usize, axis_len: usize) -> Vec<f32> {
        let margin = self.options.margin();
        let ramp = (self.options.overlap - 2 * margin).max(1) as f32;
        let fade = |distance: usize| {
            if distance < margin {
                0.0
            } else {
                ((distance - margin + 1) as f32 / ramp).min(1.0)
            }
        };
        (0..len)
            .map(|i| {
                let before = if start > 0 { fade(i) } else { 1.0 };
                let after = if start + len < axis_len { fade(len - 1 - i) } else { 1.0 };
                before * after
            })
            .collect()
    }
}

/// Blends deblurred tiles into the output photo. Tiles must come in the plan's order; rows that
/// no later tile touches are finished as soon as the next row of tiles starts.
pub struct Blender {
    plan: TilePlan,
    output: RgbImage,
    /// Weighted sums, 3 channels interleaved, for the rows `band_top..band_top + band_rows`.
    sums: Vec<f32>,
    weights: Vec<f32>,
    band_top: usize,
    band_rows: usize,
}

impl Blender {
    /// An empty output for the plan's photo.
    pub fn new(plan: TilePlan) -> Self {
        let band_rows = plan.rows.iter().map(|&(_, height)| height).max().unwrap_or(0);
        let width = plan.width;
        Self {
            output: RgbImage::new(plan.width as u32, plan.height as u32),
            sums: vec![0.0; 3 * width * band_rows],
            weights: vec![0.0; width * band_rows],
            band_top: 0,
            band_rows,
            plan,
        }
    }

    /// Adds the network's output for `tile`: planar values `[3, input_height, input_width]` in
    /// [-1, 1], of which the top-left `tile.width`×`tile.height` are used.
    pub fn add(&mut self, tile: &Tile, values: &[f32], input_width: usize) {
        let input_height = values.len() / (3 * input_width);
        assert!(input_width >= tile.width && input_height >= tile.height, "tile output too small");
        assert!(tile.y >= self.band_top, "tiles must be added row by row, in the plan's order");
        if tile.y > self.band_top {
            self.finish_rows_above(tile.y);
        }
        let column_weights = self.plan.axis_weights(tile.x, tile.width, self.plan.width);
        let row_weights = self.plan.axis_weights(tile.y, tile.height, self.plan.height);
        let plane = input_width * input_height;
        for (row, row_weight) in row_weights.iter().enumerate() {
            let band_row = tile.y + row - self.band_top;
            for (column, column_weight) in column_weights.iter().enumerate() {
                let weight = row_weight * column_weight;
                let at = band_row * self.plan.width + tile.x + column;
                self.weights[at] += weight;
                for channel in 0..3 {
                    let value = values[channel * plane + row * input_width + column];
                    self.sums[3 * at + channel] += weight * value;
                }
            }
        }
    }

    /// Writes the finished rows above `top` to the output and slides the band down to `top`.
    fn finish_rows_above(&mut self, top: usize) {
        let width = self.plan.width;
        let done = top - self.band_top;
        self.write_rows(done);
        self.sums.copy_within(3 * width * done.., 0);
        self.weights.copy_within(width * done.., 0);
        let kept = self.band_rows - done;
        self.sums[3 * width * kept..].fill(0.0);
        self.weights[width * kept..].fill(0.0);
        self.band_top = top;
    }

    fn write_rows(&mut self, rows: usize) {
        let width = self.plan.width;
        let rows = rows.min(self.plan.height - self.band_top);
        for band_row in 0..rows {
            for column in 0..width {
                let at = band_row * width + column;
                let weight = self.weights[at];
                assert!(weight > 0.0, "pixel ({column}, {}) was covered by no tile", self.band_top + band_row);
                let pixel = [0, 1, 2].map(|channel| from_unit(self.sums[3 * at + channel] / weight));
                self.output
                    .put_pixel(column as u32, (self.band_top + band_row) as u32, image::Rgb(pixel));
            }
        }
    }

    /// The output so far and how many of its rows, from the top, are final: rows that no later
    /// tile touches are written as soon as the next row of tiles starts.
    pub fn finished(&self) -> (&RgbImage, usize) {
        (&self.output, self.band_top)
    }

    /// The blended photo, once every tile has been added.
    pub fn finish(mut self) -> RgbImage {
        self.write_rows(self.band_rows);
        self.output
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_photo_and_overlap_enough() {
        let options = TileOptions::new(256, 64).unwrap();
        for (width, height) in [(1024, 768), (257, 300), (256, 256), (1000, 33), (5, 5)] {
            let plan = TilePlan::new(width, height, options);
            let mut covered = vec![0u32; width * height];
            for tile in plan.tiles() {
                assert!(tile.x + tile.width <= width && tile.y + tile.height <= height);
                for y in tile.y..tile.y + tile.height {
                    for x in tile.x..tile.x + tile.width {
                        covered[y * width + x] += 1;
                    }
                }
            }
            assert!(covered.iter().all(|&count| count > 0), "{width}×{height} not covered");
            for spans in [&plan.columns, &plan.rows] {
                for pair in spans.windows(2) {
                    let overlap = pair[0].0 + pair[0].1 - pair[1].0;
                    assert!(overlap >= 64, "overlap {overlap} in {width}×{height}");
                }
            }
        }
    }

    #[test]
    fn tiles_start_on_the_8_pixel_grid_and_the_last_one_ends_at_the_border() {
        for (len, tile, overlap) in [(1280, 256, 64), (1283, 256, 64), (260, 256, 64), (270, 256, 64), (721, 256, 96), (1000, 128, 56), (517, 136, 16), (4001, 720, 64)] {
            let options = TileOptions::new(tile, overlap).unwrap();
            let spans = spans(len, &options);
            assert!(spans.iter().all(|&(start, _)| start % SIZE_MULTIPLE == 0), "{len}/{tile}/{overlap}: {spans:?}");
            let &(start, length) = spans.last().unwrap();
            assert_eq!(start + length, len, "{len}/{tile}/{overlap}: {spans:?}");
            assert!(length >= tile && length < tile + SIZE_MULTIPLE, "{len}/{tile}/{overlap}: {spans:?}");
            assert!(spans[..spans.len() - 1].iter().all(|&(_, length)| length == tile));
            assert!(spans.windows(2).all(|pair| pair[0].0 < pair[1].0), "{len}/{tile}/{overlap}: {spans:?}");
            for pair in spans.windows(2) {
                assert!(pair[0].0 + pair[0].1 >= pair[1].0 + overlap, "{len}/{tile}/{overlap}: {spans:?}");
            }
        }
    }

    #[test]
    fn blending_constant_tiles_gives_the_constant() {
        let plan = TilePlan::new(300, 200, TileOptions::new(96, 32).unwrap());
        let mut blender = Blender::new(plan.clone());
        for tile in plan.tiles() {
            let (width, height) = tile.input_size();
            blender.add(&tile, &vec![0.2; 3 * width * height], width);
        }
        let image = blender.finish();
        assert!(image.pixels().all(|pixel| pixel.0 == [from_unit(0.2); 3]));
    }

    #[test]
    fn finished_rows_are_final_and_come_band_by_band() {
        let plan = TilePlan::new(300, 200, TileOptions::new(96, 32).unwrap());
        let mut blender = Blender::new(plan.clone());
        let mut reported = Vec::new();
        for (index, tile) in plan.tiles().enumerate() {
            let (width, height) = tile.input_size();
            // A different value per tile, so that rows written too early would differ at the end.
            blender.add(&tile, &vec![index as f32 / 40.0 - 0.5; 3 * width * height], width);
            let (image, rows) = blender.finished();
            reported.push((rows, image.clone()));
        }
        let last_band_top = plan.tiles().last().unwrap().y;
        assert_eq!(reported.last().unwrap().0, last_band_top, "all but the last band finished");
        assert!(reported.windows(2).all(|pair| pair[0].0 <= pair[1].0));
        assert!(reported.iter().any(|&(rows, _)| rows > 0 && rows < last_band_top));
        let image = blender.finish();
        for (rows, partial) in reported {
            for y in 0..rows as u32 {
                for x in 0..300 {
                    assert_eq!(partial.get_pixel(x, y), image.get_pixel(x, y), "row {y}");
                }
            }
        }
    }

    #[test]
    fn a_12_megapixel_photo_stays_within_webgpu_buffer_limits() {
        let plan = TilePlan::new(4000, 3000, TileOptions::default());
        assert_eq!(plan.len(), 21 * 16);
        for tile in plan.tiles() {
            let (width, height) = tile.input_size();
            // The full generator's largest activation: 64 channels of f32 at full resolution.
            let bytes = 64 * width * height * 4;
            assert!(bytes <= 128 << 20, "{width}×{height} needs {bytes} bytes");
        }
    }

    #[test]
    fn bad_options_are_refused() {
        assert_eq!(TileOptions::new(30, 8), Err(TileOptionsError::TileSize(30)));
        assert!(matches!(TileOptions::new(64, 32), Err(TileOptionsError::Overlap { .. })));
        assert!(matches!(TileOptions::new(64, 4), Err(TileOptionsError::Overlap { .. })));
    }
}
