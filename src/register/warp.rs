//! Resampling B onto A's frame, the overlap mask, and padding strips (constant or
//! edge-replicated lines along an image's border, as a shifted-and-padded image has).

use super::{apply, Edges, Mat3, TUNING};
use image::{GrayImage, RgbaImage};
use rayon::prelude::*;
use std::borrow::Cow;

/// A rectangle as (x0, y0, x1, y1), exclusive ends.
pub(crate) type Span = (u32, u32, u32, u32);

/// The strips along each edge of `img` that look like padding: lines (rows or
/// columns) of one flat colour, the same for every line, or lines that each repeat the
/// next line inwards. At most
/// `TUNING.max_padding` of the side's length.
pub(crate) fn padding(img: &RgbaImage) -> Edges {
    let (w, h) = img.dimensions();
    let tol = TUNING.padding_tolerance;
    let close = |p: &[u8; 4], q: &[u8; 4]| (0..4).all(|c| p[c].abs_diff(q[c]) <= tol);
    // `line(i, k)`: the k-th pixel of the i-th line from the edge, for each side.
    let scan = |len: u32, depth: u32, px: &dyn Fn(u32, u32) -> [u8; 4]| -> u32 {
        if len < 4 || depth < 4 {
            return 0;
        }
        let max = (depth as f64 * TUNING.max_padding) as u32;
        let allowed = ((len as f64) * (1.0 - TUNING.padding_share)).floor() as u32;
        // One flat colour from the edge inwards (lines each flat but of different
        // colours are content: stripes).
        let fill = px(0, len / 2);
        let flat = |i: u32| {
            let r = fill;
            let mut bad = 0;
            for k in 0..len {
                if !close(&px(i, k), &r) {
                    bad += 1;
                    if bad > allowed {
                        return false;
                    }
                }
            }
            true
        };
        let repeats = |i: u32| {
            let mut bad = 0;
            for k in 0..len {
                if !close(&px(i, k), &px(i + 1, k)) {
                    bad += 1;
                    if bad > allowed {
                        return false;
                    }
                }
            }
            true
        };
        // Either kind from the edge inwards, not a mix (stripes alternate them).
        let lead = |line: &dyn Fn(u32) -> bool| (0..max).take_while(|&i| line(i)).count() as u32;
        lead(&flat).max(lead(&repeats))
    };
    let get = |x: u32, y: u32| img.get_pixel(x, y).0;
    Edges {
        left: scan(h, w, &|i, k| get(i, k)),
        right: scan(h, w, &|i, k| get(w - 1 - i, k)),
        top: scan(w, h, &|i, k| get(k, i)),
        bottom: scan(w, h, &|i, k| get(k, h - 1 - i)),
    }
}

/// What [`warp`] produced.
pub(crate) struct Warped<'a> {
    pub image: Cow<'a, RgbaImage>,
    /// 255 where B covers A (after erosion), 0 elsewhere; `None` when B covers all.
    pub mask: Option<GrayImage>,
    /// Share of A's pixels that B does not cover (before erosion).
    pub uncovered: f64,
}

