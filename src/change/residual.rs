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
    /// `B − A` as CIE94 components (lightness, weighted chroma, weighted hue: the
    /// norm is ΔE94); 0 where the pixel is not tested.
    pub d: [Vec<f32>; 3],
    /// Per channel, the local gradient (the largest difference to a 4-neighbour)
    /// that edge jitter scales with. Lightness: the smaller of A's and B's, high
    /// only on an edge both images have (a changed glyph has its edges in one image
    /// only). Chroma: the larger, since chroma is what codecs blur.
    pub g: [Vec<f32>; 3],
    /// 1 where the pixel is tested (inside the overlap, outside ignored areas).
    pub valid: Vec<u8>,
    /// 1 where a tested pixel is black or white in both images and unchanged:
    /// clipping hid its noise, so the noise is not measured there.
    pub hidden: Vec<u8>,
    /// Per channel, the local activity: the mean of `g` over the 5×5 pixels around
    /// (compression error spreads over a textured block, not only its edges); for
    /// chroma, the larger of that and the 17×17 mean ([`CHROMA_ACTIVITY_RADIUS`]).
    pub activity: [Vec<f32>; 3],
}

/// Where a tone correction saw B clipped: per RGB channel, the corrected values
/// that B's 0 and 255 became. A corrected value there is only a bound (B's true value
/// was at most, or at least, that), so a pixel whose difference from A points past
/// the bound is not tested.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clipping {
    pub low: [u8; 3],
    pub high: [u8; 3],
}

impl Clipping {
    /// True when pixel `b` of the corrected B sits at a clipped value and A's pixel
    /// lies beyond it.
    #[inline]
    fn hides(&self, a: [u8; 4], b: [u8; 4]) -> bool {
        (0..3).any(|c| {
            (b[c] == self.high[c] && self.high[c] < 255 && a[c] > b[c])
                || (b[c] == self.low[c] && self.low[c] > 0 && a[c] < b[c])
        })
    }
}

/// Half the side of the neighbourhood over which [`Residual::activity`] is averaged.
pub const ACTIVITY_RADIUS: usize = 2;

/// For chroma, the activity is also averaged over a wider neighbourhood (17×17) and
/// the larger kept. Lossy codecs (JPEG and WebP with 4:2:0 chroma) code chroma at
/// half resolution in 8×8 blocks, 16×16 image pixels, and ring across the whole
/// block: a flat pixel up to half a block (8 px) from a saturated edge carries that
/// edge's chroma error (a JPEG q85 screenshot: purple fringes under a blue icon on
/// navy, ΔE 5, were boxed). The radius is that geometry's, not a fit; the UI set
/// (`-m pixel --model none`) was measured around it: radius 2 only, 17 boxes on 12
/// of 72 change-free pairs, F1 0.811; 4: 11 on 8, 0.819; 6: 10 on 8, 0.825; 8: 11 on
/// 8, 0.825; 12: 17 on 12, 0.816 (and a faint tint lost). Faint, generated and real
/// pairs unchanged at 4-8; spot-the-difference F1 0.806 → 0.818.
pub const CHROMA_ACTIVITY_RADIUS: usize = 8;

