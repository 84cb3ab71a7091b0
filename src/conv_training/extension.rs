//! The convolutions as a backend extension: on Flex with autodiff they run forward as matrix
//! products ([`conv2d_forward`]) and record a backward step whose weight gradient is
//! [`conv2d_weight_gradient`]'s, and whose input gradient is [`conv2d_forward`] again where the
//! convolution has stride 1 or is transposed (burn's transposed convolution on Flex otherwise).
//! The bias gradient is burn's sum. Without autodiff these are Flex's own.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ConvOptions, ConvTransposeOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, TensorData};

use super::profile::{Phase, timed};
use super::forward::{conv2d_forward, flipped_transposed};
use super::im2col::ConvGeometry;
use super::weight_gradient::conv2d_weight_gradient;
use super::{Convolutions, convolutions};

/// Convolutions whose training pass computes the weight gradient as matrix products.
#[backend_extension(Flex, Autodiff)]
pub trait ConvTraining: Backend {
    /// burn's `conv2d` (groups 1).
    ///
    /// - `x`: `[batch, channels_in, height, width]`
    /// - `weight`: `[channels_out, channels_in, kh, kw]`, `bias`: `[channels_out]`
    /// - output: `[batch, channels_out, height_out, width_out]`
    fn conv2d_training(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// burn's `conv_transpose2d` (groups 1).
    ///
    /// - `x`: `[batch, channels_in, height, width]`
    /// - `weight`: `[channels_in, channels_out, kh, kw]`, `bias`: `[channels_out]`
    /// - output: `[batch, channels_out, height_out, width_out]`
    fn conv_transpose2d_training(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self>;
}

impl ConvTraining for Flex {
    fn conv2d_training(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        Flex::conv2d(x, weight, Some(bias), options)
    }

    fn conv_transpose2d_training(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        Flex::conv_transpose2d(x, weight, Some(bias), options)
    }
}

/// `[a, b, c, d]` of a 4-dimensional tensor.
fn dims4(tensor: &FlexTensor) -> [usize; 4] {
    tensor.shape().dims()
}

/// [`conv2d_weight_gradient`] on Flex tensors (f32), shaped `weight_shape`.
fn weight_gradient(input: &FlexTensor, grad: &FlexTensor, weight_shape: [usize; 4], geometry: ConvGeometry) -> FlexTensor {
    let (input, grad) = (input.to_contiguous(), grad.to_contiguous());
    let values = conv2d_weight_gradient(input.storage::<f32>(), dims4(&input), grad.storage::<f32>(), dims4(&grad), geometry);
    FlexTensor::from_data(TensorData::new(values, weight_shape))
}

/// [`conv2d_forward`] on Flex tensors (f32): `x` by `weight` (shaped `weight_shape` as the
/// convolution reads it), to an output of `output_size`.
fn forward(x: &FlexTensor, weight: &[f32], weight_shape: [usize; 4], bias: Option<&FlexTensor>, geometry: ConvGeometry, output_size: [usize; 2]) -> FlexTensor {
    let x = x.to_contiguous();
    let bias = bias.map(FlexTensor::to_contiguous);
    let values = conv2d_forward(x.storage::<f32>(), dims4(&x), weight, weight_shape, bias.as_ref().map(|b| b.storage::<f32>()), geometry, output_size);
    let [batch, ..] = dims4(&x);
    FlexTensor::from_data(TensorData::new(values, [batch, weight_shape[0], output_size[0], output_size[1]]))
}

/// The weight's values (f32, row-major).
fn weight_values(weight: &FlexTensor) -> Vec<f32> {
    weight.to_contiguous().storage::<f32>().to_vec()
}

/// Whether the matrix products apply: f32 tensors, one group, and no request for burn's.
fn matrix_products_apply(x: &FlexTensor, groups: usize) -> bool {
    groups == 1 && x.dtype() == DType::F32 && convolutions() == Convolutions::MatrixProducts
}

/// Which convolution a backward step differentiates.
#[derive(Debug, Clone)]
enum Layer {
    /// `conv2d` with these options.
    Conv(ConvOptions<2>),
    /// `conv_transpose2d` with these options.
    Transposed(ConvTransposeOptions<2>),
}

impl Layer {
    /// The layer's kind in a profile, e.g. "3×3 stride 2" or "2×2 stride 2 transposed".
    fn kind(&self, weight_shape: [usize; 4]) -> String {
        let [_, _, kh, kw] = weight_shape;
        match self {
            Layer::Conv(options) => format!("{kh}×{kw} stride {}", options.stride[0]),
            Layer::Transposed(options) => format!("{kh}×{kw} stride {} transposed", options.stride[0]),
        }
    }

    fn forward(&self, x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        match self {
            Layer::Conv(options) if matrix_products_apply(&x, options.groups) => {
                let shape = dims4(&weight);
                let [_, _, height, width] = dims4(&x);
                let output_size = [0, 1].map(|axis| {
                    let size = [height, width][axis] + options.padding_begin()[axis] + options.padding_end()[axis];
                    (size - options.dilation[axis] * (shape[2 + axis] - 1) - 1) / options.stride[axis] + 1
                });
                let geometry = ConvGeometry {
                    kernel: [shape[2], shape[3]],
                    stride: options.stride,
                    padding: options.padding_begin(),
                    dilation: options.dilation,
                };
                forward(&x, &weight_values(&weight), shape, Some(&bias), geometry, output_size)
            }
            Layer::Conv(options) => Flex::conv2d(x, weight, Some(bias), options.clone()),
            Layer::Transposed(options) => Flex::conv_transpose2d(x, weight, Some(bias), options.clone()),
        }
    }

    fn timed_forward(&self, x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let shape = dims4(&weight);
        timed(|| self.kind(shape), Phase::Forward, || self.forward(x, weight, bias))
    }

    fn input_gradient(&self, x: FlexTensor, weight: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let shape = dims4(&weight);
        let [_, _, height, width] = dims4(&x);
        let kernel = [shape[2], shape[3]];
        match self {
            // Stride 1: the convolution of the output's gradient by the weight turned half a
            // turn, channels swapped, padded by the kernel's reach less the padding.
            Layer::Conv(options)
                if matrix_products_apply(&x, options.groups)
                    && options.stride == [1, 1]
                    && options.dilation == [1, 1]
                    && (0..2).all(|axis| options.padding_begin()[axis] < kernel[axis] && options.padding_end()[axis] < kernel[axis]) =>
            {
                let begin = options.padding_begin();
                let geometry = ConvGeometry {
                    kernel,
                    stride: [1, 1],
                    padding: [kernel[0] - 1 - begin[0], kernel[1] - 1 - begin[1]],
                    dilation: [1, 1],
                };
                let flipped = flipped_transposed(&weight_values(&weight), shape);
                forward(&grad, &flipped, [shape[1], shape[0], kernel[0], kernel[1]], None, geometry, [height, width])
            }
            // Transposed: the convolution of the output's gradient by the same weight read as
            // `[out, in, kh, kw]`.
            Layer::Transposed(options) if matrix_products_apply(&x, options.groups) => {
                let geometry = ConvGeometry { kernel, stride: options.stride, padding: options.padding, dilation: options.dilation };
                forward(&grad, &weight_values(&weight), shape, None, geometry, [height, width])
            }
            Layer::Conv(options) => Flex::conv2d_x_backward(x, weight, grad, options.clone()),
            Layer::Transposed(options) => Flex::conv_transpose2d_x_backward(weight, grad, options.clone()),
        }
    }

    fn weight_gradient(&self, x: FlexTensor, weight: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let shape = dims4(&weight);
        let kernel = [shape[2], shape[3]];
        match self {
            Layer::Conv(options) if matrix_products_apply(&x, options.groups) => {
                let geometry =
                    ConvGeometry { kernel, stride: options.stride, padding: options.padding_begin(), dilation: options.dilation };
                weight_gradient(&x, &grad, shape, geometry)
            }
            Layer::Conv(options) => Flex::conv2d_weight_backward(x, weight, grad, options.clone()),
            // The transposed convolution is the adjoint of the convolution of its output (as
            // input) by the same weight read as `[out, in, kh, kw]`: its weight gradient is that
            // convolution's, with the output's gradient as the input and `x` as the gradient.
            Layer::Transposed(options) if matrix_products_apply(&x, options.groups) => {
                let geometry = ConvGeometry { kernel, stride: options.stride, padding: options.padding, dilation: options.dilation };
                weight_gradient(&grad, &x, shape, geometry)
            }
            Layer::Transposed(options) => Flex::conv_transpose2d_weight_backward(x, weight, grad, options.clone()),
        }
    }

    fn bias_gradient(&self, x: FlexTensor, bias: FlexTensor, grad: FlexTensor) -> FlexTensor {
        match self {
            Layer::Conv(_) => Flex::conv2d_bias_backward(x, bias, grad),
            Layer::Transposed(_) => Flex::conv_transpose2d_bias_backward(x, bias, grad),
        }
    }
}

/// The input's and the weight's gradients, each where its node is tracked.
fn register_input_and_weight(
    layer: &Layer,
    [node_x, node_weight]: [Option<NodeId>; 2],
    x: &FlexTensor,
    weight: &FlexTensor,
    grad: &FlexTensor,
    grads: &mut Gradients,
) {
    let kind = || layer.kind(dims4(weight));
    if let Some(node) = node_x {
        let dx = timed(kind, Phase::InputGradient, || layer.input_gradient(x.clone(), weight.clone(), grad.clone()));
        grads.register::<Flex>(node, dx);
    }
    if let Some(node) = node_weight {
        let dw = timed(kind, Phase::WeightGradient, || layer.weight_gradient(x.clone(), weight.clone(), grad.clone()));
        grads.register::<Flex>(node, dw);
    }
}

/// The backward step of a convolution (its bias a constant zero where the layer has none).
#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = (NodeId, NodeId, NodeId, Layer);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x_state, weight_state, bias_state, layer) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(weight_state);
        let bias = checkpointer.retrieve_node_output::<FlexTensor>(bias_state);
        register_input_and_weight(&layer, [node_x.map(|n| n.id), node_weight.map(|n| n.id)], &x, &weight, &grad, grads);
        if let Some(node) = node_bias {
            let kind = || layer.kind(dims4(&weight));
            grads.register::<Flex>(node.id, timed(kind, Phase::BiasGradient, || layer.bias_gradient(x, bias, grad)));
        }
    }
}

