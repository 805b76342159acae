//! Helpers shared by the integration tests.
#![allow(dead_code)]

use image::{EncodableLayout, ImageBuffer, ImageFormat, PixelWithColorType};
#[cfg(feature = "deep")]
use spotdiff::deep::default_model;
use spotdiff::deep::Backbone;
use spotdiff::{compare_with, load, ChangeBox, Image, Method, Options, Report, Threshold};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// A path inside the crate.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// [`repo`] as a string, for command-line arguments.
pub fn repo_str(rel: &str) -> String {
    repo(rel).display().to_string()
}

/// The default backbone (as `spotdiff compare` picks it), loaded once per test binary.
/// The fused default is tested with it, as users run it; a missing backbone or
/// runtime is a failure, never a skip (`bash scripts/setup/setup-deep.sh` installs both).
#[cfg(feature = "deep")]
pub fn backbone() -> &'static Backbone {
    static BACKBONE: std::sync::OnceLock<Backbone> = std::sync::OnceLock::new();
    BACKBONE.get_or_init(|| {
        let spec = default_model(&repo("models"))
            .unwrap_or_else(|| panic!("no backbone model in models/"));
        Backbone::open(spec, &runtime()).unwrap_or_else(|e| panic!("{}", e.chain()))
    })
}

/// The ONNX Runtime library: `ORT_DYLIB_PATH`, else the project's `.deps/`.
pub fn runtime() -> PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo(".deps/onnxruntime/libonnxruntime.so"))
}

/// The shared folder of real image pairs. Missing data is a failure, never a skip.
pub fn realpairs() -> PathBuf {
    let dir = std::env::var_os("SPOTDIFF_REALPAIRS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("../shared/realpairs"));
    assert!(
        dir.join("SOURCES.md").is_file(),
        "real pairs not found at {} (set SPOTDIFF_REALPAIRS)",
        dir.display()
    );
    dir
}

pub fn fixture(name: &str) -> PathBuf {
    repo("tests/fixtures").join(name)
}

pub fn open(path: &Path) -> Image {
    load(path, &Options::default().limits).unwrap_or_else(|e| panic!("{e}"))
}

/// Compares with the default backbone for the deep and fused methods (without the
/// `deep` feature: pixel and SSIM evidence only).
pub fn run_with(a: &Image, b: &Image, options: &Options) -> Report {
    #[cfg(feature = "deep")]
    let bb = matches!(options.method, Method::Fused | Method::Deep).then(backbone);
    #[cfg(not(feature = "deep"))]
    let bb: Option<&Backbone> = None;
    compare_with(a, b, options, bb)
        .unwrap_or_else(|e| panic!("{e}"))
        .report
}

pub fn run(a: &Image, b: &Image) -> Report {
    run_with(a, b, &Options::default())
}

/// Compares two files under the real pairs folder with default options.
pub fn pair(a: &str, b: &str) -> Report {
    let r = realpairs();
    run(&open(&r.join(a)), &open(&r.join(b)))
}

pub fn pair_with(a: &str, b: &str, options: &Options) -> Report {
    let r = realpairs();
    run_with(&open(&r.join(a)), &open(&r.join(b)), options)
}

pub fn method(m: Method) -> Options {
    Options {
        method: m,
        ..Options::default()
    }
}

pub fn strict() -> Options {
    Options {
        pixel_threshold: Threshold::Fixed(2.3),
        ..Options::default()
    }
}

/// Inclusive corners of a box.
pub fn corners(b: &ChangeBox) -> [u32; 4] {
    [b.x, b.y, b.x + b.w - 1, b.y + b.h - 1]
}

/// Inclusive corners of the union of all boxes.
pub fn union(boxes: &[ChangeBox]) -> [u32; 4] {
    assert!(!boxes.is_empty(), "no boxes");
    boxes
        .iter()
        .map(corners)
        .fold([u32::MAX, u32::MAX, 0, 0], |u, c| {
            [
                u[0].min(c[0]),
                u[1].min(c[1]),
                u[2].max(c[2]),
                u[3].max(c[3]),
            ]
        })
}

/// Intersection over union of two inclusive-corner boxes.
pub fn iou(a: [u32; 4], b: [u32; 4]) -> f64 {
    let ix = (a[2].min(b[2]) as i64 - a[0].max(b[0]) as i64 + 1).max(0);
    let iy = (a[3].min(b[3]) as i64 - a[1].max(b[1]) as i64 + 1).max(0);
    let inter = (ix * iy) as f64;
    let area = |c: [u32; 4]| ((c[2] - c[0] + 1) as f64) * ((c[3] - c[1] + 1) as f64);
    inter / (area(a) + area(b) - inter)
}

/// `x, y, w, h` → inclusive corners.
pub fn xywh(x: u32, y: u32, w: u32, h: u32) -> [u32; 4] {
    [x, y, x + w - 1, y + h - 1]
}

/// Each corner within `tol` px.
pub fn near(a: [u32; 4], b: [u32; 4], tol: u32) -> bool {
    a.iter().zip(b).all(|(p, q)| p.abs_diff(q) <= tol)
}

/// The `boxes` of a truth entry (`[[x, y, w, h], ...]`), as corners.
pub fn truth_boxes(entry: &serde_json::Value) -> Vec<[u32; 4]> {
    entry["boxes"]
        .as_array()
        .expect("boxes")
        .iter()
        .map(|t| {
            let n: Vec<u32> = t
                .as_array()
                .expect("[x, y, w, h]")
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            xywh(n[0], n[1], n[2], n[3])
        })
        .collect()
}

/// The image encoded as PNG.
pub fn png_bytes<P>(img: &ImageBuffer<P, Vec<P::Subpixel>>) -> Vec<u8>
where
    P: PixelWithColorType,
    [P::Subpixel]: EncodableLayout,
{
    let mut buf = Cursor::new(Vec::new());
    img.write_to(&mut buf, ImageFormat::Png).unwrap();
    buf.into_inner()
}

/// CRC-32 (PNG's), for hand-made chunks.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
