//! The GPU path: wgpu (here on Mesa's lavapipe, a Vulkan driver on the CPU) agrees with Flex.
//! Needs a Vulkan driver: `apt-get install mesa-vulkan-drivers libvulkan1` where no GPU is.

mod common;

use burn::tensor::{Device, Distribution, Tensor};
use deblurgan::model::{GeneratorConfig, UNetConfig};
use deblurgan::weights::{self, Precision, WeightsFormat};
use deblurgan::{Photo, TileOptions, deblur_photo_blocking};

fn wgpu_device() -> Device {
    Device::wgpu_options().init().expect(
        "no wgpu adapter: install a Vulkan driver (Debian: mesa-vulkan-drivers libvulkan1)",
    )
}

#[test]
fn wgpu_and_flex_agree() {
    wgpu_and_flex_agree_on(GeneratorConfig::new().with_base_channels(16).with_blocks(2), &wgpu_device());
}

/// The reproducer of a known crash, to run alone (`cargo test --workspace --test wgpu --
/// --ignored`: wgpu's device starts once per process): the process ends with a segmentation
/// fault on the U-Net. gdb's backtrace: Mesa's lavapipe (`libvulkan_lvp.so`) crashes inside
/// `create_compute_pipeline`, compiling a matrix-product kernel (cubek_matmul's `SimpleUnit`
/// routine) that burn's autotune tries (`Tunable::build` … `tune_benchmark`). burn's
/// `conv_transpose2d` of 2×2, stride 2, alone crashes too; the ResNet does not. The page's
/// WebGPU build (SwiftShader in the browser tests) stops with a panic on the U-Net. The U-Net is
/// not bundled until this passes.
#[test]
#[ignore = "crashes (segmentation fault in burn's wgpu backend on the U-Net); see its documentation"]
fn wgpu_and_flex_agree_on_the_unet() {
    wgpu_and_flex_agree_on(GeneratorConfig::unet().with_unet(Some(UNetConfig::new().with_width(8))), &wgpu_device());
}

fn wgpu_and_flex_agree_on(config: GeneratorConfig, wgpu: &Device) {
    let wgpu = wgpu.clone();
    let flex = Device::flex();
    let on_flex = config.init(&flex);
    let bytes = weights::save_to_bytes(&on_flex, &config, WeightsFormat::Burnpack, Precision::F32).unwrap();
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
