//! Synthetic camera shake, after Boracchi & Foi ("Modeling the performance of image restoration
//! from motion blur", 2012) as the official DeblurGAN implements it (`motion_blur/`):
//!
//! 1. a **trajectory**: a particle with inertia moves on a continuous canvas; at each of
//!    `iterations` steps its velocity gets a Gaussian random push, a centripetal pull back to the
//!    start, and rarely an impulsive "big shake" that turns it around;
//! 2. a **PSF**: the trajectory up to an exposure fraction (1/100, 1/10, 1/2 or 1 of the path) is
//!    moved so that its centroid falls on the kernel's centre tap ([`centre_tap`], the tap that
//!    leaves an image where it is), then rasterised sub-pixel with bilinear (triangle) weights onto
//!    a `canvas`×`canvas` kernel, which is normalised to sum 1. Bilinear weights keep the centroid,
//!    so the blurred image is not displaced from its sharp image: a network can learn to undo
//!    blur, never a random shift;
//! 3. the sharp image is convolved with the PSF, and mild Gaussian noise is added.

use crate::rng::Rng;

/// Parameters of the random trajectories and kernels.
#[derive(Debug, Clone, PartialEq)]
pub struct ShakeOptions {
    /// Side of the square kernel, in pixels.
    pub canvas: usize,
    /// Steps of the particle simulation.
    pub iterations: usize,
    /// Length of the whole trajectory, in pixels (the official code uses 60 on a 64 canvas).
    pub max_length: f64,
    /// Shortest trajectory: each trajectory's length is drawn uniformly from
    /// `[min_length, max_length]` (equal: always `max_length`, as the official code does).
    pub min_length: f64,
    /// Exposure fractions: one is picked per kernel.
    pub exposures: Vec<f64>,
    /// Candidate "exposure" (shake intensity) parameters, one picked per trajectory.
    pub expl: Vec<f64>,
    /// Largest standard deviation of the added Gaussian noise, in [0, 1] intensity units.
    pub max_noise: f64,
}

impl Default for ShakeOptions {
    fn default() -> Self {
        Self {
            canvas: 64,
            iterations: 2000,
            max_length: 60.0,
            min_length: 60.0,
            exposures: vec![0.01, 0.1, 0.5, 1.0],
            expl: vec![0.003, 0.001, 0.00003, 0.0001, 0.0003, 0.0005],
            max_noise: 0.01,
        }
    }
}

impl ShakeOptions {
    /// Moderate handheld shake: whole paths (no short exposures) of 5 to 25 pixels on a 32-pixel
    /// kernel, what photos taken by hand at about 1280 pixels mostly show. The default is the
    /// official DeblurGAN's strong shake (60-pixel paths, four exposures).
    pub fn moderate() -> Self {
        Self {
            canvas: 32,
            max_length: 25.0,
            min_length: 5.0,
            exposures: vec![1.0],
            ..Self::default()
        }
    }
}

/// A camera-shake kernel: `canvas`×`canvas` non-negative weights summing to 1, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Psf {
    /// Side of the kernel.
    pub size: usize,
    /// `size * size` weights, row-major.
    pub weights: Vec<f32>,
}

