//! The GPU path: wgpu (here on Mesa's lavapipe, a Vulkan driver on the CPU) agrees with Flex.
//! Needs a Vulkan driver: `apt-get install mesa-vulkan-drivers libvulkan1` where no GPU is.

mod common;

use std::sync::OnceLock;

use burn::tensor::{Device, Distribution, Tensor};
use burn::module::Param;
use deblurgan::model::{Generator, GeneratorConfig, UNetConfig};
use deblurgan::weights::{self, Precision, WeightsFormat};
use deblurgan::{Photo, TileOptions, deblur_photo_blocking};

/// The one wgpu device of the test process (wgpu's device starts once per process).
fn wgpu_device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            Device::wgpu_options().init().expect(
                "no wgpu adapter: install a Vulkan driver (Debian: mesa-vulkan-drivers libvulkan1)",
            )
        })
        .clone()
}

#[test]
fn wgpu_and_flex_agree() {
    let config = GeneratorConfig::new().with_base_channels(16).with_blocks(2);
    wgpu_and_flex_agree_on(config.init(&Device::flex()), &config, &wgpu_device());
}

/// burn's own `conv_transpose2d` crashed lavapipe here (a segmentation fault compiling a
/// matrix-product kernel that autotune tried) and stopped the page's WebGPU build: the U-Net's
/// 2×2 stride-2 layers now run as direct convolutions of the zero-inserted input on wgpu.
#[test]
fn wgpu_and_flex_agree_on_the_unet() {
    let config = GeneratorConfig::unet().with_unet(Some(UNetConfig::new().with_width(8)));
    let flex = Device::flex();
    let mut unet = config.init(&flex);
    // The head starts at zero (the untrained U-Net returns its input): give it weights, so that
    // every layer reaches the output.
    let Generator::UNet(inner) = &mut unet else { panic!("a U-Net configuration builds a U-Net") };
    let head = inner.head.weight.val();
    inner.head.weight = Param::from_tensor(Tensor::random(head.dims(), Distribution::Uniform(-0.1, 0.1), &flex));
    wgpu_and_flex_agree_on(unet, &config, &wgpu_device());
}

fn wgpu_and_flex_agree_on(on_flex: Generator, config: &GeneratorConfig, wgpu: &Device) {
    let wgpu = wgpu.clone();
    let flex = Device::flex();
    let bytes = weights::save_to_bytes(&on_flex, config, WeightsFormat::Burnpack, Precision::F32).unwrap();
    let (on_wgpu, _) = weights::load_from_bytes(&bytes, &wgpu).unwrap();

    let input = Tensor::<4>::random([1, 3, 64, 48], Distribution::Uniform(-1.0, 1.0), &flex);
    let data = input.to_data();
    let expected = on_flex.forward(input).into_data().try_into_vec::<f32>().unwrap();
    let actual = on_wgpu
        .forward(Tensor::from_data(data, &wgpu))
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let difference = expected.iter().zip(&actual).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(difference <= 1e-3, "wgpu and Flex differ by {difference}");

    // The whole pipeline too, with its asynchronous reads, tile by tile.
    let photo = Photo { rgb: common::photo_of_size(100, 70), alpha: None };
    let options = TileOptions::new(64, 16).unwrap();
    let on_cpu = deblur_photo_blocking(&on_flex, &flex, &photo, options, |_| true).unwrap();
    let on_gpu = deblur_photo_blocking(&on_wgpu, &wgpu, &photo, options, |_| true).unwrap();
    let worst = on_cpu.rgb.as_raw().iter().zip(on_gpu.rgb.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
    assert!(worst <= 1, "8-bit outputs differ by {worst}");
}
