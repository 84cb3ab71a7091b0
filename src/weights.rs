//! Saving and loading a generator together with its configuration, in f32 or f16, as burnpack
//! (burn's own format) or safetensors (readable from PyTorch). Bad files give a [`WeightsError`]
//! that names the problem; nothing here panics on bad input.

use std::collections::BTreeMap;

use burn::config::Config;
use burn::module::Module;
use burn::store::{
    ApplyResult, BurnpackStore, HalfPrecisionAdapter, KeyRemapper, ModuleSnapshot,
    SafetensorsStore, burn_pack,
};
use burn::tensor::{Bytes, Device};

use crate::model::{Generator, GeneratorConfig};

/// Metadata key under which the generator's configuration (JSON) is stored.
pub const CONFIG_KEY: &str = "deblurgan.generator";
/// Metadata key naming the stored precision.
pub const PRECISION_KEY: &str = "deblurgan.precision";

/// File format of a weights file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsFormat {
    /// burn's burnpack (`.bpk`).
    Burnpack,
    /// safetensors (`.safetensors`), which PyTorch users can open.
    Safetensors,
}

/// Precision of the stored convolution weights (normalisation statistics stay f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// 32-bit floats: exact.
    F32,
    /// 16-bit floats: half the size.
    F16,
}

/// Why weights could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// Neither burnpack nor safetensors.
    #[error("not a weights file: it is neither burnpack nor safetensors")]
    NotWeights,
    /// The header promises more than the file holds.
    #[error("the {format} weights file is truncated or damaged: {reason}")]
    Damaged {
        /// burnpack or safetensors.
        format: &'static str,
        /// What the reader said.
        reason: String,
    },
    /// A valid file, but not one of this project's generators.
    #[error(
        "not a DeblurGAN generator: the {format} file has no '{CONFIG_KEY}' entry in its metadata"
    )]
    NoConfig {
        /// burnpack or safetensors.
        format: &'static str,
    },
    /// The stored configuration does not parse.
    #[error("the generator configuration in the weights file is invalid: {0}")]
    BadConfig(String),
    /// The tensors do not fit the configured generator.
    #[error("the weights do not fit a {architecture} generator: {details}")]
    WrongArchitecture {
        /// What the stored configuration describes.
        architecture: String,
        /// Missing, unexpected and mis-shaped tensors.
        details: String,
    },
    /// Writing failed.
    #[error("could not save the weights: {0}")]
    Save(String),
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl WeightsFormat {
    /// The format a file name asks for: `.safetensors`, else burnpack.
    pub fn from_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|extension| extension.to_str()) {
            Some("safetensors") => WeightsFormat::Safetensors,
            _ => WeightsFormat::Burnpack,
        }
    }

    /// Recognises the format from a file's first bytes.
    pub fn detect(bytes: &[u8]) -> Result<Self, WeightsError> {
        if burn_pack::Header::from_bytes(bytes).is_ok() {
            return Ok(WeightsFormat::Burnpack);
        }
        // safetensors: an 8-byte little-endian header length, then a JSON object.
        if bytes.len() >= 9 && bytes[8] == b'{' {
            return Ok(WeightsFormat::Safetensors);
        }
        Err(WeightsError::NotWeights)
    }

    fn name(self) -> &'static str {
        match self {
            WeightsFormat::Burnpack => "burnpack",
            WeightsFormat::Safetensors => "safetensors",
        }
    }
}

/// Describes a configuration for error messages: "Keras 64-channel 9-block", "U-Net 24-channel
/// 4-level".
pub fn describe(config: &GeneratorConfig) -> String {
    if let Some(unet) = &config.unet {
        return format!(
            "U-Net {}-channel {}-level ({} block per level, {} at the bottom)",
            unet.width, unet.levels, unet.blocks_per_level, unet.bottom_blocks
        );
    }
    let norm = match config.norm {
        Some(norm) => format!(" ({norm:?} norm)").replace("None norm", "no norm"),
        None => String::new(),
    };
    let skips = if config.has_skips() { " with skip connections" } else { "" };
    format!(
        "{:?} {}-channel {}-block{norm}{skips}",
        config.variant, config.base_channels, config.blocks
    )
}

