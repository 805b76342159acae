//! The pipeline: size policy → exact-equality check → change maps → thresholds →
//! regions → report. Pictures are made afterwards, only on request (`render.rs`).

use crate::align::{align, Alignment};
use crate::error::Result;
use crate::load::Image;
use crate::map::{Map, TileRect, Tiles, TILE};
use crate::options::{Method, Options, Rect, Settings, Threshold, PIXEL_FLOOR, SSIM_FLOOR};
use crate::regions::{self, Region, Sample};
use crate::report::{ChangeBox, Report, Scores, Thresholds, Verdict, REPORT_SCHEMA};
use crate::{pixel, ssim};
use image::RgbaImage;
use std::borrow::Cow;

/// Evidence bits.
pub const EVIDENCE_PIXEL: u8 = 1;
pub const EVIDENCE_SSIM: u8 = 2;
/// A region smaller than the minimum area is kept when its unblurred peak change is
/// this many threshold units: a single strongly changed pixel (a stray red dot, a
/// text caret) is a change, a faint one is noise.
const STRONG: f32 = 3.0;
/// In the fused method, SSIM evidence counts only where the colour difference is at
/// least this share of the pixel threshold, so SSIM's noise in flat areas and at
/// shifted edges cannot create boxes on its own.
const SSIM_SUPPORT: f32 = 0.5;

/// Tile flags are taken a hair under each level, so that rounding in `x / t >= 1`
/// can never hide a tile that holds evidence.
const LEVEL_MARGIN: f32 = 0.999;

/// A finished comparison: the report plus what pictures are drawn from.
pub struct Comparison<'a> {
    pub report: Report,
    /// A and B after the size policy.
    pub a: Cow<'a, RgbaImage>,
    pub b: Cow<'a, RgbaImage>,
    pub(crate) fields: Fields,
}

/// The change maps and thresholds, from which each pixel's evidence is read.
pub(crate) struct Fields {
    pub method: Method,
    pub pixel: Map,
    pub ssim: Option<Map>,
    pub pixel_t: f32,
    pub ssim_t: f32,
    pub ignore: Vec<Rect>,
}

impl Fields {
    /// The evidence at one pixel, `None` when it is below every threshold.
    #[inline]
    pub fn sample(&self, x: u32, y: u32) -> Option<Sample> {
        if !self.pixel.has_tile_at(x, y) {
            return None;
        }
        let de = self.pixel.get(x, y);
        let pixel_score = de / self.pixel_t;
        let ssim_score = self
            .ssim
            .as_ref()
            .map_or(0.0, |m| m.get(x, y) / self.ssim_t);
        let (score, evidence) = match self.method {
            Method::Pixel => (pixel_score, u8::from(pixel_score >= 1.0) * EVIDENCE_PIXEL),
            Method::Ssim => (ssim_score, u8::from(ssim_score >= 1.0) * EVIDENCE_SSIM),
            Method::Fused => {
                let ssim_score = if pixel_score >= SSIM_SUPPORT {
                    ssim_score
                } else {
                    0.0
                };
                (
                    pixel_score.max(ssim_score),
                    (u8::from(pixel_score >= 1.0) * EVIDENCE_PIXEL)
                        | (u8::from(ssim_score >= 1.0) * EVIDENCE_SSIM),
                )
            }
        };
        if evidence == 0 || self.ignored(x, y) {
            return None;
        }
        Some(Sample {
            score,
            delta_e: de,
            evidence,
        })
    }

