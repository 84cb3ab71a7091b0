//! Decoding photos from files and encoding results: JPEG, PNG and WebP through the `image`
//! crate, EXIF orientation applied, grayscale / 16-bit / alpha accepted.

use std::io::Cursor;

use image::{
    DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits, Rgba, RgbaImage,
    RgbImage,
};

/// Largest photo accepted by default, in pixels (100 megapixels).
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Why a photo could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// The file holds no bytes.
    #[error("the file is empty")]
    Empty,
    /// Not a JPEG, PNG or WebP file.
    #[error("not a supported image: the file is not a JPEG, PNG or WebP picture")]
    NotAnImage,
    /// A supported format, but the data is damaged or cut short.
    #[error("the {format} image is damaged or cut short: {reason}")]
    Corrupt {
        /// The detected format.
        format: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The photo is larger than allowed.
    #[error(
        "the image is too large: {width}×{height} is {:.1} megapixels, the limit is {:.1}",
        (*width as f64 * *height as f64) / 1e6,
        *max_pixels as f64 / 1e6
    )]
    TooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The limit in pixels.
        max_pixels: u64,
    },
    /// A decoded image with a zero side.
    #[error("the image has no pixels ({width}×{height})")]
    NoPixels {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Encoding the result failed.
    #[error("could not encode the result: {0}")]
    Encode(String),
}

/// A decoded photo: upright 8-bit RGB, and the alpha channel kept aside, untouched, if any.
#[derive(Clone, PartialEq)]
pub struct Photo {
    /// The colour the network sees.
    pub rgb: RgbImage,
    /// The alpha channel, passed through to the output unchanged.
    pub alpha: Option<GrayImage>,
}

impl std::fmt::Debug for Photo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Photo({}×{}", self.width(), self.height())?;
        f.write_str(if self.alpha.is_some() { ", alpha)" } else { ")" })
    }
}

impl Photo {
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.rgb.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.rgb.height()
    }

    /// Decodes a photo, refusing those larger than [`DEFAULT_MAX_PIXELS`].
    pub fn decode(bytes: &[u8]) -> Result<Self, PhotoError> {
        Self::decode_with_limit(bytes, DEFAULT_MAX_PIXELS)
    }

    /// Decodes a JPEG, PNG or WebP photo and turns it upright (EXIF orientation), refusing those
    /// of more than `max_pixels` pixels before their pixels are decoded.
    pub fn decode_with_limit(bytes: &[u8], max_pixels: u64) -> Result<Self, PhotoError> {
        if bytes.is_empty() {
            return Err(PhotoError::Empty);
        }
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|_| PhotoError::NotAnImage)?;
        let format = match reader.format() {
            Some(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => format,
            _ => return Err(PhotoError::NotAnImage),
        };
        let format_name = format_name(format);
        let corrupt = |error: image::ImageError| PhotoError::Corrupt {
            format: format_name,
            reason: error.to_string(),
        };
        // The JPEG decoder fills a cut-off scan with grey instead of failing: check the end.
        if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
            return Err(PhotoError::Corrupt {
                format: format_name,
                reason: "the image data ends before the end-of-image marker".into(),
            });
        }
        let mut decoder = reader.into_decoder().map_err(corrupt)?;
        let (width, height) = decoder.dimensions();
        if width as u64 * height as u64 > max_pixels {
            return Err(PhotoError::TooLarge {
                width,
                height,
                max_pixels,
            });
        }
        if width == 0 || height == 0 {
            return Err(PhotoError::NoPixels { width, height });
        }
        let mut limits = Limits::default();
        // Room for the decoded pixels at 16 bits per channel with alpha, and the decoder's own.
        limits.max_alloc = Some(max_pixels * 8 + (64 << 20));
        decoder.set_limits(limits).map_err(corrupt)?;
        let orientation = decoder.orientation().map_err(corrupt)?;
        let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
        image.apply_orientation(orientation);
        Ok(Self::from_image(image))
    }

    /// Splits any decoded image into 8-bit RGB and (if it has one) its alpha channel.
    pub fn from_image(image: DynamicImage) -> Self {
        let alpha = image.color().has_alpha().then(|| {
            let rgba = image.to_rgba8();
            GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| {
                image::Luma([rgba.get_pixel(x, y)[3]])
            })
        });
        Self {
            rgb: image.to_rgb8(),
            alpha,
        }
    }

    /// The photo as an image: RGB, or RGBA with the alpha channel put back.
    pub fn to_image(&self) -> DynamicImage {
        match &self.alpha {
            None => DynamicImage::ImageRgb8(self.rgb.clone()),
            Some(alpha) => {
                DynamicImage::ImageRgba8(RgbaImage::from_fn(self.width(), self.height(), |x, y| {
                    let [r, g, b] = self.rgb.get_pixel(x, y).0;
                    Rgba([r, g, b, alpha.get_pixel(x, y)[0]])
                }))
            }
        }
    }

    /// Encodes the photo as PNG (RGB or RGBA).
    pub fn encode_png(&self) -> Result<Vec<u8>, PhotoError> {
        let mut bytes = Vec::new();
        self.to_image()
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .map_err(|error| PhotoError::Encode(error.to_string()))?;
        Ok(bytes)
    }

    /// The same photo with other colours (the deblurred ones) and this photo's alpha.
    pub fn with_rgb(&self, rgb: RgbImage) -> Self {
        assert_eq!(rgb.dimensions(), self.rgb.dimensions(), "the size must not change");
        Self {
            rgb,
            alpha: self.alpha.clone(),
        }
    }
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::WebP => "WebP",
        _ => "image",
    }
}

/// Whether a JPEG file holds an end-of-image marker after its first scan. Marker segments are
/// skipped by their lengths up to the first scan (so an EXIF thumbnail's own end marker does not
/// count); inside scan data a 0xFF byte is never followed by 0xD9.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut at = 2; // after SOI
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return false;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let length = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        if marker == 0xDA {
            let scan = &bytes[(at + 2 + length).min(bytes.len())..];
            return scan.windows(2).any(|pair| pair == [0xFF, 0xD9]);
        }
        at += 2 + length;
    }
    false
}
