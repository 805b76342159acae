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

pub mod align;
pub mod color;
pub mod compare;
pub mod deep;
pub mod error;
pub mod eval;
pub mod fill;
pub mod load;
pub mod map;
pub mod options;
pub mod pixel;
pub mod rank;
pub mod regions;
pub mod register;
pub mod render;
pub mod report;
pub mod session;
pub mod ssim;
pub mod write;

pub use compare::{compare, compare_with, Comparison, Timings};
pub use deep::{Backbone, Locations, ModelSpec};
pub use error::{Error, Result};
pub use load::{load, Image};
pub use options::{Limits, Method, Options, Rect, SizePolicy, Threshold};
pub use render::{Picture, Style};
pub use report::{BoxKind, ChangeBox, Report, Verdict};
pub use session::Session;

/// Loads both images at once, each on its own thread.
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
