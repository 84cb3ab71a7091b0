//! `bench-train`: where a training step's time goes on this machine.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use burn::tensor::Device;
use deblurgan::conv_training::{Convolutions, profile};

use crate::data::loader::{Dataset, make_batch};
use crate::train::{StepTimes, TrainOptions, Trainer};
use crate::validation::process_cpu_seconds;

/// Mean seconds per step of each phase, over the measured steps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainBench {
    /// Steps measured (after the warm-up).
    pub steps: usize,
    /// Images per batch.
    pub batch: usize,
    /// Making one batch on one thread (the loader's threads do this beside the step).
    pub data: f64,
    /// The step's phases.
    pub phases: StepTimes,
    /// Wall seconds per step (the phases and the bookkeeping between them, no data loading).
    pub step: f64,
    /// CPU seconds per wall second during the steps: cores kept busy.
    pub cores_busy: Option<f64>,
    /// Seconds per step of the CPU's training convolutions, by layer kind and phase (empty on a
    /// GPU, where they are burn's).
    pub convolutions: Vec<(String, profile::Phase, f64)>,
}

/// How a report names the way the CPU's training convolutions compute.
pub fn method_name(method: Convolutions) -> &'static str {
    match method {
        Convolutions::MatrixProducts => "matrix products",
        Convolutions::Burn => "burn's (Flex forward, default backward)",
    }
}

impl TrainBench {
    /// Images per second when data loading keeps up.
    pub fn images_per_second(&self) -> f64 {
        self.batch as f64 / self.step
    }

    /// The report printed by `bench-train`.
    pub fn report(&self, what: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{what}: {} steps measured", self.steps);
        let p = &self.phases;
        for (name, seconds) in [
            ("data (one batch, one thread)", self.data),
            ("generator forward", p.generator_forward),
            ("critic updates (with penalty)", p.critic),
            ("generator loss + backward", p.generator_backward),
            ("generator optimiser", p.optimiser),
        ] {
            let _ = writeln!(out, "  {name:<32} {seconds:>8.3} s");
        }
        let _ = writeln!(out, "  {:<32} {:>8.3} s", "step (without data)", self.step);
        if !self.convolutions.is_empty() {
            let _ = writeln!(out, "  convolutions, seconds per step:");
            let _ = write!(out, "    {:<28}", "layer kind");
            for phase in profile::Phase::ALL {
                let _ = write!(out, " {:>16}", phase.name());
            }
            let _ = writeln!(out);
            let mut kinds: Vec<&String> = self.convolutions.iter().map(|(kind, _, _)| kind).collect();
            kinds.dedup();
            let mut totals = [0.0; 4];
            for kind in kinds {
                let _ = write!(out, "    {kind:<28}");
                for (index, phase) in profile::Phase::ALL.into_iter().enumerate() {
                    let seconds = self.convolutions.iter().find(|(k, p, _)| k == kind && *p == phase).map_or(0.0, |(_, _, s)| *s);
                    totals[index] += seconds;
                    let _ = write!(out, " {seconds:>16.3}");
                }
                let _ = writeln!(out);
            }
            let _ = write!(out, "    {:<28}", "all");
            for total in totals {
                let _ = write!(out, " {total:>16.3}");
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "  {:<32} {:>8.2}", "images/second", self.images_per_second());
        match self.cores_busy {
            Some(cores) => {
                let _ = writeln!(out, "  {:<32} {cores:>8.2} of {}", "cores busy", available_cores());
            }
            None => {
                let _ = writeln!(out, "  cores busy: unknown on this system");
            }
        }
        out
    }
}

/// Cores this process may use.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `warmup` steps, then times `steps` steps of a fresh trainer with `options` on `device`
/// (batches made beforehand, so the steps measure the networks alone).
pub fn bench_train(options: TrainOptions, steps: usize, warmup: usize, device: &Device) -> Result<TrainBench> {
    let (_, source) = options.source()?;
    let dataset = Arc::new(Dataset::new(source, options.sample_options(), options.seed));
    let batch = options.batch;
    // The first batch decodes and caches the photos: not counted.
    make_batch(&dataset, 0, batch)?;
    let clock = Instant::now();
    let batches = (0..warmup + steps)
        .map(|index| make_batch(&dataset, index + 1, batch))
        .collect::<Result<Vec<_>>>()?;
    let data = clock.elapsed().as_secs_f64() / (warmup + steps).max(1) as f64;
    let mut trainer = Trainer::new(options, device)?;
    for batch in &batches[..warmup] {
        trainer.step(batch);
    }
    profile::start();
    let (clock, cpu) = (Instant::now(), process_cpu_seconds());
    let mut phases = StepTimes::default();
    for batch in &batches[warmup..] {
        trainer.step(batch);
        let t = trainer.last_times;
        phases.generator_forward += t.generator_forward;
        phases.critic += t.critic;
        phases.generator_backward += t.generator_backward;
        phases.optimiser += t.optimiser;
    }
    let wall = clock.elapsed().as_secs_f64();
    let convolutions = profile::stop()
        .into_iter()
        .map(|((kind, phase), (time, _))| (kind, phase, time.as_secs_f64() / steps.max(1) as f64))
        .collect();
    let cores_busy = match (cpu, process_cpu_seconds()) {
        (Some(a), Some(b)) if wall > 0.0 => Some((b - a) / wall),
        _ => None,
    };
    let n = steps.max(1) as f64;
    Ok(TrainBench {
        steps,
        batch,
        data,
        phases: StepTimes {
            generator_forward: phases.generator_forward / n,
            critic: phases.critic / n,
            generator_backward: phases.generator_backward / n,
            optimiser: phases.optimiser / n,
        },
        step: wall / n,
        cores_busy,
        convolutions,
    })
}
