//! Evaluation: PSNR, SSIM and the design notes' sharpness score of the deblurred images, with
//! the blurred inputs as a row of their own so that the gain shows, at 256×256 (images resized,
//! as the notes' Keras code does) and at full resolution (deblurred in tiles).

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::{Context, Result};
use burn::tensor::Device;
use deblurgan::TileOptions;
use deblurgan::convert::planar_to_image;
use deblurgan::deblur::{Engine, PreparedGenerator, deblur_rgb_prepared};
use deblurgan::model::Generator;
use image::RgbImage;
use image::imageops::FilterType;

use crate::data::camera_shake::ShakeOptions;
use crate::data::layout::Source;
use crate::data::loader::{limit_side, read_rgb, shake};
use crate::metrics::{colour_shift, psnr, sharpness, ssim};
use crate::rng::Rng;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Evaluate at 256×256 (images resized).
    pub at_256: bool,
    /// Evaluate at full resolution (tiled).
    pub full: bool,
    /// Longest side at "full" resolution (larger images are scaled down first); `None` or 0: as
    /// is.
    pub max_side: Option<u32>,
    /// Tiling of the full-resolution pass.
    pub tiles: TileOptions,
    /// Seed of the synthetic blur of sharp photos (fixed, so runs compare).
    pub seed: u64,
    /// The synthetic blur.
    pub shake: ShakeOptions,
    /// Evaluate at most this many images.
    pub limit: Option<usize>,
    /// Also deblur each full-resolution image whole and compare it with the tiled output: tile
    /// seams would lower that PSNR.
    pub seam_check: bool,
    /// Write each full-resolution sharp image, blurred input and output here as PNG
    /// (`NAME-sharp.png`, `NAME-blurred.png`, `NAME-deblurred.png`), to look at.
    pub write_images: Option<std::path::PathBuf>,
}

/// One image's scores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageScores {
    /// The (sharp) file name.
    pub name: String,
    /// PSNR of the blurred input, dB.
    pub blurred_psnr: f64,
    /// PSNR of the output, dB.
    pub deblurred_psnr: f64,
    /// SSIM of the blurred input.
    pub blurred_ssim: f64,
    /// SSIM of the output.
    pub deblurred_ssim: f64,
    /// Colour shift of the output against the sharp image (levels of 255).
    pub colour_shift: f64,
    /// PSNR of the tiled output against the whole-image output (with `seam_check`).
    pub tiled_vs_whole_psnr: Option<f64>,
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
    /// Mean colour shift (largest mean channel difference to the sharp image, levels of 255) of
    /// the blurred inputs.
    pub blurred_colour_shift: f64,
    /// ... of the deblurred outputs.
    pub deblurred_colour_shift: f64,
    /// The largest colour shift of one output.
    pub worst_colour_shift: f64,
    /// The lowest PSNR of a tiled output against the same image deblurred whole (with
    /// `seam_check`).
    pub worst_tiled_vs_whole_psnr: Option<f64>,
    /// Every image's scores.
    pub per_image: Vec<ImageScores>,
}

/// The blurred/sharp pair `index` at full resolution (after `max_side`). Sharp photos alone are
/// blurred here, at full resolution, with a kernel drawn from `(seed, index)`: every run and
/// every model sees the same inputs.
pub fn full_pair(source: &Source, index: usize, options: &EvalOptions) -> Result<(RgbImage, RgbImage)> {
    match source {
        Source::Pairs(pairs) => Ok((
            limit_side(read_rgb(&pairs[index].blurred)?, options.max_side),
            limit_side(read_rgb(&pairs[index].sharp)?, options.max_side),
        )),
        Source::Sharp(photos) => {
            let sharp = limit_side(read_rgb(&photos[index])?, options.max_side);
            let (w, h) = (sharp.width() as usize, sharp.height() as usize);
            let mut rng = Rng::derive(options.seed, 5, index as u64);
            let (planar, _) = shake(&sharp, 0, 0, w, h, &options.shake, &mut rng);
            Ok((planar_to_image(&planar, w, h), sharp))
        }
    }
}

