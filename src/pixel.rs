//! The pixel change map: CIE76 colour difference (ΔE) between lightly blurred images,
//! with a symmetric best match within a small window so that a 1-2 px shift or an
//! anti-aliased edge does not count as a change.
//!
//! For each pixel p: `max(min_q ΔE(A(p), B(q)), min_q ΔE(B(p), A(q)))` over q within
//! ±`SHIFT` px. Taking the larger of the two directions keeps erasures (present in A,
//! absent in B) and additions (the reverse) alike.
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
pub const SHIFT: i32 = 2;
/// Below this ΔE a pixel is not searched further: its direct difference is kept.
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

/// Lab planes of a region, over one background, blurred.
fn lab_region(img: &RgbaImage, r: TileRect, bg: u8, kernel: &[f32]) -> Vec<[f32; 3]> {
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
    let m = SHIFT + radius;
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
    let rw = region.w as usize;
    // One or two backgrounds: over white always; over black too when alpha matters.
    let backgrounds: &[u8] = if alpha { &[255, 0] } else { &[255] };
    let planes: Vec<(Vec<[f32; 3]>, Vec<[f32; 3]>)> = backgrounds
        .iter()
        .map(|&bg| (lab_region(a, region, bg, kernel), lab_region(b, region, bg, kernel)))
        .collect();
    let dist = |pa: usize, pb: usize, swap: bool| -> f32 {
        planes
            .iter()
            .map(|(la, lb)| {
                if swap {
                    d2(lb[pa], la[pb])
                } else {
                    d2(la[pa], lb[pb])
                }
            })
            .fold(0.0, f32::max)
    };
    let care2 = CARE * CARE;
    let mut out = Vec::with_capacity((t.w * t.h) as usize);
    for y in t.y..t.y + t.h {
        for x in t.x..t.x + t.w {
            let lx = (x - x0) as i32;
            let ly = (y - y0) as i32;
            let p = ly as usize * rw + lx as usize;
            let direct = dist(p, p, false);
            if direct <= care2 {
                out.push(direct.sqrt());
                continue;
            }
            let mut best = [direct, direct];
            for (dir, best) in best.iter_mut().enumerate() {
                'search: for dy in -SHIFT..=SHIFT {
                    let qy = ly + dy;
                    if qy < 0 || qy >= region.h as i32 {
                        continue;
                    }
                    for dx in -SHIFT..=SHIFT {
                        let qx = lx + dx;
                        if qx < 0 || qx >= region.w as i32 || (dx == 0 && dy == 0) {
                            continue;
                        }
                        let q = qy as usize * rw + qx as usize;
                        let d = dist(p, q, dir == 1);
                        if d < *best {
                            *best = d;
                            if d <= care2 {
                                break 'search;
                            }
                        }
                    }
                }
            }
            out.push(best[0].max(best[1]).sqrt());
        }
    }
    out
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
            if x < 30 { Rgba([0, 0, 0, 255]) } else { Rgba([255, 255, 255, 255]) }
        });
        let b = RgbaImage::from_fn(64, 64, |x, _| {
            if x < 31 { Rgba([0, 0, 0, 255]) } else { Rgba([255, 255, 255, 255]) }
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
