//! The CPU engine computes what burn computes: generators of every configuration it runs, with
//! random weights (BatchNorm running statistics included), against `Generator::forward` on
//! burn Flex; the photo pipeline on both engines; the generators it does not run are refused.

mod common;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Distribution, Tensor};
use deblurgan::cpu_inference::{BlockConvs, CpuGenerator};
use deblurgan::model::{GeneratorConfig, GeneratorVariant, NormKind, UNetConfig};
use deblurgan::{Engine, TileOptions, deblur_rgb_on};

/// Replaces every float tensor by random values: kernels at the scale that keeps activations
/// near unit size, vectors (biases, norm scales, running means and variances) in [0.3, 1.0].
struct Randomise;

impl ModuleMapper for Randomise {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        randomise(param, Distribution::Uniform(0.3, 1.0))
    }
}

/// [`Randomise`] with biases in [-0.1, 0.1]: for the U-Net, which has no normalisation to
/// undo them, where biases of [0.3, 1.0] in every convolution pile up through the residual
/// blocks until the output is far outside [-1, 1] (and its rounding with it).
struct RandomiseCentred;

impl ModuleMapper for RandomiseCentred {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        randomise(param, Distribution::Uniform(-0.1, 0.1))
    }
}

fn randomise<const D: usize>(param: Param<Tensor<D>>, vectors: Distribution) -> Param<Tensor<D>> {
    let (id, tensor, mapper) = param.consume();
    let shape = tensor.shape();
    let device = tensor.device();
    let values = if D == 4 {
        let fan_in = (shape[1] * shape[2] * shape[3]) as f64;
        Tensor::random(shape, Distribution::Normal(0.0, (1.5 / fan_in).sqrt()), &device)
    } else {
        Tensor::random(shape, vectors, &device)
    };
    Param::from_mapped_value(id, values, mapper)
}

fn small() -> GeneratorConfig {
    GeneratorConfig::new().with_base_channels(8).with_blocks(2)
}

#[test]
fn the_cpu_engine_computes_what_burn_computes() {
    let device = Device::flex();
    device.seed(11);
    let residual = small().with_variant(GeneratorVariant::Residual);
    let configs = [
        ("residual-plain", residual.clone().with_norm(Some(NormKind::None))),
        ("residual-skip", residual.clone().with_norm(Some(NormKind::None)).with_skips(Some(true))),
        ("residual-batchnorm", residual.clone().with_norm(Some(NormKind::Batch))),
        ("residual-no-blocks", residual.clone().with_norm(Some(NormKind::None)).with_blocks(0)),
        ("keras-batchnorm", small().with_variant(GeneratorVariant::Keras)),
        ("unet", GeneratorConfig::unet().with_unet(Some(UNetConfig::new().with_width(8)))),
        ("unet-3-levels-2-blocks", GeneratorConfig::unet().with_unet(Some(UNetConfig::new().with_width(4).with_levels(3).with_blocks_per_level(2)))),
    ];
    for (name, config) in configs {
        let generator = config.init(&device);
        let generator = if generator.as_unet().is_some() { generator.map(&mut RandomiseCentred) } else { generator.map(&mut Randomise) };
        // The blocks' channels come in fours: Winograd computes them where asked.
        let compiled = [BlockConvs::Direct, BlockConvs::Winograd]
            .map(|block_convs| CpuGenerator::compile_with(&generator, block_convs).unwrap_or_else(|e| panic!("{name}: {e}")));
        for [height, width] in [[40, 56], [8, 8], [64, 16]] {
            let input = Tensor::<4>::random([1, 3, height, width], Distribution::Uniform(-1.0, 1.0), &device);
            let planar = input.to_data().try_into_vec_as::<f32>().unwrap();
            // Rounding grows with the values rounded: for the U-Net, whose sum before the clamp is
            // unbounded, the bound is 1e-4 of that sum's largest value (at least 1e-4); for the
            // ResNets, whose tanh keeps it within 2, 1e-4.
            let scale = match generator.as_unet() {
                Some(_) => generator.forward_unclamped(input.clone()).abs().max().into_scalar::<f32>().max(1.0),
                None => 1.0,
            };
            let expected = generator.forward(input).into_data().try_into_vec_as::<f32>().unwrap();
            for (compiled, block_convs) in compiled.iter().zip([BlockConvs::Direct, BlockConvs::Winograd]) {
                let got = compiled.forward(&planar, width, height);
                assert_eq!(got.len(), expected.len());
                let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(worst < 1e-4 * scale, "{name} ({block_convs:?} blocks) at {width}×{height}: differs by up to {worst} (scale {scale})");
            }
            // Random weights change the image: the comparison is not between two identities.
            let change = expected.iter().zip(&planar).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(change > 0.05, "{name}: the generator leaves its input as it is ({change})");
        }
    }
}

