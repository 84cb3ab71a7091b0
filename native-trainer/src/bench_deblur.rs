//! `bench-deblur`: how long this project takes to deblur a photo of a given size, as `deblur`
//! runs it (tile plan, blending, 8-bit conversion), with the pixels the tiles make the network
//! compute; `scripts/bench-native.sh` prints it beside onnxruntime on the same network.

use std::time::Instant;

use anyhow::Result;
use burn::tensor::Device;
use deblurgan::model::Generator;
use deblurgan::tile_budget::computed_pixels_factor;
use deblurgan::tiling::TilePlan;
use deblurgan::{Engine, TileOptions, deblur_rgb_on};
use image::RgbImage;

use crate::validation::process_cpu_seconds;

/// The timing of one piece of work.
#[derive(Debug, Clone, PartialEq)]
pub struct DeblurBench {
    /// Photo width and height.
    pub size: (u32, u32),
    /// Tiles the photo is cut into.
    pub tiles: usize,
    /// Pixels the network computes over the photo's pixels (1 for the whole photo at once).
    pub computed_pixels: f64,
    /// Median wall seconds of the timed runs.
    pub seconds: f64,
    /// CPU seconds per wall second over the timed runs.
    pub cores_busy: Option<f64>,
}

impl DeblurBench {
    /// One line of the table `bench-deblur` prints (tab-separated, as the benchmark script
    /// reads it): size, tile plan, tiles, computed-pixels factor, seconds, cores busy.
    pub fn row(&self, plan: &str) -> String {
        let cores = self.cores_busy.map_or_else(|| "?".to_string(), |c| format!("{c:.2}"));
        format!(
            "{}x{}\t{plan}\t{}\t{:.2}\t{:.3}\t{cores}",
            self.size.0, self.size.1, self.tiles, self.computed_pixels, self.seconds
        )
    }
}

/// Deblurs `photo` on `engine` `warmup` times untimed, then `runs` times timed.
pub fn bench_deblur(
    generator: &Generator,
    device: &Device,
    photo: &RgbImage,
    options: TileOptions,
    engine: Engine,
    runs: usize,
    warmup: usize,
) -> Result<DeblurBench> {
    let once = || pollster::block_on(deblur_rgb_on(generator, device, photo, options, engine, |_| true)).map_err(|e| anyhow::anyhow!("{e}"));
    for _ in 0..warmup {
        once()?;
    }
    let cpu_start = process_cpu_seconds();
    let clock = Instant::now();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        once()?;
        times.push(start.elapsed().as_secs_f64());
    }
    let wall = clock.elapsed().as_secs_f64();
    let cores_busy = cpu_start.zip(process_cpu_seconds()).map(|(start, end)| (end - start) / wall);
    times.sort_by(f64::total_cmp);
    let (width, height) = (photo.width() as usize, photo.height() as usize);
    Ok(DeblurBench {
        size: (photo.width(), photo.height()),
        tiles: TilePlan::new(width, height, options).len(),
        computed_pixels: computed_pixels_factor(width, height, options),
        seconds: times[times.len() / 2],
        cores_busy,
    })
}
