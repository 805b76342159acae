//! The straightforward implementation the map was first written as: every
//! shift searched for every pixel. The fast map must agree with it.
//! Compiled for tests only.

use super::{backgrounds, d2, BLUR_SIGMA, PATCH, SHIFT};
use crate::color::rgba_over_to_lab;
use crate::map::{gaussian_kernel, Map, TileRect, Tiles};
use image::RgbaImage;
use rayon::prelude::*;

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
