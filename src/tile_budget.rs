//! Tiles sized by a memory budget instead of fixed: the whole photo at once when its working
//! memory fits the budget (no pixel computed twice, no seams), else the largest tiles that fit.

use crate::model::Generator;
use crate::model::SIZE_MULTIPLE;
use crate::tiling::{TileOptions, TileOptionsError, TilePlan, network_side};

/// Working memory the compact generator needs per pixel it computes on burn, in bytes: the
/// peak resident memory of `deblur --device cpu` on burn Flex (f32) grew by 635 to 670 bytes
/// per pixel of tile between tiles of 256² and 768² (measured 2026-11-25, docs/benchmarks.md),
/// rounded up. The wider `official` generator needs about twice this.
pub const BYTES_PER_PIXEL: usize = 700;

/// The same on the [CPU engine](crate::cpu_inference): the peak resident memory of `deblur
/// --device cpu` grows by 190 to 262 bytes per pixel of tile between tiles of 256², 512², 768²
/// and a whole 1280×720 photo (measured 2026-12-02, docs/benchmarks.md), rounded up.
pub const CPU_ENGINE_BYTES_PER_PIXEL: usize = 300;

/// The default budget of the `deblur` command: 1 GiB.
pub const DEFAULT_BUDGET_BYTES: usize = 1 << 30;

/// The default budget of the page, on the CPU and on WebGPU: 512 MiB, which takes about 1.6
/// megapixels of the U-Net whole on the CPU engine (a 1280×720 photo at once). A browser tab
/// holds its wasm memory once grown, beside everything else the device runs, hence half the
/// command's.
pub const PAGE_BUDGET_BYTES: usize = 512 << 20;

/// The largest buffer the compact generator binds on WebGPU, per pixel of tile, in bytes: the
/// second upsampling's input once nearest-upsampled to the tile's size, 64 channels of f32.
/// burn's convolutions there (direct or implicit GEMM, autotuned; no im2col for kernels larger
/// than 1×1) allocate nothing larger, and every other map is at most half this.
pub const WEBGPU_LARGEST_BINDING_BYTES_PER_PIXEL: usize = 256;

/// The working memory per pixel for [`tiles_within`] of the engine that runs the generator:
/// [`CPU_ENGINE_BYTES_PER_PIXEL`] on the CPU engine, else [`BYTES_PER_PIXEL`]
/// ([`crate::PreparedGenerator::on_cpu_engine`] tells which).
pub fn bytes_per_pixel(on_cpu_engine: bool) -> usize {
    if on_cpu_engine { CPU_ENGINE_BYTES_PER_PIXEL } else { BYTES_PER_PIXEL }
}

/// The U-Net's working memory per pixel (24 channels, 4 levels) over the compact generator's
/// budget: `deblur --device cpu` on the CPU engine grew by 302 bytes per pixel between whole
/// photos of 640×360 and 1280×720 (peak resident memory, measured 2026-12-07), against the 300 of
/// [`CPU_ENGINE_BYTES_PER_PIXEL`]; rounded up. Its skips keep every level's maps until the
/// decoder uses them, so it needs more than its 24 full-resolution channels alone would say.
pub const UNET_MEMORY_FACTOR: f64 = 1.1;

/// `generator`'s working memory per pixel over the compact generator's (32 base channels), on
/// which the figures per pixel were measured: the `width_factor` of [`tiles_within`]. A ResNet's
/// scales with its full-resolution channels, a U-Net's with its width from the measured one.
pub fn width_factor(generator: &Generator) -> f64 {
    match generator {
        Generator::ResNet(_) => generator.full_resolution_channels() as f64 / 32.0,
        Generator::UNet(unet) => unet.width() as f64 / 24.0 * UNET_MEMORY_FACTOR,
    }
}

