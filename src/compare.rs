//! The pipeline: size policy → exact-equality check → change maps → thresholds →
//! regions → report. Pictures are made afterwards, only on request (`render.rs`).

use crate::align::{align, Alignment};
use crate::cancel::Cancel;
use crate::change;
use crate::deep::{Backbone, DeepMap};
use crate::error::{Error, Result};
use crate::load::Image;
use crate::map::{Map, TileRect, Tiles, TILE};
use crate::options::{
    GlobalChange, Method, Options, Rect, Settings, SizePolicy, Threshold, DEEP_FLOOR, PIXEL_FLOOR,
    SSIM_FLOOR,
};
use crate::regions::{self, Region, Sample};
use crate::register::{
    register, AlignMode, AlignmentReport, Model, Photometric, RegisterOptions, Registration,
    Transform,
};
use crate::report::{
    BoxKind, ChangeBox, Report, Scores, Thresholds, ToleranceReport, Verdict, REPORT_SCHEMA,
};
use crate::{pixel, ssim};
use image::RgbaImage;
use std::borrow::Cow;

/// Evidence bits.
pub const EVIDENCE_PIXEL: u8 = 1;
pub const EVIDENCE_SSIM: u8 = 2;
pub const EVIDENCE_DEEP: u8 = 4;
/// A deep-feature region is refined onto the pixels whose colour difference is at
/// least this share of the pixel threshold; with fewer than the minimum area of such
/// pixels it is a semantic (texture) change.
const DEEP_SUPPORT: f32 = 0.5;

/// A semantic box (deep evidence without colour support) needs a peak deep distance of
/// this many deep thresholds. On the generated set at the 224 px working size the only
/// semantic boxes were two false ones at 1.07 × the threshold (a corner of a
/// brightened photo, `china-256-01`, `china-384-08`), and no true edit was boxed as
/// semantic; the demo's deep-only edits peak at 1.3 × and more.
const SEMANTIC_MARGIN: f32 = 1.25;

/// On a re-taken photo pair, a box is kept only where the deep map reaches this share
/// of the deep threshold inside it. Measured on the re-taken set
/// (`scripts/eval/make-retaken.py`): the colour residuals boxed there peak at deep
/// distance 0.01-0.27 (five of six false boxes under 0.21), the true edits at 0.29 and
/// up; 0.25 × 0.75 = 0.19 keeps every true edit with a margin.
const DEEP_CONFIRM: f32 = 0.25;

/// Registration models that mean B was taken again (not shifted, cropped or scaled):
/// affine or perspective maps.
fn retaken(model: Model) -> bool {
    matches!(model, Model::Affine | Model::Homography)
}

/// Tile flags are taken a hair under each level, so that rounding in `x / t >= 1`
/// can never hide a tile that holds evidence.
const LEVEL_MARGIN: f32 = 0.999;

/// A finished comparison: the report plus what pictures are drawn from.
pub struct Comparison<'a> {
    pub report: Report,
    /// A and B after the size policy.
    pub a: Cow<'a, RgbaImage>,
    pub b: Cow<'a, RgbaImage>,
    /// B as given, and the map from A's coordinates to it, when registration moved B
    /// (the pictures of B show B as it is, with the boxes mapped onto it).
    pub(crate) b_given: Option<(Cow<'a, RgbaImage>, Transform)>,
    pub(crate) fields: Fields,
    /// Where the time went.
    pub timings: Timings,
}

impl Comparison<'_> {
    /// B as the pictures show it: as given when registration moved it, else as
    /// compared.
    pub fn b_shown(&self) -> &RgbaImage {
        self.b_given.as_ref().map_or(&self.b, |(b, _)| b)
    }

    /// The deep change map, when a backbone ran.
    pub fn deep_map(&self) -> Option<&DeepMap> {
        self.fields.deep.as_ref()
    }

    /// The same comparison, owning A and B (copied where it borrowed them), so that it
    /// can outlive the input images: a front end that keeps a comparison to draw its
    /// pictures later (the Python package's result object).
    pub fn into_owned(self) -> Comparison<'static> {
        Comparison {
            report: self.report,
            a: Cow::Owned(self.a.into_owned()),
            b: Cow::Owned(self.b.into_owned()),
            b_given: self
                .b_given
                .map(|(img, t)| (Cow::Owned(img.into_owned()), t)),
            fields: self.fields,
            timings: self.timings,
        }
    }
}

/// Time spent in each step of [`compare_with`], in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Pixel and SSIM maps (including the exact-equality scan).
    pub maps_ms: f64,
    /// Scaling and normalising both images for the backbone.
    pub deep_preprocess_ms: f64,
    /// The backbone run (both images as one batch).
    pub deep_inference_ms: f64,
    /// Feature distances to the deep change map.
    pub deep_map_ms: f64,
    /// Regions and boxes.
    pub boxes_ms: f64,
    /// Registration (model estimate, resampling, photometric correction).
    pub register_ms: f64,
}

/// The change maps and thresholds, from which each pixel's evidence is read.
pub(crate) struct Fields {
    pub method: Method,
    pub pixel: Map,
    pub ssim: Option<Map>,
    pub pixel_t: f32,
    pub ssim_t: f32,
    pub deep: Option<DeepMap>,
    pub deep_t: f32,
    pub ignore: Vec<Rect>,
    /// 255 where registered B covers A; pixels outside are never boxed. `None` when B
    /// covers all of A.
    pub overlap: Option<image::GrayImage>,
    /// The change model's verdict per pixel (row-major, 1 = part of a change), for
    /// the methods it serves; `None` for the SSIM and deep methods.
    pub marked: Option<Vec<u8>>,
}

