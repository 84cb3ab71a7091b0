//! An exponential moving average of the generator's weights (Polyak averaging), the weights a
//! run publishes when it keeps one.
//!
//! With batches of 4 on the CPU, each optimiser step moves the weights by a noisy estimate of
//! the gradient: the weights of any one step carry that noise, which shows as a small residual
//! added to photos that need no change. Their running average over the last few hundred steps
//! keeps the direction the steps agree on and cancels most of the rest.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;
use deblurgan::model::Generator;

/// The decay used for update number `updates` (0-based) of an average asked to decay by
/// `decay`: `decay · (1 − decayⁿ) / (1 − decayⁿ⁺¹)`, the bias correction that makes the
/// average after `n + 1` updates the exponentially weighted mean of exactly those `n + 1`
/// weights (weights `decayᵏ`, normalised), with nothing of where the average started. Early on
/// it is close to the plain mean of all the steps so far; after many more than `1 / (1 − decay)`
/// updates, the decay is `decay`.
pub fn decay_at(decay: f64, updates: usize) -> f64 {
    let power = decay.powi(updates as i32);
    decay * (1.0 - power) / (1.0 - power * decay)
}

/// A new average equal to `generator`'s weights (on the device without autodiff).
///
/// burn initialises parameters lazily, on their first use: the generator's are initialised here
/// first, or the average would draw its own random start instead of copying the generator's.
pub fn start(generator: &Generator) -> Generator {
    generator.visit(&mut Collect(Vec::new()));
    generator.valid()
}

/// `average ← decay · average + (1 − decay) · current`, parameter by parameter.
///
/// `average` and `current` must be the same architecture (the same parameters in the same
/// order); `current` is usually the trained generator's `valid()`.
pub fn update(average: Generator, current: &Generator, decay: f64) -> Generator {
    let mut collect = Collect(Vec::new());
    current.visit(&mut collect);
    let mut blend = Blend { current: collect.0.into_iter(), decay };
    let averaged = average.map(&mut blend);
    assert!(blend.current.next().is_none(), "the average has fewer parameters than the generator");
    averaged
}

/// Gathers the float parameters of a module, flattened, in visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().reshape([-1]));
    }
}

/// Blends each float parameter with the next gathered one.
struct Blend {
    current: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let current = self.current.next().expect("the average has more parameters than the generator");
        let decay = self.decay;
        param.map(|average| {
            let shape = average.dims();
            average * decay + current.reshape(shape) * (1.0 - decay)
        })
    }
}
