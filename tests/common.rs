//! Helpers shared by the integration tests.
#![allow(dead_code)]

use image::RgbImage;

/// A real photograph (from Debian's python3-skimage data, BSD/CC0: see tests/fixtures/README.md).
pub const PHOTO: &[u8] = include_bytes!("fixtures/photo.jpg");

pub fn photo() -> RgbImage {
    image::load_from_memory(PHOTO).expect("the fixture decodes").to_rgb8()
}

/// A real photo cut or tiled to `width`×`height`.
pub fn photo_of_size(width: u32, height: u32) -> RgbImage {
    let source = photo();
    RgbImage::from_fn(width, height, |x, y| {
        *source.get_pixel(x % source.width(), y % source.height())
    })
}

/// Peak signal-to-noise ratio of two 8-bit images, in dB.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let squared: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    let mse = squared / a.as_raw().len() as f64;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() }
}