impl Residual {
    /// `valid(x, y)` says which pixels are tested. With `alpha`, A and B are also
    /// composited over black, and each pixel keeps the background that shows the
    /// larger difference (white content on a transparent area is seen over black).
    pub fn new(
        a: &RgbaImage,
        b: &RgbaImage,
        alpha: bool,
        clipped: Option<Clipping>,
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
        let la = lab(a, 255);
        // B's pixels equal to A's (most of them, on most pairs) are not converted
        // again.
        let lb: Vec<[f32; 3]> = b
            .as_raw()
            .par_chunks_exact(4)
            .zip(a.as_raw().par_chunks_exact(4))
            .zip(la.par_iter())
            .map(|((p, q), l)| {
                if p == q {
                    *l
                } else {
                    rgba_over_to_lab([p[0], p[1], p[2], p[3]], 255)
                }
            })
            .collect();
        let dark = alpha.then(|| rayon::join(|| lab(a, 0), || lab(b, 0)));
        let mut d = [vec![0f32; n], vec![0f32; n], vec![0f32; n]];
        let mut v = vec![0u8; n];
        let mut hidden = vec![0u8; n];
        let wu = w as usize;
        {
            let [d0, d1, d2] = &mut d;
            d0.par_chunks_mut(wu)
                .zip(d1.par_chunks_mut(wu))
                .zip(d2.par_chunks_mut(wu))
                .zip(v.par_chunks_mut(wu))
                .zip(hidden.par_chunks_mut(wu))
                .enumerate()
                .for_each(|(y, ((((r0, r1), r2), rv), rh))| {
                    for x in 0..wu {
                        if !valid(x as u32, y as u32) {
                            continue;
                        }
                        let i = y * wu + x;
                        if let Some(clip) = &clipped {
                            let (pa, pb) = (a.as_raw(), b.as_raw());
                            let px =
                                |p: &[u8]| [p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]];
                            if clip.hides(px(pa), px(pb)) {
                                continue;
                            }
                        }
                        let mut diff = weighed(la[i], lb[i]);
                        if let Some((da, db)) = &dark {
                            let other = weighed(da[i], db[i]);
                            if norm2(other) > norm2(diff) {
                                diff = other;
                            }
                        }
                        (r0[x], r1[x], r2[x]) = (diff[0], diff[1], diff[2]);
                        // A pixel at black or white in both images, unchanged, is
                        // tested but says nothing of the noise: clipping hid it.
                        let p = |img: &RgbaImage| {
                            let raw = img.as_raw();
                            [raw[4 * i], raw[4 * i + 1], raw[4 * i + 2]]
                        };
                        let (pa, pb) = (p(a), p(b));
                        let clipped = pa == pb && pa.iter().all(|&v| v == 0 || v == 255);
                        rv[x] = 1;
                        rh[x] = u8::from(clipped);
                    }
                });
        }
        let g = shared_gradients(&la, &lb, w, h);
        let mut activity = local_means(&g, w, h, ACTIVITY_RADIUS);
        activity[1..]
            .par_iter_mut()
            .zip(&g[1..])
            .for_each(|(a, g)| {
                let wide = local_mean(g, w, h, CHROMA_ACTIVITY_RADIUS);
                a.iter_mut().zip(&wide).for_each(|(a, v)| *a = a.max(*v));
            });
        Residual {
            width: w,
            height: h,
            d,
            g,
            valid: v,
            hidden,
            activity,
        }
    }

    /// ΔE94 of the residual at pixel `i`.
    #[inline]
    pub fn delta_e(&self, i: usize) -> f32 {
        norm2([self.d[0][i], self.d[1][i], self.d[2][i]]).sqrt()
    }
}

/// True when a move of one pixel explains B's pixel `(x, y)`: it is at most half as
/// far (ΔE94, over white) from one of A's 8 neighbours as from A's own pixel (a
/// shifted edge; a recoloured stripe matches no neighbour).
pub fn moved(a: &RgbaImage, b: &RgbaImage, x: u32, y: u32) -> bool {
    let (w, h) = a.dimensions();
    let lab = |img: &RgbaImage, x: u32, y: u32| rgba_over_to_lab(img.get_pixel(x, y).0, 255);
    let pb = lab(b, x, y);
    let own = norm2(weighed(lab(a, x, y), pb));
    own > 0.0
        && (y.saturating_sub(1)..(y + 2).min(h))
            .flat_map(|yy| (x.saturating_sub(1)..(x + 2).min(w)).map(move |xx| (xx, yy)))
            .filter(|&p| p != (x, y))
            .any(|(xx, yy)| 4.0 * norm2(weighed(lab(a, xx, yy), pb)) <= own)
}

/// The CIE94 weights of chroma and hue at chroma `c` (graphic arts: K1 0.045,
/// K2 0.015): equal Lab distances look smaller in saturated colours.
#[inline]
fn weights(c: f32) -> (f32, f32) {
    (1.0 + 0.045 * c, 1.0 + 0.015 * c)
}

/// `B − A` as CIE94 components: lightness, chroma and hue differences, the last two
/// divided by their weights at the pair's mean chroma (so that the Euclidean norm is
/// ΔE94). Chroma and hue are taken along and across the mean colour's direction;
/// for a grey pixel, along a and b.
#[inline]
pub(crate) fn weighed(pa: [f32; 3], pb: [f32; 3]) -> [f32; 3] {
    let (da, db) = (pb[1] - pa[1], pb[2] - pa[2]);
    let (ma, mb) = (0.5 * (pa[1] + pb[1]), 0.5 * (pa[2] + pb[2]));
    let c = hypot(ma, mb);
    if c < 1e-3 {
        return [pb[0] - pa[0], da, db];
    }
    let (ux, uy) = (ma / c, mb / c);
    let (sc, sh) = weights(c);
    [
        pb[0] - pa[0],
        (da * ux + db * uy) / sc,
        (db * ux - da * uy) / sh,
    ]
}

/// `√(x² + y²)` for Lab values (far from overflow: no need for libm's careful,
/// slow `hypot`).
#[inline]
fn hypot(x: f32, y: f32) -> f32 {
    (x * x + y * y).sqrt()
}

