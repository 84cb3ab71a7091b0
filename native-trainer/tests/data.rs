//! Camera-shake kernels, data layouts and the batch loader.

mod common;

use std::sync::Arc;

use native_trainer::data::camera_shake::{ShakeOptions, random_psf, rasterise, trajectory};
use native_trainer::data::layout::{Layout, LayoutError, Source, discover, pair_folders};
use deblurgan::convert::region_to_planar;
use native_trainer::data::loader::{Dataset, Loader, SampleOptions, limit_side, make_batch, read_rgb};
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
        SampleOptions { crop: 32, flip: true, shake: ShakeOptions { canvas: 16, max_length: 12.0, ..ShakeOptions::default() }, max_side: None },
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
    let options = |max_side| SampleOptions { crop: 32, flip: false, shake: ShakeOptions::default(), max_side };
    let dataset = Dataset::new(Source::Sharp(photos.clone()), options(Some(32)), 3);
    let expected = region_to_planar(&scaled, 0, 0, 32, 32);
    for _ in 0..2 {
        // Twice: the second read comes from the cache and must be the same image.
        assert_eq!(dataset.make(0, &mut Rng::new(5)).unwrap().sharp, expected);
    }
    let unscaled = Dataset::new(Source::Sharp(photos), options(None), 3);
    assert_ne!(unscaled.make(0, &mut Rng::new(5)).unwrap().sharp, expected);
}