type AutodiffFloat<C> = FloatTensor<Autodiff<Flex, C>>;

/// Runs `layer` forward and, where an input is tracked, records its backward step.
fn record<C: CheckpointStrategy>(x: AutodiffFloat<C>, weight: AutodiffFloat<C>, bias: AutodiffFloat<C>, layer: Layer) -> AutodiffFloat<C> {
    match ConvBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
        OpsKind::Tracked(mut prep) => {
            let state = (prep.checkpoint(&x), prep.checkpoint(&weight), prep.checkpoint(&bias), layer.clone());
            prep.finish(state, layer.timed_forward(x.into_primitive(), weight.into_primitive(), bias.into_primitive()))
        }
        OpsKind::UnTracked(prep) => prep.finish(layer.timed_forward(x.into_primitive(), weight.into_primitive(), bias.into_primitive())),
    }
}

impl<C: CheckpointStrategy> ConvTraining for Autodiff<Flex, C> {
    fn conv2d_training(
        x: AutodiffFloat<C>,
        weight: AutodiffFloat<C>,
        bias: AutodiffFloat<C>,
        options: ConvOptions<2>,
    ) -> AutodiffFloat<C> {
        record::<C>(x, weight, bias, Layer::Conv(options))
    }

    fn conv_transpose2d_training(
        x: AutodiffFloat<C>,
        weight: AutodiffFloat<C>,
        bias: AutodiffFloat<C>,
        options: ConvTransposeOptions<2>,
    ) -> AutodiffFloat<C> {
        record::<C>(x, weight, bias, Layer::Transposed(options))
    }
}
