//! Point queries about one region of a pair, asked while boxes are built: whether one
//! shift explains the region as a displacement, its strongest unblurred change, and
//! the bounds of the pixels that really changed.

use super::{backgrounds, d2, lab_planes, shifts, Lab3, BLUR_SIGMA, RESIDUAL, SHIFT};
use crate::color::rgba_over_to_lab;
use crate::map::{gaussian_kernel, TileRect};
use image::RgbaImage;

/// True when one shift of B by at most `SHIFT` px brings the root-mean-square
/// blurred ΔE between A and B over `r` (grown by `SHIFT`) to at most `RESIDUAL` of
/// its unshifted value:
/// the difference inside `r` is then mostly a displacement of the whole area, not a
/// change.
pub fn one_shift_explains(
    a: &RgbaImage,
    b: &RgbaImage,
    alpha: bool,
    r: crate::options::Rect,
) -> bool {
    let (w, h) = a.dimensions();
    // Compared over `r` grown by the shift, so that moving a small object out of
    // `r` does not count as explaining it.
    let g = SHIFT as u32;
    let r = crate::options::Rect {
        x: r.x.saturating_sub(g),
        y: r.y.saturating_sub(g),
        w: (r.right() + g).min(w) - r.x.saturating_sub(g),
        h: (r.bottom() + g).min(h) - r.y.saturating_sub(g),
    };
    let kernel = gaussian_kernel(BLUR_SIGMA, 3.0);
    let m = SHIFT as u32 + (kernel.len() / 2) as u32;
    let x0 = r.x.saturating_sub(m);
    let y0 = r.y.saturating_sub(m);
    let region = TileRect {
        x: x0,
        y: y0,
        w: (r.right() + m).min(w) - x0,
        h: (r.bottom() + m).min(h) - y0,
    };
    let backgrounds = backgrounds(alpha);
    let planes: Vec<(Lab3, Lab3)> = backgrounds
        .iter()
        .map(|&bg| {
            (
                lab_planes(a, region, bg, &kernel),
                lab_planes(b, region, bg, &kernel),
            )
        })
        .collect();
    let rw = region.w as usize;
    let at = |x: i64, y: i64| {
        let x = x.clamp(0, i64::from(w) - 1) as usize - x0 as usize;
        let y = y.clamp(0, i64::from(h) - 1) as usize - y0 as usize;
        y * rw + x
    };
    // Σ squared ΔE over `r` with B moved by `s`, given up once it reaches `limit`.
    let error = |(sx, sy): (i32, i32), limit: f64| {
        let mut sum = 0f64;
        for y in i64::from(r.y)..i64::from(r.bottom().min(h)) {
            for x in i64::from(r.x)..i64::from(r.right().min(w)) {
                let (p, q) = (at(x, y), at(x + i64::from(sx), y + i64::from(sy)));
                let d = planes
                    .iter()
                    .map(|(la, lb)| {
                        let d0 = la[0][p] - lb[0][q];
                        let d1 = la[1][p] - lb[1][q];
                        let d2 = la[2][p] - lb[2][q];
                        d0 * d0 + d1 * d1 + d2 * d2
                    })
                    .fold(0.0, f32::max);
                sum += f64::from(d);
            }
            if sum >= limit {
                break;
            }
        }
        sum
    };
    let direct = error((0, 0), f64::INFINITY);
    let limit = RESIDUAL * RESIDUAL * direct;
    direct > 0.0 && shifts().iter().any(|&s| error(s, limit) < limit)
}

/// Largest unblurred, shift-tolerant ΔE inside a rectangle: how strongly a small
/// region really changed, before the blur spread it out. A single changed pixel has
/// a blurred difference of about a sixth of its real one.
pub fn raw_peak(a: &RgbaImage, b: &RgbaImage, alpha: bool, r: crate::options::Rect) -> f32 {
    let (w, h) = a.dimensions();
    let backgrounds = backgrounds(alpha);
    let lab = |img: &RgbaImage, x: u32, y: u32, bg: u8| rgba_over_to_lab(img.get_pixel(x, y).0, bg);
    let mut peak = 0f32;
    for y in r.y..r.bottom().min(h) {
        for x in r.x..r.right().min(w) {
            let mut worst = 0f32;
            for (src, other) in [(a, b), (b, a)] {
                let mut best = f32::MAX;
                for qy in y.saturating_sub(SHIFT as u32)..=(y + SHIFT as u32).min(h - 1) {
                    for qx in x.saturating_sub(SHIFT as u32)..=(x + SHIFT as u32).min(w - 1) {
                        let d = backgrounds
                            .iter()
                            .map(|&bg| d2(lab(src, x, y, bg), lab(other, qx, qy, bg)))
                            .fold(0.0, f32::max);
                        best = best.min(d);
                    }
                }
                worst = worst.max(best);
            }
            peak = peak.max(worst);
        }
    }
    peak.sqrt()
}

/// The bounds of the pixels inside `r` whose own (unblurred, unshifted) colour
/// difference reaches `threshold`: shrinks a box that the blur widened back onto the
/// pixels that really changed. `None` when no pixel qualifies (a change visible only
/// in the blurred map keeps its box).
pub fn raw_bounds(
    a: &RgbaImage,
    b: &RgbaImage,
    alpha: bool,
    r: crate::options::Rect,
    threshold: f32,
) -> Option<crate::options::Rect> {
    let backgrounds = backgrounds(alpha);
    let t2 = threshold * threshold;
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for y in r.y..r.bottom().min(a.height()) {
        for x in r.x..r.right().min(a.width()) {
            let (pa, pb) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
            if pa == pb {
                continue;
            }
            let d = backgrounds
                .iter()
                .map(|&bg| d2(rgba_over_to_lab(pa, bg), rgba_over_to_lab(pb, bg)))
                .fold(0.0, f32::max);
            if d >= t2 {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
    }
    (x0 != u32::MAX).then(|| crate::options::Rect {
        x: x0,
        y: y0,
        w: x1 - x0 + 1,
        h: y1 - y0 + 1,
    })
}
