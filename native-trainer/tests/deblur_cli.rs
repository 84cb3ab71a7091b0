//! The `deblur` command end to end: files, folders, bad files, and never overwriting an input.

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::Device;
use deblurgan::model::GeneratorConfig;
use deblurgan::weights::{self, Precision};

const PHOTO: &[u8] = include_bytes!("../../tests/fixtures/photo.jpg");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deblur-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn small_weights(dir: &Path) -> PathBuf {
    let config = GeneratorConfig::compact().with_blocks(1);
    let path = dir.join("small.safetensors");
    weights::save_to_file(&config.init(&Device::flex()), &config, &path, Precision::F16).unwrap();
    path
}

fn deblur(args: &[&Path]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_deblur")).args(args).arg("--device").arg("cpu").output().unwrap()
}

#[test]
fn deblurs_a_folder_reports_bad_files_and_keeps_going() {
    let dir = scratch("folder");
    let weights = small_weights(&dir);
    let inputs = dir.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    let photo = image::load_from_memory(PHOTO).unwrap().crop_imm(100, 100, 130, 90);
    photo.save(inputs.join("good.png")).unwrap();
    std::fs::write(inputs.join("broken.jpg"), b"this is text, not a photo").unwrap();
    std::fs::write(inputs.join("notes.txt"), b"ignored: not a photo name").unwrap();
    let outputs = dir.join("out");

    let result = deblur(&[Path::new("--weights"), &weights, &inputs, Path::new("-o"), &outputs]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "a bad file makes the run fail:\n{stderr}");
    assert!(stderr.contains("broken.jpg: not a supported image"), "{stderr}");
    assert!(stderr.contains("1 photo(s) could not be deblurred"), "{stderr}");
    let out = image::open(outputs.join("good.png")).unwrap();
    assert_eq!((out.width(), out.height()), (130, 90));
    assert!(!outputs.join("notes.png").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn single_file_output_and_no_clobbering() {
    let dir = scratch("single");
    let weights = small_weights(&dir);
    let input = dir.join("photo.jpg");
    std::fs::write(&input, PHOTO).unwrap();
    let output = dir.join("sharp.png");
    let result = deblur(&[Path::new("-w"), &weights, &input, Path::new("-o"), &output, Path::new("--tile-size"), Path::new("128"), Path::new("--overlap"), Path::new("32")]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let out = image::open(&output).unwrap();
    assert_eq!((out.width(), out.height()), (1024, 768));

    // A second run refuses to replace the result, and nothing may ever replace the input.
    let again = deblur(&[Path::new("-w"), &weights, &input, Path::new("-o"), &output]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let onto_input = deblur(&[Path::new("-w"), &weights, &input, Path::new("-o"), &input, Path::new("--overwrite")]);
    assert!(String::from_utf8_lossy(&onto_input.stderr).contains("would overwrite the input"));
    assert_eq!(std::fs::read(&input).unwrap(), PHOTO);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_weights_and_bad_options_are_clear_errors() {
    let dir = scratch("bad");
    let input = dir.join("photo.jpg");
    std::fs::write(&input, PHOTO).unwrap();
    let result = deblur(&[Path::new("-w"), &input, &input, Path::new("-o"), &dir.join("x.png")]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("not a weights file"), "{stderr}");
    let result = deblur(&[&input, Path::new("--tile-size"), Path::new("30")]);
    assert!(String::from_utf8_lossy(&result.stderr).contains("tile size must be"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tiles_follow_the_memory_budget() {
    let dir = scratch("budget");
    let weights = small_weights(&dir);
    let input = dir.join("photo.png");
    image::load_from_memory(PHOTO).unwrap().crop_imm(0, 0, 300, 200).save(&input).unwrap();
    let run = |extra: &[&str], output: &str| {
        let mut args: Vec<&Path> = vec![Path::new("-w"), &weights, &input, Path::new("--overwrite"), Path::new("-o")];
        let output = dir.join(output);
        args.push(&output);
        args.extend(extra.iter().map(Path::new));
        let result = deblur(&args);
        (result.status.success(), String::from_utf8_lossy(&result.stderr).into_owned(), output)
    };
    // By default (1 GiB) a 300×200 photo runs whole.
    let (ok, stderr, whole) = run(&[], "whole.png");
    assert!(ok && stderr.contains("300×200, whole"), "{stderr}");
    // The CPU engine's working memory (300 B a pixel: 18 MB) fits in 30 MiB, burn's (700 B,
    // 42 MB) would not.
    let (ok, stderr, _) = run(&["--max-memory", "30"], "engine.png");
    assert!(ok && stderr.contains("300×200, whole"), "{stderr}");
    // 1 MiB: the smallest tiles, with the overlap asked for; the photo comes back at its size.
    let (ok, stderr, tiled) = run(&["--max-memory", "1", "--overlap", "16"], "tiled.png");
    assert!(ok && stderr.contains("tiles of 128/16"), "{stderr}");
    let (a, b) = (image::open(&whole).unwrap().to_rgb8(), image::open(&tiled).unwrap().to_rgb8());
    assert_eq!(a.dimensions(), b.dimensions());
    // Fixed tiles still exist; nonsense is refused before anything is written.
    let (ok, stderr, _) = run(&["--tile-size", "128", "--overlap", "32"], "fixed.png");
    assert!(ok && stderr.contains("tiles of 128/32"), "{stderr}");
    for (extra, says) in [
        (&["--max-memory", "0"][..], "--max-memory"),
        (&["--max-memory", "1", "--overlap", "4"][..], "overlap must be at least 8"),
        (&["--tile-size", "128", "--no-tiles"][..], "cannot be used with"),
    ] {
        let (ok, stderr, output) = run(extra, "refused.png");
        assert!(!ok && stderr.contains(says), "{extra:?}: {stderr}");
        assert!(!output.exists());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
