//! Flat fills: where B was painted in one flat colour over A's texture (an object, a
//! name or a defect erased with a background-coloured brush, a redaction). Painting
//! soft texture flat changes each pixel only a little (ΔE often under the threshold),
//! but no nuisance (noise, JPEG, blur, a brightness change, a shift) makes a textured
//! area flat, so the fused method counts such pixels as changed.

use crate::map::{Map, TileRect, TILE};
use image::RgbaImage;

/// B's 3×3 neighbourhood is flat when every channel stays within this many levels ...
const FLAT: u8 = 2;
/// ... A's is textured when some channel spans at least this many ...
const TEXTURE: u8 = 8;
/// ... and the pixel itself changed by at least this much in some channel.
const OWN_CHANGE: u8 = 3;

/// 1.0 at the flat-filled pixels among those whose pixel-map ΔE reaches `level`, in
/// the tiles that reach it; `None` when there are none.
///
/// The 3×3 span (largest minus smallest value, per channel) is read only at those
/// pixels and stops at the first channel over the limit. That is a grayscale dilation
/// minus an erosion, but imageproc's `grayscale_dilate`/`grayscale_erode` (per
/// channel, whole image) are not within 10 %: at the 54 733 pixels of the 1080p bench
/// pair with ΔE ≥ 3.6, 18.5 M instructions here against 624.1 M (callgrind; the same
/// pixels flagged).
pub fn flat_fill_map(a: &RgbaImage, b: &RgbaImage, pixel: &Map, level: f32) -> Option<Map> {
    let (w, h) = a.dimensions();
    let reach = pixel.tiles_reaching(level);
    let cols = w.div_ceil(TILE);
    // Whether the 3×3 neighbourhood's span (largest over channels) is at most `max`,
    // stopping at the first channel that exceeds it.
    let span_at_most = |img: &RgbaImage, x: u32, y: u32, max: u8| -> bool {
        let (mut lo, mut hi) = ([u8::MAX; 4], [0u8; 4]);
        for qy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
            for qx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                let p = img.get_pixel(qx, qy).0;
                for c in 0..4 {
                    lo[c] = lo[c].min(p[c]);
                    hi[c] = hi[c].max(p[c]);
                    if hi[c] - lo[c] > max {
                        return false;
                    }
                }
            }
        }
        true
    };
    let mut map = Map::zeros(w, h);
    let mut any = false;
    for (i, _) in reach.iter().enumerate().filter(|(_, r)| **r) {
        let (tx, ty) = ((i as u32 % cols) * TILE, (i as u32 / cols) * TILE);
        let t = TileRect {
            x: tx,
            y: ty,
            w: TILE.min(w - tx),
            h: TILE.min(h - ty),
        };
        let mut values: Option<Vec<f32>> = None;
        for y in t.y..t.y + t.h {
            for x in t.x..t.x + t.w {
                if pixel.get(x, y) < level {
                    continue;
                }
                let (pa, pb) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
                // A colour clipped at 0 or 255 is flat because it saturated, as
                // highlights do when brightened: not a fill. And the pixel itself
                // must have changed (not only a neighbour of a change).
                let unclipped = pb[..3].iter().all(|v| (1..255).contains(v));
                let changed = (0..4).any(|c| pa[c].abs_diff(pb[c]) >= OWN_CHANGE);
                if unclipped
                    && changed
                    && span_at_most(b, x, y, FLAT)
                    && !span_at_most(a, x, y, TEXTURE - 1)
                {
                    let v = values.get_or_insert_with(|| vec![0.0; (t.w * t.h) as usize]);
                    v[((y - t.y) * t.w + x - t.x) as usize] = 1.0;
                }
            }
        }
        if let Some(v) = values {
            map.put(t, v);
            any = true;
        }
    }
    any.then_some(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    /// Grain: a deterministic pattern spanning about 20 levels.
    fn grain(w: u32, h: u32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let v = 110 + ((x * 7 + y * 11) % 13) as u8 + ((x * y) % 7) as u8;
            Rgba([v, v - 20, v - 40, 255])
        })
    }

    fn painted(img: &RgbaImage, r: [u32; 4], colour: [u8; 4]) -> RgbaImage {
        let mut out = img.clone();
        for y in r[1]..r[1] + r[3] {
            for x in r[0]..r[0] + r[2] {
                out.put_pixel(x, y, Rgba(colour));
            }
        }
        out
    }

    /// A pixel map that reaches the level everywhere.
    fn reached(w: u32, h: u32) -> Map {
        let mut m = Map::zeros(w, h);
        for ty in (0..h).step_by(TILE as usize) {
            for tx in (0..w).step_by(TILE as usize) {
                let t = TileRect {
                    x: tx,
                    y: ty,
                    w: TILE.min(w - tx),
                    h: TILE.min(h - ty),
                };
                m.put(t, vec![5.0; (t.w * t.h) as usize]);
            }
        }
        m
    }

    #[test]
    fn a_flat_patch_over_grain_is_flagged_inside_only() {
        let a = grain(64, 48);
        let b = painted(&a, [20, 10, 24, 20], [118, 98, 78, 255]);
        let m = flat_fill_map(&a, &b, &reached(64, 48), 3.6).expect("a fill");
        let mut flagged = 0;
        for y in 0..48 {
            for x in 0..64 {
                let inside = (20..44).contains(&x) && (10..30).contains(&y);
                if m.get(x, y) > 0.0 {
                    assert!(inside, "({x}, {y}) flagged outside the fill");
                    flagged += 1;
                }
            }
        }
        // Most of the patch (its border pixels see A's grain and B's edge too).
        assert!(flagged > 24 * 20 / 2, "{flagged}");
    }

    #[test]
    fn no_fill_without_one() {
        let a = grain(64, 48);
        assert!(flat_fill_map(&a, &a, &reached(64, 48), 3.6).is_none());
        // Saturated white (a brightened highlight) is flat because it clipped.
        let b = painted(&a, [20, 10, 24, 20], [255, 255, 255, 255]);
        assert!(flat_fill_map(&a, &b, &reached(64, 48), 3.6).is_none());
        // Below the level nothing is flagged.
        let b = painted(&a, [20, 10, 24, 20], [118, 98, 78, 255]);
        assert!(flat_fill_map(&a, &b, &Map::zeros(64, 48), 3.6).is_none());
    }
}
