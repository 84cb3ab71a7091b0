//! Whole photos through the pipeline: any size in, same size out; tiles blend without seams.

mod common;

use std::sync::Arc;

use burn::tensor::Device;
use deblurgan::model::GeneratorConfig;
use deblurgan::{Engine, Photo, PreparedGenerator, TileOptions, deblur_photo_blocking, deblur_photo_prepared_blocking};
use image::RgbImage;

fn run(generator: &deblurgan::Generator, rgb: &RgbImage, options: TileOptions) -> RgbImage {
    let photo = Photo { rgb: rgb.clone(), alpha: None };
    deblur_photo_blocking(generator, &Device::flex(), &photo, options, |_| true).unwrap().rgb
}

#[test]
fn any_size_comes_back_at_the_same_size() {
    let generator = GeneratorConfig::compact().with_blocks(1).init(&Device::flex());
    let options = TileOptions::new(64, 16).unwrap();
    for (width, height) in [(1, 1), (2, 3), (7, 5), (33, 17), (64, 64), (65, 130), (200, 71)] {
        let rgb = common::photo_of_size(width, height);
        assert_eq!(run(&generator, &rgb, options).dimensions(), (width, height));
        assert_eq!(run(&generator, &rgb, TileOptions::whole_image()).dimensions(), (width, height));
    }
}

#[test]
fn progress_counts_tiles_and_cancel_stops() {
    let generator = GeneratorConfig::compact().with_blocks(1).init(&Device::flex());
    let photo = Photo { rgb: common::photo_of_size(150, 100), alpha: None };
    let options = TileOptions::new(64, 16).unwrap();
    let mut seen = Vec::new();
    deblur_photo_blocking(&generator, &Device::flex(), &photo, options, |progress| {
        seen.push((progress.done, progress.total));
        true
    })
    .unwrap();
    // 150 wide: 3 columns; 100 high: 2 rows.
    assert_eq!(seen, (1..=6).map(|done| (done, 6)).collect::<Vec<_>>());
    let mut calls = 0;
    let result = deblur_photo_blocking(&generator, &Device::flex(), &photo, options, |_| {
        calls += 1;
        calls < 2
    });
    assert!(matches!(result, Err(deblurgan::DeblurError::Cancelled)));
    assert_eq!(calls, 2);
}

#[test]
fn a_generator_prepared_once_deblurs_each_photo_as_a_fresh_one_would() {
    // The CLI and the evaluation compile the generator once and run every photo on it: nothing
    // a photo leaves behind (scratch buffers sized for a larger one, a band half-blended) may
    // change the next.
    let generator = GeneratorConfig::compact_residual().with_blocks(2).init(&Device::flex());
    let prepared = Arc::new(PreparedGenerator::new(generator.clone(), Device::flex(), Engine::Auto));
    assert!(prepared.on_cpu_engine(), "the compact generator runs on the CPU engine");
    let tiles = TileOptions::new(64, 16).unwrap();
    for (width, height, options) in [(150, 100, tiles), (37, 29, TileOptions::whole_image()), (150, 100, tiles), (90, 140, TileOptions::whole_image())] {
        let rgb = common::photo_of_size(width, height);
        let photo = Photo { rgb: rgb.clone(), alpha: None };
        let again = deblur_photo_prepared_blocking(&prepared, &photo, options, |_| true).unwrap().rgb;
        assert!(again == run(&generator, &rgb, options), "{width}×{height} differs from a fresh generator's");
    }
}

#[test]
fn alpha_survives_deblurring() {
    let generator = GeneratorConfig::compact().with_blocks(1).init(&Device::flex());
    let rgb = common::photo_of_size(40, 30);
    let alpha = image::GrayImage::from_fn(40, 30, |x, y| image::Luma([(x * 6 + y) as u8]));
    let photo = Photo { rgb, alpha: Some(alpha.clone()) };
    let result = deblur_photo_blocking(&generator, &Device::flex(), &photo, TileOptions::default(), |_| true).unwrap();
    assert_eq!(result.alpha, Some(alpha));
}

#[test]
fn tiled_output_matches_the_whole_image_at_1024x768() {
    // The full design-notes generator, on a real 1024×768 photo.
    let generator = GeneratorConfig::keras().init(&Device::flex());
    let rgb = common::photo();
    assert_eq!(rgb.dimensions(), (1024, 768));
    let whole = run(&generator, &rgb, TileOptions::whole_image());
    let tiled = run(&generator, &rgb, TileOptions::default());
    let psnr = deblurgan::metrics::psnr(&whole, &tiled);
    let worst = whole
        .as_raw()
        .iter()
        .zip(tiled.as_raw())
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    eprintln!("tiled vs whole: PSNR {psnr:.2} dB, largest difference {worst} levels");
    assert!(psnr >= 45.0, "PSNR {psnr:.2} dB");
    // A seam would show as a line of large differences; none may exceed a few levels.
    assert!(worst <= 6, "largest difference {worst} levels of 255");
    // And the result is not just the input: the network did change it.
    assert!(deblurgan::metrics::psnr(&rgb, &tiled) < 60.0);
}