impl Fields {
    /// The evidence at one pixel, `None` when it is below every threshold.
    #[inline]
    pub fn sample(&self, x: u32, y: u32) -> Option<Sample> {
        if let Some(m) = &self.marked {
            let i = y as usize * self.pixel.width as usize + x as usize;
            if m[i] == 0 {
                return None;
            }
            let de = self.pixel.get(x, y);
            return Some(Sample {
                score: de / self.pixel_t,
                delta_e: de,
                evidence: EVIDENCE_PIXEL,
            });
        }
        // The SSIM method's evidence: the structural map over its threshold.
        if self.method != Method::Ssim || !self.pixel.has_tile_at(x, y) || self.ignored(x, y) {
            return None;
        }
        let score = self.ssim.as_ref()?.get(x, y) / self.ssim_t;
        (score >= 1.0).then(|| Sample {
            score,
            delta_e: self.pixel.get(x, y),
            evidence: EVIDENCE_SSIM,
        })
    }

    /// The deep-feature distance at one pixel in threshold units (0 without a backbone).
    #[inline]
    pub fn deep_score(&self, x: u32, y: u32) -> f32 {
        self.deep
            .as_ref()
            .map_or(0.0, |d| d.at_image(x, y) / self.deep_t)
    }

    /// True when the pixel belongs to the change `b` shows (for the mask and the
    /// filled picture): it has pixel or SSIM evidence, or, in a box the deep features
    /// found, deep evidence (with colour support unless the box is semantic).
    pub fn marked(&self, x: u32, y: u32, b: &ChangeBox) -> bool {
        if self.sample(x, y).is_some() {
            return true;
        }
        if self.deep.is_none() || !b.evidence.contains(&"deep") || self.ignored(x, y) {
            return false;
        }
        self.deep_score(x, y) >= 1.0
            && (b.kind == BoxKind::Semantic
                || (self.pixel.has_tile_at(x, y)
                    && self.pixel.get(x, y) >= DEEP_SUPPORT * self.pixel_t))
    }

    /// One flag per tile (row-major): false where [`Fields::sample`] is `None` for
    /// every pixel of the tile (the SSIM method's map under its threshold), so the
    /// region search can skip it.
    pub fn live_tiles(&self) -> Vec<bool> {
        let present = self.pixel.tiles_reaching(f32::NEG_INFINITY);
        // (A hair under the level: `sample` divides by the threshold.)
        let ssim = self
            .ssim
            .as_ref()
            .map(|m| m.tiles_reaching(self.ssim_t * LEVEL_MARGIN));
        present
            .iter()
            .enumerate()
            .map(|(i, &p)| p && ssim.as_ref().is_some_and(|s| s[i]))
            .collect()
    }

    /// The change at one pixel in threshold units, 0 in ignored areas; what
    /// [`Fields::score_row`] computes a row at a time.
    #[cfg(test)]
    pub fn score(&self, x: u32, y: u32) -> f32 {
        if self.ignored(x, y) {
            return 0.0;
        }
        let deep = self.deep_score(x, y);
        if self.method == Method::Deep {
            return deep;
        }
        if !self.pixel.has_tile_at(x, y) {
            return deep;
        }
        self.score_with(x, y, deep)
    }

    /// The score at a pixel whose tile holds pixel values, given its deep score.
    #[inline]
    fn score_with(&self, x: u32, y: u32, deep: f32) -> f32 {
        let pixel_score = self.pixel.get(x, y) / self.pixel_t;
        match self.method {
            Method::Pixel => pixel_score,
            Method::Ssim => self
                .ssim
                .as_ref()
                .map_or(0.0, |m| m.get(x, y) / self.ssim_t),
            Method::Deep => deep,
            Method::Fused => pixel_score.max(deep),
        }
    }

    /// [`Fields::score`] of every pixel of row `y` (`out` holds the row, one value
    /// per pixel of the map's width), tile by tile: a tile without pixel values costs
    /// nothing but the deep map's value, and the ignored pixels are zeroed last.
    pub fn score_row(&self, y: u32, out: &mut [f32]) {
        let w = self.pixel.width;
        debug_assert_eq!(out.len(), w as usize);
        match &self.deep {
            Some(d) => {
                for (x, v) in (0..w).zip(out.iter_mut()) {
                    *v = d.at_image(x, y) / self.deep_t;
                }
            }
            None => out.fill(0.0),
        }
        if self.method != Method::Deep {
            for x0 in (0..w).step_by(TILE as usize) {
                if !self.pixel.has_tile_at(x0, y) {
                    continue;
                }
                for x in x0..(x0 + TILE).min(w) {
                    out[x as usize] = self.score_with(x, y, out[x as usize]);
                }
            }
        }
        if self.overlap.is_some() || !self.ignore.is_empty() {
            for (x, v) in (0..w).zip(out.iter_mut()) {
                if self.ignored(x, y) {
                    *v = 0.0;
                }
            }
        }
    }

    fn ignored(&self, x: u32, y: u32) -> bool {
        outside(self.overlap.as_ref(), &self.ignore, x, y)
    }
}

/// Compares two decoded images with pixel and SSIM evidence only (no backbone).
pub fn compare<'a>(a: &'a Image, b: &'a Image, options: &Options) -> Result<Comparison<'a>> {
    compare_with(a, b, options, None)
}

/// Compares two decoded images. With a backbone, [`Method::Deep`] and the fused
/// default also use deep features; [`Method::Deep`] without one is an error.
pub fn compare_with<'a>(
    a: &'a Image,
    b: &'a Image,
    options: &Options,
    backbone: Option<&Backbone>,
) -> Result<Comparison<'a>> {
    compare_cancellable(a, b, options, backbone, &Cancel::new())
}

