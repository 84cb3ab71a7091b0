//! `export --onnx` against onnxruntime: generators of every variant and normalisation, with
//! random weights (BatchNorm running statistics included), written to ONNX by the `export`
//! command, run in onnxruntime (Python) and compared with this project's forward pass.
//!
//! Needs a Python with onnxruntime and numpy: `DEBLURGAN_PYTHON`, else the virtual environment
//! `scripts/test.sh` installs (`~/.cache/deblurgan/venv`). Ignored by a plain `cargo test`;
//! `scripts/test.sh` runs it with `--ignored` after installing onnxruntime.

mod common;

use std::path::PathBuf;
use std::process::Command;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Distribution, Tensor};
use deblurgan::model::{GeneratorConfig, GeneratorVariant, NormKind, UNetConfig};
use deblurgan::weights::{self, Precision};

/// Replaces every float tensor by random values: convolution kernels at the scale that keeps
/// activations near unit size, vectors (biases, norm scales, running means and variances) in
/// [0.3, 1.0] so that variances stay positive.
struct Randomise;

impl ModuleMapper for Randomise {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let device = tensor.device();
        let values = if D == 4 {
            let fan_in = (shape[1] * shape[2] * shape[3]) as f64;
            Tensor::random(shape, Distribution::Normal(0.0, (1.5 / fan_in).sqrt()), &device)
        } else {
            Tensor::random(shape, Distribution::Uniform(0.3, 1.0), &device)
        };
        Param::from_mapped_value(id, values, mapper)
    }
}

fn python() -> PathBuf {
    match std::env::var_os("DEBLURGAN_PYTHON") {
        Some(python) => PathBuf::from(python),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/deblurgan/venv/bin/python"),
    }
}

/// PSNR of `a` against `b`, both in [-1, 1].
fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let mse = a.iter().zip(b).map(|(x, y)| ((x - y) as f64 / 2.0).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (1.0 / mse.max(1e-20)).log10()
}

#[test]
#[ignore = "needs onnxruntime: run by scripts/test.sh"]
fn the_onnx_graph_computes_what_the_generator_computes() {
    let python = python();
    assert!(
        python.is_file(),
        "no Python with onnxruntime at {}: run scripts/test.sh, or set DEBLURGAN_PYTHON",
        python.display()
    );
    let dir = common::scratch("onnx");
    let device = Device::flex();
    device.seed(5);
    let small = GeneratorConfig::new().with_base_channels(8).with_blocks(2);
    let configs = [
        ("residual-plain", small.clone().with_variant(GeneratorVariant::Residual).with_norm(Some(NormKind::None))),
        ("residual-skip", small.clone().with_variant(GeneratorVariant::Residual).with_norm(Some(NormKind::None)).with_skips(Some(true))),
        ("residual-batchnorm", small.clone().with_variant(GeneratorVariant::Residual).with_norm(Some(NormKind::Batch))),
        ("official-instancenorm", small.clone().with_variant(GeneratorVariant::Official)),
        ("keras-batchnorm", small.clone().with_variant(GeneratorVariant::Keras)),
        ("unet", GeneratorConfig::unet().with_unet(Some(UNetConfig::new().with_width(8).with_bottom_blocks(1)))),
    ];
    // Multiples of 8, as the pre-processing pads them (the U-Net halves its input three times).
    let [batch, channels, height, width] = [2, 3, 40, 56];
    let input = Tensor::<4>::random([batch, channels, height, width], Distribution::Uniform(-1.0, 1.0), &device);
    let input_values = input.to_data().try_into_vec_as::<f32>().unwrap();
    let input_path = dir.join("input.f32");
    std::fs::write(&input_path, bytemuck_f32(&input_values)).unwrap();
    for (name, config) in configs {
        let generator = config.init(&device).map(&mut Randomise);
        let weights_path = dir.join(format!("{name}.safetensors"));
        weights::save_to_file(&generator, &config, &weights_path, Precision::F32).unwrap();
        let (generator, _) = weights::load_from_file(&weights_path, &device).unwrap();
        let expected = generator.forward(input.clone()).to_data().try_into_vec_as::<f32>().unwrap();
        // The network must change its input for the comparison to mean anything.
        let change = expected.iter().zip(&input_values).map(|(y, x)| (y - x).abs() as f64).sum::<f64>() / expected.len() as f64;
        assert!(change > 0.05, "{name}: the random generator changes its input by {change} only");

        let onnx_path = dir.join(format!("{name}.onnx"));
        let export = Command::new(env!("CARGO_BIN_EXE_native-trainer"))
            .args(["export", "--onnx", "--from"])
            .arg(&weights_path)
            .arg("-o")
            .arg(&onnx_path)
            .output()
            .unwrap();
        assert!(export.status.success(), "{name}: export failed: {}", String::from_utf8_lossy(&export.stderr));
        let output_path = dir.join(format!("{name}.out.f32"));
        let run = Command::new(&python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/onnx/run_onnx.py"))
            .args([&onnx_path, &input_path, &output_path])
            .args([batch, channels, height, width].map(|d| d.to_string()))
            .output()
            .unwrap();
        assert!(run.status.success(), "{name}: onnxruntime failed: {}", String::from_utf8_lossy(&run.stderr));
        let bytes = std::fs::read(&output_path).unwrap();
        let actual: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        assert_eq!(actual.len(), expected.len(), "{name}: output size");
        let worst = actual.iter().zip(&expected).map(|(a, e)| (a - e).abs()).fold(0.0f32, f32::max);
        let db = psnr(&actual, &expected);
        eprintln!("{name}: onnxruntime vs project {db:.1} dB, worst difference {worst:.2e}, mean change {change:.3}");
        assert!(db >= 45.0 && worst < 1e-3, "{name}: onnxruntime differs: {db:.1} dB, worst {worst}");
    }
    // Anything but a .onnx name is refused with --onnx, and nothing is written.
    let refused = Command::new(env!("CARGO_BIN_EXE_native-trainer"))
        .args(["export", "--onnx", "--from"])
        .arg(dir.join("residual-plain.safetensors"))
        .arg("-o")
        .arg(dir.join("graph.bpk"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains(".onnx"));
    assert!(!dir.join("graph.bpk").exists());
}

fn bytemuck_f32(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
