//! The training loop: WGAN-GP critic updates, generator updates with content + adversarial
//! losses, Adam with linear decay, logs, samples, checkpoints, exact resume.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::config::Config;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};
use deblurgan::convert::planar_to_image;
use deblurgan::model::{Critic, CriticConfig, Generator, GeneratorConfig};

use crate::average;
use crate::checkpoint;
use crate::data::camera_shake::ShakeOptions;
use crate::data::layout::{self, Layout, Source};
use crate::data::loader::{Batch, Dataset, Loader, SampleOptions};
use crate::loss::{self, ContentLoss, PixelLoss};
use crate::rng::Rng;
use crate::validation::{ValidationSet, process_cpu_seconds};
use crate::vgg::Vgg16Features;

/// Everything that defines a training run (saved in every checkpoint).
#[derive(Config, Debug)]
pub struct TrainOptions {
    /// Data set root: GoPro, Keras A/B, or a folder of sharp photos.
    pub data: Option<PathBuf>,
    /// Blurred folder of a two-folder data set (with `sharp`).
    pub blurred: Option<PathBuf>,
    /// Sharp folder of a two-folder data set (with `blurred`), or sharp photos alone.
    pub sharp: Option<PathBuf>,
    /// Split of GoPro / A/B data sets.
    #[config(default = "String::from(\"train\")")]
    pub split: String,
    /// The generator to train.
    #[config(default = "GeneratorConfig::compact_residual()")]
    pub generator: GeneratorConfig,
    /// The critic.
    #[config(default = "CriticConfig::patch()")]
    pub critic: CriticConfig,
    /// Generator steps in all.
    #[config(default = 100000)]
    pub steps: usize,
    /// Images per batch.
    #[config(default = 1)]
    pub batch: usize,
    /// Side of the random crops.
    #[config(default = 256)]
    pub crop: usize,
    /// Random horizontal flips.
    #[config(default = true)]
    pub flip: bool,
    /// Photos are scaled down to this longest side before cropping (`None` or 0: never), as
    /// `eval` does by default.
    #[config(default = "Some(1280)")]
    pub max_side: Option<u32>,
    /// Largest noise added to synthetic blur (σ in [0, 1] units).
    #[config(default = 0.01)]
    pub max_noise: f64,
    /// Side of synthetic shake kernels.
    #[config(default = 64)]
    pub kernel_size: usize,
    /// Length of synthetic shake trajectories, in pixels.
    #[config(default = 60.0)]
    pub trajectory_length: f64,
    /// Share of training samples blurred by the moderate shake ([`ShakeOptions::moderate`])
    /// instead of the strong one (`None`: 0).
    pub moderate_share: Option<f64>,
    /// Adam learning rate (both networks).
    #[config(default = 1e-4)]
    pub lr: f64,
    /// Adam β1 (0.5 in the official DeblurGAN).
    #[config(default = 0.5)]
    pub beta1: f32,
    /// Adam β2.
    #[config(default = 0.999)]
    pub beta2: f32,
    /// Step at which the learning rate starts its linear decay to 0 at `steps` (default: half).
    pub decay_start: Option<usize>,
    /// Steps over which the learning rate rises linearly from `lr / warmup` to `lr` at the start
    /// (`None` or 0: none).
    pub warmup: Option<usize>,
    /// Critic updates per generator step.
    #[config(default = 5)]
    pub critic_updates: usize,
    /// Gradient-penalty weight λ.
    #[config(default = 10.0)]
    pub gp_weight: f64,
    /// Finite-difference step of the gradient penalty.
    #[config(default = 1e-3)]
    pub gp_step: f64,
    /// Weight of the adversarial term of the generator loss (0: content loss only, no critic).
    #[config(default = 1.0)]
    pub adversarial_weight: f64,
    /// Weight of the content term.
    #[config(default = 100.0)]
    pub content_weight: f64,
    /// The pixel content loss without `vgg` (`None`: L2 where `content_l2`, else L1).
    pub pixel_loss: Option<PixelLoss>,
    /// How runs before `pixel_loss` asked for L2; read from their checkpoints only.
    pub content_l2: Option<bool>,
    /// VGG16 ImageNet weights (`.pth` or `.safetensors`): perceptual content loss; else the
    /// pixel loss.
    pub vgg: Option<PathBuf>,
    /// Seed of every random choice.
    #[config(default = 0)]
    pub seed: u64,
    /// Data loading threads.
    #[config(default = 4)]
    pub workers: usize,
    /// Log a line every this many steps.
    #[config(default = 10)]
    pub log_every: usize,
    /// Write sample images every this many steps (0: never).
    #[config(default = 500)]
    pub sample_every: usize,
    /// Write a checkpoint every this many steps.
    #[config(default = 1000)]
    pub checkpoint_every: usize,
    /// Checkpoints kept.
    #[config(default = 3)]
    pub keep: usize,
    /// Also write a checkpoint once this many minutes (wall clock) have passed since the last
    /// one, so that a stopped session loses little (`None`: by steps only).
    pub checkpoint_minutes: Option<f64>,
    /// Sharp photos of a fixed validation set (never trained on): the run measures its weights
    /// on them as the page runs them and logs the gain against CPU time in `validation.jsonl`.
    pub validation: Option<PathBuf>,
    /// Photos of the validation set used (`None`: 8), one crop each per blur strength.
    pub validation_photos: Option<usize>,
    /// Side of the validation crops (`None`: 256).
    pub validation_crop: Option<usize>,
    /// CPU-minutes of training between two validations (`None`: 10).
    pub validate_minutes: Option<f64>,
    /// The generator this run started from (a weights file, or a checkpoint or run folder), with
    /// a fresh optimiser at step 0: the second stage of a staged recipe (`None`: a fresh
    /// initialisation).
    pub init_from: Option<PathBuf>,
    /// Keep an exponential moving average of the generator's weights with this decay per step
    /// (e.g. 0.998: the last ~500 steps), and publish it: validation, `eval`, `export` and
    /// `--init-from` use the average (`None`: the weights of the last step). See
    /// [`crate::average`].
    pub ema: Option<f64>,
}