/// The bundled weights' configuration (32 base channels, six blocks of 128 channels, whose
/// Winograd transforms carry the largest rounding: F(6×6, 3×3) multiplies by up to 32 · 5.25
/// on the way), with random weights: the bundled ones barely change a photo yet, so they would
/// hide the blocks' rounding behind a near-zero head.
#[test]
fn the_bundled_configuration_computes_what_burn_computes_both_ways() {
    let device = Device::flex();
    device.seed(14);
    let generator = GeneratorConfig::compact_residual().init(&device).map(&mut Randomise);
    let (width, height) = (96, 64);
    let input = Tensor::<4>::random([1, 3, height, width], Distribution::Uniform(-1.0, 1.0), &device);
    let planar = input.to_data().try_into_vec_as::<f32>().unwrap();
    let expected = generator.forward(input).into_data().try_into_vec_as::<f32>().unwrap();
    let change = expected.iter().zip(&planar).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(change > 0.05, "the generator leaves its input as it is ({change})");
    for block_convs in [BlockConvs::Direct, BlockConvs::Winograd] {
        let got = CpuGenerator::compile_with(&generator, block_convs).unwrap().forward(&planar, width, height);
        let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "{block_convs:?} blocks: differ from burn by up to {worst}");
    }
}

#[test]
fn photos_come_out_the_same_on_both_engines() {
    let device = Device::flex();
    device.seed(12);
    let resnet = small().with_variant(GeneratorVariant::Residual).with_norm(Some(NormKind::None)).init(&device).map(&mut Randomise);
    let unet = GeneratorConfig::unet().with_unet(Some(UNetConfig::new().with_width(4))).init(&device).map(&mut RandomiseCentred);
    let photo = common::photo_of_size(150, 97);
    for generator in [resnet, unet] {
        for options in [TileOptions::whole_image(), TileOptions::new(64, 16).unwrap()] {
            let run = |engine| pollster::block_on(deblur_rgb_on(&generator, &device, &photo, options, engine, |_| true)).unwrap();
            let (cpu, burn) = (run(Engine::Auto), run(Engine::Burn));
            let worst = cpu.as_raw().iter().zip(burn.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
            assert!(worst <= 1, "{options:?}: the engines differ by {worst} levels");
            assert_ne!(cpu, photo, "the random generator changes the photo");
        }
    }
}

#[test]
fn generators_it_does_not_run_are_refused_and_stay_on_burn() {
    let device = Device::flex();
    let official = small().with_variant(GeneratorVariant::Official).init(&device);
    let error = CpuGenerator::compile(&official).expect_err("the official generator has InstanceNorm");
    assert!(error.to_string().contains("InstanceNorm"), "{error}");
    // The photo pipeline still deblurs with it (on burn).
    let photo = common::photo_of_size(40, 24);
    let result = pollster::block_on(deblur_rgb_on(&official, &device, &photo, TileOptions::whole_image(), Engine::Auto, |_| true));
    assert_eq!(result.unwrap().dimensions(), (40, 24));
}

#[test]
fn a_pass_reports_each_layer_and_stops_where_it_is_cancelled() {
    let device = Device::flex();
    device.seed(13);
    let generator = small().with_variant(GeneratorVariant::Residual).with_norm(Some(NormKind::None)).init(&device).map(&mut Randomise);
    let compiled = CpuGenerator::compile(&generator).unwrap();
    // Stem, two downsamplings, two convolutions per block (2 blocks), two upsamplings, head.
    assert_eq!(compiled.layers(), 10);
    let (width, height) = (24, 16);
    let input = Tensor::<4>::random([1, 3, height, width], Distribution::Uniform(-1.0, 1.0), &device);
    let planar = input.to_data().try_into_vec_as::<f32>().unwrap();

    let mut reported = Vec::new();
    let pass = compiled.forward_yielding(&planar, width, height, async |done| {
        reported.push(done);
        true
    });
    let output = pollster::block_on(pass).expect("not cancelled");
    assert_eq!(reported, (1..=10).collect::<Vec<_>>());
    assert_eq!(output, compiled.forward(&planar, width, height));

    let mut calls = 0;
    let pass = compiled.forward_yielding(&planar, width, height, async |done| {
        calls += 1;
        done < 4
    });
    assert_eq!(pollster::block_on(pass), None);
    assert_eq!(calls, 4, "no layer runs after the one whose report cancelled");
}

#[test]
fn a_tile_cancelled_between_layers_is_not_counted_and_the_photo_goes_on() {
    let device = Device::flex();
    device.seed(14);
    let generator = small().with_variant(GeneratorVariant::Residual).with_norm(Some(NormKind::None)).init(&device).map(&mut Randomise);
    let photo = common::photo_of_size(150, 97);
    let mut job = deblurgan::TiledDeblur::new(generator.clone(), device.clone(), photo.clone(), TileOptions::whole_image());
    let mut fractions = Vec::new();
    let cancelled = pollster::block_on(job.step_yielding(async |fraction| {
        fractions.push(fraction);
        fractions.len() < 3
    }));
    assert!(matches!(cancelled, Err(deblurgan::DeblurError::Cancelled)), "{cancelled:?}");
    assert_eq!(job.progress().done, 0);
    assert_eq!(fractions, [1.0 / 10.0, 2.0 / 10.0, 3.0 / 10.0]);
    // The same tile again, to the end: the photo the job would have made without the cancel.
    let mut fractions = Vec::new();
    pollster::block_on(job.step_yielding(async |fraction| {
        fractions.push(fraction);
        true
    }))
    .unwrap();
    assert_eq!(fractions.last(), Some(&1.0));
    assert!(fractions.windows(2).all(|pair| pair[0] < pair[1]));
    let expected = pollster::block_on(deblur_rgb_on(&generator, &device, &photo, TileOptions::whole_image(), Engine::Auto, |_| true)).unwrap();
    assert_eq!(job.finish(), expected);
}

#[test]
fn the_unet_reports_each_of_its_convolutions_as_a_layer() {
    // Stem, per level down: 2 block convolutions and the downsampling (3 levels), 4 at the
    // bottom, per level up: the upsampling and 2 block convolutions, head.
    let unet = GeneratorConfig::unet().init(&Device::flex());
    let compiled = CpuGenerator::compile(&unet).unwrap();
    assert_eq!(compiled.layers(), 1 + 3 * 3 + 4 + 3 * 3 + 1);
    let planar = vec![0.5; 3 * 16 * 24];
    let mut reported = Vec::new();
    let pass = compiled.forward_yielding(&planar, 24, 16, async |done| {
        reported.push(done);
        true
    });
    assert!(pollster::block_on(pass).is_some());
    assert_eq!(reported, (1..=compiled.layers()).collect::<Vec<_>>());
}