/// [`compare_with`], stopping with [`Error::Cancelled`] soon after `cancel` is
/// cancelled: the token is checked between the steps (size policy, exact scan, each
/// change map, deep features, regions, boxes) and inside the long per-tile loops of
/// the pixel and SSIM maps and the region search, so a comparison stops within about
/// one tile row's work. (The backbone's run itself is not interrupted.)
pub fn compare_cancellable<'a>(
    a: &'a Image,
    b: &'a Image,
    options: &Options,
    backbone: Option<&Backbone>,
    cancel: &Cancel,
) -> Result<Comparison<'a>> {
    crate::cancel::catching(|| run(a, b, options, backbone, cancel))
}

fn run<'a>(
    a: &'a Image,
    b: &'a Image,
    options: &Options,
    backbone: Option<&Backbone>,
    cancel: &Cancel,
) -> Result<Comparison<'a>> {
    cancel.check("size policy")?;
    let settings = options.validate()?;
    if settings.method == Method::Deep && backbone.is_none() {
        return Err(Error::option(
            "method",
            "the deep method needs a backbone model",
        ));
    }
    let backbone = backbone.filter(|_| matches!(settings.method, Method::Deep | Method::Fused));
    cancel.check("registration")?;
    let mut timings = Timings::default();
    let clock = std::time::Instant::now();
    let Registered {
        a: ia,
        b: ib,
        alignment,
        registration,
        overlap,
    } = registered(a, b, &settings)?;
    timings.register_ms = ms(clock.elapsed());
    let moved = registration
        .as_ref()
        .map(|r| r.transform)
        .filter(|t| t.model != Model::Identity);
    let (w, h) = ia.dimensions();
    // When B holds A's content at a lower resolution, A is compared at B's: the detail
    // B never had is not a change. The pictures keep A as it is.
    let scale = registration
        .as_ref()
        .map_or(1.0, |r| r.transform.params().scale);
    let ia_full = ia;
    let ia = match coarser(&ia_full, scale) {
        Some(low) => Cow::Owned(low),
        None => Cow::Borrowed(ia_full.as_ref()),
    };
    let tiles = Tiles::find(&ia, &ib);
    cancel.check("change maps")?;
    let alpha = a.has_alpha || b.has_alpha || !matches!(alignment, Alignment::None);
    let global = registration.as_ref().map_or_else(Vec::new, global_findings);

    // The pixel and fused methods detect with the change model; the SSIM and deep
    // methods threshold their own maps (the colour difference gives their boxes'
    // figures and, for the deep method, colour support).
    let modelled = matches!(settings.method, Method::Pixel | Method::Fused);
    let pixel_t = match settings.pixel_threshold {
        Threshold::Fixed(t) => t,
        Threshold::Auto if modelled => MODEL.jnd,
        Threshold::Auto => PIXEL_FLOOR,
    };
    let ssim_t = match settings.ssim_threshold {
        Threshold::Fixed(t) => t,
        Threshold::Auto => SSIM_FLOOR,
    };
    let clock = std::time::Instant::now();
    let mut detection = None;
    let (pixel_map, ssim_result) = if tiles.is_clean() {
        (Map::zeros(w, h), None)
    } else if modelled {
        let ask = change::Ask {
            floor: pixel_t,
            auto_floor: settings.pixel_threshold == Threshold::Auto,
            min_area: settings.min_area,
            merge_distance: settings.merge_distance,
            alpha,
            clipped: registration.as_ref().and_then(|r| clipping(&r.photometric)),
        };
        let ignore = &settings.ignore;
        let tested = |x: u32, y: u32| !outside(overlap.as_ref(), ignore, x, y);
        // A cancelled token unwinds both out of the join, to `compare_cancellable`.
        let (found, ssim) = rayon::join(
            || {
                let dirty = (tiles.dirty.as_slice(), tiles.cols, TILE);
                change::detect_near_changes(&ia, &ib, dirty, ask, &MODEL, tested, cancel)
            },
            || ssim_score(&ia, &ib, &tiles, cancel),
        );
        let map = Map::from_plane(w, h, &found.delta_e);
        detection = Some(found);
        (map, Some(ssim))
    } else {
        let (pixel, ssim) = change_maps(
            (&ia, &ib),
            alpha,
            &tiles,
            settings.method,
            (pixel_t, ssim_t),
            cancel,
        )?;
        (pixel, Some(ssim))
    };
    timings.maps_ms = ms(clock.elapsed());
    // The model may raise an automatic floor to the pair's noise level.
    let pixel_t = detection.as_ref().map_or(pixel_t, |d| d.floor);
    // The backbone runs after the pixel and SSIM maps, not beside them: ONNX Runtime
    // keeps every core busy on its own. Identical inputs need no run: their features
    // are equal by definition.
    cancel.check("deep features")?;
    let deep = match backbone {
        Some(bb) if !tiles.is_clean() => Some(crate::deep::deep_map(bb, &ia, &ib)?),
        _ => None,
    };
    cancel.check("regions")?;
    // The automatic deep threshold: the floor, raised to what is significant against
    // the pair's own unchanged cells (`DeepMap::level`).
    let deep_t = match (settings.deep_threshold, &deep) {
        (Threshold::Fixed(t), _) => t,
        (Threshold::Auto, Some(d)) => d.level(DEEP_FLOOR),
        (Threshold::Auto, None) => DEEP_FLOOR,
    };
    if let Some(d) = &deep {
        [
            timings.deep_preprocess_ms,
            timings.deep_inference_ms,
            timings.deep_map_ms,
        ] = d.timings;
    }
    // SSIM is at most 1; in f32 sums a pair that differs in a few pixels can reach
    // 1 + 1e-6 (found by fuzzing), which the report does not show.
    let ssim_score = ssim_result.as_ref().map_or(1.0, |s| s.score.min(1.0));
    let ssim_map = ssim_result
        .map(|s| s.map)
        .filter(|_| !matches!(settings.method, Method::Pixel | Method::Deep));
    let (semantic, patch_similarity) = match (&deep, backbone) {
        (Some(d), _) => (Some(d.semantic), Some(d.patch_similarity)),
        (None, Some(_)) => (Some(1.0), Some(1.0)),
        (None, None) => (None, None),
    };

    let clock = std::time::Instant::now();
    let fields = Fields {
        method: settings.method,
        pixel: pixel_map,
        ssim: ssim_map,
        pixel_t,
        ssim_t,
        deep,
        deep_t,
        ignore: settings.ignore.clone(),
        overlap,
        marked: detection.as_mut().map(|d| std::mem::take(&mut d.marked)),
    };
    let mut boxes: Vec<ChangeBox> = match &detection {
        Some(d) => d
            .found
            .iter()
            .map(|f| ChangeBox {
                significance: Some(f.log10_nfa),
                ..to_box(&f.region)
            })
            .collect(),
        None if tiles.is_clean() || settings.method != Method::Ssim => Vec::new(),
        None => structural_regions(&fields, &settings, cancel)
            .iter()
            .map(|r| {
                // The map's windows widen a change: the box is shrunk onto the pixels
                // whose own colour difference reaches the pixel threshold (kept
                // where none does: a change seen only in structure).
                let mut b = to_box(r);
                if let Some(tight) = pixel::raw_bounds(&ia, &ib, alpha, r.rect(), pixel_t) {
                    (b.x, b.y, b.w, b.h) = (tight.x, tight.y, tight.w, tight.h);
                    b.changed_pixels = count_marked(&fields, &b);
                }
                b
            })
            .collect(),
    };
    cancel.check("boxes")?;
    if fields.deep.is_some() {
        for b in &mut boxes {
            b.deep_change = Some(peak_deep(&fields, b));
        }
        add_deep_boxes(&fields, &settings, &mut boxes);
        // Deep evidence widens what a box's change is: recount, so the count and the
        // mask agree.
        for b in boxes.iter_mut().filter(|b| b.evidence.contains(&"deep")) {
            b.changed_pixels = count_marked(&fields, b);
        }
        // A re-taken photo (B registered with an affine or perspective map): parallax, resampling and lighting leave colour residuals the features
        // tolerate, so a box must be seen by the features too.
        if moved.is_some_and(|t| retaken(t.model)) {
            boxes.retain(|b| b.deep_change.unwrap_or(0.0) >= DEEP_CONFIRM * fields.deep_t);
        }
    }
    timings.boxes_ms = ms(clock.elapsed());
    let total = (u64::from(w) * u64::from(h)) as f64;
    let changed: u64 = boxes.iter().map(|b| b.changed_pixels).sum();
    let counts_global = !global.is_empty() && settings.global_change == GlobalChange::Different;
    let tolerated = !boxes.is_empty()
        && settings
            .tolerance
            .allows(changed, u64::from(w) * u64::from(h));
    let verdict = if tiles.is_clean() && global.is_empty() {
        Verdict::Identical
    } else if (boxes.is_empty() || tolerated) && !counts_global {
        Verdict::Same
    } else {
        Verdict::Different
    };
    let report = Report {
        schema: REPORT_SCHEMA,
        a: a.info(),
        b: b.info(),
        method: settings.method,
        model: backbone.map(|bb| bb.spec().name.clone()),
        alignment,
        registration: registration.map(|r| r.report),
        global,
        verdict,
        noise: detection.as_ref().map(|d| d.noise),
        scores: Scores {
            ssim: ssim_score,
            changed_pixel_ratio: changed as f64 / total,
            differing_pixel_ratio: tiles.differing_pixels as f64 / total,
            max_delta_e: fields.pixel.max(),
            semantic,
            patch_similarity,
        },
        thresholds: Thresholds {
            pixel_delta_e: pixel_t,
            ssim_dissimilarity: ssim_t,
            deep_distance: backbone.map(|_| deep_t),
        },
        tolerance: (!settings.tolerance.is_none()).then_some(ToleranceReport {
            max_diff_pixels: settings.tolerance.max_diff_pixels,
            max_diff_ratio: settings.tolerance.max_diff_ratio,
            changed_pixels: changed,
            tolerated,
        }),
        boxes,
    };
    drop(ia);
    let b_given = moved.map(|t| (Cow::Borrowed(&b.rgba), t));
    Ok(Comparison {
        report,
        a: ia_full,
        b: ib,
        b_given,
        fields,
        timings,
    })
}