impl TrainOptions {
    /// The pixel loss of the run: `pixel_loss`, else L2 for the runs that said `content_l2`,
    /// else L1.
    pub fn pixel_loss(&self) -> PixelLoss {
        match (self.pixel_loss, self.content_l2) {
            (Some(loss), _) => loss,
            (None, Some(true)) => PixelLoss::L2,
            (None, _) => PixelLoss::L1,
        }
    }

    /// The data set these options name.
    pub fn source(&self) -> Result<(Layout, Source)> {
        match (&self.data, &self.blurred, &self.sharp) {
            (Some(root), None, None) => Ok(layout::discover(root, &self.split)?),
            (None, Some(blurred), Some(sharp)) => {
                Ok((Layout::Folders, Source::Pairs(layout::pair_folders(blurred, sharp)?)))
            }
            (None, None, Some(sharp)) => {
                let photos = layout::images_in(sharp)?;
                anyhow::ensure!(!photos.is_empty(), "no images in {}", sharp.display());
                Ok((Layout::SharpOnly, Source::Sharp(photos)))
            }
            _ => bail!("give --data DIR, or --sharp DIR (photos to blur), or --blurred DIR --sharp DIR"),
        }
    }

    /// The camera-shake parameters.
    pub fn shake(&self) -> ShakeOptions {
        ShakeOptions {
            canvas: self.kernel_size,
            max_length: self.trajectory_length,
            max_noise: self.max_noise,
            ..ShakeOptions::default()
        }
    }

    /// How this run makes its samples: crops, flips, the strong shake and the moderate shake's
    /// share, the photos' longest side.
    pub fn sample_options(&self) -> SampleOptions {
        SampleOptions {
            crop: self.crop,
            flip: self.flip,
            shake: self.shake(),
            second_shake: self.moderate_share.filter(|&share| share > 0.0).map(|share| (share, self.moderate_shake())),
            max_side: self.max_side,
        }
    }

    /// The moderate camera shake, with this run's noise.
    pub fn moderate_shake(&self) -> ShakeOptions {
        ShakeOptions { max_noise: self.max_noise, ..ShakeOptions::moderate() }
    }

    /// Learning rate at `step`: a linear warm-up, constant, then linear decay to 0 at `steps`.
    pub fn lr_at(&self, step: usize) -> f64 {
        let start = self.decay_start.unwrap_or(self.steps / 2).min(self.steps);
        let warmup = match self.warmup {
            Some(warmup) if warmup > 0 && step < warmup => (step + 1) as f64 / warmup as f64,
            _ => 1.0,
        };
        warmup
            * if step < start || self.steps == start {
                self.lr
            } else {
                self.lr * (self.steps - step.min(self.steps)) as f64 / (self.steps - start) as f64
            }
    }
}

