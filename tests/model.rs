//! The networks: shapes, parameter counts, variants.

use burn::tensor::{Device, Distribution, Tensor};
use deblurgan::model::{CriticConfig, GeneratorConfig, GeneratorVariant};

fn device() -> Device {
    Device::flex()
}

#[test]
fn the_design_notes_generator_has_11_378_179_convolution_parameters() {
    let generator = GeneratorConfig::keras().init(&device());
    let generator = generator.as_resnet().expect("a ResNet");
    assert_eq!(generator.conv_parameter_count(), 11_378_179);
    assert_eq!(generator.blocks.len(), 9);
}

#[test]
fn the_official_variant_counts_the_same_convolutions() {
    // Transposed convs hold as many weights as the convs they replace (3×3, same channels).
    let generator = GeneratorConfig::official().init(&device());
    assert_eq!(generator.as_resnet().expect("a ResNet").conv_parameter_count(), 11_378_179);
}

#[test]
fn compact_generator_is_much_smaller() {
    let generator = GeneratorConfig::compact().init(&device());
    let count = generator.as_resnet().expect("a ResNet").conv_parameter_count();
    assert!(count < 11_378_179 / 5, "{count}");
}

#[test]
fn generator_keeps_the_shape_for_both_variants() {
    for variant in [GeneratorVariant::Keras, GeneratorVariant::Official, GeneratorVariant::Residual] {
        let generator = GeneratorConfig::new()
            .with_base_channels(8)
            .with_blocks(2)
            .with_variant(variant)
            .init(&device());
        for (height, width) in [(8, 8), (16, 24), (36, 20)] {
            let input = Tensor::<4>::random([2, 3, height, width], Distribution::Uniform(-1.0, 1.0), &device());
            let output = generator.forward(input);
            assert_eq!(output.dims(), [2, 3, height, width], "{variant:?}");
            let values = output.into_data().try_into_vec::<f32>().unwrap();
            assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)), "{variant:?} out of range");
        }
    }
}

#[test]
fn an_untrained_residual_generator_returns_its_input() {
    // The residual variant's last convolution starts at zero: training begins at the identity,
    // not at a random image (the Keras output, (tanh + input) / 2, starts at half contrast).
    let generator = GeneratorConfig::compact_residual().init(&device());
    let input = Tensor::<4>::random([1, 3, 32, 24], Distribution::Uniform(-1.0, 1.0), &device());
    let output = generator.forward(input.clone());
    let difference = (output - input).abs().max().into_scalar::<f32>();
    assert_eq!(difference, 0.0);
    let keras = GeneratorConfig::compact().init(&device());
    let input = Tensor::<4>::random([1, 3, 32, 24], Distribution::Uniform(-1.0, 1.0), &device());
    assert!((keras.forward(input.clone()) - input).abs().max().into_scalar::<f32>() > 0.1);
}

#[test]
fn dense_critic_scores_each_image() {
    let critic = CriticConfig::dense(64).with_base_channels(8).init(&device());
    let input = Tensor::<4>::random([3, 3, 64, 64], Distribution::Uniform(-1.0, 1.0), &device());
    assert_eq!(critic.forward(input).dims(), [3, 1]);
}

#[test]
fn sigmoid_critic_gives_probabilities() {
    let critic = CriticConfig::dense(32).with_base_channels(4).with_sigmoid(true).init(&device());
    let input = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(-1.0, 1.0), &device());
    let scores = critic.forward(input).into_data().try_into_vec::<f32>().unwrap();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
}

#[test]
fn patch_critic_scores_each_patch() {
    let critic = CriticConfig::patch().with_base_channels(8).init(&device());
    let input = Tensor::<4>::random([2, 3, 64, 64], Distribution::Uniform(-1.0, 1.0), &device());
    // 64 → 33 → 17 → 9 (stride 2, pad 2) → 10 → 11 (stride 1, pad 2): 11×11 patches.
    assert_eq!(critic.forward(input).dims(), [2, 121]);
}

