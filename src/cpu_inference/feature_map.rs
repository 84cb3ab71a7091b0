//! Feature maps as the CPU engine keeps them: one image, channels last, inside a border of `pad`
//! pixels that the next convolution reads (zeros, or the image mirrored).

/// One image of `channels` values per pixel, rows of `pad + width + pad` pixels, `pad` rows above
/// and below: `[height + 2 pad, width + 2 pad, channels]` flattened. The border starts as zeros.
#[derive(Debug, Clone)]
pub struct FeatureMap {
    /// The values, border included.
    pub data: Vec<f32>,
    /// Rows of the image (border excluded).
    pub height: usize,
    /// Columns of the image (border excluded).
    pub width: usize,
    /// Values per pixel.
    pub channels: usize,
    /// Border width on every side.
    pub pad: usize,
}

impl FeatureMap {
    /// Values a map of this size holds, border included.
    pub fn len(height: usize, width: usize, channels: usize, pad: usize) -> usize {
        (height + 2 * pad) * (width + 2 * pad) * channels
    }

    /// A map of zeros.
    pub fn zeros(height: usize, width: usize, channels: usize, pad: usize) -> Self {
        Self::in_buffer(vec![0.0; Self::len(height, width, channels, pad)], height, width, channels, pad)
    }

    /// A map held by `data`, [`FeatureMap::len`] zeros.
    pub fn in_buffer(data: Vec<f32>, height: usize, width: usize, channels: usize, pad: usize) -> Self {
        assert_eq!(data.len(), Self::len(height, width, channels, pad), "map buffer size");
        Self { data, height, width, channels, pad }
    }

    /// Sets the image to `planar` (`[channels, height, width]` flattened) and mirrors it into
    /// the border.
    pub fn fill_from_planar(&mut self, planar: &[f32]) {
        let (channels, height, width) = (self.channels, self.height, self.width);
        assert_eq!(planar.len(), channels * height * width, "expected {channels} planes of {width}×{height}");
        let plane = height * width;
        for row in 0..height {
            for column in 0..width {
                let at = self.index(row, column);
                for channel in 0..channels {
                    self.data[at + channel] = planar[channel * plane + row * width + column];
                }
            }
        }
        self.reflect_border();
    }

    /// Pixels per stored row, border included.
    pub fn pitch(&self) -> usize {
        self.width + 2 * self.pad
    }

    /// Index of the first value of the image's pixel (`row`, `column`) (border excluded).
    pub fn index(&self, row: usize, column: usize) -> usize {
        ((row + self.pad) * self.pitch() + column + self.pad) * self.channels
    }

    /// Index of the first value of the stored pixel (`row`, `column`) (border included).
    pub fn padded_index(&self, row: usize, column: usize) -> usize {
        (row * self.pitch() + column) * self.channels
    }

    /// The image's rows with their border columns, `pitch · channels` values each: what bands
    /// of output rows are written into.
    pub fn image_rows_mut(&mut self) -> &mut [f32] {
        let row = self.pitch() * self.channels;
        let start = self.pad * row;
        &mut self.data[start..start + self.height * row]
    }

    /// Sets the border to zeros (zero padding).
    pub fn zero_border(&mut self) {
        let (pad, pitch, channels) = (self.pad, self.pitch(), self.channels);
        let row_len = pitch * channels;
        self.data[..pad * row_len].fill(0.0);
        self.data[(pad + self.height) * row_len..].fill(0.0);
        for row in pad..pad + self.height {
            let start = row * row_len;
            self.data[start..start + pad * channels].fill(0.0);
            self.data[start + (pad + self.width) * channels..start + row_len].fill(0.0);
        }
    }

    /// Fills the border with the image mirrored about its edge pixels (reflection padding: the
    /// edge pixel is not repeated). The image must be larger than the border on both axes.
    pub fn reflect_border(&mut self) {
        let (pad, channels, pitch) = (self.pad, self.channels, self.pitch());
        if pad == 0 {
            return;
        }
        assert!(self.height > pad && self.width > pad, "a {}×{} image cannot mirror a border of {pad}", self.width, self.height);
        let pixel = |row: usize, column: usize| (row * pitch + column) * channels;
        for row in pad..pad + self.height {
            for offset in 1..=pad {
                let left = pixel(row, pad - offset);
                self.data.copy_within(pixel(row, pad + offset)..pixel(row, pad + offset) + channels, left);
                let right = pixel(row, pad + self.width - 1 + offset);
                let source = pixel(row, pad + self.width - 1 - offset);
                self.data.copy_within(source..source + channels, right);
            }
        }
        let row_len = pitch * channels;
        for offset in 1..=pad {
            let source = (pad + offset) * row_len;
            self.data.copy_within(source..source + row_len, (pad - offset) * row_len);
            let source = (pad + self.height - 1 - offset) * row_len;
            self.data.copy_within(source..source + row_len, (pad + self.height - 1 + offset) * row_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::reflect_index;

    #[test]
    fn the_border_mirrors_the_image_as_reflection_padding_does() {
        let (channels, height, width, pad) = (2, 5, 4, 3);
        let planar: Vec<f32> = (0..channels * height * width).map(|v| v as f32).collect();
        let mut map = FeatureMap::zeros(height, width, channels, pad);
        map.fill_from_planar(&planar);
        for row in 0..height + 2 * pad {
            for column in 0..width + 2 * pad {
                let source_row = reflect_index(row as i64 - pad as i64, height);
                let source_column = reflect_index(column as i64 - pad as i64, width);
                for channel in 0..channels {
                    let expected = planar[channel * height * width + source_row * width + source_column];
                    assert_eq!(map.data[map.padded_index(row, column) + channel], expected, "({row}, {column})");
                }
            }
        }
    }
}
