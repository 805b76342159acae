//! spotdiff: find every region that changed between two images, box it, and say how
//! similar the images are.
//!
//! ```no_run
//! use spotdiff::{compare, load, Options};
//! let opts = Options::default();
//! let a = load(std::path::Path::new("before.png"), &opts.limits)?;
//! let b = load(std::path::Path::new("after.png"), &opts.limits)?;
//! let result = compare(&a, &b, &opts)?;
//! for b in &result.report.boxes {
//!     println!("{} {} {} {}", b.x, b.y, b.w, b.h);
//! }
//! # Ok::<(), spotdiff::Error>(())
//! ```
//!
//! Data flows one way: [`load`] → [`compare`] (size policy, change maps, regions,
//! [`Report`]) → [`render`] (pictures, only on request) → [`write`].

// The pipeline's stages, in the order data flows through them. Internal: what a caller
// needs is re-exported below.
pub(crate) mod align;
pub(crate) mod cancel;
pub(crate) mod change;
pub(crate) mod color;
pub(crate) mod compare;
pub(crate) mod load;
pub(crate) mod map;
pub(crate) mod options;
pub(crate) mod pixel;
pub(crate) mod regions;
pub(crate) mod session;
pub(crate) mod ssim;
pub(crate) mod write;

// Public modules: each a part of the API with more than a handful of items.
pub mod deep;
pub mod error;
#[cfg(feature = "eval")]
pub mod eval;
pub mod multipart;
pub mod rank;
pub mod register;
pub mod render;
pub mod report;

pub use align::Alignment;
pub use cancel::{Cancel, CancelOnDrop};
pub use change::Noise;
pub use color::{luma601, srgb_to_lab};
pub use compare::{compare, compare_cancellable, compare_with, Comparison, Timings};
pub use deep::Backbone;
pub use error::{Error, ErrorKind, Hint, IoOp, LimitKind, Result};
pub use load::{
    check_pair, decode, decode_cancellable, load, probe, read_file, Header, Image, ImageInfo,
};
pub use options::{
    AlignMode, GlobalChange, Limits, Method, Options, Rect, SizePolicy, Threshold, Tolerance,
    DEEP_FLOOR, PIXEL_FLOOR, SSIM_FLOOR,
};
pub use render::{Picture, Style};
pub use report::{BoxKind, ChangeBox, Report, ToleranceReport, Verdict};
pub use session::Session;
pub use ssim::ssim_gray;
pub use write::{encode_png, prepare_dir, Staged};

/// Loads both images at once, each on its own thread, within `limits`. Their sizes
/// are compared only by the comparison; [`load_pair_for`] compares them (and the size
/// policy) from the headers, before decoding.
pub fn load_pair(
    a: &std::path::Path,
    b: &std::path::Path,
    limits: &Limits,
) -> Result<(Image, Image)> {
    let (ra, rb) = std::thread::scope(|s| {
        let ha = s.spawn(|| load(a, limits));
        let rb = load(b, limits);
        (ha.join(), rb)
    });
    let ra = ra.unwrap_or_else(|p| std::panic::resume_unwind(p));
    Ok((ra?, rb?))
}

/// Loads two images for a comparison with `options`: opens both files and reads their
/// headers, checks the limits and the size policy ([`check_pair`]) before any pixel
/// is decoded, then decodes both at once, each read from its file as its decoder goes
/// (the encoded bytes are not held whole beside the pixels). Two files that cannot be
/// compared cost only their headers.
pub fn load_pair_for(
    a: &std::path::Path,
    b: &std::path::Path,
    options: &Options,
) -> Result<(Image, Image)> {
    load::load_pair_for(a, b, options)
}

/// Decodes two images held in memory (each with the path its messages name) for a
/// comparison with `options`: both headers first ([`probe`], [`check_pair`]), then
/// both images at once, stopping soon after `cancel` is cancelled.
pub fn decode_pair(
    (path_a, a): (&std::path::Path, &[u8]),
    (path_b, b): (&std::path::Path, &[u8]),
    options: &Options,
    cancel: &Cancel,
) -> Result<(Image, Image)> {
    let limits = &options.limits;
    let header_a = probe(path_a, a, limits)?;
    let header_b = probe(path_b, b, limits)?;
    check_pair(&header_a, &header_b, options)?;
    cancel.check("decode")?;
    let (ra, rb) = rayon::join(
        || decode_cancellable(path_a, a, limits, cancel),
        || decode_cancellable(path_b, b, limits, cancel),
    );
    // One failed: the other's work is not needed.
    let (ia, ib) = (ra?, rb?);
    Ok((ia, ib))
}
