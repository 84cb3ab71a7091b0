//! `deblur`: deblurs photos (files or whole folders) with a DeblurGAN generator.
//!
//! ```text
//! deblur --weights W.bpk in.jpg -o out.png
//! deblur photos/ -o sharp/            # every JPEG, PNG and WebP in the folder
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use deblurgan::tile_budget::{DEFAULT_BUDGET_BYTES, tiles_within};
use deblurgan::tiling::DEFAULT_OVERLAP;
use deblurgan::{Photo, PreparedGenerator, TileOptions, deblur_photo_prepared_blocking, weights};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use native_trainer::device::{DeviceChoice, select_device};

/// Deblurs photos with a DeblurGAN generator.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Photos (JPEG, PNG, WebP) or folders of photos.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output PNG for a single photo, or a folder for several; default: NAME-deblurred.png
    /// beside each input.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Weights file (.bpk or .safetensors); default: the weights the web page bundles.
    #[arg(short, long)]
    weights: Option<PathBuf>,
    /// Where to run: gpu (wgpu; falls back to the CPU without an adapter) or cpu (Flex).
    #[arg(long, value_enum, default_value = "gpu")]
    device: DeviceChoice,
    /// Working memory for the network, in MiB: each photo runs whole when it fits, else in the
    /// largest tiles that fit (see docs/architecture.md).
    #[arg(long, default_value_t = DEFAULT_BUDGET_BYTES >> 20)]
    max_memory: usize,
    /// Fixed tiles of this side in pixels instead of tiles chosen by --max-memory (e.g. 256).
    #[arg(long)]
    tile_size: Option<usize>,
    /// Pixels shared by neighbouring tiles.
    #[arg(long, default_value_t = DEFAULT_OVERLAP)]
    overlap: usize,
    /// Run each photo whole, without tiles, whatever its size (memory grows with the photo).
    #[arg(long, conflicts_with = "tile_size")]
    no_tiles: bool,
    /// Replace existing output files.
    #[arg(long)]
    overwrite: bool,
}

/// One photo to deblur and where its result goes.
struct Job {
    input: PathBuf,
    output: PathBuf,
}

fn is_photo(path: &Path) -> bool {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    matches!(extension.as_deref(), Some("jpg" | "jpeg" | "png" | "webp"))
}

