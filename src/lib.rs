//! DeblurGAN in burn: the networks, the image pipeline around them (decoding, tensor
//! conversion, tiling) and weights loading, shared by the native trainer and CLI
//! (`native-trainer/`) and the web page (through the wasm bindings in [`wasm`]).
//!
//! ```text
//! bytes ──Photo::decode──▶ Photo (RGB + alpha) ──TilePlan──▶ tiles ──Generator──▶ Blender ──▶ Photo ──▶ PNG
//! ```

pub mod convert;
#[cfg(feature = "train")]
pub mod conv_training;
pub mod cpu_inference;
pub mod deblur;
pub mod files;
pub mod metrics;
pub mod model;
pub mod photo;
pub mod tile_budget;
pub mod tiling;
pub mod weights;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use deblur::{DeblurError, Engine, PreparedGenerator, Progress, TiledDeblur, deblur_photo, deblur_photo_prepared, deblur_rgb, deblur_rgb_on, deblur_rgb_prepared};
#[cfg(not(target_arch = "wasm32"))]
pub use deblur::{deblur_photo_blocking, deblur_photo_prepared_blocking};
pub use model::{Generator, GeneratorConfig, GeneratorVariant};
pub use photo::{Photo, PhotoError};
pub use tiling::TileOptions;
pub use weights::{Precision, WeightsError, WeightsFormat};