impl Scores {
    fn add(&mut self, name: &str, blurred: &RgbImage, deblurred: &RgbImage, sharp: &RgbImage, whole: Option<&RgbImage>) {
        let image = ImageScores {
            name: name.to_string(),
            blurred_psnr: psnr(blurred, sharp).min(100.0),
            deblurred_psnr: psnr(deblurred, sharp).min(100.0),
            blurred_ssim: ssim(blurred, sharp),
            deblurred_ssim: ssim(deblurred, sharp),
            colour_shift: colour_shift(deblurred, sharp),
            tiled_vs_whole_psnr: whole.map(|whole| psnr(deblurred, whole).min(100.0)),
        };
        self.images += 1;
        self.blurred_psnr += image.blurred_psnr;
        self.deblurred_psnr += image.deblurred_psnr;
        self.blurred_ssim += image.blurred_ssim;
        self.deblurred_ssim += image.deblurred_ssim;
        self.sharp_sharpness += sharpness(sharp);
        self.blurred_sharpness += sharpness(blurred);
        self.deblurred_sharpness += sharpness(deblurred);
        self.blurred_colour_shift += colour_shift(blurred, sharp);
        self.deblurred_colour_shift += image.colour_shift;
        self.worst_colour_shift = self.worst_colour_shift.max(image.colour_shift);
        if let Some(value) = image.tiled_vs_whole_psnr {
            self.worst_tiled_vs_whole_psnr = Some(self.worst_tiled_vs_whole_psnr.map_or(value, |worst| worst.min(value)));
        }
        self.per_image.push(image);
    }

    fn average(mut self) -> Self {
        let n = self.images.max(1) as f64;
        for value in [
            &mut self.blurred_psnr,
            &mut self.deblurred_psnr,
            &mut self.blurred_ssim,
            &mut self.deblurred_ssim,
            &mut self.sharp_sharpness,
            &mut self.blurred_sharpness,
            &mut self.deblurred_sharpness,
            &mut self.blurred_colour_shift,
            &mut self.deblurred_colour_shift,
        ] {
            *value /= n;
        }
        self
    }
}