/// A at the resolution of a B that shows it at `scale` (< 1: B is smaller): down to
/// that size and back, so both carry the same detail. `None` when B is not clearly
/// smaller (scale ≥ 0.9).
fn coarser(a: &RgbaImage, scale: f64) -> Option<RgbaImage> {
    if !(scale > 0.0 && scale < 0.9) {
        return None;
    }
    let (w, h) = a.dimensions();
    let lw = ((f64::from(w) * scale).round() as u32).max(1);
    let lh = ((f64::from(h) * scale).round() as u32).max(1);
    let low = image::imageops::resize(a, lw, lh, image::imageops::FilterType::Triangle);
    Some(image::imageops::resize(
        &low,
        w,
        h,
        image::imageops::FilterType::Triangle,
    ))
}

/// Both images after the size policy and registration: B in A's frame.
struct Registered<'a> {
    a: Cow<'a, RgbaImage>,
    b: Cow<'a, RgbaImage>,
    alignment: Alignment,
    registration: Option<Found>,
    /// The overlap mask (255 where B covers A), when B does not cover all of A.
    overlap: Option<image::GrayImage>,
}

/// What registration found, without its pictures.
struct Found {
    transform: Transform,
    photometric: Photometric,
    report: AlignmentReport,
}

/// Applies the size policy and registers B onto A. Identical inputs and
/// `AlignMode::None` skip registration; `SizePolicy::Pad` pads instead (its padding
/// counts as changed). With different sizes, `Auto` registers and falls back to the
/// size error when registration explains nothing; `Align` always compares the overlap.
fn registered<'a>(a: &'a Image, b: &'a Image, settings: &Settings) -> Result<Registered<'a>> {
    let same_size = a.rgba.dimensions() == b.rgba.dimensions();
    let policy = settings.size_policy;
    let mode = match (settings.align, same_size, policy) {
        (AlignMode::None, false, SizePolicy::Auto | SizePolicy::Align) => AlignMode::Auto,
        (_, _, SizePolicy::Pad) => AlignMode::None,
        (m, _, _) => m,
    };
    let registers_sizes = !same_size && matches!(policy, SizePolicy::Auto | SizePolicy::Align);
    let (ia, ib, alignment) = if registers_sizes {
        (
            Cow::Borrowed(&a.rgba),
            Cow::Borrowed(&b.rgba),
            Alignment::None,
        )
    } else {
        align(a, b, policy)?
    };
    let nothing_to_do = mode == AlignMode::None || (same_size && ia.as_raw() == ib.as_raw());
    if nothing_to_do {
        return Ok(Registered {
            a: ia,
            b: ib,
            alignment,
            registration: None,
            overlap: None,
        });
    }
    let opts = RegisterOptions {
        align: mode,
        ..RegisterOptions::default()
    };
    let reg = register(&ia, &ib, &opts);
    if registers_sizes && policy == SizePolicy::Auto && reg.transform.model == Model::Identity {
        // Registration does not explain the sizes: the size policy's error.
        align(a, b, SizePolicy::Error)?;
    }
    let Registration {
        transform,
        photometric,
        warped_b,
        overlap,
        report,
        ..
    } = reg;
    let warped = match warped_b {
        Cow::Owned(w) => Some(w),
        Cow::Borrowed(_) => None,
    };
    let (ib, alignment) = match warped {
        Some(w) => (Cow::Owned(w), alignment),
        None if registers_sizes => unreachable!("different sizes are always resampled"),
        None => (ib, alignment),
    };
    Ok(Registered {
        a: ia,
        b: ib,
        alignment,
        registration: Some(Found {
            transform,
            photometric,
            report,
        }),
        overlap,
    })
}

