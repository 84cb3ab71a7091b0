//! `native-trainer`: makes, trains, evaluates, exports and imports DeblurGAN generators.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Args, Parser, Subcommand, ValueEnum};
use deblurgan::TileOptions;
use deblurgan::model::{CriticArchitecture, CriticConfig, GeneratorConfig, NormKind};
use deblurgan::tiling::{DEFAULT_OVERLAP, DEFAULT_TILE_SIZE, TilePlan};
use deblurgan::weights::{self, Precision};
use native_trainer::data::camera_shake::ShakeOptions;
use native_trainer::device::{DeviceChoice, select_device};
use native_trainer::eval::{self, EvalOptions};
use native_trainer::loss::PixelLoss;
use native_trainer::train::{self, Outcome, RunControl, TrainOptions};
use native_trainer::{bench, official};

#[derive(Parser, Debug)]
#[command(version, about = "Train, evaluate, export and import DeblurGAN generators")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// A named generator configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Architecture {
    /// The design notes' generator: 64 channels, 9 blocks, BatchNorm (11.4 M parameters).
    Full,
    /// 32 channels, 6 blocks: fast on CPUs and in browsers (2 M parameters).
    Compact,
    /// Compact with the residual output (input + correction, starting as the identity) and
    /// BatchNorm.
    CompactResidual,
    /// Compact residual without normalisation layers or dropout: training and inference compute
    /// the same function.
    CompactResidualPlain,
    /// Compact residual plain with encoder-decoder skip connections (the stem's features added
    /// before the last convolution, the first downsampling's after the first upsampling).
    CompactResidualSkip,
    /// The official PyTorch DeblurGAN: InstanceNorm, transposed convolutions.
    Official,
}

impl Architecture {
    fn config(self) -> GeneratorConfig {
        match self {
            Architecture::Full => GeneratorConfig::keras(),
            Architecture::Compact => GeneratorConfig::compact(),
            Architecture::CompactResidual => GeneratorConfig::compact_residual(),
            Architecture::CompactResidualPlain => GeneratorConfig::compact_residual_plain(),
            Architecture::CompactResidualSkip => GeneratorConfig::compact_residual_skip(),
            Architecture::Official => GeneratorConfig::official(),
        }
    }
}

/// What runs the generator in `bench-deblur`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EngineChoice {
    /// As `deblur` runs it: the CPU engine on the CPU (where it runs the generator), burn on a GPU.
    Auto,
    /// burn's forward pass on the device.
    Burn,
}

/// Which critic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CriticChoice {
    /// The official DeblurGAN's PatchGAN (InstanceNorm), one score per patch.
    Patch,
    /// The design notes' critic: convolutions then dense 1024 and dense 1 (BatchNorm); needs
    /// square crops whose side is a multiple of 16.
    Dense,
}

/// The pixel content loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PixelLossChoice {
    /// Mean absolute error.
    L1,
    /// Mean squared error.
    L2,
    /// Minus the mean PSNR of the images (dB), what the evaluation reports.
    Psnr,
}

impl PixelLossChoice {
    fn loss(self) -> PixelLoss {
        match self {
            PixelLossChoice::L1 => PixelLoss::L1,
            PixelLossChoice::L2 => PixelLoss::L2,
            PixelLossChoice::Psnr => PixelLoss::Psnr,
        }
    }
}

/// A named synthetic blur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ShakePreset {
    /// The official DeblurGAN's camera shake: 60 px paths on a 64 px kernel, exposures of 1/100,
    /// 1/10, 1/2 and all of the path.
    Strong,
    /// Handheld shake: whole paths of 5 to 25 px on a 32 px kernel.
    Moderate,
}

