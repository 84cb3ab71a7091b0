//! Making training batches: random crops, flips and (for sharp photos) synthetic camera shake,
//! on worker threads, in an order fixed by the seed alone.
//!
//! Every sample is a pure function of `(seed, global sample index)`: the epoch's permutation
//! comes from `(seed, epoch)`, the crop, flip and blur from `(seed, index)`. Worker scheduling
//! therefore never changes a batch, and resuming at step `s` only needs `s`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use burn::tensor::{Device, Tensor, TensorData};
use deblurgan::convert::{from_unit, region_to_planar, to_unit};
use deblurgan::photo::Photo;
use image::RgbImage;
use image::imageops::FilterType;

use super::camera_shake::{ShakeOptions, add_noise, blur_valid, centre_tap, random_psf};
use super::layout::Source;
use crate::rng::Rng;

/// How samples are made.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// Side of the square crops.
    pub crop: usize,
    /// Random horizontal flips.
    pub flip: bool,
    /// The synthetic blur for sharp-only data: the strong shake, and the share of samples
    /// blurred by the second one instead (e.g. 0.5 and [`ShakeOptions::moderate`]).
    pub shake: ShakeOptions,
    /// A second blur and the share of samples (0 to 1) that get it instead of `shake`.
    pub second_shake: Option<(f64, ShakeOptions)>,
    /// Photos are scaled down to this longest side before cropping (`None` or 0: as they are),
    /// as `eval` does, so that a blur of n pixels means the same on both sides.
    pub max_side: Option<u32>,
    /// Share of sharp-only samples (0 to 1) left unblurred (noise and rounding still applied), so
    /// that the network learns to leave sharp photos alone.
    pub sharp_share: f64,
    /// Round the blurred inputs to 8 bits per channel, as the page and the CLI see photos.
    pub quantize: bool,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            crop: 256,
            flip: true,
            shake: ShakeOptions::default(),
            second_shake: None,
            max_side: None,
            sharp_share: 0.0,
            quantize: false,
        }
    }
}

/// Rounds values in [-1, 1] to the nearest of the 256 levels an 8-bit photo holds (as the page
/// writes and reads them).
pub fn quantize_to_8_bits(values: &mut [f32]) {
    for value in values {
        *value = to_unit(from_unit(*value));
    }
}

/// Adds Gaussian noise of a σ drawn uniformly below `options.max_noise`; returns that σ.
fn add_random_noise(values: &mut [f32], options: &ShakeOptions, rng: &mut Rng) -> f64 {
    let sigma = options.max_noise * rng.uniform();
    add_noise(values, sigma, rng);
    sigma
}

/// A blurred/sharp training pair, planar `[3, crop, crop]` in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Network input.
    pub blurred: Vec<f32>,
    /// Target.
    pub sharp: Vec<f32>,
}

/// A batch: `blurred` and `sharp` are `[batch, 3, crop, crop]` flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Index of the batch since the start of training (= the training step).
    pub index: usize,
    /// Network inputs.
    pub blurred: Vec<f32>,
    /// Targets.
    pub sharp: Vec<f32>,
    /// Images in the batch.
    pub size: usize,
    /// Side of the crops.
    pub crop: usize,
}

impl Batch {
    /// The inputs and targets as `[batch, 3, crop, crop]` tensors on `device`.
    pub fn tensors(&self, device: &Device) -> (Tensor<4>, Tensor<4>) {
        let shape = [self.size, 3, self.crop, self.crop];
        (
            Tensor::from_data(TensorData::new(self.blurred.clone(), shape), device),
            Tensor::from_data(TensorData::new(self.sharp.clone(), shape), device),
        )
    }
}

/// Decodes an image file into RGB.
pub fn read_rgb(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let photo = Photo::decode(&bytes).with_context(|| format!("cannot decode {}", path.display()))?;
    Ok(photo.rgb)
}

