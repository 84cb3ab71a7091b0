//! Camera-shake kernels, data layouts and the batch loader.

mod common;

use std::sync::Arc;

use native_trainer::data::camera_shake::{
    Psf, ShakeOptions, blur_valid, centre_tap, centroid, exposed, psf_centroid, random_psf, rasterise, trajectory,
};
use native_trainer::data::layout::{Layout, LayoutError, Source, discover, pair_folders};
use deblurgan::convert::region_to_planar;
use native_trainer::data::loader::{Dataset, Loader, SampleOptions, limit_side, make_batch, read_rgb, shake};
use native_trainer::rng::Rng;

#[test]
fn shake_kernels_are_normalised_inside_their_canvas_and_repeat_with_the_seed() {
    let options = ShakeOptions::default();
    for seed in 0..20 {
        let psf = random_psf(&options, &mut Rng::new(seed));
        assert_eq!(psf.weights.len(), options.canvas * options.canvas);
        assert!(psf.weights.iter().all(|&w| w >= 0.0 && w.is_finite()), "seed {seed}");
        let total: f64 = psf.weights.iter().map(|&w| w as f64).sum();
        assert!((total - 1.0).abs() < 1e-4, "seed {seed}: sum {total}");
        // The trajectory lies strictly inside the canvas, so no weight fell off its edge.
        for (x, y) in trajectory(&options, &mut Rng::new(seed)) {
            assert!(x >= 0.0 && y >= 0.0 && x < (options.canvas - 1) as f64 && y < (options.canvas - 1) as f64);
        }
        assert_eq!(psf, random_psf(&options, &mut Rng::new(seed)), "seed {seed} repeats");
    }
    let a = random_psf(&options, &mut Rng::new(1));
    let b = random_psf(&options, &mut Rng::new(2));
    assert_ne!(a, b, "different seeds give different kernels");
}

#[test]
fn a_point_between_pixels_spreads_bilinearly() {
    let psf = rasterise(&[(2.25, 1.5)], 4, 1.0);
    let at = |x: usize, y: usize| psf.weights[y * 4 + x];
    assert!((at(2, 1) - 0.375).abs() < 1e-6);
    assert!((at(3, 1) - 0.125).abs() < 1e-6);
    assert!((at(2, 2) - 0.375).abs() < 1e-6);
    assert!((at(3, 2) - 0.125).abs() < 1e-6);
}

#[test]
fn every_layout_loads_and_a_mismatched_pair_is_reported() {
    let dir = common::scratch("layouts");
    // GoPro: GOPRO_Large/{train,test}/<scene>/{blur,sharp}
    let gopro = dir.join("GOPRO_Large");
    for (split, scene, count) in [("train", "GOPR0001_00_00", 2), ("train", "GOPR0002_00_00", 3), ("test", "GOPR0003_00_00", 1)] {
        let scene = gopro.join(split).join(scene);
        common::write_pairs(&scene.join("blur"), &scene.join("sharp"), count, 16);
    }
    let (layout, source) = discover(&gopro, "train").unwrap();
    assert_eq!(layout, Layout::GoPro);
    assert_eq!(source.len(), 5);
    let (_, test) = discover(&gopro, "test").unwrap();
    assert_eq!(test.len(), 1);
    let (layout, _) = discover(&gopro.join("train"), "train").unwrap();
    assert_eq!(layout, Layout::GoPro);
    // Keras A/B.
    let ab = dir.join("ab");
    common::write_pairs(&ab.join("A"), &ab.join("B"), 3, 16);
    assert_eq!(discover(&ab, "train").unwrap().0, Layout::KerasAB);
    // Two folders, names matched whatever the order and extension.
    let (blurred, sharp) = (dir.join("blurred"), dir.join("sharp"));
    common::write_pairs(&blurred, &sharp, 3, 16);
    std::fs::rename(blurred.join("000001.png"), blurred.join("000001.jpg.png")).unwrap();
    let mismatched = pair_folders(&blurred, &sharp).unwrap_err();
    assert!(matches!(mismatched, LayoutError::Mismatch { count: 2, .. }), "{mismatched}");
    let message = mismatched.to_string();
    assert!(message.contains("'000001' only in") && message.contains("'000001.jpg' only in"), "{message}");
    std::fs::rename(blurred.join("000001.jpg.png"), blurred.join("000001.png")).unwrap();
    common::texture(16, 16, 1).save(blurred.join("000001.png")).unwrap();
    let pairs = pair_folders(&blurred, &sharp).unwrap();
    for pair in &pairs {
        assert_eq!(pair.blurred.file_name(), pair.sharp.file_name());
    }
    // Sharp photos alone.
    let photos = dir.join("photos");
    common::write_sharp(&photos, 2, 16);
    let (layout, source) = discover(&photos, "train").unwrap();
    assert_eq!(layout, Layout::SharpOnly);
    assert!(matches!(source, Source::Sharp(ref p) if p.len() == 2));
    assert!(discover(&dir.join("empty-nothing"), "train").is_err());
}

