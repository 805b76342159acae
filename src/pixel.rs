//! The pixel change map: CIE76 colour difference (ΔE) between lightly blurred images,
//! with a symmetric best match within a small window so that a 1-2 px shift or an
//! anti-aliased edge does not count as a change.
//!
//! For each pixel p and each shift s within ±`SHIFT` px, the error of the shift is the
//! largest ΔE between A and B moved by s over the 3×3 patch around p; the map holds
//! the smallest error over all shifts, taken both ways (A against shifted B, and B
//! against shifted A) and the larger of the two kept. One shift must explain the
//! whole patch, so a re-rendered or moved edge matches, while a changed glyph whose
//! strokes only lie near other strokes does not; and taking both directions keeps
//! erasures (present in A, absent in B) and additions alike.
//!
//! Images with alpha are compared as they look over white *and* over black; the
//! larger difference counts.

use crate::color::rgba_over_to_lab;
use crate::map::{gaussian_kernel, Map, TileRect, Tiles};
use image::RgbaImage;
use rayon::prelude::*;

/// Blur applied before comparing (σ in px): removes JPEG ringing and sensor noise.
pub const BLUR_SIGMA: f32 = 1.0;
/// Shift tolerance in px.
pub const SHIFT: i32 = 3;
/// Radius of the patch that one shift must explain (1 = 3×3).
pub const PATCH: i32 = 1;
/// A tile whose direct differences are all below this ΔE is not searched.
const CARE: f32 = 1.0;

/// Computes the pixel map over the tiles near a difference; elsewhere it is 0.
pub fn pixel_map(a: &RgbaImage, b: &RgbaImage, alpha: bool, tiles: &Tiles) -> Map {
    let (w, h) = a.dimensions();
    let kernel = gaussian_kernel(BLUR_SIGMA, 3.0);
    let radius = (kernel.len() / 2) as i32;
    let work = tiles.near_dirty();
    let results: Vec<(TileRect, Vec<f32>)> = work
        .par_iter()
        .map(|&t| (t, tile_map(a, b, alpha, t, &kernel, radius)))
        .collect();
    let mut map = Map::zeros(w, h);
    for (t, values) in results {
        map.put(t, values);
    }
    map
}

/// Lab values of a region, row-major.
type LabPlane = Vec<[f32; 3]>;

/// Lab planes of a region, over one background, blurred.
fn lab_region(img: &RgbaImage, r: TileRect, bg: u8, kernel: &[f32]) -> LabPlane {
    let mut plane = Vec::with_capacity((r.w * r.h) as usize);
    for y in r.y..r.y + r.h {
        for x in r.x..r.x + r.w {
            plane.push(rgba_over_to_lab(img.get_pixel(x, y).0, bg));
        }
    }
    blur3(&plane, r.w as usize, r.h as usize, kernel)
}

/// Separable blur of a 3-channel plane; edges clamp.
fn blur3(src: &[[f32; 3]], w: usize, h: usize, k: &[f32]) -> Vec<[f32; 3]> {
    let r = (k.len() / 2) as isize;
    let mut tmp = vec![[0f32; 3]; w * h];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for x in 0..w {
            let mut acc = [0f32; 3];
            for (i, kv) in k.iter().enumerate() {
                let xx = (x as isize + i as isize - r).clamp(0, w as isize - 1) as usize;
                let p = row[xx];
                acc[0] += kv * p[0];
                acc[1] += kv * p[1];
                acc[2] += kv * p[2];
            }
            tmp[y * w + x] = acc;
        }
    }
    let mut out = vec![[0f32; 3]; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0f32; 3];
            for (i, kv) in k.iter().enumerate() {
                let yy = (y as isize + i as isize - r).clamp(0, h as isize - 1) as usize;
                let p = tmp[yy * w + x];
                acc[0] += kv * p[0];
                acc[1] += kv * p[1];
                acc[2] += kv * p[2];
            }
            out[y * w + x] = acc;
        }
    }
    out
}

#[inline]
fn d2(p: [f32; 3], q: [f32; 3]) -> f32 {
    let (a, b, c) = (p[0] - q[0], p[1] - q[1], p[2] - q[2]);
    a * a + b * b + c * c
}

