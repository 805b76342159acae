//! Structural similarity (Wang et al. 2004) on luma: Gaussian window σ = 1.5
//! (truncated at 3.5σ, an 11×11 window), K1 = 0.01, K2 = 0.03, data range 255,
//! population covariance. The global score is the mean of the SSIM map with a
//! 5 px border cropped, as scikit-image's `structural_similarity(...,
//! gaussian_weights=True, sigma=1.5, use_sample_covariance=False)` reports it.
//!
//! Where both images are equal over a whole window SSIM is exactly 1, so the map is
//! computed only in tiles near a difference. The change map is `1 - SSIM`, made
//! tolerant of small shifts: where it is high, B is also compared shifted by up to
//! `SHIFT` pixels in each direction and the best match counts.

use crate::color::luma_over_white;
use crate::map::{gaussian_kernel, Map, TileRect, Tiles};
use image::{GrayImage, RgbaImage};
use rayon::prelude::*;

const SIGMA: f32 = 1.5;
const TRUNCATE: f32 = 3.5;
const C1: f32 = (0.01 * 255.0) * (0.01 * 255.0);
const C2: f32 = (0.03 * 255.0) * (0.03 * 255.0);
/// Shift tolerance of the change map, px.
pub const SHIFT: i64 = 1;
/// Below this SSIM a tile is re-checked with B shifted by up to `SHIFT` pixels.
const RECHECK_BELOW: f32 = 0.8;

/// The global score and the change map.
#[derive(Debug, Clone)]
pub struct Ssim {
    /// Mean SSIM, 1 for equal images.
    pub score: f64,
    /// `1 - SSIM` per pixel (shift-tolerant), 0 where nothing changed.
    pub map: Map,
}

/// A grayscale plane SSIM can read: 8-bit luma per pixel.
pub trait Plane: Sync {
    fn dims(&self) -> (u32, u32);
    fn at(&self, x: usize, y: usize) -> u8;
}

impl Plane for GrayImage {
    fn dims(&self) -> (u32, u32) {
        self.dimensions()
    }
    #[inline]
    fn at(&self, x: usize, y: usize) -> u8 {
        self.as_raw()[y * self.width() as usize + x]
    }
}

/// Luma of an RGBA image, read on the fly (Rec. 601 over white, exactly as Pillow's
/// `convert("L")` for opaque pixels), so no grayscale copy is allocated.
pub struct Luma<'a>(pub &'a RgbaImage);

impl Plane for Luma<'_> {
    fn dims(&self) -> (u32, u32) {
        self.0.dimensions()
    }
    #[inline]
    fn at(&self, x: usize, y: usize) -> u8 {
        let i = (y * self.0.width() as usize + x) * 4;
        let p = &self.0.as_raw()[i..i + 4];
        luma_over_white([p[0], p[1], p[2], p[3]])
    }
}

/// SSIM of two same-sized grayscale images, computed everywhere (no tile skipping).
/// This is the reference entry point, checked against scikit-image in the tests.
pub fn ssim_gray(a: &GrayImage, b: &GrayImage) -> f64 {
    compute(a, b, &Tiles::all(a.width(), a.height()), MapKind::None).score
}

/// Which change map to build beside the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// Score only.
    None,
    /// `1 - SSIM`.
    Plain,
    /// `1 - max SSIM` over B shifted by up to `SHIFT` pixels.
    ShiftTolerant,
}

/// SSIM over the tiles near a difference (`tiles` from [`Tiles::find`]).
pub fn compute<P: Plane>(a: &P, b: &P, tiles: &Tiles, kind: MapKind) -> Ssim {
    let (w, h) = a.dims();
    let kernel = gaussian_kernel(SIGMA, TRUNCATE);
    let pad = (kernel.len() / 2) as u32;
    // Crop like scikit-image: (win - 1) / 2 px each side, when the image is big enough.
    let (cx0, cy0, cx1, cy1) = if w > 2 * pad && h > 2 * pad {
        (pad, pad, w - pad, h - pad)
    } else {
        (0, 0, w, h)
    };
    let work = tiles.near_dirty();
    let results: Vec<(TileRect, f64, Option<Vec<f32>>)> = work
        .par_iter()
        .map(|&t| {
            let s = tile_ssim(a, b, t, &kernel, (0, 0));
            let mut deficit = 0f64; // Σ (1 - S) over the cropped area
            for row in 0..t.h {
                let y = t.y + row;
                if y < cy0 || y >= cy1 {
                    continue;
                }
                for col in 0..t.w {
                    let x = t.x + col;
                    if x >= cx0 && x < cx1 {
                        deficit += 1.0 - f64::from(s[(row * t.w + col) as usize]);
                    }
                }
            }
            let map = match kind {
                MapKind::None => None,
                MapKind::Plain => Some(s),
                MapKind::ShiftTolerant => {
                    let mut best = s;
                    if best.iter().any(|v| *v < RECHECK_BELOW) {
                        for dy in -SHIFT..=SHIFT {
                            for dx in -SHIFT..=SHIFT {
                                if (dx, dy) == (0, 0) {
                                    continue;
                                }
                                let shifted = tile_ssim(a, b, t, &kernel, (dx, dy));
                                for (bv, sv) in best.iter_mut().zip(shifted) {
                                    *bv = bv.max(sv);
                                }
                            }
                        }
                    }
                    Some(best)
                }
            };
            (t, deficit, map)
        })
        .collect();

    let cropped = u64::from(cx1 - cx0) * u64::from(cy1 - cy0);
    let mut sum_deficit = 0f64;
    let mut map = Map::zeros(w, h);
    for (t, deficit, values) in results {
        sum_deficit += deficit;
        if let Some(v) = values {
            map.put(t, v.iter().map(|s| (1.0 - s).clamp(0.0, 2.0)).collect());
        }
    }
    Ssim {
        score: 1.0 - sum_deficit / cropped as f64,
        map,
    }
}

