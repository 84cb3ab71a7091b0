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

