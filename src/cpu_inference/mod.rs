//! The generators compiled for inference on the CPU: what `deblur --device cpu` and the page's
//! CPU path run instead of burn Flex's layer-by-layer forward pass, which spends half its time
//! outside the matrix products (each convolution converts to channels-last and copies an
//! im2col matrix; each reflection pad, BatchNorm and ReLU is a pass of its own; see
//! docs/benchmarks.md). Here the feature maps stay channels-last from the first layer to the
//! last, every convolution reads its input in place ([`conv`]), BatchNorm is folded into the
//! convolution before it, bias, ReLU, skip and residual additions are applied as each band of
//! rows leaves the matrix product, and borders are zeros or mirrored in place. Upsamplings are
//! computed per output pixel phase from the small map: the U-Net's 2×2 stride-2 transposed
//! convolution as four 1×1 products ([`unet`]), the ResNet's nearest ×2 then 3×3 convolution as
//! four 2×2 convolutions (4/9 of the multiply-adds, [`resnet`]). In the page's wasm the 3×3
//! stride-1 convolutions of the residual blocks run by Winograd's F(6×6, 3×3) ([`winograd`], a
//! fifth of their multiply-adds); natively gemm computes them directly ([`BlockConvs`]). Bands
//! of output rows run on all cores.
//!
//! It computes the same function as [`Generator::forward`] (to rounding, 1e-4 in the tests) for
//! the U-Net and for the ResNet generators with nearest-neighbour upsampling and BatchNorm or no
//! normalisation (every configuration but the official one); [`CpuGenerator::compile`] refuses
//! the others, which then run on burn.

/// Counts a layer done and awaits `after_layer(layers done)`, returning `None` from the pass
/// where it answers `false` (a cancel).
macro_rules! layer_done {
    ($layers_done:ident, $after_layer:ident) => {
        $layers_done += 1;
        if !$after_layer($layers_done).await {
            return None;
        }
    };
}

mod conv;
mod feature_map;
mod lanes;
mod narrow_conv;
// The page's convolution kernel, compiled natively for its tests only (natively gemm runs).
#[cfg(any(target_arch = "wasm32", test))]
mod packed_conv;
mod pool;
mod resnet;
mod unet;
mod winograd;

use std::cell::RefCell;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

pub use conv::Conv;
pub use feature_map::FeatureMap;
pub use narrow_conv::NarrowConv;
pub use resnet::CpuResnet;
pub use unet::CpuUNet;

use crate::model::{Generator, MIN_SIZE, Norm, SIZE_MULTIPLE};

/// Why a generator cannot run on the CPU engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the CPU engine does not run {0}")]
pub struct Unsupported(String);

/// Output pixels a band's matrix product aims at: large enough for gemm's blocking, small
/// enough that a map's rows split into several bands for the cores.
const BAND_PIXELS: usize = 4096;

thread_local! {
    /// Each thread's band result, kept between bands and photos (no fresh allocation per band).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

fn values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, Unsupported> {
    tensor
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|error| Unsupported(format!("weights that cannot be read as f32: {error:?}")))
}

/// A convolution's kernel `[cout, cin, kh, kw]` (burn's layout, flattened) and bias, with its
/// normalisation folded in.
struct Folded {
    weight: Vec<f32>,
    shape: [usize; 4],
    bias: Vec<f32>,
}

