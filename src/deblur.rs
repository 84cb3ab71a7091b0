//! Deblurring a whole photo with a generator: tiles in, blended photo out. One async
//! implementation serves the browser (where device reads must be awaited) and native code
//! (which blocks on it).

use std::sync::Arc;

use burn::tensor::Device;
use image::RgbImage;

use crate::convert::{planar_to_tensor, region_to_planar};
use crate::cpu_inference::CpuGenerator;
use crate::model::Generator;
use crate::photo::Photo;
use crate::tile_budget;
use crate::tiling::{Blender, Tile, TileOptions, TilePlan};

/// How far the work has gone: sent after each tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Tiles done.
    pub done: usize,
    /// Tiles in all.
    pub total: usize,
}

/// Why deblurring stopped.
#[derive(Debug, thiserror::Error)]
pub enum DeblurError {
    /// The caller asked to stop.
    #[error("cancelled")]
    Cancelled,
    /// The device failed (lost, out of memory...).
    #[error("the device failed while deblurring: {0}")]
    Device(String),
}

/// What runs the generator on the tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// On the CPU (burn Flex's device) the [CPU engine](crate::cpu_inference) where it runs the
    /// generator, else burn on the device.
    #[default]
    Auto,
    /// burn's forward pass on the device, whatever it is (to compare the engines).
    Burn,
}

/// `generator` compiled for the CPU engine, where `engine` and `device` choose it and it runs
/// the generator (the official one stays on burn).
fn cpu_engine_for(generator: &Generator, device: &Device, engine: Engine) -> Option<CpuGenerator> {
    (engine == Engine::Auto && *device == Device::flex())
        .then(|| CpuGenerator::compile(generator).ok())
        .flatten()
}

/// A generator ready to run on its device, for any number of photos and tiles: compiled for
/// the CPU engine where that runs it (compiling folds and packs every kernel, and in the page's
/// wasm transforms the blocks' kernels for Winograd: done once, not per photo), else burn's
/// module on the device.
pub struct PreparedGenerator {
    runner: Runner,
    width_factor: f64,
}

impl PreparedGenerator {
    /// `generator` on `device`, on the engine `engine` chooses.
    pub fn new(generator: Generator, device: Device, engine: Engine) -> Self {
        let width_factor = tile_budget::width_factor(&generator);
        Self { runner: Runner::new(generator, device, engine), width_factor }
    }

    /// Whether it runs on the CPU engine.
    pub fn on_cpu_engine(&self) -> bool {
        matches!(self.runner, Runner::Cpu(_))
    }

    /// [`tile_budget::bytes_per_pixel`] of the engine it runs on.
    pub fn bytes_per_pixel(&self) -> usize {
        tile_budget::bytes_per_pixel(self.on_cpu_engine())
    }

    /// [`tile_budget::width_factor`] of the generator.
    pub fn width_factor(&self) -> f64 {
        self.width_factor
    }
}

/// The engine chosen for a generator.
enum Runner {
    Burn { generator: Generator, device: Device },
    Cpu(Box<CpuGenerator>),
}

impl Runner {
    fn new(generator: Generator, device: Device, engine: Engine) -> Self {
        match cpu_engine_for(&generator, &device, engine) {
            Some(compiled) => Runner::Cpu(Box::new(compiled)),
            None => Runner::Burn { generator, device },
        }
    }

    /// The generator's output for `input` (`[3, height, width]` flattened), the same layout.
    /// The CPU engine awaits `after_layer(fraction of the tile done)` after each layer; burn
    /// runs the tile as one.
    async fn run(
        &self,
        input: Vec<f32>,
        width: usize,
        height: usize,
        mut after_layer: impl AsyncFnMut(f64) -> bool,
    ) -> Result<Vec<f32>, DeblurError> {
        match self {
            Runner::Cpu(generator) => {
                let layers = generator.layers() as f64;
                let pass = generator.forward_yielding(&input, width, height, async |done| after_layer(done as f64 / layers).await);
                pass.await.ok_or(DeblurError::Cancelled)
            }
            Runner::Burn { generator, device } => {
                let output = generator.forward(planar_to_tensor(input, width, height, device));
                let device_error = |error: &dyn std::fmt::Debug| DeblurError::Device(format!("{error:?}"));
                let data = output.into_data_async().await.map_err(|e| device_error(&e))?;
                data.try_into_vec::<f32>().map_err(|e| device_error(&e))
            }
        }
    }
}

/// A photo being deblurred, one tile per [`TiledDeblur::step`]. It owns what it needs, so a
/// caller can await between tiles (to report progress, or to let a Cancel arrive).
pub struct TiledDeblur {
    generator: Arc<PreparedGenerator>,
    rgb: RgbImage,
    tiles: Vec<Tile>,
    done: usize,
    blender: Blender,
}

impl TiledDeblur {
    /// Plans the tiles of `rgb`; nothing runs yet.
    pub fn new(generator: Generator, device: Device, rgb: RgbImage, options: TileOptions) -> Self {
        Self::with_engine(generator, device, rgb, options, Engine::Auto)
    }

    /// [`TiledDeblur::new`] on the engine given.
    pub fn with_engine(generator: Generator, device: Device, rgb: RgbImage, options: TileOptions, engine: Engine) -> Self {
        Self::prepared(Arc::new(PreparedGenerator::new(generator, device, engine)), rgb, options)
    }

