//! Conversion between 8-bit RGB pixels and the network's tensors in [-1, 1].

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;

/// Maps any coordinate onto `0..len` by mirror reflection about the edge pixels (the edge pixel
/// itself is not repeated, as in reflection padding), as often as needed; `len` 1 gives 0.
pub fn reflect_index(index: i64, len: usize) -> usize {
    assert!(len > 0, "cannot reflect into an empty axis");
    if len == 1 {
        return 0;
    }
    let period = 2 * (len as i64 - 1);
    let folded = index.rem_euclid(period);
    (if folded < len as i64 { folded } else { period - folded }) as usize
}

/// One 8-bit channel value as the network sees it: 0 → -1, 255 → 1.
pub fn to_unit(value: u8) -> f32 {
    value as f32 / 127.5 - 1.0
}

/// A network value back to an 8-bit channel value, rounded and clamped.
pub fn from_unit(value: f32) -> u8 {
    ((value + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8
}

/// Reads a `width`×`height` region whose top-left corner is `(x, y)`, as planar values in
/// [-1, 1]: `[3, height, width]` flattened. Pixels outside the image are mirrored back in.
pub fn region_to_planar(rgb: &RgbImage, x: i64, y: i64, width: usize, height: usize) -> Vec<f32> {
    let (image_width, image_height) = (rgb.width() as usize, rgb.height() as usize);
    let columns: Vec<u32> = (0..width as i64)
        .map(|dx| reflect_index(x + dx, image_width) as u32)
        .collect();
    let plane = width * height;
    let mut values = vec![0.0; 3 * plane];
    for row in 0..height {
        let source_row = reflect_index(y + row as i64, image_height) as u32;
        for (column, &source_column) in columns.iter().enumerate() {
            let pixel = rgb.get_pixel(source_column, source_row).0;
            for (channel, value) in pixel.into_iter().enumerate() {
                values[channel * plane + row * width + column] = to_unit(value);
            }
        }
    }
    values
}

/// Planar values `[3, height, width]` as a batch of one: `[1, 3, height, width]`.
pub fn planar_to_tensor(values: Vec<f32>, width: usize, height: usize, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, [1, 3, height, width]), device)
}

/// A whole image as a tensor `[1, 3, height, width]` in [-1, 1].
pub fn image_to_tensor(rgb: &RgbImage, device: &Device) -> Tensor<4> {
    let (width, height) = (rgb.width() as usize, rgb.height() as usize);
    planar_to_tensor(region_to_planar(rgb, 0, 0, width, height), width, height, device)
}

/// Planar values `[3, height, width]` in [-1, 1] as an 8-bit image.
pub fn planar_to_image(values: &[f32], width: usize, height: usize) -> RgbImage {
    let plane = width * height;
    assert_eq!(values.len(), 3 * plane, "expected 3 planes of {width}×{height}");
    RgbImage::from_fn(width as u32, height as u32, |x, y| {
        let at = y as usize * width + x as usize;
        image::Rgb([0, 1, 2].map(|channel| from_unit(values[channel * plane + at])))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_mirrors_without_repeating_the_edge() {
        let mapped: Vec<usize> = (-3..7).map(|i| reflect_index(i, 4)).collect();
        assert_eq!(mapped, [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
        assert_eq!(reflect_index(-5, 1), 0);
        assert_eq!(reflect_index(9, 2), 1);
    }

    #[test]
    fn every_8_bit_value_survives_the_round_trip() {
        for value in 0..=255u8 {
            assert_eq!(from_unit(to_unit(value)), value);
        }
        assert_eq!(to_unit(0), -1.0);
        assert_eq!(to_unit(255), 1.0);
    }

    #[test]
    fn planar_layout_round_trips() {
        let image = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
        let planar = region_to_planar(&image, 0, 0, 5, 3);
        assert_eq!(planar_to_image(&planar, 5, 3), image);
    }
}
