//! The change model: one detector for the pixel evidence, calibrated on the pair.
//!
//! 1. [`residual`]: the signed Lab difference `B − A` on the tested pixels (the
//!    overlap, minus ignored areas), and the gradient of the edges both images share.
//! 2. [`noise`]: the pair's own noise, a robust level per channel plus edge jitter:
//!    an edge may move by up to δ px, changing a pixel by up to δ times the shared
//!    gradient, coherently along the edge. A lossless screenshot pair has almost no
//!    noise, so one changed glyph is highly significant; a JPEG photo pair has real
//!    noise, and its ringing on shared edges is explained by the jitter term. The
//!    first estimate leaves out what changed together and visibly, unless a one-pixel
//!    move explains it (`coherent`): a large change is not the pair's noise.
//! 3. [`windows`]: every window of a family of sizes (1 px to the whole image) and
//!    aspect ratios (1:1, 3:1, 1:3), its mean residual tested against the noise the
//!    model predicts for it (inflated by the spread measured over the pair's own
//!    windows of that shape), and read with a tail as heavy as that of the pair's own
//!    windows of that shape away from the first pass's detections (codec errors are
//!    heavy-tailed and patchy). A window is significant when its number of false
//!    alarms is at most ε and its mean is visible (the effect floor).
//! 4. Boxes: the pixels of significant windows whose own difference is visible and
//!    above their noise, as 8-connected regions merged within the merge distance;
//!    a box is that of its substantial parts. A region must be significant at its own
//!    scale; one smaller than the minimum area stays only when it changed strongly.
//! 5. [`shift`]: a region that one move of at most a pixel explains is dropped.
//!
//! Signed residuals are the point: an edge moved by a fraction of a pixel gives +/−
//! pairs that cancel in a window's mean, an added, removed or recoloured thing does not.

pub mod noise;
pub mod residual;
pub mod shift;
pub mod windows;

use crate::cancel::Cancel;
use crate::regions::{self, Region, Sample};
use image::RgbaImage;
pub use noise::Noise;
use rayon::prelude::*;
use residual::{local_means, norm2, Residual};

/// Evidence bit of the pixel map (as in `compare`).
const EVIDENCE_PIXEL: u8 = 1;

/// The model's constants, in one place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Model {
    /// log10 of ε, the expected number of false detections per pair under the noise
    /// model (0: at most one).
    pub log10_eps: f64,
    /// Effect floor with `--threshold auto`: a window's mean difference must be at
    /// least this ΔE (one just-noticeable difference, as CIEDE2000's 2.3).
    pub jnd: f32,
    /// Lowest noise level per Lab channel: what 8-bit quantisation leaves.
    pub sigma_floor: f32,
    /// Edge jitter allowed on every pair, in pixels (edges may always move by this
    /// much: anti-aliasing, sub-pixel text positioning), and at most.
    pub min_jitter: f32,
    pub max_jitter: f32,
    /// Ceiling of the measured noise, ΔE per Lab channel and activity bin. Noise is
    /// what the same picture captured or encoded twice leaves: JPEG q20 of a photo
    /// measures σ 4.6 in L, Gaussian noise of σ 15 levels per RGB channel 4.3-6.7;
    /// an unrelated picture 35 in L. Above the ceiling the residual is content, and
    /// without it a pair that changed everywhere would measure its change as noise.
    pub max_sigma: f32,
    /// Shared gradient (Lab units per pixel) from which a pixel counts as an edge when
    /// the jitter is measured.
    pub edge_gradient: f32,
    /// A pixel of a significant window is part of the change when its difference is
    /// at least this share of the effect floor and `mark_z` times its own noise.
    pub mark_fraction: f32,
    pub mark_z: f32,
    /// A region under the minimum area stays when its peak is this many times the
    /// effect floor and its significance reaches `speck_log10_nfa` (a single pixel
    /// changed strongly on a clean pair is a change; on a noisy one it is noise).
    pub strong: f32,
    pub speck_log10_nfa: f32,
    /// With `--threshold auto`, the effect floor is at least this many times the
    /// pair's noise level (√Σσ²): a mean offset within about one and a half noise
    /// deviations per pixel is masked by that noise (contrast masking), e.g. the
    /// block-mean errors of JPEG in flat areas.
    pub masking: f32,
    /// Tail quantile of the second noise estimate, made without the first pass's
    /// detections.
    pub tail: f64,
    /// Before the first noise estimate, pixels whose 5×5 neighbourhood changed by a
    /// mean of at least this many times the effect floor are left out.
    pub prescreen: f32,
    /// Content moved by at most this many pixels per axis, unchanged, is not a
    /// change ([`shift`]): re-rendered text lands a pixel off.
    pub max_shift: i32,
    /// ... or up to twice the pair's measured edge jitter (rounded up), at most this
    /// many: a scanned board's traces, etched a pixel or two wider, wander by that much.
    pub max_wander_shift: i32,
    /// A pair whose measured lightness edge jitter is at least this (px) has edges
    /// that wander both ways along one edge: a pixel that one local move of up to
    /// twice the jitter (rounded up, at most `max_wander_shift`) explains both ways
    /// is not part of a change ([`shift::wander_difference`]).
    pub min_wander: f32,
}