/// The synthetic blur `eval` gives sharp photos.
#[derive(Args, Debug, Clone)]
struct BlurArgs {
    /// Blur preset.
    #[arg(long, value_enum, default_value = "strong")]
    shake: ShakePreset,
    /// Side of the kernels (default: the preset's).
    #[arg(long = "blur-kernel-size")]
    kernel_size: Option<usize>,
    /// Longest path, in pixels (default: the preset's).
    #[arg(long = "blur-length")]
    max_length: Option<f64>,
    /// Shortest path, in pixels (default: the preset's).
    #[arg(long = "blur-min-length")]
    min_length: Option<f64>,
    /// Exposure fractions of the path, one drawn per photo, comma-separated (default: the
    /// preset's).
    #[arg(long = "blur-exposures", value_delimiter = ',')]
    exposures: Option<Vec<f64>>,
    /// Largest noise σ, in [0, 1] units (default: the preset's, 0.01).
    #[arg(long = "blur-noise")]
    max_noise: Option<f64>,
}

impl BlurArgs {
    fn shake(&self) -> Result<ShakeOptions> {
        let mut options = match self.shake {
            ShakePreset::Strong => ShakeOptions::default(),
            ShakePreset::Moderate => ShakeOptions::moderate(),
        };
        if let Some(canvas) = self.kernel_size {
            options.canvas = canvas;
        }
        if let Some(length) = self.max_length {
            options.max_length = length;
            options.min_length = options.min_length.min(length);
        }
        if let Some(length) = self.min_length {
            options.min_length = length;
        }
        if let Some(exposures) = &self.exposures {
            options.exposures = exposures.clone();
        }
        if let Some(noise) = self.max_noise {
            options.max_noise = noise;
        }
        if options.canvas < 2 {
            bail!("--blur-kernel-size must be at least 2");
        }
        if !(options.min_length >= 0.0 && options.min_length <= options.max_length) {
            bail!("--blur-min-length must lie between 0 and --blur-length ({})", options.max_length);
        }
        if options.exposures.is_empty() || options.exposures.iter().any(|e| !(*e > 0.0 && *e <= 1.0)) {
            bail!("--blur-exposures must be fractions in (0, 1]");
        }
        if !(0.0..=1.0).contains(&options.max_noise) {
            bail!("--blur-noise must lie in [0, 1]");
        }
        Ok(options)
    }

