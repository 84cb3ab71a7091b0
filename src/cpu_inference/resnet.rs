//! The DeblurGAN ResNet generator on the CPU engine: stem, two stride-2 stages, residual blocks
//! (reflection padded), two nearest ×2 upsamplings each followed by a 3×3 convolution (computed
//! as four 2×2 convolutions of the small map), a 7×7 head and the `tanh` residual output.

use super::{
    BlockConvs, Conv, Epilogue, FeatureMap, Folded, NarrowConv, Unsupported, band_rows, fold, fold_conv, for_each_band, run,
};
use super::pool::BufferPool;
use crate::model::{GeneratorVariant, Norm, ResnetGenerator, Upsample};
use burn::nn::conv::Conv2d;

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

/// The ResNet generator compiled for the CPU (see the module's documentation).
#[derive(Debug, Clone)]
pub struct CpuResnet {
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

impl CpuResnet {
    /// Compiles the ResNet `generator`, its blocks computed as `block_convs` says (directly where
    /// Winograd does not [apply](super::winograd::Winograd::applies)).
    pub fn compile(generator: &ResnetGenerator, block_convs: BlockConvs) -> Result<Self, Unsupported> {
        let block_conv = |conv: &Conv2d, norm: &Norm| Ok(super::block_conv(fold("residual block", conv, Some(norm), 3, 1, 0)?, block_convs));
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

    /// Layers [`CpuResnet::forward_yielding`] reports after.
    pub fn layers(&self) -> usize {
        6 + 2 * self.blocks.len()
    }

    /// [`CpuGenerator::forward_yielding`] for the ResNet.
    pub async fn forward_yielding(
        &self,
        input: &[f32],
        width: usize,
        height: usize,
        mut after_layer: impl AsyncFnMut(usize) -> bool,
    ) -> Option<Vec<f32>> {
        let mut layers_done = 0;
        let c = self.stem.cout;
        let pool = &self.pool;
        let map = |height, width, channels, pad| FeatureMap::in_buffer(pool.zeros(FeatureMap::len(height, width, channels, pad)), height, width, channels, pad);
        let mut image = map(height, width, 3, 3);
        image.fill_from_planar(input);
        // Each map is made with the border its reader needs: zeros for the zero-padded
        // convolutions (down, up), a mirror for the reflection-padded ones (blocks, head).
        let mut full = map(height, width, c, 1);
        run(&[(&self.stem, [0, 0], [0, 0])], 1, &image, &mut full, Epilogue::Relu { skip: None });
        pool.give(image.data);
        layer_done!(layers_done, after_layer);
        let mut half = map(height / 2, width / 2, 2 * c, 1);
        run(&[(&self.down1, [0, 0], [0, 0])], 1, &full, &mut half, Epilogue::Relu { skip: None });
        let full_skip = if self.skips { Some(full) } else { pool.give(full.data); None };
        layer_done!(layers_done, after_layer);
        let mut x = map(height / 4, width / 4, 4 * c, 1);
        run(&[(&self.down2, [0, 0], [0, 0])], 1, &half, &mut x, Epilogue::Relu { skip: None });
        let half_skip = if self.skips { Some(half) } else { pool.give(half.data); None };
        layer_done!(layers_done, after_layer);
        if !self.blocks.is_empty() {
            x.reflect_border();
            let mut y = map(height / 4, width / 4, 4 * c, 1);
            for [conv1, conv2] in &self.blocks {
                run(&[(conv1, [0, 0], [0, 0])], 1, &x, &mut y, Epilogue::Relu { skip: None });
                y.reflect_border();
                layer_done!(layers_done, after_layer);
                run(&[(conv2, [0, 0], [0, 0])], 1, &y, &mut x, Epilogue::AddInPlace);
                x.reflect_border();
                layer_done!(layers_done, after_layer);
            }
            x.zero_border();
            pool.give(y.data);
        }
        let mut up = map(height / 2, width / 2, 2 * c, 1);
        self.up1.run(&x, &mut up, half_skip.as_ref());
        pool.give(x.data);
        half_skip.into_iter().for_each(|map| pool.give(map.data));
        layer_done!(layers_done, after_layer);
        let mut up2 = map(height, width, c, 3);
        self.up2.run(&up, &mut up2, full_skip.as_ref());
        pool.give(up.data);
        full_skip.into_iter().for_each(|map| pool.give(map.data));
        layer_done!(layers_done, after_layer);
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
        layer_done!(layers_done, after_layer);
        Some(output)
    }
}

impl SubpixelConv {
    /// `output` (twice `input`'s size) = ReLU(upsample-conv(`input`)) (+ `skip`). `input`'s
    /// border must be zeros.
    fn run(&self, input: &FeatureMap, output: &mut FeatureMap, skip: Option<&FeatureMap>) {
        let [p00, p01, p10, p11] = &self.phases;
        // Each phase reads the small map where its kernel's taps fall and writes its own pixels.
        run(&[(p00, [0, 0], [0, 0]), (p01, [0, 1], [0, 1]), (p10, [1, 0], [1, 0]), (p11, [1, 1], [1, 1])], 2, input, output, Epilogue::Relu { skip });
    }
}