    /// One flag per tile (row-major): false where [`Fields::sample`] is `None` for
    /// every pixel of the tile, so the region search can skip it. Every evidence
    /// source that `sample` reads must be accounted for here.
    pub fn live_tiles(&self) -> Vec<bool> {
        let pixel_level = match self.method {
            Method::Pixel => self.pixel_t,
            Method::Fused => SSIM_SUPPORT.min(1.0) * self.pixel_t,
            Method::Ssim => 0.0,
        };
        // (A hair under each level: `sample` divides by the threshold.)
        let mut live = self.pixel.tiles_reaching(pixel_level * LEVEL_MARGIN);
        if self.method == Method::Ssim {
            let present = self.pixel.tiles_reaching(f32::NEG_INFINITY);
            let ssim = self
                .ssim
                .as_ref()
                .map(|m| m.tiles_reaching(self.ssim_t * LEVEL_MARGIN));
            for (i, l) in live.iter_mut().enumerate() {
                *l = present[i] && ssim.as_ref().is_none_or(|s| s[i]);
            }
        }
        live
    }

    /// The change at one pixel in threshold units (for the heatmap), 0 in ignored areas.
    pub fn score(&self, x: u32, y: u32) -> f32 {
        if !self.pixel.has_tile_at(x, y) || self.ignored(x, y) {
            return 0.0;
        }
        let pixel_score = self.pixel.get(x, y) / self.pixel_t;
        let ssim_score = self
            .ssim
            .as_ref()
            .map_or(0.0, |m| m.get(x, y) / self.ssim_t);
        match self.method {
            Method::Pixel => pixel_score,
            Method::Ssim => ssim_score,
            Method::Fused if pixel_score >= SSIM_SUPPORT => pixel_score.max(ssim_score),
            Method::Fused => pixel_score,
        }
    }

    fn ignored(&self, x: u32, y: u32) -> bool {
        self.ignore
            .iter()
            .any(|r| x >= r.x && x < r.right() && y >= r.y && y < r.bottom())
    }
}

/// Compares two decoded images.
pub fn compare<'a>(a: &'a Image, b: &'a Image, options: &Options) -> Result<Comparison<'a>> {
    let settings = options.validate()?;
    let (ia, ib, alignment) = align(a, b, settings.size_policy)?;
    let (w, h) = ia.dimensions();
    let tiles = Tiles::find(&ia, &ib);
    let alpha = a.has_alpha || b.has_alpha || !matches!(alignment, Alignment::None);

    let pixel_t = match settings.pixel_threshold {
        Threshold::Fixed(t) => t,
        Threshold::Auto => PIXEL_FLOOR,
    };
    let ssim_t = match settings.ssim_threshold {
        Threshold::Fixed(t) => t,
        Threshold::Auto => SSIM_FLOOR,
    };
    let (pixel_map, ssim_result) = if tiles.is_clean() {
        (Map::zeros(w, h), None)
    } else {
        let (pixel, ssim) = change_maps(&ia, &ib, alpha, &tiles, settings.method, pixel_t, ssim_t);
        (pixel, Some(ssim))
    };
    let ssim_score = ssim_result.as_ref().map_or(1.0, |s| s.score);
    let ssim_map = ssim_result
        .map(|s| s.map)
        .filter(|_| settings.method != Method::Pixel);

    let fields = Fields {
        method: settings.method,
        pixel: pixel_map,
        ssim: ssim_map,
        pixel_t,
        ssim_t,
        ignore: settings.ignore.clone(),
    };
    let regions = if tiles.is_clean() {
        Vec::new()
    } else {
        find_regions(&fields, &settings, &ia, &ib, alpha)
    };
    let total = (u64::from(w) * u64::from(h)) as f64;
    let changed: u64 = regions.iter().map(|r| r.changed_pixels).sum();
    let boxes: Vec<ChangeBox> = regions.iter().map(to_box).collect();
    let verdict = if tiles.is_clean() {
        Verdict::Identical
    } else if boxes.is_empty() {
        Verdict::Same
    } else {
        Verdict::Different
    };
    let report = Report {
        schema: REPORT_SCHEMA,
        a: a.info(),
        b: b.info(),
        method: settings.method,
        alignment,
        verdict,
        scores: Scores {
            ssim: ssim_score,
            changed_pixel_ratio: changed as f64 / total,
            differing_pixel_ratio: tiles.differing_pixels as f64 / total,
            max_delta_e: fields.pixel.max(),
        },
        thresholds: Thresholds {
            pixel_delta_e: pixel_t,
            ssim_dissimilarity: ssim_t,
        },
        boxes,
    };
    Ok(Comparison {
        report,
        a: ia,
        b: ib,
        fields,
    })
}

