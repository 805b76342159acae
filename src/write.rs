//! Writing pictures without ever leaving a half-written file: each picture goes to a
//! temporary name in the output folder, and all are renamed into place at the end.
//! If anything fails, the temporary files are removed and nothing is renamed.

use crate::error::{Error, IoOp, Result};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, ImageEncoder};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Files written under temporary names, waiting to be renamed into place.
#[derive(Debug, Default)]
pub struct Staged {
    files: Vec<(PathBuf, PathBuf)>,
}

/// Makes sure `dir` exists and is writable, before any work is done.
pub fn prepare_dir(dir: &Path) -> Result<()> {
    let err = |what: &str, e: std::io::Error| {
        Error::io(IoOp::Write, dir, format!("{what}: {}", io_text(&e)), e)
    };
    if dir.exists() && !dir.is_dir() {
        return Err(Error::write(dir, "exists and is not a folder"));
    }
    std::fs::create_dir_all(dir).map_err(|e| err("cannot create folder", e))?;
    let probe = dir.join(format!(".spotdiff-probe-{}", std::process::id()));
    File::create(&probe).map_err(|e| err("folder is not writable", e))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Encodes `img` as PNG into `out`: the encoding used for every picture, on disk or in
/// memory. Fast compression (fdeflate) with the `Up` filter on every row: the
/// adaptive choice tried all five filters on every row; with `Up` (and RGB instead of
/// RGBA) the six pictures of the 4K benchmark pair are 6 % smaller in all and cost a
/// quarter less CPU (BENCHMARKS.md, "Pictures").
pub fn encode_png<W: Write>(img: &DynamicImage, out: W) -> image::ImageResult<()> {
    // (png's `StreamWriter` would not hold the compressed image whole, but fdeflate
    // then hands every 8 bytes to the chunk writer: 1.5 times the instructions.)
    PngEncoder::new_with_quality(out, CompressionType::Fast, FilterType::Up).write_image(
        img.as_bytes(),
        img.width(),
        img.height(),
        img.color().into(),
    )
}

impl Staged {
    /// Encodes `img` as PNG to a temporary file next to `path`.
    pub fn png(&mut self, path: &Path, img: &DynamicImage) -> Result<()> {
        let tmp = temp_name(path);
        self.files.push((tmp.clone(), path.to_path_buf()));
        write_png(&tmp, path, img)
    }

    /// Builds and encodes several pictures at once, each to a temporary file next to
    /// its path: every thread of the pool takes the next job in the order given as
    /// soon as it is free, so give the largest first (a split of the list into halves
    /// left the side-by-side picture, a third of the bytes, to start last). The first
    /// error is returned; what was written stays staged, so dropping `self` removes it.
    pub fn pngs<F>(&mut self, items: Vec<(PathBuf, F)>) -> Result<()>
    where
        F: FnOnce() -> DynamicImage + Send,
    {
        use rayon::prelude::*;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Mutex;
        type Job<F> = Mutex<Option<(PathBuf, PathBuf, F)>>;
        let jobs: Vec<Job<F>> = items
            .into_iter()
            .map(|(path, make)| Mutex::new(Some((temp_name(&path), path, make))))
            .collect();
        self.files.extend(jobs.iter().map(|j| {
            let job = j.lock().expect("not shared yet");
            let (tmp, path, _) = job.as_ref().expect("not taken yet");
            (tmp.clone(), path.clone())
        }));
        let next = AtomicUsize::new(0);
        let workers = rayon::current_num_threads().clamp(1, jobs.len().max(1));
        (0..workers)
            .into_par_iter()
            .try_for_each(|_| -> Result<()> {
                while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let taken = job.lock().map(|mut j| j.take()).unwrap_or(None);
                    if let Some((tmp, path, make)) = taken {
                        write_png(&tmp, &path, &make())?;
                    }
                }
                Ok(())
            })
    }

    /// Writes bytes (e.g. a JSON report) to a temporary file next to `path`.
    pub fn bytes(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = temp_name(path);
        let err = |e: std::io::Error| Error::io(IoOp::Write, path, io_text(&e), e);
        self.files.push((tmp.clone(), path.to_path_buf()));
        std::fs::write(&tmp, bytes).map_err(err)
    }

    /// Renames every staged file into place.
    pub fn commit(mut self) -> Result<Vec<PathBuf>> {
        let files = std::mem::take(&mut self.files);
        let mut done = Vec::new();
        for (i, (tmp, dest)) in files.iter().enumerate() {
            if let Err(e) = std::fs::rename(tmp, dest) {
                for (t, _) in &files[i..] {
                    let _ = std::fs::remove_file(t);
                }
                return Err(Error::io(IoOp::Write, dest, io_text(&e), e));
            }
            done.push(dest.clone());
        }
        Ok(done)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Encodes `img` into the file `tmp`; errors name `path`, the file it stands for.
fn write_png(tmp: &Path, path: &Path, img: &DynamicImage) -> Result<()> {
    let err = |e: std::io::Error| Error::io(IoOp::Write, path, io_text(&e), e);
    let file = File::create(tmp).map_err(err)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    encode_png(img, &mut out).map_err(|e| Error::write(path, e.to_string()))?;
    out.flush().map_err(err)?;
    Ok(())
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        _ => e.to_string(),
    }
}
