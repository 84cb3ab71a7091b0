//! A fixed validation set measured while training runs, so that a run logs the gain (dB) of its
//! weights against the CPU time spent: learning curves that compare recipes.
//!
//! The weights are measured as the page runs them: the generator in inference mode (BatchNorm
//! running statistics), written as f16 weights and read back, and run over its input in the
//! default tiles. Each photo gives two crops, one blurred by the strong shake and one by the
//! moderate shake, both drawn once from a fixed seed, so every measurement of every run sees the
//! same inputs.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use burn::tensor::Device;
use deblurgan::TileOptions;
use deblurgan::convert::{planar_to_image, region_to_planar};
use deblurgan::deblur::{Engine, PreparedGenerator, deblur_rgb_prepared};
use deblurgan::model::{Generator, GeneratorConfig};
use deblurgan::weights::{self, Precision, WeightsFormat};
use image::RgbImage;

use crate::data::camera_shake::ShakeOptions;
use crate::data::loader::{limit_side, read_rgb, shake};
use crate::metrics::psnr;
use crate::rng::Rng;

/// Which blur a validation crop carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    /// [`ShakeOptions::default`].
    Strong,
    /// [`ShakeOptions::moderate`].
    Moderate,
}

/// One blurred/sharp crop.
#[derive(Debug, Clone)]
pub struct ValidationCrop {
    /// The photo's file name.
    pub name: String,
    /// Its blur.
    pub strength: Strength,
    /// Network input.
    pub blurred: RgbImage,
    /// Target.
    pub sharp: RgbImage,
}

/// Mean PSNR of the inputs and of the outputs over the crops of one strength.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StrengthScores {
    /// Mean PSNR of the blurred crops, dB.
    pub blurred_psnr: f64,
    /// Mean PSNR of the deblurred crops, dB.
    pub deblurred_psnr: f64,
}

impl StrengthScores {
    /// Deblurred minus blurred, dB.
    pub fn gain(&self) -> f64 {
        self.deblurred_psnr - self.blurred_psnr
    }
}

/// A measurement of the whole set.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ValidationScores {
    /// Crops with the strong shake.
    pub strong: StrengthScores,
    /// Crops with the moderate shake.
    pub moderate: StrengthScores,
}

/// The fixed validation crops.
#[derive(Debug, Clone)]
pub struct ValidationSet {
    /// Every crop, photo by photo (strong, then moderate).
    pub crops: Vec<ValidationCrop>,
}

impl ValidationSet {
    /// The centre `side`² crop of each of the first `count` photos (sorted by path), scaled to
    /// `max_side` first as `eval` does, blurred by each strength with kernels drawn from `seed`.
    /// Photos smaller than `side` are mirrored to fill the crop.
    pub fn from_photos(photos: &[PathBuf], count: usize, side: usize, max_side: Option<u32>, seed: u64) -> Result<Self> {
        let mut photos = photos.to_vec();
        photos.sort();
        let mut crops = Vec::new();
        for (index, path) in photos.iter().take(count).enumerate() {
            let image = limit_side(read_rgb(path)?, max_side);
            let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
            let x = (image.width() as i64 - side as i64).max(0) / 2;
            let y = (image.height() as i64 - side as i64).max(0) / 2;
            let sharp = planar_to_image(&region_to_planar(&image, x, y, side, side), side, side);
            for (strength, options, stream) in
                [(Strength::Strong, ShakeOptions::default(), 6), (Strength::Moderate, ShakeOptions::moderate(), 7)]
            {
                let mut rng = Rng::derive(seed, stream, index as u64);
                let (blurred, _) = shake(&image, x, y, side, side, &options, &mut rng);
                crops.push(ValidationCrop {
                    name: name.clone(),
                    strength,
                    blurred: planar_to_image(&blurred, side, side),
                    sharp: sharp.clone(),
                });
            }
        }
        anyhow::ensure!(!crops.is_empty(), "the validation set has no photos");
        Ok(Self { crops })
    }

    /// Measures `generator` as the page runs it: inference mode, f16 weights, default tiles.
    pub fn measure(&self, generator: &Generator, config: &GeneratorConfig, device: &Device) -> Result<ValidationScores> {
        let bytes = weights::save_to_bytes(generator, config, WeightsFormat::Burnpack, Precision::F16)
            .context("cannot write the weights to validate")?;
        let (generator, _) = weights::load_from_bytes(&bytes, device).context("cannot read back the weights")?;
        let generator = Arc::new(PreparedGenerator::new(generator, device.clone(), Engine::Auto));
        let mut sums = [(0.0, 0.0, 0usize); 2];
        for crop in &self.crops {
            let output = pollster::block_on(deblur_rgb_prepared(&generator, &crop.blurred, TileOptions::default(), |_| true))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let sum = &mut sums[crop.strength as usize];
            sum.0 += psnr(&crop.blurred, &crop.sharp).min(100.0);
            sum.1 += psnr(&output, &crop.sharp).min(100.0);
            sum.2 += 1;
        }
        let mean = |(blurred, deblurred, n): (f64, f64, usize)| StrengthScores {
            blurred_psnr: blurred / n.max(1) as f64,
            deblurred_psnr: deblurred / n.max(1) as f64,
        };
        Ok(ValidationScores { strong: mean(sums[0]), moderate: mean(sums[1]) })
    }
}

/// CPU time this process has used so far (all threads), in seconds; `None` where unknown.
pub fn process_cpu_seconds() -> Option<f64> {
    // /proc/self/stat: fields 14 and 15 (utime, stime) in clock ticks, after the command name
    // in parentheses (which may hold spaces).
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports these in USER_HZ, 100 on every mainstream architecture.
    Some(ticks / 100.0)
}