/// Losses of one step.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepLosses {
    /// Last critic update's Wasserstein loss `D(fake) − D(real)`.
    pub critic: f64,
    /// Last critic update's gradient penalty (unweighted).
    pub penalty: f64,
    /// Generator adversarial term `−D(fake)` (unweighted).
    pub adversarial: f64,
    /// Content term (unweighted).
    pub content: f64,
    /// Weighted generator loss.
    pub generator: f64,
}

impl StepLosses {
    /// The name and value of the first non-finite loss, if any.
    pub fn non_finite(&self) -> Option<(&'static str, f64)> {
        [
            ("critic", self.critic),
            ("gradient penalty", self.penalty),
            ("adversarial", self.adversarial),
            ("content", self.content),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_finite())
    }
}

/// Where one step's time went, in seconds (the CPU backend runs eagerly, so a phase's clock
/// covers its work; on a GPU the queue may carry work over into the next phase).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepTimes {
    /// Generator forward pass.
    pub generator_forward: f64,
    /// Every critic update: forwards, gradient penalty, backward, critic optimiser.
    pub critic: f64,
    /// Generator losses and backward pass.
    pub generator_backward: f64,
    /// The generator's optimiser step.
    pub optimiser: f64,
}

/// The networks, their optimisers and the step counter.
pub struct Trainer {
    /// Options of the run.
    pub options: TrainOptions,
    /// The generator (on the autodiff device).
    pub generator: Generator,
    /// The critic (on the autodiff device).
    pub critic: Critic,
    generator_optim: ModuleOptimizer,
    critic_optim: ModuleOptimizer,
    content: ContentLoss,
    device: Device,
    /// Generator steps done.
    pub step: usize,
    /// CPU seconds the training has used (all threads, every session of the run, validation
    /// not counted).
    pub cpu_seconds: f64,
    /// Where the last step's time went.
    pub last_times: StepTimes,
    /// The moving average of the generator's weights (on the device without autodiff), when
    /// the options ask for one.
    pub average: Option<Generator>,
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

impl Trainer {
    /// Fresh networks on `device` (autodiff is enabled here).
    pub fn new(options: TrainOptions, device: &Device) -> Result<Self> {
        let device = device.clone().autodiff();
        let content = match &options.vgg {
            Some(path) => ContentLoss::Perceptual(Box::new(Vgg16Features::load(path, &device)?)),
            None => match options.pixel_loss() {
                PixelLoss::L1 => ContentLoss::L1,
                PixelLoss::L2 => ContentLoss::L2,
                PixelLoss::Psnr => ContentLoss::Psnr,
            },
        };
        if options.ema.is_some() {
            // The average initialises the generator now (see `average::start`), not at step 0
            // after that step's seed: these draws get their own.
            device.seed(Rng::derive(options.seed, 5, 0).next_u64());
        }
        let adam = || {
            AdamConfig::new()
                .with_beta_1(options.beta1)
                .with_beta_2(options.beta2)
                .init()
        };
        let trainer = Self {
            generator: options.generator.init(&device),
            critic: options.critic.init(&device),
            generator_optim: adam(),
            critic_optim: adam(),
            content,
            device,
            step: 0,
            cpu_seconds: 0.0,
            last_times: StepTimes::default(),
            average: None,
            options,
        };
        Ok(trainer.with_fresh_average())
    }

    /// Starts the moving average (when the options ask for one) at the current weights.
    pub fn with_fresh_average(mut self) -> Self {
        self.average = self.options.ema.map(|_| average::start(&self.generator));
        self
    }

    /// The weights the run publishes, for inference: the moving average when the run keeps
    /// one, else the current weights.
    pub fn published(&self) -> Generator {
        match &self.average {
            Some(average) => average.clone(),
            None => self.generator.valid(),
        }
    }

    /// The content loss in use.
    pub fn content_loss(&self) -> &ContentLoss {
        &self.content
    }