/// `conv` with `norm` folded in, after checking it is the layer the generator builds.
fn fold(name: &str, conv: &Conv2d, norm: Option<&Norm>, kernel: usize, stride: usize, padding: usize) -> Result<Folded, Unsupported> {
    let conv_padding = match conv.padding {
        PaddingConfig2d::Valid => Some(0),
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == left && left == bottom && bottom == right => Some(top),
        _ => None,
    };
    if conv.kernel_size != [kernel; 2]
        || conv.stride != [stride; 2]
        || conv.dilation != [1, 1]
        || conv.groups != 1
        || conv_padding != Some(padding)
    {
        return Err(Unsupported(format!(
            "the {name} convolution as configured (kernel {:?}, stride {:?}, dilation {:?}, groups {}, padding {:?})",
            conv.kernel_size, conv.stride, conv.dilation, conv.groups, conv.padding
        )));
    }
    let shape = conv.weight.dims();
    let [cout, cin, kh, kw] = shape;
    let mut weight = values(conv.weight.val())?;
    let mut bias = match &conv.bias {
        Some(bias) => values(bias.val())?,
        None => vec![0.0; cout],
    };
    match norm {
        None | Some(Norm::None(_)) => {}
        Some(Norm::Batch(norm)) => {
            let gamma = values(norm.gamma.val())?;
            let beta = values(norm.beta.val())?;
            let mean = values(norm.running_mean.value())?;
            let var = values(norm.running_var.value())?;
            let per_channel = cin * kh * kw;
            for co in 0..cout {
                let scale = gamma[co] / (var[co] + norm.epsilon as f32).sqrt();
                weight[co * per_channel..(co + 1) * per_channel].iter_mut().for_each(|w| *w *= scale);
                bias[co] = (bias[co] - mean[co]) * scale + beta[co];
            }
        }
        Some(Norm::Instance(_)) => return Err(Unsupported("InstanceNorm (the official generator)".into())),
    }
    Ok(Folded { weight, shape, bias })
}

/// How the residual blocks' 3×3 convolutions are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockConvs {
    /// Directly: gemm natively, `packed_conv`'s kernel in the wasm.
    Direct,
    /// By [`winograd`]'s F(6×6, 3×3) transform: a fifth of the multiply-adds, where the
    /// channels come in fours.
    Winograd,
}

impl BlockConvs {
    /// What [`CpuGenerator::compile`] takes: Winograd in the wasm, where SIMD128's four lanes
    /// make the multiply-adds the cost; direct natively, where Winograd with gemm's AVX-512 kernel
    /// on the small products of a tile chunk was slower at 256² and about a tenth faster at
    /// 1280×720, inside the machine's swings (docs/benchmarks.md, 2026-12-03).
    pub const FOR_THIS_TARGET: Self = if cfg!(target_arch = "wasm32") { Self::Winograd } else { Self::Direct };
}

/// A generator compiled for the CPU (see the module's documentation).
#[derive(Debug, Clone)]
pub enum CpuGenerator {
    /// The DeblurGAN ResNet.
    ResNet(CpuResnet),
    /// The U-Net.
    UNet(CpuUNet),
}

impl CpuGenerator {
    /// Compiles `generator` (its weights are read once: later changes to it are not seen), its
    /// blocks computed as [`BlockConvs::FOR_THIS_TARGET`].
    pub fn compile(generator: &Generator) -> Result<Self, Unsupported> {
        Self::compile_with(generator, BlockConvs::FOR_THIS_TARGET)
    }

    /// [`CpuGenerator::compile`], the 3×3 stride-1 convolutions of the residual blocks computed
    /// as `block_convs` says (directly where Winograd does not
    /// [apply](winograd::Winograd::applies)).
    pub fn compile_with(generator: &Generator, block_convs: BlockConvs) -> Result<Self, Unsupported> {
        match generator {
            Generator::ResNet(generator) => CpuResnet::compile(generator, block_convs).map(Self::ResNet),
            Generator::UNet(unet) => CpuUNet::compile(unet, block_convs).map(Self::UNet),
        }
    }