/// Mirror index as SciPy's `reflect` mode: (d c b a | a b c d | d c b a).
#[inline]
fn reflect(i: i64, n: i64) -> usize {
    let mut i = i;
    loop {
        if i < 0 {
            i = -i - 1;
        } else if i >= n {
            i = 2 * n - i - 1;
        } else {
            return i as usize;
        }
    }
}

/// SSIM values of one tile, with B read at an offset of `shift` pixels.
fn tile_ssim<P: Plane>(a: &P, b: &P, t: TileRect, k: &[f32], shift: (i64, i64)) -> Vec<f32> {
    let (w, h) = a.dims();
    let (w, h) = (i64::from(w), i64::from(h));
    let r = (k.len() / 2) as i64;
    let pw = t.w as usize + 2 * r as usize;
    let ph = t.h as usize + 2 * r as usize;
    // Patch with a margin of r, mirrored at the image edges.
    let mut pa = vec![0f32; pw * ph];
    let mut pb = vec![0f32; pw * ph];
    for py in 0..ph {
        let ya = reflect(t.y as i64 + py as i64 - r, h);
        let yb = reflect(t.y as i64 + py as i64 - r + shift.1, h);
        for px in 0..pw {
            let xa = reflect(t.x as i64 + px as i64 - r, w);
            let xb = reflect(t.x as i64 + px as i64 - r + shift.0, w);
            pa[py * pw + px] = f32::from(a.at(xa, ya));
            pb[py * pw + px] = f32::from(b.at(xb, yb));
        }
    }
    // Horizontal pass over the five moments, rows of the whole patch.
    let tw = t.w as usize;
    let mut hz = vec![[0f32; 5]; tw * ph];
    for y in 0..ph {
        for x in 0..tw {
            let mut acc = [0f32; 5];
            for (i, kv) in k.iter().enumerate() {
                let va = pa[y * pw + x + i];
                let vb = pb[y * pw + x + i];
                acc[0] += kv * va;
                acc[1] += kv * vb;
                acc[2] += kv * va * va;
                acc[3] += kv * vb * vb;
                acc[4] += kv * va * vb;
            }
            hz[y * tw + x] = acc;
        }
    }
    let mut out = Vec::with_capacity(tw * t.h as usize);
    for y in 0..t.h as usize {
        for x in 0..tw {
            let mut m = [0f32; 5];
            for (i, kv) in k.iter().enumerate() {
                let v = hz[(y + i) * tw + x];
                for c in 0..5 {
                    m[c] += kv * v[c];
                }
            }
            let (ma, mb) = (m[0], m[1]);
            let va = m[2] - ma * ma;
            let vb = m[3] - mb * mb;
            let cov = m[4] - ma * mb;
            let s = ((2.0 * ma * mb + C1) * (2.0 * cov + C2))
                / ((ma * ma + mb * mb + C1) * (va + vb + C2));
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 13) % 256) as u8]))
    }

    #[test]
    fn equal_images_score_exactly_one() {
        let a = ramp(50, 40);
        assert_eq!(ssim_gray(&a, &a), 1.0);
    }

    #[test]
    fn tile_skipping_gives_the_same_score() {
        let a = ramp(100, 90);
        let mut b = a.clone();
        for y in 40..50 {
            for x in 60..75 {
                b.put_pixel(x, y, image::Luma([0]));
            }
        }
        let full = ssim_gray(&a, &b);
        let rgba = |g: &GrayImage| {
            RgbaImage::from_fn(g.width(), g.height(), |x, y| {
                let v = g.get_pixel(x, y)[0];
                image::Rgba([v, v, v, 255])
            })
        };
        let (ra, rb) = (rgba(&a), rgba(&b));
        let tiles = Tiles::find(&ra, &rb);
        let fast = compute(&Luma(&ra), &Luma(&rb), &tiles, MapKind::None).score;
        assert!(full < 0.99);
        assert!((full - fast).abs() < 1e-6, "{full} vs {fast}");
    }

    #[test]
    fn reflect_matches_scipy() {
        assert_eq!(reflect(-1, 5), 0);
        assert_eq!(reflect(-2, 5), 1);
        assert_eq!(reflect(5, 5), 4);
        assert_eq!(reflect(6, 5), 3);
        assert_eq!(reflect(-3, 2), 1);
    }
}