    /// One generator step on `batch`: `critic_updates` critic updates on the same batch (the
    /// official DeblurGAN's schedule), then one generator update.
    pub fn step(&mut self, batch: &Batch) -> StepLosses {
        let o = &self.options;
        let step = self.step;
        let lr = o.lr_at(step);
        // Dropout masks and every other random draw depend on (seed, step) only. burn's random
        // generator is global to the process: exact reproduction assumes one training at a time.
        self.device.seed(Rng::derive(o.seed, 4, step as u64).next_u64());
        let mut rng = Rng::derive(o.seed, 3, step as u64);
        let mut clock = Instant::now();
        let mut lap = || {
            let seconds = clock.elapsed().as_secs_f64();
            clock = Instant::now();
            seconds
        };
        let mut times = StepTimes::default();
        let (blurred, sharp) = batch.tensors(&self.device);
        // The content loss sees the output before the final clamp (see
        // `Generator::forward_unclamped`); the critic sees what the page shows.
        let unclamped = self.generator.forward_unclamped(blurred);
        let fake = self.generator.clamp_output(unclamped.clone());
        times.generator_forward = lap();
        let mut losses = StepLosses::default();
        let adversarial = o.adversarial_weight != 0.0;
        if adversarial {
            for _ in 0..o.critic_updates {
                let wasserstein =
                    loss::critic_wasserstein(&self.critic, sharp.clone(), fake.clone().detach());
                let mut total = wasserstein.clone();
                if o.gp_weight != 0.0 {
                    let epsilon: Vec<f32> = (0..batch.size).map(|_| rng.uniform() as f32).collect();
                    let penalty = loss::gradient_penalty(
                        &self.critic,
                        sharp.clone(),
                        fake.clone().detach(),
                        &epsilon,
                        o.gp_step,
                    );
                    losses.penalty = scalar(penalty.clone().detach());
                    total = total + penalty * o.gp_weight;
                }
                losses.critic = scalar(wasserstein.detach());
                let grads = GradientsParams::from_grads(total.backward(), &self.critic);
                self.critic = self.critic_optim.step(lr, self.critic.clone(), grads);
            }
        }
        times.critic = lap();
        let content = self.content.forward(unclamped, sharp);
        let mut total = content.clone() * o.content_weight;
        losses.content = scalar(content.detach());
        if adversarial {
            let adv = loss::generator_adversarial(&self.critic, fake);
            losses.adversarial = scalar(adv.clone().detach());
            total = total + adv * o.adversarial_weight;
        }
        losses.generator = scalar(total.clone().detach());
        let grads = GradientsParams::from_grads(total.backward(), &self.generator);
        times.generator_backward = lap();
        self.generator = self.generator_optim.step(lr, self.generator.clone(), grads);
        if let (Some(decay), Some(average)) = (self.options.ema, self.average.take()) {
            let decay = average::decay_at(decay, step);
            self.average = Some(average::update(average, &self.generator.valid(), decay));
        }
        times.optimiser = lap();
        self.last_times = times;
        self.step += 1;
        losses
    }

    /// Writes a checkpoint of the current state into the run folder `run`.
    pub fn save_checkpoint(&self, run: &Path) -> Result<PathBuf> {
        let record = |bytes: std::result::Result<Bytes, _>| -> Result<Vec<u8>> {
            Ok(bytes.map_err(|e: burn::store::RecordError| anyhow::anyhow!("{e:?}"))?.to_vec())
        };
        let state = TrainState {
            step: self.step,
            options: self.options.clone(),
            cpu_seconds: Some(self.cpu_seconds),
        };
        let mut files = vec![
            // `valid()` first: it syncs BatchNorm running statistics, which a record of the
            // training module would take stale.
            ("generator.bpk", record(self.generator.valid().into_record().into_bytes())?),
            ("generator-optim.bpk", record(self.generator_optim.into_bytes())?),
            ("state.json", state.to_string().into_bytes()),
        ];
        if let Some(average) = &self.average {
            files.push((AVERAGE_FILE, record(average.clone().into_record().into_bytes())?));
        }
        // A run on the content loss alone never touches its critic: the critic and its
        // optimiser are not saved (11 MB and more), and a resumed run starts them fresh, as it
        // would have had them.
        if self.options.adversarial_weight != 0.0 {
            files.push(("critic.bpk", record(self.critic.valid().into_record().into_bytes())?));
            files.push(("critic-optim.bpk", record(self.critic_optim.into_bytes())?));
        }
        checkpoint::write(run, self.step, &files)
    }

