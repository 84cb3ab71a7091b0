//! The generator compiled for inference on the CPU: what `deblur --device cpu` and the page's
//! CPU path run instead of burn Flex's layer-by-layer forward pass, which spends half its time
//! outside the matrix products (each convolution converts to channels-last and copies an
//! im2col matrix; each reflection pad, BatchNorm and ReLU is a pass of its own; see
//! docs/benchmarks.md). Here the feature maps stay channels-last from the first layer to the
//! last, every convolution reads its input in place ([`conv`]), BatchNorm is folded into the
//! convolution before it, bias, ReLU, skip and residual additions are applied as each band of
//! rows leaves the matrix product, and borders are mirrored in place. Nearest ×2 upsampling
//! followed by a 3×3 convolution is computed as four 2×2 convolutions of the small map, one per
//! output pixel phase (4/9 of the multiply-adds). In the page's wasm the residual blocks'
//! 3×3 convolutions run by Winograd's F(6×6, 3×3) ([`winograd`], a fifth of their
//! multiply-adds); natively gemm computes them directly ([`BlockConvs`]). Bands of output rows
//! run on all cores.
//!
//! It computes the same function as [`Generator::forward`] (to rounding, 1e-4 in the tests) for
//! the generators with nearest-neighbour upsampling and BatchNorm or no normalisation (every
//! configuration but the official one); [`CpuGenerator::compile`] refuses the others, which
//! then run on burn.

mod conv;
mod feature_map;
mod lanes;
mod narrow_conv;
// The page's convolution kernel, compiled natively for its tests only (natively gemm runs).
#[cfg(any(target_arch = "wasm32", test))]
mod packed_conv;
mod pool;
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
use pool::BufferPool;

use crate::model::{Generator, GeneratorVariant, MIN_SIZE, Norm, SIZE_MULTIPLE, Upsample};

/// Why a generator cannot run on the CPU engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the CPU engine does not run {0}")]
pub struct Unsupported(String);

/// How the head's `tanh` residual meets the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// `(tanh + input) / 2` (the Keras DeblurGAN).
    Halved,
    /// `clamp(input + tanh, -1, 1)` (the residual variants).
    Clamped,
}

/// Nearest-neighbour ×2 upsampling then a 3×3 convolution with zero padding 1, as four 2×2
/// convolutions of the small map: output pixel (2i + py, 2j + px) sees the small map's rows
/// i - 1 + py, i + py and columns j - 1 + px, j + px, with the 3×3 kernel's taps summed where
/// they fall on the same small pixel. (The four as 3×3 kernels over one Winograd transform of
/// the small map, 9 multiply-adds against 16, made the page's CPU path slower: see
/// docs/benchmarks.md, 2026-12-03.)
#[derive(Debug, Clone)]
struct SubpixelConv {
    /// Indexed by `2 py + px`.
    phases: [Conv; 4],
}

/// The generator compiled for the CPU (see the module's documentation).
#[derive(Debug, Clone)]
pub struct CpuGenerator {
    stem: Conv,
    down1: Conv,
    down2: Conv,
    blocks: Vec<[Conv; 2]>,
    up1: SubpixelConv,
    up2: SubpixelConv,
    head: NarrowConv<3>,
    output: Output,
    skips: bool,
    /// The maps' buffers between layers and between calls.
    pool: BufferPool,
}

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

/// [`fold`], ready to run.
fn fold_conv(name: &str, conv: &Conv2d, norm: Option<&Norm>, kernel: usize, stride: usize, padding: usize) -> Result<Conv, Unsupported> {
    let Folded { weight, shape, bias } = fold(name, conv, norm, kernel, stride, padding)?;
    Ok(Conv::new(&weight, shape, bias, stride))
}