/// A registered shift under this many pixels is rendering jitter (anti-aliasing, a
/// sub-pixel re-layout), not a move: it is undone but not reported as a change.
const JITTER_PX: f64 = 0.5;
/// Likewise a rotation under this many degrees and a scale within this of 1.
const JITTER_DEG: f64 = 0.1;
const JITTER_SCALE: f64 = 0.005;

/// What registration found that changed the whole picture, in words: never boxed.
fn global_findings(reg: &Found) -> Vec<String> {
    let mut out = Vec::new();
    let p = reg.transform.params();
    let moved = p.dx.hypot(p.dy) >= JITTER_PX;
    let turned = p.angle_deg.abs() >= JITTER_DEG || (p.scale - 1.0).abs() >= JITTER_SCALE;
    match reg.transform.model {
        Model::Identity => {}
        Model::Translation | Model::SubpixelTranslation if !moved => {}
        _ if !moved && !turned => {}
        Model::Translation | Model::SubpixelTranslation => out.push(format!(
            "content shifted by ({}, {})",
            round1(p.dx),
            round1(p.dy)
        )),
        _ => out.push(format!(
            "content moved: scale {:.3}, rotation {:.2}°, shift ({}, {})",
            p.scale,
            p.angle_deg,
            round1(p.dx),
            round1(p.dy)
        )),
    }
    let ph = &reg.photometric;
    if ph.applied {
        let gain = ph.gain.iter().sum::<f32>() / 3.0;
        let offset = ph.offset.iter().sum::<f32>() / 3.0;
        let mut s = format!("tone changed: gain {gain:.2}, offset {offset:+.0}");
        if ph.field.is_some() {
            s.push_str(", with a smooth lighting field");
        }
        out.push(s);
    }
    out
}

