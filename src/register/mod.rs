//! Registration: how B maps onto A (geometry and photometry), run before any change
//! map. It hands the change maps a B resampled onto A's frame, a mask of where the two
//! images overlap, and a report.
//!
//! Models are tried cheapest first and kept only when they explain the pair better
//! than the simpler one:
//! 1. **identity**: a lattice check on A's pixels (no full-image pass) decides when the
//!    images already agree; on an aligned pair that is all registration costs;
//! 2. **translation**: phase correlation on luma at a working scale, the integer shift
//!    refined at full resolution (exact, no resampling), then a sub-pixel shift by
//!    direct refinement, kept only when it explains the pair clearly better;
//! 3. **similarity / affine / homography**: FAST corners + BRIEF descriptors, RANSAC,
//!    accepted only with enough inliers, then refined directly on luma at full
//!    resolution; the simplest family whose residual is not clearly beaten wins.
//!
//! "Explains" is measured by [`agree`]: the share of textured blocks of A whose luma B
//! reproduces (up to a local gain and offset) within what a fraction of a pixel of
//! misalignment would leave. A pair no model explains falls back to identity with a
//! note; registration never fails.
//!
//! Coordinates: the transform maps A's pixel (x, y) to where the same content is in B,
//! so `warped_b(x, y) = B(T(x, y))`; pixel centres are at integers.
//!
//! Using it: run the change maps on A and [`Registration::warped_b`] (always A's size);
//! drop evidence where [`Registration::covered`] is false (the `overlap` mask, eroded);
//! put [`Registration::report`] in the report; draw B's boxes at
//! [`Registration::map_rect_to_b`] of A's. On an aligned pair `warped_b` borrows B.

mod agree;
mod fit;
mod keypoints;
mod phase;
mod photometric;
mod plane;
mod refine;
mod warp;

pub use photometric::Photometric;

use crate::Rect;
use image::{GrayImage, RgbaImage};
use plane::{Lattice, Level, Plane};
use serde::Serialize;
use std::borrow::Cow;
use std::time::Instant;

/// A 3×3 matrix, row-major, acting on (x, y, 1).
pub type Mat3 = [[f64; 3]; 3];

/// The registration's tuning constants, in one place.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Lattice samples along A's long side for the cheap checks.
    pub lattice: usize,
    /// Lattice samples per block side in the agreement test.
    pub block: usize,
    /// Least RMS luma gradient (levels/px) for a block or point to count as textured.
    pub texture: f32,
    /// A block agrees when its residual RMS ≤ `agree_shift`·gradient RMS +
    /// `agree_noise`: a misalignment of about this many pixels.
    pub agree_shift: f64,
    /// ... plus this much noise (levels RMS: JPEG, demosaicing, resampling).
    pub agree_noise: f64,
    /// A block's own gain (B on A) must lie in this range for it to agree.
    pub block_gain: (f64, f64),
    /// Share of textured blocks that must agree for a model to explain the pair.
    pub agree: f64,
    /// Least agreement for a model that does not fully explain the pair to be used
    /// anyway (when it is the best found and clearly beats identity).
    pub agree_min: f64,
    /// How much a model must beat identity's agreement to be used below `agree`.
    pub agree_margin: f64,
    /// ... or the share of identity's residual it must leave at most.
    pub residual_gain: f64,
    /// Working scale for estimation: the long side of A is brought to at most this.
    pub work_long: usize,
    /// Least phase-correlation peak-to-sidelobe ratio for a translation to be tried.
    pub min_psr: f64,
    /// A sub-pixel shift is considered only when it is this far (px) from the integer.
    pub subpixel_min: f64,
    /// ... and kept only when its residual is at most this share of the integer's.
    pub subpixel_gain: f64,
    /// Keypoints kept per image.
    pub max_keypoints: usize,
    /// Keypoints are spread over a grid of this many cells per side.
    pub keypoint_grid: usize,
    /// Largest Hamming distance (of 256 bits) for a match.
    pub max_hamming: u32,
    /// Lowe's ratio: best distance below this share of the second best.
    pub match_ratio: f64,
    /// RANSAC inlier threshold, px at the working scale.
    pub ransac_eps: f64,
    /// RANSAC iterations at most (adaptive stopping at 99 % confidence).
    pub ransac_iterations: usize,
    /// Fewest inliers for a keypoint model.
    pub min_inliers: usize,
    /// Least share of the matches that must be inliers (the usual 40 % gate).
    pub inlier_share: f64,
    /// Largest scale change accepted between the two images.
    pub max_scale: f64,
    /// A more complex model is kept only when its residual is at least this share
    /// lower than the simpler model's.
    pub model_gain: f64,
    /// Points used by the direct refinement.
    pub refine_points: usize,
    /// Fewest points for the direct refinement.
    pub min_refine_points: usize,
    /// Gauss-Newton iterations at most.
    pub refine_iterations: usize,
    /// Gauss-Newton stops when no corner moves by more than this (px).
    pub refine_tolerance: f64,
    /// Huber IRLS iterations of the photometric fit ...
    pub irls_iterations: usize,
    /// ... followed by this many Tukey biweight iterations.
    pub tukey_iterations: usize,
    /// Floor of robust residual scales (levels).
    pub min_sigma: f64,
    /// Channel values counted as unsaturated (both images).
    pub unsaturated: (f32, f32),
    /// Photometric gains outside this range are not trusted.
    pub gain_range: (f64, f64),
    /// Least spread (levels, 5th-95th percentile of A) to fit gain and offset apart.
    pub min_spread: f64,
    /// Fewest samples for a photometric fit.
    pub min_photometric_samples: usize,
    /// Samples for the photometric fit at most.
    pub photometric_samples: usize,
    /// Samples with a luma gradient above this (levels/px) are left out of it.
    pub photo_max_gradient: f32,
    /// The smooth field is tried only when the global fit leaves this much (σ, levels).
    pub field_try_sigma: f64,
    /// Samples for the field fit at most.
    pub field_samples: usize,
    /// The field is kept when it lowers the robust residual scale by this share ...
    pub field_gain: f64,
    /// ... and reaches at least this relative amplitude somewhere.
    pub field_min: f32,
    /// A correction is kept only when it lowers the mean absolute difference on its
    /// samples by at least this share.
    pub photometric_gain: f64,
    /// A correction that moves no level by more than this is not applied.
    pub photometric_tolerance: f32,
    /// No photometric fit when this share of the samples already match within a
    /// level.
    pub exact_share: f64,
    /// No photometric correction when it would move this share of the samples (or
    /// more) that already match within a level by more than `photometric_tolerance`:
    /// a change of lighting moves every level but its fixed point, so pixels that
    /// agree exactly are few; a correction that breaks many of them is fitted to a
    /// local change (recoloured sections of a page), not to the lighting.
    pub exact_broken_share: f64,
    /// Per-channel tolerance (levels) for padding lines.
    pub padding_tolerance: u8,
    /// Share of a line's pixels that must match for it to be padding.
    pub padding_share: f64,
    /// Padding is looked for up to this share of each side.
    pub max_padding: f64,
    /// A strip is padding only when the other image differs from it on at least this
    /// share of its pixels (so a blank margin both images share is not padding, and a
    /// word deleted near an edge is still a change).
    pub padding_confirm: f64,
    /// ... and when the other image has texture there (mean absolute luma gradient,
    /// levels/px): a flat, smoothly shaded or clipped area of the scene is not padding.
    pub padding_texture: f64,
    /// Overlap mask erosion, px.
    pub erode: u32,
}