/// The pixel map and SSIM (score, and the map where the method uses it), each
/// computed only where it can matter: the score everywhere near a difference; in
/// the fused method the SSIM map's shift search only in tiles where the colour
/// difference reaches the support level; in the SSIM method the pixel map only in
/// tiles where SSIM found a change.
fn change_maps(
    a: &RgbaImage,
    b: &RgbaImage,
    alpha: bool,
    tiles: &Tiles,
    method: Method,
    pixel_t: f32,
    ssim_t: f32,
) -> (Map, ssim::Ssim) {
    let work = tiles.near_dirty();
    // Values under these levels are never compared with a threshold (see `pixel_map`).
    let (pixel_care, ssim_care) = (SSIM_SUPPORT * pixel_t, SSIM_SUPPORT * ssim_t);
    let (la, lb) = (ssim::Luma(a), ssim::Luma(b));
    match method {
        Method::Pixel => rayon::join(
            || pixel::pixel_map(a, b, alpha, &work, pixel_care),
            || ssim::compute(&la, &lb, tiles, ssim::MapKind::None),
        ),
        Method::Fused => {
            let pixel = pixel::pixel_map(a, b, alpha, &work, pixel_care);
            let supported = pixel.tiles_reaching(pixel_care * LEVEL_MARGIN);
            let kind = ssim::MapKind::ShiftTolerant {
                shift: ssim::SHIFT,
                care: ssim_care,
                only: Some(&supported),
            };
            let ssim = ssim::compute(&la, &lb, tiles, kind);
            (pixel, ssim)
        }
        Method::Ssim => {
            let kind = ssim::MapKind::ShiftTolerant {
                shift: ssim::SHIFT,
                care: ssim_care,
                only: None,
            };
            let ssim = ssim::compute(&la, &lb, tiles, kind);
            let changed = ssim.map.tiles_reaching(ssim_t * LEVEL_MARGIN);
            let work: Vec<TileRect> = work
                .into_iter()
                .filter(|t| changed[((t.y / TILE) * tiles.cols + t.x / TILE) as usize])
                .collect();
            // ΔE is only read, not thresholded, here: exact down to 1 ΔE.
            (pixel::pixel_map(a, b, alpha, &work, 1.0), ssim)
        }
    }
}

