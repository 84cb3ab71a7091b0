//! The training loop: WGAN-GP critic updates, generator updates with content + adversarial
//! losses, Adam with warm-up and decay, logs, validation, checkpoints, exact resume. The options
//! are [`options`]'s, one step and the checkpoints [`trainer`]'s.

mod options;
mod trainer;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};

pub use options::{LrSchedule, TrainOptions};
pub use trainer::{
    AVERAGE_FILE, StepLosses, StepTimes, Trainer, TrainState, load_checkpoint_generator, load_start_generator,
};

use crate::checkpoint;
use crate::loss::PixelLoss;
use crate::data::layout;
use crate::data::loader::{Dataset, Loader};
use crate::validation::{ValidationSet, process_cpu_seconds};
use options::check_options;
use burn::tensor::Device;

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
    /// On resume, where the learning rate's decay starts now (with `steps`: a cosine restarted
    /// from the resumed step once the curve flattens); `None` keeps the saved one.
    pub decay_start: Option<usize>,
    /// On resume, where the validation photos are now (`None` keeps the saved path).
    pub validation: Option<PathBuf>,
    /// On resume, the pixel loss from the resumed step on (a design change within a run: the
    /// weights and the optimiser's state are kept); `None` keeps the saved one.
    pub pixel_loss: Option<PixelLoss>,
    /// On resume, the weight of the PSNR term from the resumed step on; `None` keeps the saved one.
    pub psnr_weight: Option<f64>,
    /// On resume, the share of crops blurred by the moderate shake from the resumed step on (a
    /// change of the data within a run); `None` keeps the saved one.
    pub moderate_share: Option<f64>,
    /// On resume, the share of crops left sharp from the resumed step on (a change of the data
    /// within a run); `None` keeps the saved one.
    pub sharp_share: Option<f64>,
    /// On resume, the moving average's decay from the resumed step on: a run without an average
    /// starts one at the resumed weights; `None` keeps the saved choice.
    pub ema: Option<f64>,
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
        if let Some(start) = control.decay_start {
            trainer.options.decay_start = Some(start);
        }
        if let Some(validation) = control.validation.take() {
            trainer.options.validation = Some(validation);
        }
        if let Some(loss) = control.pixel_loss {
            trainer.set_pixel_loss(loss)?;
        }
        if let Some(weight) = control.psnr_weight {
            options::check_psnr_weight(weight)?;
            trainer.options.psnr_weight = Some(weight);
        }
        if let Some(share) = control.moderate_share {
            trainer.options.moderate_share = Some(share);
        }
        if let Some(share) = control.sharp_share {
            trainer.options.sharp_share = Some(share);
        }
        if let Some(decay) = control.ema {
            options::check_ema(decay)?;
            let fresh = trainer.options.ema.is_none();
            trainer.options.ema = Some(decay);
            if fresh {
                trainer = trainer.with_fresh_average();
            }
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
                "{{\"step\":{},\"lr\":{},\"critic\":{},\"penalty\":{},\"adversarial\":{},\"content\":{},\"inference_l1\":{},\"input_l1\":{},\"generator\":{},\"gradient_norm\":{:.5},\"images_per_second\":{:.3},\"data_wait_seconds\":{:.2},\"elapsed_seconds\":{:.1}}}",
                trainer.step,
                o.lr_at(trainer.step - 1),
                losses.critic,
                losses.penalty,
                losses.adversarial,
                losses.content,
                inference_l1,
                input_l1,
                losses.generator,
                losses.gradient_norm,
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