#[inline]
pub(crate) fn norm2(p: [f32; 3]) -> f32 {
    p[0] * p[0] + p[1] * p[1] + p[2] * p[2]
}

/// The local gradient per channel: the largest difference to a 4-neighbour (not a
/// central difference: that is 0 at the centre of a 1 px line, whose value changes
/// most when the line moves). Lightness: min over A and B (an edge both have);
/// chroma and hue: the max (codecs blur chroma), of the (a, b) difference, divided by
/// the CIE94 weights at the pixel's chroma.
fn shared_gradients(la: &[[f32; 3]], lb: &[[f32; 3]], w: u32, h: u32) -> [Vec<f32>; 3] {
    let (w, h) = (w as usize, h as usize);
    let grad = |p: &[[f32; 3]], x: usize, y: usize| -> (f32, f32) {
        let v = p[y * w + x];
        let (mut gl, mut gc) = (0f32, 0f32);
        for (nx, ny) in [
            (x.saturating_sub(1), y),
            ((x + 1).min(w - 1), y),
            (x, y.saturating_sub(1)),
            (x, (y + 1).min(h - 1)),
        ] {
            let q = p[ny * w + nx];
            gl = gl.max((q[0] - v[0]).abs());
            gc = gc.max(hypot(q[1] - v[1], q[2] - v[2]));
        }
        (gl, gc)
    };
    let mut out = [vec![0f32; w * h], vec![0f32; w * h], vec![0f32; w * h]];
    let [o0, o1, o2] = &mut out;
    o0.par_chunks_mut(w.max(1))
        .zip(o1.par_chunks_mut(w.max(1)))
        .zip(o2.par_chunks_mut(w.max(1)))
        .enumerate()
        .for_each(|(y, ((r0, r1), r2))| {
            for x in 0..w {
                let (ga, gb);
                // Where B equals A around the pixel, so do its gradients.
                let same = |i: usize| la[i] == lb[i];
                let i = y * w + x;
                if same(i)
                    && same(y * w + x.saturating_sub(1))
                    && same(y * w + (x + 1).min(w - 1))
                    && same(y.saturating_sub(1) * w + x)
                    && same((y + 1).min(h - 1) * w + x)
                {
                    ga = grad(la, x, y);
                    gb = ga;
                } else {
                    (ga, gb) = (grad(la, x, y), grad(lb, x, y));
                }
                let ((la_l, la_c), (lb_l, lb_c)) = (ga, gb);
                let (pa, pb) = (la[i], lb[i]);
                let c = hypot(0.5 * (pa[1] + pb[1]), 0.5 * (pa[2] + pb[2]));
                let (sc, sh) = weights(c);
                let gc = la_c.max(lb_c);
                (r0[x], r1[x], r2[x]) = (la_l.min(lb_l), gc / sc, gc / sh);
            }
        });
    out
}

/// Per channel, the mean of `planes` over the `(2r+1)²` pixels around each pixel
/// (the image's edge clamps the window; means over the pixels inside).
pub fn local_means(planes: &[Vec<f32>; 3], w: u32, h: u32, r: usize) -> [Vec<f32>; 3] {
    let mut means: Vec<Vec<f32>> = planes.par_iter().map(|p| local_mean(p, w, h, r)).collect();
    std::array::from_fn(|c| std::mem::take(&mut means[c]))
}

