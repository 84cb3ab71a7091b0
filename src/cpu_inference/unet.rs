//! The U-Net generator on the CPU engine. Every map has a border of one pixel of zeros (the U-Net's
//! convolutions are zero padded), which the convolutions read in place; a level's features stay
//! in their map until the decoder adds them. The 2×2 stride-2 transposed convolution is four 1×1
//! products of the small map, one per output pixel phase, its ReLU and the skip's addition
//! applied as each band is written.

use burn::nn::conv::ConvTranspose2d;

use super::pool::BufferPool;
use super::{
    BlockConvs, Conv, Epilogue, FeatureMap, Folded, NarrowConv, Unsupported, band_rows, fold, fold_conv, for_each_band, run,
    values,
};
use crate::model::{PlainResidualBlock, UNet};

/// A level on the way down: its residual blocks, then the stride-2 convolution.
#[derive(Debug, Clone)]
struct EncoderLevel {
    blocks: Vec<[Conv; 2]>,
    down: Conv,
}

/// A level on the way up: the transposed convolution's four phases (indexed by `2 py + px`),
/// then its residual blocks.
#[derive(Debug, Clone)]
struct DecoderLevel {
    up: [Conv; 4],
    blocks: Vec<[Conv; 2]>,
}

/// The U-Net compiled for the CPU (see the module's documentation).
#[derive(Debug, Clone)]
pub struct CpuUNet {
    stem: Conv,
    encoder: Vec<EncoderLevel>,
    bottom: Vec<[Conv; 2]>,
    decoder: Vec<DecoderLevel>,
    head: NarrowConv<3>,
    /// The maps' buffers between layers and between calls.
    pool: BufferPool,
}

/// The four 1×1 phase products of a 2×2 stride-2 transposed convolution: output pixel
/// (2i + py, 2j + px) is `bias + Σ_ci input(i, j, ci) · weight[ci, co, py, px]`.
fn transposed_phases(name: &str, conv: &ConvTranspose2d) -> Result<[Conv; 4], Unsupported> {
    if conv.kernel_size != [2, 2]
        || conv.stride != [2, 2]
        || conv.padding != [0, 0]
        || conv.padding_out != [0, 0]
        || conv.dilation != [1, 1]
        || conv.groups != 1
    {
        return Err(Unsupported(format!(
            "the {name} transposed convolution as configured (kernel {:?}, stride {:?}, padding {:?})",
            conv.kernel_size, conv.stride, conv.padding
        )));
    }
    let [cin, cout, _, _] = conv.weight.dims();
    let weight = values(conv.weight.val())?;
    let bias = match &conv.bias {
        Some(bias) => values(bias.val())?,
        None => vec![0.0; cout],
    };
    let phase = |py: usize, px: usize| {
        let mut kernel = vec![0.0; cout * cin];
        for co in 0..cout {
            for ci in 0..cin {
                kernel[co * cin + ci] = weight[((ci * cout + co) * 2 + py) * 2 + px];
            }
        }
        Conv::new(&kernel, [cout, cin, 1, 1], bias.clone(), 1)
    };
    Ok([phase(0, 0), phase(0, 1), phase(1, 0), phase(1, 1)])
}

impl CpuUNet {
    /// Compiles `unet`, the 3×3 stride-1 convolutions of its blocks computed as `block_convs`
    /// says (directly where Winograd does not [apply](super::winograd::Winograd::applies)).
    pub fn compile(unet: &UNet, block_convs: BlockConvs) -> Result<Self, Unsupported> {
        let block_conv = |conv: &burn::nn::conv::Conv2d| -> Result<Conv, Unsupported> {
            Ok(super::block_conv(fold("residual block", conv, None, 3, 1, 1)?, block_convs))
        };
        let blocks = |blocks: &[PlainResidualBlock]| -> Result<Vec<[Conv; 2]>, Unsupported> {
            blocks.iter().map(|block| Ok([block_conv(&block.conv1)?, block_conv(&block.conv2)?])).collect()
        };
        let encoder = unet
            .encoder
            .iter()
            .map(|level| {
                Ok(EncoderLevel { blocks: blocks(&level.blocks)?, down: fold_conv("downsampling", &level.down, None, 3, 2, 1)? })
            })
            .collect::<Result<_, Unsupported>>()?;
        let decoder = unet
            .decoder
            .iter()
            .map(|level| Ok(DecoderLevel { up: transposed_phases("upsampling", &level.up)?, blocks: blocks(&level.blocks)? }))
            .collect::<Result<_, Unsupported>>()?;
        let Folded { weight, shape, bias } = fold("head", &unet.head, None, 3, 1, 1)?;
        Ok(Self {
            stem: fold_conv("stem", &unet.stem, None, 3, 1, 1)?,
            encoder,
            bottom: blocks(&unet.bottom)?,
            decoder,
            head: NarrowConv::new(&weight, shape, &bias),
            pool: BufferPool::default(),
        })
    }

