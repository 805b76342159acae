//! The pixel change map, computed tile by tile: each segment of neighbouring tiles
//! gets its blurred Lab planes once, then every tile searches the shifts for the
//! best match of each 3×3 patch, stopping where no pixel is left that matters.

use super::{backgrounds, lab_planes, shifts, Lab3, BLUR_SIGMA, PATCH, SHIFT};
use crate::map::{gaussian_kernel, segments, Map, TileRect};
use image::RgbaImage;
use rayon::prelude::*;

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

/// Per-tile working memory, reused across a segment's tiles.
#[derive(Default)]
struct Scratch {
    /// Per background: A's and B's planes padded by `SHIFT + PATCH` around the tile.
    padded: Vec<(Lab3, Lab3)>,
    /// Squared errors over the patch area, and their sums along rows.
    e: Vec<f32>,
    hsum: Vec<f32>,
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
    ///
    /// The 3×3 sums are a sum of three along each row, then of three rows. An
    /// integral image would not help here: imageproc's takes 8-bit images only, and
    /// this sums f32 squared ΔE for a few rows per shift.
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

#[cfg(test)]
mod tests {
    use super::super::reference;
    use super::*;
    use crate::map::Tiles;
    use image::Rgba;

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
