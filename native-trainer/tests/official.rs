//! `import-official` on a tiny generator in the official DeblurGAN key layout (fixture made by
//! `fixtures/make_official_fixture.py`, which also computed the official forward pass in plain
//! Python).

mod common;

use std::path::PathBuf;
use std::process::Command;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use deblurgan::model::GeneratorVariant;
use deblurgan::weights;
use native_trainer::official::import_official;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The numbers of a JSON array `"key": [...]`.
fn json_array(text: &str, key: &str) -> Vec<f32> {
    let start = text.find(&format!("\"{key}\": [")).unwrap() + key.len() + 5;
    let end = start + text[start..].find(']').unwrap();
    text[start..end].split(',').map(|v| v.trim().parse::<f64>().unwrap() as f32).collect()
}

fn reference() -> (Tensor<4>, Vec<f32>) {
    let text = std::fs::read_to_string(fixture("official_tiny_G.json")).unwrap();
    let input = Tensor::from_data(TensorData::new(json_array(&text, "input"), [1, 3, 8, 12]), &Device::flex());
    (input, json_array(&text, "output"))
}

fn worst(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn an_official_checkpoint_imports_and_computes_what_pytorch_would() {
    // The zip container of PyTorch >= 1.6 and the legacy stream of the official DeblurGAN's
    // PyTorch 0.3/0.4.
    for file in ["official_tiny_G.pth", "official_tiny_G_legacy.pth"] {
        let (generator, config) = import_official(&fixture(file), &Device::flex()).unwrap();
        assert_eq!((config.base_channels, config.blocks, config.variant), (4, 1, GeneratorVariant::Official));
        assert_eq!(config.dropout, 0.5, "conv_block.6 means the blocks had dropout");
        let (input, expected) = reference();
        let output: Vec<f32> = generator.valid().forward(input).into_data().try_to_vec().unwrap();
        let difference = worst(&output, &expected);
        assert!(difference < 1e-4, "{file} differs from the reference forward pass by {difference}");
    }
}

#[test]
fn the_import_command_writes_project_weights() {
    let dir = common::scratch("import");
    let output = dir.join("official.bpk");
    let status = Command::new(env!("CARGO_BIN_EXE_native-trainer"))
        .arg("import-official")
        .arg(fixture("official_tiny_G.pth"))
        .arg("-o")
        .arg(&output)
        .status()
        .unwrap();
    assert!(status.success());
    let (generator, config) = weights::load_from_file(&output, &Device::flex()).unwrap();
    assert_eq!(config.variant, GeneratorVariant::Official);
    let (input, expected) = reference();
    let output: Vec<f32> = generator.forward(input).into_data().try_to_vec().unwrap();
    assert!(worst(&output, &expected) < 1e-4);
    // Not a generator: a clear error.
    std::fs::write(dir.join("junk.pth"), b"not a checkpoint").unwrap();
    let failed = Command::new(env!("CARGO_BIN_EXE_native-trainer"))
        .args(["import-official"])
        .arg(dir.join("junk.pth"))
        .arg("-o")
        .arg(dir.join("x.bpk"))
        .output()
        .unwrap();
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("cannot read"));
}
