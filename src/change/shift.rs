//! Content moved by a pixel or so, or softened by resampling: a word re-laid-out one
//! pixel to the right, a row pushed down by a rounding of line heights, a 1 px
//! highlight that lost its peak when the picture was cropped, scaled and registered
//! back. Its residual is strong and coherent, and the window test rightly finds it; but
//! nothing in it changed except its place or its sharpness. A found region is
//! explained by a move when one displacement `u` (at most [`Model::max_shift`] px per
//! axis, up to [`Model::max_wander_shift`] where the pair's measured edge jitter says
//! its edges wander that far) makes every pixel of it, but for fewer than the minimum
//! area and none strongly, agree with A either where it was or moved by `u`; and by a
//! blur when a 3×3 binomial blur of one image does the same. The same content moved
//! farther is a change (an element moved 2 px is boxed on a clean pair); so is a
//! changed glyph, which no single displacement of its word explains, and a pasted
//! object, which no blur of the other image is.

use super::residual::{self, Residual};
use super::{Model, Noise};
use crate::color::rgba_over_to_lab;
use image::RgbaImage;

/// The share of the region's summed difference a move may leave.
const EXPLAINED: f64 = 0.5;

/// What a region is checked against: the effect floor, the minimum area.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    pub floor: f32,
    pub min_area: u32,
}

/// How B's content is A's, unchanged, in a region ([`explanation`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Explanation {
    /// Moved by `(dx, dy)`.
    Move(i32, i32),
    /// Softened (or sharpened) by resampling: one image matches the other blurred by
    /// a 3×3 binomial kernel, at the given strength (0..1, 1 = the whole kernel).
    /// A picture resampled twice (cropped, scaled up, registered back) loses the
    /// peak of a 1 px highlight; a pasted object, an erased wire or a thickened
    /// border match no blur of the other image.
    Blur { of_a: bool, strength: f32 },
}

/// The strengths of the blurs tried.
const BLURS: [f32; 2] = [0.5, 1.0];

/// What explains the region `x0..=x1, y0..=y1` as A's content unchanged, if
/// anything does: a move of at most [`Model::max_shift`] px per axis (farther where
/// the edges wander), or a blur of one image. The explanation must leave fewer
/// than the minimum area of pixels, none strong, that still differ from A beyond
/// the noise and edge jitter, and at most half the region's summed difference.
#[allow(clippy::too_many_arguments)]
pub fn explanation(
    a: &RgbaImage,
    b: &RgbaImage,
    r: &Residual,
    noise: &Noise,
    model: &Model,
    check: Check,
    (x0, y0, x1, y1): (u32, u32, u32, u32),
) -> Option<Explanation> {
    // A pair whose edges wander (measured: the edge jitter) moves content farther.
    let wander = noise.jitter.iter().fold(0f32, |m, &j| m.max(j));
    let s = model
        .max_shift
        .max(((2.0 * wander).ceil() as i32).min(model.max_wander_shift));
    let (w, h) = a.dimensions();
    let m = s.max(1) as u32;
    let (bx0, by0) = (x0.saturating_sub(m), y0.saturating_sub(m));
    let (bx1, by1) = ((x1 + m).min(w - 1), (y1 + m).min(h - 1));
    let lab = |img: &RgbaImage, x: u32, y: u32| rgba_over_to_lab(img.get_pixel(x, y).0, 255);
    // A 3×3 binomial blur of `img` at `(x, y)`, mixed with the pixel at `t`.
    let blurred = |img: &RgbaImage, x: u32, y: u32, t: f32| -> [f32; 3] {
        let mut sum = [0f32; 3];
        let mut weight = 0f32;
        for yy in y.saturating_sub(1)..(y + 2).min(h) {
            for xx in x.saturating_sub(1)..(x + 2).min(w) {
                let k = (2 - x.abs_diff(xx)) as f32 * (2 - y.abs_diff(yy)) as f32;
                let p = lab(img, xx, yy);
                (0..3).for_each(|c| sum[c] += k * p[c]);
                weight += k;
            }
        }
        let p = lab(img, x, y);
        std::array::from_fn(|c| (1.0 - t) * p[c] + t * sum[c] / weight)
    };
    let mark = model.mark_fraction * check.floor;
    let strong = model.strong * check.floor;
    let z2 = model.mark_z * model.mark_z;
    // The pixels `alternative` leaves unexplained, when it explains the region.
    let unexplained_by = |alternative: &dyn Fn(u32, u32) -> Option<[f32; 3]>| -> Option<u32> {
        let mut unexplained = 0u32;
        // The alternative must explain most of the difference, not only pixels here
        // and there (a faint tint over texture: any shift of the texture makes some
        // of its pixels closer by chance).
        let (mut before, mut after) = (0f64, 0f64);
        for y in by0..=by1 {
            for x in bx0..=bx1 {
                let i = y as usize * w as usize + x as usize;
                if r.valid[i] == 0 {
                    continue;
                }
                let here = [r.d[0][i], r.d[1][i], r.d[2][i]];
                let diff = match alternative(x, y) {
                    Some(alt) if residual::norm2(alt) < residual::norm2(here) => alt,
                    _ => here,
                };
                before += f64::from(residual::norm2(here).sqrt());
                after += f64::from(residual::norm2(diff).sqrt());
                let excess2: f32 = (0..3)
                    .map(|c| {
                        (diff[c].abs() - noise.jitter_bound(c, r.g[c][i]))
                            .max(0.0)
                            .powi(2)
                    })
                    .sum();
                let noise2: f32 = (0..3).map(|c| noise.variance(c, r.activity[c][i])).sum();
                if excess2 >= mark * mark && excess2 >= z2 * noise2 {
                    unexplained += 1;
                    if excess2 >= strong * strong || unexplained >= check.min_area {
                        return None;
                    }
                }
            }
        }
        (after <= EXPLAINED * before).then_some(unexplained)
    };
    let mut best: Option<(Explanation, u32)> = None;
    let mut consider = |e: Explanation, n: Option<u32>| {
        if let Some(n) = n {
            if best.is_none_or(|(_, m)| n < m) {
                best = Some((e, n));
            }
        }
    };
    for dy in -s..=s {
        for dx in -s..=s {
            if (dx, dy) == (0, 0) {
                continue;
            }
            let moved = |x: u32, y: u32| {
                let (sx, sy) = (x as i32 - dx, y as i32 - dy);
                (sx >= 0 && sy >= 0 && (sx as u32) < w && (sy as u32) < h)
                    .then(|| residual::weighed(lab(a, sx as u32, sy as u32), lab(b, x, y)))
            };
            consider(Explanation::Move(dx, dy), unexplained_by(&moved));
        }
    }
    for strength in BLURS {
        for of_a in [true, false] {
            let soft = |x: u32, y: u32| {
                Some(if of_a {
                    residual::weighed(blurred(a, x, y, strength), lab(b, x, y))
                } else {
                    residual::weighed(lab(a, x, y), blurred(b, x, y, strength))
                })
            };
            consider(Explanation::Blur { of_a, strength }, unexplained_by(&soft));
        }
    }
    best.map(|(e, _)| e)
}