impl Model {
    /// The documented defaults.
    pub const DEFAULT: Model = Model {
        log10_eps: -4.0,
        jnd: 2.3,
        sigma_floor: 0.5,
        min_jitter: 0.3,
        max_jitter: 2.0,
        max_sigma: 10.0,
        edge_gradient: 4.0,
        mark_fraction: 0.5,
        mark_z: 2.0,
        strong: 4.5,
        speck_log10_nfa: -8.0,
        masking: 1.0,
        tail: 0.99,
        prescreen: 2.0,
        max_shift: 1,
        max_wander_shift: 3,
        min_wander: 1.0,
    };
}

impl Default for Model {
    fn default() -> Model {
        Model::DEFAULT
    }
}

/// One change found: its region (box and ΔE statistics) and significance.
#[derive(Debug, Clone)]
pub struct Found {
    pub region: Region,
    /// log10 of the number of false alarms of the best window touching it.
    pub log10_nfa: f32,
}

/// What the model found in one pair.
pub struct Detection {
    pub noise: Noise,
    /// The effect floor used, ΔE.
    pub floor: f32,
    pub found: Vec<Found>,
    /// Per pixel (row-major): 1 where the pixel belongs to a change.
    pub marked: Vec<u8>,
    /// Per pixel: ΔE of the residual.
    pub delta_e: Vec<f32>,
}

/// How the detector is asked: the effect floor (ΔE), the minimum area and the merge
/// distance (px), and whether alpha matters.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub floor: f32,
    /// The floor is automatic: raised to [`Model::masking`] times the pair's noise.
    pub auto_floor: bool,
    pub min_area: u32,
    pub merge_distance: u32,
    pub alpha: bool,
    /// After a tone correction of B: per RGB channel, the corrected values that
    /// B's 0 and 255 became (see [`residual::Clipping`]).
    pub clipped: Option<residual::Clipping>,
}

/// Least context (px) kept around the differing tiles when the model runs on a crop.
pub const CROP_MARGIN: u32 = 64;
/// Least side of the crop (px).
pub const CROP_MIN_SIDE: u32 = 1024;

