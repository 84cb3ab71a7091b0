//! Where the convolutions' training time goes: time per layer kind and phase, summed while a
//! profile is on (`bench-train` turns it on; training runs leave it off and pay nothing).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A phase of a convolution's work in a training step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// The forward pass.
    Forward,
    /// The gradient of the input.
    InputGradient,
    /// The gradient of the weight.
    WeightGradient,
    /// The gradient of the bias.
    BiasGradient,
}

impl Phase {
    /// Every phase, in the order of a report.
    pub const ALL: [Phase; 4] = [Phase::Forward, Phase::InputGradient, Phase::WeightGradient, Phase::BiasGradient];

    /// The phase's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Forward => "forward",
            Phase::InputGradient => "input gradient",
            Phase::WeightGradient => "weight gradient",
            Phase::BiasGradient => "bias gradient",
        }
    }
}

static ON: AtomicBool = AtomicBool::new(false);
static TIMES: Mutex<BTreeMap<(String, Phase), (Duration, usize)>> = Mutex::new(BTreeMap::new());

/// Starts a profile (forgetting the times summed so far).
pub fn start() {
    TIMES.lock().unwrap_or_else(|e| e.into_inner()).clear();
    ON.store(true, Ordering::SeqCst);
}

/// Stops the profile and returns its sums: (layer kind, phase) → (time, calls).
pub fn stop() -> BTreeMap<(String, Phase), (Duration, usize)> {
    ON.store(false, Ordering::SeqCst);
    std::mem::take(&mut *TIMES.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Runs `work`, adding its time to `kind`'s `phase` while a profile is on.
pub(crate) fn timed<T>(kind: impl FnOnce() -> String, phase: Phase, work: impl FnOnce() -> T) -> T {
    if !ON.load(Ordering::Relaxed) {
        return work();
    }
    let clock = Instant::now();
    let output = work();
    let elapsed = clock.elapsed();
    let mut times = TIMES.lock().unwrap_or_else(|e| e.into_inner());
    let entry = times.entry((kind(), phase)).or_default();
    entry.0 += elapsed;
    entry.1 += 1;
    output
}
