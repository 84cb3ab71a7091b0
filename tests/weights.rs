//! Weights files: round trips in both formats and precisions, and every kind of bad file.

mod common;

use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Device, Tensor};
use deblurgan::model::{CriticConfig, Generator, GeneratorConfig};
use deblurgan::weights::{self, Precision, WeightsError, WeightsFormat};

fn device() -> Device {
    Device::flex()
}

fn small_config() -> GeneratorConfig {
    GeneratorConfig::new().with_base_channels(8).with_blocks(2)
}

/// Every stored tensor of a generator as f32 values, by name.
fn parameters(generator: &Generator) -> Vec<(String, Vec<f32>)> {
    let mut all: Vec<(String, Vec<f32>)> = generator
        .collect(None, None, false)
        .into_iter()
        .map(|tensor| {
            let name = tensor.name.clone();
            let data = burn::store::bridge::to_data(&tensor).unwrap();
            (name, data.convert::<f32>().try_into_vec::<f32>().unwrap())
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

fn output(generator: &Generator) -> Vec<f32> {
    let input = Tensor::<4>::from_data(
        burn::tensor::TensorData::new((0..3 * 16 * 16).map(|i| ((i % 97) as f32 / 48.5) - 1.0).collect(), [1, 3, 16, 16]),
        &device(),
    );
    generator.forward(input).into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn f32_round_trip_is_exact_in_both_formats() {
    let config = small_config();
    let generator = config.init(&device());
    for format in [WeightsFormat::Burnpack, WeightsFormat::Safetensors] {
        let bytes = weights::save_to_bytes(&generator, &config, format, Precision::F32).unwrap();
        assert_eq!(WeightsFormat::detect(&bytes).unwrap(), format);
        let (loaded, loaded_config) = weights::load_from_bytes(&bytes, &device()).unwrap();
        assert_eq!(loaded_config.to_string(), config.to_string());
        assert_eq!(parameters(&loaded), parameters(&generator), "{format:?}");
        assert_eq!(output(&loaded), output(&generator), "{format:?}");
    }
}

#[test]
fn f16_round_trip_is_within_half_precision() {
    let config = small_config();
    let generator = config.init(&device());
    for format in [WeightsFormat::Burnpack, WeightsFormat::Safetensors] {
        let f32_bytes = weights::save_to_bytes(&generator, &config, format, Precision::F32).unwrap();
        let f16_bytes = weights::save_to_bytes(&generator, &config, format, Precision::F16).unwrap();
        assert!(f16_bytes.len() < f32_bytes.len() * 6 / 10, "{format:?}: f16 should be about half the size");
        let (loaded, _) = weights::load_from_bytes(&f16_bytes, &device()).unwrap();
        for ((name, original), (_, restored)) in parameters(&generator).iter().zip(parameters(&loaded)) {
            for (a, b) in original.iter().zip(&restored) {
                assert!((a - b).abs() <= 1e-3 * a.abs().max(1e-2), "{format:?} {name}: {a} vs {b}");
            }
        }
        let difference = output(&generator)
            .iter()
            .zip(output(&loaded))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(difference < 1e-2, "{format:?}: outputs differ by {difference}");
    }
}

#[test]
fn files_round_trip_and_pick_their_format_from_the_extension() {
    let directory = std::env::temp_dir().join(format!("deblurgan-weights-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let config = small_config();
    let generator = config.init(&device());
    for (name, format) in [("g.bpk", WeightsFormat::Burnpack), ("g.safetensors", WeightsFormat::Safetensors)] {
        let path = directory.join(name);
        weights::save_to_file(&generator, &config, &path, Precision::F32).unwrap();
        assert_eq!(WeightsFormat::detect(&std::fs::read(&path).unwrap()).unwrap(), format);
        let (loaded, _) = weights::load_from_file(&path, &device()).unwrap();
        assert_eq!(parameters(&loaded), parameters(&generator));
    }
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn safetensors_keys_are_plain_pytorch_style_names() {
    let config = small_config();
    let bytes = weights::save_to_bytes(&config.init(&device()), &config, WeightsFormat::Safetensors, Precision::F32).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let names = tensors.names();
    assert!(names.iter().any(|n| *n == "stem.conv.weight"), "{names:?}");
    assert!(names.iter().any(|n| *n == "blocks.1.norm2.running_var"), "{names:?}");
}

#[test]
fn a_missing_file_names_the_path() {
    let error = weights::load_from_file(std::path::Path::new("/nonexistent/w.bpk"), &device()).unwrap_err();
    assert!(matches!(error, WeightsError::Io { .. }));
    assert!(error.to_string().contains("/nonexistent/w.bpk"));
}

#[test]
fn a_non_weights_file_is_refused() {
    for bytes in [common::PHOTO, b"not weights at all, just text".as_slice(), &[]] {
        let error = weights::load_from_bytes(bytes, &device()).unwrap_err();
        assert!(matches!(error, WeightsError::NotWeights), "{error}");
        assert!(error.to_string().contains("neither burnpack nor safetensors"));
    }
}

#[test]
fn a_truncated_file_is_reported_as_damaged() {
    let config = small_config();
    let generator = config.init(&device());
    for format in [WeightsFormat::Burnpack, WeightsFormat::Safetensors] {
        let bytes = weights::save_to_bytes(&generator, &config, format, Precision::F32).unwrap();
        for cut in [bytes.len() / 2, bytes.len() - 1, 40] {
            let error = weights::load_from_bytes(&bytes[..cut], &device()).unwrap_err();
            assert!(matches!(error, WeightsError::Damaged { .. }), "{format:?} cut at {cut}: {error}");
            assert!(error.to_string().contains("truncated or damaged"), "{error}");
        }
    }
}

#[test]
fn weights_of_another_architecture_are_refused() {
    let device = device();
    // A critic's weights, saved as plain safetensors: no generator configuration at all.
    let critic = CriticConfig::dense(32).with_base_channels(4).init(&device);
    let mut store = SafetensorsStore::from_bytes(None);
    critic.save_into(&mut store).unwrap();
    let error = weights::load_from_bytes(&store.get_bytes().unwrap(), &device).unwrap_err();
    assert!(matches!(error, WeightsError::NoConfig { .. }), "{error}");
    assert!(error.to_string().contains("not a DeblurGAN generator"));

    // A generator of 8 channels labelled as 16 channels: every conv has the wrong shape.
    let wider = small_config().with_base_channels(16);
    let bytes = weights::save_to_bytes(&small_config().init(&device), &wider, WeightsFormat::Burnpack, Precision::F32).unwrap();
    let error = weights::load_from_bytes(&bytes, &device).unwrap_err();
    assert!(matches!(error, WeightsError::WrongArchitecture { .. }), "{error}");
    assert!(error.to_string().contains("16-channel"), "{error}");

    // 2 blocks labelled as 3: the third block's tensors are missing.
    let deeper = small_config().with_blocks(3);
    let bytes = weights::save_to_bytes(&small_config().init(&device), &deeper, WeightsFormat::Safetensors, Precision::F16).unwrap();
    let error = weights::load_from_bytes(&bytes, &device).unwrap_err();
    assert!(error.to_string().contains("missing: blocks.2"), "{error}");
}

#[test]
fn a_damaged_configuration_is_reported() {
    let config = small_config();
    let bytes = weights::save_to_bytes(&config.init(&device()), &config, WeightsFormat::Safetensors, Precision::F32).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let needle = "Keras";
    let position = text.find(needle).expect("config in the header");
    let mut damaged = bytes.clone();
    damaged[position..position + needle.len()].copy_from_slice(b"Kerax");
    let error = weights::load_from_bytes(&damaged, &device()).unwrap_err();
    assert!(matches!(error, WeightsError::BadConfig(_)), "{error}");
}

#[test]
fn the_same_weights_give_the_same_bytes() {
    // The page's service worker hashes the weights: exporting them again must not announce an
    // update. The safetensors header's metadata comes from a hash map, whose order differs
    // from one map to the next.
    let config = GeneratorConfig::compact_residual_plain().with_base_channels(8).with_blocks(2);
    let generator = config.init(&device());
    for format in [WeightsFormat::Burnpack, WeightsFormat::Safetensors] {
        for precision in [Precision::F32, Precision::F16] {
            let first = weights::save_to_bytes(&generator, &config, format, precision).unwrap();
            for _ in 0..8 {
                let again = weights::save_to_bytes(&generator, &config, format, precision).unwrap();
                assert!(again == first, "{format:?} {precision:?}: two exports differ");
            }
            let (loaded, _) = weights::load_from_bytes(&first, &device()).unwrap();
            assert_eq!(output(&loaded).len(), 3 * 16 * 16);
        }
    }
    // The header stays valid safetensors with its keys in order.
    let bytes = weights::save_to_bytes(&generator, &config, WeightsFormat::Safetensors, Precision::F16).unwrap();
    let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + length]).unwrap();
    let metadata = header.find("\"__metadata__\"").unwrap();
    let config_key = header[metadata..].find(weights::CONFIG_KEY).unwrap();
    let precision_key = header[metadata..].find(weights::PRECISION_KEY).unwrap();
    assert_eq!(config_key < precision_key, weights::CONFIG_KEY < weights::PRECISION_KEY, "{header}");
}

#[test]
fn a_unet_round_trips_in_both_formats_and_says_what_it_is() {
    use deblurgan::model::UNetConfig;
    let config = GeneratorConfig::unet().with_unet(Some(UNetConfig::new().with_width(8).with_levels(3)));
    let generator = config.init(&device());
    for format in [WeightsFormat::Burnpack, WeightsFormat::Safetensors] {
        let bytes = weights::save_to_bytes(&generator, &config, format, Precision::F32).unwrap();
        let (loaded, loaded_config) = weights::load_from_bytes(&bytes, &device()).unwrap();
        assert_eq!(loaded_config.unet, config.unet, "{format:?}");
        assert!(loaded.as_unet().is_some(), "{format:?}");
        assert_eq!(parameters(&loaded), parameters(&generator), "{format:?}");
    }
    assert!(weights::describe(&config).starts_with("U-Net 8-channel 3-level"), "{}", weights::describe(&config));
    // A U-Net labelled as a ResNet, and a ResNet labelled as a U-Net: refused, by name.
    let resnet = small_config();
    let bytes = weights::save_to_bytes(&generator, &resnet, WeightsFormat::Burnpack, Precision::F32).unwrap();
    let error = weights::load_from_bytes(&bytes, &device()).err().expect("refused");
    assert!(matches!(error, WeightsError::WrongArchitecture { .. }), "{error}");
    assert!(error.to_string().contains("missing") && error.to_string().contains("Keras 8-channel 2-block"), "{error}");
    let bytes = weights::save_to_bytes(&resnet.init(&device()), &config, WeightsFormat::Safetensors, Precision::F32).unwrap();
    let error = weights::load_from_bytes(&bytes, &device()).err().expect("refused");
    assert!(error.to_string().contains("U-Net 8-channel"), "{error}");
}

#[test]
fn a_unet_configuration_out_of_range_is_refused_before_anything_is_built() {
    use deblurgan::model::UNetConfig;
    let generator = GeneratorConfig::unet().with_unet(Some(UNetConfig::new().with_width(4))).init(&device());
    for bad in [UNetConfig::new().with_levels(6), UNetConfig::new().with_width(0), UNetConfig::new().with_levels(1)] {
        let label = GeneratorConfig::unet().with_unet(Some(bad.clone()));
        let bytes = weights::save_to_bytes(&generator, &label, WeightsFormat::Safetensors, Precision::F16).unwrap();
        let error = weights::load_from_bytes(&bytes, &device()).err().expect("refused");
        assert!(matches!(error, WeightsError::BadConfig(_)), "{bad:?}: {error}");
    }
}
