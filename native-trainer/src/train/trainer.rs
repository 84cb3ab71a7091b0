//! The networks, their optimisers and one training step: critic updates, the generator's
//! update, the moving average; checkpoints written and read back exactly.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use burn::config::Config;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};
use deblurgan::convert::planar_to_image;
use deblurgan::model::{Critic, Generator, GeneratorConfig};

use super::options::TrainOptions;
use crate::average;
use crate::checkpoint;
use crate::clip;
use crate::data::loader::Batch;
use crate::loss::{self, ContentLoss, PixelLoss};
use crate::rng::Rng;
use crate::vgg::Vgg16Features;

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
    /// Norm of the generator's gradient before clipping (0 where the run does not clip).
    pub gradient_norm: f64,
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
            None => ContentLoss::pixel(options.pixel_loss()),
        };
        if options.ema.is_some() {
            // The average initialises the generator now (see `average::start`), not at step 0
            // after that step's seed: these draws get their own.
            device.seed(Rng::derive(options.seed, 5, 0).next_u64());
        }
        let adam = || {
            let adam = AdamConfig::new().with_beta_1(options.beta1).with_beta_2(options.beta2);
            match options.epsilon {
                Some(epsilon) => adam.with_epsilon(epsilon as f32),
                None => adam,
            }
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

    /// Trains on the pixel loss `loss` from now on (a run on the perceptual loss refuses).
    pub fn set_pixel_loss(&mut self, loss: PixelLoss) -> Result<()> {
        anyhow::ensure!(
            self.options.vgg.is_none(),
            "this run trains on the perceptual (VGG) loss: a pixel loss cannot replace it on resume"
        );
        self.options.pixel_loss = Some(loss);
        self.options.content_l2 = None;
        self.content = ContentLoss::pixel(loss);
        Ok(())
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
        let mut content = self.content.forward(unclamped.clone(), sharp.clone());
        if let Some(weight) = o.psnr_weight.filter(|w| *w != 0.0) {
            content = content + ContentLoss::Psnr.forward(unclamped, sharp) * weight;
        }
        let mut total = content.clone() * o.content_weight;
        losses.content = scalar(content.detach());
        if adversarial {
            let adv = loss::generator_adversarial(&self.critic, fake);
            losses.adversarial = scalar(adv.clone().detach());
            total = total + adv * o.adversarial_weight;
        }
        losses.generator = scalar(total.clone().detach());
        let mut grads = GradientsParams::from_grads(total.backward(), &self.generator);
        if let Some(max_norm) = o.grad_clip {
            losses.gradient_norm = clip::clip_global_norm(&self.generator, &mut grads, max_norm);
        }
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