fn tile_map(
    a: &RgbaImage,
    b: &RgbaImage,
    alpha: bool,
    t: TileRect,
    kernel: &[f32],
    radius: i32,
) -> Vec<f32> {
    let (w, h) = a.dimensions();
    // Blurred values are needed for the tile, its patch margin and every shift.
    let m = SHIFT + PATCH + radius;
    let x0 = (t.x as i32 - m).max(0) as u32;
    let y0 = (t.y as i32 - m).max(0) as u32;
    let x1 = (t.x + t.w + m as u32).min(w);
    let y1 = (t.y + t.h + m as u32).min(h);
    let region = TileRect {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    };
    // One or two backgrounds: over white always; over black too when alpha matters.
    let backgrounds: &[u8] = if alpha { &[255, 0] } else { &[255] };
    let planes: Vec<(LabPlane, LabPlane)> = backgrounds
        .iter()
        .map(|&bg| {
            (
                lab_region(a, region, bg, kernel),
                lab_region(b, region, bg, kernel),
            )
        })
        .collect();
    let tile_len = (t.w * t.h) as usize;
    // The patch around each tile pixel: the tile grown by PATCH px, clipped to the image.
    let px0 = t.x.saturating_sub(PATCH as u32);
    let py0 = t.y.saturating_sub(PATCH as u32);
    let px1 = (t.x + t.w + PATCH as u32).min(w);
    let py1 = (t.y + t.h + PATCH as u32).min(h);
    let (pw, ph) = ((px1 - px0) as usize, (py1 - py0) as usize);
    let rw = region.w as usize;
    let idx = |x: u32, y: u32| (y - y0) as usize * rw + (x - x0) as usize;

    // Squared ΔE between X at q and Y at q + s, over the patch area.
    let errors = |swap: bool, (sx, sy): (i32, i32), e: &mut Vec<f32>| {
        e.clear();
        for y in py0..py1 {
            let qy = y as i32 + sy;
            for x in px0..px1 {
                // Past the image edge the nearest edge pixel stands in: content that a
                // shift brought in from outside is compared with its neighbour.
                let qx = (x as i32 + sx).clamp(0, w as i32 - 1);
                let qy = qy.clamp(0, h as i32 - 1);
                let (p, q) = (idx(x, y), idx(qx as u32, qy as u32));
                let d = planes
                    .iter()
                    .map(|(la, lb)| {
                        if swap {
                            d2(lb[p], la[q])
                        } else {
                            d2(la[p], lb[q])
                        }
                    })
                    .fold(0.0, f32::max);
                e.push(d);
            }
        }
    };
    // Largest error in each tile pixel's 3×3 patch: a shift must explain the whole
    // patch, so text whose strokes merely lie near other strokes still counts.
    let patch_max = |e: &[f32], out: &mut [f32]| {
        let mut i = 0;
        for y in t.y..t.y + t.h {
            let (ya, yb) = (
                y.saturating_sub(PATCH as u32).max(py0),
                (y + PATCH as u32).min(py1 - 1),
            );
            for x in t.x..t.x + t.w {
                let (xa, xb) = (
                    x.saturating_sub(PATCH as u32).max(px0),
                    (x + PATCH as u32).min(px1 - 1),
                );
                let (mut sum, mut n) = (0f32, 0f32);
                for yy in ya..=yb {
                    let row = (yy - py0) as usize * pw;
                    for xx in xa..=xb {
                        sum += e[row + (xx - px0) as usize];
                        n += 1.0;
                    }
                }
                out[i] = sum / n;
                i += 1;
            }
        }
    };

    let mut e = Vec::with_capacity(pw * ph);
    let mut cur = vec![0f32; tile_len];
    errors(false, (0, 0), &mut e);
    let mut direct = vec![0f32; tile_len];
    patch_max(&e, &mut direct);
    let care2 = CARE * CARE;
    if direct.iter().all(|d| *d <= care2) {
        return direct.iter().map(|d| d.sqrt()).collect();
    }
    let mut worst = vec![0f32; tile_len];
    for swap in [false, true] {
        let mut best = direct.clone();
        for sy in -SHIFT..=SHIFT {
            for sx in -SHIFT..=SHIFT {
                if sx == 0 && sy == 0 {
                    continue;
                }
                errors(swap, (sx, sy), &mut e);
                patch_max(&e, &mut cur);
                for (b, c) in best.iter_mut().zip(&cur) {
                    *b = b.min(*c);
                }
            }
        }
        for (wv, b) in worst.iter_mut().zip(&best) {
            *wv = wv.max(*b);
        }
    }
    worst.iter().map(|d| d.sqrt()).collect()
}

/// Largest unblurred, shift-tolerant ΔE inside a rectangle: how strongly a small
/// region really changed, before the blur spread it out. A single changed pixel has
/// a blurred difference of about a sixth of its real one.
pub fn raw_peak(a: &RgbaImage, b: &RgbaImage, alpha: bool, r: crate::options::Rect) -> f32 {
    let (w, h) = a.dimensions();
    let backgrounds: &[u8] = if alpha { &[255, 0] } else { &[255] };
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
    let backgrounds: &[u8] = if alpha { &[255, 0] } else { &[255] };
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

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    fn run(a: &RgbaImage, b: &RgbaImage) -> Map {
        pixel_map(a, b, false, &Tiles::find(a, b))
    }

    #[test]
    fn identical_images_give_a_zero_map() {
        let a = RgbaImage::from_fn(40, 30, |x, y| Rgba([x as u8 * 5, y as u8 * 7, 90, 255]));
        assert_eq!(run(&a, &a).max(), 0.0);
    }

    #[test]
    fn a_one_pixel_shift_of_an_edge_is_tolerated() {
        let a = RgbaImage::from_fn(64, 64, |x, _| {
            if x < 30 {
                Rgba([0, 0, 0, 255])
            } else {
                Rgba([255, 255, 255, 255])
            }
        });
        let b = RgbaImage::from_fn(64, 64, |x, _| {
            if x < 31 {
                Rgba([0, 0, 0, 255])
            } else {
                Rgba([255, 255, 255, 255])
            }
        });
        assert!(run(&a, &b).max() < 3.0, "{}", run(&a, &b).max());
    }

    #[test]
    fn an_erased_square_is_found_both_ways() {
        let a = RgbaImage::from_pixel(64, 64, Rgba([255, 255, 255, 255]));
        let mut b = a.clone();
        for y in 20..30 {
            for x in 20..30 {
                b.put_pixel(x, y, Rgba([0, 0, 200, 255]));
            }
        }
        let ab = run(&a, &b);
        let ba = run(&b, &a);
        assert!(ab.get(25, 25) > 50.0);
        assert_eq!(ab.get(25, 25), ba.get(25, 25));
        assert_eq!(ab.get(2, 2), 0.0);
    }
}
