//! The DeblurGAN networks: the generators that deblur and the critics that judge them.
//!
//! Every module is backend-agnostic: it takes a [`burn::tensor::Device`] at construction and
//! runs wherever its tensors live (Flex on the CPU, wgpu natively, WebGPU in the browser).

mod blocks;
mod conv;
mod critic;
mod generator;
mod norm;
mod resnet;
mod unet;
pub mod zero_insertion;

pub use blocks::{
    ConvNormAct, ResnetBlock, ResnetBlockConfig, TransposedConvNormAct, Upsample, reflect_pad,
};
pub use critic::{Critic, CriticArchitecture, CriticConfig, DenseCritic, PatchCritic};
pub use generator::{Generator, GeneratorConfig, MIN_SIZE, SIZE_MULTIPLE};
pub use norm::{Norm, NormKind};
pub use resnet::{GeneratorVariant, ResnetGenerator};
pub use unet::{DecoderLevel, EncoderLevel, MAX_LEVELS, PlainResidualBlock, UNet, UNetConfig};