    fn describe(&self) -> String {
        match self.shake() {
            Ok(o) => format!(
                "{:?}: paths {}-{} px on a {} px kernel, exposures {:?}, noise up to {}",
                self.shake, o.min_length, o.max_length, o.canvas, o.exposures, o.max_noise
            )
            .to_lowercase(),
            Err(e) => e.to_string(),
        }
    }
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// Run folder: checkpoints, log.jsonl, samples/.
    #[arg(short, long)]
    output: PathBuf,
    /// Continue the newest checkpoint in the run folder (its options are used; --steps may
    /// extend the run, --data/--sharp/--blurred say where the same images are now, --workers
    /// sets the loader threads).
    #[arg(long)]
    resume: bool,
    /// Data set root: GOPRO_Large, a Keras A/B folder, or a folder of sharp photos.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Blurred folder of a pair of folders (with --sharp).
    #[arg(long)]
    blurred: Option<PathBuf>,
    /// Sharp folder of a pair of folders (with --blurred), or sharp photos alone.
    #[arg(long)]
    sharp: Option<PathBuf>,
    /// Split of GoPro and A/B data sets.
    #[arg(long, default_value = "train")]
    split: String,
    /// Generator.
    #[arg(long, value_enum, default_value = "compact-residual")]
    architecture: Architecture,
    /// Generator dropout in the residual blocks.
    #[arg(long)]
    dropout: Option<f64>,
    /// Critic.
    #[arg(long, value_enum, default_value = "patch")]
    critic: CriticChoice,
    /// End the critic in a sigmoid (the design notes' variant; use with --gp-weight 0 for the
    /// notes' plain Wasserstein loss).
    #[arg(long)]
    critic_sigmoid: bool,
    /// Critic width.
    #[arg(long, default_value_t = 64)]
    critic_channels: usize,
    /// Generator steps in all (default 100000; on --resume, the saved number unless given).
    #[arg(long)]
    steps: Option<usize>,
    /// Images per batch.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Side of the random crops.
    #[arg(long, default_value_t = 256)]
    crop: usize,
    /// No random horizontal flips.
    #[arg(long)]
    no_flip: bool,
    /// Scale larger photos down to this longest side before cropping (0: never), as `eval`
    /// does, so that a blur of n pixels means the same in training and evaluation.
    #[arg(long, default_value_t = 1280)]
    max_side: u32,
    /// Largest noise σ added to synthetic blur, in [0, 1] units.
    #[arg(long, default_value_t = 0.01)]
    max_noise: f64,
    /// Side of synthetic camera-shake kernels.
    #[arg(long, default_value_t = 64)]
    kernel_size: usize,
    /// Length of synthetic camera-shake trajectories, in pixels.
    #[arg(long, default_value_t = 60.0)]
    trajectory_length: f64,
    /// Share of samples blurred by the moderate shake (whole paths of 5-25 px on a 32 px kernel)
    /// instead of the strong one (--kernel-size, --trajectory-length, four exposures).
    #[arg(long, default_value_t = 0.5)]
    moderate_share: f64,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Adam β1.
    #[arg(long, default_value_t = 0.5)]
    beta1: f32,
    /// Adam β2.
    #[arg(long, default_value_t = 0.999)]
    beta2: f32,
    /// Step where the linear decay of the learning rate to 0 begins (default: half the steps).
    #[arg(long)]
    decay_start: Option<usize>,
    /// Steps of linear learning-rate warm-up at the start.
    #[arg(long, default_value_t = 0)]
    warmup: usize,
    /// Critic updates per generator step.
    #[arg(long, default_value_t = 5)]
    critic_updates: usize,
    /// Gradient-penalty weight λ (0: none).
    #[arg(long, default_value_t = 10.0)]
    gp_weight: f64,
    /// Finite-difference step of the gradient penalty (see docs/training.md).
    #[arg(long, default_value_t = 1e-3)]
    gp_step: f64,
    /// Weight of the adversarial loss (0: content loss only, no critic).
    #[arg(long, default_value_t = 1.0)]
    adversarial_weight: f64,
    /// Weight of the content loss.
    #[arg(long, default_value_t = 100.0)]
    content_weight: f64,
    /// Pixel content loss (without --vgg): l1; l2 (mean squared error); or psnr (minus each
    /// image's PSNR in dB, averaged: what the evaluation reports, where nearly sharp crops weigh
    /// as much as blurred ones).
    #[arg(long, value_enum, default_value = "l1")]
    pixel_loss: PixelLossChoice,
    /// VGG16 ImageNet weights (torchvision .pth or .safetensors) for the perceptual loss;
    /// without them the content loss is L1.
    #[arg(long)]
    vgg: Option<PathBuf>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Data loading threads (default 4).
    #[arg(long)]
    workers: Option<usize>,
    /// Log a line to log.jsonl every N steps.
    #[arg(long, default_value_t = 10)]
    log_every: usize,
    /// Write before/after samples every N steps (0: never).
    #[arg(long, default_value_t = 500)]
    sample_every: usize,
    /// Write a checkpoint every N steps.
    #[arg(long, default_value_t = 1000)]
    checkpoint_every: usize,
    /// Checkpoints kept.
    #[arg(long, default_value_t = 3)]
    keep: usize,
    /// Also write a checkpoint every N minutes (wall clock; 0: by steps only).
    #[arg(long, default_value_t = 10.0)]
    checkpoint_minutes: f64,
    /// Sharp photos never trained on: the run measures its weights on a fixed crop of each
    /// (strong and moderate shake) as the page runs them, and logs the gain against CPU time in
    /// validation.jsonl. On --resume, where the same photos are now.
    #[arg(long)]
    validation: Option<PathBuf>,
    /// Validation photos used.
    #[arg(long, default_value_t = 8)]
    validation_photos: usize,
    /// Side of the validation crops.
    #[arg(long, default_value_t = 256)]
    validation_crop: usize,
    /// CPU-minutes of training between validations.
    #[arg(long, default_value_t = 10.0)]
    validate_minutes: f64,
    /// Start from this generator (weights file, checkpoint or run folder) instead of a fresh
    /// one, with a fresh optimiser at step 0: the second stage of a staged recipe (e.g. another
    /// loss, or adversarial fine-tuning). Its architecture replaces --architecture, and a
    /// checkpoint's CPU time carries on in the learning curve.
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Keep a moving average of the generator's weights with this decay per step (e.g. 0.998:
    /// about the last 500 steps) and publish it: validation, eval, export and --init-from use
    /// the average, which carries less of the last steps' noise.
    #[arg(long)]
    ema: Option<f64>,
    /// GPU (wgpu) or CPU (Flex).
    #[arg(long, value_enum, default_value = "gpu")]
    device: DeviceChoice,
}

