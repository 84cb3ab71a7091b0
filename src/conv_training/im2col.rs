//! Patches as columns (im2col): the layout that turns a convolution into matrix products.

/// How a convolution maps its input to its output (groups 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride (rows, columns).
    pub stride: [usize; 2],
    /// Zero padding before the first row and column (padding after them is implied by the
    /// output's size).
    pub padding: [usize; 2],
    /// Dilation (rows, columns).
    pub dilation: [usize; 2],
}

/// Values of the patches per band: about 1 MiB, so that a band stays in the cache while a matrix
/// product reads it (4 MiB bands, which would move the weight gradient's sum through the cache
/// fewer times, were slower here).
const BAND_VALUES: usize = 1 << 18;

/// Fewest pixels per band of a layer whose weight (or weight gradient) holds more than
/// `BAND_VALUES` values: a band of `BAND_VALUES` patch values would hold a few pixels only, and
/// each product would pack the whole weight (or move the whole weight gradient through memory)
/// for that little work. Smaller layers keep cache-sized bands (longer ones were slower there).
const MIN_PIXELS: usize = 1024;

/// The fewest pixels a band's product should cover for a layer of `columns` values per pixel
/// and `channels_out` output channels (0: no minimum).
pub(crate) fn min_band_pixels(columns: usize, channels_out: usize) -> usize {
    if columns * channels_out > BAND_VALUES { MIN_PIXELS } else { 0 }
}

/// Output rows per band for patches of `columns` values per pixel and `channels_out` output
/// channels (at least one row, at most `height_out`).
pub(crate) fn band_rows(columns: usize, channels_out: usize, height_out: usize, width_out: usize) -> usize {
    let width_out = width_out.max(1);
    let rows = (BAND_VALUES / (columns * width_out).max(1)).max(min_band_pixels(columns, channels_out).div_ceil(width_out));
    rows.clamp(1, height_out.max(1))
}

/// Writes the patches of output rows `first_row..first_row + rows` of one image into `patches`:
/// row `(ci · kh + ky) · kw + kx` (starting `row_stride` values after the previous one) holds,
/// for each of those output pixels, the input value that kernel tap meets (zero in the padding).
///
/// - `input`: `[channels_in, height, width]`
/// - `band`: `[first_row, rows, width_out]`
/// - `patches`: `[channels_in · kh · kw, row_stride]`, the band's `rows · width_out` values at the
///   start of each row
pub(crate) fn im2col_band(
    input: &[f32],
    [channels_in, height, width]: [usize; 3],
    [first_row, rows, width_out]: [usize; 3],
    geometry: ConvGeometry,
    patches: &mut [f32],
    row_stride: usize,
) {
    let ConvGeometry { kernel: [kh, kw], stride: [sy, sx], padding: [py, px], dilation: [dy, dx] } = geometry;
    let pixels = rows * width_out;
    for ci in 0..channels_in {
        let channel = &input[ci * height * width..(ci + 1) * height * width];
        for ky in 0..kh {
            for kx in 0..kw {
                let row = &mut patches[((ci * kh + ky) * kw + kx) * row_stride..][..pixels];
                // Output columns whose tap falls inside the input: ox·sx + kx·dx − px in [0, width).
                let offset = (kx * dx) as isize - px as isize;
                let first = if offset >= 0 { 0 } else { (-offset as usize).div_ceil(sx) };
                let end = if (width as isize) <= offset {
                    0
                } else {
                    ((width as isize - offset) as usize).div_ceil(sx).min(width_out)
                };
                for (r, out_row) in row.chunks_exact_mut(width_out).enumerate() {
                    let iy = ((first_row + r) * sy + ky * dy) as isize - py as isize;
                    if iy < 0 || iy >= height as isize || first >= end {
                        out_row.fill(0.0);
                        continue;
                    }
                    let source = &channel[iy as usize * width..][..width];
                    out_row[..first].fill(0.0);
                    out_row[end..].fill(0.0);
                    let start = (first * sx) as isize + offset;
                    if sx == 1 {
                        let start = start as usize;
                        out_row[first..end].copy_from_slice(&source[start..start + end - first]);
                    } else {
                        for (i, value) in out_row[first..end].iter_mut().enumerate() {
                            *value = source[start as usize + i * sx];
                        }
                    }
                }
            }
        }
    }
}

