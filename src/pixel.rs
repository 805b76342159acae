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
use crate::map::{gaussian_kernel, segments, Map, TileRect};
use image::RgbaImage;
use rayon::prelude::*;

/// Blur applied before comparing (σ in px): removes JPEG ringing and sensor noise.
pub const BLUR_SIGMA: f32 = 1.0;
/// Shift tolerance in px.
pub const SHIFT: i32 = 3;
/// A shift explains a displacement when it leaves at most this share of the
/// unshifted RMS difference.
const RESIDUAL: f64 = 0.3;
/// Radius of the patch that one shift must explain (1 = 3×3).
pub const PATCH: i32 = 1;

/// Computes the pixel map over the tiles `work` (usually [`Tiles::near_dirty`]);
/// elsewhere it is 0.
///
/// `care` is the smallest ΔE at which the exact value matters: every value at or
/// above it is the exact shift-tolerant difference, and where the exact value is
/// below `care` the stored one is below `care` too (the search for a matching shift
/// stops as soon as one under `care` is found). 0 gives the exact map everywhere.
pub fn pixel_map(a: &RgbaImage, b: &RgbaImage, alpha: bool, work: &[TileRect], care: f32) -> Map {
    let (w, h) = a.dimensions();
    let kernel = gaussian_kernel(BLUR_SIGMA, 3.0);
    let segments = segments(work);
    let results: Vec<Vec<(TileRect, Vec<f32>)>> = segments
        .par_iter()
        .map(|s| segment_map(a, b, alpha, s, &kernel, care))
        .collect();
    let mut map = Map::zeros(w, h);
    for (t, values) in results.into_iter().flatten() {
        map.put(t, values);
    }
    map
}

/// The backgrounds a pixel is compared over: white always, black too when alpha
/// matters (a change of transparency then shows over one of them).
fn backgrounds(alpha: bool) -> &'static [u8] {
    if alpha {
        &[255, 0]
    } else {
        &[255]
    }
}

/// Blurred L, a, b planes of a region, row-major.
type Lab3 = [Vec<f32>; 3];

/// A region's blurred Lab planes, over each background in use.
struct RegionLab {
    region: TileRect,
    /// Per background: A's planes, B's planes.
    planes: Vec<(Lab3, Lab3)>,
}

fn segment_map(
    a: &RgbaImage,
    b: &RgbaImage,
    alpha: bool,
    seg: &[TileRect],
    kernel: &[f32],
    care: f32,
) -> Vec<(TileRect, Vec<f32>)> {
    let (w, h) = a.dimensions();
    let radius = (kernel.len() / 2) as u32;
    // Blurred values are needed for the tiles, their patch margin and every shift.
    let m = (SHIFT + PATCH) as u32 + radius;
    let (first, last) = (seg[0], seg[seg.len() - 1]);
    let x0 = first.x.saturating_sub(m);
    let y0 = first.y.saturating_sub(m);
    let x1 = (last.x + last.w + m).min(w);
    let y1 = (first.y + first.h + m).min(h);
    let region = TileRect {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    };
    let backgrounds = backgrounds(alpha);
    let lab = RegionLab {
        region,
        planes: backgrounds
            .iter()
            .map(|&bg| {
                (
                    lab_planes(a, region, bg, kernel),
                    lab_planes(b, region, bg, kernel),
                )
            })
            .collect(),
    };
    let mut scratch = Scratch::default();
    seg.iter()
        .map(|&t| (t, tile_map(&lab, t, (w, h), care * care, &mut scratch)))
        .collect()
}

/// Blurred Lab planes of a region over one background; the blur clamps at the
/// region's edges (the margin keeps that away from every value that is used).
fn lab_planes(img: &RgbaImage, r: TileRect, bg: u8, kernel: &[f32]) -> Lab3 {
    let n = (r.w * r.h) as usize;
    let mut planes: Lab3 = [vec![0f32; n], vec![0f32; n], vec![0f32; n]];
    let stride = img.width() as usize * 4;
    let raw = img.as_raw();
    let mut i = 0;
    for y in r.y..r.y + r.h {
        let row = &raw[y as usize * stride + r.x as usize * 4..][..r.w as usize * 4];
        for p in row.chunks_exact(4) {
            let lab = rgba_over_to_lab([p[0], p[1], p[2], p[3]], bg);
            planes[0][i] = lab[0];
            planes[1][i] = lab[1];
            planes[2][i] = lab[2];
            i += 1;
        }
    }
    let mut tmp = vec![0f32; n];
    for p in &mut planes {
        blur_plane(p, &mut tmp, r.w as usize, r.h as usize, kernel);
    }
    planes
}