/// The values in use.
pub const TUNING: Tuning = Tuning {
    lattice: 384,
    block: 8,
    texture: 3.0,
    agree_shift: 0.3,
    agree_noise: 3.0,
    block_gain: (0.5, 2.0),
    agree: 0.75,
    agree_min: 0.5,
    agree_margin: 0.15,
    residual_gain: 0.5,
    work_long: 640,
    min_psr: 12.0,
    subpixel_min: 0.1,
    subpixel_gain: 0.9,
    max_keypoints: 800,
    keypoint_grid: 8,
    max_hamming: 64,
    match_ratio: 0.85,
    ransac_eps: 1.5,
    ransac_iterations: 2000,
    min_inliers: 12,
    inlier_share: 0.4,
    max_scale: 4.0,
    model_gain: 0.05,
    refine_points: 8_000,
    min_refine_points: 50,
    refine_iterations: 20,
    refine_tolerance: 0.002,
    irls_iterations: 10,
    tukey_iterations: 5,
    min_sigma: 0.5,
    unsaturated: (4.0, 251.0),
    gain_range: (0.5, 2.0),
    min_spread: 32.0,
    min_photometric_samples: 200,
    photometric_samples: 10_000,
    photo_max_gradient: 40.0,
    field_try_sigma: 1.5,
    field_samples: 4000,
    field_gain: 0.25,
    field_min: 0.02,
    photometric_gain: 0.05,
    photometric_tolerance: 1.5,
    exact_share: 0.9,
    exact_broken_share: 0.05,
    padding_tolerance: 3,
    padding_share: 0.98,
    max_padding: 0.25,
    padding_confirm: 0.5,
    padding_texture: 3.0,
    erode: 2,
};

/// Which geometric model registration may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlignMode {
    /// No registration: B is compared where it lies (pixel (x, y) with (x, y)).
    None,
    /// A translation only (integer when that explains the pair, else sub-pixel).
    Shift,
    /// An affine map from keypoints (also covers similarity).
    Affine,
    /// A homography from keypoints.
    Homography,
    /// Identity when the images already agree, otherwise the simplest model that
    /// explains them.
    #[default]
    Auto,
}

impl std::str::FromStr for AlignMode {
    type Err = String;
    /// `auto`, `none`, `shift`, `affine` or `homography`.
    fn from_str(s: &str) -> std::result::Result<AlignMode, String> {
        match s {
            "auto" => Ok(AlignMode::Auto),
            "none" => Ok(AlignMode::None),
            "shift" => Ok(AlignMode::Shift),
            "affine" => Ok(AlignMode::Affine),
            "homography" => Ok(AlignMode::Homography),
            _ => Err(format!(
                "unknown alignment `{s}` (use auto, none, shift, affine or homography)"
            )),
        }
    }
}

/// Which photometric correction registration may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhotometricMode {
    /// None.
    Off,
    /// Per-channel gain and offset.
    Gain,
    /// Gain and offset, plus a smooth quadratic field when it clearly helps.
    #[default]
    Field,
}

/// What registration is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterOptions {
    /// The geometric model.
    /// Default: [`AlignMode::Auto`].
    pub align: AlignMode,
    /// The photometric correction.
    /// Default: [`PhotometricMode::Field`].
    pub photometric: PhotometricMode,
    /// Pixels the overlap mask is eroded by.
    /// Default: 2.
    pub erode: u32,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        RegisterOptions {
            align: AlignMode::Auto,
            photometric: PhotometricMode::Field,
            erode: TUNING.erode,
        }
    }
}

/// The geometric model found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// B is where A is.
    Identity,
    /// An integer shift: B's pixels are copied, not resampled.
    Translation,
    /// A sub-pixel shift (resampled).
    SubpixelTranslation,
    /// Rotation, uniform scale and shift.
    Similarity,
    /// A general affine map.
    Affine,
    /// A projective map.
    Homography,
}

/// A map from A's pixel coordinates to B's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Transform {
    /// The model family.
    pub model: Model,
    /// (x_B, y_B, w) = matrix · (x_A, y_A, 1).
    pub matrix: Mat3,
}

/// The parameters of a transform, read off its matrix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    /// Where A's origin lands in B (px).
    pub dx: f64,
    /// Where A's origin lands in B (px).
    pub dy: f64,
    /// Scale of the linear part (√|det|): B's size of A's content, 0.5 when B is A at
    /// half size.
    pub scale: f64,
    /// Rotation of the linear part, degrees; positive turns x towards y (clockwise on
    /// screen, where y points down).
    pub angle_deg: f64,
}

const IDENTITY: Mat3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