#[test]
fn batches_are_deterministic_whatever_the_threads_and_the_start() {
    let dir = common::scratch("loader");
    let photos = common::write_sharp(&dir, 3, 40);
    let dataset = Arc::new(Dataset::new(
        Source::Sharp(photos),
        SampleOptions { crop: 32, flip: true, shake: ShakeOptions { canvas: 16, max_length: 12.0, ..ShakeOptions::default() }, second_shake: None, max_side: None, ..SampleOptions::default() },
        7,
    ));
    let mut one = Loader::new(dataset.clone(), 2, 0, 1);
    let sequential: Vec<_> = (0..5).map(|_| one.next_batch().unwrap()).collect();
    let mut many = Loader::new(dataset.clone(), 2, 0, 3);
    for expected in &sequential {
        assert_eq!(&many.next_batch().unwrap(), expected);
    }
    let mut resumed = Loader::new(dataset.clone(), 2, 3, 2);
    assert_eq!(resumed.next_batch().unwrap(), sequential[3]);
    let batch = make_batch(&dataset, 0, 2).unwrap();
    assert_eq!(batch.blurred.len(), 2 * 3 * 32 * 32);
    assert!(batch.blurred.iter().chain(&batch.sharp).all(|v| (-1.0..=1.0).contains(v)));
    assert_ne!(batch.blurred, batch.sharp, "sharp photos are blurred");
    // Each epoch visits every image once.
    let mut seen: Vec<usize> = (0..3).map(|i| dataset.image_of(3 + i)).collect();
    seen.sort();
    assert_eq!(seen, [0, 1, 2]);
}

#[test]
fn photos_are_scaled_down_to_max_side_before_cropping() {
    // 80×80 photos, max side 32, crops of 32: every crop is the whole scaled photo (as eval's
    // full-resolution pass sees it), whatever the random corner.
    let dir = common::scratch("max-side");
    let photos = common::write_sharp(&dir, 2, 80);
    let scaled = limit_side(read_rgb(&photos[0]).unwrap(), Some(32));
    assert_eq!(scaled.dimensions(), (32, 32));
    let options = |max_side| SampleOptions { crop: 32, flip: false, shake: ShakeOptions::default(), second_shake: None, max_side, ..SampleOptions::default() };
    let dataset = Dataset::new(Source::Sharp(photos.clone()), options(Some(32)), 3);
    let expected = region_to_planar(&scaled, 0, 0, 32, 32);
    for _ in 0..2 {
        // Twice: the second read comes from the cache and must be the same image.
        assert_eq!(dataset.make(0, &mut Rng::new(5)).unwrap().sharp, expected);
    }
    let unscaled = Dataset::new(Source::Sharp(photos), options(None), 3);
    assert_ne!(unscaled.make(0, &mut Rng::new(5)).unwrap().sharp, expected);
}