/// Resamples B onto A's frame through `m` (A → B): exact copies for an integer
/// translation, bilinear otherwise. A pixel is covered when it lies inside `valid_a`
/// and its image in B inside `valid_b` (within half a pixel); uncovered pixels take
/// A's own value, so a change map that ignores the mask still sees no change there.
pub(crate) fn warp<'a>(
    a: &RgbaImage,
    b: &'a RgbaImage,
    m: &Mat3,
    integer: bool,
    valid_a: Span,
    valid_b: Span,
    erode: u32,
) -> Warped<'a> {
    let (w, h) = a.dimensions();
    let full_a = valid_a == (0, 0, w, h);
    let full_b = valid_b == (0, 0, b.width(), b.height());
    let is_identity = integer && m[0][2] == 0.0 && m[1][2] == 0.0;
    if is_identity && full_a && full_b && a.dimensions() == b.dimensions() {
        return Warped {
            image: Cow::Borrowed(b),
            mask: None,
            uncovered: 0.0,
        };
    }
    let mut out = RgbaImage::new(w, h);
    let mut cover = vec![0u8; (w * h) as usize];
    let (bw, bh) = b.dimensions();
    let (vx0, vy0, vx1, vy1) = valid_b;
    let (fx0, fy0) = (vx0 as f64 - 0.5, vy0 as f64 - 0.5);
    let (fx1, fy1) = (vx1 as f64 - 0.5, vy1 as f64 - 0.5);
    let braw = b.as_raw();
    let araw = a.as_raw();
    let (tx, ty) = (m[0][2].round() as i64, m[1][2].round() as i64);
    out.par_chunks_mut(w as usize * 4)
        .zip(cover.par_chunks_mut(w as usize))
        .enumerate()
        .for_each(|(y, (row, cov))| {
            let y = y as u32;
            for x in 0..w {
                let o = x as usize * 4;
                let ai = (y as usize * w as usize + x as usize) * 4;
                let inside_a = x >= valid_a.0 && x < valid_a.2 && y >= valid_a.1 && y < valid_a.3;
                let mut done = false;
                if inside_a {
                    if integer {
                        let (qx, qy) = (x as i64 + tx, y as i64 + ty);
                        if qx >= vx0 as i64
                            && qx < vx1 as i64
                            && qy >= vy0 as i64
                            && qy < vy1 as i64
                        {
                            let bi = (qy as usize * bw as usize + qx as usize) * 4;
                            row[o..o + 4].copy_from_slice(&braw[bi..bi + 4]);
                            done = true;
                        }
                    } else {
                        let (qx, qy) = apply(m, x as f64, y as f64);
                        if qx >= fx0 && qx <= fx1 && qy >= fy0 && qy <= fy1 {
                            let qx = qx.clamp(vx0 as f64, (vx1 - 1) as f64);
                            let qy = qy.clamp(vy0 as f64, (vy1 - 1) as f64);
                            let (x0, y0) = (qx.floor() as usize, qy.floor() as usize);
                            let (ax, ay) = ((qx - x0 as f64) as f32, (qy - y0 as f64) as f32);
                            let x1 = (x0 + 1).min(vx1 as usize - 1);
                            let y1 = (y0 + 1).min(vy1 as usize - 1);
                            let i00 = (y0 * bw as usize + x0) * 4;
                            let i01 = (y0 * bw as usize + x1) * 4;
                            let i10 = (y1 * bw as usize + x0) * 4;
                            let i11 = (y1 * bw as usize + x1) * 4;
                            for c in 0..4 {
                                let top =
                                    braw[i00 + c] as f32 * (1.0 - ax) + braw[i01 + c] as f32 * ax;
                                let bot =
                                    braw[i10 + c] as f32 * (1.0 - ax) + braw[i11 + c] as f32 * ax;
                                row[o + c] = (top * (1.0 - ay) + bot * ay).round() as u8;
                            }
                            done = true;
                        }
                    }
                }
                if done {
                    cov[x as usize] = 255;
                } else {
                    row[o..o + 4].copy_from_slice(&araw[ai..ai + 4]);
                }
            }
        });
    let _ = bh;
    let uncovered = cover.iter().filter(|&&c| c == 0).count();
    if !integer && w > 2 && h > 2 {
        // A resampled B's outermost row and column are not compared: they interpolate
        // B's own border, where a warp's fill or a lens edge meets the picture. (Not
        // counted as uncovered: B covers them.)
        let (wu, hu) = (w as usize, h as usize);
        cover[..wu].fill(0);
        cover[(hu - 1) * wu..].fill(0);
        for row in cover.chunks_mut(wu) {
            row[0] = 0;
            row[wu - 1] = 0;
        }
    }
    let share = uncovered as f64 / (w as f64 * h as f64).max(1.0);
    let mask = (cover.contains(&0)).then(|| {
        let eroded = erode_mask(&cover, w as usize, h as usize, erode as usize);
        GrayImage::from_raw(w, h, eroded).expect("sizes agree")
    });
    Warped {
        image: Cow::Owned(out),
        mask,
        uncovered: share,
    }
}

/// Square erosion of a 0/255 mask by `r` px (the image border is not uncovered).
fn erode_mask(m: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
    if r == 0 {
        return m.to_vec();
    }
    let mut tmp = vec![0u8; w * h];
    for y in 0..h {
        let row = &m[y * w..(y + 1) * w];
        for x in 0..w {
            let lo = x.saturating_sub(r);
            let hi = (x + r).min(w - 1);
            tmp[y * w + x] = *row[lo..=hi].iter().min().unwrap_or(&0);
        }
    }
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let lo = y.saturating_sub(r);
        let hi = (y + r).min(h - 1);
        for x in 0..w {
            out[y * w + x] = (lo..=hi).map(|yy| tmp[yy * w + x]).min().unwrap_or(0);
        }
    }
    out
}