#[test]
fn the_plain_generator_starts_as_the_identity_with_features_of_unit_scale() {
    // No normalisation: He initialisation keeps the activations' scale through the ReLUs, and
    // each residual block starts as the identity, so the zero head sees features of order one
    // and its first gradient steps make a correction larger than a grey level. With burn's
    // default initialisation the features shrank layer by layer and 120 training steps left
    // the output within half a grey level of the input.
    let config = GeneratorConfig::compact_residual_plain();
    let generator = config.init(&device());
    let input = Tensor::<4>::random([2, 3, 64, 64], Distribution::Uniform(-1.0, 1.0), &device());
    let output = generator.forward(input.clone());
    assert_eq!((output - input.clone()).abs().max().into_scalar::<f32>(), 0.0);
    // The features the head reads: the second upsampling stage's output.
    let generator = generator.as_resnet().expect("a ResNet");
    let x = generator.stem.forward(input.pad([(3, 3), (3, 3)], burn::tensor::ops::PadMode::Reflect));
    let x = generator.down2.forward(generator.down1.forward(x));
    let x = generator.blocks.iter().fold(x, |x, block| block.forward(x));
    let features = generator.up2.forward(generator.up1.forward(x));
    let rms = features.powf_scalar(2.0).mean().sqrt().into_scalar::<f32>();
    assert!((0.2..5.0).contains(&rms), "feature RMS {rms}");
    assert_eq!(config.norm(), deblurgan::model::NormKind::None);
}

#[test]
fn skip_connections_start_as_the_identity_and_bring_the_stem_features_to_the_head() {
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::{Initializer, PaddingConfig2d};
    use deblurgan::model::Upsample;

    let c = 8;
    let config = GeneratorConfig::compact_residual_skip().with_base_channels(c).with_blocks(2);
    assert!(config.has_skips() && !GeneratorConfig::compact_residual_plain().has_skips());
    let mut generator = config.init(&device());
    let input = Tensor::<4>::random([1, 3, 32, 32], Distribution::Uniform(-1.0, 1.0), &device());
    let output = generator.forward(input.clone());
    assert_eq!((output - input.clone()).abs().max().into_scalar::<f32>(), 0.0);

    // With the second upsampling stage silenced (its convolution zero, so its output is
    // ReLU(0) = 0) and a random head, only the skip can bring the photo's detail to the head.
    let zero_up = Conv2dConfig::new([2 * c, c], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_initializer(Initializer::Zeros)
        .init(&device());
    let resnet = generator.as_resnet_mut().expect("a ResNet");
    match &mut resnet.up2 {
        Upsample::NearestConv(block) => block.conv = zero_up,
        Upsample::Transposed(_) => unreachable!("the compact generator upsamples by nearest + conv"),
    }
    resnet.head = Conv2dConfig::new([c, 3], [7, 7])
        .with_initializer(Initializer::Normal { mean: 0.0, std: 0.1 })
        .init(&device());
    let correction = |generator: &deblurgan::model::Generator| {
        let residual = generator.forward_unclamped(input.clone()) - input.clone();
        // How much the correction varies from pixel to pixel of each channel.
        let mean = residual.clone().mean_dim(2).mean_dim(3);
        (residual - mean).abs().max().into_scalar::<f32>()
    };
    assert!(correction(&generator) > 1e-3, "the skip brought nothing to the head");
    generator.as_resnet_mut().expect("a ResNet").skips = false;
    assert!(correction(&generator) < 1e-6, "without the skip the head saw the photo");
}

#[test]
fn a_configuration_saved_before_skip_connections_existed_reads_as_without() {
    let mut json: serde_json::Value = serde_json::to_value(GeneratorConfig::compact_residual_plain()).unwrap();
    json.as_object_mut().unwrap().remove("skips");
    let config: GeneratorConfig = serde_json::from_value(json).unwrap();
    assert!(!config.has_skips());
    assert!(!config.init(&device()).as_resnet().expect("a ResNet").skips);
}

#[test]
fn the_unet_has_2_080_323_parameters_and_starts_as_the_identity() {
    // stem 672, blocks down 218 064, downsamplings 218 064, bottom 1 327 872, transposed
    // upsamplings 96 936, blocks up 218 064, head 651: the PyTorch reference's 2.08 M.
    let generator = GeneratorConfig::unet().init(&device());
    let unet = generator.as_unet().expect("a U-Net");
    assert_eq!(unet.parameter_count(), 2_080_323);
    assert_eq!((unet.encoder.len(), unet.bottom.len(), unet.decoder.len()), (3, 2, 3));
    // Sides that are multiples of 8, not square.
    let input = Tensor::<4>::random([2, 3, 40, 64], Distribution::Uniform(-1.0, 1.0), &device());
    let output = generator.forward(input.clone());
    assert_eq!(output.dims(), [2, 3, 40, 64]);
    assert_eq!((output - input).abs().max().into_scalar::<f32>(), 0.0);
}

#[test]
fn every_level_of_the_unet_reaches_the_output() {
    use burn::module::{Module, ModuleMapper, Param};
    use deblurgan::model::UNetConfig;

    // Weights all random (the head too): a change of the input 57 px from a pixel must change
    // that pixel. Levels 0 to 2 reach about 36 px around a pixel (3×3 convolutions at scales 1, 2
    // and 4); only the bottom level (scale 8, four convolutions) reaches that far.
    struct Randomise;
    impl ModuleMapper for Randomise {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            let values = Tensor::random(tensor.shape(), Distribution::Normal(0.0, 0.1), &tensor.device());
            Param::from_mapped_value(id, values, mapper)
        }
    }
    let generator = GeneratorConfig::unet().with_unet(Some(UNetConfig::new().with_width(4))).init(&device()).map(&mut Randomise);
    let input = Tensor::<4>::zeros([1, 3, 128, 128], &device());
    let moved = input.clone().slice_assign([0..1, 0..3, 64..72, 64..72], Tensor::ones([1, 3, 8, 8], &device()));
    let corner = |x: Tensor<4>| generator.forward_unclamped(x).slice([0..1, 0..3, 0..8, 0..8]);
    let change = (corner(moved) - corner(input.clone())).abs().max().into_scalar::<f32>();
    assert!(change > 0.0, "a pixel 57 px away did not reach the corner");
    // Nothing reaches 100 px: the receptive field is finite (what the tiles' overlap covers).
    let far = input.clone().slice_assign([0..1, 0..3, 120..128, 120..128], Tensor::ones([1, 3, 8, 8], &device()));
    assert_eq!((corner(far) - corner(input)).abs().max().into_scalar::<f32>(), 0.0);
}