/// Evaluates `generator` over `source`, calling `progress(done, total)` after each image. The
/// 256×256 pass resizes the full-resolution pair (as GoPro frames are resized), so both passes
/// see the same blur.
pub fn evaluate(
    generator: &Generator,
    device: &Device,
    source: &Source,
    options: &EvalOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Scores>> {
    let count = options.limit.map_or(source.len(), |limit| limit.min(source.len()));
    let mut small = Scores { resolution: "256x256".into(), ..Scores::default() };
    let mut full = Scores { resolution: "full".into(), ..Scores::default() };
    // Compiled for its engine once for the whole evaluation, as the CLI and the page run it.
    let prepared = Arc::new(PreparedGenerator::new(generator.clone(), device.clone(), Engine::Auto));
    let deblur = |image: &RgbImage, tiles: TileOptions| -> Result<RgbImage> {
        pollster::block_on(deblur_rgb_prepared(&prepared, image, tiles, |_| true)).map_err(|e| anyhow::anyhow!("{e}"))
    };
    if let Some(folder) = &options.write_images {
        std::fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
    }
    for index in 0..count {
        let (blurred, sharp) = full_pair(source, index, options)?;
        let name = image_name(source, index);
        if options.at_256 {
            let resize = |image: &RgbImage| image::imageops::resize(image, 256, 256, FilterType::Triangle);
            let (blurred, sharp) = (resize(&blurred), resize(&sharp));
            small.add(&name, &blurred, &deblur(&blurred, TileOptions::whole_image())?, &sharp, None);
        }
        if options.full {
            let whole = if options.seam_check { Some(deblur(&blurred, TileOptions::whole_image())?) } else { None };
            let deblurred = deblur(&blurred, options.tiles)?;
            if let Some(folder) = &options.write_images {
                let stem = std::path::Path::new(&name).file_stem().map_or(name.clone(), |s| s.to_string_lossy().into_owned());
                for (suffix, image) in [("sharp", &sharp), ("blurred", &blurred), ("deblurred", &deblurred)] {
                    let path = folder.join(format!("{stem}-{suffix}.png"));
                    image.save(&path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                }
            }
            full.add(&name, &blurred, &deblurred, &sharp, whole.as_ref());
        }
        progress(index + 1, count);
    }
    let mut results = Vec::new();
    if options.at_256 {
        results.push(small.average());
    }
    if options.full {
        results.push(full.average());
    }
    Ok(results)
}

/// The file name of image `index` (the sharp one of a pair).
fn image_name(source: &Source, index: usize) -> String {
    let path = match source {
        Source::Pairs(pairs) => &pairs[index].sharp,
        Source::Sharp(photos) => &photos[index],
    };
    path.file_name().map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned())
}

fn ratio(value: f64, sharp: f64) -> f64 {
    if sharp > 0.0 { value / sharp } else { f64::NAN }
}

/// The table: per resolution, a row for the sharp, blurred and deblurred images.
pub fn table(results: &[Scores]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<10} {:<10} {:>6} {:>9} {:>7} {:>11} {:>10} {:>13}", "resolution", "images", "count", "PSNR (dB)", "SSIM", "sharpness", "vs sharp", "colour shift");
    for s in results {
        let _ = writeln!(out, "{:<10} {:<10} {:>6} {:>9} {:>7} {:>11.2} {:>10.3} {:>13}", s.resolution, "sharp", s.images, "-", "-", s.sharp_sharpness, 1.0, "-");
        let _ = writeln!(out, "{:<10} {:<10} {:>6} {:>9.2} {:>7.4} {:>11.2} {:>10.3} {:>13.2}", s.resolution, "blurred", s.images, s.blurred_psnr, s.blurred_ssim, s.blurred_sharpness, ratio(s.blurred_sharpness, s.sharp_sharpness), s.blurred_colour_shift);
        let _ = writeln!(out, "{:<10} {:<10} {:>6} {:>9.2} {:>7.4} {:>11.2} {:>10.3} {:>13.2}", s.resolution, "deblurred", s.images, s.deblurred_psnr, s.deblurred_ssim, s.deblurred_sharpness, ratio(s.deblurred_sharpness, s.sharp_sharpness), s.deblurred_colour_shift);
    }
    for s in results {
        let _ = write!(out, "\n{}: largest colour shift of one output {:.2} levels", s.resolution, s.worst_colour_shift);
        if let Some(worst) = s.worst_tiled_vs_whole_psnr {
            let _ = write!(out, "; tiled vs whole image, lowest PSNR {worst:.2} dB");
        }
    }
    out.push('\n');
    out
}

fn number(value: f64) -> String {
    if value.is_finite() { format!("{value}") } else { "null".into() }
}

fn image_json(image: &ImageScores) -> String {
    format!(
        "\n      {{\"name\": \"{}\", \"blurred_psnr\": {}, \"deblurred_psnr\": {}, \"blurred_ssim\": {}, \"deblurred_ssim\": {}, \"colour_shift\": {}, \"tiled_vs_whole_psnr\": {}}}",
        image.name.replace('\\', "\\\\").replace('"', "\\\""),
        number(image.blurred_psnr),
        number(image.deblurred_psnr),
        number(image.blurred_ssim),
        number(image.deblurred_ssim),
        number(image.colour_shift),
        image.tiled_vs_whole_psnr.map_or_else(|| "null".into(), number),
    )
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
            "    {{\"resolution\": \"{}\", \"images\": {},\n     \"sharp\": {{\"sharpness\": {}}},\n     \"blurred\": {{\"psnr\": {}, \"ssim\": {}, \"sharpness\": {}, \"sharpness_ratio\": {}}},\n     \"deblurred\": {{\"psnr\": {}, \"ssim\": {}, \"sharpness\": {}, \"sharpness_ratio\": {}, \"colour_shift\": {}, \"worst_colour_shift\": {}}},\n     \"blurred_colour_shift\": {}, \"worst_tiled_vs_whole_psnr\": {},\n     \"per_image\": [{}]}}{}\n",
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
            number(s.deblurred_colour_shift),
            number(s.worst_colour_shift),
            number(s.blurred_colour_shift),
            s.worst_tiled_vs_whole_psnr.map_or_else(|| "null".into(), number),
            s.per_image.iter().map(image_json).collect::<Vec<_>>().join(","),
            if i + 1 < results.len() { "," } else { "" }
        );
    }
    out.push_str("  ]\n}\n");
    out
}
