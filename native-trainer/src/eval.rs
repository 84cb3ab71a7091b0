//! Evaluation: PSNR, SSIM and the design notes' sharpness score of the deblurred images, with
//! the blurred inputs as a row of their own so that the gain shows, at 256×256 (images resized,
//! as the notes' Keras code does) and at full resolution (deblurred in tiles).

use std::fmt::Write as _;

use anyhow::Result;
use burn::tensor::Device;
use deblurgan::TileOptions;
use deblurgan::convert::planar_to_image;
use deblurgan::deblur::deblur_rgb;
use deblurgan::model::Generator;
use image::RgbImage;
use image::imageops::FilterType;

use crate::data::camera_shake::ShakeOptions;
use crate::data::layout::Source;
use crate::data::loader::{read_rgb, shake};
use crate::metrics::{psnr, sharpness, ssim};
use crate::rng::Rng;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Evaluate at 256×256 (images resized).
    pub at_256: bool,
    /// Evaluate at full resolution (tiled).
    pub full: bool,
    /// Longest side at "full" resolution (larger images are scaled down first); `None`: as is.
    pub max_side: Option<u32>,
    /// Tiling of the full-resolution pass.
    pub tiles: TileOptions,
    /// Seed of the synthetic blur of sharp photos (fixed, so runs compare).
    pub seed: u64,
    /// The synthetic blur.
    pub shake: ShakeOptions,
    /// Evaluate at most this many images.
    pub limit: Option<usize>,
}

/// Averages for one resolution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    /// "256x256" or "full".
    pub resolution: String,
    /// Images averaged.
    pub images: usize,
    /// Mean PSNR of the blurred inputs against the sharp images, dB.
    pub blurred_psnr: f64,
    /// Mean SSIM of the blurred inputs.
    pub blurred_ssim: f64,
    /// Mean PSNR of the deblurred outputs.
    pub deblurred_psnr: f64,
    /// Mean SSIM of the deblurred outputs.
    pub deblurred_ssim: f64,
    /// Mean sharpness (variance of the Laplacian) of the sharp images.
    pub sharp_sharpness: f64,
    /// ... of the blurred inputs.
    pub blurred_sharpness: f64,
    /// ... of the deblurred outputs.
    pub deblurred_sharpness: f64,
}

/// A blurred/sharp pair of the evaluation set at one resolution.
fn pair_at(source: &Source, index: usize, side: Option<u32>, options: &EvalOptions) -> Result<(RgbImage, RgbImage)> {
    let fit = |image: RgbImage| -> RgbImage {
        match side {
            Some(side) => image::imageops::resize(&image, side, side, FilterType::Triangle),
            None => match options.max_side {
                Some(max) if image.width().max(image.height()) > max => {
                    let scale = max as f64 / image.width().max(image.height()) as f64;
                    let (w, h) = ((image.width() as f64 * scale).round() as u32, (image.height() as f64 * scale).round() as u32);
                    image::imageops::resize(&image, w.max(1), h.max(1), FilterType::Triangle)
                }
                _ => image,
            },
        }
    };
    match source {
        Source::Pairs(pairs) => Ok((fit(read_rgb(&pairs[index].blurred)?), fit(read_rgb(&pairs[index].sharp)?))),
        Source::Sharp(photos) => {
            let sharp = fit(read_rgb(&photos[index])?);
            let (w, h) = (sharp.width() as usize, sharp.height() as usize);
            // The same kernel for an image at both resolutions: the stream depends on the index.
            let mut rng = Rng::derive(options.seed, 5, index as u64);
            let (planar, _) = shake(&sharp, 0, 0, w, h, &options.shake, &mut rng);
            Ok((planar_to_image(&planar, w, h), sharp))
        }
    }
}