/// How a strip of `img` (a span) compares with its counterpart in `other`
/// (`at(x, y)`, `None` where there is none): the share of its pixels that differ by
/// more than twice the padding tolerance, and the mean absolute luma gradient of the
/// counterpart across the strip's lines, inside the strip (levels/px; `rows`: the
/// strip is made of rows, as at the top and bottom; along the line for a strip one
/// line deep). Padding hides content, so the other image varies from line to line
/// there; where its lines repeat too (stripes running into the edge, a flat band
/// recoloured), both images share the strip's structure and it is not padding. `None` when
/// no pixel of the strip has a counterpart.
pub(crate) fn strip_differs(
    img: &RgbaImage,
    strip: Span,
    rows: bool,
    at: &dyn Fn(u32, u32) -> Option<[u8; 4]>,
) -> Option<(f64, f64)> {
    let tol = TUNING.padding_tolerance as i32 * 2;
    let (mut n, mut diff) = (0usize, 0usize);
    let (mut g, mut ng) = (0f64, 0usize);
    let step = (((strip.2 - strip.0) as u64 * (strip.3 - strip.1) as u64 / 20_000) as f64)
        .sqrt()
        .max(1.0) as usize;
    let l = |q: [u8; 4]| super::plane::luma(q) as f64;
    let deep = if rows {
        strip.3 - strip.1 > 1
    } else {
        strip.2 - strip.0 > 1
    };
    for y in (strip.1..strip.3).step_by(step) {
        for x in (strip.0..strip.2).step_by(step) {
            if let Some(q) = at(x, y) {
                let p = img.get_pixel(x, y).0;
                n += 1;
                if (0..3).any(|c| (p[c] as i32 - q[c] as i32).abs() > tol) {
                    diff += 1;
                }
                // The next pixel across the lines, inside the strip (along the line
                // for a strip one line deep).
                let next = match (rows, deep) {
                    (true, true) => (y + 1 < strip.3).then(|| at(x, y + 1)).flatten(),
                    (false, true) => (x + 1 < strip.2).then(|| at(x + 1, y)).flatten(),
                    (true, false) => at(x + 1, y),
                    (false, false) => at(x, y + 1),
                };
                if let Some(r) = next {
                    g += (l(r) - l(q)).abs();
                    ng += 1;
                }
            }
        }
    }
    (n > 0).then(|| (diff as f64 / n as f64, g / ng.max(1) as f64))
}

/// Paints a Luma(0) border of `e` onto a mask image (used by tests of the mask).
#[cfg(test)]
pub(crate) fn count_zero(mask: &GrayImage) -> usize {
    use image::Luma;
    mask.pixels().filter(|p| **p == Luma([0])).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    fn photo(w: u32, h: u32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let v = ((x * 37 + y * 91) ^ (x * y)) % 251;
            Rgba([v as u8, (v * 3 % 256) as u8, (255 - v) as u8, 255])
        })
    }

    #[test]
    fn finds_constant_and_replicated_padding() {
        let src = photo(80, 60);
        // Shifted right by 7 with black padding, up by 4 with replicated rows.
        let b = RgbaImage::from_fn(80, 60, |x, y| {
            if x < 7 {
                Rgba([0, 0, 0, 255])
            } else {
                *src.get_pixel(x - 7, (y + 4).min(59))
            }
        });
        let e = padding(&b);
        assert_eq!((e.left, e.right, e.top), (7, 0, 0));
        assert_eq!(e.bottom, 4);
        assert_eq!(padding(&src), Edges::default());
    }

    #[test]
    fn integer_warp_is_exact_and_masks_the_vacated_strip() {
        let a = photo(64, 48);
        let b = RgbaImage::from_fn(64, 48, |x, y| {
            if x >= 5 && y + 3 < 48 {
                *a.get_pixel(x - 5, y + 3)
            } else {
                Rgba([0, 0, 0, 255])
            }
        });
        let m: Mat3 = [[1.0, 0.0, 5.0], [0.0, 1.0, -3.0], [0.0, 0.0, 1.0]];
        let r = warp(&a, &b, &m, true, (0, 0, 64, 48), (0, 0, 64, 48), 2);
        let img = r.image.as_ref();
        assert_eq!(img, &a, "covered pixels copied exactly, the rest from A");
        // Uncovered: A's right 5 columns and top 3 rows.
        let expect = (5 * 48 + 3 * 64 - 15) as f64 / (64.0 * 48.0);
        assert!((r.uncovered - expect).abs() < 1e-9);
        let mask = r.mask.unwrap();
        assert_eq!(mask.get_pixel(20, 20)[0], 255);
        assert_eq!(mask.get_pixel(64 - 5 - 2, 20)[0], 0, "eroded by 2");
        assert_eq!(mask.get_pixel(64 - 5 - 3, 20)[0], 255);
        assert!(count_zero(&mask) > (5 * 48 + 3 * 64 - 15) as usize);
    }
}
