//! Thin wasm-bindgen bindings for the web page's worker: pick a device once, load weights,
//! deblur photo bytes into PNG bytes. All the work is done by the rest of this crate.

use std::cell::RefCell;
use std::sync::Arc;

use burn::tensor::Device;
use image::{GrayImage, RgbImage};
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::tiling::DEFAULT_TILE_SIZE;
use crate::{DeblurError, Photo, PreparedGenerator, TileOptions, TiledDeblur, tile_budget, weights};

/// The device and the loaded generator, kept for the page's lifetime.
struct Engine {
    device: Device,
    /// The loaded weights, prepared once for every photo (on the CPU, compiled for the CPU
    /// engine).
    generator: Option<Arc<PreparedGenerator>>,
    /// On WebGPU, the largest buffer the device binds: the smaller of its
    /// `maxStorageBufferBindingSize` and `maxBufferSize`.
    binding_limit: Option<u64>,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn error(message: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&message.to_string()).into()
}

fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in entries {
        Reflect::set(&object, &(*key).into(), value).expect("setting a property of a new object");
    }
    object.into()
}

/// The page's threaded build starts its pool of Web Workers with `initThreadPool(count)`, after
/// the module and before `initBackend`.
#[cfg(feature = "wasm-threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

/// Initialises the device, once per worker: WebGPU when `use_gpu` and an adapter is granted (in
/// the build with WebGPU), else the CPU (the CPU engine; burn Flex for the generators it does
/// not run). Returns `{ backend: "webgpu" | "cpu", adapter, threads, fallback_reason }`.
#[wasm_bindgen(js_name = initBackend)]
pub async fn init_backend(use_gpu: bool) -> Result<JsValue, JsValue> {
    if ENGINE.with_borrow(Option::is_some) {
        return Err(error("the backend is already initialised"));
    }
    let mut fallback_reason = JsValue::NULL;
    if use_gpu {
        open_gpu_cache().await;
        match start_webgpu().await {
            Ok((device, adapter, binding_limit)) => {
                ENGINE.set(Some(Engine { device, generator: None, binding_limit: Some(binding_limit) }));
                return Ok(object(&[
                    ("backend", "webgpu".into()),
                    ("adapter", adapter.into()),
                    ("threads", 1.into()),
                    ("fallback_reason", JsValue::NULL),
                ]));
            }
            Err(reason) => fallback_reason = reason.into(),
        }
    }
    ENGINE.set(Some(Engine {
        device: Device::flex(),
        generator: None,
        binding_limit: None,
    }));
    let threads = cpu_threads();
    let threads_text = match threads {
        1 => "one thread".to_string(),
        threads => format!("{threads} threads"),
    };
    // The build with relaxed SIMD's multiply-add (pkg-threads-relaxed/) says so.
    let relaxed = if cfg!(feature = "relaxed-simd") { ", relaxed SIMD" } else { "" };
    let adapter = format!("WebAssembly (CPU engine, {threads_text}{relaxed})");
    Ok(object(&[
        ("backend", "cpu".into()),
        ("adapter", adapter.into()),
        ("threads", threads.into()),
        ("fallback_reason", fallback_reason),
    ]))
}

/// WebGPU's device, the adapter's name and the largest buffer the device binds, or why it
/// could not start.
#[cfg(feature = "webgpu")]
async fn start_webgpu() -> Result<(Device, String, u64), String> {
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|reason| format!("WebGPU could not start: {reason}"))?;
    let info = setup.adapter.get_info();
    let adapter = [info.name, info.driver, info.driver_info]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    let limits = setup.device.limits();
    let binding_limit = u64::from(limits.max_storage_buffer_binding_size).min(limits.max_buffer_size);
    Ok((device, adapter, binding_limit))
}

#[cfg(not(feature = "webgpu"))]
async fn start_webgpu() -> Result<(Device, String, u64), String> {
    Err("this build of the page has no WebGPU".into())
}

/// Opens the cache where burn keeps its autotune results (which kernel is fastest for each
/// shape on this GPU), before the device that fills it: a database in the origin's private
/// file system (OPFS), so a later visit finds the kernels tuned. Where OPFS cannot be opened
/// (another tab holds it, private browsing), the results live in memory for this visit.
#[cfg(feature = "webgpu")]
async fn open_gpu_cache() {
    burn::cubecl::environment::open().await;
}