/// The four phase kernels of a nearest ×2 upsampling followed by `conv` (3×3, stride 1,
/// zero padding 1, normalisation folded in).
fn subpixel(name: &str, upsample: &Upsample) -> Result<SubpixelConv, Unsupported> {
    let Upsample::NearestConv(block) = upsample else {
        return Err(Unsupported(format!("transposed-convolution upsampling ({name}, the official generator)")));
    };
    let Folded { weight, shape: [cout, cin, _, _], bias } = fold(name, &block.conv, Some(&block.norm), 3, 1, 1)?;
    // Phase 0 along an axis: small pixel i - 1 gets tap 0, pixel i taps 1 and 2; phase 1:
    // pixel i taps 0 and 1, pixel i + 1 tap 2.
    let taps: [[&[usize]; 2]; 2] = [[&[0], &[1, 2]], [&[0, 1], &[2]]];
    let phase = |py: usize, px: usize| {
        let mut kernel = vec![0.0; cout * cin * 4];
        for co in 0..cout {
            for ci in 0..cin {
                for ty in 0..2 {
                    for tx in 0..2 {
                        let sum: f32 = taps[py][ty]
                            .iter()
                            .flat_map(|&ky| taps[px][tx].iter().map(move |&kx| (ky, kx)))
                            .map(|(ky, kx)| weight[((co * cin + ci) * 3 + ky) * 3 + kx])
                            .sum();
                        kernel[((co * cin + ci) * 2 + ty) * 2 + tx] = sum;
                    }
                }
            }
        }
        Conv::new(&kernel, [cout, cin, 2, 2], bias.clone(), 1)
    };
    Ok(SubpixelConv { phases: [phase(0, 0), phase(0, 1), phase(1, 0), phase(1, 1)] })
}

impl CpuGenerator {
    /// Compiles `generator` (its weights are read once: later changes to it are not seen), its
    /// blocks computed as [`BlockConvs::FOR_THIS_TARGET`].
    pub fn compile(generator: &Generator) -> Result<Self, Unsupported> {
        Self::compile_with(generator, BlockConvs::FOR_THIS_TARGET)
    }

    /// [`CpuGenerator::compile`], the residual blocks' convolutions computed as `block_convs`
    /// says (directly where Winograd does not [apply](winograd::Winograd::applies)).
    pub fn compile_with(generator: &Generator, block_convs: BlockConvs) -> Result<Self, Unsupported> {
        let block_conv = |conv: &Conv2d, norm: &Norm| {
            let Folded { weight, shape, bias } = fold("residual block", conv, Some(norm), 3, 1, 0)?;
            Ok(match block_convs {
                BlockConvs::Winograd if winograd::Winograd::applies(shape, 1) => Conv::winograd(&weight, shape, bias),
                _ => Conv::new(&weight, shape, bias, 1),
            })
        };
        let output = match generator.variant {
            GeneratorVariant::Keras => Output::Halved,
            GeneratorVariant::Residual | GeneratorVariant::Official => Output::Clamped,
        };
        let blocks = generator
            .blocks
            .iter()
            .map(|block| {
                Ok([block_conv(&block.conv1, &block.norm1)?, block_conv(&block.conv2, &block.norm2)?])
            })
            .collect::<Result<_, Unsupported>>()?;
        Ok(Self {
            stem: fold_conv("stem", &generator.stem.conv, Some(&generator.stem.norm), 7, 1, 0)?,
            down1: fold_conv("first downsampling", &generator.down1.conv, Some(&generator.down1.norm), 3, 2, 1)?,
            down2: fold_conv("second downsampling", &generator.down2.conv, Some(&generator.down2.norm), 3, 2, 1)?,
            blocks,
            up1: subpixel("first upsampling", &generator.up1)?,
            up2: subpixel("second upsampling", &generator.up2)?,
            head: {
                let Folded { weight, shape, bias } = fold("head", &generator.head, None, 7, 1, 0)?;
                NarrowConv::new(&weight, shape, &bias)
            },
            output,
            skips: generator.skips,
            pool: BufferPool::default(),
        })
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
        6 + 2 * self.blocks.len()
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
        mut after_layer: impl AsyncFnMut(usize) -> bool,
    ) -> Option<Vec<f32>> {
        assert!(
            width % SIZE_MULTIPLE == 0 && height % SIZE_MULTIPLE == 0 && width >= MIN_SIZE && height >= MIN_SIZE,
            "the generator takes sides that are multiples of {SIZE_MULTIPLE} of at least {MIN_SIZE}, not {width}×{height}"
        );
        let mut layers_done = 0;
        macro_rules! layer_done {
            () => {
                layers_done += 1;
                if !after_layer(layers_done).await {
                    return None;
                }
            };
        }
        let c = self.stem.cout;
        let pool = &self.pool;
        let map = |height, width, channels, pad| FeatureMap::in_buffer(pool.zeros(FeatureMap::len(height, width, channels, pad)), height, width, channels, pad);
        let mut image = map(height, width, 3, 3);
        image.fill_from_planar(input);
        // Each map is made with the border its reader needs: zeros for the zero-padded
        // convolutions (down, up), a mirror for the reflection-padded ones (blocks, head).
        let mut full = map(height, width, c, 1);
        run(&[(&self.stem, [0, 0])], 1, &image, &mut full, Epilogue::Relu { skip: None });
        pool.give(image.data);
        layer_done!();
        let mut half = map(height / 2, width / 2, 2 * c, 1);
        run(&[(&self.down1, [0, 0])], 1, &full, &mut half, Epilogue::Relu { skip: None });
        let full_skip = if self.skips { Some(full) } else { pool.give(full.data); None };
        layer_done!();
        let mut x = map(height / 4, width / 4, 4 * c, 1);
        run(&[(&self.down2, [0, 0])], 1, &half, &mut x, Epilogue::Relu { skip: None });
        let half_skip = if self.skips { Some(half) } else { pool.give(half.data); None };
        layer_done!();
        if !self.blocks.is_empty() {
            x.reflect_border();
            let mut y = map(height / 4, width / 4, 4 * c, 1);
            for [conv1, conv2] in &self.blocks {
                run(&[(conv1, [0, 0])], 1, &x, &mut y, Epilogue::Relu { skip: None });
                y.reflect_border();
                layer_done!();
                run(&[(conv2, [0, 0])], 1, &y, &mut x, Epilogue::AddInPlace);
                x.reflect_border();
                layer_done!();
            }
            x.zero_border();
            pool.give(y.data);
        }
        let mut up = map(height / 2, width / 2, 2 * c, 1);
        self.up1.run(&x, &mut up, half_skip.as_ref());
        pool.give(x.data);
        half_skip.into_iter().for_each(|map| pool.give(map.data));
        layer_done!();
        let mut up2 = map(height, width, c, 3);
        self.up2.run(&up, &mut up2, full_skip.as_ref());
        pool.give(up.data);
        full_skip.into_iter().for_each(|map| pool.give(map.data));
        layer_done!();
        up2.reflect_border();
        let mut residual = pool.zeros(height * width * 3);
        let band_rows = band_rows(height, width);
        for_each_band(&mut residual, band_rows * width * 3, |index, band| {
            let first = index * band_rows;
            self.head.compute(&up2, first..(first + band_rows).min(height), width, band);
            band.iter_mut().for_each(|value| *value = value.tanh());
        });
        pool.give(up2.data);
        let plane = width * height;
        let mut output = vec![0.0; 3 * plane];
        for (pixel, residual) in residual.chunks_exact(3).enumerate() {
            for (channel, &residual) in residual.iter().enumerate() {
                let at = channel * plane + pixel;
                output[at] = match self.output {
                    Output::Halved => (residual + input[at]) / 2.0,
                    Output::Clamped => (input[at] + residual).clamp(-1.0, 1.0),
                };
            }
        }
        pool.give(residual);
        layer_done!();
        Some(output)
    }
}