/// Separable blur of one plane in place; edges clamp. Each output value sums its
/// taps in kernel order, as a direct convolution does.
fn blur_plane(p: &mut [f32], tmp: &mut [f32], w: usize, h: usize, k: &[f32]) {
    let r = k.len() / 2;
    for y in 0..h {
        let (src, dst) = (&p[y * w..(y + 1) * w], &mut tmp[y * w..(y + 1) * w]);
        dst.fill(0.0);
        let clamped = |x: usize, dst: &mut [f32]| {
            for (i, kv) in k.iter().enumerate() {
                dst[x] += kv * src[(x + i).saturating_sub(r).min(w - 1)];
            }
        };
        if w > 2 * r {
            for (i, kv) in k.iter().enumerate() {
                for (d, s) in dst[r..w - r].iter_mut().zip(&src[i..i + w - 2 * r]) {
                    *d += kv * s;
                }
            }
            for x in (0..r).chain(w - r..w) {
                clamped(x, dst);
            }
        } else {
            for x in 0..w {
                clamped(x, dst);
            }
        }
    }
    for y in 0..h {
        let dst = &mut p[y * w..(y + 1) * w];
        dst.fill(0.0);
        for (i, kv) in k.iter().enumerate() {
            let yy = (y + i).saturating_sub(r).min(h - 1);
            for (d, s) in dst.iter_mut().zip(&tmp[yy * w..(yy + 1) * w]) {
                *d += kv * s;
            }
        }
    }
}

/// Per-tile working memory, reused across a segment's tiles.
#[derive(Default)]
struct Scratch {
    /// Per background: A's and B's planes padded by `SHIFT + PATCH` around the tile.
    padded: Vec<(Lab3, Lab3)>,
    /// Squared errors over the patch area, and their sums along rows.
    e: Vec<f32>,
    hsum: Vec<f32>,
}

/// Shifts other than (0, 0), nearest first: a moved edge usually matches early.
fn shifts() -> &'static [(i32, i32)] {
    static SHIFTS: std::sync::OnceLock<Vec<(i32, i32)>> = std::sync::OnceLock::new();
    SHIFTS.get_or_init(|| {
        let mut s: Vec<(i32, i32)> = (-SHIFT..=SHIFT)
            .flat_map(|y| (-SHIFT..=SHIFT).map(move |x| (x, y)))
            .filter(|&s| s != (0, 0))
            .collect();
        s.sort_by_key(|&(x, y)| x * x + y * y);
        s
    })
}

/// Where one tile lies: the tile, the image size, and for its padded patch area
/// which columns and rows are inside the image.
struct TileGeometry {
    tw: usize,
    th: usize,
    /// Padded plane width: the tile plus `SHIFT + PATCH` each side.
    pw: usize,
    /// Patch area width: the tile plus `PATCH` each side.
    ew: usize,
    col_in: Vec<bool>,
    row_in: Vec<bool>,
    clip_cols: bool,
    inv_cols: Vec<f32>,
    inv_rows: Vec<f32>,
}

const M: usize = (SHIFT + PATCH) as usize;
const P: usize = PATCH as usize;

impl TileGeometry {
    fn new(t: TileRect, (w, h): (u32, u32)) -> TileGeometry {
        let (tw, th) = (t.w as usize, t.h as usize);
        let (ew, eh) = (tw + 2 * P, th + 2 * P);
        let inside = |start: u32, i: usize, len: u32| {
            let v = i64::from(start) - P as i64 + i as i64;
            v >= 0 && v < i64::from(len)
        };
        let col_in: Vec<bool> = (0..ew).map(|i| inside(t.x, i, w)).collect();
        let row_in: Vec<bool> = (0..eh).map(|j| inside(t.y, j, h)).collect();
        let inv = |flags: &[bool], n: usize| -> Vec<f32> {
            (0..n)
                .map(|i| 1.0 / flags[i..i + 2 * P + 1].iter().filter(|f| **f).count() as f32)
                .collect()
        };
        TileGeometry {
            tw,
            th,
            pw: tw + 2 * M,
            ew,
            clip_cols: col_in.iter().any(|f| !f),
            inv_cols: inv(&col_in, tw),
            inv_rows: inv(&row_in, th),
            col_in,
            row_in,
        }
    }

