//! The residual the change model tests: the signed per-channel difference in Lab
//! between A and the registered, tone-corrected B, and the gradient of the edges both
//! images share (where edge jitter, anti-aliasing and JPEG ringing live).

use crate::color::rgba_over_to_lab;
use image::RgbaImage;
use rayon::prelude::*;

/// Planes of one pair, row-major, `width × height` each.
#[derive(Debug, Clone)]
pub struct Residual {
    pub width: u32,
    pub height: u32,
    /// `B − A` per Lab channel (L, a, b); 0 where the pixel is not tested.
    pub d: [Vec<f32>; 3],
    /// Per channel, the local gradient (the largest difference to a 4-neighbour)
    /// that edge jitter scales with. Lightness: the smaller of A's and B's, high
    /// only on an edge both images have (a changed glyph has its edges in one image
    /// only). Chroma: the larger, since chroma is what codecs blur.
    pub g: [Vec<f32>; 3],
    /// 1 where the pixel is tested (inside the overlap, outside ignored areas).
    pub valid: Vec<u8>,
}

impl Residual {
    /// `valid(x, y)` says which pixels are tested. With `alpha`, A and B are also
    /// composited over black, and each pixel keeps the background that shows the
    /// larger difference (white content on a transparent area is seen over black).
    pub fn new(
        a: &RgbaImage,
        b: &RgbaImage,
        alpha: bool,
        valid: impl Fn(u32, u32) -> bool + Sync,
    ) -> Residual {
        let (w, h) = a.dimensions();
        let n = (w as usize) * (h as usize);
        let lab = |img: &RgbaImage, bg: u8| -> Vec<[f32; 3]> {
            img.as_raw()
                .par_chunks_exact(4)
                .map(|p| rgba_over_to_lab([p[0], p[1], p[2], p[3]], bg))
                .collect()
        };
        let (la, lb) = rayon::join(|| lab(a, 255), || lab(b, 255));
        let dark = alpha.then(|| rayon::join(|| lab(a, 0), || lab(b, 0)));
        let mut d = [vec![0f32; n], vec![0f32; n], vec![0f32; n]];
        let mut v = vec![0u8; n];
        let wu = w as usize;
        {
            let [d0, d1, d2] = &mut d;
            d0.par_chunks_mut(wu)
                .zip(d1.par_chunks_mut(wu))
                .zip(d2.par_chunks_mut(wu))
                .zip(v.par_chunks_mut(wu))
                .enumerate()
                .for_each(|(y, (((r0, r1), r2), rv))| {
                    for x in 0..wu {
                        if !valid(x as u32, y as u32) {
                            continue;
                        }
                        let i = y * wu + x;
                        let mut diff = sub(lb[i], la[i]);
                        if let Some((da, db)) = &dark {
                            let other = sub(db[i], da[i]);
                            if norm2(other) > norm2(diff) {
                                diff = other;
                            }
                        }
                        (r0[x], r1[x], r2[x]) = (diff[0], diff[1], diff[2]);
                        rv[x] = 1;
                    }
                });
        }
        let g = std::array::from_fn(|c| shared_gradient(&la, &lb, w, h, c));
        Residual {
            width: w,
            height: h,
            d,
            g,
            valid: v,
        }
    }

    /// ΔE of the residual at pixel `i` (Euclidean in Lab).
    #[inline]
    pub fn delta_e(&self, i: usize) -> f32 {
        norm2([self.d[0][i], self.d[1][i], self.d[2][i]]).sqrt()
    }
}

#[inline]
fn sub(p: [f32; 3], q: [f32; 3]) -> [f32; 3] {
    [p[0] - q[0], p[1] - q[1], p[2] - q[2]]
}

#[inline]
fn norm2(p: [f32; 3]) -> f32 {
    p[0] * p[0] + p[1] * p[1] + p[2] * p[2]
}