impl TrainArgs {
    fn options(&self) -> TrainOptions {
        let mut generator = self.architecture.config();
        if let Some(dropout) = self.dropout {
            generator = generator.with_dropout(dropout);
        }
        let critic = match self.critic {
            CriticChoice::Patch => CriticConfig::patch(),
            CriticChoice::Dense => CriticConfig::dense(self.crop)
                .with_architecture(CriticArchitecture::Dense)
                .with_norm(NormKind::Batch),
        }
        .with_base_channels(self.critic_channels)
        .with_sigmoid(self.critic_sigmoid);
        let options = TrainOptions::new()
            .with_data(self.data.clone())
            .with_blurred(self.blurred.clone())
            .with_sharp(self.sharp.clone())
            .with_split(self.split.clone())
            .with_generator(generator)
            .with_critic(critic)
            .with_steps(self.steps.unwrap_or(100_000))
            .with_batch(self.batch)
            .with_crop(self.crop)
            .with_flip(!self.no_flip)
            .with_max_side(Some(self.max_side))
            .with_max_noise(self.max_noise)
            .with_kernel_size(self.kernel_size)
            .with_trajectory_length(self.trajectory_length)
            .with_moderate_share(Some(self.moderate_share))
            .with_lr(self.lr)
            .with_beta1(self.beta1)
            .with_beta2(self.beta2)
            .with_decay_start(self.decay_start)
            .with_warmup((self.warmup > 0).then_some(self.warmup))
            .with_critic_updates(self.critic_updates)
            .with_gp_weight(self.gp_weight)
            .with_gp_step(self.gp_step)
            .with_adversarial_weight(self.adversarial_weight)
            .with_content_weight(self.content_weight)
            .with_pixel_loss(Some(self.pixel_loss.loss()))
            .with_vgg(self.vgg.clone())
            .with_seed(self.seed)
            .with_log_every(self.log_every)
            .with_sample_every(self.sample_every)
            .with_checkpoint_every(self.checkpoint_every)
            .with_keep(self.keep)
            .with_checkpoint_minutes((self.checkpoint_minutes > 0.0).then_some(self.checkpoint_minutes))
            .with_validation(self.validation.clone())
            .with_validation_photos(Some(self.validation_photos))
            .with_validation_crop(Some(self.validation_crop))
            .with_validate_minutes(Some(self.validate_minutes))
            .with_init_from(self.init_from.clone())
            .with_ema(self.ema);
        // Without --workers, the options' own default.
        match self.workers {
            Some(workers) => options.with_workers(workers),
            None => options,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Writes a freshly initialised (untrained) generator: a placeholder, or a start point.
    Init {
        /// Output weights file (.bpk or .safetensors).
        #[arg(short, long)]
        output: PathBuf,
        /// Which generator.
        #[arg(long, value_enum, default_value = "compact-residual")]
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
        #[arg(long, value_enum, default_value = "compact-residual")]
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
        /// `[batch, 3, height, width]` in [-1, 1], sides multiples of 4; implied by a .onnx
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
        Command::BenchTrain { sharp, architecture, dropout, batch, crop, content_only, critic_updates, steps, warmup, device } => {
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
            let bench = bench::bench_train(options, steps, warmup, &selected.device)?;
            let what = format!(
                "{} on {}, batch {batch}, crops {crop}², {}",
                weights::describe(&architecture.config()),
                selected.description,
                if content_only { "content loss only".to_string() } else { format!("WGAN-GP, {critic_updates} critic updates") }
            );
            print!("{}", bench.report(&what));
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