/// Scales `image` down so that its longer side is at most `max_side` (never up; `None` or 0:
/// unchanged).
pub fn limit_side(image: RgbImage, max_side: Option<u32>) -> RgbImage {
    match max_side {
        Some(max) if max > 0 && image.width().max(image.height()) > max => {
            let scale = max as f64 / image.width().max(image.height()) as f64;
            let w = ((image.width() as f64 * scale).round() as u32).max(1);
            let h = ((image.height() as f64 * scale).round() as u32).max(1);
            image::imageops::resize(&image, w, h, FilterType::Triangle)
        }
        _ => image,
    }
}

/// Decoded (and scaled) photos kept in memory up to this many bytes, so that a photo is decoded
/// and scaled once rather than for every crop taken from it.
const CACHE_BYTES: usize = 4 << 30;

fn flip_planar(values: &mut [f32], side: usize) {
    for row in values.chunks_mut(side) {
        row.reverse();
    }
}

/// A data set with its sampling rules.
pub struct Dataset {
    /// The images.
    pub source: Source,
    /// Crops, flips, blur.
    pub options: SampleOptions,
    /// The seed every random choice derives from.
    pub seed: u64,
    /// Decoded images (after `max_side`), by path, and their total size in bytes.
    cache: Mutex<(HashMap<PathBuf, Arc<RgbImage>>, usize)>,
}

impl Dataset {
    /// A data set sampled with `options` and random choices drawn from `seed`.
    pub fn new(source: Source, options: SampleOptions, seed: u64) -> Self {
        Self { source, options, seed, cache: Mutex::new((HashMap::new(), 0)) }
    }

    /// The image at `path`, decoded and scaled to `max_side` (once while the cache has room).
    fn image(&self, path: &Path) -> Result<Arc<RgbImage>> {
        if let Some(image) = self.cache.lock().expect("cache lock").0.get(path) {
            return Ok(image.clone());
        }
        let image = Arc::new(limit_side(read_rgb(path)?, self.options.max_side));
        let mut cache = self.cache.lock().expect("cache lock");
        let bytes = image.as_raw().len();
        if cache.1 + bytes <= CACHE_BYTES && !cache.0.contains_key(path) {
            cache.0.insert(path.to_path_buf(), image.clone());
            cache.1 += bytes;
        }
        Ok(image)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.source.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }

    /// Which image the `global`-th sample of training uses (a new permutation every epoch).
    pub fn image_of(&self, global: usize) -> usize {
        let n = self.len();
        let epoch = global / n;
        Rng::derive(self.seed, 1, epoch as u64).permutation(n)[global % n]
    }

    /// The `global`-th sample of training.
    pub fn sample(&self, global: usize) -> Result<Sample> {
        let image = self.image_of(global);
        let mut rng = Rng::derive(self.seed, 2, global as u64);
        self.make(image, &mut rng)
    }

    /// A sample of image `image` with the random choices of `rng`.
    pub fn make(&self, image: usize, rng: &mut Rng) -> Result<Sample> {
        let crop = self.options.crop;
        let (mut blurred, mut sharp) = match &self.source {
            Source::Pairs(pairs) => {
                let pair = &pairs[image];
                let sharp = self.image(&pair.sharp)?;
                let blurred = self.image(&pair.blurred)?;
                anyhow::ensure!(
                    sharp.dimensions() == blurred.dimensions(),
                    "{} is {:?} but {} is {:?}",
                    pair.sharp.display(),
                    sharp.dimensions(),
                    pair.blurred.display(),
                    blurred.dimensions()
                );
                let (x, y) = crop_corner(&sharp, crop, rng);
                (
                    region_to_planar(&blurred, x, y, crop, crop),
                    region_to_planar(&sharp, x, y, crop, crop),
                )
            }
            Source::Sharp(photos) => {
                let sharp = self.image(&photos[image])?;
                let (x, y) = crop_corner(&sharp, crop, rng);
                let options = match &self.options.second_shake {
                    Some((share, second)) if rng.chance(*share) => second,
                    _ => &self.options.shake,
                };
                // No draw without sharp samples: runs from before the option keep their samples.
                let (mut blurred, _) = if self.options.sharp_share > 0.0 && rng.chance(self.options.sharp_share) {
                    let mut unblurred = region_to_planar(&sharp, x, y, crop, crop);
                    let sigma = add_random_noise(&mut unblurred, options, rng);
                    (unblurred, sigma)
                } else {
                    shake(&sharp, x, y, crop, crop, options, rng)
                };
                if self.options.quantize {
                    quantize_to_8_bits(&mut blurred);
                }
                (blurred, region_to_planar(&sharp, x, y, crop, crop))
            }
        };
        if self.options.flip && rng.chance(0.5) {
            flip_planar(&mut blurred, crop);
            flip_planar(&mut sharp, crop);
        }
        Ok(Sample { blurred, sharp })
    }
}