impl Transform {
    /// The identity.
    pub const IDENTITY: Transform = Transform {
        model: Model::Identity,
        matrix: IDENTITY,
    };

    /// An integer shift: B(x + dx, y + dy) = A(x, y).
    pub fn shift(dx: i64, dy: i64) -> Transform {
        Transform {
            model: if dx == 0 && dy == 0 {
                Model::Identity
            } else {
                Model::Translation
            },
            matrix: [
                [1.0, 0.0, dx as f64],
                [0.0, 1.0, dy as f64],
                [0.0, 0.0, 1.0],
            ],
        }
    }

    /// The box in B (of size `b_size`) around A's box `r`: the bounds of its mapped
    /// corners (pixel edges at ±0.5), clipped to B; `None` when it falls outside B.
    pub fn map_rect(&self, r: Rect, b_size: (u32, u32)) -> Option<Rect> {
        let (x0, y0) = (r.x as f64 - 0.5, r.y as f64 - 0.5);
        let (x1, y1) = (r.right() as f64 - 0.5, r.bottom() as f64 - 0.5);
        let pts = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)].map(|p| self.map(p.0, p.1));
        let lo_x = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min) + 0.5;
        let hi_x = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max) + 0.5;
        let lo_y = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min) + 0.5;
        let hi_y = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max) + 0.5;
        let (bw, bh) = (b_size.0 as f64, b_size.1 as f64);
        let x = lo_x.floor().clamp(0.0, bw);
        let y = lo_y.floor().clamp(0.0, bh);
        let r_ = hi_x.ceil().clamp(0.0, bw);
        let b_ = hi_y.ceil().clamp(0.0, bh);
        (r_ > x && b_ > y).then_some(Rect {
            x: x as u32,
            y: y as u32,
            w: (r_ - x) as u32,
            h: (b_ - y) as u32,
        })
    }

    /// Where A's point (x, y) is in B.
    pub fn map(&self, x: f64, y: f64) -> (f64, f64) {
        apply(&self.matrix, x, y)
    }

    /// The map from B's coordinates to A's (`None` when singular).
    pub fn inverse(&self) -> Option<Transform> {
        Some(Transform {
            model: self.model,
            matrix: invert(&self.matrix)?,
        })
    }

    /// True for an identity or integer translation (copies, no resampling).
    pub fn is_integer(&self) -> bool {
        matches!(self.model, Model::Identity | Model::Translation)
    }

    /// dx, dy, scale and angle.
    pub fn params(&self) -> Params {
        let m = &self.matrix;
        let s = m[2][2];
        let (a, b, c, d) = (m[0][0] / s, m[0][1] / s, m[1][0] / s, m[1][1] / s);
        Params {
            dx: m[0][2] / s,
            dy: m[1][2] / s,
            scale: (a * d - b * c).abs().sqrt(),
            angle_deg: (c - b).atan2(a + d).to_degrees(),
        }
    }
}

/// Padding found along each edge, in px.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Edges {
    /// Columns on the left.
    pub left: u32,
    /// Columns on the right.
    pub right: u32,
    /// Rows at the top.
    pub top: u32,
    /// Rows at the bottom.
    pub bottom: u32,
}

impl Edges {
    fn span(&self, w: u32, h: u32) -> warp::Span {
        let x1 = w.saturating_sub(self.right).max(self.left + 1).min(w);
        let y1 = h.saturating_sub(self.bottom).max(self.top + 1).min(h);
        (self.left.min(x1 - 1), self.top.min(y1 - 1), x1, y1)
    }
}

/// One model that registration tried, and how well it explained the pair.
#[derive(Debug, Clone, Serialize)]
pub struct Tried {
    /// The model.
    pub model: Model,
    /// Share of textured blocks it explains.
    pub agreement: f64,
    /// Mean absolute luma difference (levels) on the covered lattice.
    pub residual: f64,
    /// Why it was not used, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

/// What registration found, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct AlignmentReport {
    /// The mode asked for.
    pub mode: AlignMode,
    /// The model used.
    pub model: Model,
    /// Its parameters.
    #[serde(flatten)]
    pub params: Params,
    /// Its matrix (A → B).
    pub matrix: Mat3,
    /// Keypoint matches, when keypoints ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<usize>,
    /// Share of the matches that the chosen keypoint model explains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inlier_share: Option<f64>,
    /// Phase-correlation peak-to-sidelobe ratio, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psr: Option<f64>,
    /// Share of A's textured blocks that the model explains.
    pub agreement: f64,
    /// Mean absolute luma difference (levels, after one global gain and offset) on the
    /// covered lattice with B where it lies; `None` when the sizes differ.
    pub residual_before: Option<f64>,
    /// The same with the model.
    pub residual_after: f64,
    /// The photometric correction.
    pub photometric: Photometric,
    /// Share of A's pixels that B does not cover (outside B, or padding).
    pub uncovered_share: f64,
    /// Padding found in A (B shows content there).
    pub padding_a: Edges,
    /// Padding found in B (A shows content there).
    pub padding_b: Edges,
    /// Every model tried, in order.
    pub tried: Vec<Tried>,
    /// Why registration fell back to identity, or anything else worth saying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Time spent, ms (not in the JSON report, which stays the same run to run).
    #[serde(skip)]
    pub elapsed_ms: f64,
}

/// The result of [`register`].
#[derive(Debug, Clone)]
pub struct Registration<'a> {
    /// A → B.
    pub transform: Transform,
    /// B ≈ (1 + q)·(gain·A + offset), already undone in `warped_b`.
    pub photometric: Photometric,
    /// B resampled onto A's frame (A's size), photometrically corrected; borrowed
    /// when nothing had to change. Pixels B does not cover hold A's own values.
    pub warped_b: Cow<'a, RgbaImage>,
    /// 255 where B covers A (eroded by [`RegisterOptions::erode`]), 0 elsewhere;
    /// `None` when B covers all of A.
    pub overlap: Option<GrayImage>,
    /// B's size.
    pub b_size: (u32, u32),
    /// The report.
    pub report: AlignmentReport,
}