#[cfg(not(feature = "webgpu"))]
async fn open_gpu_cache() {}

/// Autotune results in the GPU's cache (see [`open_gpu_cache`]): those kept from earlier
/// visits, plus this visit's once they are written.
#[wasm_bindgen(js_name = tunedKernels)]
pub fn tuned_kernels() -> f64 {
    #[cfg(feature = "webgpu")]
    return burn::cubecl::environment::namespaces()
        .iter()
        .filter(|summary| summary.namespace.starts_with("autotune"))
        .map(|summary| summary.entries as f64)
        .sum();
    #[cfg(not(feature = "webgpu"))]
    0.0
}

/// Runs the generator once on a `side`² tile of mid-grey (by default 256²), exactly as a
/// photo's tile of that side runs, so that the device compiles its kernels (and on a first
/// visit tunes them for that size) while the person is still choosing a photo. Tiles of other
/// sizes reuse the compiled kernels; burn tunes their shapes at their first photo, and keeps
/// the results (see [`open_gpu_cache`]).
#[wasm_bindgen(js_name = warmUp)]
pub async fn warm_up(side: Option<usize>) -> Result<(), JsValue> {
    let generator = loaded()?;
    let side = side.unwrap_or(DEFAULT_TILE_SIZE);
    if !(1..=4096).contains(&side) {
        return Err(error(format!("a warm-up tile of {side}² pixels")));
    }
    let tile = RgbImage::from_pixel(side as u32, side as u32, image::Rgb([128; 3]));
    let mut job = TiledDeblur::prepared(generator, tile, TileOptions::whole_image());
    job.step().await.map_err(error)?;
    Ok(())
}

/// The loaded generator, prepared for its device.
fn loaded() -> Result<Arc<PreparedGenerator>, JsValue> {
    ENGINE.with_borrow(|engine| {
        let engine = engine.as_ref().ok_or_else(|| error("initBackend first"))?;
        engine.generator.clone().ok_or_else(|| error("loadWeights first"))
    })
}

/// Threads the CPU engine's bands run on: the pool's in the threaded build.
fn cpu_threads() -> usize {
    #[cfg(feature = "wasm-threads")]
    return rayon::current_num_threads();
    #[cfg(not(feature = "wasm-threads"))]
    1
}

/// Bytes of the module's memory, which only ever grows (shown by the page to tell that memory
/// stays flat over many photos). In the threaded build the memory is imported, not exported.
#[wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    (core::arch::wasm32::memory_size::<0>() * 65536) as f64
}

/// Loads a weights file (burnpack or safetensors) onto the device; returns its description.
#[wasm_bindgen(js_name = loadWeights)]
pub fn load_weights(bytes: &[u8]) -> Result<String, JsValue> {
    ENGINE.with_borrow_mut(|engine| {
        let engine = engine.as_mut().ok_or_else(|| error("initBackend first"))?;
        let (generator, config) = weights::load_from_bytes(bytes, &engine.device).map_err(error)?;
        engine.generator = Some(Arc::new(PreparedGenerator::new(generator, engine.device.clone(), crate::Engine::Auto)));
        Ok(weights::describe(&config))
    })
}