/// [`detect`] on the part of the pair that differs: the bounds of the `dirty` tiles
/// (`cols` per row, `tile` px square) with a margin of twice their longer side (at
/// least [`CROP_MARGIN`]) around them, grown to [`CROP_MIN_SIDE`] px each way, when
/// that is at most half the picture; the whole pair otherwise. Pixels outside the crop are exactly equal in both images
/// (no tile there differs), so they hold no change; the margin keeps enough of the
/// unchanged pair in the crop (the changes at most a twenty-fifth of it) for the
/// noise to be measured beside them. The result is in the whole picture's
/// coordinates. A large pair with a few local edits costs the model about their
/// area, not the picture's.
pub fn detect_near_changes(
    a: &RgbaImage,
    b: &RgbaImage,
    (dirty, cols, tile): (&[bool], u32, u32),
    ask: Ask,
    model: &Model,
    valid: impl Fn(u32, u32) -> bool + Sync,
    cancel: &Cancel,
) -> Detection {
    let (w, h) = a.dimensions();
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0u32, 0u32);
    for (i, _) in dirty.iter().enumerate().filter(|(_, &d)| d) {
        let (tx, ty) = (i as u32 % cols, i as u32 / cols);
        (x0, y0) = (x0.min(tx * tile), y0.min(ty * tile));
        (x1, y1) = (x1.max((tx + 1) * tile), y1.max((ty + 1) * tile));
    }
    if x0 == u32::MAX {
        return detect(a, b, ask, model, valid, cancel);
    }
    let margin = (2 * (x1 - x0).max(y1 - y0)).max(CROP_MARGIN);
    let (x0, y0) = (x0.saturating_sub(margin), y0.saturating_sub(margin));
    let (x1, y1) = ((x1 + margin).min(w), (y1 + margin).min(h));
    // At least CROP_MIN_SIDE px each way: the test's window statistics (the spread
    // and tail of z per shape) are measured over the crop, and need enough of the
    // unchanged pair (measured: a crop of the edit and twice its size around it took
    // the UI set's recall from 0.793 to 0.765).
    let grow = |lo: u32, hi: u32, size: u32| -> (u32, u32) {
        let want = CROP_MIN_SIDE.min(size);
        if hi - lo >= want {
            return (lo, hi);
        }
        let lo = lo.saturating_sub((want - (hi - lo)) / 2).min(size - want);
        (lo, lo + want)
    };
    let ((x0, x1), (y0, y1)) = (grow(x0, x1, w), grow(y0, y1, h));
    let (cw, ch) = (x1 - x0, y1 - y0);
    if 2 * u64::from(cw) * u64::from(ch) > u64::from(w) * u64::from(h) {
        return detect(a, b, ask, model, valid, cancel);
    }
    let ca = image::imageops::crop_imm(a, x0, y0, cw, ch).to_image();
    let cb = image::imageops::crop_imm(b, x0, y0, cw, ch).to_image();
    let part = detect(&ca, &cb, ask, model, |x, y| valid(x + x0, y + y0), cancel);
    let n = w as usize * h as usize;
    let (mut marked, mut delta_e) = (vec![0u8; n], vec![0f32; n]);
    for y in 0..ch as usize {
        let (from, to) = (
            y * cw as usize,
            (y + y0 as usize) * w as usize + x0 as usize,
        );
        marked[to..to + cw as usize].copy_from_slice(&part.marked[from..from + cw as usize]);
        delta_e[to..to + cw as usize].copy_from_slice(&part.delta_e[from..from + cw as usize]);
    }
    let found = part
        .found
        .into_iter()
        .map(|mut f| {
            let g = &mut f.region;
            (g.x0, g.x1, g.y0, g.y1) = (g.x0 + x0, g.x1 + x0, g.y0 + y0, g.y1 + y0);
            f
        })
        .collect();
    Detection {
        noise: part.noise,
        floor: part.floor,
        found,
        marked,
        delta_e,
    }
}

