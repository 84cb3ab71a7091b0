//! Where training and evaluation images come from. Four layouts are recognised:
//!
//! - **GoPro**: `GOPRO_Large/{train,test}/<scene>/{blur,sharp}/<frame>.png`;
//! - **Keras A/B** (the Keras DeblurGAN repository): `<root>/[<split>/]{A,B}/`, A blurred, B sharp;
//! - **two folders** of pairs, given separately (blurred and sharp);
//! - **sharp photos alone**, blurred on the fly by synthetic camera shake.
//!
//! Pairs are always matched by file name (without extension), never by sort order; a name present
//! on one side only is an error that names it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A blurred image and its sharp counterpart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The blurred photo.
    pub blurred: PathBuf,
    /// The sharp photo of the same scene.
    pub sharp: PathBuf,
}

/// Which layout a folder was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `GOPRO_Large/{train,test}/<scene>/{blur,sharp}`.
    GoPro,
    /// `{A,B}` folders of the Keras DeblurGAN.
    KerasAB,
    /// Two folders of pairs.
    Folders,
    /// Sharp photos only: blurred on the fly.
    SharpOnly,
}

/// The images of a data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Real blurred/sharp pairs.
    Pairs(Vec<Pair>),
    /// Sharp photos to blur synthetically.
    Sharp(Vec<PathBuf>),
}

impl Source {
    /// Number of images (pairs or photos).
    pub fn len(&self) -> usize {
        match self {
            Source::Pairs(pairs) => pairs.len(),
            Source::Sharp(photos) => photos.len(),
        }
    }

    /// True when there is nothing to train or evaluate on.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a data set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// Reading a folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Names present on one side only.
    #[error(
        "{blurred} and {sharp} do not pair up: {count} name(s) on one side only: {examples}"
    )]
    Mismatch {
        /// The blurred folder.
        blurred: PathBuf,
        /// The sharp folder.
        sharp: PathBuf,
        /// How many unmatched names.
        count: usize,
        /// A few of them, with the side they are on.
        examples: String,
    },
    /// No images at all.
    #[error("no images found in {0}")]
    Empty(PathBuf),
}

/// File extensions read as images.
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "webp", "bmp"];

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, LayoutError> {
    let io = |source| LayoutError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort();
    Ok(entries)
}

/// The images directly inside `dir`, sorted by name.
pub fn images_in(dir: &Path) -> Result<Vec<PathBuf>, LayoutError> {
    Ok(read_dir_sorted(dir)?.into_iter().filter(|p| p.is_file() && is_image(p)).collect())
}

fn by_stem(images: Vec<PathBuf>) -> BTreeMap<String, PathBuf> {
    images
        .into_iter()
        .filter_map(|p| Some((p.file_stem()?.to_string_lossy().into_owned(), p)))
        .collect()
}

/// Pairs the images of two folders by file name (extension ignored).
pub fn pair_folders(blurred: &Path, sharp: &Path) -> Result<Vec<Pair>, LayoutError> {
    let mut blurred_images = by_stem(images_in(blurred)?);
    let sharp_images = by_stem(images_in(sharp)?);
    let mut pairs = Vec::new();
    let mut unmatched = Vec::new();
    for (name, sharp_path) in sharp_images {
        match blurred_images.remove(&name) {
            Some(blurred_path) => pairs.push(Pair {
                blurred: blurred_path,
                sharp: sharp_path,
            }),
            None => unmatched.push(format!("'{name}' only in {}", sharp.display())),
        }
    }
    unmatched.extend(
        blurred_images.keys().map(|name| format!("'{name}' only in {}", blurred.display())),
    );
    if !unmatched.is_empty() {
        let count = unmatched.len();
        unmatched.truncate(5);
        return Err(LayoutError::Mismatch {
            blurred: blurred.to_path_buf(),
            sharp: sharp.to_path_buf(),
            count,
            examples: unmatched.join(", "),
        });
    }
    if pairs.is_empty() {
        return Err(LayoutError::Empty(sharp.to_path_buf()));
    }
    Ok(pairs)
}

fn is_gopro_scene(dir: &Path) -> bool {
    dir.join("blur").is_dir() && dir.join("sharp").is_dir()
}

/// Pairs of every scene of a GoPro split folder (`GOPRO_Large/train`).
fn gopro_split(split_dir: &Path) -> Result<Vec<Pair>, LayoutError> {
    let mut pairs = Vec::new();
    for scene in read_dir_sorted(split_dir)?.into_iter().filter(|p| is_gopro_scene(p)) {
        pairs.extend(pair_folders(&scene.join("blur"), &scene.join("sharp"))?);
    }
    if pairs.is_empty() {
        return Err(LayoutError::Empty(split_dir.to_path_buf()));
    }
    Ok(pairs)
}

/// Recognises the layout of `root` and lists its images. `split` ("train" or "test") picks the
/// sub-folder of GoPro and A/B data sets that have one.
pub fn discover(root: &Path, split: &str) -> Result<(Layout, Source), LayoutError> {
    let has_scenes = |dir: &Path| {
        dir.is_dir()
            && read_dir_sorted(dir).is_ok_and(|entries| entries.iter().any(|e| is_gopro_scene(e)))
    };
    // GOPRO_Large/ (with the split), or GOPRO_Large/train/ itself, or one scene.
    if has_scenes(&root.join(split)) {
        return Ok((Layout::GoPro, Source::Pairs(gopro_split(&root.join(split))?)));
    }
    if has_scenes(root) {
        return Ok((Layout::GoPro, Source::Pairs(gopro_split(root)?)));
    }
    if is_gopro_scene(root) {
        let pairs = pair_folders(&root.join("blur"), &root.join("sharp"))?;
        return Ok((Layout::GoPro, Source::Pairs(pairs)));
    }
    for base in [root.join(split), root.to_path_buf()] {
        if base.join("A").is_dir() && base.join("B").is_dir() {
            let pairs = pair_folders(&base.join("A"), &base.join("B"))?;
            return Ok((Layout::KerasAB, Source::Pairs(pairs)));
        }
    }
    let photos = images_in(root)?;
    if photos.is_empty() {
        return Err(LayoutError::Empty(root.to_path_buf()));
    }
    Ok((Layout::SharpOnly, Source::Sharp(photos)))
}