/// Serialises a generator and its configuration.
pub fn save_to_bytes(
    generator: &Generator,
    config: &GeneratorConfig,
    format: WeightsFormat,
    precision: Precision,
) -> Result<Vec<u8>, WeightsError> {
    // A generator that has been training may hold BatchNorm statistics not yet synced into its
    // records: `valid()` settles them (and is free for one that has not trained).
    let generator = &generator.valid();
    let config_json = config.to_string();
    let precision_name = format!("{precision:?}").to_lowercase();
    let save_error = |error: &dyn std::fmt::Display| WeightsError::Save(error.to_string());
    match format {
        WeightsFormat::Burnpack => {
            let mut store = BurnpackStore::from_bytes(None)
                .metadata(CONFIG_KEY, config_json)
                .metadata(PRECISION_KEY, precision_name);
            if precision == Precision::F16 {
                store = store.with_to_adapter(HalfPrecisionAdapter::new());
            }
            generator.save_into(&mut store).map_err(|e| save_error(&e))?;
            Ok(store.get_bytes().map_err(|e| save_error(&e))?.to_vec())
        }
        WeightsFormat::Safetensors => {
            let mut store = SafetensorsStore::from_bytes(None)
                .skip_enum_variants(true)
                .metadata(CONFIG_KEY, config_json)
                .metadata(PRECISION_KEY, precision_name);
            if precision == Precision::F16 {
                store = store.with_to_adapter(HalfPrecisionAdapter::new());
            }
            generator.save_into(&mut store).map_err(|e| save_error(&e))?;
            let bytes = store.get_bytes().map_err(|e| save_error(&e))?;
            Ok(sorted_safetensors_header(bytes))
        }
    }
}

/// The same safetensors file with the keys of its JSON header in sorted order, so that the same
/// tensors and metadata always give the same bytes (the metadata comes out of a hash map in a
/// different order every time, and the page's service worker would see a new file). The header
/// keeps its length (padded with spaces, as the format allows), so no offset moves; a header
/// that cannot be read is left as it is.
fn sorted_safetensors_header(mut bytes: Vec<u8>) -> Vec<u8> {
    let Some(length) = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize) else {
        return bytes;
    };
    let Some(header) = bytes.get(8..8 + length) else {
        return bytes;
    };
    // serde_json's maps are sorted by key (no `preserve_order`), at every level.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(header) else {
        return bytes;
    };
    let Ok(mut sorted) = serde_json::to_vec(&value) else {
        return bytes;
    };
    if sorted.len() > length {
        return bytes;
    }
    sorted.resize(length, b' ');
    bytes[8..8 + length].copy_from_slice(&sorted);
    bytes
}