impl Registration<'_> {
    /// True where B covers A's pixel (x, y) (outside the frame: false).
    pub fn covered(&self, x: u32, y: u32) -> bool {
        match &self.overlap {
            None => x < self.warped_b.width() && y < self.warped_b.height(),
            Some(m) => x < m.width() && y < m.height() && m.get_pixel(x, y)[0] > 0,
        }
    }

    /// Where A's point (x, y) is in B.
    pub fn map_point_to_b(&self, x: f64, y: f64) -> (f64, f64) {
        self.transform.map(x, y)
    }

    /// The box in B around A's box `r` (see [`Transform::map_rect`]).
    pub fn map_rect_to_b(&self, r: Rect) -> Option<Rect> {
        self.transform.map_rect(r, self.b_size)
    }
}

/// Registers B onto A: estimates the transform and the photometric correction,
/// resamples B onto A's frame, and says where B covers A. Never fails: a pair that
/// cannot be registered falls back to identity with a note.
pub fn register<'a>(
    a: &'a RgbaImage,
    b: &'a RgbaImage,
    opts: &RegisterOptions,
) -> Registration<'a> {
    let start = Instant::now();
    let mut ctx = Ctx::new(a, b, opts);
    let (t, extra) = ctx.estimate();
    ctx.finish(t, extra, start)
}

/// Figures a chosen model carries into the report.
#[derive(Debug, Clone, Default)]
struct Extra {
    matches: Option<usize>,
    inlier_share: Option<f64>,
    psr: Option<f64>,
    note: Option<String>,
}

/// A candidate transform with its score.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    t: Transform,
    agree: agree::Agreement,
    inlier_share: Option<f64>,
}

/// State shared by the steps of one registration.
struct Ctx<'a> {
    a: &'a RgbaImage,
    b: &'a RgbaImage,
    opts: RegisterOptions,
    lat: Lattice,
    pad_a: Edges,
    pad_b: Edges,
    valid_a: warp::Span,
    valid_b: warp::Span,
    identity: Option<agree::Agreement>,
    tried: Vec<Tried>,
    full: Option<(Plane, Plane)>,
}

