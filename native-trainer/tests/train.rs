//! Training: the loss goes down, a resumed run equals an uninterrupted one, the perceptual loss
//! loads VGG-shaped weights, a NaN stops the run.

mod common;

use std::path::Path;

use burn::module::Module;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Device, Tensor, TensorData};
use deblurgan::model::{CriticConfig, GeneratorConfig};
use native_trainer::data::layout::Source;
use native_trainer::data::loader::{Dataset, SampleOptions, make_batch};
use native_trainer::loss::{ContentLoss, PixelLoss};
use native_trainer::train::{Outcome, RunControl, TrainOptions, TrainState, Trainer, run};
use native_trainer::vgg::Vgg16Features;

/// burn's random generator (dropout masks, initialisation) is global to the process: tests that
/// train run one at a time, or their draws would interleave.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn tiny_options(data: &Path) -> TrainOptions {
    TrainOptions::new()
        .with_sharp(Some(data.to_path_buf()))
        .with_generator(GeneratorConfig::new().with_base_channels(4).with_blocks(1))
        .with_critic(CriticConfig::patch().with_base_channels(4).with_patch_layers(2))
        .with_crop(32)
        .with_batch(2)
        .with_kernel_size(9)
        .with_trajectory_length(6.0)
        .with_workers(2)
        .with_sample_every(0)
        .with_log_every(1)
}

fn fixed_input() -> Tensor<4> {
    let values: Vec<f32> = (0..3 * 32 * 32).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
    Tensor::from_data(TensorData::new(values, [1, 3, 32, 32]), &Device::flex())
}

