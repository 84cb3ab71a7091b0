//! Thin wasm-bindgen bindings for the web page's worker: pick a device once, load weights,
//! deblur photo bytes into PNG bytes. All the work is done by the rest of this crate.

use std::cell::RefCell;

use burn::tensor::Device;
use image::{GrayImage, RgbImage};
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::model::Generator;
use crate::{Photo, TileOptions, TiledDeblur, weights};

/// The device and the loaded generator, kept for the page's lifetime.
struct Engine {
    device: Device,
    generator: Option<Generator>,
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

/// Initialises the device, once per worker: WebGPU when `use_gpu` and an adapter is granted,
/// else the CPU (the CPU engine; burn Flex for the generators it does not run). Returns
/// `{ backend: "webgpu" | "cpu", adapter, fallback_reason }`.
#[wasm_bindgen(js_name = initBackend)]
pub async fn init_backend(use_gpu: bool) -> Result<JsValue, JsValue> {
    if ENGINE.with_borrow(Option::is_some) {
        return Err(error("the backend is already initialised"));
    }
    let mut fallback_reason = JsValue::NULL;
    if use_gpu {
        match Device::wgpu_options().init_with_setup_async().await {
            Ok((device, setup)) => {
                let info = setup.adapter.get_info();
                let adapter = [info.name, info.driver, info.driver_info]
                    .into_iter()
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join(" · ");
                ENGINE.set(Some(Engine { device, generator: None }));
                return Ok(object(&[
                    ("backend", "webgpu".into()),
                    ("adapter", adapter.into()),
                    ("fallback_reason", JsValue::NULL),
                ]));
            }
            Err(reason) => fallback_reason = format!("WebGPU could not start: {reason}").into(),
        }
    }
    ENGINE.set(Some(Engine {
        device: Device::flex(),
        generator: None,
    }));
    Ok(object(&[
        ("backend", "cpu".into()),
        ("adapter", "WebAssembly (CPU engine)".into()),
        ("fallback_reason", fallback_reason),
    ]))
}

/// Loads a weights file (burnpack or safetensors) onto the device; returns its description.
#[wasm_bindgen(js_name = loadWeights)]
pub fn load_weights(bytes: &[u8]) -> Result<String, JsValue> {
    ENGINE.with_borrow_mut(|engine| {
        let engine = engine.as_mut().ok_or_else(|| error("initBackend first"))?;
        let (generator, config) = weights::load_from_bytes(bytes, &engine.device).map_err(error)?;
        engine.generator = Some(generator);
        Ok(weights::describe(&config))
    })
}

/// Deblurs a JPEG, PNG or WebP photo into a PNG of the same size, tile by tile.
///
/// `on_progress(done, total, band)` is awaited after every tile; a promise resolving to `false`
/// cancels. `band` is `null`, or `{ width, height, top, rows, rgba }` when rows became final
/// since the last call: `rows` full-width rows from `top` as RGBA bytes (for `ImageData`), so
/// the page can show the result band by band. Returns `{ png: Uint8Array, width, height, tiles }`.
#[wasm_bindgen]
pub async fn deblur(
    image: Vec<u8>,
    tile_size: usize,
    overlap: usize,
    max_pixels: f64,
    on_progress: Function,
) -> Result<JsValue, JsValue> {
    let (generator, device) = ENGINE.with_borrow(|engine| {
        let engine = engine.as_ref().ok_or_else(|| error("initBackend first"))?;
        let generator = engine.generator.clone().ok_or_else(|| error("loadWeights first"))?;
        Ok::<_, JsValue>((generator, engine.device.clone()))
    })?;
    let photo = Photo::decode_with_limit(&image, max_pixels as u64).map_err(error)?;
    drop(image);
    let options = TileOptions::new(tile_size, overlap).map_err(error)?;
    // The colours move into the job (no copy of a possibly 12-megapixel photo); alpha waits.
    let Photo { rgb, alpha } = photo;
    let mut job = TiledDeblur::new(generator, device, rgb, options);
    let mut reported_rows = 0;
    while !job.is_done() {
        let progress = job.step().await.map_err(error)?;
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
        let (done, total) = (progress.done.into(), progress.total.into());
        let answer = on_progress.call3(&JsValue::NULL, &done, &total, &band)?;
        let keep_going = JsFuture::from(Promise::resolve(&answer)).await?;
        if keep_going.is_falsy() {
            return Err(error("cancelled"));
        }
    }
    let tiles = job.progress().total;
    let result = Photo {
        rgb: job.finish(),
        alpha,
    };
    let png = result.encode_png().map_err(error)?;
    Ok(object(&[
        ("png", Uint8Array::from(png.as_slice()).into()),
        ("width", result.width().into()),
        ("height", result.height().into()),
        ("tiles", tiles.into()),
    ]))
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