/// Saves to a file, the format taken from its extension (`.safetensors`, else burnpack). The
/// file is written beside the target and renamed over it, so a failed save leaves no half file.
pub fn save_to_file(
    generator: &Generator,
    config: &GeneratorConfig,
    path: &std::path::Path,
    precision: Precision,
) -> Result<(), WeightsError> {
    let bytes = save_to_bytes(generator, config, WeightsFormat::from_path(path), precision)?;
    crate::files::write_atomically(path, &bytes).map_err(|source| WeightsError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// What a weights file says of itself.
#[derive(Debug, Clone)]
pub struct WeightsInfo {
    /// burnpack or safetensors.
    pub format: WeightsFormat,
    /// The generator it holds.
    pub config: GeneratorConfig,
    /// Precision of its convolution weights.
    pub precision: Precision,
}

/// Reads the configuration stored in a weights file without building anything.
pub fn read_info(bytes: &[u8]) -> Result<WeightsInfo, WeightsError> {
    let format = WeightsFormat::detect(bytes)?;
    let damaged = |reason: String| WeightsError::Damaged {
        format: format.name(),
        reason,
    };
    let metadata: BTreeMap<String, String> = match format {
        WeightsFormat::Burnpack => burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
            .map_err(|error| damaged(error.to_string()))?
            .metadata()
            .clone(),
        WeightsFormat::Safetensors => {
            let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes)
                .map_err(|error| damaged(error.to_string()))?;
            metadata.metadata().clone().unwrap_or_default().into_iter().collect()
        }
    };
    let json = metadata.get(CONFIG_KEY).ok_or(WeightsError::NoConfig {
        format: format.name(),
    })?;
    let config = GeneratorConfig::load_binary(json.as_bytes())
        .map_err(|error| WeightsError::BadConfig(error.to_string()))?;
    if let Err(problem) = config.check() {
        return Err(WeightsError::BadConfig(format!("{problem} is out of range")));
    }
    let precision = match metadata.get(PRECISION_KEY).map(String::as_str) {
        Some("f16") => Precision::F16,
        Some("f32") | None => Precision::F32,
        Some(other) => return Err(WeightsError::BadConfig(format!("unknown precision '{other}'"))),
    };
    Ok(WeightsInfo {
        format,
        config,
        precision,
    })
}

/// Builds the generator a weights file describes and loads its weights (f16 files are widened
/// to f32).
pub fn load_from_bytes(
    bytes: &[u8],
    device: &Device,
) -> Result<(Generator, GeneratorConfig), WeightsError> {
    let WeightsInfo {
        format,
        config,
        precision,
    } = read_info(bytes)?;
    let mut generator = config.init(device);
    // The adapter casts f16 to f32, but also f32 to f16: only f16 files go through it.
    let widen = (precision == Precision::F16).then(HalfPrecisionAdapter::new);
    let damaged = |reason: String| WeightsError::Damaged {
        format: format.name(),
        reason,
    };
    let result = match format {
        WeightsFormat::Burnpack => {
            let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes.to_vec())))
                .allow_partial(true)
                .validate(false)
                .remap(resnet_paths_before_the_unet());
            if let Some(adapter) = widen {
                store = store.with_from_adapter(adapter);
            }
            generator
                .load_from(&mut store)
                .map_err(|error| damaged(error.to_string()))?
        }
        WeightsFormat::Safetensors => {
            let mut store = SafetensorsStore::from_bytes(Some(bytes.to_vec()))
                .skip_enum_variants(true)
                .allow_partial(true)
                .validate(false);
            if let Some(adapter) = widen {
                store = store.with_from_adapter(adapter);
            }
            generator
                .load_from(&mut store)
                .map_err(|error| damaged(error.to_string()))?
        }
    };
    check_complete(&result, &config)?;
    Ok((generator, config))
}

/// Burnpack files name each tensor by its module path, which holds the generator's kind since
/// the U-Net came ("ResNet.stem.conv.weight"); files written before name the ResNet's tensors
/// from its fields ("stem.conv.weight"). This reads those under their present names (a U-Net's
/// paths start with "UNet." and are left alone).
fn resnet_paths_before_the_unet() -> KeyRemapper {
    KeyRemapper::new()
        .add_pattern(r"^(stem|down1|down2|blocks|up1|up2|head)\.", "ResNet.$1.")
        .expect("a valid pattern")
}

/// Loads a weights file.
pub fn load_from_file(
    path: &std::path::Path,
    device: &Device,
) -> Result<(Generator, GeneratorConfig), WeightsError> {
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
        path: path.display().to_string(),
        source,
    })?;
    load_from_bytes(&bytes, device)
}

fn check_complete(result: &ApplyResult, config: &GeneratorConfig) -> Result<(), WeightsError> {
    let mut problems = Vec::new();
    // Module paths start with the generator's kind ("ResNet.", "UNet."), which says nothing here.
    let plain = |name: &str| -> String {
        let name = name.strip_prefix("ResNet.").or_else(|| name.strip_prefix("UNet.")).unwrap_or(name);
        name.to_string()
    };
    let list = |names: Vec<String>| {
        let shown: Vec<&str> = names.iter().take(4).map(String::as_str).collect();
        let more = names.len().saturating_sub(shown.len());
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        format!("{}{more}", shown.join(", "))
    };
    if !result.errors.is_empty() {
        let errors: Vec<String> = result.errors.iter().take(3).map(|e| e.to_string()).collect();
        problems.push(format!("{} mismatched: {}", result.errors.len(), errors.join("; ")));
    }
    if !result.missing.is_empty() {
        let names = result.missing.iter().map(|(name, _)| plain(name)).collect();
        problems.push(format!("{} missing: {}", result.missing.len(), list(names)));
    }
    if !result.unused.is_empty() {
        let names = result.unused.iter().map(|name| plain(name)).collect();
        problems.push(format!("{} unexpected: {}", result.unused.len(), list(names)));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(WeightsError::WrongArchitecture {
            architecture: describe(config),
            details: problems.join("; "),
        })
    }
}

/// Where the web page's bundled weights live, relative to the repository root; the `deblur`
/// command uses them when given no weights.
pub const BUNDLED_WEIGHTS: &str = "web/weights/deblurgan.bpk";