/// A number with at most one decimal, without a trailing `.0`.
fn round1(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn count_marked(fields: &Fields, b: &ChangeBox) -> u64 {
    let mut n = 0;
    for y in b.y..b.y + b.h {
        for x in b.x..b.x + b.w {
            n += u64::from(fields.marked(x, y, b));
        }
    }
    n
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Largest deep-feature distance inside a box.
fn peak_deep(fields: &Fields, b: &ChangeBox) -> f32 {
    let Some(d) = &fields.deep else { return 0.0 };
    let mut peak = 0.0f32;
    for y in b.y..b.y + b.h {
        for x in b.x..b.x + b.w {
            peak = peak.max(d.at_image(x, y));
        }
    }
    peak
}

/// Boxes from the deep change map: regions above the deep threshold (found at the
/// working resolution), each refined onto the pixels with colour support. A deep
/// region that overlaps a box already found only adds its evidence to that box; one
/// without colour support is kept as a semantic change.
fn add_deep_boxes(fields: &Fields, settings: &Settings, boxes: &mut Vec<ChangeBox>) {
    let Some(d) = &fields.deep else { return };
    let (iw, ih) = (fields.pixel.width, fields.pixel.height);
    let to_image = |r: &Region| -> Rect {
        let [x0, y0, _, _] = d.cell_to_image(r.x0, r.y0);
        let [_, _, x1, y1] = d.cell_to_image(r.x1, r.y1);
        let (x0, y0) = ((x0 as u32).min(iw - 1), (y0 as u32).min(ih - 1));
        let (x1, y1) = ((x1.ceil() as u32).min(iw), (y1.ceil() as u32).min(ih));
        Rect {
            x: x0,
            y: y0,
            w: x1.saturating_sub(x0).max(1),
            h: y1.saturating_sub(y0).max(1),
        }
    };
    let found = regions::components(d.cols, d.rows, None, |x, y| {
        let v = d.at_cell(x, y) / fields.deep_t;
        let [x0, y0, x1, y1] = d.cell_to_image(x, y);
        let (cx, cy) = (((x0 + x1) / 2.0) as u32, ((y0 + y1) / 2.0) as u32);
        (v >= 1.0 && !fields.ignored(cx.min(iw - 1), cy.min(ih - 1))).then_some(Sample {
            score: v,
            delta_e: 0.0,
            evidence: EVIDENCE_DEEP,
        })
    });
    let [_, _, cw, ch] = d.cell_to_image(0, 0);
    let merge = (settings.merge_distance as f32 / cw.max(ch)).round() as u32;
    for r in regions::merge_near(found, merge) {
        let rect = to_image(&r);
        let Some(mut nb) = refine_deep(fields, rect, settings.min_area) else {
            continue;
        };
        nb.deep_change = Some(peak_deep(fields, &nb));
        match boxes.iter_mut().find(|b| overlaps(b, &nb)) {
            Some(b) => {
                if !b.evidence.contains(&"deep") {
                    b.evidence.push("deep");
                }
            }
            None => boxes.push(nb),
        }
    }
}

/// The maps of the SSIM and deep methods (the pixel and fused methods use the change
/// model's): the colour difference and SSIM, each computed only where it can matter.
/// The deep method: the colour difference near every difference (its boxes' colour
/// support) and SSIM's score. The SSIM method: the SSIM map, and the colour
/// difference (its boxes' figures) only in tiles where SSIM found a change.
fn change_maps(
    (a, b): (&RgbaImage, &RgbaImage),
    alpha: bool,
    tiles: &Tiles,
    method: Method,
    (pixel_t, ssim_t): (f32, f32),
    cancel: &Cancel,
) -> Result<(Map, ssim::Ssim)> {
    let work = tiles.near_dirty();
    // Colour differences under this level are never compared with a threshold (see
    // `pixel_map`); SSIM is read from half its threshold (shift search,
    // `ssim::MapKind`).
    let pixel_care = DEEP_SUPPORT * pixel_t;
    let ssim_care = 0.5 * ssim_t;
    // SSIM reads its planes through the token: a cancelled comparison stops at the
    // next segment (see `crate::cancel`).
    let (la, lb) = (
        Watched::new(ssim::Luma(a), cancel),
        Watched::new(ssim::Luma(b), cancel),
    );
    let ssim_of = |kind| crate::cancel::catching(|| Ok(ssim::compute(&la, &lb, tiles, kind)));
    if method != Method::Ssim {
        let (pixel, ssim) = rayon::join(
            || pixel_map(a, b, alpha, &work, pixel_care, cancel),
            || ssim_of(ssim::MapKind::None),
        );
        return Ok((pixel?, ssim?));
    }
    let kind = ssim::MapKind::ShiftTolerant {
        shift: ssim::SHIFT,
        care: ssim_care,
        only: None,
    };
    let ssim = ssim_of(kind)?;
    let changed = ssim.map.tiles_reaching(ssim_t * LEVEL_MARGIN);
    let work: Vec<TileRect> = work
        .into_iter()
        .filter(|t| changed[((t.y / TILE) * tiles.cols + t.x / TILE) as usize])
        .collect();
    // ΔE is only read for the boxes' statistics here: exact from the care level up,
    // and under it at most the direct (unshifted) difference.
    Ok((pixel_map(a, b, alpha, &work, pixel_care, cancel)?, ssim))
}

/// [`pixel::pixel_map`] in bands of whole tile rows, with the token checked between
/// bands. Each tile's values depend only on the pixels around it, not on how the
/// tiles are grouped, so the map is the one a single call gives.
fn pixel_map(
    a: &RgbaImage,
    b: &RgbaImage,
    alpha: bool,
    work: &[TileRect],
    care: f32,
    cancel: &Cancel,
) -> Result<Map> {
    // Enough tiles per band to keep every thread busy (a band ends at a row's end).
    let band = 64 * rayon::current_num_threads().max(1);
    let (w, h) = a.dimensions();
    let mut map = Map::zeros(w, h);
    let mut start = 0;
    while start < work.len() {
        cancel.check("pixel map")?;
        let mut end = (start + band).min(work.len());
        while end < work.len() && work[end].y == work[end - 1].y {
            end += 1;
        }
        map.absorb(pixel::pixel_map(a, b, alpha, &work[start..end], care));
        start = end;
    }
    Ok(map)
}

/// A plane read through a cancellation token: a read after the token is cancelled
/// unwinds to the comparison's entry point (see [`crate::cancel`]).
struct Watched<'a, P> {
    plane: P,
    cancel: &'a Cancel,
}

impl<'a, P> Watched<'a, P> {
    fn new(plane: P, cancel: &'a Cancel) -> Self {
        Watched { plane, cancel }
    }
}

impl<P: ssim::Plane> ssim::Plane for Watched<'_, P> {
    fn dims(&self) -> (u32, u32) {
        self.plane.dims()
    }

    #[inline]
    fn at(&self, x: usize, y: usize) -> u8 {
        self.cancel.bail("SSIM map");
        self.plane.at(x, y)
    }
}

