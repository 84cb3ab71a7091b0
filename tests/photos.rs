//! Decoding photos: formats, orientation, alpha, depth, and every kind of bad file.

mod common;

use std::io::Cursor;

use deblurgan::{Photo, PhotoError};
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, Rgba};

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
    bytes
}

#[test]
fn a_real_jpeg_decodes_to_rgb_without_alpha() {
    let photo = Photo::decode(common::PHOTO).unwrap();
    assert_eq!(photo.rgb, common::photo());
    assert!(photo.alpha.is_none());
}

#[test]
fn exif_orientation_is_applied() {
    // Saved by a camera held sideways: 48×32 pixels stored, EXIF orientation 6 (rotate 90° CW).
    let bytes = include_bytes!("fixtures/orientation-6.jpg");
    let stored = image::load_from_memory(bytes).unwrap();
    assert_eq!((stored.width(), stored.height()), (48, 32));
    let photo = Photo::decode(bytes).unwrap();
    assert_eq!((photo.width(), photo.height()), (32, 48));
    // The stored top-left corner ends up top-right.
    let expected = stored.to_rgb8().get_pixel(0, 0).0;
    let actual = photo.rgb.get_pixel(31, 0).0;
    assert!(expected.iter().zip(actual).all(|(a, b)| a.abs_diff(b) <= 2), "{expected:?} {actual:?}");
}

#[test]
fn png_and_webp_decode() {
    let rgb = common::photo_of_size(40, 30);
    for format in [ImageFormat::Png, ImageFormat::WebP] {
        let photo = Photo::decode(&encode(DynamicImage::ImageRgb8(rgb.clone()), format)).unwrap();
        assert_eq!(photo.rgb, rgb, "{format:?} is lossless here");
    }
}

#[test]
fn grayscale_becomes_three_equal_channels() {
    let gray = DynamicImage::ImageRgb8(common::photo_of_size(20, 10)).to_luma8();
    let photo = Photo::decode(&encode(DynamicImage::ImageLuma8(gray.clone()), ImageFormat::Png)).unwrap();
    for (x, y, pixel) in photo.rgb.enumerate_pixels() {
        assert_eq!(pixel.0, [gray.get_pixel(x, y)[0]; 3]);
    }
}

#[test]
fn sixteen_bit_png_is_read_at_eight_bits() {
    let rgb = common::photo_of_size(20, 10);
    let deep = ImageBuffer::<Rgb<u16>, _>::from_fn(20, 10, |x, y| {
        Rgb(rgb.get_pixel(x, y).0.map(|v| v as u16 * 257))
    });
    let photo = Photo::decode(&encode(DynamicImage::ImageRgb16(deep), ImageFormat::Png)).unwrap();
    assert_eq!(photo.rgb, rgb);
}

#[test]
fn alpha_is_kept_aside_and_put_back_untouched() {
    let rgb = common::photo_of_size(24, 16);
    let rgba = ImageBuffer::from_fn(24, 16, |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0;
        Rgba([r, g, b, (x * 10 + y) as u8])
    });
    let photo = Photo::decode(&encode(DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Png)).unwrap();
    assert_eq!(photo.rgb, rgb);
    let round_trip = image::load_from_memory(&photo.encode_png().unwrap()).unwrap().to_rgba8();
    assert_eq!(round_trip, rgba);
    // Gray with alpha too.
    let gray_alpha = ImageBuffer::from_fn(8, 8, |x, y| LumaA([(x * 30) as u8, (y * 30) as u8]));
    let photo = Photo::decode(&encode(DynamicImage::ImageLumaA8(gray_alpha), ImageFormat::Png)).unwrap();
    assert_eq!(photo.alpha.unwrap().get_pixel(3, 5)[0], 150);
}

#[test]
fn a_one_pixel_image_is_accepted() {
    let one = ImageBuffer::from_pixel(1, 1, Luma([77u8]));
    let photo = Photo::decode(&encode(DynamicImage::ImageLuma8(one), ImageFormat::Png)).unwrap();
    assert_eq!(photo.rgb.get_pixel(0, 0).0, [77, 77, 77]);
}

#[test]
fn an_empty_file_is_refused() {
    assert!(matches!(Photo::decode(&[]), Err(PhotoError::Empty)));
}

#[test]
fn a_text_file_named_jpg_is_not_an_image() {
    let error = Photo::decode(b"Dear diary, today I took a blurry photo.\n").unwrap_err();
    assert!(matches!(error, PhotoError::NotAnImage), "{error}");
    assert!(error.to_string().contains("not a JPEG, PNG or WebP"));
}

#[test]
fn a_truncated_jpeg_is_reported_as_damaged() {
    let cut = &common::PHOTO[..common::PHOTO.len() / 3];
    let error = Photo::decode(cut).unwrap_err();
    assert!(matches!(error, PhotoError::Corrupt { format: "JPEG", .. }), "{error}");
    assert!(error.to_string().contains("damaged or cut short"), "{error}");
}

#[test]
fn a_truncated_png_is_reported_as_damaged() {
    let png = encode(DynamicImage::ImageRgb8(common::photo_of_size(64, 64)), ImageFormat::Png);
    let error = Photo::decode(&png[..png.len() / 2]).unwrap_err();
    assert!(matches!(error, PhotoError::Corrupt { format: "PNG", .. }), "{error}");
}

#[test]
fn a_huge_image_is_refused_before_its_pixels_are_decoded() {
    // A PNG header claiming 100 000 × 100 000 pixels (10 gigapixels), with no pixel data.
    let mut png = encode(DynamicImage::ImageLuma8(ImageBuffer::from_pixel(1, 1, Luma([0u8]))), ImageFormat::Png);
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let error = Photo::decode(&png).unwrap_err();
    assert!(matches!(error, PhotoError::TooLarge { width: 100_000, height: 100_000, .. }), "{error}");
    assert!(error.to_string().contains("too large"));
    // And a configurable limit.
    let photo = encode(DynamicImage::ImageRgb8(common::photo_of_size(100, 100)), ImageFormat::Png);
    assert!(matches!(Photo::decode_with_limit(&photo, 9_999), Err(PhotoError::TooLarge { .. })));
    assert!(Photo::decode_with_limit(&photo, 10_000).is_ok());
}

/// CRC-32 as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