    /// Patch means of the squared error of shift `sh` (X = B, Y = A when `swap`),
    /// for the tile rows `rows`, into `out` (tile-sized, row-major).
    fn patch_means(
        &self,
        s: &mut Scratch,
        swap: bool,
        sh: (i32, i32),
        rows: std::ops::Range<usize>,
        out: &mut [f32],
    ) {
        let (tw, pw, ew) = (self.tw, self.pw, self.ew);
        let Scratch { padded, e, hsum } = s;
        let ux = M - P;
        let uy = (ux as i32 + sh.0) as usize;
        for j in rows.start..rows.end + 2 * P {
            let erow = &mut e[j * ew..(j + 1) * ew];
            if !self.row_in[j] {
                erow.fill(0.0);
            } else {
                let v = j + M - P;
                let vy = (v as i32 + sh.1) as usize;
                for (k, (pa, pb)) in padded.iter().enumerate() {
                    let (xp, yp) = if swap { (pb, pa) } else { (pa, pb) };
                    let x0 = &xp[0][v * pw + ux..][..ew];
                    let x1 = &xp[1][v * pw + ux..][..ew];
                    let x2 = &xp[2][v * pw + ux..][..ew];
                    let y0 = &yp[0][vy * pw + uy..][..ew];
                    let y1 = &yp[1][vy * pw + uy..][..ew];
                    let y2 = &yp[2][vy * pw + uy..][..ew];
                    for i in 0..ew {
                        let (d0, d1, d2) = (x0[i] - y0[i], x1[i] - y1[i], x2[i] - y2[i]);
                        let d = d0 * d0 + d1 * d1 + d2 * d2;
                        erow[i] = if k == 0 { d } else { erow[i].max(d) };
                    }
                }
                if self.clip_cols {
                    for (v, inside) in erow.iter_mut().zip(&self.col_in) {
                        if !inside {
                            *v = 0.0;
                        }
                    }
                }
            }
            let erow = &e[j * ew..(j + 1) * ew];
            for (i, hv) in hsum[j * tw..(j + 1) * tw].iter_mut().enumerate() {
                *hv = erow[i] + erow[i + 1] + erow[i + 2];
            }
        }
        for j in rows {
            let (h0, h1, h2) = (
                &hsum[j * tw..][..tw],
                &hsum[(j + 1) * tw..][..tw],
                &hsum[(j + 2) * tw..][..tw],
            );
            let ir = self.inv_rows[j];
            for (i, o) in out[j * tw..(j + 1) * tw].iter_mut().enumerate() {
                *o = (h0[i] + h1[i] + h2[i]) * (self.inv_cols[i] * ir);
            }
        }
    }
}

/// The map values of one tile (ΔE, row-major).
///
/// For each pixel p and shift s the error is the mean over the 3×3 patch around p
/// (clipped to the image) of the squared ΔE between X at q and Y at q + s, where a
/// position past the image edge reads the nearest edge pixel. The value is the
/// smallest error over s (s = 0 included), taken with X = A, Y = B and the other way
/// round, the larger of the two kept. Shifts are tried only on rows where some
/// pixel's best so far is at least `care2` (squared), and not once none is left.
fn tile_map(
    lab: &RegionLab,
    t: TileRect,
    (w, h): (u32, u32),
    care2: f32,
    s: &mut Scratch,
) -> Vec<f32> {
    let g = TileGeometry::new(t, (w, h));
    let (tw, th, pw) = (g.tw, g.th, g.pw);
    let r = lab.region;
    // Padded copies: padded (u, v) is image (t.x - M + u, t.y - M + v), clamped.
    let clamp = |start: u32, i: usize, len: u32, origin: u32| {
        ((i64::from(start) - M as i64 + i as i64).clamp(0, i64::from(len) - 1) as u32 - origin)
            as usize
    };
    let cx: Vec<usize> = (0..pw).map(|u| clamp(t.x, u, w, r.x)).collect();
    let cy: Vec<usize> = (0..th + 2 * M).map(|v| clamp(t.y, v, h, r.y)).collect();
    s.padded.resize_with(lab.planes.len(), Default::default);
    for ((pa, pb), (la, lb)) in s.padded.iter_mut().zip(&lab.planes) {
        for (dst, src) in pa
            .iter_mut()
            .chain(pb.iter_mut())
            .zip(la.iter().chain(lb.iter()))
        {
            dst.clear();
            for &y in &cy {
                let row = &src[y * r.w as usize..];
                dst.extend(cx.iter().map(|&x| row[x]));
            }
        }
    }
    s.e.resize(g.ew * (th + 2 * P), 0.0);
    s.hsum.resize(tw * (th + 2 * P), 0.0);

    let mut direct = vec![0f32; tw * th];
    g.patch_means(s, false, (0, 0), 0..th, &mut direct);
    // The rows holding a pixel whose best error so far is at least `care2`.
    let pending = |best: &[f32], rows: std::ops::Range<usize>| {
        let hit = |j: &usize| best[j * tw..(j + 1) * tw].iter().any(|v| *v >= care2);
        let lo = rows.clone().find(hit)?;
        let hi = rows.rev().find(hit).unwrap_or(lo);
        Some(lo..hi + 1)
    };
    let Some(start) = pending(&direct, 0..th) else {
        return direct.iter().map(|d| d.sqrt()).collect();
    };
    let mut worst = vec![0f32; tw * th];
    let mut best = vec![0f32; tw * th];
    let mut cur = vec![0f32; tw * th];
    for swap in [false, true] {
        best.copy_from_slice(&direct);
        let mut rows = Some(start.clone());
        for &sh in shifts() {
            let Some(rr) = rows else { break };
            g.patch_means(s, swap, sh, rr.clone(), &mut cur);
            let span = rr.start * tw..rr.end * tw;
            for (b, c) in best[span.clone()].iter_mut().zip(&cur[span]) {
                *b = b.min(*c);
            }
            rows = pending(&best, rr);
        }
        for (wv, b) in worst.iter_mut().zip(&best) {
            *wv = wv.max(*b);
        }
    }
    worst.iter().map(|d| d.sqrt()).collect()
}