    /// Restores a trainer from a checkpoint folder.
    pub fn load_checkpoint(dir: &Path, device: &Device) -> Result<Self> {
        let read = |name: &str| -> Result<Vec<u8>> {
            std::fs::read(dir.join(name)).with_context(|| format!("cannot read {}", dir.join(name).display()))
        };
        let state = TrainState::load_binary(&read("state.json")?)
            .map_err(|e| anyhow::anyhow!("bad state.json in {}: {e}", dir.display()))?;
        let mut trainer = Trainer::new(state.options, device)?;
        let module = |name: &str| -> Result<ModuleRecord> {
            ModuleRecord::from_bytes(Bytes::from_bytes_vec(read(name)?))
                .map_err(|e| anyhow::anyhow!("{}: {e:?}", dir.join(name).display()))
        };
        trainer.generator = trainer
            .generator
            .try_load_record(module("generator.bpk")?)
            .map_err(|e| anyhow::anyhow!("generator.bpk: {e:?}"))?;
        let optim = |optimizer: ModuleOptimizer, name: &str| -> Result<ModuleOptimizer> {
            optimizer
                .from_bytes(Bytes::from_bytes_vec(read(name)?))
                .map_err(|e| anyhow::anyhow!("{name}: {e:?}"))
        };
        trainer.generator_optim = optim(trainer.generator_optim, "generator-optim.bpk")?;
        // `new` started the average (when the options keep one): its weights are replaced here.
        if let Some(average) = trainer.average.take() {
            let loaded = average.try_load_record(module(AVERAGE_FILE)?);
            trainer.average = Some(loaded.map_err(|e| anyhow::anyhow!("{AVERAGE_FILE}: {e:?}"))?);
        }
        // Content-only checkpoints hold no critic (see `save_checkpoint`): the fresh one stays.
        if dir.join("critic.bpk").is_file() {
            trainer.critic = trainer
                .critic
                .try_load_record(module("critic.bpk")?)
                .map_err(|e| anyhow::anyhow!("critic.bpk: {e:?}"))?;
            trainer.critic_optim = optim(trainer.critic_optim, "critic-optim.bpk")?;
        }
        trainer.step = state.step;
        trainer.cpu_seconds = state.cpu_seconds.unwrap_or(0.0);
        Ok(trainer)
    }

    /// The L1 content loss of `batch` with the generator in inference mode (BatchNorm's running
    /// statistics, no dropout), as the page runs it, and of the input itself. Set beside the
    /// training-mode loss of the same batch, it shows whether training and inference agree.
    pub fn inference_l1(&self, batch: &Batch) -> (f64, f64) {
        let (blurred, sharp) = batch.tensors(&self.device.clone().inner());
        let output = self.published().forward(blurred.clone());
        let l1 = |a: Tensor<4>| scalar((a - sharp.clone()).abs().mean());
        (l1(output), l1(blurred))
    }

    /// A before/after image of the first sample of `batch`: blurred | deblurred | sharp.
    pub fn sample_image(&self, batch: &Batch) -> image::RgbImage {
        let side = batch.crop;
        let plane = 3 * side * side;
        let input = batch.tensors(&self.device).0.slice([0..1]).without_autodiff();
        let output = self.published().forward(input);
        let deblurred: Vec<f32> = output.into_data().try_to_vec::<f32>().expect("f32 output");
        let mut canvas = image::RgbImage::new(3 * side as u32, side as u32);
        for (column, values) in [&batch.blurred[..plane], &deblurred[..], &batch.sharp[..plane]]
            .into_iter()
            .enumerate()
        {
            let tile = planar_to_image(values, side, side);
            image::imageops::replace(&mut canvas, &tile, (column * side) as i64, 0);
        }
        canvas
    }
}

/// The file of a checkpoint that holds the moving average of the generator's weights.
pub const AVERAGE_FILE: &str = "generator-average.bpk";

/// The generator a checkpoint publishes alone (no critic, no optimiser state), ready for
/// inference on `device`: the moving average of its weights where the run keeps one, else its
/// weights. The checkpoint's state (options, step, CPU time) comes with it.
pub fn load_checkpoint_generator(dir: &Path, device: &Device) -> Result<(Generator, TrainState)> {
    let read = |name: &str| -> Result<Vec<u8>> {
        std::fs::read(dir.join(name)).with_context(|| format!("cannot read {}", dir.join(name).display()))
    };
    let state = TrainState::load_binary(&read("state.json")?)
        .map_err(|e| anyhow::anyhow!("bad state.json in {}: {e}", dir.display()))?;
    let file = if state.options.ema.is_some() { AVERAGE_FILE } else { "generator.bpk" };
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(read(file)?))
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", dir.join(file).display()))?;
    let generator = state
        .options
        .generator
        .init(device)
        .try_load_record(record)
        .map_err(|e| anyhow::anyhow!("{file}: {e:?}"))?;
    Ok((generator, state))
}