    /// Layers [`CpuUNet::forward_yielding`] reports after: each convolution, the head included.
    pub fn layers(&self) -> usize {
        let blocks = |blocks: &[[Conv; 2]]| 2 * blocks.len();
        1 + self.encoder.iter().map(|level| blocks(&level.blocks) + 1).sum::<usize>()
            + blocks(&self.bottom)
            + self.decoder.iter().map(|level| 1 + blocks(&level.blocks)).sum::<usize>()
            + 1
    }

    /// [`super::CpuGenerator::forward_yielding`] for the U-Net.
    pub async fn forward_yielding(
        &self,
        input: &[f32],
        width: usize,
        height: usize,
        mut after_layer: impl AsyncFnMut(usize) -> bool,
    ) -> Option<Vec<f32>> {
        let mut layers_done = 0;
        let pool = &self.pool;
        // Every map has a border of one pixel of zeros: the zero padding its readers need.
        let map = |height, width, channels| FeatureMap::in_buffer(pool.zeros(FeatureMap::len(height, width, channels, 1)), height, width, channels, 1);
        // Residual blocks in place on `x`, through one scratch map.
        macro_rules! blocks {
            ($blocks:expr, $x:ident) => {
                if !$blocks.is_empty() {
                    let mut y = map($x.height, $x.width, $x.channels);
                    for [conv1, conv2] in $blocks.iter() {
                        run(&[(conv1, [0, 0], [0, 0])], 1, &$x, &mut y, Epilogue::Relu { skip: None });
                        layer_done!(layers_done, after_layer);
                        run(&[(conv2, [0, 0], [0, 0])], 1, &y, &mut $x, Epilogue::AddInPlace);
                        layer_done!(layers_done, after_layer);
                    }
                    pool.give(y.data);
                }
            };
        }
        let mut image = map(height, width, 3);
        image.fill_from_planar(input);
        image.zero_border();
        let mut x = map(height, width, self.stem.cout);
        run(&[(&self.stem, [0, 0], [0, 0])], 1, &image, &mut x, Epilogue::Linear);
        pool.give(image.data);
        layer_done!(layers_done, after_layer);
        let mut kept = Vec::with_capacity(self.encoder.len());
        for level in &self.encoder {
            blocks!(level.blocks, x);
            let mut next = map(x.height / 2, x.width / 2, level.down.cout);
            run(&[(&level.down, [0, 0], [0, 0])], 1, &x, &mut next, Epilogue::Relu { skip: None });
            layer_done!(layers_done, after_layer);
            kept.push(std::mem::replace(&mut x, next));
        }
        blocks!(self.bottom, x);
        for level in self.decoder.iter().rev() {
            let skip = kept.pop().expect("a kept map per level");
            let mut up = map(skip.height, skip.width, skip.channels);
            // Each phase reads the small map's own pixel (past its border) and writes its pixels.
            let [p00, p01, p10, p11] = &level.up;
            let phases = [(p00, [1, 1], [0, 0]), (p01, [1, 1], [0, 1]), (p10, [1, 1], [1, 0]), (p11, [1, 1], [1, 1])];
            run(&phases, 2, &x, &mut up, Epilogue::Relu { skip: Some(&skip) });
            pool.give(std::mem::replace(&mut x, up).data);
            pool.give(skip.data);
            layer_done!(layers_done, after_layer);
            blocks!(level.blocks, x);
        }
        let mut correction = pool.zeros(height * width * 3);
        let band_rows = band_rows(height, width);
        for_each_band(&mut correction, band_rows * width * 3, |index, band| {
            let first = index * band_rows;
            self.head.compute(&x, first..(first + band_rows).min(height), width, band);
        });
        pool.give(x.data);
        let plane = width * height;
        let mut output = vec![0.0; 3 * plane];
        for (pixel, correction) in correction.chunks_exact(3).enumerate() {
            for (channel, &correction) in correction.iter().enumerate() {
                let at = channel * plane + pixel;
                output[at] = (input[at] + correction).clamp(-1.0, 1.0);
            }
        }
        pool.give(correction);
        layer_done!(layers_done, after_layer);
        Some(output)
    }
}
