//! `native-trainer`: makes, trains, evaluates, exports and imports DeblurGAN generators.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Parser, Subcommand};
use deblurgan::TileOptions;
use deblurgan::model::GeneratorConfig;
use deblurgan::tiling::{DEFAULT_OVERLAP, DEFAULT_TILE_SIZE, TilePlan};
use deblurgan::weights::{self, Precision};
use native_trainer::device::{DeviceChoice, select_device};
use native_trainer::eval::{self, EvalOptions};
use native_trainer::train::{self, Outcome, RunControl, TrainOptions};
use native_trainer::{bench, official};

mod cli;

use cli::choices::{Architecture, BlurArgs, ConvolutionsChoice, EngineChoice};
use cli::train_args::TrainArgs;

#[derive(Parser, Debug)]
#[command(version, about = "Train, evaluate, export and import DeblurGAN generators")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Writes a freshly initialised (untrained) generator: a placeholder, or a start point.
    Init {
        /// Output weights file (.bpk or .safetensors).
        #[arg(short, long)]
        output: PathBuf,
        /// Which generator.
        #[arg(long, value_enum, default_value = "unet")]
        architecture: Architecture,
        /// Store the weights as 16-bit floats.
        #[arg(long)]
        f16: bool,
    },
    /// Trains a generator against a critic (WGAN-GP + content loss).
    Train(Box<TrainArgs>),
    /// Times deblurring photos of the given sizes as `deblur` runs them, tiled and whole, and
    /// prints one tab-separated row per run: size, tile plan, tiles, pixels computed over the
    /// photo's, median seconds, cores busy.
    BenchDeblur {
        /// Weights (default: the page's bundled weights).
        #[arg(short, long)]
        weights: Option<PathBuf>,
        /// Photo sizes, WIDTHxHEIGHT, comma-separated.
        #[arg(long, default_value = "256x256,1280x720")]
        sizes: String,
        /// Timed runs per row (the median is printed).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Untimed runs first.
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Tile side of the tiled rows.
        #[arg(long, default_value_t = DEFAULT_TILE_SIZE)]
        tile_size: usize,
        /// Overlap of the tiled rows.
        #[arg(long, default_value_t = DEFAULT_OVERLAP)]
        overlap: usize,
        /// GPU (wgpu) or CPU (Flex).
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceChoice,
        /// What runs the generator.
        #[arg(long, value_enum, default_value = "auto")]
        engine: EngineChoice,
    },
    /// Times training steps on this machine and prints where the time goes: data, generator
    /// forward, critic updates, generator backward, optimiser; images/second; cores busy.
    BenchTrain {
        /// Sharp photos to crop (default: the repository's test photo).
        #[arg(long)]
        sharp: Option<PathBuf>,
        /// Generator.
        #[arg(long, value_enum, default_value = "unet")]
        architecture: Architecture,
        /// Generator dropout in the residual blocks (default: the architecture's).
        #[arg(long)]
        dropout: Option<f64>,
        /// Images per batch.
        #[arg(long, default_value_t = 4)]
        batch: usize,
        /// Side of the crops.
        #[arg(long, default_value_t = 128)]
        crop: usize,
        /// Content loss only (no critic).
        #[arg(long)]
        content_only: bool,
        /// Critic updates per step.
        #[arg(long, default_value_t = 5)]
        critic_updates: usize,
        /// Steps timed.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Steps run first and not timed.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// GPU (wgpu) or CPU (Flex).
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceChoice,
        /// How the CPU's training convolutions compute: both (burn's, then matrix products, each
        /// with its own warm-up, in one run), matrix-products or burn.
        #[arg(long, value_enum, default_value = "both")]
        convolutions: ConvolutionsChoice,
    },
    /// Measures PSNR, SSIM and sharpness of a generator's output, with the blurred input as a
    /// baseline row.
    Eval {
        /// Generator weights (.bpk/.safetensors) or a training run folder / checkpoint folder.
        #[arg(short, long)]
        weights: PathBuf,
        /// Data: GOPRO_Large (its test split), an A/B folder, or sharp photos (blurred with a
        /// fixed seed).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Blurred folder of a pair of folders (with --sharp).
        #[arg(long)]
        blurred: Option<PathBuf>,
        /// Sharp folder (with --blurred), or sharp photos alone.
        #[arg(long)]
        sharp: Option<PathBuf>,
        /// Split of GoPro and A/B data sets.
        #[arg(long, default_value = "test")]
        split: String,
        /// Only the 256×256 pass.
        #[arg(long, conflicts_with = "only_full")]
        only_256: bool,
        /// Only the full-resolution pass.
        #[arg(long)]
        only_full: bool,
        /// Scale larger images down to this longest side first (0: never); the notes used
        /// 1280, GoPro frames are 1280×720.
        #[arg(long, default_value_t = 1280)]
        max_side: u32,
        /// Tile side of the full-resolution pass.
        #[arg(long, default_value_t = DEFAULT_TILE_SIZE)]
        tile_size: usize,
        /// Tile overlap of the full-resolution pass.
        #[arg(long, default_value_t = DEFAULT_OVERLAP)]
        overlap: usize,
        /// Seed of the synthetic blur of sharp photos.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The synthetic blur of sharp photos (the options below change it).
        #[command(flatten)]
        blur: BlurArgs,
        /// At most this many images.
        #[arg(long)]
        limit: Option<usize>,
        /// Also deblur every full-resolution image whole and report how far the tiled output
        /// is from it (tile seams would show there).
        #[arg(long)]
        seam_check: bool,
        /// Write each full-resolution sharp image, blurred input and output into this folder as PNG.
        #[arg(long)]
        write_images: Option<PathBuf>,
        /// JSON report.
        #[arg(long, default_value = "eval.json")]
        json: PathBuf,
        /// GPU (wgpu) or CPU (Flex).
        #[arg(long, value_enum, default_value = "gpu")]
        device: DeviceChoice,
    },
    /// Writes the generator of a checkpoint (or any weights file) as the page's weights: f16,
    /// with its configuration.
    Export {
        /// A training run folder (newest checkpoint), a checkpoint folder, or a weights file.
        #[arg(short, long)]
        from: PathBuf,
        /// Output weights file (.bpk, or .safetensors), or an ONNX graph (.onnx).
        #[arg(short, long)]
        output: PathBuf,
        /// Keep 32-bit floats (an ONNX graph always has them).
        #[arg(long)]
        f32: bool,
        /// Write the generator as an ONNX graph (opset 17) for other runtimes: input
        /// `[batch, 3, height, width]` in [-1, 1], sides multiples of 8; implied by a .onnx
        /// output.
        #[arg(long)]
        onnx: bool,
    },
    /// Converts an official DeblurGAN generator checkpoint (`latest_net_G.pth`) to this
    /// project's weights format.
    ImportOfficial {
        /// The PyTorch checkpoint.
        input: PathBuf,
        /// Output weights file (.bpk or .safetensors).
        #[arg(short, long)]
        output: PathBuf,
        /// Store 16-bit floats.
        #[arg(long)]
        f16: bool,
    },
}