/// A random top-left corner for a `crop`² window (0 when the image is smaller: the window is then
/// completed by mirroring).
pub fn crop_corner(image: &RgbImage, crop: usize, rng: &mut Rng) -> (i64, i64) {
    let free = |side: u32| (side as usize).saturating_sub(crop);
    let x = rng.below(free(image.width()) + 1) as i64;
    let y = rng.below(free(image.height()) + 1) as i64;
    (x, y)
}

/// Blurs the `width`×`height` window at `(x, y)` of `sharp` with a random shake kernel and
/// noise; returns the planar `[3, height, width]` blurred window in [-1, 1] and the noise level.
pub fn shake(
    sharp: &RgbImage,
    x: i64,
    y: i64,
    width: usize,
    height: usize,
    options: &ShakeOptions,
    rng: &mut Rng,
) -> (Vec<f32>, f64) {
    let psf = random_psf(options, rng);
    let k = psf.size as i64;
    // The window plus the kernel's reach on each side (mirrored beyond the image).
    // The margin before the window puts the kernel's centre tap on the output pixel: a centred
    // kernel blurs without moving the image.
    let (before, margin) = (k - 1 - centre_tap(psf.size) as i64, psf.size - 1);
    let region = region_to_planar(sharp, x - before, y - before, width + margin, height + margin);
    let mut blurred = blur_valid(&region, width, height, &psf);
    let sigma = add_random_noise(&mut blurred, options, rng);
    (blurred, sigma)
}

/// Makes batch `index` (samples `index * batch .. (index + 1) * batch`).
pub fn make_batch(dataset: &Dataset, index: usize, batch: usize) -> Result<Batch> {
    let crop = dataset.options.crop;
    let mut out = Batch {
        index,
        blurred: Vec::with_capacity(batch * 3 * crop * crop),
        sharp: Vec::with_capacity(batch * 3 * crop * crop),
        size: batch,
        crop,
    };
    for j in 0..batch {
        let sample = dataset.sample(index * batch + j)?;
        out.blurred.extend(sample.blurred);
        out.sharp.extend(sample.sharp);
    }
    Ok(out)
}

/// Batches made ahead on worker threads and handed out in order.
pub struct Loader {
    receiver: Option<Receiver<(usize, Result<Batch>)>>,
    pending: BTreeMap<usize, Result<Batch>>,
    next: usize,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl Loader {
    /// Starts `workers` threads making batches `first, first + 1, ...` of `batch` samples.
    pub fn new(dataset: Arc<Dataset>, batch: usize, first: usize, workers: usize) -> Self {
        let workers = workers.max(1);
        let (sender, receiver) = sync_channel(2 * workers);
        let counter = Arc::new(AtomicUsize::new(first));
        let stop = Arc::new(AtomicBool::new(false));
        let handles = (0..workers)
            .map(|_| {
                let (dataset, sender, counter, stop) =
                    (dataset.clone(), sender.clone(), counter.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let index = counter.fetch_add(1, Ordering::Relaxed);
                        let result = make_batch(&dataset, index, batch);
                        if sender.send((index, result)).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        Self {
            receiver: Some(receiver),
            pending: BTreeMap::new(),
            next: first,
            stop,
            workers: handles,
        }
    }

    /// The next batch, in order.
    pub fn next_batch(&mut self) -> Result<Batch> {
        loop {
            if let Some(batch) = self.pending.remove(&self.next) {
                self.next += 1;
                return batch;
            }
            let (index, batch) = self
                .receiver
                .as_ref()
                .expect("loader running")
                .recv()
                .context("the data loader threads stopped")?;
            self.pending.insert(index, batch);
        }
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receiver unblocks workers waiting to send.
        self.receiver = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}
