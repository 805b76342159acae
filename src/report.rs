//! The report: what a comparison found, in a stable shape for text and JSON.

use crate::align::Alignment;
use crate::load::ImageInfo;
use crate::options::Method;
use crate::register::AlignmentReport;
use serde::Serialize;

/// Version of the JSON report's shape. Bumped when a field changes meaning or goes.
pub const REPORT_SCHEMA: u32 = 1;

/// The outcome of one comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub a: ImageInfo,
    pub b: ImageInfo,
    pub method: Method,
    /// The backbone that gave deep evidence (`null` when none ran).
    pub model: Option<String>,
    /// What the size policy did.
    pub alignment: Alignment,
    /// How B was registered onto A (model, parameters, inlier share, residual,
    /// photometric gain/offset, uncovered share); `null` when registration did not run
    /// (identical inputs, `align: none`, the pad policy).
    pub registration: Option<AlignmentReport>,
    /// Changes of the whole picture that registration explains, in words ("content
    /// shifted by (0, 40)", "tone changed: gain 1.08, offset +6"). Never boxed; they
    /// make the verdict `different` unless the options say to ignore them.
    pub global: Vec<String>,
    /// `identical` (pixel-for-pixel equal), `same` (differences, but none reported,
    /// or boxes within the tolerance) or `different` (at least one box beyond the
    /// tolerance, or a global change that counts).
    pub verdict: Verdict,
    /// The pair's noise as the change model measured it (robust level per Lab
    /// channel, edge jitter in pixels); `null` when the model did not run.
    pub noise: Option<crate::change::Noise>,
    pub scores: Scores,
    pub thresholds: Thresholds,
    /// The tolerance applied (`--max-diff-pixels`, `--max-diff-ratio`) and what it
    /// decided; `null` when none was set.
    pub tolerance: Option<ToleranceReport>,
    pub boxes: Vec<ChangeBox>,
}

/// A tolerance and what it decided: a pair whose boxes hold no more changed pixels
/// than it allows is `same` (`tolerated: true`), its boxes still listed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToleranceReport {
    pub max_diff_pixels: Option<u64>,
    pub max_diff_ratio: Option<f64>,
    /// Changed pixels inside the boxes, the number the limits are checked against.
    pub changed_pixels: u64,
    /// True when there were boxes and the tolerance let them pass.
    pub tolerated: bool,
}

/// The one-word result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Identical,
    Same,
    Different,
}

/// Image-level scores.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    /// Mean SSIM on luma (1 = identical).
    pub ssim: f64,
    /// Share of pixels inside reported changes (0..1).
    pub changed_pixel_ratio: f64,
    /// Share of pixels that differ at all, before any tolerance (0..1).
    pub differing_pixel_ratio: f64,
    /// Largest colour difference found (shift-tolerant ΔE, CIE76).
    pub max_delta_e: f32,
    /// Cosine similarity of the backbone's pooled embeddings (1 = same content).
    /// Unrelated photos still score 0.5-0.8: decide from the boxes, not from this.
    /// `null` when no backbone ran.
    pub semantic: Option<f64>,
    /// Mean cosine similarity of corresponding deep-feature cells (stride 16).
    /// `null` when no backbone ran.
    pub patch_similarity: Option<f64>,
}

/// The thresholds in force (chosen automatically or given).
#[derive(Debug, Clone, Serialize)]
pub struct Thresholds {
    /// Colour difference, ΔE.
    pub pixel_delta_e: f32,
    /// `1 - SSIM`.
    pub ssim_dissimilarity: f32,
    /// Deep-feature distance `2 (1 - cos)`; `null` when no backbone ran.
    pub deep_distance: Option<f32>,
}

/// What kind of change a box shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BoxKind {
    /// A visible change: colour or structure differs.
    Visual,
    /// Only the deep features differ (a texture or semantic change without a clear
    /// colour difference).
    Semantic,
}

/// One changed region.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChangeBox {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    /// `w × h`.
    pub area: u64,
    /// Pixels inside the box that exceed the threshold.
    pub changed_pixels: u64,
    /// Mean colour difference over the changed pixels (ΔE).
    pub mean_change: f32,
    /// Largest colour difference in the box (ΔE).
    pub peak_change: f32,
    /// Largest deep-feature distance in the box, `2 (1 - cos)`; `null` without a
    /// backbone.
    pub deep_change: Option<f32>,
    /// The change model's significance: log10 of the number of false alarms of its
    /// best window (at most log10 ε, e.g. −12 means one such window in 10¹² pairs of
    /// pure noise); `null` for the SSIM and deep methods' boxes.
    pub significance: Option<f32>,
    /// Which evidence found it: `pixel`, `ssim`, `deep`.
    pub evidence: Vec<&'static str>,
    /// `visual`, or `semantic` when only deep features found it.
    pub kind: BoxKind,
}

impl Report {
    /// True when the verdict is `different`: at least one box, or a global change
    /// that counts.
    pub fn is_different(&self) -> bool {
        self.verdict == Verdict::Different
    }
}