/// Refuses options no run can use, before anything is written.
fn check_options(options: &TrainOptions) -> Result<()> {
    if let Some(share) = options.moderate_share {
        anyhow::ensure!((0.0..=1.0).contains(&share), "the moderate shake's share must lie in [0, 1], not {share}");
    }
    if let Some(decay) = options.ema {
        anyhow::ensure!((0.0..1.0).contains(&decay), "the moving average's decay must lie in [0, 1), not {decay}");
    }
    Ok(())
}

/// A generator to start a run from: a weights file, a checkpoint folder, or a run folder (its
/// newest checkpoint). Returns it, its configuration and the CPU seconds of training behind it
/// (a checkpoint's; `None` for a weights file).
pub fn load_start_generator(path: &Path, device: &Device) -> Result<(Generator, GeneratorConfig, Option<f64>)> {
    if !path.is_dir() {
        let (generator, config) = deblurgan::weights::load_from_file(path, device)
            .with_context(|| format!("cannot load {}", path.display()))?;
        return Ok((generator, config, None));
    }
    let dir = if path.join("state.json").is_file() {
        path.to_path_buf()
    } else {
        checkpoint::latest(path)?
            .with_context(|| format!("{} holds no checkpoint", path.display()))?
            .1
    };
    let (generator, state) = load_checkpoint_generator(&dir, device)?;
    let averaged = if state.options.ema.is_some() { ", moving average of its weights" } else { "" };
    eprintln!("generator of {} (step {}{averaged})", dir.display(), state.step);
    Ok((generator, state.options.generator, state.cpu_seconds))
}

/// What a checkpoint's `state.json` holds.
#[derive(Config, Debug)]
pub struct TrainState {
    /// Generator steps done.
    pub step: usize,
    /// The run's options.
    pub options: TrainOptions,
    /// CPU seconds of training so far (`None` in checkpoints older than this field).
    pub cpu_seconds: Option<f64>,
}

/// Set by Ctrl-C: the loop saves a checkpoint and stops.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C handler (Unix): the first Ctrl-C asks for a clean stop, a second one
/// exits at once.
pub fn install_interrupt_handler() {
    #[cfg(unix)]
    {
        unsafe extern "C" {
            fn signal(signum: i32, handler: usize) -> usize;
            fn _exit(status: i32) -> !;
        }
        extern "C" fn on_interrupt(_: i32) {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                unsafe { _exit(130) };
            }
        }
        const SIGINT: i32 = 2;
        unsafe {
            signal(SIGINT, on_interrupt as extern "C" fn(i32) as usize);
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// All steps done.
    Finished,
    /// Stopped by Ctrl-C (or `stop_at`), after saving a checkpoint.
    Interrupted,
}

/// Extra controls of [`run`].
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    /// Stop (as if interrupted) once this many steps are done.
    pub stop_at: Option<usize>,
    /// No progress bar.
    pub quiet: bool,
    /// On resume, the new total of steps (to extend a run); `None` keeps the saved one.
    pub steps: Option<usize>,
    /// On resume, where the data set is now (`data`, `blurred`, `sharp`, as in
    /// [`TrainOptions`]): the same images on another machine; `None` keeps the saved paths.
    pub data: Option<(Option<PathBuf>, Option<PathBuf>, Option<PathBuf>)>,
    /// On resume, a new number of data loading threads (another machine's cores).
    pub workers: Option<usize>,
    /// On resume, where the validation photos are now (`None` keeps the saved path).
    pub validation: Option<PathBuf>,
}