/// min(|∇A|, |∇B|) of channel `c`, with |∇| the largest difference to a 4-neighbour
/// (not a central difference: that is 0 at the centre of a 1 px line, whose value
/// changes most when the line moves).
fn shared_gradient(la: &[[f32; 3]], lb: &[[f32; 3]], w: u32, h: u32, c: usize) -> Vec<f32> {
    let (w, h) = (w as usize, h as usize);
    let grad = |p: &[[f32; 3]], x: usize, y: usize| -> f32 {
        let at = |x: usize, y: usize| p[y * w + x][c];
        let v = at(x, y);
        let mut g = 0f32;
        for (nx, ny) in [
            (x.saturating_sub(1), y),
            ((x + 1).min(w - 1), y),
            (x, y.saturating_sub(1)),
            (x, (y + 1).min(h - 1)),
        ] {
            g = g.max((at(nx, ny) - v).abs());
        }
        g
    };
    let mut out = vec![0f32; w * h];
    out.par_chunks_mut(w.max(1))
        .enumerate()
        .for_each(|(y, row)| {
            for (x, o) in row.iter_mut().enumerate() {
                let (ga, gb) = (grad(la, x, y), grad(lb, x, y));
                // Lightness: the edge both images have. Chroma: the sharper image's
                // edge, since codecs and demosaicing blur chroma (4:2:0 subsampling).
                *o = if c == 0 { ga.min(gb) } else { ga.max(gb) };
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    fn grey(w: u32, h: u32, v: u8) -> RgbaImage {
        RgbaImage::from_pixel(w, h, Rgba([v, v, v, 255]))
    }

    #[test]
    fn the_residual_is_signed_b_minus_a() {
        let a = grey(4, 3, 100);
        let mut b = a.clone();
        b.put_pixel(1, 1, Rgba([120, 120, 120, 255]));
        let r = Residual::new(&a, &b, false, |_, _| true);
        let i = 4 + 1;
        assert!(r.d[0][i] > 5.0, "{}", r.d[0][i]);
        assert!(r.d[1][i].abs() < 0.01 && r.d[2][i].abs() < 0.01);
        let back = Residual::new(&b, &a, false, |_, _| true);
        assert!((back.d[0][i] + r.d[0][i]).abs() < 1e-4);
        assert_eq!(r.d[0][0], 0.0);
        assert!((r.delta_e(i) - r.d[0][i]).abs() < 1e-4);
    }

    #[test]
    fn only_a_shared_edge_has_a_shared_gradient() {
        // A: a vertical edge at x = 4. B: the same edge, plus a dot at (1, 1).
        let a = RgbaImage::from_fn(8, 4, |x, _| {
            let v = if x < 4 { 30 } else { 220 };
            Rgba([v, v, v, 255])
        });
        let mut b = a.clone();
        b.put_pixel(1, 1, Rgba([220, 220, 220, 255]));
        let r = Residual::new(&a, &b, false, |_, _| true);
        assert!(r.g[0][8 * 2 + 4] > 20.0, "the shared edge");
        assert_eq!(r.g[0][8 + 1], 0.0, "the dot is in B only");
        assert!(r.g[1][8 + 1] < 0.01, "grey has no chroma edge");
    }

    #[test]
    fn untested_pixels_have_no_residual() {
        let a = grey(4, 4, 10);
        let b = grey(4, 4, 200);
        let r = Residual::new(&a, &b, false, |x, _| x >= 2);
        assert_eq!(r.valid.iter().filter(|v| **v == 1).count(), 8);
        assert_eq!(r.d[0][0], 0.0);
        assert!(r.d[0][2] > 50.0);
    }

    #[test]
    fn with_alpha_white_on_transparent_is_seen() {
        let a = RgbaImage::from_pixel(2, 1, Rgba([0, 0, 0, 0]));
        let mut b = a.clone();
        b.put_pixel(0, 0, Rgba([255, 255, 255, 255]));
        assert_eq!(Residual::new(&a, &b, false, |_, _| true).delta_e(0), 0.0);
        assert!(Residual::new(&a, &b, true, |_, _| true).delta_e(0) > 90.0);
    }
}