/// The wgpu path's transposed convolution (a direct convolution of the zero-inserted input)
/// gives burn's `conv_transpose2d`, on odd sizes, batch 1 and 2, the U-Net's 2×2 stride 2 and
/// kernels larger than the stride with padding.
#[test]
fn a_transposed_convolution_by_zero_insertion_equals_burns() {
    use burn::tensor::module::conv_transpose2d;
    use burn::tensor::ops::ConvTransposeOptions;
    use deblurgan::model::zero_insertion;

    let device = device();
    // (batch, in, out, height, width, kernel, stride, padding)
    let cases = [
        (1, 3, 5, 4, 7, [2, 2], [2, 2], [0, 0]),
        (2, 4, 2, 5, 3, [2, 2], [2, 2], [0, 0]),
        (1, 2, 3, 6, 5, [3, 3], [2, 2], [1, 1]),
        (2, 3, 3, 3, 4, [3, 2], [1, 2], [1, 0]),
        (1, 2, 2, 4, 4, [4, 4], [2, 2], [1, 1]),
    ];
    for (batch, channels_in, channels_out, height, width, kernel, stride, padding) in cases {
        let x = Tensor::<4>::random([batch, channels_in, height, width], Distribution::Uniform(-1.0, 1.0), &device);
        let weight = Tensor::<4>::random([channels_in, channels_out, kernel[0], kernel[1]], Distribution::Uniform(-1.0, 1.0), &device);
        let bias = Tensor::<1>::random([channels_out], Distribution::Uniform(-1.0, 1.0), &device);
        let options = ConvTransposeOptions::new(stride, padding, [0, 0], [1, 1], 1);
        assert!(zero_insertion::applies(kernel, &options));
        let expected = conv_transpose2d(x.clone(), weight.clone(), Some(bias.clone()), options.clone());
        let actual = zero_insertion::conv_transpose2d(x, weight, Some(bias), options);
        assert_eq!(actual.dims(), expected.dims(), "case {kernel:?} {stride:?} {padding:?}");
        let difference = (actual - expected).abs().max().into_scalar::<f32>();
        assert!(difference < 1e-5, "case {kernel:?} {stride:?} {padding:?}: differs by {difference}");
    }
    // Output padding is left to burn.
    assert!(!zero_insertion::applies([2, 2], &ConvTransposeOptions::new([2, 2], [0, 0], [1, 1], [1, 1], 1)));
}
