//! The native side of the project: training, evaluation and export of the shared DeblurGAN
//! generator, and the `deblur` command. Everything model- and image-related comes from the
//! root crate, [`deblurgan`].

pub mod average;
pub mod bench;
pub mod bench_deblur;
pub mod checkpoint;
pub mod clip;
pub mod data;
pub mod device;
pub mod eval;
pub mod loss;
pub use deblurgan::metrics;
pub mod official;
pub mod recipe;
pub mod onnx;
pub mod rng;
pub mod train;
pub mod validation;
pub mod vgg;

/// The weights the web page bundles, which the CLI uses when no `--weights` is given.
pub fn bundled_weights_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(deblurgan::weights::BUNDLED_WEIGHTS)
}