/// Evaluates `generator` over `source`, calling `progress(done, total)` after each image.
pub fn evaluate(
    generator: &Generator,
    device: &Device,
    source: &Source,
    options: &EvalOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Scores>> {
    let count = options.limit.map_or(source.len(), |limit| limit.min(source.len()));
    let mut passes = Vec::new();
    if options.at_256 {
        passes.push(("256x256", Some(256u32), TileOptions::whole_image()));
    }
    if options.full {
        passes.push(("full", None, options.tiles));
    }
    let total = count * passes.len();
    let mut results = Vec::new();
    for (pass, (name, side, tiles)) in passes.into_iter().enumerate() {
        let mut scores = Scores { resolution: name.to_string(), ..Scores::default() };
        for index in 0..count {
            let (blurred, sharp) = pair_at(source, index, side, options)?;
            let deblurred = pollster::block_on(deblur_rgb(generator, device, &blurred, tiles, |_| true))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            scores.blurred_psnr += psnr(&blurred, &sharp).min(100.0);
            scores.deblurred_psnr += psnr(&deblurred, &sharp).min(100.0);
            scores.blurred_ssim += ssim(&blurred, &sharp);
            scores.deblurred_ssim += ssim(&deblurred, &sharp);
            scores.sharp_sharpness += sharpness(&sharp);
            scores.blurred_sharpness += sharpness(&blurred);
            scores.deblurred_sharpness += sharpness(&deblurred);
            progress(pass * count + index + 1, total);
        }
        let n = count.max(1) as f64;
        scores.images = count;
        for value in [
            &mut scores.blurred_psnr,
            &mut scores.deblurred_psnr,
            &mut scores.blurred_ssim,
            &mut scores.deblurred_ssim,
            &mut scores.sharp_sharpness,
            &mut scores.blurred_sharpness,
            &mut scores.deblurred_sharpness,
        ] {
            *value /= n;
        }
        results.push(scores);
    }
    Ok(results)
}

fn ratio(value: f64, sharp: f64) -> f64 {
    if sharp > 0.0 { value / sharp } else { f64::NAN }
}

/// The table: per resolution, a row for the sharp, blurred and deblurred images.
pub fn table(results: &[Scores]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<10} {:<10} {:>6} {:>9} {:>7} {:>11} {:>10}", "resolution", "images", "count", "PSNR (dB)", "SSIM", "sharpness", "vs sharp");
    for s in results {
        let _ = writeln!(out, "{:<10} {:<10} {:>6} {:>9} {:>7} {:>11.2} {:>10.3}", s.resolution, "sharp", s.images, "-", "-", s.sharp_sharpness, 1.0);
        let _ = writeln!(out, "{:<10} {:<10} {:>6} {:>9.2} {:>7.4} {:>11.2} {:>10.3}", s.resolution, "blurred", s.images, s.blurred_psnr, s.blurred_ssim, s.blurred_sharpness, ratio(s.blurred_sharpness, s.sharp_sharpness));
        let _ = writeln!(out, "{:<10} {:<10} {:>6} {:>9.2} {:>7.4} {:>11.2} {:>10.3}", s.resolution, "deblurred", s.images, s.deblurred_psnr, s.deblurred_ssim, s.deblurred_sharpness, ratio(s.deblurred_sharpness, s.sharp_sharpness));
    }
    out
}

fn number(value: f64) -> String {
    if value.is_finite() { format!("{value}") } else { "null".into() }
}

/// The results as JSON (`{"results": [{"resolution": ..., "sharp": {...}, "blurred": {...},
/// "deblurred": {...}}]}`), plus whatever `context` pairs describe the run.
pub fn to_json(results: &[Scores], context: &[(&str, String)]) -> String {
    let mut out = String::from("{\n");
    for (key, value) in context {
        let _ = writeln!(out, "  \"{key}\": \"{}\",", value.replace('\\', "\\\\").replace('"', "\\\""));
    }
    out.push_str("  \"results\": [\n");
    for (i, s) in results.iter().enumerate() {
        let _ = write!(
            out,
            "    {{\"resolution\": \"{}\", \"images\": {},\n     \"sharp\": {{\"sharpness\": {}}},\n     \"blurred\": {{\"psnr\": {}, \"ssim\": {}, \"sharpness\": {}, \"sharpness_ratio\": {}}},\n     \"deblurred\": {{\"psnr\": {}, \"ssim\": {}, \"sharpness\": {}, \"sharpness_ratio\": {}}}}}{}\n",
            s.resolution,
            s.images,
            number(s.sharp_sharpness),
            number(s.blurred_psnr),
            number(s.blurred_ssim),
            number(s.blurred_sharpness),
            number(ratio(s.blurred_sharpness, s.sharp_sharpness)),
            number(s.deblurred_psnr),
            number(s.deblurred_ssim),
            number(s.deblurred_sharpness),
            number(ratio(s.deblurred_sharpness, s.sharp_sharpness)),
            if i + 1 < results.len() { "," } else { "" }
        );
    }
    out.push_str("  ]\n}\n");
    out
}