/// On a pair whose edges wander (measured edge jitter of at least
/// [`Model::min_wander`] px), the difference at `(x, y)` once a local move `u` of at
/// most `reach` px per axis is allowed: for the best `u`, the larger of B's pixel
/// against A's at `(x, y) + u` and A's pixel against B's at `(x, y) − u` (the same
/// move both ways). A scanned board's edges, rasterized a pixel off here and there in
/// both directions along one edge, match so; a trace cut or added, or an object
/// pasted over texture, leaves pixels that no one local move explains.
pub fn wander_difference(planes: &LabPlanes, x: u32, y: u32, reach: i32) -> [f32; 3] {
    let (w, h) = (planes.width as i32, planes.height as i32);
    let at = |p: &[[f32; 3]], x: i32, y: i32| -> Option<[f32; 3]> {
        (x >= 0 && y >= 0 && x < w && y < h).then(|| p[(y * w + x) as usize])
    };
    let (x, y) = (x as i32, y as i32);
    let pa = at(&planes.a, x, y).expect("inside");
    let pb = at(&planes.b, x, y).expect("inside");
    let mut best = residual::weighed(pa, pb);
    for dy in -reach..=reach {
        for dx in -reach..=reach {
            let (Some(qa), Some(qb)) =
                (at(&planes.a, x + dx, y + dy), at(&planes.b, x - dx, y - dy))
            else {
                continue;
            };
            let (f, k) = (residual::weighed(qa, pb), residual::weighed(pa, qb));
            let d = if residual::norm2(f) >= residual::norm2(k) {
                f
            } else {
                k
            };
            if residual::norm2(d) < residual::norm2(best) {
                best = d;
            }
        }
    }
    best
}

/// Both images in Lab (over white), row-major: what [`wander_difference`] reads.
pub struct LabPlanes {
    pub width: u32,
    pub height: u32,
    pub a: Vec<[f32; 3]>,
    pub b: Vec<[f32; 3]>,
}

impl LabPlanes {
    pub fn new(a: &RgbaImage, b: &RgbaImage) -> LabPlanes {
        use rayon::prelude::*;
        let lab = |img: &RgbaImage| -> Vec<[f32; 3]> {
            img.as_raw()
                .par_chunks_exact(4)
                .map(|p| rgba_over_to_lab([p[0], p[1], p[2], p[3]], 255))
                .collect()
        };
        let (la, lb) = rayon::join(|| lab(a), || lab(b));
        LabPlanes {
            width: a.width(),
            height: a.height(),
            a: la,
            b: lb,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    /// A two-level picture: white at and below row `edge(x)`, black above.
    fn board(w: u32, h: u32, edge: impl Fn(u32) -> u32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let v = if y >= edge(x) { 255 } else { 0 };
            Rgba([v, v, v, 255])
        })
    }

    #[test]
    fn an_edge_wandering_both_ways_is_explained_and_a_new_dot_is_not() {
        // B's edge lies a pixel higher on the left half and a pixel lower on the right:
        // no single displacement explains both halves, one local move per pixel does.
        let a = board(16, 12, |_| 6);
        let mut b = board(16, 12, |x| if x < 8 { 5 } else { 7 });
        b.put_pixel(12, 1, Rgba([255, 255, 255, 255]));
        let planes = LabPlanes::new(&a, &b);
        let norm = |d: [f32; 3]| residual::norm2(d).sqrt();
        for (x, y) in [(3, 5), (11, 6)] {
            let own = residual::weighed(
                rgba_over_to_lab(a.get_pixel(x, y).0, 255),
                rgba_over_to_lab(b.get_pixel(x, y).0, 255),
            );
            assert!(norm(own) > 50.0, "({x}, {y}) changed");
            assert!(
                norm(wander_difference(&planes, x, y, 1)) < 1.0,
                "({x}, {y})"
            );
        }
        // A white dot in black, with nothing white within reach: it matches nothing.
        assert!(norm(wander_difference(&planes, 12, 1, 1)) > 50.0);
    }
}