#[inline]
fn d2(p: [f32; 3], q: [f32; 3]) -> f32 {
    let (a, b, c) = (p[0] - q[0], p[1] - q[1], p[2] - q[2]);
    a * a + b * b + c * c
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::Tiles;
    use image::Rgba;

    /// The straightforward implementation the map was first written as: every
    /// shift searched for every pixel. The fast map must agree with it.
    mod reference {
        use super::super::*;
        use crate::map::Tiles;
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
            let backgrounds = backgrounds(alpha);
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
            let care2 = 0.0;
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
    }

    /// A textured picture (smooth gradients, hard edges, a few saturated colours),
    /// and a copy moved by (dx, dy) with a patch recoloured, some grain, and, with
    /// `alpha`, partly transparent pixels.
    fn scene(w: u32, h: u32, dx: i32, dy: i32, alpha: bool) -> (RgbaImage, RgbaImage) {
        let paint = |x: i32, y: i32| -> [u8; 4] {
            let stripe = ((x / 7 + y / 11) % 3) as u8;
            let disc = (x - 30) * (x - 30) + (y - 25) * (y - 25) < 144;
            let mut p = [
                (x * 5 % 256) as u8,
                (y * 3 % 256) as u8,
                stripe * 90,
                if alpha && (x + y) % 13 == 0 { 100 } else { 255 },
            ];
            if disc {
                p[0] = 250;
                p[1] = 20;
            }
            p
        };
        let a = RgbaImage::from_fn(w, h, |x, y| Rgba(paint(x as i32, y as i32)));
        let b = RgbaImage::from_fn(w, h, |x, y| {
            let mut p = paint(x as i32 + dx, y as i32 + dy);
            if (40..52).contains(&x) && (5..20).contains(&y) {
                p = [20, 200, 60, 255];
            }
            let grain = ((x * 7919 + y * 104_729) % 5) as u8;
            p[2] = p[2].saturating_add(grain);
            Rgba(p)
        });
        (a, b)
    }

    #[test]
    fn fast_map_agrees_with_the_reference() {
        for (w, h, dx, dy, alpha) in [
            (70, 45, 0, 0, false),
            (70, 45, 1, 0, false),
            (33, 65, -2, 1, true),
            (100, 37, 0, 3, false),
            (5, 3, 1, 1, false),
        ] {
            let (a, b) = scene(w, h, dx, dy, alpha);
            let tiles = Tiles::find(&a, &b);
            let want = reference::pixel_map(&a, &b, alpha, &tiles);
            for care in [0.0f32, 1.0, 6.0, 20.0] {
                let got = pixel_map(&a, &b, alpha, &tiles.near_dirty(), care);
                for y in 0..h {
                    for x in 0..w {
                        let (g, r) = (got.get(x, y), want.get(x, y));
                        if r >= care {
                            assert!(
                                (g - r).abs() <= 1e-3 * r.max(1.0),
                                "{w}x{h} care {care} at {x},{y}: {g} vs {r}"
                            );
                        } else {
                            assert!(g < care, "{w}x{h} care {care} at {x},{y}: {g} vs {r}");
                        }
                    }
                }
            }
        }
    }

    fn run(a: &RgbaImage, b: &RgbaImage) -> Map {
        pixel_map(a, b, false, &Tiles::find(a, b).near_dirty(), 0.0)
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