/// Runs the model on A and the registered B; `valid(x, y)` says which pixels are
/// tested (the overlap, minus ignored areas).
pub fn detect(
    a: &RgbaImage,
    b: &RgbaImage,
    ask: Ask,
    model: &Model,
    valid: impl Fn(u32, u32) -> bool + Sync,
    cancel: &Cancel,
) -> Detection {
    let (w, h) = a.dimensions();
    let r = Residual::new(a, b, ask.alpha, ask.clipped, valid);
    cancel.bail("noise");
    // Two passes: a first estimate robust to changes covering a few per cent of the
    // pixels, a first test (Gaussian tails); then the noise measured again without
    // what it found, with the heavier tail the changes no longer contaminate, and the
    // final test, whose windows' tails are measured away from those detections.
    let floor_for = |noise: &Noise| {
        if ask.auto_floor {
            let level: f32 = noise.sigma.iter().map(|s| s * s).sum::<f32>().sqrt();
            ask.floor.max(model.masking * level)
        } else {
            ask.floor
        }
    };
    let delta_e: Vec<f32> = (0..r.valid.len()).map(|i| r.delta_e(i)).collect();
    let mut ii = windows::Integrals::new(&r, &delta_e);
    cancel.bail("noise");
    // The first estimate leaves out what changed coherently and visibly (see
    // [`coherent`]): a change covering more than a few per cent of the pixels would
    // otherwise pass for noise, and raise the floor over itself.
    let near_d = local_means(&r.d, r.width, r.height, MARK_RADIUS);
    cancel.bail("noise");
    let coherent = coherent(a, b, &r, &near_d, ask.floor, model);
    cancel.bail("noise");
    let first = Noise::estimate_without(&r, model, Some(&coherent), 0.95);
    cancel.bail("noise");
    ii.with_noise(&r, &first);
    let sig = windows::test(&ii, &first, model, floor_for(&first), None, cancel);
    cancel.bail("noise");
    let noise = Noise::estimate_without(&r, model, Some(&sig.covered), model.tail);
    let first_cover = sig.covered;
    cancel.bail("noise");
    ii.with_noise(&r, &noise);
    cancel.bail("noise");
    let ask = Ask {
        floor: floor_for(&noise),
        ..ask
    };
    let sig = windows::test(&ii, &noise, model, ask.floor, Some(&first_cover), cancel);
    drop(ii);
    cancel.bail("boxes");
    let n = r.valid.len();
    let mark_floor = model.mark_fraction * ask.floor;
    // A pixel of a significant window is part of the change when the part of its own
    // difference that jitter cannot explain, or that of the mean difference of the
    // 5×5 pixels around it (faint changes over noise), stands above the noise...
    // (The 5×5 mean of the gradient is the residual's activity.)
    let near_g = &r.activity;
    let side = (2 * MARK_RADIUS + 1) as f32;
    let z2 = model.mark_z * model.mark_z;
    let excess2 = |d: [f32; 3], g: [f32; 3]| -> f32 {
        (0..3)
            .map(|c| (d[c].abs() - noise.jitter_bound(c, g[c])).max(0.0).powi(2))
            .sum()
    };
    // Edges that wander by a whole pixel or more (measured on lightness: codecs blur
    // chroma, which is not a move) move both ways along one edge, which no single
    // move explains (see [`shift::wander_difference`]).
    let wander = noise.jitter[0];
    let reach = if wander >= model.min_wander {
        ((2.0 * wander).ceil() as i32).min(model.max_wander_shift)
    } else {
        0
    };
    let wu = w as usize;
    let planes = (reach > 0).then(|| shift::LabPlanes::new(a, b));
    let mark = |i: usize| -> u8 {
        if sig.covered[i] == 0 || r.valid[i] == 0 || delta_e[i] < mark_floor {
            return 0;
        }
        let at = |p: &[Vec<f32>; 3]| [p[0][i], p[1][i], p[2][i]];
        let own = excess2(at(&r.d), at(&r.g));
        let local = excess2(at(&near_d), at(near_g));
        let noise2: f32 = (0..3).map(|c| noise.variance(c, r.activity[c][i])).sum();
        let own_ok = own >= z2 * noise2 && own >= mark_floor * mark_floor;
        // ... and when its own difference goes along that mean, half of it at
        // least: the rim around a strong change (its blur, ringing) has a large
        // mean near it but little of its own.
        let (m, o) = (at(&near_d), at(&r.d));
        let along: f32 = (0..3).map(|c| m[c] * o[c]).sum();
        let local_ok = local * side * side >= z2 * noise2
            && local >= mark_floor * mark_floor
            && along >= 0.5 * norm2(m);
        // ... unless the pair's edges wander and a local move explains it.
        let wandered = |planes: &shift::LabPlanes| {
            let (x, y) = ((i % wu) as u32, (i / wu) as u32);
            let d = shift::wander_difference(planes, x, y, reach);
            let e = excess2(d, at(&r.g));
            e < z2 * noise2 || e < mark_floor * mark_floor
        };
        u8::from((own_ok || local_ok) && !planes.as_ref().is_some_and(wandered))
    };
    // Row by row, in parallel, the token read once a row.
    let mut marked = vec![0u8; n];
    marked
        .par_chunks_mut(wu.max(1))
        .enumerate()
        .for_each(|(y, row)| {
            cancel.bail("boxes");
            for (x, m) in row.iter_mut().enumerate() {
                *m = mark(y * wu + x);
            }
        });
    drop(planes);
    let comps = regions::components(w, h, None, |x, y| {
        let i = y as usize * wu + x as usize;
        (marked[i] == 1).then(|| Sample {
            score: delta_e[i] / ask.floor,
            delta_e: delta_e[i],
            evidence: EVIDENCE_PIXEL,
        })
    });
    let strong = model.strong * ask.floor;
    let bounds = |g: &Region| (g.x0, g.y0, g.x1, g.y1);
    // A region under the minimum area is a change when it changed strongly and is
    // significant at its own scale (a window no larger than a cell touching it).
    let strong_speck = |g: &Region| {
        g.peak_delta_e >= strong
            && sig.best_up_to(windows::CELL, bounds(g)) <= model.speck_log10_nfa
    };
    // A part is visible on its own when its pixels' mean difference reaches the
    // effect floor: the faint pixels a large change's windows make significant
    // around it (codec block errors, a re-saved gradient) are not.
    let visible = |g: &Region| g.sum_delta_e >= f64::from(ask.floor) * g.changed_pixels as f64;
    let core: Vec<Region> = comps
        .iter()
        .filter(|g| (g.changed_pixels >= u64::from(ask.min_area) && visible(g)) || strong_speck(g))
        .cloned()
        .collect();
    let merged: Vec<Region> = regions::merge_near(comps, ask.merge_distance)
        .into_iter()
        .map(|g| {
            // The box of a change is that of its substantial parts: the dust of weak
            // scattered pixels around it (texture, codec noise) does not widen it.
            let mut parts = core
                .iter()
                .filter(|c| c.x0 >= g.x0 && c.y0 >= g.y0 && c.x1 <= g.x1 && c.y1 <= g.y1);
            match parts.next() {
                Some(first) => parts.fold(first.clone(), |mut r, p| {
                    r.absorb(p);
                    r
                }),
                None => g,
            }
        })
        .collect();
    let found = merged
        .into_iter()
        .filter(|g| {
            // Significant at its own scale: a window no larger than twice its box
            // touching it; the windows of a large change nearby reach it too, and
            // say nothing about it.
            if g.changed_pixels >= u64::from(ask.min_area) {
                let side = 2 * (g.x1 - g.x0 + 1).max(g.y1 - g.y0 + 1);
                visible(g) && sig.best_up_to(side, bounds(g)).is_finite()
            } else {
                strong_speck(g)
            }
        })
        .map(|region| Found {
            log10_nfa: sig.best_in(region.x0, region.y0, region.x1, region.y1),
            region,
        })
        .filter(|f| {
            let g = &f.region;
            let check = shift::Check {
                floor: ask.floor,
                min_area: ask.min_area,
            };
            shift::explanation(a, b, &r, &noise, model, check, (g.x0, g.y0, g.x1, g.y1)).is_none()
        })
        .map(|mut f| {
            // The box's figures are those of every marked pixel inside it (what the
            // mask shows), the weak ones that did not widen it included.
            let g = &mut f.region;
            (g.changed_pixels, g.sum_delta_e, g.peak_delta_e) = (0, 0.0, 0.0);
            for y in g.y0..=g.y1 {
                for x in g.x0..=g.x1 {
                    let i = y as usize * wu + x as usize;
                    if marked[i] == 1 {
                        g.changed_pixels += 1;
                        g.sum_delta_e += f64::from(delta_e[i]);
                        g.peak_delta_e = g.peak_delta_e.max(delta_e[i]);
                    }
                }
            }
            f
        })
        .collect();
    Detection {
        noise,
        floor: ask.floor,
        found,
        marked,
        delta_e,
    }
}

