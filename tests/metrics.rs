//! PSNR, SSIM and the sharpness score against values worked out by hand.

use image::{Rgb, RgbImage};
use deblurgan::metrics::{channel_mean_difference, colour_shift, psnr, sharpness, ssim};

fn gray(width: u32, height: u32, value: u8) -> RgbImage {
    RgbImage::from_pixel(width, height, Rgb([value; 3]))
}

#[test]
fn psnr_matches_the_formula() {
    let a = gray(4, 4, 100);
    let mut b = a.clone();
    // One channel of one pixel off by 16: MSE = 256 / 48, PSNR = 10 log10(65025 · 48 / 256) ≈ 40.8609.
    b.get_pixel_mut(1, 2).0[0] = 116;
    let expected = 10.0 * (255.0f64 * 255.0 / (256.0 / 48.0)).log10();
    assert!((psnr(&a, &b) - expected).abs() < 1e-9);
    assert!((psnr(&a, &b) - 40.8609).abs() < 1e-3);
    assert_eq!(psnr(&a, &a), f64::INFINITY);
}

#[test]
fn ssim_of_flat_images_is_the_luminance_term() {
    // Flat images: no variance, so SSIM = (2 μx μy + C1) / (μx² + μy² + C1).
    let (a, b) = (gray(16, 16, 100), gray(16, 16, 120));
    let c1 = (0.01f64 * 255.0).powi(2);
    let expected = (2.0 * 100.0 * 120.0 + c1) / (100.0f64.powi(2) + 120.0f64.powi(2) + c1);
    assert!((ssim(&a, &b) - expected).abs() < 1e-9, "{} vs {expected}", ssim(&a, &b));
    let textured = RgbImage::from_fn(16, 16, |x, y| Rgb([((x * 13 + y * 7) % 256) as u8; 3]));
    assert!((ssim(&textured, &textured) - 1.0).abs() < 1e-12);
    assert!(ssim(&textured, &a) < 0.5);
}

#[test]
fn sharpness_is_the_variance_of_the_laplacian() {
    // One bright pixel in the middle of a 5×5 black image: Laplacian −400 there, 100 at its four
    // neighbours, 0 elsewhere; mean 0, variance (400² + 4·100²) / 25 = 8000.
    let mut image = gray(5, 5, 0);
    image.put_pixel(2, 2, Rgb([100; 3]));
    assert!((sharpness(&image) - 8000.0).abs() < 1e-6, "{}", sharpness(&image));
    assert_eq!(sharpness(&gray(5, 5, 77)), 0.0);
    let blurred = image::imageops::blur(&image, 1.0);
    assert!(sharpness(&blurred) < sharpness(&image));
}

#[test]
fn colour_shift_is_the_largest_mean_channel_difference() {
    // 2×2 images; green raised by 8 on one pixel of four (mean +2), blue lowered by 12 on two
    // (mean −6), red unchanged.
    let a = gray(2, 2, 100);
    let mut b = a.clone();
    b.get_pixel_mut(0, 0).0[1] = 108;
    b.get_pixel_mut(1, 0).0[2] = 88;
    b.get_pixel_mut(1, 1).0[2] = 88;
    assert_eq!(channel_mean_difference(&b, &a), [0.0, 2.0, -6.0]);
    assert_eq!(colour_shift(&b, &a), 6.0);
    assert_eq!(colour_shift(&a, &a), 0.0);
}
