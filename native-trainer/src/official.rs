//! Importing a generator of the official PyTorch DeblurGAN (`latest_net_G.pth`, a
//! `ResnetGenerator` state dict) into this project's generator.
//!
//! Official layout (`nn.Sequential` named `model`, `n` residual blocks):
//!
//! | official key | ours |
//! |---|---|
//! | `model.1` Conv 7×7 (after ReflectionPad 3) | `stem.conv` |
//! | `model.4`, `model.7` Conv 3×3 stride 2 | `down1.conv`, `down2.conv` |
//! | `model.{10+i}.conv_block.1` / `.6` (`.5` without dropout) | `blocks.i.conv1` / `conv2` |
//! | `model.{10+n}`, `model.{13+n}` ConvTranspose2d | `up1`, `up2` (`Upsample::Transposed`) |
//! | `model.{17+n}` Conv 7×7 → 3 | `head` |
//!
//! InstanceNorm without affine parameters has no weights, so only convolutions are read.
//! PyTorch's ConvTranspose2d weight layout `[in, out, k, k]` is burn's too. A `module.` prefix
//! (DataParallel) is removed.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::store::pytorch::PytorchReader;
use burn::store::{ModuleSnapshot, PytorchStore};
use burn::tensor::Device;
use deblurgan::model::{Generator, GeneratorConfig};

/// Reads an official DeblurGAN generator checkpoint; its width, block count and dropout are
/// inferred from the keys.
pub fn import_official(path: &Path, device: &Device) -> Result<(Generator, GeneratorConfig)> {
    let reader = PytorchReader::new(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let keys: Vec<String> = reader.keys();
    let prefix = if keys.iter().all(|k| k.starts_with("module.")) { "module." } else { "" };
    let shape = |key: &str| -> Result<Vec<usize>> {
        Ok(reader
            .get(&format!("{prefix}{key}"))
            .with_context(|| format!("{} has no '{key}': not an official DeblurGAN generator", path.display()))?
            .shape()
            .to_vec())
    };
    let stem = shape("model.1.weight")?;
    if stem.len() != 4 || stem[1] != 3 || stem[2] != 7 {
        bail!("'model.1.weight' is {stem:?}, not the official stem convolution [ngf, 3, 7, 7]");
    }
    let ngf = stem[0];
    let blocks: BTreeSet<usize> = keys
        .iter()
        .filter_map(|k| k.strip_prefix(prefix)?.strip_prefix("model.")?.split_once(".conv_block.")?.0.parse().ok())
        .collect();
    let n = blocks.len();
    if n == 0 || blocks.iter().copied().ne(10..10 + n) {
        bail!("residual blocks at model.{blocks:?}, expected model.10 onwards");
    }
    let dropout = reader.get(&format!("{prefix}model.10.conv_block.6.weight")).is_some();
    let config = GeneratorConfig::official()
        .with_base_channels(ngf)
        .with_blocks(n)
        .with_dropout(if dropout { 0.5 } else { 0.0 });
    let second = if dropout { 6 } else { 5 };
    let mut renames: Vec<(String, String)> = vec![
        (r"model\.1\.".into(), "stem.conv.".into()),
        (r"model\.4\.".into(), "down1.conv.".into()),
        (r"model\.7\.".into(), "down2.conv.".into()),
    ];
    for i in 0..n {
        renames.push((format!(r"model\.{}\.conv_block\.1\.", 10 + i), format!("blocks.{i}.conv1.")));
        renames.push((format!(r"model\.{}\.conv_block\.{second}\.", 10 + i), format!("blocks.{i}.conv2.")));
    }
    renames.push((format!(r"model\.{}\.", 10 + n), "up1.conv.".into()));
    renames.push((format!(r"model\.{}\.", 13 + n), "up2.conv.".into()));
    renames.push((format!(r"model\.{}\.", 17 + n), "head.".into()));
    let escaped = prefix.replace('.', r"\.");
    // Official names start with "model."; ours never do, so no key is renamed twice.
    let mut store = renames.into_iter().fold(
        PytorchStore::from_file(path).map_indices_contiguous(false),
        |store, (from, to)| store.with_key_remapping(format!("^{escaped}{from}"), to),
    );
    let mut generator = config.init(device);
    let result = generator
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("cannot import {}: {e}", path.display()))?;
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        bail!(
            "{} does not fit an official {ngf}-channel {n}-block generator: errors {:?}, missing {:?}, unexpected {:?}",
            path.display(),
            result.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            result.missing.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            result.unused
        );
    }
    Ok((generator, config))
}