/// Expands folders and decides every output path.
fn plan_jobs(args: &Args) -> Result<Vec<Job>> {
    let mut inputs = Vec::new();
    for input in &args.inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot read the folder {}", input.display()))?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.is_file() && is_photo(path))
                .collect();
            found.sort();
            if found.is_empty() {
                eprintln!("warning: no JPEG, PNG or WebP photo in {}", input.display());
            }
            inputs.extend(found);
        } else if input.is_file() {
            inputs.push(input.clone());
        } else {
            bail!("{}: no such file or folder", input.display());
        }
    }
    let several = inputs.len() > 1 || args.inputs.iter().any(|input| input.is_dir());
    let output_dir = match &args.output {
        Some(output) if several || output.is_dir() => {
            std::fs::create_dir_all(output)
                .with_context(|| format!("cannot create the folder {}", output.display()))?;
            Some(output.clone())
        }
        _ => None,
    };
    let jobs: Vec<Job> = inputs
        .into_iter()
        .map(|input| {
            let stem = input.file_stem().unwrap_or_default().to_string_lossy().to_string();
            let output = match (&output_dir, &args.output) {
                (Some(dir), _) => dir.join(format!("{stem}.png")),
                (None, Some(file)) => file.clone(),
                (None, None) => input.with_file_name(format!("{stem}-deblurred.png")),
            };
            Job { input, output }
        })
        .collect();
    for job in &jobs {
        if same_file(&job.input, &job.output) {
            bail!("{}: the output would overwrite the input", job.input.display());
        }
        if !args.overwrite && job.output.exists() {
            bail!("{} exists already (use --overwrite to replace it)", job.output.display());
        }
    }
    Ok(jobs)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failures) => {
            eprintln!("{failures} photo(s) could not be deblurred");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the number of photos that failed.
fn run(args: Args) -> Result<usize> {
    let tiling = if args.no_tiles {
        Tiling::Fixed(TileOptions::whole_image())
    } else if let Some(tile_size) = args.tile_size {
        Tiling::Fixed(TileOptions::new(tile_size, args.overlap)?)
    } else {
        if args.max_memory == 0 {
            bail!("--max-memory must be at least 1 MiB");
        }
        // An overlap no tiles can take is refused before any photo is read.
        TileOptions::new(4 * args.overlap.max(8), args.overlap)?;
        Tiling::Budget { bytes: args.max_memory << 20, overlap: args.overlap }
    };
    let jobs = plan_jobs(&args)?;
    let weights_path = match &args.weights {
        Some(path) => path.clone(),
        None => {
            let bundled = native_trainer::bundled_weights_path();
            if !bundled.exists() {
                bail!(
                    "no --weights given and the page's bundled weights are missing ({}): train \
                     some (docs/training.md) or pass --weights",
                    bundled.display()
                );
            }
            bundled
        }
    };
    let selected = select_device(args.device);
    eprintln!("device: {}", selected.description);
    let (generator, config) = weights::load_from_file(&weights_path, &selected.device)
        .with_context(|| format!("cannot load the weights {}", weights_path.display()))?;
    eprintln!("weights: {} ({})", weights_path.display(), weights::describe(&config));
    // Compiled for its engine once, for every photo.
    let generator = Arc::new(PreparedGenerator::new(generator, selected.device.clone(), deblurgan::Engine::Auto));

    let bars = MultiProgress::new();
    let files = bars.add(ProgressBar::new(jobs.len() as u64));
    files.set_style(ProgressStyle::with_template("{prefix:>6} {bar:30} {pos}/{len} {msg}")?);
    files.set_prefix("photos");
    let tiles = bars.add(ProgressBar::new(0));
    tiles.set_style(ProgressStyle::with_template("{prefix:>6} {bar:30} {pos}/{len} tiles")?);
    tiles.set_prefix("tiles");
    let mut failures = 0;
    for job in &jobs {
        files.set_message(job.input.display().to_string());
        let started = Instant::now();
        let result = deblur_file(&job.input, &job.output, &generator, tiling, &tiles);
        match result {
            Ok((width, height, options)) => bars.suspend(|| {
                let plan = match options.tile_size {
                    None => "whole".to_string(),
                    Some(side) => format!("tiles of {side}/{}", options.overlap),
                };
                eprintln!(
                    "{} → {} ({width}×{height}, {plan}, {:.2} s)",
                    job.input.display(),
                    job.output.display(),
                    started.elapsed().as_secs_f64()
                )
            }),
            Err(error) => {
                failures += 1;
                bars.suspend(|| eprintln!("{}: {error:#}", job.input.display()));
            }
        }
        files.inc(1);
    }
    tiles.finish_and_clear();
    files.finish_and_clear();
    Ok(failures)
}

/// How photos are cut into tiles.
#[derive(Debug, Clone, Copy)]
enum Tiling {
    /// The same tiles (or none) for every photo.
    Fixed(TileOptions),
    /// Per photo, within a memory budget (`tiles_within`).
    Budget { bytes: usize, overlap: usize },
}

fn deblur_file(
    input: &Path,
    output: &Path,
    generator: &Arc<PreparedGenerator>,
    tiling: Tiling,
    tiles: &ProgressBar,
) -> Result<(u32, u32, TileOptions)> {
    let bytes = std::fs::read(input).context("cannot read the file")?;
    let photo = Photo::decode(&bytes)?;
    let options = match tiling {
        Tiling::Fixed(options) => options,
        Tiling::Budget { bytes, overlap } => {
            tiles_within(photo.width() as usize, photo.height() as usize, bytes, generator.bytes_per_pixel(), generator.width_factor(), overlap)?
        }
    };
    tiles.reset();
    let result = deblur_photo_prepared_blocking(generator, &photo, options, |progress| {
        tiles.set_length(progress.total as u64);
        tiles.set_position(progress.done as u64);
        true
    })?;
    let png = result.encode_png()?;
    deblurgan::files::write_atomically(output, &png)
        .with_context(|| format!("cannot write {}", output.display()))?;
    Ok((photo.width(), photo.height(), options))
}
