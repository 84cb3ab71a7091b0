//! Training checkpoints: everything a resumed run needs to continue exactly.
//!
//! A checkpoint is a folder `checkpoints/step-NNNNNNNN/` holding `generator.bpk`, `critic.bpk`
//! (burn module records, which keep parameter ids), `generator-optim.bpk`, `critic-optim.bpk`
//! (Adam moments and step counts) and `state.json` (the options and the step). It is written as
//! `step-NNNNNNNN.partial/` and renamed when complete, so an interruption never leaves a
//! half-written checkpoint where a resume would look.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

const PREFIX: &str = "step-";

/// The checkpoints folder of a run.
pub fn folder(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

/// Path of the checkpoint of `step`.
pub fn path_of(run: &Path, step: usize) -> PathBuf {
    folder(run).join(format!("{PREFIX}{step:08}"))
}

/// Complete checkpoints of a run, oldest first, with their steps.
pub fn list(run: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let dir = folder(run);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Some(step) = name.strip_prefix(PREFIX).and_then(|s| s.parse().ok())
            && path.join("state.json").is_file()
        {
            found.push((step, path));
        }
    }
    found.sort();
    Ok(found)
}

/// The newest complete checkpoint of a run.
pub fn latest(run: &Path) -> Result<Option<(usize, PathBuf)>> {
    Ok(list(run)?.pop())
}

/// Writes a checkpoint atomically: `files` go into a `.partial` folder that is then renamed.
pub fn write(run: &Path, step: usize, files: &[(&str, Vec<u8>)]) -> Result<PathBuf> {
    let target = path_of(run, step);
    let partial = target.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    for (name, bytes) in files {
        std::fs::write(partial.join(name), bytes)
            .with_context(|| format!("cannot write {}", partial.join(name).display()))?;
    }
    if target.exists() {
        std::fs::remove_dir_all(&target)?;
    }
    std::fs::rename(&partial, &target)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), target.display()))?;
    Ok(target)
}

/// Deletes all but the newest `keep` checkpoints (at least one is always kept).
pub fn prune(run: &Path, keep: usize) -> Result<()> {
    let all = list(run)?;
    let excess = all.len().saturating_sub(keep.max(1));
    for (_, path) in &all[..excess] {
        std::fs::remove_dir_all(path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(())
}
