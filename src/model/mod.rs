//! The DeblurGAN networks: the generator that deblurs and the critics that judge it.
//!
//! Every module is backend-agnostic: it takes a [`burn::tensor::Device`] at construction and
//! runs wherever its tensors live (Flex on the CPU, wgpu natively, WebGPU in the browser).

mod blocks;
mod critic;
mod generator;
mod norm;

pub use blocks::{
    ConvNormAct, ResnetBlock, ResnetBlockConfig, TransposedConvNormAct, Upsample, reflect_pad,
};
pub use critic::{Critic, CriticArchitecture, CriticConfig, DenseCritic, PatchCritic};
pub use generator::{Generator, GeneratorConfig, GeneratorVariant, MIN_SIZE, SIZE_MULTIPLE};
pub use norm::{Norm, NormKind};