/// Per pixel, 1 where the mean difference of the 5×5 pixels around it (`near_d`) is
/// at least [`Model::prescreen`] times the effect floor `floor` and four standard
/// errors of such a mean under the pair's bulk noise ([`noise::bulk_level`]), and no
/// one-pixel move explains the pixel ([`residual::moved`], asked only of those): a neighbourhood that
/// changed together, visibly, is not the pair's noise; a misregistered edge is (its
/// one-signed line along the edge is what the edge jitter measures). Noise averages
/// out in a 5×5 mean.
fn coherent(
    a: &RgbaImage,
    b: &RgbaImage,
    r: &Residual,
    near_d: &[Vec<f32>; 3],
    floor: f32,
    model: &Model,
) -> Vec<u8> {
    let side = (2 * MARK_RADIUS + 1) as f32;
    let bulk = noise::bulk_level(r);
    let level = (model.prescreen * floor).max(4.0 * bulk / side);
    let level2 = level * level;
    let w = r.width as usize;
    (0..r.valid.len())
        .into_par_iter()
        .map(|i| {
            let m = [near_d[0][i], near_d[1][i], near_d[2][i]];
            let (x, y) = ((i % w) as u32, (i / w) as u32);
            u8::from(norm2(m) >= level2 && !residual::moved(a, b, x, y))
        })
        .collect()
}

