//! VGG16's convolutional trunk up to `relu3_3` (torchvision `features[0..=15]`), the feature
//! extractor of the perceptual content loss. Weights come from the user (torchvision's
//! ImageNet `vgg16` state dict as `.pth`, or the same keys in `.safetensors`).

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::store::{ModuleSnapshot, PytorchStore, SafetensorsStore};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// ImageNet channel means and standard deviations (inputs in [0, 1]).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// See [`IMAGENET_MEAN`].
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// VGG16 up to `relu3_3`: seven 3×3 convolutions (torchvision `features.{0,2,5,7,10,12,14}`)
/// with ReLUs and two 2×2 max-pools.
#[derive(Module, Debug)]
pub struct Vgg16Features {
    /// The seven convolutions, in order.
    pub features: Vec<Conv2d>,
    /// 2×2 max-pool, stride 2.
    pub pool: MaxPool2d,
}

impl Vgg16Features {
    /// A VGG16 trunk with `widths` channels in its three stages (`[64, 128, 256]` for the real
    /// network; tests use tiny ones), randomly initialised.
    pub fn new(widths: [usize; 3], device: &Device) -> Self {
        let [a, b, c] = widths;
        let pairs = [[3, a], [a, a], [a, b], [b, b], [b, c], [c, c], [c, c]];
        let features = pairs
            .into_iter()
            .map(|channels| {
                Conv2dConfig::new(channels, [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        Self {
            features,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    /// Loads the weights of a torchvision VGG16 (`.pth`, `.pt` or `.safetensors`; keys
    /// `features.N.weight/bias`, the classifier and later layers ignored). The stage widths are
    /// read from the file, so reduced VGG-shaped networks load too. The result is frozen (no
    /// gradients for its parameters).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
        let widths = if is_safetensors {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let tensors = safetensors::SafeTensors::deserialize(&bytes)
                .with_context(|| format!("{} is not a safetensors file", path.display()))?;
            let width = |key: &str| -> Result<usize> {
                Ok(tensors.tensor(key).with_context(|| format!("{} has no '{key}'", path.display()))?.shape()[0])
            };
            [width("features.0.weight")?, width("features.5.weight")?, width("features.10.weight")?]
        } else {
            let reader = burn::store::pytorch::PytorchReader::new(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let width = |key: &str| -> Result<usize> {
                Ok(reader.get(key).with_context(|| format!("{} has no '{key}'", path.display()))?.shape()[0])
            };
            [width("features.0.weight")?, width("features.5.weight")?, width("features.10.weight")?]
        };
        let mut vgg = Self::new(widths, device);
        // Only features.0..=14 matter; torchvision numbers them with gaps (ReLUs and pools have
        // no weights): 0,2,5,7,10,12,14 become our 0..=6 (through a temporary prefix, so that no
        // renamed key is renamed twice). Later layers and the classifier stay unused.
        let renames: Vec<(String, String)> = [0, 2, 5, 7, 10, 12, 14]
            .iter()
            .enumerate()
            .rev()
            .map(|(ours, theirs)| (format!(r"^features\.{theirs}\."), format!("vgg_trunk.{ours}.")))
            .chain([(r"^vgg_trunk\.".to_string(), "features.".to_string())])
            .collect();
        let result = if is_safetensors {
            let mut store = SafetensorsStore::from_file(path).allow_partial(true);
            for (from, to) in &renames {
                store = store.with_key_remapping(from, to.as_str());
            }
            vgg.load_from(&mut store).map_err(|e| anyhow::anyhow!("{e}"))?
        } else {
            let mut store = PytorchStore::from_file(path)
                .map_indices_contiguous(false)
                .allow_partial(true);
            for (from, to) in &renames {
                store = store.with_key_remapping(from, to.as_str());
            }
            vgg.load_from(&mut store).map_err(|e| anyhow::anyhow!("{e}"))?
        };
        if !result.errors.is_empty() || !result.missing.is_empty() {
            bail!(
                "{} is not a VGG16: missing {:?}, errors {:?}",
                path.display(),
                result.missing.iter().map(|(name, _)| name).collect::<Vec<_>>(),
                result.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()
            );
        }
        Ok(vgg.no_grad())
    }

    /// Features at `relu3_3`.
    ///
    /// - input: `[batch, 3, height, width]` in [-1, 1] (the generator's range); mapped to [0, 1]
    ///   and normalised with the ImageNet statistics here
    /// - output: `[batch, widths[2], height / 4, width / 4]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let device = images.device();
        let mean = Tensor::<1>::from_floats(IMAGENET_MEAN, &device).reshape([1, 3, 1, 1]);
        let std = Tensor::<1>::from_floats(IMAGENET_STD, &device).reshape([1, 3, 1, 1]);
        let mut x = ((images + 1.0) / 2.0 - mean) / std;
        for (index, conv) in self.features.iter().enumerate() {
            x = relu(conv.forward(x));
            if index == 1 || index == 3 {
                x = self.pool.forward(x);
            }
        }
        x
    }
}
