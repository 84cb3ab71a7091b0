//! Tiny data sets made by the tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("native-trainer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A textured test image: stripes, a gradient and a few squares, varying with `variant`.
pub fn texture(width: u32, height: u32, variant: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        let stripe = if ((x + variant * 3) / 4 + y / 6) % 2 == 0 { 200 } else { 40 };
        let square = if (x / 9 + y / 9 + variant) % 3 == 0 { 60 } else { 0 };
        image::Rgb([
            (stripe as u32 + square) .min(255) as u8,
            ((x * 255) / width.max(1)) as u8,
            ((y * 7 + variant * 31) % 256) as u8,
        ])
    })
}

/// A box-blurred copy (a stand-in for a real blurred frame).
pub fn box_blur(image: &image::RgbImage) -> image::RgbImage {
    image::imageops::blur(image, 1.5)
}

/// Writes `count` sharp images `frame-N.png` into `dir`.
pub fn write_sharp(dir: &Path, count: u32, side: u32) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..count)
        .map(|n| {
            let path = dir.join(format!("frame-{n}.png"));
            texture(side, side, n).save(&path).unwrap();
            path
        })
        .collect()
}

/// Writes `count` pairs into `blurred_dir` and `sharp_dir`, same names.
pub fn write_pairs(blurred_dir: &Path, sharp_dir: &Path, count: u32, side: u32) {
    std::fs::create_dir_all(blurred_dir).unwrap();
    std::fs::create_dir_all(sharp_dir).unwrap();
    for n in 0..count {
        let sharp = texture(side, side, n);
        sharp.save(sharp_dir.join(format!("{n:06}.png"))).unwrap();
        box_blur(&sharp).save(blurred_dir.join(format!("{n:06}.png"))).unwrap();
    }
}