/// Half the side of the neighbourhood whose mean difference can mark a pixel: that
/// of the activity, so the gradient's mean there is [`Residual::activity`].
const MARK_RADIUS: usize = residual::ACTIVITY_RADIUS;

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    fn ask() -> Ask {
        Ask {
            floor: 2.3,
            auto_floor: true,
            min_area: 12,
            merge_distance: 4,
            alpha: false,
            clipped: None,
        }
    }

    /// A 96×64 "screenshot": white, with rows of dark 1 px strokes (text-like).
    fn page() -> RgbaImage {
        RgbaImage::from_fn(96, 64, |x, y| {
            let ink = y % 8 < 5 && y % 8 > 0 && x % 4 == 1 && (x / 12) % 2 == 0;
            let v = if ink { 40 } else { 250 };
            Rgba([v, v, v, 255])
        })
    }

    fn boxes(a: &RgbaImage, b: &RgbaImage) -> Vec<(u32, u32, u32, u32)> {
        detect(a, b, ask(), &Model::default(), |_, _| true, &Cancel::new())
            .found
            .iter()
            .map(|f| {
                let r = f.region.rect();
                (r.x, r.y, r.w, r.h)
            })
            .collect()
    }

    #[test]
    fn weak_dust_beside_a_change_does_not_widen_its_box() {
        let a = page();
        let mut b = a.clone();
        for y in 20..28 {
            for x in 40..48 {
                b.put_pixel(x, y, Rgba([200, 30, 30, 255]));
            }
        }
        // Three faint single pixels within the merge distance (ΔE about 4).
        for (x, y) in [(37, 18), (50, 24), (44, 30)] {
            let v = a.get_pixel(x, y).0[0] - 10;
            b.put_pixel(x, y, Rgba([v, v, v, 255]));
        }
        assert_eq!(boxes(&a, &b), vec![(40, 20, 8, 8)]);
    }

    #[test]
    fn a_change_over_half_the_picture_is_found_not_taken_for_noise() {
        // A lossless pair: a grey square over 70 % of a 48×48 icon turns shades of red.
        let inside = |x: u32, y: u32| (4..44).contains(&x) && (4..44).contains(&y);
        let a = RgbaImage::from_fn(48, 48, |x, y| {
            let v = if inside(x, y) { 120 } else { 250 };
            Rgba([v, v, v, 255])
        });
        let b = RgbaImage::from_fn(48, 48, |x, y| {
            if inside(x, y) {
                Rgba([200, 40 + 2 * y as u8, 60, 255])
            } else {
                *a.get_pixel(x, y)
            }
        });
        assert_eq!(boxes(&a, &b), vec![(4, 4, 40, 40)]);
    }

    #[test]
    fn one_changed_stroke_on_a_clean_pair_is_one_box_around_it() {
        let a = page();
        let mut b = a.clone();
        for y in 17..21 {
            b.put_pixel(3, y, Rgba([40, 40, 40, 255]));
        }
        assert_eq!(boxes(&a, &b), vec![(3, 17, 1, 4)]);
    }

    #[test]
    fn identical_and_change_free_pairs_have_no_box() {
        let a = page();
        assert!(boxes(&a, &a.clone()).is_empty());
        // Every ink pixel one level lighter: far under a just-noticeable difference.
        let b = RgbaImage::from_fn(96, 64, |x, y| {
            let p = a.get_pixel(x, y).0;
            let v = if p[0] < 128 { p[0] + 1 } else { p[0] };
            Rgba([v, v, v, 255])
        });
        assert!(boxes(&a, &b).is_empty());
    }

    #[test]
    fn a_faint_tint_over_a_noisy_area_is_found_and_its_box_covers_it() {
        // Deterministic texture ±8 levels; B is A re-noised, plus a +10-level tint.
        let tex = |x: u32, y: u32, seed: u32| -> i32 {
            let h = (x.wrapping_mul(374_761_393) ^ y.wrapping_mul(668_265_263) ^ seed)
                .wrapping_mul(1_274_126_177);
            ((h >> 24) % 17) as i32 - 8
        };
        let img = |seed: u32, tint: bool| {
            RgbaImage::from_fn(128, 96, |x, y| {
                let t = if tint && (40..80).contains(&x) && (30..60).contains(&y) {
                    10
                } else {
                    0
                };
                let v = (128 + tex(x, y, seed) / 2 + t).clamp(0, 255) as u8;
                Rgba([v, v, 110, 255])
            })
        };
        let (a, b) = (img(1, false), img(2, true));
        let found = boxes(&a, &b);
        assert_eq!(found.len(), 1, "{found:?}");
        let (x, y, w, h) = found[0];
        assert!(
            x <= 42 && y <= 32 && x + w >= 78 && y + h >= 58,
            "{found:?}"
        );
        assert!(boxes(&a, &img(2, false)).is_empty(), "noise alone");
    }

    #[test]
    fn the_box_of_a_strong_change_over_noise_ends_at_the_change() {
        // Texture of ±8 levels, re-noised in B, where a dark 20×20 square is painted:
        // the pixels next to it have a large 5×5 mean difference but none of their own.
        let tex = |x: u32, y: u32, seed: u32| -> i32 {
            let h = (x.wrapping_mul(374_761_393) ^ y.wrapping_mul(668_265_263) ^ seed)
                .wrapping_mul(1_274_126_177);
            ((h >> 24) % 17) as i32 - 8
        };
        let img = |seed: u32, square: bool| {
            RgbaImage::from_fn(128, 96, |x, y| {
                if square && (50..70).contains(&x) && (40..60).contains(&y) {
                    return Rgba([20, 20, 20, 255]);
                }
                let v = (150 + tex(x, y, seed)).clamp(0, 255) as u8;
                Rgba([v, v, v, 255])
            })
        };
        // (Noise pixels of 2σ and more right beside it may still join it.)
        let found = boxes(&img(1, false), &img(2, true));
        assert_eq!(found.len(), 1, "{found:?}");
        let (x, y, w, h) = found[0];
        assert!(
            (48..=50).contains(&x) && (38..=40).contains(&y) && x + w <= 72 && y + h <= 62,
            "{found:?}"
        );
        assert!(x + w >= 70 && y + h >= 60, "{found:?}");
    }

    #[test]
    fn heavy_tailed_blocky_noise_is_not_a_change_but_a_real_edit_is() {
        // Codec-like error: fine noise of ±2 levels everywhere, and one 4×4 block in
        // 64 offset by 5 to 8 levels (a Gaussian fitted to the bulk calls those
        // blocks impossible). B also has a 12×12 patch 30 levels darker.
        let hash = |x: u32, y: u32, seed: u32| -> u32 {
            (x.wrapping_mul(374_761_393) ^ y.wrapping_mul(668_265_263) ^ seed)
                .wrapping_mul(1_274_126_177)
        };
        let img = |seed: u32, patch: bool| {
            RgbaImage::from_fn(256, 192, |x, y| {
                let fine = (hash(x, y, seed) >> 24) % 5;
                let block = hash(x / 4, y / 4, seed ^ 0x9e37);
                let offset = if block % 64 == 0 {
                    5 + (block >> 8) % 4
                } else {
                    0
                };
                let dark = if patch && (100..112).contains(&x) && (80..92).contains(&y) {
                    30
                } else {
                    0
                };
                let v = (120 + fine + offset - dark) as u8;
                Rgba([v, v, v, 255])
            })
        };
        assert!(boxes(&img(1, false), &img(2, false)).is_empty());
        let found = boxes(&img(1, false), &img(2, true));
        assert_eq!(found.len(), 1, "{found:?}");
        let (x, y, w, h) = found[0];
        assert!(
            x <= 100 && y <= 80 && x + w >= 112 && y + h >= 92,
            "{found:?}"
        );
    }

    #[test]
    fn text_moved_by_one_pixel_is_not_a_change_but_moved_farther_or_edited_it_is() {
        // One "word" of the page drawn again 1 px or 2 px to the right.
        let word = |dx: u32, edit: bool| {
            let mut img = page();
            for y in 8..16 {
                for x in 48..72 {
                    img.put_pixel(x, y, Rgba([250, 250, 250, 255]));
                }
            }
            for y in 9..13 {
                for x in (49..70).filter(|x| x % 4 == 1) {
                    img.put_pixel(x + dx, y, Rgba([40, 40, 40, 255]));
                }
            }
            if edit {
                for x in 54..58 {
                    img.put_pixel(x + dx, 13, Rgba([40, 40, 40, 255]));
                }
            }
            img
        };
        let a = word(0, false);
        assert!(boxes(&a, &word(1, false)).is_empty());
        assert_eq!(boxes(&a, &word(2, false)).len(), 1);
        assert_eq!(boxes(&a, &word(1, true)).len(), 1, "moved and edited");
    }

    #[test]
    fn an_edge_moved_by_a_subpixel_amount_is_not_a_change() {
        // A vertical soft edge; B has it moved by about a third of a pixel.
        let edge = |shift: f32| {
            RgbaImage::from_fn(64, 32, |x, _| {
                let t = ((x as f32 - 32.0 - shift) / 1.5).clamp(-1.0, 1.0);
                let v = (140.0 + 100.0 * t) as u8;
                Rgba([v, v, v, 255])
            })
        };
        assert!(boxes(&edge(0.0), &edge(0.35)).is_empty());
        assert_eq!(boxes(&edge(0.0), &edge(6.0)).len(), 1, "a real move is");
    }

    #[test]
    fn local_means_of_a_literal() {
        let a = RgbaImage::from_pixel(5, 1, Rgba([0, 0, 0, 255]));
        let mut b = a.clone();
        b.put_pixel(2, 0, Rgba([255, 255, 255, 255]));
        let r = Residual::new(&a, &b, false, None, |_, _| true);
        let m = residual::local_means(&r.d, 5, 1, 1);
        let l = r.d[0][2];
        for (x, want) in [(0, 0.0), (1, l / 3.0), (2, l / 3.0), (3, l / 3.0), (4, 0.0)] {
            assert!((m[0][x] - want).abs() < 1e-3, "{x}: {}", m[0][x]);
        }
    }

    #[test]
    fn untested_pixels_are_never_boxed() {
        let a = page();
        let b = RgbaImage::from_pixel(96, 64, Rgba([0, 0, 0, 255]));
        let d = detect(
            &a,
            &b,
            ask(),
            &Model::default(),
            |x, _| x >= 90,
            &Cancel::new(),
        );
        assert!(d
            .found
            .iter()
            .all(|f| f.region.x0 >= 90 && f.log10_nfa < 0.0));
    }

    #[test]
    fn a_resampling_blur_is_not_a_change_and_a_pasted_block_in_it_is() {
        // B is A softened by a 3×3 binomial kernel over a stroke in 46..54 × 16..22,
        // as a crop rescaled and registered back softens them.
        let a = page();
        let blurred = |img: &RgbaImage| {
            let mut out = img.clone();
            for y in 16..22u32 {
                for x in 46..54u32 {
                    let mut sum = 0u32;
                    for (yy, ky) in [(y - 1, 1), (y, 2), (y + 1, 1)] {
                        for (xx, kx) in [(x - 1, 1), (x, 2), (x + 1, 1)] {
                            sum += ky * kx * u32::from(img.get_pixel(xx, yy).0[0]);
                        }
                    }
                    let v = ((sum + 8) / 16) as u8;
                    out.put_pixel(x, y, Rgba([v, v, v, 255]));
                }
            }
            out
        };
        let b = blurred(&a);
        assert!(b != a);
        assert!(boxes(&a, &b).is_empty(), "{:?}", boxes(&a, &b));
        // A dark block pasted among the softened strokes is no blur of A.
        let mut pasted = b.clone();
        for y in 20..26 {
            for x in 60..66 {
                pasted.put_pixel(x, y, Rgba([30, 30, 160, 255]));
            }
        }
        assert_eq!(boxes(&a, &pasted), vec![(60, 20, 6, 6)]);
    }
}