impl SubpixelConv {
    /// `output` (twice `input`'s size) = ReLU(upsample-conv(`input`)) (+ `skip`). `input`'s
    /// border must be zeros.
    fn run(&self, input: &FeatureMap, output: &mut FeatureMap, skip: Option<&FeatureMap>) {
        let [p00, p01, p10, p11] = &self.phases;
        run(&[(p00, [0, 0]), (p01, [0, 1]), (p10, [1, 0]), (p11, [1, 1])], 2, input, output, Epilogue::Relu { skip });
    }
}

/// What happens to a convolution's output (bias added) as it is written.
#[derive(Clone, Copy)]
enum Epilogue<'a> {
    /// `ReLU(value)`, plus `skip`'s pixel when there is a skip connection.
    Relu { skip: Option<&'a FeatureMap> },
    /// Added to what the output map holds (a residual block's second convolution, written
    /// over the block's input).
    AddInPlace,
}

/// Runs a convolution over `input` into `output`, band by band on all cores. `phases` are the
/// convolutions and their offsets in `input`; with `step` 2 (upsampling), phase `[py, px]`
/// writes the output pixels (2 row + py, 2 x + px); with `step` 1 there is one phase.
fn run(phases: &[(&Conv, [usize; 2])], step: usize, input: &FeatureMap, output: &mut FeatureMap, epilogue: Epilogue) {
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
            for &(conv, offset) in phases {
                let [py, px] = if step == 1 { [0, 0] } else { offset };
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