#[test]
fn every_kernel_is_centred_on_the_tap_that_does_not_move_the_image() {
    // 1000 kernels of each exposure, for the strong and the moderate shake: the weights' centroid
    // is the centre tap (the exposed part of the path is what counts, not the whole path).
    for base in [ShakeOptions::default(), ShakeOptions::moderate()] {
        let tap = centre_tap(base.canvas) as f64;
        for &exposure in &ShakeOptions::default().exposures {
            let options = ShakeOptions { exposures: vec![exposure], ..base.clone() };
            let mut rng = Rng::new(11);
            for n in 0..1000 {
                let psf = random_psf(&options, &mut rng);
                let (x, y) = psf_centroid(&psf);
                assert!(
                    (x - tap).abs() < 0.05 && (y - tap).abs() < 0.05,
                    "canvas {}, exposure {exposure}, kernel {n}: centroid ({x:.3}, {y:.3}), tap {tap}",
                    base.canvas
                );
                let total: f64 = psf.weights.iter().map(|&w| w as f64).sum();
                assert!((total - 1.0).abs() < 1e-4, "no weight fell off the canvas: sum {total}");
            }
        }
    }
    // What centring fixes: a short exposure is a short piece of a long path, far from where the
    // whole path's centre lies.
    let options = ShakeOptions::default();
    let far = (0..20).any(|seed| {
        let path = trajectory(&options, &mut Rng::new(seed));
        let (short, whole) = (centroid(exposed(&path, 0.01)), centroid(&path));
        (short.0 - whole.0).hypot(short.1 - whole.1) > 5.0
    });
    assert!(far, "some short exposure lies more than 5 px from its path's centre");
}

#[test]
fn the_centre_tap_kernel_is_the_identity() {
    for size in [3, 4, 31, 32, 64, 65] {
        let mut weights = vec![0.0f32; size * size];
        weights[centre_tap(size) * size + centre_tap(size)] = 1.0;
        let psf = Psf { size, weights };
        let image = common::texture(24, 20, 2);
        // `shake`'s margins: the kernel's reach before and after the window.
        let before = (size - 1 - centre_tap(size)) as i64;
        let region = region_to_planar(&image, -before, -before, 24 + size - 1, 20 + size - 1);
        let blurred = blur_valid(&region, 24, 20, &psf);
        assert_eq!(blurred, region_to_planar(&image, 0, 0, 24, 20), "size {size}");
    }
}

/// Grey levels of a planar `[3, height, width]` image.
fn grey(planar: &[f32], plane: usize) -> Vec<f64> {
    (0..plane)
        .map(|i| (planar[i] + planar[plane + i] + planar[2 * plane + i]) as f64 / 3.0)
        .collect()
}

/// The shift `(dx, dy)`, each within `±reach`, that best aligns a `side`² blurred crop taken at
/// `(x, y)` with the sharp photo (least mean squared grey difference): the displacement a
/// network would have to learn. For a blur that does not move the image it is `(0, 0)`.
fn best_alignment(photo: &image::RgbImage, blurred: &[f32], x: i64, y: i64, side: usize, reach: i64) -> (i64, i64) {
    let blurred = grey(blurred, side * side);
    let wide = side + 2 * reach as usize;
    let sharp = grey(&region_to_planar(photo, x - reach, y - reach, wide, wide), wide * wide);
    let mut best = ((0, 0), f64::MAX);
    for dy in -reach..=reach {
        for dx in -reach..=reach {
            let mut error = 0.0;
            for row in 0..side {
                let from = (row as i64 + reach - dy) as usize * wide + (reach - dx) as usize;
                for (b, s) in blurred[row * side..(row + 1) * side].iter().zip(&sharp[from..from + side]) {
                    error += (b - s) * (b - s);
                }
            }
            if error < best.1 {
                best = ((dx, dy), error);
            }
        }
    }
    best.0
}