impl<'a> Ctx<'a> {
    fn new(a: &'a RgbaImage, b: &'a RgbaImage, opts: &RegisterOptions) -> Ctx<'a> {
        let lat = Lattice::new(a, TUNING.lattice, TUNING.block);
        let (pad_a, pad_b) = rayon::join(|| warp::padding(a), || warp::padding(b));
        Ctx {
            a,
            b,
            opts: *opts,
            lat,
            pad_a,
            pad_b,
            valid_a: pad_a.span(a.width(), a.height()),
            valid_b: pad_b.span(b.width(), b.height()),
            identity: None,
            tried: Vec::new(),
            full: None,
        }
    }

    /// B's luma at each lattice point through `m` (NaN where not covered).
    fn sample_b(&self, m: &Mat3, integer: bool) -> Vec<f32> {
        let (vx0, vy0, vx1, vy1) = self.valid_b;
        let va = self.valid_a;
        let in_a = |x: u32, y: u32| x >= va.0 && x < va.2 && y >= va.1 && y < va.3;
        if integer {
            let (tx, ty) = (m[0][2].round() as i64, m[1][2].round() as i64);
            return self
                .lat
                .samples
                .iter()
                .map(|s| {
                    let (qx, qy) = (s.x as i64 + tx, s.y as i64 + ty);
                    if in_a(s.x, s.y)
                        && qx >= vx0 as i64
                        && qx < vx1 as i64
                        && qy >= vy0 as i64
                        && qy < vy1 as i64
                    {
                        plane::luma(self.b.get_pixel(qx as u32, qy as u32).0)
                    } else {
                        f32::NAN
                    }
                })
                .collect();
        }
        let pb = &self.full.as_ref().expect("planes built").1;
        self.lat
            .samples
            .iter()
            .map(|s| {
                let (qx, qy) = apply(m, s.x as f64, s.y as f64);
                if in_a(s.x, s.y)
                    && qx >= vx0 as f64 - 0.5
                    && qx <= vx1 as f64 - 0.5
                    && qy >= vy0 as f64 - 0.5
                    && qy <= vy1 as f64 - 0.5
                {
                    pb.sample(qx as f32, qy as f32)
                } else {
                    f32::NAN
                }
            })
            .collect()
    }

    fn score(&self, t: &Transform) -> agree::Agreement {
        agree::agreement(&self.lat, &self.sample_b(&t.matrix, t.is_integer()))
    }

    fn record(&mut self, c: &Candidate, rejected: Option<String>) {
        self.tried.push(Tried {
            model: c.t.model,
            agreement: c.agree.share,
            residual: c.agree.residual,
            rejected,
        });
    }

    fn planes(&mut self) -> &(Plane, Plane) {
        if self.full.is_none() {
            let (pa, pb) = rayon::join(|| Plane::from_rgba(self.a), || Plane::from_rgba(self.b));
            self.full = Some((pa, pb));
        }
        self.full.as_ref().expect("just built")
    }

    /// The transform, and what the report should say about how it was found.
    fn estimate(&mut self) -> (Transform, Extra) {
        let t = TUNING;
        let same = self.a.dimensions() == self.b.dimensions();
        let mode = self.opts.align;
        if same {
            let id = self.score(&Transform::IDENTITY);
            self.identity = Some(id);
            let c = Candidate {
                t: Transform::IDENTITY,
                agree: id,
                inlier_share: None,
            };
            if mode == AlignMode::None {
                return (Transform::IDENTITY, Extra::default());
            }
            if id.blocks == 0 {
                self.record(&c, None);
                return (
                    Transform::IDENTITY,
                    Extra {
                        note: Some(
                            "too little texture to register; B compared where it lies".into(),
                        ),
                        ..Extra::default()
                    },
                );
            }
            // The cheap path: the images already agree, and neither shows padding
            // the other lacks (equal margins on both, as screenshots have, are fine).
            if mode == AlignMode::Auto && id.share >= t.agree && self.pad_a == self.pad_b {
                self.record(&c, None);
                return (Transform::IDENTITY, Extra::default());
            }
            self.record(&c, Some("does not explain the pair".into()));
        } else if mode == AlignMode::None {
            return (Transform::IDENTITY, Extra::default());
        }
        // Working levels.
        let (aw, ah) = self.a.dimensions();
        let (bw, bh) = self.b.dimensions();
        let sa = (t.work_long as f64 / aw.max(ah) as f64).min(1.0);
        self.planes();
        let (pa, pb) = self.full.as_ref().expect("built");
        let la = Level::at_scale(pa, sa);
        // Content scale candidates: 1, and the size ratio when the sizes differ.
        let mut scales = vec![1.0];
        let (ra, rb) = (aw as f64 / ah as f64, bw as f64 / bh as f64);
        if !same && (ra / rb - 1.0).abs() < 0.03 {
            let r = ((aw as f64 * ah as f64) / (bw as f64 * bh as f64)).sqrt();
            if (r - 1.0).abs() > 0.02 && (1.0 / t.max_scale..=t.max_scale).contains(&r) {
                scales.push(r);
            }
        }
        let mut best: Option<(f64, Level, phase::Peak)> = None;
        for &r in &scales {
            let lb = Level::at_scale(pb, sa * r);
            let peak = phase::phase_correlate(&la.plane, &lb.plane);
            if best.as_ref().is_none_or(|b| peak.psr > b.2.psr) {
                best = Some((r, lb, peak));
            }
        }
        let (r, lb, peak) = best.expect("one scale at least");
        let to_full = |m: &Mat3| -> Mat3 {
            let lb_inv = invert(&lb.to_level()).expect("scales are positive");
            mul(&lb_inv, &mul(m, &la.to_level()))
        };
        let mut extra = Extra {
            psr: Some(peak.psr),
            ..Extra::default()
        };
        let mut chosen: Option<Candidate> = None;
        if matches!(mode, AlignMode::Auto | AlignMode::Shift) && peak.psr >= t.min_psr {
            let coarse = to_full(&[[1.0, 0.0, peak.dx], [0.0, 1.0, peak.dy], [0.0, 0.0, 1.0]]);
            let cand = if (r - 1.0).abs() < 1e-9 {
                self.translation(&coarse, sa)
            } else {
                self.refine_candidate(
                    &la,
                    &lb,
                    &coarse,
                    refine::Dof::Similarity,
                    Model::Similarity,
                    sa,
                )
            };
            if let Some(c) = cand {
                let explains = c.agree.share >= t.agree;
                if explains {
                    self.record(&c, None);
                    return (c.t, extra);
                }
                self.record(&c, Some("does not explain the pair".into()));
                chosen = Some(c);
            }
        } else if mode == AlignMode::Shift {
            extra.note = Some(format!(
                "no translation found (phase-correlation peak {:.1} below {}); B compared where it lies",
                peak.psr, t.min_psr
            ));
            return (Transform::IDENTITY, extra);
        }

        // Keypoints.
        if mode != AlignMode::Shift {
            let families: &[(fit::Family, refine::Dof, Model)] = match mode {
                AlignMode::Affine => &[(fit::Family::Affine, refine::Dof::Affine, Model::Affine)],
                AlignMode::Homography => &[(
                    fit::Family::Homography,
                    refine::Dof::Homography,
                    Model::Homography,
                )],
                _ => &[
                    (
                        fit::Family::Similarity,
                        refine::Dof::Similarity,
                        Model::Similarity,
                    ),
                    (fit::Family::Affine, refine::Dof::Affine, Model::Affine),
                    (
                        fit::Family::Homography,
                        refine::Dof::Homography,
                        Model::Homography,
                    ),
                ],
            };
            let lv = |s: warp::Span, l: &Level| -> (u32, u32, u32, u32) {
                let f = |v: u32, k: f64| ((v as f64 + 0.5) * k - 0.5).max(0.0);
                (
                    f(s.0, l.sx).ceil() as u32,
                    f(s.1, l.sy).ceil() as u32,
                    f(s.2, l.sx).floor() as u32,
                    f(s.3, l.sy).floor() as u32,
                )
            };
            let (ka, kb) = rayon::join(
                || keypoints::detect(&la.plane, lv(self.valid_a, &la)),
                || keypoints::detect(&lb.plane, lv(self.valid_b, &lb)),
            );
            let matches = keypoints::match_keypoints(&ka, &kb);
            extra.matches = Some(matches.len());
            let src: Vec<(f64, f64)> = matches.iter().map(|m| ka.points[m.0]).collect();
            let dst: Vec<(f64, f64)> = matches.iter().map(|m| kb.points[m.1]).collect();
            let mut best_kp: Option<Candidate> = None;
            for &(family, dof, model) in families {
                let Some(cons) = fit::ransac(family, &src, &dst, t.ransac_eps) else {
                    continue;
                };
                let share = cons.count as f64 / matches.len().max(1) as f64;
                if cons.count < t.min_inliers || share < t.inlier_share {
                    self.tried.push(Tried {
                        model,
                        agreement: f64::NAN,
                        residual: f64::NAN,
                        rejected: Some(format!(
                            "{} inliers of {} matches ({:.0} %)",
                            cons.count,
                            matches.len(),
                            100.0 * share
                        )),
                    });
                    continue;
                }
                let init = to_full(&cons.model);
                let Some(mut c) = self.refine_candidate(&la, &lb, &init, dof, model, sa) else {
                    continue;
                };
                c.inlier_share = Some(share);
                let better = match &best_kp {
                    None => true,
                    Some(b) => {
                        c.agree.residual < (1.0 - t.model_gain) * b.agree.residual
                            && c.agree.share >= b.agree.share - 0.02
                    }
                };
                if better {
                    if let Some(prev) = best_kp.take() {
                        self.record(&prev, Some(format!("{model:?} explains the pair better")));
                    }
                    best_kp = Some(c);
                } else {
                    self.record(&c, Some("no better than the simpler model".into()));
                }
            }
            if let Some(c) = best_kp {
                // Simplest first: a keypoint model (resampled) replaces the shift when
                // it agrees on more blocks or lowers the residual as much as a
                // sub-pixel shift must to replace an integer one.
                let beats_shift = chosen.as_ref().is_none_or(|s| {
                    c.agree.share > s.agree.share
                        || c.agree.residual <= t.subpixel_gain * s.agree.residual
                });
                if beats_shift {
                    chosen = Some(c);
                } else {
                    self.record(&c, Some("the translation explains the pair as well".into()));
                }
            }
        }

        // A model that does not explain the pair is used only when it explains a good
        // part of it and clearly more than identity does.
        // Or when it leaves at most `residual_gain` of identity's residual: sharp,
        // two-level pictures (scans of boards, line art) whose edges also changed
        // width agree block by block nowhere, yet a shift that halves their residual
        // is the geometry.
        let id_share = self.identity.map_or(0.0, |i| i.share);
        let id_residual = self.identity.map_or(f64::INFINITY, |i| i.residual);
        match chosen {
            Some(c)
                if c.agree.share >= t.agree
                    || (c.agree.share >= t.agree_min
                        && c.agree.share >= id_share + t.agree_margin)
                    || (c.agree.share > id_share
                        && c.agree.residual <= t.residual_gain * id_residual) =>
            {
                extra.inlier_share = c.inlier_share;
                self.record(&c, None);
                if c.agree.share < t.agree {
                    extra.note = Some(format!(
                        "the {:?} model explains only {:.0} % of the textured area",
                        c.t.model,
                        100.0 * c.agree.share
                    ));
                }
                (c.t, extra)
            }
            other => {
                if let Some(c) = other {
                    self.record(&c, Some("does not explain the pair".into()));
                }
                extra.note = Some(
                    "could not register the images (no model explains them); B compared where it lies"
                        .into(),
                );
                (Transform::IDENTITY, extra)
            }
        }
    }

    /// Integer shift near `coarse` at full resolution, then a sub-pixel one when it
    /// explains the pair clearly better.
    fn translation(&mut self, coarse: &Mat3, sa: f64) -> Option<Candidate> {
        let t = TUNING;
        let (cx, cy) = (coarse[0][2].round() as i64, coarse[1][2].round() as i64);
        // The phase peak is exact at full resolution; from a coarser level, search.
        let rad = if sa < 1.0 {
            (1.0 / sa).ceil() as i64 + 1
        } else {
            1
        };
        // Residual after a global gain and offset (lighting may differ).
        let mut best = (f64::INFINITY, cx, cy);
        for dy in -rad..=rad {
            for dx in -rad..=rad {
                let m = Transform::shift(cx + dx, cy + dy).matrix;
                let g = agree::agreement(&self.lat, &self.sample_b(&m, true));
                if g.covered > self.lat.samples.len() / 4 && g.residual < best.0 {
                    best = (g.residual, cx + dx, cy + dy);
                }
            }
        }
        if !best.0.is_finite() {
            return None;
        }
        let int = Transform::shift(best.1, best.2);
        let int_c = Candidate {
            t: int,
            agree: self.score(&int),
            inlier_share: None,
        };
        // Sub-pixel by direct refinement at full resolution.
        let (pa, pb) = self.full.as_ref().expect("built");
        let va = (
            self.valid_a.0 as usize,
            self.valid_a.1 as usize,
            self.valid_a.2 as usize,
            self.valid_a.3 as usize,
        );
        let Some(sub) = refine::refine(pa, pb, &int.matrix, refine::Dof::Translation, va) else {
            return Some(int_c);
        };
        let (fx, fy) = (sub[0][2] - best.1 as f64, sub[1][2] - best.2 as f64);
        if fx.abs().max(fy.abs()) < t.subpixel_min || fx.abs().max(fy.abs()) > 1.0 {
            return Some(int_c);
        }
        let st = Transform {
            model: Model::SubpixelTranslation,
            matrix: sub,
        };
        let sub_c = Candidate {
            t: st,
            agree: self.score(&st),
            inlier_share: None,
        };
        if sub_c.agree.residual <= t.subpixel_gain * int_c.agree.residual {
            self.record(
                &int_c,
                Some("a sub-pixel shift explains the pair better".into()),
            );
            Some(sub_c)
        } else {
            self.record(&sub_c, Some("no better than the integer shift".into()));
            Some(int_c)
        }
    }

    /// Refines `init` (full resolution) at the working level, then at full
    /// resolution, and scores it.
    fn refine_candidate(
        &mut self,
        la: &Level,
        lb: &Level,
        init: &Mat3,
        dof: refine::Dof,
        model: Model,
        sa: f64,
    ) -> Option<Candidate> {
        let mut m = *init;
        let span = |s: warp::Span, l: Option<&Level>| -> (usize, usize, usize, usize) {
            let (kx, ky) = l.map_or((1.0, 1.0), |l| (l.sx, l.sy));
            (
                (s.0 as f64 * kx).ceil() as usize,
                (s.1 as f64 * ky).ceil() as usize,
                (s.2 as f64 * kx).floor() as usize,
                (s.3 as f64 * ky).floor() as usize,
            )
        };
        let coarse = sa < 1.0 || (lb.sx - 1.0).abs() > 1e-9;
        if coarse {
            let ml = mul(&lb.to_level(), &mul(&m, &invert(&la.to_level())?));
            if let Some(r) =
                refine::refine(&la.plane, &lb.plane, &ml, dof, span(self.valid_a, Some(la)))
            {
                m = mul(&invert(&lb.to_level())?, &mul(&r, &la.to_level()));
            }
        }
        let (pa, pb) = self.full.as_ref().expect("built");
        if let Some(r) = refine::refine(pa, pb, &m, dof, span(self.valid_a, None)) {
            m = r;
        }
        let tr = Transform { model, matrix: m };
        if !fit::plausible(&m) {
            return None;
        }
        Some(Candidate {
            t: tr,
            agree: self.score(&tr),
            inlier_share: None,
        })
    }

    /// Confirms padding, warps, fits and applies the photometric correction.
    fn finish(mut self, t: Transform, extra: Extra, start: Instant) -> Registration<'a> {
        let (aw, ah) = self.a.dimensions();
        let (bw, bh) = self.b.dimensions();
        let inv = t.inverse().unwrap_or(Transform::IDENTITY);
        // Padding counts only where the other image shows something else.
        let confirm = |img: &RgbaImage, e: Edges, other: &dyn Fn(u32, u32) -> Option<[u8; 4]>| {
            let (w, h) = img.dimensions();
            // Outside the other image: harmless either way, reported as found.
            let ok = |s: warp::Span, rows: bool| {
                warp::strip_differs(img, s, rows, other).is_none_or(|(d, grad)| {
                    d >= TUNING.padding_confirm && grad >= TUNING.padding_texture
                })
            };
            Edges {
                left: if e.left > 0 && ok((0, 0, e.left, h), false) {
                    e.left
                } else {
                    0
                },
                right: if e.right > 0 && ok((w - e.right, 0, w, h), false) {
                    e.right
                } else {
                    0
                },
                top: if e.top > 0 && ok((0, 0, w, e.top), true) {
                    e.top
                } else {
                    0
                },
                bottom: if e.bottom > 0 && ok((0, h - e.bottom, w, h), true) {
                    e.bottom
                } else {
                    0
                },
            }
        };
        let (a, b) = (self.a, self.b);
        let look = |img: &RgbaImage, m: &Transform, x: u32, y: u32| -> Option<[u8; 4]> {
            let (u, v) = m.map(x as f64, y as f64);
            let (u, v) = (u.round(), v.round());
            (u >= 0.0 && v >= 0.0 && u < img.width() as f64 && v < img.height() as f64)
                .then(|| img.get_pixel(u as u32, v as u32).0)
        };
        let pad_b = confirm(b, self.pad_b, &|x, y| look(a, &inv, x, y));
        let pad_a = confirm(a, self.pad_a, &|x, y| look(b, &t, x, y));
        let spans_same = (pad_a, pad_b) == (self.pad_a, self.pad_b);
        self.pad_a = pad_a;
        self.pad_b = pad_b;
        self.valid_a = pad_a.span(aw, ah);
        self.valid_b = pad_b.span(bw, bh);

        let none = self.opts.align == AlignMode::None;
        let mut warped = warp::warp(
            a,
            b,
            &t.matrix,
            t.is_integer(),
            self.valid_a,
            self.valid_b,
            self.opts.erode,
        );
        let unchanged = t.model == Model::Identity && spans_same;
        let after = if none && a.dimensions() != b.dimensions() {
            None
        } else if unchanged && self.identity.is_some() {
            self.identity
        } else if t.is_integer() {
            Some(self.score(&t))
        } else {
            self.planes();
            Some(self.score(&t))
        };

        // Photometric, on low-gradient lattice points B covers.
        let mut photometric = Photometric::IDENTITY;
        if self.opts.photometric != PhotometricMode::Off && !none {
            let (cx, cy, s) = photometric::norm_params(aw, ah);
            let img = warped.image.as_ref();
            let covered = |x: u32, y: u32| {
                warped
                    .mask
                    .as_ref()
                    .is_none_or(|m| m.get_pixel(x, y)[0] > 0)
            };
            let n = self.lat.samples.len();
            let stride = n.div_ceil(TUNING.photometric_samples).max(1);
            let g2 = TUNING.photo_max_gradient * TUNING.photo_max_gradient;
            let samples: Vec<photometric::ColourSample> = self
                .lat
                .samples
                .iter()
                .step_by(stride)
                .filter(|p| p.gx * p.gx + p.gy * p.gy <= g2 && covered(p.x, p.y))
                .map(|p| {
                    let pa = a.get_pixel(p.x, p.y).0;
                    let pb = img.get_pixel(p.x, p.y).0;
                    photometric::ColourSample {
                        a: [pa[0] as f32, pa[1] as f32, pa[2] as f32],
                        b: [pb[0] as f32, pb[1] as f32, pb[2] as f32],
                        x: (p.x as f32 - cx) * s,
                        y: (p.y as f32 - cy) * s,
                    }
                })
                .collect();
            photometric =
                photometric::estimate(&samples, self.opts.photometric == PhotometricMode::Field);
            if photometric.applied {
                photometric.apply(warped.image.to_mut());
            }
        }
        let params = t.params();
        let report = AlignmentReport {
            mode: self.opts.align,
            model: t.model,
            params,
            matrix: t.matrix,
            matches: extra.matches,
            inlier_share: extra.inlier_share,
            psr: extra.psr,
            agreement: after.map_or(f64::NAN, |g| g.share),
            residual_before: self.identity.map(|i| i.residual),
            residual_after: after.map_or(f64::NAN, |g| g.residual),
            photometric,
            uncovered_share: warped.uncovered,
            padding_a: pad_a,
            padding_b: pad_b,
            tried: std::mem::take(&mut self.tried),
            note: extra.note,
            elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
        };
        Registration {
            transform: t,
            photometric,
            warped_b: warped.image,
            overlap: warped.mask.take(),
            b_size: (bw, bh),
            report,
        }
    }
}