fn find_regions(
    fields: &Fields,
    settings: &Settings,
    a: &RgbaImage,
    b: &RgbaImage,
    alpha: bool,
) -> Vec<Region> {
    let (w, h) = a.dimensions();
    let live = fields.live_tiles();
    let found = regions::components(w, h, Some(&live), |x, y| fields.sample(x, y));
    // Faint pieces that are small or thin (under 4 px thick) and lie on an edge that
    // both images have are that edge moved by a few pixels (binarisation, resampling,
    // alignment jitter): drop them before they can be merged into a real change.
    let faint =
        |r: &Region| r.sum_delta_e / (r.changed_pixels as f64) < 2.0 * f64::from(fields.pixel_t);
    let small_or_thin = |r: &Region| {
        let length = u64::from((r.x1 - r.x0 + 1).max(r.y1 - r.y0 + 1));
        r.changed_pixels < u64::from(settings.min_area) || r.changed_pixels < 4 * length
    };
    // A faint piece that one shift of at most the pixel map's tolerance explains as
    // a whole is a displacement (a misaligned scan, an edge moved by binarisation),
    // not a change: a changed word or an erased object is not explained by moving it.
    // (The pixel map asks each 3×3 patch for its own shift; this asks the piece.)
    let displaced = |r: &Region| pixel::one_shift_explains(a, b, alpha, r.rect());
    let found: Vec<Region> = found
        .into_iter()
        .filter(|r| !(faint(r) && small_or_thin(r) && on_shared_edge(a, b, r.rect())))
        .filter(|r| !(faint(r) && displaced(r)))
        .collect();
    // The outermost SHIFT px cannot be checked against a shift (the matching content
    // may lie outside the image): faint changes confined to that border are dropped.
    let border = pixel::SHIFT as u32;
    let found: Vec<Region> = found
        .into_iter()
        .filter(|r| {
            let in_border = r.x1 < border
                || r.y1 < border
                || r.x0 + border >= a.width()
                || r.y0 + border >= a.height();
            !(in_border && faint(r))
        })
        .collect();
    let found = regions::drop_slivers(found, fields.pixel_t);
    let merged = regions::merge_near(found, settings.merge_distance);
    let merged = regions::drop_slivers(merged, fields.pixel_t);
    // A small region survives only if it changed strongly and not on a shared edge
    // (an isolated stray pixel is a change; binarisation noise along an edge is not).
    let kept = regions::drop_specks(merged, settings.min_area, STRONG, |r| {
        if on_shared_edge(a, b, r.rect()) {
            0.0
        } else {
            pixel::raw_peak(a, b, alpha, r.rect()) / fields.pixel_t
        }
    });
    // Shrink each box onto the pixels that really changed (the blur widened it), then
    // count what lies inside, so the box, its numbers and the mask agree.
    kept.into_iter()
        .map(|r| {
            let tight = pixel::raw_bounds(a, b, alpha, r.rect(), fields.pixel_t);
            restat(fields, tight.unwrap_or(r.rect())).unwrap_or(r)
        })
        .collect()
}

/// The statistics of the changed pixels inside `rect`, as one region with that box.
fn restat(fields: &Fields, rect: Rect) -> Option<Region> {
    let mut r = Region {
        x0: rect.x,
        y0: rect.y,
        x1: rect.right() - 1,
        y1: rect.bottom() - 1,
        changed_pixels: 0,
        sum_delta_e: 0.0,
        peak_delta_e: 0.0,
        peak_score: 0.0,
        evidence: 0,
    };
    for y in rect.y..rect.bottom() {
        for x in rect.x..rect.right() {
            if let Some(s) = fields.sample(x, y) {
                r.changed_pixels += 1;
                r.sum_delta_e += f64::from(s.delta_e);
                r.peak_delta_e = r.peak_delta_e.max(s.delta_e);
                r.peak_score = r.peak_score.max(s.score);
                r.evidence |= s.evidence;
            }
        }
    }
    (r.changed_pixels > 0).then_some(r)
}

/// True when both images have a strong luma edge (a range of at least a quarter of
/// full scale) within 2 px of `r`.
fn on_shared_edge(a: &RgbaImage, b: &RgbaImage, r: Rect) -> bool {
    const MARGIN: u32 = 2;
    const EDGE: u8 = 64;
    let (w, h) = a.dimensions();
    let (x0, y0) = (r.x.saturating_sub(MARGIN), r.y.saturating_sub(MARGIN));
    let (x1, y1) = ((r.right() + MARGIN).min(w), (r.bottom() + MARGIN).min(h));
    [a, b].iter().all(|img| {
        let (mut lo, mut hi) = (u8::MAX, 0u8);
        for y in y0..y1 {
            for x in x0..x1 {
                let l = crate::color::luma_over_white(img.get_pixel(x, y).0);
                (lo, hi) = (lo.min(l), hi.max(l));
            }
        }
        hi.saturating_sub(lo) >= EDGE
    })
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
    ChangeBox {
        x: rect.x,
        y: rect.y,
        w: rect.w,
        h: rect.h,
        area: u64::from(rect.w) * u64::from(rect.h),
        changed_pixels: r.changed_pixels,
        mean_change: (r.sum_delta_e / r.changed_pixels.max(1) as f64) as f32,
        peak_change: r.peak_delta_e,
        evidence,
    }
}