#[test]
fn a_blurred_crop_lines_up_with_its_sharp_crop() {
    // A point of light blurred by `shake` (margins, mirroring and all): the blurred light's
    // centre of mass stays on the point, for every kernel of either shake and every exposure.
    let mut dark = image::RgbImage::new(200, 200);
    dark.put_pixel(100, 100, image::Rgb([255, 255, 255]));
    let side = 128;
    for (name, base) in [("strong", ShakeOptions::default()), ("moderate", ShakeOptions::moderate())] {
        for &exposure in &ShakeOptions::default().exposures {
            let options = ShakeOptions { max_noise: 0.0, exposures: vec![exposure], ..base.clone() };
            let mut rng = Rng::new(8);
            for n in 0..20 {
                let (blurred, _) = shake(&dark, 36, 36, side, side, &options, &mut rng);
                let light = grey(&blurred, side * side);
                let (mut x, mut y, mut total) = (0.0, 0.0, 0.0);
                for (at, value) in light.iter().enumerate() {
                    let weight = value + 1.0; // black is −1
                    x += weight * (at % side) as f64;
                    y += weight * (at / side) as f64;
                    total += weight;
                }
                let (x, y) = (x / total, y / total);
                assert!(
                    (x - 64.0).abs() < 0.05 && (y - 64.0).abs() < 0.05,
                    "{name} shake, exposure {exposure}, kernel {n}: the point moved to ({x:.3}, {y:.3})"
                );
            }
        }
    }
    // On a photo, a short exposure (a dot or a short stroke, which used to land anywhere on the
    // path's canvas, up to 30 px off) is best aligned with its sharp crop where it is. The
    // measurement sees a shift where there is one: a single weight 5 px right of and 4 px below
    // the centre tap moves the image by (5, 4).
    let photo = read_rgb(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/photo.jpg"))).unwrap();
    let side = 96;
    let mut weights = vec![0.0f32; 16 * 16];
    weights[12 * 16 + 13] = 1.0;
    let off_centre = Psf { size: 16, weights };
    let (x, y) = (300, 200);
    let region = region_to_planar(&photo, x - 7, y - 7, side + 15, side + 15);
    let moved = blur_valid(&region, side, side, &off_centre);
    assert_eq!(best_alignment(&photo, &moved, x, y, side, 12), (5, 4));
    for (name, base) in [("strong", ShakeOptions::default()), ("moderate", ShakeOptions::moderate())] {
        let options = ShakeOptions { max_noise: 0.0, exposures: vec![0.01, 0.1], ..base };
        let mut rng = Rng::new(21);
        for n in 0..12 {
            let (x, y) = (40 + 150 * (n % 6) as i64, 60 + 400 * (n / 6) as i64);
            let (blurred, _) = shake(&photo, x, y, side, side, &options, &mut rng);
            assert_eq!(best_alignment(&photo, &blurred, x, y, side, 12), (0, 0), "{name} shake, crop {n} at ({x}, {y})");
        }
    }
}

#[test]
fn sharp_samples_are_left_unblurred_and_inputs_are_rounded_to_8_bits() {
    let dir = common::scratch("sharp-share");
    let photos = common::write_sharp(&dir, 2, 40);
    let shake = ShakeOptions { canvas: 16, max_length: 12.0, max_noise: 0.0, ..ShakeOptions::default() };
    let dataset = |sharp_share, quantize| {
        Dataset::new(Source::Sharp(photos.clone()), SampleOptions { crop: 32, flip: false, shake: shake.clone(), sharp_share, quantize, ..SampleOptions::default() }, 3)
    };
    // Every sample left sharp, without noise: the input is its target (8-bit photos already).
    let sharp = make_batch(&dataset(1.0, true), 0, 4).unwrap();
    assert_eq!(sharp.blurred, sharp.sharp);
    // Blurred and rounded: every input value is one of the 256 levels of an 8-bit photo, which
    // the unrounded blur is not.
    let level = |v: &f32| ((v + 1.0) * 127.5 - ((v + 1.0) * 127.5).round()).abs() < 1e-3;
    let rounded = make_batch(&dataset(0.0, true), 0, 4).unwrap();
    assert!(rounded.blurred.iter().all(level));
    let unrounded = make_batch(&dataset(0.0, false), 0, 4).unwrap();
    assert!(!unrounded.blurred.iter().all(level));
    assert_ne!(rounded.blurred, rounded.sharp, "sharp photos are blurred");
}