/// m · (x, y, 1), dehomogenised.
#[inline]
pub(crate) fn apply(m: &Mat3, x: f64, y: f64) -> (f64, f64) {
    let w = m[2][0] * x + m[2][1] * y + m[2][2];
    (
        (m[0][0] * x + m[0][1] * y + m[0][2]) / w,
        (m[1][0] * x + m[1][1] * y + m[1][2]) / w,
    )
}

/// a · b.
pub(crate) fn mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut o = [[0.0; 3]; 3];
    for (i, row) in o.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    o
}

/// a⁻¹, `None` when singular.
pub(crate) fn invert(m: &Mat3) -> Option<Mat3> {
    let n = nalgebra::Matrix3::from_fn(|r, c| m[r][c]);
    let i = n.try_inverse()?;
    Some(std::array::from_fn(|r| std::array::from_fn(|c| i[(r, c)])))
}

/// A small deterministic generator (SplitMix64), so that two runs on one pair agree.
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 11) as u128 * n as u128) >> 53) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u = self.unit().max(1e-300);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    fn photo(w: u32, h: u32, dx: f64, dy: f64) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let (x, y) = (x as f64 - dx, y as f64 - dy);
            let v = 128.0
                + 50.0 * (x * 0.21 + y * 0.05).sin()
                + 35.0 * (x * 0.07 - y * 0.29).cos()
                + 20.0 * (x * 0.43 + y * 0.37).sin();
            let v = v.clamp(0.0, 255.0) as u8;
            Rgba([v, 255 - v, v / 2 + 60, 255])
        })
    }

    #[test]
    fn identity_on_identical_images_is_free() {
        let a = photo(200, 150, 0.0, 0.0);
        let r = register(&a, &a, &RegisterOptions::default());
        assert_eq!(r.transform.model, Model::Identity);
        assert!(matches!(r.warped_b, Cow::Borrowed(_)), "no copy of B");
        assert!(r.overlap.is_none());
        assert!(!r.photometric.applied);
        assert_eq!(r.report.uncovered_share, 0.0);
        assert!(r.report.note.is_none());
        // Only the lattice check ran: no planes, no phase correlation, no keypoints.
        assert!(r.report.psr.is_none() && r.report.matches.is_none());
    }

    #[test]
    fn stripes_running_into_the_edges_are_content_not_padding() {
        // Rows of 2 px stripes, black and white; in B the black ones turn red. Each
        // row is flat, each column repeats the next: neither is padding B never had.
        let stripes = |ink: [u8; 4]| {
            RgbaImage::from_fn(50, 50, |_, y| {
                if y % 4 < 2 {
                    Rgba(ink)
                } else {
                    Rgba([255, 255, 255, 255])
                }
            })
        };
        let a = stripes([0, 0, 0, 255]);
        let b = stripes([200, 0, 0, 255]);
        let opts = RegisterOptions {
            align: AlignMode::Auto,
            ..RegisterOptions::default()
        };
        let r = register(&a, &b, &opts);
        assert_eq!(r.transform.model, Model::Identity);
        assert_eq!(r.report.uncovered_share, 0.0, "{:?}", r.report);
        assert!(r.overlap.is_none());
    }

    #[test]
    fn integer_shift_is_found_and_copied_exactly() {
        let a = photo(200, 150, 0.0, 0.0);
        let b = photo(200, 150, 7.0, -4.0);
        let r = register(&a, &b, &RegisterOptions::default());
        assert_eq!(r.transform.model, Model::Translation, "{:?}", r.report);
        assert_eq!(r.transform.matrix[0][2], 7.0);
        assert_eq!(r.transform.matrix[1][2], -4.0);
        // Covered pixels equal A's exactly (no resampling).
        assert_eq!(r.warped_b.get_pixel(50, 50), a.get_pixel(50, 50));
        let expect = (7.0 * 150.0 + 4.0 * 200.0 - 28.0) / (200.0 * 150.0);
        assert!((r.report.uncovered_share - expect).abs() < 1e-9);
        let rect = r
            .map_rect_to_b(Rect {
                x: 10,
                y: 20,
                w: 30,
                h: 40,
            })
            .unwrap();
        assert_eq!((rect.x, rect.y, rect.w, rect.h), (17, 16, 30, 40));
    }

    /// Broadband texture (blurred noise), bilinearly sampled at (x - dx, y - dy).
    fn textured(w: u32, h: u32, dx: f64, dy: f64) -> RgbaImage {
        let n = 320;
        let mut rng = Rng::new(11);
        let noise = Plane {
            w: n,
            h: n,
            data: (0..n * n).map(|_| (rng.unit() * 255.0) as f32).collect(),
        };
        let base = noise.blur3().blur3();
        RgbaImage::from_fn(w, h, |x, y| {
            let v = base.sample((x as f64 + 50.0 - dx) as f32, (y as f64 + 50.0 - dy) as f32);
            let v = (2.0 * (v - 128.0) + 128.0).clamp(0.0, 255.0) as u8;
            Rgba([v, v / 2 + 40, 255 - v, 255])
        })
    }

    #[test]
    fn sub_pixel_shift_is_resampled_within_a_tenth() {
        let a = textured(200, 150, 0.0, 0.0);
        for (dx, dy) in [(3.5, -2.25), (-1.3, 0.6)] {
            let b = textured(200, 150, dx, dy);
            let r = register(&a, &b, &RegisterOptions::default());
            assert_eq!(
                r.transform.model,
                Model::SubpixelTranslation,
                "{:?}",
                r.report
            );
            let p = r.transform.params();
            assert!((p.dx - dx).abs() < 0.1 && (p.dy - dy).abs() < 0.1, "{p:?}");
            assert!((p.scale - 1.0).abs() < 1e-12 && p.angle_deg == 0.0);
        }
    }

    #[test]
    fn mode_none_does_nothing() {
        let a = photo(120, 90, 0.0, 0.0);
        let b = photo(120, 90, 3.0, 0.0);
        let o = RegisterOptions {
            align: AlignMode::None,
            ..RegisterOptions::default()
        };
        let r = register(&a, &b, &o);
        assert_eq!(r.transform, Transform::IDENTITY);
        assert!(matches!(r.warped_b, Cow::Borrowed(_)));
    }

    #[test]
    fn params_read_off_a_similarity() {
        let ang = 3f64.to_radians();
        let s = 0.5;
        let t = Transform {
            model: Model::Similarity,
            matrix: [
                [s * ang.cos(), -s * ang.sin(), 4.0],
                [s * ang.sin(), s * ang.cos(), -2.0],
                [0.0, 0.0, 1.0],
            ],
        };
        let p = t.params();
        assert!((p.scale - 0.5).abs() < 1e-12 && (p.angle_deg - 3.0).abs() < 1e-9);
        assert_eq!((p.dx, p.dy), (4.0, -2.0));
        let i = t.inverse().unwrap();
        let (x, y) = i.map(t.map(10.0, 20.0).0, t.map(10.0, 20.0).1);
        assert!((x - 10.0).abs() < 1e-9 && (y - 20.0).abs() < 1e-9);
    }
}
