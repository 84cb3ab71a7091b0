//! The trainer learns to deblur, measured through the inference path: a short run of the default
//! recipe (content loss only, a narrow U-Net)
//! on a few photos with one known blur, exported as the page's f16 weights, read back and run in
//! tiles as `deblur` runs them, must sharpen photos it never saw.
//!
//! This is the test a displaced blur (a kernel whose centroid is off its centre tap) or a
//! training mode that disagrees with inference (dropout before BatchNorm, stale running
//! statistics) fails: the training loss falls in both cases, the exported weights do not help.

mod common;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use deblurgan::TileOptions;
use deblurgan::convert::{planar_to_image, region_to_planar};
use deblurgan::deblur::deblur_rgb;
use deblurgan::model::{GeneratorConfig, UNetConfig};
use deblurgan::weights::{self, Precision};
use image::RgbImage;
use native_trainer::data::camera_shake::{Psf, blur_valid, centre_tap};
use native_trainer::data::loader::read_rgb;
use native_trainer::metrics::psnr;
use native_trainer::recipe::recipe;
use native_trainer::train::{Outcome, RunControl, run};

/// A diagonal motion blur 9 pixels long, centred on the kernel's centre tap.
fn known_blur() -> Psf {
    let size = 11;
    let centre = centre_tap(size);
    let mut weights = vec![0.0f32; size * size];
    for d in -4i64..=4 {
        let (x, y) = ((centre as i64 + d) as usize, (centre as i64 + d / 2) as usize);
        weights[y * size + x] += 1.0 / 9.0;
    }
    Psf { size, weights }
}

fn blur(image: &RgbImage, psf: &Psf) -> RgbImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let before = (psf.size - 1 - centre_tap(psf.size)) as i64;
    let region = region_to_planar(image, -before, -before, w + psf.size - 1, h + psf.size - 1);
    planar_to_image(&blur_valid(&region, w, h, psf), w, h)
}

/// Writes `sharp` and its blurred copy under `dir/{sharp,blurred}/NAME.png`.
fn write_pair(dir: &Path, name: &str, sharp: &RgbImage, psf: &Psf) -> (PathBuf, PathBuf) {
    let (sharp_dir, blurred_dir) = (dir.join("sharp"), dir.join("blurred"));
    std::fs::create_dir_all(&sharp_dir).unwrap();
    std::fs::create_dir_all(&blurred_dir).unwrap();
    let (sharp_path, blurred_path) = (sharp_dir.join(format!("{name}.png")), blurred_dir.join(format!("{name}.png")));
    sharp.save(&sharp_path).unwrap();
    blur(sharp, psf).save(&blurred_path).unwrap();
    (sharp_path, blurred_path)
}

const STEPS: usize = 1500;

#[test]
fn a_short_content_run_sharpens_held_back_photos_through_the_exported_weights() {
    let dir = common::scratch("learns");
    let photo = read_rgb(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/photo.jpg"))).unwrap();
    let photo = image::imageops::resize(&photo, 512, 384, image::imageops::FilterType::Triangle);
    let psf = known_blur();
    // Train on the left part of the photo, hold back the right part.
    let train = image::imageops::crop_imm(&photo, 0, 0, 320, 384).to_image();
    write_pair(&dir.join("train"), "left", &train, &psf);
    let held_back = [
        image::imageops::crop_imm(&photo, 352, 0, 160, 192).to_image(),
        image::imageops::crop_imm(&photo, 352, 192, 160, 192).to_image(),
    ];
    // The default recipe, on a narrow U-Net.
    let unet = UNetConfig::new().with_width(8).with_levels(3);
    let options = recipe(GeneratorConfig::unet().with_unet(Some(unet)), STEPS)
        .with_blurred(Some(dir.join("train/blurred")))
        .with_sharp(Some(dir.join("train/sharp")))
        .with_batch(4)
        .with_crop(48)
        .with_max_side(None)
        .with_workers(1)
        .with_sample_every(0)
        .with_log_every(50)
        .with_checkpoint_every(1000);
    let run_dir = dir.join("run");
    let control = RunControl { quiet: true, ..RunControl::default() };
    let (outcome, trainer) = run(options, &run_dir, &Device::flex(), false, control).unwrap();
    assert_eq!(outcome, Outcome::Finished);
    // A content-only run never uses its critic: its checkpoints do not carry one.
    let (_, checkpoint) = native_trainer::checkpoint::latest(&run_dir).unwrap().unwrap();
    assert!(checkpoint.join("generator-optim.bpk").is_file() && !checkpoint.join("critic.bpk").exists());
    // Exported as the page's weights, read back as `deblur` reads them.
    let exported = dir.join("deblurgan.bpk");
    weights::save_to_file(&trainer.generator, &trainer.options.generator, &exported, Precision::F16).unwrap();
    let (generator, _) = weights::load_from_file(&exported, &Device::flex()).unwrap();
    let tiles = TileOptions::new(96, 32).unwrap();
    let (mut before, mut after) = (0.0, 0.0);
    for sharp in &held_back {
        let blurred = blur(sharp, &psf);
        let deblurred = pollster::block_on(deblur_rgb(&generator, &Device::flex(), &blurred, tiles, |_| true)).unwrap();
        before += psnr(&blurred, sharp) / held_back.len() as f64;
        after += psnr(&deblurred, sharp) / held_back.len() as f64;
    }
    eprintln!("held-back photos: blurred {before:.2} dB, deblurred {after:.2} dB (gain {:+.2} dB)", after - before);
    assert!(
        after >= before + 1.0,
        "held-back photos: blurred {before:.2} dB, deblurred {after:.2} dB (gain {:+.2} dB)",
        after - before
    );
}