/// A deep region's box: the pixels inside `rect` whose colour difference supports it,
/// or, with fewer than `min_area` of them, the whole region as a semantic change —
/// unless the region is narrower than one cell of the coarsest feature layer, which
/// the features cannot resolve (a blip of the map, not a change).
fn refine_deep(fields: &Fields, rect: Rect, min_area: u32) -> Option<ChangeBox> {
    let support = DEEP_SUPPORT * fields.pixel_t;
    let mut r = Region {
        x0: u32::MAX,
        y0: u32::MAX,
        x1: 0,
        y1: 0,
        changed_pixels: 0,
        sum_delta_e: 0.0,
        peak_delta_e: 0.0,
        peak_score: 0.0,
        // The colour difference supports the box, even where below its own threshold.
        evidence: EVIDENCE_DEEP | EVIDENCE_PIXEL,
    };
    let mut deep_pixels = 0u64;
    for y in rect.y..rect.bottom() {
        for x in rect.x..rect.right() {
            if fields.ignored(x, y) {
                continue;
            }
            deep_pixels += u64::from(fields.deep_score(x, y) >= 1.0);
            if !fields.pixel.has_tile_at(x, y) {
                continue;
            }
            let de = fields.pixel.get(x, y);
            if de >= support {
                r.x0 = r.x0.min(x);
                r.y0 = r.y0.min(y);
                r.x1 = r.x1.max(x);
                r.y1 = r.y1.max(y);
                r.changed_pixels += 1;
                r.sum_delta_e += f64::from(de);
                r.peak_delta_e = r.peak_delta_e.max(de);
            }
        }
    }
    let [cw, ch] = fields
        .deep
        .as_ref()
        .map_or([0.0; 2], |d| d.stride_in_image());
    if r.changed_pixels >= u64::from(min_area) {
        Some(to_box(&r))
    } else if (rect.w as f32) < cw || (rect.h as f32) < ch {
        None
    } else {
        // No colour support: the whole deep region, as a semantic change.
        let stats = Region {
            x0: rect.x,
            y0: rect.y,
            x1: rect.right() - 1,
            y1: rect.bottom() - 1,
            changed_pixels: deep_pixels,
            evidence: EVIDENCE_DEEP,
            ..r
        };
        let mut b = to_box(&stats);
        // A box on deep evidence alone must be clearly over the threshold.
        if peak_deep(fields, &b) < SEMANTIC_MARGIN * fields.deep_t {
            return None;
        }
        // The ΔE figures stay those of the few supporting pixels.
        b.mean_change = (r.sum_delta_e / r.changed_pixels.max(1) as f64) as f32;
        b.kind = BoxKind::Semantic;
        Some(b)
    }
}