/// How a `width`×`height` photo is cut so that the generator's working memory stays within
/// `budget_bytes` (at `bytes_per_pixel` × `width_factor`, the generator's width over the
/// compact one's; [`BYTES_PER_PIXEL`] on burn, [`CPU_ENGINE_BYTES_PER_PIXEL`] on the CPU
/// engine): the whole photo if it fits, else square tiles of the largest side that fits,
/// overlapping by `overlap`. Tiles are never smaller than 128 pixels (nor than twice the
/// overlap), whatever the budget; an overlap below 8 pixels is refused.
pub fn tiles_within(
    width: usize,
    height: usize,
    budget_bytes: usize,
    bytes_per_pixel: usize,
    width_factor: f64,
    overlap: usize,
) -> Result<TileOptions, TileOptionsError> {
    let per_pixel = bytes_per_pixel as f64 * width_factor.max(0.1);
    let whole = (network_side(width) * network_side(height)) as f64 * per_pixel;
    if whole <= budget_bytes as f64 {
        return Ok(TileOptions::whole_image());
    }
    let smallest = (2 * overlap + 1).next_multiple_of(SIZE_MULTIPLE).max(128);
    let largest = ((budget_bytes as f64 / per_pixel).sqrt() as usize / SIZE_MULTIPLE * SIZE_MULTIPLE).max(smallest);
    // As many tiles as the largest side needs along each axis, then the smallest side that
    // still covers the photo with that many: less computed twice.
    let needed = |len: usize| -> usize {
        let count = len.saturating_sub(overlap).div_ceil(largest - overlap).max(1);
        (len + (count - 1) * overlap).div_ceil(count)
    };
    let side = needed(width).max(needed(height)).next_multiple_of(SIZE_MULTIPLE).clamp(smallest, largest);
    TileOptions::new(side, overlap)
}

/// How the page cuts a `width`×`height` photo on WebGPU: [`tiles_within`] `budget_bytes` of
/// burn's working memory ([`BYTES_PER_PIXEL`]), in tiles whose largest buffer
/// ([`WEBGPU_LARGEST_BINDING_BYTES_PER_PIXEL`], × `width_factor`) the device can bind:
/// `binding_limit_bytes` is the smaller of its `maxStorageBufferBindingSize` and
/// `maxBufferSize` (128 MiB where an adapter grants no more than WebGPU's defaults).
pub fn webgpu_tiles(
    width: usize,
    height: usize,
    budget_bytes: usize,
    binding_limit_bytes: u64,
    width_factor: f64,
    overlap: usize,
) -> Result<TileOptions, TileOptionsError> {
    // The binding limit as a budget of working memory: the same pixels, at burn's bytes a pixel.
    let by_binding = binding_limit_bytes as f64 / WEBGPU_LARGEST_BINDING_BYTES_PER_PIXEL as f64 * BYTES_PER_PIXEL as f64;
    let budget = (budget_bytes as f64).min(by_binding) as usize;
    tiles_within(width, height, budget, BYTES_PER_PIXEL, width_factor, overlap)
}