/// Deblurs a JPEG, PNG or WebP photo into a PNG of the same size.
///
/// Tiles: `tile_size`² overlapping by `overlap` when a tile size is given; else the whole photo
/// when its working memory fits `budget_bytes` (by default [`tile_budget::PAGE_BUDGET_BYTES`])
/// and the largest tiles that fit otherwise ([`tile_budget::tiles_within`], as the `deblur`
/// command does), on WebGPU also within the buffers the device binds
/// ([`tile_budget::webgpu_tiles`]; burn there reports no progress within a tile).
///
/// `on_progress(done, total, band)` is awaited between the CPU engine's layers and after every
/// tile; a promise resolving to `false` cancels. `done` counts tiles, with the part of the
/// current one computed (so it is fractional within a tile). `band` is `null`, or `{ width,
/// height, top, rows, rgba }` when rows became final since the last call: `rows` full-width
/// rows from `top` as RGBA bytes (for `ImageData`), so the page can show the result band by
/// band. Returns `{ png: Uint8Array, width, height, tiles }`.
#[wasm_bindgen]
pub async fn deblur(
    image: Vec<u8>,
    tile_size: Option<usize>,
    overlap: usize,
    budget_bytes: Option<f64>,
    max_pixels: f64,
    on_progress: Function,
) -> Result<JsValue, JsValue> {
    let generator = loaded()?;
    let binding_limit = ENGINE.with_borrow(|engine| engine.as_ref().and_then(|engine| engine.binding_limit));
    let photo = Photo::decode_with_limit(&image, max_pixels as u64).map_err(error)?;
    drop(image);
    let (width, height) = (photo.width() as usize, photo.height() as usize);
    let width_factor = generator.width_factor();
    let budget = budget_bytes.map_or(tile_budget::PAGE_BUDGET_BYTES, |bytes| bytes as usize);
    let options = match (tile_size, binding_limit) {
        (Some(tile_size), _) => TileOptions::new(tile_size, overlap),
        (None, Some(binding_limit)) => tile_budget::webgpu_tiles(width, height, budget, binding_limit, width_factor, overlap),
        (None, None) => {
            tile_budget::tiles_within(width, height, budget, generator.bytes_per_pixel(), width_factor, overlap)
        }
    }
    .map_err(error)?;
    // The colours move into the job (no copy of a possibly 12-megapixel photo); alpha waits.
    let Photo { rgb, alpha } = photo;
    let mut job = TiledDeblur::prepared(generator, rgb, options);
    let total = job.progress().total;
    let mut reported_rows = 0;
    while !job.is_done() {
        let done = job.progress().done as f64;
        // A failed call of `on_progress` stops the tile; its error is what the page gets.
        let mut failure = None;
        let step = job
            .step_yielding(async |fraction| {
                // The end of a tile is reported below, with its band.
                if fraction >= 1.0 {
                    return true;
                }
                report(&on_progress, done + fraction, total, JsValue::NULL).await.unwrap_or_else(|e| {
                    failure = Some(e);
                    false
                })
            })
            .await;
        if let Some(failure) = failure {
            return Err(failure);
        }
        let progress = step.map_err(error)?;
        let (partial, rows) = job.finished();
        let band = if rows > reported_rows {
            let band = rgba_rows(partial, alpha.as_ref(), reported_rows, rows);
            let band = object(&[
                ("width", partial.width().into()),
                ("height", partial.height().into()),
                ("top", reported_rows.into()),
                ("rows", (rows - reported_rows).into()),
                ("rgba", Uint8Array::from(band.as_slice()).into()),
            ]);
            reported_rows = rows;
            band
        } else {
            JsValue::NULL
        };
        if !report(&on_progress, progress.done as f64, total, band).await? {
            return Err(error(DeblurError::Cancelled));
        }
    }
    let result = Photo {
        rgb: job.finish(),
        alpha,
    };
    let png = result.encode_png().map_err(error)?;
    Ok(object(&[
        ("png", Uint8Array::from(png.as_slice()).into()),
        ("width", result.width().into()),
        ("height", result.height().into()),
        ("tiles", total.into()),
    ]))
}

/// Calls `on_progress(done, total, band)` and awaits its answer: whether to go on.
async fn report(on_progress: &Function, done: f64, total: usize, band: JsValue) -> Result<bool, JsValue> {
    let answer = on_progress.call3(&JsValue::NULL, &done.into(), &total.into(), &band)?;
    Ok(JsFuture::from(Promise::resolve(&answer)).await?.is_truthy())
}

/// Rows `top..bottom` of `rgb` as RGBA bytes, with the photo's alpha where it has one.
fn rgba_rows(rgb: &RgbImage, alpha: Option<&GrayImage>, top: usize, bottom: usize) -> Vec<u8> {
    let width = rgb.width() as usize;
    let mut rgba = Vec::with_capacity(4 * width * (bottom - top));
    for y in top as u32..bottom as u32 {
        for x in 0..width as u32 {
            rgba.extend_from_slice(&rgb.get_pixel(x, y).0);
            rgba.push(alpha.map_or(255, |alpha| alpha.get_pixel(x, y).0[0]));
        }
    }
    rgba
}