    /// [`TiledDeblur::new`] on a generator prepared once for several photos.
    pub fn prepared(generator: Arc<PreparedGenerator>, rgb: RgbImage, options: TileOptions) -> Self {
        let plan = TilePlan::new(rgb.width() as usize, rgb.height() as usize, options);
        Self {
            tiles: plan.tiles().collect(),
            blender: Blender::new(plan),
            generator,
            rgb,
            done: 0,
        }
    }

    /// Tiles done so far, and in all.
    pub fn progress(&self) -> Progress {
        Progress {
            done: self.done,
            total: self.tiles.len(),
        }
    }

    /// Whether every tile has been run.
    pub fn is_done(&self) -> bool {
        self.done == self.tiles.len()
    }

    /// Runs the next tile through the generator and blends it in.
    pub async fn step(&mut self) -> Result<Progress, DeblurError> {
        self.step_yielding(async |_| true).await
    }

    /// [`TiledDeblur::step`], awaiting `within_tile(fraction of the tile done)` between the
    /// generator's layers on the CPU engine (on burn, nothing within a tile): a large tile, or
    /// a whole photo, still reports progress and can be cancelled (`false` cancels, and the
    /// tile is not counted).
    pub async fn step_yielding(&mut self, within_tile: impl AsyncFnMut(f64) -> bool) -> Result<Progress, DeblurError> {
        let tile = self.tiles[self.done];
        let (width, height) = tile.input_size();
        let input = region_to_planar(&self.rgb, tile.x as i64, tile.y as i64, width, height);
        let values = self.generator.runner.run(input, width, height, within_tile).await?;
        self.blender.add(&tile, &values, width);
        self.done += 1;
        Ok(self.progress())
    }

    /// The result so far and how many of its rows, from the top, are final (a band of tiles is
    /// final once the next band has started).
    pub fn finished(&self) -> (&RgbImage, usize) {
        self.blender.finished()
    }

    /// The blended result, once every tile is done.
    pub fn finish(self) -> RgbImage {
        assert!(self.is_done(), "{} of {} tiles done", self.done, self.tiles.len());
        self.blender.finish()
    }
}

/// Deblurs an RGB photo tile by tile. `on_progress` is called after every tile; returning
/// `false` from it cancels the work.
pub async fn deblur_rgb(
    generator: &Generator,
    device: &Device,
    rgb: &RgbImage,
    options: TileOptions,
    on_progress: impl FnMut(Progress) -> bool,
) -> Result<RgbImage, DeblurError> {
    deblur_rgb_on(generator, device, rgb, options, Engine::Auto, on_progress).await
}

/// [`deblur_rgb`] on the engine given.
pub async fn deblur_rgb_on(
    generator: &Generator,
    device: &Device,
    rgb: &RgbImage,
    options: TileOptions,
    engine: Engine,
    on_progress: impl FnMut(Progress) -> bool,
) -> Result<RgbImage, DeblurError> {
    let prepared = Arc::new(PreparedGenerator::new(generator.clone(), device.clone(), engine));
    deblur_rgb_prepared(&prepared, rgb, options, on_progress).await
}

/// [`deblur_rgb`] on a generator prepared once for several photos (the CLI, the evaluation):
/// nothing is compiled per photo.
pub async fn deblur_rgb_prepared(
    generator: &Arc<PreparedGenerator>,
    rgb: &RgbImage,
    options: TileOptions,
    mut on_progress: impl FnMut(Progress) -> bool,
) -> Result<RgbImage, DeblurError> {
    let mut job = TiledDeblur::prepared(Arc::clone(generator), rgb.clone(), options);
    while !job.is_done() {
        let progress = job.step().await?;
        if !on_progress(progress) {
            return Err(DeblurError::Cancelled);
        }
    }
    Ok(job.finish())
}

/// Deblurs a photo, keeping its alpha channel untouched.
pub async fn deblur_photo(
    generator: &Generator,
    device: &Device,
    photo: &Photo,
    options: TileOptions,
    on_progress: impl FnMut(Progress) -> bool,
) -> Result<Photo, DeblurError> {
    let rgb = deblur_rgb(generator, device, &photo.rgb, options, on_progress).await?;
    Ok(photo.with_rgb(rgb))
}

/// [`deblur_photo`] for native callers: blocks until done.
#[cfg(not(target_arch = "wasm32"))]
pub fn deblur_photo_blocking(
    generator: &Generator,
    device: &Device,
    photo: &Photo,
    options: TileOptions,
    on_progress: impl FnMut(Progress) -> bool,
) -> Result<Photo, DeblurError> {
    pollster::block_on(deblur_photo(generator, device, photo, options, on_progress))
}

/// [`deblur_photo`] on a generator prepared once for several photos.
pub async fn deblur_photo_prepared(
    generator: &Arc<PreparedGenerator>,
    photo: &Photo,
    options: TileOptions,
    on_progress: impl FnMut(Progress) -> bool,
) -> Result<Photo, DeblurError> {
    let rgb = deblur_rgb_prepared(generator, &photo.rgb, options, on_progress).await?;
    Ok(photo.with_rgb(rgb))
}

/// [`deblur_photo_prepared`] for native callers: blocks until done.
#[cfg(not(target_arch = "wasm32"))]
pub fn deblur_photo_prepared_blocking(
    generator: &Arc<PreparedGenerator>,
    photo: &Photo,
    options: TileOptions,
    on_progress: impl FnMut(Progress) -> bool,
) -> Result<Photo, DeblurError> {
    pollster::block_on(deblur_photo_prepared(generator, photo, options, on_progress))
}