fn outputs(trainer: &Trainer) -> Vec<f32> {
    let generator = trainer.generator.clone().valid();
    generator.forward(fixed_input()).into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn a_few_steps_lower_the_loss_on_a_fixed_batch() {
    let _rng = lock();
    let dir = common::scratch("fixed-batch");
    let photos = common::write_sharp(&dir.join("photos"), 2, 48);
    let options = tiny_options(&dir.join("photos")).with_lr(2e-3).with_steps(1000);
    let dataset = Dataset::new(
        Source::Sharp(photos),
        SampleOptions { crop: 32, flip: true, shake: options.shake(), second_shake: None, max_side: None, ..SampleOptions::default() },
        0,
    );
    let batch = make_batch(&dataset, 0, 2).unwrap();
    let mut trainer = Trainer::new(options, &Device::flex()).unwrap();
    let first = trainer.step(&batch);
    assert!(first.non_finite().is_none(), "{first:?}");
    let mut last = first;
    for _ in 0..14 {
        last = trainer.step(&batch);
    }
    assert!(last.non_finite().is_none(), "{last:?}");
    assert!(
        last.content < 0.8 * first.content,
        "content loss {} → {}",
        first.content,
        last.content
    );
    assert_eq!(trainer.step, 15);
}

#[test]
fn a_resumed_run_equals_an_uninterrupted_one() {
    let _rng = lock();
    let dir = common::scratch("resume");
    common::write_sharp(&dir.join("photos"), 3, 40);
    let options = tiny_options(&dir.join("photos")).with_steps(4).with_checkpoint_every(100).with_seed(5);
    let quiet = RunControl { quiet: true, ..RunControl::default() };
    let (outcome, straight) = run(options.clone(), &dir.join("straight"), &Device::flex(), false, quiet.clone()).unwrap();
    assert_eq!(outcome, Outcome::Finished);
    let stop = RunControl { stop_at: Some(2), quiet: true, ..RunControl::default() };
    let (outcome, first_half) = run(options.clone(), &dir.join("resumed"), &Device::flex(), false, stop).unwrap();
    assert_eq!((outcome, first_half.step), (Outcome::Interrupted, 2));
    assert!(dir.join("resumed/checkpoints/step-00000002/state.json").is_file());
    let (outcome, resumed) = run(options, &dir.join("resumed"), &Device::flex(), true, quiet).unwrap();
    assert_eq!((outcome, resumed.step), (Outcome::Finished, 4));
    let (a, b) = (outputs(&straight), outputs(&resumed));
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "resumed output differs by {worst}");
    // The logs of both runs agree step by step.
    let log = |run: &str| std::fs::read_to_string(dir.join(run).join("log.jsonl")).unwrap();
    let strip = |text: String| -> Vec<String> {
        text.lines().map(|l| l.split(",\"images_per_second\"").next().unwrap().to_string()).collect()
    };
    assert_eq!(strip(log("straight")), strip(log("resumed")));
    // Checkpoints are complete folders, no partial ones left.
    let names: Vec<String> = std::fs::read_dir(dir.join("resumed/checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".partial")), "{names:?}");
}

/// Saves a VGG-shaped network under torchvision's key names (`features.{0,2,5,7,10,12,14}`).
fn save_torchvision_layout(vgg: &Vgg16Features, path: &Path) {
    let mut store = SafetensorsStore::from_file(path)
        .with_key_remapping(r"^features\.6\.", "features.14.")
        .with_key_remapping(r"^features\.5\.", "features.12.")
        .with_key_remapping(r"^features\.4\.", "features.10.")
        .with_key_remapping(r"^features\.3\.", "features.7.")
        .with_key_remapping(r"^features\.2\.", "features.5.")
        .with_key_remapping(r"^features\.1\.", "features.2.");
    vgg.save_into(&mut store).unwrap();
}

#[test]
fn the_perceptual_loss_loads_vgg_weights_and_compares_features() {
    let _rng = lock();
    let dir = common::scratch("vgg");
    let device = Device::flex();
    let vgg = Vgg16Features::new([4, 6, 8], &device);
    let path = dir.join("vgg16.safetensors");
    save_torchvision_layout(&vgg, &path);
    let loaded = Vgg16Features::load(&path, &device).unwrap();
    assert_eq!(loaded.features.len(), 7);
    for (a, b) in vgg.features.iter().zip(&loaded.features) {
        assert_eq!(a.weight.val().into_data(), b.weight.val().into_data());
    }
    let loss = ContentLoss::Perceptual(Box::new(loaded));
    let image = fixed_input();
    let same = loss.forward(image.clone(), image.clone()).into_scalar::<f32>();
    assert_eq!(same, 0.0);
    let other = loss.forward(image.clone(), image.flip([3])).into_scalar::<f32>();
    assert!(other > 0.0);
    // A training step with it runs.
    common::write_sharp(&dir.join("photos"), 1, 40);
    let options = tiny_options(&dir.join("photos")).with_vgg(Some(path)).with_steps(1);
    let (outcome, trainer) = run(options, &dir.join("run"), &device, false, RunControl { quiet: true, ..Default::default() }).unwrap();
    assert_eq!(outcome, Outcome::Finished);
    assert_eq!(trainer.content_loss().name(), "perceptual");
}

#[test]
fn a_non_finite_loss_stops_the_run_and_keeps_the_last_checkpoint() {
    let _rng = lock();
    let dir = common::scratch("nan");
    common::write_sharp(&dir.join("photos"), 2, 40);
    let options = tiny_options(&dir.join("photos")).with_steps(2).with_checkpoint_every(1).with_keep(2);
    let quiet = || RunControl { quiet: true, ..Default::default() };
    run(options.clone(), &dir.join("run"), &Device::flex(), false, quiet()).unwrap();
    // A fresh run into a folder that holds one is refused.
    let refused = run(options, &dir.join("run"), &Device::flex(), false, quiet()).err().unwrap();
    assert!(refused.to_string().contains("--resume"), "{refused}");
    // Divergence: continue with an absurd learning rate, which makes the losses non-finite.
    let latest = dir.join("run/checkpoints/step-00000002/state.json");
    use burn::config::Config;
    let mut state = TrainState::load(&latest).unwrap();
    state.options.lr = 1e30;
    state.options.steps = 40;
    state.save(&latest).unwrap();
    let before = std::fs::read(&latest).unwrap();
    let error = run(state.options, &dir.join("run"), &Device::flex(), true, quiet()).err().expect("the run must stop");
    let message = error.to_string();
    assert!(message.contains("loss became") && message.contains("step-00000002"), "{message}");
    let checkpoints = native_trainer::checkpoint::list(&dir.join("run")).unwrap();
    assert_eq!(checkpoints.last().unwrap().0, 2, "{checkpoints:?}");
    assert_eq!(std::fs::read(&latest).unwrap(), before, "the good checkpoint is untouched");
}

#[test]
fn a_run_with_a_validation_set_logs_the_gain_of_its_weights_against_cpu_time() {
    let _rng = lock();
    let dir = common::scratch("validation");
    common::write_sharp(&dir.join("photos"), 2, 48);
    common::write_sharp(&dir.join("held-back"), 2, 80);
    let options = tiny_options(&dir.join("photos"))
        .with_generator(GeneratorConfig::compact_residual().with_base_channels(4).with_blocks(1))
        .with_steps(3)
        .with_lr(1e-2)
        .with_validation(Some(dir.join("held-back")))
        .with_validation_crop(Some(64))
        .with_validate_minutes(Some(0.0));
    let quiet = RunControl { quiet: true, ..RunControl::default() };
    let (_, trainer) = run(options, &dir.join("run"), &Device::flex(), false, quiet).unwrap();
    assert!(trainer.cpu_seconds > 0.0);
    let log = std::fs::read_to_string(dir.join("run/validation.jsonl")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    // Before the first step, and after each.
    assert_eq!(lines.len(), 4, "{log}");
    let field = |line: &str, name: &str| -> f64 {
        let start = line.find(&format!("\"{name}\":")).unwrap_or_else(|| panic!("{name} in {line}")) + name.len() + 3;
        line[start..].split([',', '}']).next().unwrap().parse().unwrap()
    };
    // The untrained residual generator is the identity: no gain, exactly, through the f16
    // weights and the tiles.
    assert_eq!(field(lines[0], "step"), 0.0);
    for strength in ["strong", "moderate"] {
        assert!(field(lines[0], &format!("{strength}_gain")).abs() < 1e-9, "{}", lines[0]);
        assert!(field(lines[0], &format!("{strength}_blurred_psnr")) > 5.0);
    }
    // Training changed the weights, and so the output; CPU time only grows.
    assert!(field(lines[3], "strong_gain") != 0.0, "{}", lines[3]);
    let minutes: Vec<f64> = lines.iter().map(|l| field(l, "train_cpu_minutes")).collect();
    assert!(minutes.windows(2).all(|w| w[1] >= w[0]) && minutes[3] > 0.0, "{minutes:?}");
    // The checkpoint carries the CPU time on.
    let state = std::fs::read_to_string(dir.join("run/checkpoints/step-00000003/state.json")).unwrap();
    assert!(state.contains("\"cpu_seconds\""), "{state}");
}

#[test]
fn checkpoints_written_before_cpu_time_was_kept_still_load() {
    // state.json as the bundled run of 2026-11 wrote it: no cpu_seconds, no validation options.
    let old = r#"{"step": 814, "options": {"data": null, "blurred": null, "sharp": "/photos/train",
        "decay_start": null, "vgg": null, "split": "train",
        "generator": {"base_channels": 32, "blocks": 6, "variant": "Residual", "dropout": 0.0},
        "critic": {"architecture": "Patch", "base_channels": 64, "input_size": 256, "patch_layers": 3,
                   "norm": "Instance", "sigmoid": false},
        "steps": 30000, "batch": 4, "crop": 128, "flip": true, "max_side": 1280, "max_noise": 0.01,
        "kernel_size": 64, "trajectory_length": 60.0, "lr": 0.0001, "beta1": 0.5, "beta2": 0.999,
        "critic_updates": 5, "gp_weight": 10.0, "gp_step": 0.001, "adversarial_weight": 1.0,
        "content_weight": 100.0, "seed": 0, "workers": 2, "log_every": 10, "sample_every": 0,
        "checkpoint_every": 100, "keep": 2}}"#;
    use burn::config::Config;
    let state = TrainState::load_binary(old.as_bytes()).unwrap();
    assert_eq!(state.step, 814);
    assert_eq!(state.cpu_seconds, None);
    assert_eq!(state.options.validation, None);
    assert_eq!(state.options.moderate_share, None);
    assert_eq!(state.options.pixel_loss(), PixelLoss::L1);
    // The runs of the day after asked for L2 with `content_l2`; it still means L2.
    let l2 = old.replace(r#""keep": 2}"#, r#""keep": 2, "content_l2": true}"#);
    let state = TrainState::load_binary(l2.as_bytes()).unwrap();
    assert_eq!(state.options.pixel_loss(), PixelLoss::L2);
    let psnr = old.replace(r#""keep": 2}"#, r#""keep": 2, "pixel_loss": "Psnr"}"#);
    assert_eq!(TrainState::load_binary(psnr.as_bytes()).unwrap().options.pixel_loss(), PixelLoss::Psnr);
}

#[test]
fn the_learning_rate_warms_up_stays_then_decays() {
    let options = TrainOptions::new().with_lr(1e-3).with_steps(100).with_decay_start(Some(60)).with_warmup(Some(10));
    let lr = |step| options.lr_at(step);
    assert!((lr(0) - 1e-4).abs() < 1e-12 && (lr(4) - 5e-4).abs() < 1e-12);
    assert_eq!((lr(9), lr(10), lr(59)), (1e-3, 1e-3, 1e-3));
    assert!((lr(80) - 5e-4).abs() < 1e-12 && lr(100) == 0.0);
    let without = TrainOptions::new().with_lr(1e-3).with_steps(100);
    assert_eq!(without.lr_at(0), 1e-3);
}

#[test]
fn the_content_loss_sees_overshoot_past_white_that_the_clamp_would_hide() {
    let _rng = lock();
    // A generator whose correction is +0.96 everywhere (head bias 2, tanh 2 = 0.96), on a white
    // target: the clamped output is exactly white, the unclamped one 0.86 too bright. The loss
    // must see the overshoot, or nothing stops the network drifting where the clamp hides it.
    let dir = common::scratch("overshoot");
    let options = TrainOptions::new()
        .with_sharp(Some(dir.clone()))
        .with_generator(GeneratorConfig::compact_residual_plain().with_base_channels(4).with_blocks(1))
        .with_adversarial_weight(0.0)
        .with_content_weight(1.0);
    let mut trainer = Trainer::new(options, &Device::flex()).unwrap();
    let head = &mut trainer.generator.as_resnet_mut().expect("a ResNet").head;
    let device = head.bias.as_ref().unwrap().val().device();
    head.bias = Some(burn::module::Param::from_tensor(Tensor::<1>::full([3], 2.0, &device)));
    let batch = native_trainer::data::loader::Batch {
        index: 0,
        blurred: vec![0.9; 3 * 16 * 16],
        sharp: vec![1.0; 3 * 16 * 16],
        size: 1,
        crop: 16,
    };
    let losses = trainer.step(&batch);
    assert!((losses.content - (0.9 + 2f64.tanh() - 1.0)).abs() < 1e-3, "{losses:?}");
}

#[test]
fn a_run_can_start_from_another_runs_generator_with_a_fresh_optimiser() {
    let _rng = lock();
    let dir = common::scratch("init-from");
    common::write_sharp(&dir.join("photos"), 2, 40);
    let quiet = || RunControl { quiet: true, ..RunControl::default() };
    let first = tiny_options(&dir.join("photos")).with_steps(3).with_checkpoint_every(100);
    let (_, stage1) = run(first.clone(), &dir.join("stage1"), &Device::flex(), false, quiet()).unwrap();
    use burn::config::Config;
    // The CPU time its last checkpoint saved (the trainer's own count goes on a little after).
    let stage1_cpu = TrainState::load(dir.join("stage1/checkpoints/step-00000003/state.json")).unwrap().cpu_seconds.unwrap();
    assert!(stage1_cpu > 0.0);
    // Stage 2: another loss and width asked for, starting from stage 1's generator. The
    // architecture is stage 1's; the step counter starts again, and the CPU time carries on.
    let second = tiny_options(&dir.join("photos"))
        .with_generator(GeneratorConfig::new().with_base_channels(8).with_blocks(2))
        .with_pixel_loss(Some(PixelLoss::L2))
        .with_steps(0)
        .with_init_from(Some(dir.join("stage1")));
    let (_, stage2) = run(second.clone(), &dir.join("stage2"), &Device::flex(), false, quiet()).unwrap();
    assert_eq!(stage2.step, 0);
    let shape = |t: &Trainer| (t.options.generator.base_channels, t.options.generator.blocks);
    assert_eq!(shape(&stage2), (4, 1));
    assert_eq!(outputs(&stage2), outputs(&stage1), "stage 2 starts with stage 1's weights");
    assert_eq!(stage2.cpu_seconds, stage1_cpu, "the CPU time carries on");
    assert_eq!(stage2.content_loss().name(), "l2");
    // It trains from there, into its own folder, and says where it started.
    let (_, trained) = run(second.with_steps(2), &dir.join("stage2b"), &Device::flex(), false, quiet()).unwrap();
    assert_eq!(trained.step, 2);
    assert_ne!(outputs(&trained), outputs(&stage1));
    let state = TrainState::load(dir.join("stage2b/checkpoints/step-00000002/state.json")).unwrap();
    assert_eq!(state.options.init_from, Some(dir.join("stage1")));
    // A missing start is refused before anything is written.
    let missing = tiny_options(&dir.join("photos")).with_init_from(Some(dir.join("nowhere")));
    assert!(run(missing, &dir.join("stage3"), &Device::flex(), false, quiet()).is_err());
    assert!(!dir.join("stage3").exists());
    // So is an impossible option.
    let refused = tiny_options(&dir.join("photos")).with_moderate_share(Some(1.5));
    let error = run(refused, &dir.join("stage4"), &Device::flex(), false, quiet()).err().unwrap();
    assert!(error.to_string().contains("[0, 1]"), "{error}");
    assert!(!dir.join("stage4").exists(), "a refused run leaves no folder");
}

/// The first values of a generator's stem weights and of its head's weights.
fn some_weights(generator: &deblurgan::model::Generator) -> Vec<f32> {
    let values = |t: Tensor<4>| t.flatten::<1>(0, 3).narrow(0, 0, 5).into_data().try_to_vec::<f32>().unwrap();
    match generator {
        deblurgan::model::Generator::ResNet(g) => [values(g.stem.conv.weight.val()), values(g.head.weight.val())].concat(),
        deblurgan::model::Generator::UNet(g) => [values(g.stem.weight.val()), values(g.head.weight.val())].concat(),
    }
}

#[test]
fn the_moving_average_blends_each_weight_with_the_current_one() {
    use native_trainer::average::{decay_at, update};
    let _rng = lock();
    let config = GeneratorConfig::compact().with_base_channels(4).with_blocks(1);
    let (a, b) = (config.init(&Device::flex()), config.init(&Device::flex()));
    let blended = update(a.clone(), &b, 0.75);
    let expected: Vec<f32> = some_weights(&a).iter().zip(some_weights(&b)).map(|(a, b)| 0.75 * a + 0.25 * b).collect();
    let got = some_weights(&blended);
    assert!(expected.iter().zip(&got).all(|(e, g)| (e - g).abs() < 1e-6), "{expected:?} vs {got:?}");
    assert_ne!(some_weights(&a), some_weights(&b), "two initialisations differ");
    // The first update replaces the start; then each update adds one more step to an
    // exponentially weighted mean: after three updates of 1, 2, 3 with decay ½, (1·¼ + 2·½ + 3·1) / 1¾.
    assert_eq!(decay_at(0.998, 0), 0.0);
    let mean = [1.0, 2.0, 3.0].iter().enumerate().fold(0.0, |average, (n, w)| {
        let d = decay_at(0.5, n);
        d * average + (1.0 - d) * w
    });
    assert!((mean - (0.25 + 1.0 + 3.0) / 1.75).abs() < 1e-12, "{mean}");
    assert!((decay_at(0.998, 100_000) - 0.998).abs() < 1e-12);
}

#[test]
fn a_run_with_a_moving_average_publishes_it_and_resumes_exactly() {
    use native_trainer::train::{AVERAGE_FILE, load_checkpoint_generator};
    let _rng = lock();
    let dir = common::scratch("average");
    common::write_sharp(&dir.join("photos"), 3, 40);
    let options = tiny_options(&dir.join("photos"))
        .with_steps(6)
        .with_checkpoint_every(100)
        .with_ema(Some(0.9));
    let quiet = RunControl { quiet: true, ..RunControl::default() };
    let (_, straight) = run(options.clone(), &dir.join("straight"), &Device::flex(), false, quiet.clone()).unwrap();
    let average = straight.average.clone().expect("the run keeps an average");
    assert_ne!(some_weights(&average), some_weights(&straight.generator.valid()), "the average lags the weights");
    // The checkpoint publishes the average: eval, export and --init-from load it.
    let checkpoint = dir.join("straight/checkpoints/step-00000006");
    assert!(checkpoint.join(AVERAGE_FILE).is_file());
    let (published, state) = load_checkpoint_generator(&checkpoint, &Device::flex()).unwrap();
    assert_eq!((some_weights(&published), state.step), (some_weights(&average), 6));
    // Stopped and resumed, the average is the same as without the stop.
    let stop = RunControl { stop_at: Some(3), quiet: true, ..RunControl::default() };
    run(options.clone(), &dir.join("resumed"), &Device::flex(), false, stop).unwrap();
    let (_, resumed) = run(options, &dir.join("resumed"), &Device::flex(), true, quiet).unwrap();
    let (a, b) = (some_weights(&average), some_weights(&resumed.published()));
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5), "{a:?} vs {b:?}");
    // A checkpoint that lost its average is refused rather than resumed without it.
    std::fs::remove_file(dir.join("resumed/checkpoints/step-00000006").join(AVERAGE_FILE)).unwrap();
    let error = Trainer::load_checkpoint(&dir.join("resumed/checkpoints/step-00000006"), &Device::flex()).err().unwrap();
    assert!(format!("{error:#}").contains(AVERAGE_FILE), "{error:#}");
    // An impossible decay is refused.
    let refused = tiny_options(&dir.join("photos")).with_ema(Some(1.0));
    let quiet = RunControl { quiet: true, ..RunControl::default() };
    let error = run(refused, &dir.join("refused"), &Device::flex(), false, quiet).err().unwrap();
    assert!(error.to_string().contains("decay"), "{error}");
    assert!(!dir.join("refused").exists(), "a refused run leaves no folder");
}

#[test]
fn a_resumed_run_can_change_its_pixel_loss_and_keeps_the_change() {
    let _rng = lock();
    let dir = common::scratch("resume-loss");
    common::write_sharp(&dir.join("photos"), 2, 40);
    let options = tiny_options(&dir.join("photos")).with_steps(3).with_checkpoint_every(100).with_adversarial_weight(0.0);
    let stop = RunControl { stop_at: Some(1), quiet: true, ..RunControl::default() };
    let (_, first) = run(options.clone(), &dir.join("run"), &Device::flex(), false, stop.clone()).unwrap();
    assert_eq!(first.content_loss().name(), "l1");
    let switch = RunControl { stop_at: Some(2), quiet: true, pixel_loss: Some(PixelLoss::Psnr), ..RunControl::default() };
    let (_, switched) = run(options.clone(), &dir.join("run"), &Device::flex(), true, switch).unwrap();
    assert_eq!((switched.step, switched.content_loss().name()), (2, "psnr"));
    // The change is saved with the run: a plain resume keeps it.
    let quiet = RunControl { quiet: true, ..RunControl::default() };
    let (_, resumed) = run(options, &dir.join("run"), &Device::flex(), true, quiet).unwrap();
    assert_eq!((resumed.step, resumed.content_loss().name()), (3, "psnr"));
}

#[test]
fn a_psnr_weight_adds_that_much_psnr_loss_to_the_content_loss_and_refuses_a_negative_weight() {
    let _rng = lock();
    let dir = common::scratch("psnr-weight");
    let photos = common::write_sharp(&dir.join("photos"), 2, 48);
    // A generator without BatchNorm or dropout: the same function in a training step and alone.
    let unet = GeneratorConfig::unet().with_unet(Some(deblurgan::model::UNetConfig::new().with_width(4).with_levels(2)));
    let options = tiny_options(&dir.join("photos")).with_adversarial_weight(0.0).with_generator(unet);
    let dataset = Dataset::new(
        Source::Sharp(photos),
        SampleOptions { crop: 32, flip: true, shake: options.shake(), second_shake: None, max_side: None, ..SampleOptions::default() },
        0,
    );
    let batch = make_batch(&dataset, 0, 2).unwrap();
    let plain = Trainer::new(options.clone(), &Device::flex()).unwrap();
    let mut weighted = Trainer::new(options.clone().with_psnr_weight(Some(0.01)), &Device::flex()).unwrap();
    weighted.generator = plain.generator.clone();
    // The PSNR term of the same output, computed on its own.
    let (blurred, sharp) = batch.tensors(&Device::flex());
    let psnr = ContentLoss::Psnr.forward(plain.generator.valid().forward_unclamped(blurred), sharp).into_scalar::<f32>() as f64;
    let mut plain = plain;
    let (a, b) = (plain.step(&batch).content, weighted.step(&batch).content);
    assert!((b - (a + 0.01 * psnr)).abs() < 1e-4 * (1.0 + psnr.abs()), "{b} against {a} + 0.01 × {psnr}");
    let refused = run(options.with_psnr_weight(Some(-1.0)), &dir.join("run"), &Device::flex(), false, RunControl::default());
    let message = format!("{:#}", refused.err().expect("a negative weight is refused"));
    assert!(message.contains("PSNR term"), "{message}");
}

#[test]
fn a_resumed_run_can_start_a_moving_average_and_keeps_it() {
    let _rng = lock();
    let dir = common::scratch("resume-ema");
    common::write_sharp(&dir.join("photos"), 2, 40);
    let options = tiny_options(&dir.join("photos")).with_steps(3).with_checkpoint_every(100).with_adversarial_weight(0.0);
    let stop = RunControl { stop_at: Some(1), quiet: true, ..RunControl::default() };
    let (_, first) = run(options.clone(), &dir.join("run"), &Device::flex(), false, stop).unwrap();
    assert!(first.average.is_none());
    let start = RunControl { stop_at: Some(2), quiet: true, ema: Some(0.9), ..RunControl::default() };
    let (_, averaged) = run(options.clone(), &dir.join("run"), &Device::flex(), true, start).unwrap();
    assert!(averaged.average.is_some() && averaged.options.ema == Some(0.9));
    assert!(dir.join("run/checkpoints/step-00000002").join(native_trainer::train::AVERAGE_FILE).is_file());
    let quiet = RunControl { quiet: true, ..RunControl::default() };
    let (_, resumed) = run(options.clone(), &dir.join("run"), &Device::flex(), true, quiet).unwrap();
    assert!(resumed.average.is_some() && resumed.options.ema == Some(0.9));
    let refused = RunControl { quiet: true, ema: Some(1.5), ..RunControl::default() };
    let message = format!("{:#}", run(options, &dir.join("run"), &Device::flex(), true, refused).err().expect("refused"));
    assert!(message.contains("moving average"), "{message}");
}

/// A run resumed with `control(0.8)` (one of the data's shares, read back by `share`) takes
/// that share from the resumed step on and keeps it on a plain resume; `control(1.5)` is refused
/// with an error containing `message`. `name`: the scratch folder.
fn a_resumed_run_keeps_a_changed_share(
    name: &str,
    share: fn(&TrainOptions) -> Option<f64>,
    control: fn(f64) -> RunControl,
    message: &str,
) {
    let _rng = lock();
    let dir = common::scratch(name);
    common::write_sharp(&dir.join("photos"), 2, 40);
    let options = tiny_options(&dir.join("photos")).with_steps(3).with_checkpoint_every(100).with_adversarial_weight(0.0);
    let options = options.with_moderate_share(Some(0.5)).with_sharp_share(Some(0.1));
    let stop = RunControl { stop_at: Some(1), quiet: true, ..RunControl::default() };
    let (_, first) = run(options.clone(), &dir.join("run"), &Device::flex(), false, stop).unwrap();
    assert_ne!(share(&first.options), Some(0.8));
    let change = RunControl { stop_at: Some(2), quiet: true, ..control(0.8) };
    let (_, changed) = run(options.clone(), &dir.join("run"), &Device::flex(), true, change).unwrap();
    assert_eq!((changed.step, share(&changed.options)), (2, Some(0.8)));
    let quiet = RunControl { quiet: true, ..RunControl::default() };
    let (_, resumed) = run(options.clone(), &dir.join("run"), &Device::flex(), true, quiet).unwrap();
    assert_eq!((resumed.step, share(&resumed.options)), (3, Some(0.8)));
    let refused = RunControl { quiet: true, ..control(1.5) };
    let error = format!("{:#}", run(options, &dir.join("run"), &Device::flex(), true, refused).err().expect("refused"));
    assert!(error.contains(message), "{error}");
}

#[test]
fn a_resumed_run_can_change_its_moderate_share_and_keeps_it() {
    a_resumed_run_keeps_a_changed_share(
        "resume-moderate-share",
        |options| options.moderate_share,
        |share| RunControl { moderate_share: Some(share), ..RunControl::default() },
        "moderate shake's share",
    );
}

#[test]
fn a_resumed_run_can_change_its_sharp_share_and_keeps_it() {
    a_resumed_run_keeps_a_changed_share(
        "resume-sharp-share",
        |options| options.sharp_share,
        |share| RunControl { sharp_share: Some(share), ..RunControl::default() },
        "share of sharp samples",
    );
}