/// [`local_means`] of one plane.
pub fn local_mean(d: &[f32], w: u32, h: u32, r: usize) -> Vec<f32> {
    let (w, h) = (w as usize, h as usize);
    let mut rows = vec![0f32; w * h];
    rows.par_chunks_mut(w.max(1))
        .zip(d.par_chunks(w.max(1)))
        .for_each(|(out, row)| {
            let mut acc: f32 = row[..r.min(w)].iter().sum();
            for x in 0..w {
                if x + r < w {
                    acc += row[x + r];
                }
                if x > r {
                    acc -= row[x - r - 1];
                }
                let n = (x + r).min(w - 1) + 1 - x.saturating_sub(r);
                out[x] = acc / n as f32;
            }
        });
    // Down the columns, a row at a time (the running sums of every column side
    // by side).
    let mut out = vec![0f32; w * h];
    let mut acc = vec![0f32; w];
    for y in 0..r.min(h) {
        acc.iter_mut()
            .zip(&rows[y * w..(y + 1) * w])
            .for_each(|(a, v)| *a += v);
    }
    for y in 0..h {
        if y + r < h {
            let add = &rows[(y + r) * w..(y + r + 1) * w];
            acc.iter_mut().zip(add).for_each(|(a, v)| *a += v);
        }
        if y > r {
            let sub = &rows[(y - r - 1) * w..(y - r) * w];
            acc.iter_mut().zip(sub).for_each(|(a, v)| *a -= v);
        }
        let n = ((y + r).min(h - 1) + 1 - y.saturating_sub(r)) as f32;
        out[y * w..(y + 1) * w]
            .iter_mut()
            .zip(&acc)
            .for_each(|(o, a)| *o = a / n);
    }
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
    fn a_moved_edge_is_explained_by_a_move_and_a_recoloured_bar_is_not() {
        // A: a dark bar at x 3..5 on white. B1: the bar one pixel to the right.
        // B2: the bar recoloured red where it was.
        let bar = |x0: u32, ink: [u8; 4]| {
            RgbaImage::from_fn(10, 4, |x, _| {
                Rgba(if (x0..x0 + 3).contains(&x) {
                    ink
                } else {
                    [255; 4]
                })
            })
        };
        let a = bar(3, [20, 20, 20, 255]);
        let row = |b: &RgbaImage| (0..10).map(|x| moved(&a, b, x, 1)).collect::<Vec<_>>();
        let (f, t) = (false, true);
        assert_eq!(
            row(&bar(4, [20, 20, 20, 255])),
            vec![f, f, f, t, f, f, t, f, f, f]
        );
        assert_eq!(row(&bar(3, [200, 0, 0, 255])), vec![f; 10]);
    }

    #[test]
    fn the_residual_is_signed_b_minus_a() {
        let a = grey(4, 3, 100);
        let mut b = a.clone();
        b.put_pixel(1, 1, Rgba([120, 120, 120, 255]));
        let r = Residual::new(&a, &b, false, None, |_, _| true);
        let i = 4 + 1;
        assert!(r.d[0][i] > 5.0, "{}", r.d[0][i]);
        assert!(r.d[1][i].abs() < 0.01 && r.d[2][i].abs() < 0.01);
        let back = Residual::new(&b, &a, false, None, |_, _| true);
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
        let r = Residual::new(&a, &b, false, None, |_, _| true);
        assert!(r.g[0][8 * 2 + 4] > 20.0, "the shared edge");
        assert_eq!(r.g[0][8 + 1], 0.0, "the dot is in B only");
        assert!(r.g[1][8 + 1] < 0.01, "grey has no chroma edge");
    }

    #[test]
    fn chroma_differences_are_weighed_as_cie94() {
        // Grey: nothing to weigh. Saturated: the same Lab step counts for less.
        assert_eq!(weighed([50.0, 0.0, 0.0], [52.0, 0.0, 0.0]), [2.0, 0.0, 0.0]);
        let d = weighed([50.0, 60.0, 0.0], [50.0, 63.0, 0.0]);
        let c = 61.5f32;
        assert!((d[1] - 3.0 / (1.0 + 0.045 * c)).abs() < 1e-4, "{d:?}");
        assert!(d[2].abs() < 1e-4, "a chroma step has no hue part");
        let h = weighed([50.0, 60.0, 0.0], [50.0, 60.0, 3.0]);
        assert!(
            h[2] > h[1].abs() && h[2] < 3.0,
            "hue weighs more than chroma: {h:?}"
        );
    }

    #[test]
    fn a_clipped_pixel_is_only_a_bound() {
        // B was brightened and corrected back: its 255 became 236.
        let clip = Clipping {
            low: [0; 3],
            high: [236; 3],
        };
        let a = RgbaImage::from_fn(3, 1, |x, _| {
            let v = [250, 200, 230][x as usize];
            Rgba([v, v, v, 255])
        });
        let b = RgbaImage::from_fn(3, 1, |x, _| {
            let v = [236, 236, 236][x as usize];
            Rgba([v, v, v, 255])
        });
        let r = Residual::new(&a, &b, false, Some(clip), |_, _| true);
        assert_eq!(r.valid, vec![0, 1, 1], "A past the bound is not tested");
    }

    #[test]
    fn untested_pixels_have_no_residual() {
        let a = grey(4, 4, 10);
        let b = grey(4, 4, 200);
        let r = Residual::new(&a, &b, false, None, |x, _| x >= 2);
        assert_eq!(r.valid.iter().filter(|v| **v == 1).count(), 8);
        assert_eq!(r.d[0][0], 0.0);
        assert!(r.d[0][2] > 50.0);
    }

    #[test]
    fn with_alpha_white_on_transparent_is_seen() {
        let a = RgbaImage::from_pixel(2, 1, Rgba([0, 0, 0, 0]));
        let mut b = a.clone();
        b.put_pixel(0, 0, Rgba([255, 255, 255, 255]));
        assert_eq!(
            Residual::new(&a, &b, false, None, |_, _| true).delta_e(0),
            0.0
        );
        assert!(Residual::new(&a, &b, true, None, |_, _| true).delta_e(0) > 90.0);
    }
}