    /// Deblurs one image, as [`Generator::forward`] does.
    ///
    /// - input: `[3, height, width]` flattened, in [-1, 1]; height and width multiples of
    ///   [`SIZE_MULTIPLE`] and at least [`MIN_SIZE`]
    /// - output: `[3, height, width]` flattened, in [-1, 1]
    pub fn forward(&self, input: &[f32], width: usize, height: usize) -> Vec<f32> {
        let mut pass = pin!(self.forward_yielding(input, width, height, async |_| true));
        match pass.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output.expect("a pass that is never cancelled"),
            Poll::Pending => unreachable!("the pass awaits nothing but its callback, which is ready at once"),
        }
    }

    /// Layers [`CpuGenerator::forward_yielding`] reports after.
    pub fn layers(&self) -> usize {
        match self {
            Self::ResNet(generator) => generator.layers(),
            Self::UNet(unet) => unet.layers(),
        }
    }

    /// [`CpuGenerator::forward`], awaiting `after_layer(layers_done)` after each of the
    /// [`CpuGenerator::layers`] layers, so that a caller can report progress and let a Cancel
    /// arrive (the page's worker yields to its event loop there). `None` when `after_layer`
    /// answered `false`.
    pub async fn forward_yielding(
        &self,
        input: &[f32],
        width: usize,
        height: usize,
        after_layer: impl AsyncFnMut(usize) -> bool,
    ) -> Option<Vec<f32>> {
        assert!(
            width % SIZE_MULTIPLE == 0 && height % SIZE_MULTIPLE == 0 && width >= MIN_SIZE && height >= MIN_SIZE,
            "the generator takes sides that are multiples of {SIZE_MULTIPLE} of at least {MIN_SIZE}, not {width}×{height}"
        );
        match self {
            Self::ResNet(generator) => generator.forward_yielding(input, width, height, after_layer).await,
            Self::UNet(unet) => unet.forward_yielding(input, width, height, after_layer).await,
        }
    }
}

/// A residual block's 3×3 stride-1 convolution, folded, computed as `block_convs` says (directly
/// where Winograd does not [apply](winograd::Winograd::applies)).
fn block_conv(Folded { weight, shape, bias }: Folded, block_convs: BlockConvs) -> Conv {
    match block_convs {
        BlockConvs::Winograd if winograd::Winograd::applies(shape, 1) => Conv::winograd(&weight, shape, bias),
        _ => Conv::new(&weight, shape, bias, 1),
    }
}

/// [`fold`], ready to run.
fn fold_conv(name: &str, conv: &Conv2d, norm: Option<&Norm>, kernel: usize, stride: usize, padding: usize) -> Result<Conv, Unsupported> {
    let Folded { weight, shape, bias } = fold(name, conv, norm, kernel, stride, padding)?;
    Ok(Conv::new(&weight, shape, bias, stride))
}

/// What happens to a convolution's output (bias added) as it is written.
#[derive(Clone, Copy)]
enum Epilogue<'a> {
    /// `ReLU(value)`, plus `skip`'s pixel when there is a skip connection.
    Relu { skip: Option<&'a FeatureMap> },
    /// Added to what the output map holds (a residual block's second convolution, written
    /// over the block's input).
    AddInPlace,
    /// The value as it is (the U-Net's stem).
    Linear,
}