/// Pixels the generator computes for a `width`×`height` photo cut by `options`, over the
/// photo's own: 1 for the whole photo, about 2 for tiles of 256 overlapping by 64.
pub fn computed_pixels_factor(width: usize, height: usize, options: TileOptions) -> f64 {
    let plan = TilePlan::new(width, height, options);
    let computed: usize = plan.tiles().map(|t| network_side(t.width) * network_side(t.height)).sum();
    computed as f64 / (width * height) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiling::DEFAULT_OVERLAP;

    fn tiles(width: usize, height: usize, budget: usize, factor: f64) -> TileOptions {
        tiles_within(width, height, budget, BYTES_PER_PIXEL, factor, DEFAULT_OVERLAP).unwrap()
    }

    #[test]
    fn a_photo_that_fits_runs_whole_and_a_larger_one_in_the_largest_tiles_that_fit() {
        // 1280×720 needs about 645 MB: whole within 1 GiB.
        assert_eq!(tiles(1280, 720, DEFAULT_BUDGET_BYTES, 1.0), TileOptions::whole_image());
        assert_eq!(computed_pixels_factor(1280, 720, TileOptions::whole_image()), 1.0);
        // 4000×3000 (12 MP) needs 8.4 GB: tiles of the largest side within 1 GiB.
        let options = tiles(4000, 3000, DEFAULT_BUDGET_BYTES, 1.0);
        let side = options.tile_size.expect("tiles");
        assert!(side * side * BYTES_PER_PIXEL <= DEFAULT_BUDGET_BYTES, "{side}");
        // As few tiles as the largest side that fits would need, each no larger than needed.
        let largest = ((DEFAULT_BUDGET_BYTES / BYTES_PER_PIXEL) as f64).sqrt() as usize / SIZE_MULTIPLE * SIZE_MULTIPLE;
        let count = |side| TilePlan::new(4000, 3000, TileOptions::new(side, DEFAULT_OVERLAP).unwrap()).len();
        assert_eq!(count(side), count(largest));
        assert!(count(side - 8) > count(side), "{side} is larger than needed");
        assert_eq!((side % SIZE_MULTIPLE, options.overlap), (0, DEFAULT_OVERLAP));
        assert!(computed_pixels_factor(4000, 3000, options) < 1.25);
        // A wider generator gets smaller tiles; a tiny budget still gets usable ones.
        let wide = tiles(4000, 3000, DEFAULT_BUDGET_BYTES, 2.0).tile_size.unwrap();
        assert!(wide < side);
        assert_eq!(tiles_within(4000, 3000, 1, BYTES_PER_PIXEL, 1.0, 32).unwrap().tile_size, Some(128));
        // Twice the overlap and one, grown to a multiple of 8.
        assert_eq!(tiles_within(4000, 3000, 1, BYTES_PER_PIXEL, 1.0, 64).unwrap().tile_size, Some(136));
        assert!(tiles_within(4000, 3000, 1, BYTES_PER_PIXEL, 1.0, 4).is_err());
        // The CPU engine's smaller working memory takes larger tiles for the same budget.
        let engine = tiles_within(4000, 3000, DEFAULT_BUDGET_BYTES, CPU_ENGINE_BYTES_PER_PIXEL, 1.0, DEFAULT_OVERLAP).unwrap();
        assert!(engine.tile_size.unwrap() > side, "{engine:?}");
        // The fixed 256/64 plan computes twice the photo's pixels at 1280×720.
        let fixed = computed_pixels_factor(1280, 720, TileOptions::default());
        assert!((1.9..2.1).contains(&fixed), "{fixed}");
    }

    #[test]
    fn the_working_memory_is_that_of_the_engine_that_runs_the_generator() {
        use burn::tensor::Device;

        use crate::deblur::{Engine, PreparedGenerator};
        use crate::model::{GeneratorConfig, GeneratorVariant};
        let device = Device::flex();
        let prepared = |generator: &Generator, engine| PreparedGenerator::new(generator.clone(), device.clone(), engine).bytes_per_pixel();
        let compact = GeneratorConfig::new().with_base_channels(32).with_blocks(1).with_variant(GeneratorVariant::Residual).init(&device);
        assert_eq!(prepared(&compact, Engine::Auto), CPU_ENGINE_BYTES_PER_PIXEL);
        assert_eq!(prepared(&compact, Engine::Burn), BYTES_PER_PIXEL);
        assert_eq!(width_factor(&compact), 1.0);
        // The official generator (64 channels) stays on burn, at twice the compact one's width.
        let official = GeneratorConfig::new().with_variant(GeneratorVariant::Official).with_blocks(1).init(&device);
        assert_eq!(prepared(&official, Engine::Auto), BYTES_PER_PIXEL);
        assert_eq!(width_factor(&official), 2.0);
        // The U-Net by its measured memory, not by its 24 full-resolution channels (0.75).
        let unet = GeneratorConfig::unet().init(&device);
        assert_eq!(width_factor(&unet), UNET_MEMORY_FACTOR);
    }

    #[test]
    fn the_page_s_cpu_path_takes_1280x720_whole_and_12_megapixels_in_a_dozen_tiles() {
        let page = |width, height| tiles_within(width, height, PAGE_BUDGET_BYTES, CPU_ENGINE_BYTES_PER_PIXEL, 1.0, DEFAULT_OVERLAP).unwrap();
        assert_eq!(page(1280, 720), TileOptions::whole_image());
        let options = page(4000, 3000);
        let side = options.tile_size.expect("tiles");
        assert!(side * side * CPU_ENGINE_BYTES_PER_PIXEL <= PAGE_BUDGET_BYTES, "{side}");
        assert_eq!(TilePlan::new(4000, 3000, options).len(), 12);
        // Tiles of 256/64 compute about twice the photo's pixels.
        let factor = computed_pixels_factor(4000, 3000, options);
        assert!(factor < 1.15, "{factor}");
        assert!(computed_pixels_factor(4000, 3000, TileOptions::default()) > 1.7);
    }

    #[test]
    fn the_page_s_webgpu_tiles_stay_within_the_device_s_binding_limit_and_the_budget() {
        let side_of = |options: TileOptions| options.tile_size.expect("tiles");
        let largest_binding = |side: usize| (side * side * WEBGPU_LARGEST_BINDING_BYTES_PER_PIXEL) as u64;
        // WebGPU's default limit, 128 MiB: 1280×720 (236 MB at its largest buffer) in two tiles.
        let default_limit = 128 << 20;
        let options = webgpu_tiles(1280, 720, PAGE_BUDGET_BYTES, default_limit, 1.0, DEFAULT_OVERLAP).unwrap();
        assert!(largest_binding(side_of(options)) <= default_limit, "{options:?}");
        assert_eq!(TilePlan::new(1280, 720, options).len(), 2, "{options:?}");
        assert!(computed_pixels_factor(1280, 720, options) < 1.2);
        // A photo of up to about 0.5 MP runs whole; so does a thin tall one.
        assert_eq!(webgpu_tiles(700, 700, PAGE_BUDGET_BYTES, default_limit, 1.0, DEFAULT_OVERLAP).unwrap(), TileOptions::whole_image());
        assert_eq!(webgpu_tiles(32, 520, PAGE_BUDGET_BYTES, default_limit, 1.0, DEFAULT_OVERLAP).unwrap(), TileOptions::whole_image());
        // 12 MP at the default limit, and on a device that binds 2 GiB, where the memory budget
        // decides: larger tiles.
        let options = webgpu_tiles(4000, 3000, PAGE_BUDGET_BYTES, default_limit, 1.0, DEFAULT_OVERLAP).unwrap();
        assert!(largest_binding(side_of(options)) <= default_limit, "{options:?}");
        assert!(computed_pixels_factor(4000, 3000, options) < 1.3);
        let large_limit = 2 << 30;
        let large = webgpu_tiles(4000, 3000, PAGE_BUDGET_BYTES, large_limit, 1.0, DEFAULT_OVERLAP).unwrap();
        let side = side_of(large);
        assert!(side * side * BYTES_PER_PIXEL <= PAGE_BUDGET_BYTES && side > side_of(options), "{large:?}");
        assert_eq!(webgpu_tiles(1280, 720, 1 << 30, large_limit, 1.0, DEFAULT_OVERLAP).unwrap(), TileOptions::whole_image());
        // A wider generator binds twice as much per pixel.
        let wide = side_of(webgpu_tiles(4000, 3000, PAGE_BUDGET_BYTES, default_limit, 2.0, DEFAULT_OVERLAP).unwrap());
        assert!(2 * largest_binding(wide) <= default_limit, "{wide}");
    }
}