/// `WIDTHxHEIGHT[,WIDTHxHEIGHT…]`.
fn parse_sizes(text: &str) -> Result<Vec<(u32, u32)>> {
    text.split(',')
        .map(|size| {
            let parsed = size.trim().split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)));
            match parsed {
                Some((w, h)) if w > 0 && h > 0 => Ok((w, h)),
                _ => bail!("a size is WIDTHxHEIGHT, e.g. 1280x720, not {size:?}"),
            }
        })
        .collect()
}

/// The generator of a run folder, checkpoint folder or weights file, on `device`.
fn load_generator(path: &Path, device: &Device) -> Result<(deblurgan::Generator, GeneratorConfig)> {
    let (generator, config, _) = train::load_start_generator(path, device)?;
    Ok((generator, config))
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Init { output, architecture, f16 } => {
            let config = architecture.config();
            let generator = config.init(&Device::flex());
            let precision = if f16 { Precision::F16 } else { Precision::F32 };
            weights::save_to_file(&generator, &config, &output, precision)
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!("wrote {} ({})", output.display(), weights::describe(&config));
            Ok(())
        }
        Command::Train(args) => {
            let selected = select_device(args.device);
            eprintln!("device: {}", selected.description);
            train::install_interrupt_handler();
            let moved = args.data.is_some() || args.blurred.is_some() || args.sharp.is_some();
            let control = RunControl {
                steps: args.steps,
                data: moved.then(|| (args.data.clone(), args.blurred.clone(), args.sharp.clone())),
                workers: args.workers,
                validation: args.validation.clone(),
                decay_start: args.decay_start.filter(|_| args.resume),
                pixel_loss: args.pixel_loss.filter(|_| args.resume).map(|choice| choice.loss()),
                psnr_weight: args.psnr_weight.filter(|_| args.resume),
                moderate_share: args.moderate_share.filter(|_| args.resume),
                sharp_share: args.sharp_share.filter(|_| args.resume),
                ema: args.ema.filter(|_| args.resume),
                ..RunControl::default()
            };
            if args.resume && args.init_from.is_some() {
                bail!("--init-from starts a new run and --resume continues one: give one of them");
            }
            let (outcome, trainer) = train::run(args.options(), &args.output, &selected.device, args.resume, control)?;
            let final_weights = args.output.join("generator.bpk");
            weights::save_to_file(&trainer.published(), &trainer.options.generator, &final_weights, Precision::F32)?;
            match outcome {
                Outcome::Finished => eprintln!("finished at step {}; generator in {}", trainer.step, final_weights.display()),
                Outcome::Interrupted => eprintln!(
                    "stopped at step {}; continue with --resume -o {}",
                    trainer.step,
                    args.output.display()
                ),
            }
            Ok(())
        }
        Command::Eval { weights, data, blurred, sharp, split, only_256, only_full, max_side, tile_size, overlap, seed, blur, limit, seam_check, write_images, json, device } => {
            let selected = select_device(device);
            eprintln!("device: {}", selected.description);
            let (generator, config) = load_generator(&weights, &selected.device)?;
            let source_options = TrainOptions::new().with_data(data).with_blurred(blurred).with_sharp(sharp).with_split(split);
            let (layout, source) = source_options.source()?;
            let options = EvalOptions {
                at_256: !only_full,
                full: !only_256,
                max_side: Some(max_side),
                tiles: TileOptions::new(tile_size, overlap).map_err(|e| anyhow::anyhow!("{e}"))?,
                seed,
                shake: blur.shake()?,
                limit,
                seam_check,
                write_images,
            };
            let bar = indicatif::ProgressBar::new(0);
            let results = eval::evaluate(&generator, &selected.device, &source, &options, |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })?;
            bar.finish_and_clear();
            println!("{}", eval::table(&results));
            let context = [
                ("weights", weights.display().to_string()),
                ("generator", weights::describe(&config)),
                ("layout", format!("{layout:?}")),
                ("blur_seed", seed.to_string()),
                ("blur", blur.describe()),
            ];
            deblurgan::files::write_atomically(&json, eval::to_json(&results, &context).as_bytes())
                .with_context(|| format!("cannot write {}", json.display()))?;
            eprintln!("wrote {}", json.display());
            Ok(())
        }
        Command::BenchTrain { sharp, architecture, dropout, batch, crop, content_only, critic_updates, steps, warmup, device, convolutions } => {
            let selected = select_device(device);
            let sharp = sharp.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures"));
            let mut generator = architecture.config();
            if let Some(dropout) = dropout {
                generator = generator.with_dropout(dropout);
            }
            let options = TrainOptions::new()
                .with_sharp(Some(sharp))
                .with_generator(generator)
                .with_batch(batch)
                .with_crop(crop)
                .with_critic_updates(critic_updates)
                .with_adversarial_weight(if content_only { 0.0 } else { 1.0 })
                .with_moderate_share(Some(0.5));
            let what = format!(
                "{} on {}, batch {batch}, crops {crop}², {}",
                weights::describe(&architecture.config()),
                selected.description,
                if content_only { "content loss only".to_string() } else { format!("WGAN-GP, {critic_updates} critic updates") }
            );
            let mut steps_seconds = Vec::new();
            for method in convolutions.methods() {
                deblurgan::conv_training::set_convolutions(method);
                let bench = bench::bench_train(options.clone(), steps, warmup, &selected.device)?;
                print!("{}", bench.report(&format!("{what}; convolutions: {}", bench::method_name(method))));
                steps_seconds.push(bench.step);
            }
            deblurgan::conv_training::set_convolutions(deblurgan::conv_training::Convolutions::MatrixProducts);
            if let [burn, matrix] = steps_seconds[..] {
                println!("step with matrix-product convolutions: {:.2}× faster than with burn's", burn / matrix);
            }
            Ok(())
        }
        Command::BenchDeblur { weights: weights_path, sizes, runs, warmup, tile_size, overlap, device, engine } => {
            let engine = match engine {
                EngineChoice::Auto => deblurgan::Engine::Auto,
                EngineChoice::Burn => deblurgan::Engine::Burn,
            };
            let tiled = TileOptions::new(tile_size, overlap)?;
            let sizes = parse_sizes(&sizes)?;
            let selected = select_device(device);
            let weights_path = weights_path.unwrap_or_else(native_trainer::bundled_weights_path);
            let (generator, config) = weights::load_from_file(&weights_path, &selected.device)
                .with_context(|| format!("cannot load the weights {}", weights_path.display()))?;
            eprintln!("{} on {}", weights::describe(&config), selected.description);
            let photo = image::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/photo.jpg"))
                .context("cannot read the test photo")?
                .to_rgb8();
            println!("size\tplan\ttiles\tcomputed\tseconds\tcores");
            for (width, height) in sizes {
                let photo = image::imageops::resize(&photo, width, height, image::imageops::FilterType::Triangle);
                let whole = TileOptions::whole_image();
                let tiled_is_whole = TilePlan::new(width as usize, height as usize, tiled).len() == 1;
                let plans: &[(&str, TileOptions)] =
                    if tiled_is_whole { &[("whole", whole)] } else { &[("tiled", tiled), ("whole", whole)] };
                for &(name, options) in plans {
                    let plan = if name == "tiled" { format!("{tile_size}/{overlap}") } else { name.to_string() };
                    let bench = native_trainer::bench_deblur::bench_deblur(&generator, &selected.device, &photo, options, engine, runs, warmup)?;
                    println!("{}", bench.row(&plan));
                }
            }
            Ok(())
        }
        Command::Export { from, output, f32, onnx } => {
            let onnx = onnx || output.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
            if onnx && output.extension().is_none_or(|e| !e.eq_ignore_ascii_case("onnx")) {
                bail!("an ONNX graph is written to a .onnx file, not {}", output.display());
            }
            let (generator, config) = load_generator(&from, &Device::flex())?;
            if onnx {
                let bytes = native_trainer::onnx::generator_to_onnx(&generator, &weights::describe(&config))?;
                std::fs::write(&output, bytes).with_context(|| format!("cannot write {}", output.display()))?;
                eprintln!("wrote {} ({}, ONNX opset {})", output.display(), weights::describe(&config), native_trainer::onnx::OPSET);
                return Ok(());
            }
            let precision = if f32 { Precision::F32 } else { Precision::F16 };
            weights::save_to_file(&generator, &config, &output, precision)
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!("wrote {} ({}, {precision:?})", output.display(), weights::describe(&config));
            Ok(())
        }
        Command::ImportOfficial { input, output, f16 } => {
            if input == output {
                bail!("the output would overwrite the input");
            }
            let (generator, config) = official::import_official(&input, &Device::flex())?;
            let precision = if f16 { Precision::F16 } else { Precision::F32 };
            weights::save_to_file(&generator, &config, &output, precision)
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!("wrote {} ({})", output.display(), weights::describe(&config));
            Ok(())
        }
    }
}