/// A random trajectory: `iterations` points `(x, y)` inside `[1, canvas - 1)²`.
pub fn trajectory(options: &ShakeOptions, rng: &mut Rng) -> Vec<(f64, f64)> {
    let n = options.iterations.max(2);
    let expl = options.expl[rng.below(options.expl.len())];
    let centripetal = 0.7 * rng.uniform();
    let prob_big_shake = 0.2 * rng.uniform();
    let gaussian_shake = 10.0 * rng.uniform();
    let angle = 2.0 * std::f64::consts::PI * rng.uniform();
    let length = if options.min_length < options.max_length {
        options.min_length + (options.max_length - options.min_length) * rng.uniform()
    } else {
        options.max_length
    };
    let step = length / (n - 1) as f64;
    let mut v = (angle.cos() * step, angle.sin() * step);
    let mut points = vec![(0.0f64, 0.0f64); n];
    for t in 0..n - 1 {
        let mut next = (0.0, 0.0);
        if rng.chance(prob_big_shake * expl) {
            // Turn around by π ± 0.5 rad with twice the speed.
            let turn = std::f64::consts::PI + (rng.uniform() - 0.5);
            let (c, s) = (turn.cos(), turn.sin());
            next = (2.0 * (v.0 * c - v.1 * s), 2.0 * (v.0 * s + v.1 * c));
        }
        let (x, y) = points[t];
        let dv = (
            next.0 + expl * (gaussian_shake * rng.normal() - centripetal * x) * step,
            next.1 + expl * (gaussian_shake * rng.normal() - centripetal * y) * step,
        );
        v = (v.0 + dv.0, v.1 + dv.1);
        let speed = (v.0 * v.0 + v.1 * v.1).sqrt().max(1e-12);
        v = (v.0 / speed * step, v.1 / speed * step);
        points[t + 1] = (x + v.0, y + v.1);
    }
    // Centre the path on the canvas; scale it down if it would not fit.
    let (min_x, max_x, min_y, max_y) = points.iter().fold(
        (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    let room = options.canvas as f64 - 3.0;
    let extent = (max_x - min_x).max(max_y - min_y);
    let scale = if extent > room { room / extent } else { 1.0 };
    let offset_x = (options.canvas as f64 - (max_x - min_x) * scale) / 2.0;
    let offset_y = (options.canvas as f64 - (max_y - min_y) * scale) / 2.0;
    points
        .into_iter()
        .map(|(x, y)| ((x - min_x) * scale + offset_x, (y - min_y) * scale + offset_y))
        .collect()
}

/// The tap of a `size`×`size` kernel that leaves an image in place: a kernel whose only weight
/// is at `(centre_tap, centre_tap)` (row, column) is the identity for [`blur_valid`] with the
/// margins the loader gives (`size - 1 - centre_tap` before the window, `centre_tap` after).
pub fn centre_tap(size: usize) -> usize {
    size / 2
}

/// The first `exposure` fraction of a trajectory (at least one point).
pub fn exposed(points: &[(f64, f64)], exposure: f64) -> &[(f64, f64)] {
    let last = ((exposure * points.len() as f64).ceil() as usize).clamp(1, points.len());
    &points[..last]
}

/// The centroid (mean point) of a path.
pub fn centroid(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len().max(1) as f64;
    let (x, y) = points.iter().fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
    (x / n, y / n)
}

/// Moves `points` so that their centroid lies on the [`centre_tap`] of a `canvas`-sided kernel,
/// scaling the path about its centroid where it would otherwise leave `[0, canvas - 1)²`: every
/// bilinear weight then lands inside the kernel, and the kernel's centroid is the centre tap.
pub fn centre_on_tap(points: &[(f64, f64)], canvas: usize) -> Vec<(f64, f64)> {
    let (cx, cy) = centroid(points);
    let tap = centre_tap(canvas) as f64;
    // Room on each side of the tap: [0, tap] before it, [tap, canvas - 1) after it.
    let (before, after) = (tap, canvas as f64 - 1.0 - tap - 1e-6);
    let mut scale = 1.0f64;
    for &(x, y) in points {
        for d in [x - cx, y - cy] {
            let room = if d > 0.0 { after } else { before };
            if d.abs() * scale > room {
                scale = room / d.abs();
            }
        }
    }
    points
        .iter()
        .map(|&(x, y)| (tap + (x - cx) * scale, tap + (y - cy) * scale))
        .collect()
}

/// Rasterises the first `exposure` fraction of a trajectory, where it lies, into a normalised
/// kernel (bilinear weights: the kernel's centroid is the path's).
pub fn rasterise(points: &[(f64, f64)], canvas: usize, exposure: f64) -> Psf {
    let mut weights = vec![0.0f64; canvas * canvas];
    for &(x, y) in exposed(points, exposure) {
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        for (dy, wy) in [(0, 1.0 - fy), (1, fy)] {
            for (dx, wx) in [(0, 1.0 - fx), (1, fx)] {
                let (px, py) = (x0 as i64 + dx, y0 as i64 + dy);
                if px >= 0 && py >= 0 && (px as usize) < canvas && (py as usize) < canvas {
                    weights[py as usize * canvas + px as usize] += wx * wy;
                }
            }
        }
    }
    let total: f64 = weights.iter().sum();
    Psf {
        size: canvas,
        weights: weights.iter().map(|w| (w / total) as f32).collect(),
    }
}

/// A random camera-shake kernel, centred: its centroid is the [`centre_tap`].
pub fn random_psf(options: &ShakeOptions, rng: &mut Rng) -> Psf {
    let points = trajectory(options, rng);
    let exposure = options.exposures[rng.below(options.exposures.len())];
    let centred = centre_on_tap(exposed(&points, exposure), options.canvas);
    rasterise(&centred, options.canvas, 1.0)
}

/// The centroid of a kernel's weights, `(x, y)` in taps.
pub fn psf_centroid(psf: &Psf) -> (f64, f64) {
    let (mut x, mut y, mut total) = (0.0, 0.0, 0.0);
    for (at, &w) in psf.weights.iter().enumerate() {
        let w = w as f64;
        x += w * (at % psf.size) as f64;
        y += w * (at / psf.size) as f64;
        total += w;
    }
    (x / total, y / total)
}

/// Convolves a planar image with a kernel ("valid" region): the input is `[3, height + k - 1,
/// width + k - 1]` (the output plus a margin of the kernel size `k` less one: `k - 1 -`
/// [`centre_tap`]`(k)` before, `centre_tap(k)` after), the output `[3, height, width]`. Only the non-zero taps are visited: shake kernels are sparse.
pub fn blur_valid(input: &[f32], width: usize, height: usize, psf: &Psf) -> Vec<f32> {
    let k = psf.size;
    let (in_w, in_h) = (width + k - 1, height + k - 1);
    assert_eq!(input.len(), 3 * in_w * in_h, "input must carry a kernel-sized margin");
    // Convolution flips the kernel: out(y, x) = Σ psf(i, j) · in(y + k-1-i, x + k-1-j).
    let taps: Vec<(usize, usize, f32)> = psf
        .weights
        .iter()
        .enumerate()
        .filter(|(_, w)| **w > 0.0)
        .map(|(at, &w)| (k - 1 - at / k, k - 1 - at % k, w))
        .collect();
    let mut output = vec![0.0f32; 3 * width * height];
    for channel in 0..3 {
        let source = &input[channel * in_w * in_h..(channel + 1) * in_w * in_h];
        let target = &mut output[channel * width * height..(channel + 1) * width * height];
        for &(dy, dx, w) in &taps {
            for row in 0..height {
                let from = &source[(row + dy) * in_w + dx..(row + dy) * in_w + dx + width];
                let to = &mut target[row * width..(row + 1) * width];
                for (t, f) in to.iter_mut().zip(from) {
                    *t += w * f;
                }
            }
        }
    }
    output
}

/// Adds Gaussian noise of standard deviation `sigma` (in [0, 1] units) to values in [-1, 1],
/// clamping the result.
pub fn add_noise(values: &mut [f32], sigma: f64, rng: &mut Rng) {
    if sigma <= 0.0 {
        return;
    }
    for value in values {
        // [-1, 1] spans twice the [0, 1] range.
        *value = (*value + (2.0 * sigma * rng.normal()) as f32).clamp(-1.0, 1.0);
    }
}