fn overlaps(a: &ChangeBox, b: &ChangeBox) -> bool {
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

/// The SSIM method's regions: the pixels where the structural map reaches its
/// threshold, as connected regions merged within the merge distance, each of at
/// least the minimum area.
fn structural_regions(fields: &Fields, settings: &Settings, cancel: &Cancel) -> Vec<Region> {
    let (w, h) = (fields.pixel.width, fields.pixel.height);
    let live = fields.live_tiles();
    // The token is read once every 64 pixels of a row; a cancelled search unwinds
    // (see `crate::cancel`).
    let found = regions::components(w, h, Some(&live), |x, y| {
        if x % 64 == 0 {
            cancel.bail("regions");
        }
        fields.sample(x, y)
    });
    cancel.bail("regions");
    regions::merge_near(found, settings.merge_distance)
        .into_iter()
        .filter(|r| r.changed_pixels >= u64::from(settings.min_area))
        .collect()
}

fn to_box(r: &Region) -> ChangeBox {
    let rect = r.rect();
    let mut evidence = Vec::new();
    if r.evidence & EVIDENCE_PIXEL != 0 {
        evidence.push("pixel");
    }
    if r.evidence & EVIDENCE_SSIM != 0 {
        evidence.push("ssim");
    }
    if r.evidence & EVIDENCE_DEEP != 0 {
        evidence.push("deep");
    }
    ChangeBox {
        x: rect.x,
        y: rect.y,
        w: rect.w,
        h: rect.h,
        area: u64::from(rect.w) * u64::from(rect.h),
        changed_pixels: r.changed_pixels,
        mean_change: (r.sum_delta_e / r.changed_pixels.max(1) as f64) as f32,
        peak_change: r.peak_delta_e,
        deep_change: None,
        significance: None,
        evidence,
        kind: BoxKind::Visual,
    }
}

/// The change model's constants (see [`change::Model`]).
const MODEL: change::Model = change::Model::DEFAULT;

/// The corrected values that B's 0 and 255 became under a tone correction (without a
/// lighting field, whose bounds vary over the image).
fn clipping(p: &crate::register::Photometric) -> Option<change::residual::Clipping> {
    if !p.applied || p.field.is_some() {
        return None;
    }
    let at = |c: usize, v: f32| ((v - p.offset[c]) / p.gain[c]).round().clamp(0.0, 255.0) as u8;
    Some(change::residual::Clipping {
        low: std::array::from_fn(|c| at(c, 0.0)),
        high: std::array::from_fn(|c| at(c, 255.0)),
    })
}

/// True where a pixel is not compared: outside the overlap or in an ignored area.
fn outside(overlap: Option<&image::GrayImage>, ignore: &[Rect], x: u32, y: u32) -> bool {
    overlap.is_some_and(|m| m.get_pixel(x, y)[0] == 0)
        || ignore
            .iter()
            .any(|r| x >= r.x && x < r.right() && y >= r.y && y < r.bottom())
}

/// SSIM's score alone (the change model does not read its map).
fn ssim_score(a: &RgbaImage, b: &RgbaImage, tiles: &Tiles, cancel: &Cancel) -> ssim::Ssim {
    let (la, lb) = (
        Watched::new(ssim::Luma(a), cancel),
        Watched::new(ssim::Luma(b), cancel),
    );
    ssim::compute(&la, &lb, tiles, ssim::MapKind::None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, Hint};
    use image::Rgba;

    /// A 64×48 picture: a soft horizontal gradient (so it is not flat) on grey.
    fn scene() -> Image {
        let img = RgbaImage::from_fn(64, 48, |x, y| {
            let v = 90 + (x as u8) + (y as u8 / 4);
            Rgba([v, v, 120, 255])
        });
        Image::from_rgba("a", img)
    }

    fn with_square(base: &Image, x0: u32, y0: u32, side: u32, colour: [u8; 3]) -> Image {
        let mut img = base.rgba.clone();
        for y in y0..y0 + side {
            for x in x0..x0 + side {
                img.put_pixel(x, y, Rgba([colour[0], colour[1], colour[2], 255]));
            }
        }
        Image::from_rgba("b", img)
    }

    fn pixel() -> Options {
        Options {
            method: Method::Pixel,
            ..Options::default()
        }
    }

    #[test]
    fn identical_images_are_identical_with_no_boxes() {
        let a = scene();
        for method in [Method::Pixel, Method::Ssim, Method::Fused] {
            let o = Options {
                method,
                ..Options::default()
            };
            let r = compare(&a, &a.clone(), &o).unwrap().report;
            assert_eq!(r.verdict, Verdict::Identical, "{method:?}");
            assert!(r.boxes.is_empty());
            assert_eq!(r.scores.ssim, 1.0);
            assert_eq!(r.scores.differing_pixel_ratio, 0.0);
        }
    }

    #[test]
    fn scores_by_row_are_the_scores_of_each_pixel() {
        let a = scene();
        let b = with_square(
            &with_square(&a, 20, 10, 8, [250, 20, 20]),
            40,
            30,
            5,
            [120, 125, 118],
        );
        for method in [Method::Pixel, Method::Ssim, Method::Fused] {
            for ignore in [
                vec![],
                vec![Rect {
                    x: 22,
                    y: 0,
                    w: 3,
                    h: 48,
                }],
            ] {
                let o = Options {
                    method,
                    ignore: ignore.clone(),
                    ..Options::default()
                };
                let cmp = compare(&a, &b, &o).unwrap();
                let (mut row, mut top) = (vec![0.0; 64], 0.0f32);
                for y in 0..48 {
                    cmp.fields.score_row(y, &mut row);
                    top = row.iter().fold(top, |m, &v| m.max(v));
                    for x in 0..64 {
                        assert_eq!(
                            row[x as usize],
                            cmp.fields.score(x, y),
                            "{method:?} {ignore:?} at {x},{y}"
                        );
                    }
                }
                assert!(top >= 1.0, "{method:?}: the squares score {top}");
            }
        }
    }

    #[test]
    fn a_painted_square_is_one_box_around_it() {
        let a = scene();
        let b = with_square(&a, 20, 10, 8, [250, 20, 20]);
        for method in [Method::Pixel, Method::Fused] {
            let o = Options {
                method,
                ..Options::default()
            };
            let r = compare(&a, &b, &o).unwrap().report;
            assert_eq!(r.verdict, Verdict::Different);
            assert_eq!(r.boxes.len(), 1, "{method:?}: {:?}", r.boxes);
            let bx = &r.boxes[0];
            assert_eq!((bx.x, bx.y, bx.w, bx.h), (20, 10, 8, 8), "{method:?}");
            assert_eq!(bx.changed_pixels, 64);
            assert!(bx.evidence.contains(&"pixel"));
        }
    }

    #[test]
    fn an_ignored_rectangle_gives_no_box() {
        let a = scene();
        let b = with_square(&a, 20, 10, 8, [250, 20, 20]);
        let o = Options {
            ignore: vec![Rect {
                x: 16,
                y: 8,
                w: 16,
                h: 12,
            }],
            ..pixel()
        };
        let r = compare(&a, &b, &o).unwrap().report;
        assert!(r.boxes.is_empty(), "{:?}", r.boxes);
        assert_eq!(r.verdict, Verdict::Same);
    }

    #[test]
    fn a_change_below_the_threshold_is_not_boxed() {
        let a = scene();
        // ΔE about 4: visible side by side, below the default floor of 12.
        let b = with_square(&a, 20, 10, 8, [128, 128, 124]);
        let r = compare(&a, &b, &pixel()).unwrap().report;
        let r_strict = compare(
            &a,
            &b,
            &Options {
                pixel_threshold: Threshold::Fixed(2.0),
                ..pixel()
            },
        )
        .unwrap()
        .report;
        assert!(r.boxes.len() <= r_strict.boxes.len());
        assert_eq!(r_strict.boxes.len(), 1, "{:?}", r_strict.boxes);
    }

    #[test]
    fn sizes_that_differ_are_a_typed_error_with_a_hint() {
        let a = scene();
        let b = Image::from_rgba("b", RgbaImage::new(32, 24));
        let e = compare(&a, &b, &pixel()).err().expect("size error");
        assert_eq!(e.kind(), ErrorKind::Size);
        assert_eq!(e.hint(), Hint::SizePolicy { resize: true });
        let c = Image::from_rgba("c", RgbaImage::new(30, 30));
        let e = compare(&a, &c, &pixel()).err().expect("size error");
        assert_eq!(e.hint(), Hint::SizePolicy { resize: false });
        // With a policy it compares.
        let o = Options {
            size_policy: SizePolicy::Pad,
            ..pixel()
        };
        assert!(compare(&a, &c, &o).is_ok());
    }

    #[test]
    fn the_deep_method_needs_a_backbone() {
        let a = scene();
        let o = Options {
            method: Method::Deep,
            ..Options::default()
        };
        let e = compare(&a, &a.clone(), &o).err().expect("option error");
        assert_eq!(e.kind(), ErrorKind::Option);
    }
}
