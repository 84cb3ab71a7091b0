//! Clipping a gradient by its global norm (PyTorch's `clip_grad_norm_`): the gradients of all
//! parameters together are scaled down to a largest norm, which keeps their direction. burn's
//! own clipping (`GradientClippingConfig::Norm`) clips each parameter's gradient on its own,
//! which changes the direction.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Scales every gradient of `module`'s parameters in `grads` by `max_norm / ‖g‖` where the norm
/// ‖g‖ of all of them together exceeds `max_norm`. Returns ‖g‖ before clipping.
pub fn clip_global_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let mut squares = SumSquares { grads, total: None };
    module.visit(&mut squares);
    let Some(total) = squares.total else {
        return 0.0;
    };
    let norm = (total.into_scalar::<f32>() as f64).sqrt();
    if norm > max_norm {
        module.visit(&mut Scale { grads, factor: max_norm / (norm + 1e-6) });
    }
    norm
}

/// Sums the squares of the gradients of the parameters visited.
struct SumSquares<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SumSquares<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            let squares = grad.powi_scalar(2).sum();
            self.total = Some(match self.total.take() {
                Some(total) => total + squares,
                None => squares,
            });
        }
    }
}

/// Multiplies the gradients of the parameters visited by `factor`.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, grad * self.factor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;

    fn gradient_of(linear: &Linear, device: &Device) -> GradientsParams {
        let input = Tensor::<2>::ones([1, 2], device);
        let loss = linear.forward(input).sum() * 10.0;
        GradientsParams::from_grads(loss.backward(), linear)
    }

    fn norm_of(linear: &Linear, grads: &GradientsParams) -> f64 {
        let mut squares = SumSquares { grads, total: None };
        linear.visit(&mut squares);
        (squares.total.expect("gradients").into_scalar::<f32>() as f64).sqrt()
    }

    #[test]
    fn a_gradient_above_the_norm_is_scaled_to_it_and_keeps_its_direction() {
        let device = Device::flex().autodiff();
        let linear = LinearConfig::new(2, 3).init(&device);
        let mut grads = gradient_of(&linear, &device);
        let before = grads.get::<2>(linear.weight.id).expect("weight gradient");
        // d(10 Σ (x W + b))/dW = 10 for every entry (x = 1), and 10 for every bias entry: the
        // norm of 9 values of 10 is 30.
        let norm = clip_global_norm(&linear, &mut grads, 3.0);
        assert!((norm - 30.0).abs() < 1e-3, "norm {norm}");
        assert!((norm_of(&linear, &grads) - 3.0).abs() < 1e-3);
        let after = grads.get::<2>(linear.weight.id).expect("weight gradient");
        let ratio: Vec<f32> = (after / before).into_data().try_to_vec::<f32>().expect("f32");
        assert!(ratio.iter().all(|r| (r - 0.1).abs() < 1e-5), "{ratio:?}");
    }

    #[test]
    fn a_gradient_within_the_norm_is_left_alone() {
        let device = Device::flex().autodiff();
        let linear = LinearConfig::new(2, 3).init(&device);
        let mut grads = gradient_of(&linear, &device);
        assert!((clip_global_norm(&linear, &mut grads, 100.0) - 30.0).abs() < 1e-3);
        assert!((norm_of(&linear, &grads) - 30.0).abs() < 1e-3);
    }
}