/// Runs a convolution over `input` into `output`, band by band on all cores. `phases` are the
/// convolutions, their offsets in `input` and the output phases they write; with `step` 2
/// (upsampling), phase `[py, px]`
/// writes the output pixels (2 row + py, 2 x + px); with `step` 1 there is one phase.
fn run(phases: &[(&Conv, [usize; 2], [usize; 2])], step: usize, input: &FeatureMap, output: &mut FeatureMap, epilogue: Epilogue) {
    let (rows, width) = (output.height / step, output.width / step);
    let conv = phases[0].0;
    let [kh, kw] = conv.kernel;
    let expected = |padded: usize, kernel: usize| (padded - kernel) / conv.stride + 1;
    if step == 1 {
        assert_eq!(
            (rows, width),
            (expected(input.height + 2 * input.pad, kh), expected(input.width + 2 * input.pad, kw)),
            "output size"
        );
    } else {
        assert_eq!((rows, width, input.pad), (input.height, input.width, 1), "upsampling sizes");
    }
    let (pad, pitch, channels) = (output.pad, output.pitch(), output.channels);
    assert_eq!(channels, conv.cout, "output channels");
    if let Epilogue::Relu { skip: Some(skip) } = epilogue {
        assert_eq!((skip.height, skip.width, skip.channels), (output.height, output.width, channels), "skip size");
    }
    // Bands end where Winograd's tiles end.
    let band_rows = band_rows(rows, width).next_multiple_of(conv.row_multiple());
    for_each_band(output.image_rows_mut(), band_rows * step * pitch * channels, |band_index, band_out| {
        let first = band_index * band_rows;
        let band = first..(first + band_rows).min(rows);
        SCRATCH.with_borrow_mut(|scratch| {
            for &(conv, offset, phase) in phases {
                let [py, px] = if step == 1 { [0, 0] } else { phase };
                let values = conv.compute(input, offset, band.clone(), width, scratch);
                for (i, row) in band.clone().enumerate() {
                    let out_row = step * row + py;
                    for x in 0..width {
                        let out_x = step * x + px;
                        let at = ((out_row - step * first) * pitch + pad + out_x) * channels;
                        let pixel = &mut band_out[at..at + channels];
                        match epilogue {
                            Epilogue::Relu { skip } => {
                                for ((out, value), bias) in pixel.iter_mut().zip(values.pixel(i, x)).zip(&conv.bias) {
                                    *out = relu(value + bias);
                                }
                                if let Some(skip) = skip {
                                    let from = skip.index(out_row, out_x);
                                    pixel.iter_mut().zip(&skip.data[from..from + channels]).for_each(|(out, skip)| *out += skip);
                                }
                            }
                            Epilogue::AddInPlace => {
                                for ((out, value), bias) in pixel.iter_mut().zip(values.pixel(i, x)).zip(&conv.bias) {
                                    *out += value + bias;
                                }
                            }
                            Epilogue::Linear => {
                                for ((out, value), bias) in pixel.iter_mut().zip(values.pixel(i, x)).zip(&conv.bias) {
                                    *out = value + bias;
                                }
                            }
                        }
                    }
                }
            }
        });
    });
}

/// `max(value, 0)`, written as a comparison: `f32::max` (NaN-aware) is a call of `fmaxf` in
/// wasm, where this is a vector compare and select.
#[inline(always)]
fn relu(value: f32) -> f32 {
    if value > 0.0 { value } else { 0.0 }
}

/// Rows per band for a map of `rows` rows of `width` pixels: about [`BAND_PIXELS`] pixels,
/// and at least two bands per core where there are rows enough.
fn band_rows(rows: usize, width: usize) -> usize {
    let by_size = (BAND_PIXELS / width).max(1);
    let by_count = rows.div_ceil(2 * threads());
    by_size.min(by_count).max(1)
}

/// Threads the bands share: rayon's pool natively, and in the page's threaded wasm (its Web
/// Workers, started by `initThreadPool`); one in the wasm without threads.
#[cfg(any(not(target_arch = "wasm32"), feature = "wasm-threads"))]
fn threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(all(target_arch = "wasm32", not(feature = "wasm-threads")))]
fn threads() -> usize {
    1
}

/// Calls `work(index, chunk)` for each `chunk_len` values of `data`: on all cores natively and
/// in the threaded wasm, one after the other in the wasm without threads.
fn for_each_band(data: &mut [f32], chunk_len: usize, work: impl Fn(usize, &mut [f32]) + Sync + Send) {
    #[cfg(any(not(target_arch = "wasm32"), feature = "wasm-threads"))]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk_len).enumerate().for_each(|(index, chunk)| work(index, chunk));
    }
    #[cfg(all(target_arch = "wasm32", not(feature = "wasm-threads")))]
    data.chunks_mut(chunk_len).enumerate().for_each(|(index, chunk)| work(index, chunk));
}
