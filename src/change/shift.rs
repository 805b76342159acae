//! Content moved by a pixel or so: a word re-laid-out one pixel to the right, a row
//! pushed down by a rounding of line heights. Its residual is strong and coherent, and
//! the window test rightly finds it; but nothing in it changed except its place. A
//! found region is explained by a move when one displacement `u` (at most
//! [`Model::max_shift`] px per axis) makes every pixel of it, but for fewer than the
//! minimum area and none strongly, agree with A either where it was or moved by `u`.
//! The same content moved farther is a change (an element moved 2 px is boxed); so is
//! a changed glyph, which no single displacement of its word explains.

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

/// The displacement `(dx, dy)` (B's content is A's moved by it) that explains the
/// region `x0..=x1, y0..=y1`, if one does.
#[allow(clippy::too_many_arguments)]
pub fn explaining_move(
    a: &RgbaImage,
    b: &RgbaImage,
    r: &Residual,
    noise: &Noise,
    model: &Model,
    check: Check,
    (x0, y0, x1, y1): (u32, u32, u32, u32),
) -> Option<(i32, i32)> {
    // A pair whose edges wander (measured: the edge jitter) moves content farther.
    let wander = noise.jitter.iter().fold(0f32, |m, &j| m.max(j));
    let s = model
        .max_shift
        .max(((2.0 * wander).ceil() as i32).min(model.max_wander_shift));
    if s == 0 {
        return None;
    }
    let (w, h) = a.dimensions();
    let m = s as u32;
    let (bx0, by0) = (x0.saturating_sub(m), y0.saturating_sub(m));
    let (bx1, by1) = ((x1 + m).min(w - 1), (y1 + m).min(h - 1));
    let lab = |img: &RgbaImage, x: u32, y: u32| rgba_over_to_lab(img.get_pixel(x, y).0, 255);
    let mark = model.mark_fraction * check.floor;
    let strong = model.strong * check.floor;
    let z2 = model.mark_z * model.mark_z;
    let mut best: Option<((i32, i32), u32)> = None;
    for dy in -s..=s {
        for dx in -s..=s {
            if (dx, dy) == (0, 0) {
                continue;
            }
            let mut unexplained = 0u32;
            let mut explained = true;
            // The move must explain most of the difference, not only pixels here
            // and there (a faint tint over texture: any shift of the texture makes
            // some of its pixels closer by chance).
            let (mut before, mut after) = (0f64, 0f64);
            'pixels: for y in by0..=by1 {
                for x in bx0..=bx1 {
                    let i = y as usize * w as usize + x as usize;
                    if r.valid[i] == 0 {
                        continue;
                    }
                    let here = [r.d[0][i], r.d[1][i], r.d[2][i]];
                    let (sx, sy) = (x as i32 - dx, y as i32 - dy);
                    let diff = if sx >= 0 && sy >= 0 && (sx as u32) < w && (sy as u32) < h {
                        let moved = residual::weighed(lab(a, sx as u32, sy as u32), lab(b, x, y));
                        if residual::norm2(moved) < residual::norm2(here) {
                            moved
                        } else {
                            here
                        }
                    } else {
                        here
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
                            explained = false;
                            break 'pixels;
                        }
                    }
                }
            }
            if explained && after <= EXPLAINED * before && best.is_none_or(|(_, n)| unexplained < n)
            {
                best = Some(((dx, dy), unexplained));
            }
        }
    }
    best.map(|(u, _)| u)
}