/// Trains into the run folder `run` (a fresh run with `options`, or, when `resume`, the
/// continuation of the newest checkpoint there with its saved options, `options` unused).
/// Returns how it ended and the trainer.
pub fn run(
    options: TrainOptions,
    run: &Path,
    device: &Device,
    resume: bool,
    mut control: RunControl,
) -> Result<(Outcome, Trainer)> {
    let mut trainer = if resume {
        let (_, dir) = checkpoint::latest(run)?
            .with_context(|| format!("no checkpoint to resume in {}", checkpoint::folder(run).display()))?;
        let mut trainer = Trainer::load_checkpoint(&dir, device)?;
        if let Some(steps) = control.steps {
            trainer.options.steps = steps.max(trainer.step);
        }
        if let Some((data, blurred, sharp)) = control.data.take() {
            (trainer.options.data, trainer.options.blurred, trainer.options.sharp) = (data, blurred, sharp);
        }
        if let Some(workers) = control.workers {
            trainer.options.workers = workers;
        }
        if let Some(validation) = control.validation.take() {
            trainer.options.validation = Some(validation);
        }
        eprintln!("resuming {} at step {}", dir.display(), trainer.step);
        trainer
    } else {
        if let Some((step, _)) = checkpoint::latest(run)? {
            bail!(
                "{} already holds a run (checkpoint at step {step}): continue it with --resume, \
                 or train into another folder",
                run.display()
            );
        }
        check_options(&options)?;
        let mut options = options;
        let start = match &options.init_from {
            Some(path) => {
                let (generator, config, cpu_seconds) = load_start_generator(path, &device.clone().autodiff())?;
                eprintln!("starting from the generator of {} ({})", path.display(), deblurgan::weights::describe(&config));
                options.generator = config;
                Some((generator, cpu_seconds))
            }
            None => None,
        };
        std::fs::create_dir_all(run).with_context(|| format!("cannot create {}", run.display()))?;
        let mut trainer = Trainer::new(options, device)?;
        if let Some((generator, cpu_seconds)) = start {
            trainer.generator = generator;
            trainer.cpu_seconds = cpu_seconds.unwrap_or(0.0);
            trainer = trainer.with_fresh_average();
        }
        trainer
    };
    let o = trainer.options.clone();
    check_options(&o)?;
    let (layout, source) = o.source()?;
    if !control.quiet {
        eprintln!(
            "data: {layout:?}, {} images; content loss: {}; critic: {:?}",
            source.len(),
            trainer.content_loss().name(),
            o.critic.architecture
        );
    }
    let dataset = Arc::new(Dataset::new(source, o.sample_options(), o.seed));
    let mut loader = Loader::new(dataset, o.batch, trainer.step, o.workers);
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(run.join("log.jsonl"))
        .context("cannot open log.jsonl")?;
    std::fs::create_dir_all(run.join("samples"))?;
    let bar = if control.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(o.steps as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
            .expect("template"),
    );
    bar.set_position(trainer.step as u64);
    let validation = match &o.validation {
        Some(folder) => {
            let photos = layout::images_in(folder)?;
            anyhow::ensure!(!photos.is_empty(), "no images in the validation folder {}", folder.display());
            Some(ValidationSet::from_photos(
                &photos,
                o.validation_photos.unwrap_or(8),
                o.validation_crop.unwrap_or(256),
                o.max_side,
                1,
            )?)
        }
        None => None,
    };
    let mut validation_log = match validation {
        Some(_) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(run.join("validation.jsonl"))
                .context("cannot open validation.jsonl")?,
        ),
        None => None,
    };
    let started = Instant::now();
    // Training CPU time: what the run had, plus this process's since now, less validations.
    let (cpu_base, cpu_at_start) = (trainer.cpu_seconds, process_cpu_seconds());
    let mut validation_cpu = 0.0;
    let training_cpu = |validation_cpu: f64| match (cpu_at_start, process_cpu_seconds()) {
        (Some(start), Some(now)) => cpu_base + (now - start - validation_cpu).max(0.0),
        _ => cpu_base + started.elapsed().as_secs_f64(),
    };
    let validate_every = 60.0 * o.validate_minutes.unwrap_or(10.0);
    let mut last_validation = (trainer.step > 0).then_some(cpu_base);
    let mut last_checkpoint_time = Instant::now();
    // Time spent waiting for the loader threads: high means the device is starved of data.
    let mut waited = std::time::Duration::ZERO;
    let first_step = trainer.step;
    let mut last_checkpoint = trainer.step;
    loop {
        trainer.cpu_seconds = training_cpu(validation_cpu);
        if let (Some(set), Some(log)) = (&validation, validation_log.as_mut())
            && last_validation.is_none_or(|at| trainer.cpu_seconds - at >= validate_every || trainer.step == o.steps)
        {
            let before = process_cpu_seconds();
            let generator = trainer.published();
            let scores = set.measure(&generator, &o.generator, device)?;
            validation_cpu += match (before, process_cpu_seconds()) {
                (Some(a), Some(b)) => b - a,
                _ => 0.0,
            };
            writeln!(
                log,
                "{{\"step\":{},\"train_cpu_minutes\":{:.6},\"strong_blurred_psnr\":{:.4},\"strong_deblurred_psnr\":{:.4},\"strong_gain\":{:.4},\"moderate_blurred_psnr\":{:.4},\"moderate_deblurred_psnr\":{:.4},\"moderate_gain\":{:.4}}}",
                trainer.step,
                trainer.cpu_seconds / 60.0,
                scores.strong.blurred_psnr,
                scores.strong.deblurred_psnr,
                scores.strong.gain(),
                scores.moderate.blurred_psnr,
                scores.moderate.deblurred_psnr,
                scores.moderate.gain(),
            )?;
            log.flush()?;
            if !control.quiet {
                bar.println(format!(
                    "validation at step {}: gain {:+.2} dB (strong shake), {:+.2} dB (moderate)",
                    trainer.step,
                    scores.strong.gain(),
                    scores.moderate.gain()
                ));
            }
            last_validation = Some(trainer.cpu_seconds);
        }
        if trainer.step >= o.steps {
            break;
        }
        if INTERRUPTED.load(Ordering::SeqCst) || control.stop_at.is_some_and(|s| trainer.step >= s) {
            if trainer.step != last_checkpoint || checkpoint::latest(run)?.is_none() {
                trainer.save_checkpoint(run)?;
                checkpoint::prune(run, o.keep)?;
            }
            bar.abandon_with_message(format!("interrupted: checkpoint saved at step {}", trainer.step));
            return Ok((Outcome::Interrupted, trainer));
        }
        let asked = Instant::now();
        let batch = loader.next_batch()?;
        waited += asked.elapsed();
        let losses = trainer.step(&batch);
        if let Some((which, value)) = losses.non_finite() {
            bar.abandon();
            let kept = checkpoint::latest(run)?
                .map(|(step, path)| format!("the last good checkpoint is {} (step {step})", path.display()))
                .unwrap_or_else(|| "no checkpoint was written yet".into());
            bail!(
                "the {which} loss became {value} at step {}: stopping without saving; {kept}. \
                 Try a lower --lr, or resume from that checkpoint.",
                trainer.step
            );
        }
        let done = trainer.step - first_step;
        let rate = (done * o.batch) as f64 / started.elapsed().as_secs_f64().max(1e-9);
        bar.set_position(trainer.step as u64);
        bar.set_message(format!(
            "D {:.3} GP {:.3} G {:.3} content {:.4} {:.2} img/s, {:.0}% waiting for data",
            losses.critic,
            losses.penalty,
            losses.adversarial,
            losses.content,
            rate,
            100.0 * waited.as_secs_f64() / started.elapsed().as_secs_f64().max(1e-9)
        ));
        if trainer.step % o.log_every.max(1) == 0 || trainer.step == o.steps {
            let (inference_l1, input_l1) = trainer.inference_l1(&batch);
            writeln!(
                log,
                "{{\"step\":{},\"lr\":{},\"critic\":{},\"penalty\":{},\"adversarial\":{},\"content\":{},\"inference_l1\":{},\"input_l1\":{},\"generator\":{},\"images_per_second\":{:.3},\"data_wait_seconds\":{:.2},\"elapsed_seconds\":{:.1}}}",
                trainer.step,
                o.lr_at(trainer.step - 1),
                losses.critic,
                losses.penalty,
                losses.adversarial,
                losses.content,
                inference_l1,
                input_l1,
                losses.generator,
                rate,
                waited.as_secs_f64(),
                started.elapsed().as_secs_f64()
            )?;
        }
        if o.sample_every > 0 && trainer.step % o.sample_every == 0 {
            let path = run.join("samples").join(format!("step-{:08}.png", trainer.step));
            trainer.sample_image(&batch).save(&path).with_context(|| format!("cannot write {}", path.display()))?;
        }
        let due = o
            .checkpoint_minutes
            .is_some_and(|minutes| last_checkpoint_time.elapsed().as_secs_f64() >= 60.0 * minutes);
        if trainer.step % o.checkpoint_every.max(1) == 0 || trainer.step == o.steps || due {
            trainer.cpu_seconds = training_cpu(validation_cpu);
            trainer.save_checkpoint(run)?;
            checkpoint::prune(run, o.keep)?;
            last_checkpoint = trainer.step;
            last_checkpoint_time = Instant::now();
        }
    }
    bar.finish_with_message("done");
    Ok((Outcome::Finished, trainer))
}
