//! Image quality measures on 8-bit RGB images: PSNR, SSIM and the design notes' sharpness score
//! (variance of the Laplacian, their "Statistics" section).

use crate::convert::reflect_index;
use image::RgbImage;

/// Peak signal-to-noise ratio in dB over the three channels (peak 255); infinite for identical
/// images.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "PSNR needs images of one size");
    let squared: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    let mse = squared / a.as_raw().len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// Luma (ITU-R BT.601, as OpenCV's `COLOR_RGB2GRAY`) as floats in [0, 255], row-major.
pub fn luma(image: &RgbImage) -> Vec<f64> {
    image
        .pixels()
        .map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64)
        .collect()
}

/// Structural similarity (Wang et al. 2004) of the lumas: 11×11 Gaussian window (σ 1.5),
/// K1 0.01, K2 0.03, L 255, averaged over the windows that fit inside the image (the whole image
/// as one window when it is smaller than 11 pixels).
pub fn ssim(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "SSIM needs images of one size");
    let (w, h) = (a.width() as usize, a.height() as usize);
    let (x, y) = (luma(a), luma(b));
    let c1 = (0.01f64 * 255.0).powi(2);
    let c2 = (0.03f64 * 255.0).powi(2);
    let side = 11.min(w).min(h);
    let sigma = 1.5;
    let half = (side as f64 - 1.0) / 2.0;
    let g: Vec<f64> = (0..side).map(|i| (-((i as f64 - half).powi(2)) / (2.0 * sigma * sigma)).exp()).collect();
    let norm: f64 = g.iter().sum::<f64>().powi(2);
    let mut total = 0.0;
    let mut count = 0usize;
    for top in 0..=h - side {
        for left in 0..=w - side {
            let (mut mx, mut my, mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for i in 0..side {
                for j in 0..side {
                    let weight = g[i] * g[j] / norm;
                    let at = (top + i) * w + left + j;
                    mx += weight * x[at];
                    my += weight * y[at];
                    xx += weight * x[at] * x[at];
                    yy += weight * y[at] * y[at];
                    xy += weight * x[at] * y[at];
                }
            }
            let (vx, vy, cov) = (xx - mx * mx, yy - my * my, xy - mx * my);
            total += ((2.0 * mx * my + c1) * (2.0 * cov + c2))
                / ((mx * mx + my * my + c1) * (vx + vy + c2));
            count += 1;
        }
    }
    total / count as f64
}

/// The design notes' sharpness score: the variance of the Laplacian (kernel `[0 1 0; 1 -4 1;
/// 0 1 0]`, OpenCV's `cv2.Laplacian` default, mirrored borders as OpenCV's BORDER_REFLECT_101) of
/// the luma. Higher means sharper.
pub fn sharpness(image: &RgbImage) -> f64 {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let y = luma(image);
    let at = |r: i64, c: i64| y[reflect_index(r, h) * w + reflect_index(c, w)];
    let mut values = Vec::with_capacity(w * h);
    for r in 0..h as i64 {
        for c in 0..w as i64 {
            values.push(at(r - 1, c) + at(r + 1, c) + at(r, c - 1) + at(r, c + 1) - 4.0 * at(r, c));
        }
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64
}

/// Mean difference `a − b` of each channel (R, G, B), in levels of 255: a colour cast or a
/// brightness shift of `a` shows here, blur and noise average out.
pub fn channel_mean_difference(a: &RgbImage, b: &RgbImage) -> [f64; 3] {
    assert_eq!(a.dimensions(), b.dimensions(), "channel means need images of one size");
    let mut sums = [0.0f64; 3];
    for (x, y) in a.pixels().zip(b.pixels()) {
        for c in 0..3 {
            sums[c] += x[c] as f64 - y[c] as f64;
        }
    }
    let n = (a.width() as f64 * a.height() as f64).max(1.0);
    sums.map(|s| s / n)
}

/// The largest of the three [`channel_mean_difference`]s, in absolute value: the colour shift.
pub fn colour_shift(a: &RgbImage, b: &RgbImage) -> f64 {
    channel_mean_difference(a, b).iter().fold(0.0f64, |m, d| m.max(d.abs()))
}
