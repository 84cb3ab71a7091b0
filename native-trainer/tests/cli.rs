//! The `native-trainer` commands end to end on tiny data: train (Ctrl-C, resume), eval, export.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use deblurgan::weights::{self, Precision};

fn trainer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_native-trainer"))
}

fn train_args(photos: &Path, run: &Path, steps: usize) -> Vec<String> {
    [
        "train", "--device", "cpu", "--architecture", "compact", "--crop", "32", "--batch", "1",
        "--critic-channels", "8", "--kernel-size", "9", "--trajectory-length", "6", "--workers", "1",
        "--log-every", "1", "--sample-every", "2", "--checkpoint-every", "2", "--keep", "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["--steps".into(), steps.to_string(), "--sharp".into(), photos.display().to_string(), "-o".into(), run.display().to_string()])
    .collect()
}

fn check(output: Output) -> Output {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn train_is_interrupted_resumed_evaluated_and_exported() {
    let dir = common::scratch("cli");
    let photos = dir.join("photos");
    common::write_sharp(&photos, 3, 48);
    let run = dir.join("run");
    // Ctrl-C: a long run is interrupted once its first checkpoint exists.
    let child = trainer().args(train_args(&photos, &run, 100_000)).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while native_trainer::checkpoint::latest(&run).unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(120), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    check(Command::new("kill").args(["-INT", &child.id().to_string()]).output().unwrap());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let (stopped_at, _) = native_trainer::checkpoint::latest(&run).unwrap().unwrap();
    assert!(stopped_at >= 2);
    // Resume to a few steps more, with the photos moved (as on another machine): --sharp says
    // where they are now.
    let moved = dir.join("photos-elsewhere");
    std::fs::rename(&photos, &moved).unwrap();
    let photos = moved;
    let target = stopped_at + 3;
    let mut args = train_args(&photos, &run, target);
    args.push("--resume".into());
    check(trainer().args(&args).output().unwrap());
    assert_eq!(native_trainer::checkpoint::latest(&run).unwrap().unwrap().0, target);
    assert!(native_trainer::checkpoint::list(&run).unwrap().len() <= 2, "only the last 2 are kept");
    let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
    assert!(log.lines().count() >= target, "{log}");
    assert!(log.lines().last().unwrap().starts_with(&format!("{{\"step\":{target},")));
    assert!(std::fs::read_dir(run.join("samples")).unwrap().count() >= 1);
    assert!(run.join("generator.bpk").is_file());
    // Eval over the photos, blurred with a fixed seed.
    let json = dir.join("eval.json");
    let output = check(
        trainer()
            .args(["eval", "--device", "cpu", "--max-side", "64", "--tile-size", "32", "--overlap", "8", "-w"])
            .arg(&run)
            .arg("--sharp")
            .arg(&photos)
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap(),
    );
    let table = String::from_utf8_lossy(&output.stdout);
    for row in ["256x256    sharp", "256x256    blurred", "256x256    deblurred", "full       blurred", "full       deblurred"] {
        assert!(table.contains(row), "{table}");
    }
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(report.contains("\"resolution\": \"full\"") && report.contains("\"sharpness_ratio\""), "{report}");
    // A second evaluation gives the same numbers (fixed blur seed).
    let again = check(trainer().args(["eval", "--device", "cpu", "--only-256", "-w"]).arg(&run).arg("--sharp").arg(&photos).arg("--json").arg(dir.join("again.json")).output().unwrap());
    let first_rows: Vec<&str> = table.lines().filter(|l| l.starts_with("256")).collect();
    let again_table = String::from_utf8_lossy(&again.stdout);
    let again_rows: Vec<&str> = again_table.lines().filter(|l| l.starts_with("256")).collect();
    assert_eq!(first_rows, again_rows);
    // Eval over a GoPro test split (real pairs).
    let scene = dir.join("GOPRO_Large/test/GOPR0001_00_00");
    common::write_pairs(&scene.join("blur"), &scene.join("sharp"), 2, 40);
    let gopro = check(
        trainer()
            .args(["eval", "--device", "cpu", "-w"])
            .arg(&run)
            .arg("--data")
            .arg(dir.join("GOPRO_Large"))
            .arg("--json")
            .arg(dir.join("gopro.json"))
            .output()
            .unwrap(),
    );
    let gopro_table = String::from_utf8_lossy(&gopro.stdout);
    let row: Vec<&str> = gopro_table.lines().find(|l| l.starts_with("full       blurred")).unwrap().split_whitespace().collect();
    assert_eq!(row[2], "2", "two pairs: {gopro_table}");
    // Export the page's weights: f16 with the configuration.
    let exported = dir.join("deblurgan.bpk");
    check(trainer().args(["export", "--from"]).arg(&run).arg("-o").arg(&exported).output().unwrap());
    let info = weights::read_info(&std::fs::read(&exported).unwrap()).unwrap();
    assert_eq!(info.precision, Precision::F16);
    assert_eq!((info.config.base_channels, info.config.blocks), (32, 6));
    weights::load_from_file(&exported, &Device::flex()).unwrap();
}

#[test]
fn eval_synthesises_the_blur_it_is_told_and_refuses_impossible_blurs() {
    let dir = common::scratch("cli-blur");
    let photos = dir.join("photos");
    common::write_sharp(&photos, 2, 64);
    let weights_file = dir.join("identity.bpk");
    check(trainer().args(["init", "--architecture", "compact-residual-plain", "-o"]).arg(&weights_file).output().unwrap());
    let eval = |extra: &[&str], json: &str| {
        trainer()
            .args(["eval", "--device", "cpu", "--only-full", "--tile-size", "32", "--overlap", "8", "-w"])
            .arg(&weights_file)
            .arg("--sharp")
            .arg(&photos)
            .arg("--json")
            .arg(dir.join(json))
            .args(extra)
            .output()
            .unwrap()
    };
    let blurred_psnr = |json: &str| -> f64 {
        let report = std::fs::read_to_string(dir.join(json)).unwrap();
        let at = report.find("\"blurred\": {\"psnr\": ").unwrap() + 20;
        report[at..].split(',').next().unwrap().parse().unwrap()
    };
    check(eval(&["--shake", "moderate", "--blur-noise", "0"], "moderate.json"));
    check(eval(&["--shake", "moderate", "--blur-noise", "0", "--blur-length", "3", "--blur-min-length", "2"], "mild.json"));
    let report = std::fs::read_to_string(dir.join("moderate.json")).unwrap();
    assert!(report.contains("\"blur\": \"moderate: paths 5-25 px on a 32 px kernel"), "{report}");
    // Shorter paths blur less.
    assert!(blurred_psnr("mild.json") > blurred_psnr("moderate.json") + 1.0);
    // The untrained residual generator returns its input: deblurred = blurred.
    let at = report.find("\"deblurred\": {\"psnr\": ").unwrap() + 22;
    let deblurred: f64 = report[at..].split(',').next().unwrap().parse().unwrap();
    assert!((deblurred - blurred_psnr("moderate.json")).abs() < 1e-9, "{report}");
    for (extra, says) in [
        (&["--blur-min-length", "30", "--shake", "moderate"][..], "--blur-min-length"),
        (&["--blur-exposures", "0.5,2"][..], "--blur-exposures"),
        (&["--blur-noise=-1"][..], "--blur-noise"),
        (&["--blur-kernel-size", "1"][..], "--blur-kernel-size"),
    ] {
        let output = eval(extra, "refused.json");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(says), "{extra:?}: {stderr}");
    }
    assert!(!dir.join("refused.json").exists(), "nothing is written for a refused blur");
}

#[test]
fn a_new_stage_and_a_resume_at_once_are_refused() {
    let dir = common::scratch("cli-init-from");
    let photos = dir.join("photos");
    common::write_sharp(&photos, 1, 48);
    let mut args = train_args(&photos, &dir.join("run"), 1);
    args.extend(["--resume".into(), "--init-from".into(), dir.join("elsewhere").display().to_string()]);
    let output = trainer().args(args).output().unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("--init-from") && message.contains("--resume"), "{message}");
    assert!(!dir.join("run").exists());
}
