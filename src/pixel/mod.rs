//! The pixel change map: CIE76 colour difference (ΔE) between lightly blurred images,
//! with a symmetric best match within a small window so that a 1-2 px shift or an
//! anti-aliased edge does not count as a change.
//!
//! For each pixel p and each shift s within ±`SHIFT` px, the error of the shift is the
//! largest ΔE between A and B moved by s over the 3×3 patch around p; the map holds
//! the smallest error over all shifts, taken both ways (A against shifted B, and B
//! against shifted A) and the larger of the two kept. One shift must explain the
//! whole patch, so a re-rendered or moved edge matches, while a changed glyph whose
//! strokes only lie near other strokes does not; and taking both directions keeps
//! erasures (present in A, absent in B) and additions alike.
//!
//! Images with alpha are compared as they look over white *and* over black; the
//! larger difference counts.
//!
//! The module is split along its seams: `map` builds the change map (tiles, shift
//! search), and `reference` (tests only) keeps the straightforward implementation the
//! map is checked against.

mod map;
#[cfg(test)]
mod reference;

pub use map::pixel_map;

use crate::color::rgba_over_to_lab;
use crate::map::TileRect;
use image::RgbaImage;

/// Blur applied before comparing (σ in px): removes JPEG ringing and sensor noise.
pub const BLUR_SIGMA: f32 = 1.0;
/// Shift tolerance in px.
pub const SHIFT: i32 = 3;
/// Radius of the patch that one shift must explain (1 = 3×3).
pub const PATCH: i32 = 1;

/// The backgrounds a pixel is compared over: white always, black too when alpha
/// matters (a change of transparency then shows over one of them).
fn backgrounds(alpha: bool) -> &'static [u8] {
    if alpha {
        &[255, 0]
    } else {
        &[255]
    }
}

/// Squared CIE76 distance of two Lab colours.
#[inline]
fn d2(p: [f32; 3], q: [f32; 3]) -> f32 {
    let (a, b, c) = (p[0] - q[0], p[1] - q[1], p[2] - q[2]);
    a * a + b * b + c * c
}

/// The bounds of the pixels inside `r` whose own (unblurred, unshifted) colour
/// difference reaches `threshold` over one of the [`backgrounds`]: a box found on a
/// blurred or windowed map, shrunk onto the pixels that really changed. `None`
/// when no pixel does.
pub fn raw_bounds(
    a: &RgbaImage,
    b: &RgbaImage,
    alpha: bool,
    r: crate::options::Rect,
    threshold: f32,
) -> Option<crate::options::Rect> {
    let t2 = threshold * threshold;
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for y in r.y..r.bottom().min(a.height()) {
        for x in r.x..r.right().min(a.width()) {
            let (pa, pb) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
            let changed = pa != pb
                && backgrounds(alpha)
                    .iter()
                    .any(|&bg| d2(rgba_over_to_lab(pa, bg), rgba_over_to_lab(pb, bg)) >= t2);
            if changed {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
    }
    (x0 != u32::MAX).then(|| crate::options::Rect {
        x: x0,
        y: y0,
        w: x1 - x0 + 1,
        h: y1 - y0 + 1,
    })
}

/// Blurred L, a, b planes of a region, row-major.
type Lab3 = [Vec<f32>; 3];

/// Blurred Lab planes of a region over one background; the blur clamps at the
/// region's edges (the margin keeps that away from every value that is used).
fn lab_planes(img: &RgbaImage, r: TileRect, bg: u8, kernel: &[f32]) -> Lab3 {
    let n = (r.w * r.h) as usize;
    let mut planes: Lab3 = [vec![0f32; n], vec![0f32; n], vec![0f32; n]];
    let stride = img.width() as usize * 4;
    let raw = img.as_raw();
    let mut i = 0;
    for y in r.y..r.y + r.h {
        let row = &raw[y as usize * stride + r.x as usize * 4..][..r.w as usize * 4];
        for p in row.chunks_exact(4) {
            let lab = rgba_over_to_lab([p[0], p[1], p[2], p[3]], bg);
            planes[0][i] = lab[0];
            planes[1][i] = lab[1];
            planes[2][i] = lab[2];
            i += 1;
        }
    }
    let mut tmp = vec![0f32; n];
    for p in &mut planes {
        blur_plane(p, &mut tmp, r.w as usize, r.h as usize, kernel);
    }
    planes
}

/// Separable blur of one plane in place; edges clamp. Each output value sums its
/// taps in kernel order, as a direct convolution does.
///
/// Kept hand-written (it is on the hot path, and imageproc is not within 10 %):
/// blurring the Lab planes of every segment of a 1080p image (16-tile segments with
/// their 7 px margins, as `pixel_map` cuts them) took 306.2 M instructions here,
/// 1364 M with imageproc's `separable_filter_equal` on each plane as `Luma<f32>` and
/// 1059 M on the three planes interleaved as `Rgb<f32>` (callgrind; both gave
/// bit-identical values). imageproc filters pixel by pixel; this loop runs along
/// whole rows, which the compiler vectorises.
fn blur_plane(p: &mut [f32], tmp: &mut [f32], w: usize, h: usize, k: &[f32]) {
    let r = k.len() / 2;
    for y in 0..h {
        let (src, dst) = (&p[y * w..(y + 1) * w], &mut tmp[y * w..(y + 1) * w]);
        dst.fill(0.0);
        let clamped = |x: usize, dst: &mut [f32]| {
            for (i, kv) in k.iter().enumerate() {
                dst[x] += kv * src[(x + i).saturating_sub(r).min(w - 1)];
            }
        };
        if w > 2 * r {
            for (i, kv) in k.iter().enumerate() {
                for (d, s) in dst[r..w - r].iter_mut().zip(&src[i..i + w - 2 * r]) {
                    *d += kv * s;
                }
            }
            for x in (0..r).chain(w - r..w) {
                clamped(x, dst);
            }
        } else {
            for x in 0..w {
                clamped(x, dst);
            }
        }
    }
    for y in 0..h {
        let dst = &mut p[y * w..(y + 1) * w];
        dst.fill(0.0);
        for (i, kv) in k.iter().enumerate() {
            let yy = (y + i).saturating_sub(r).min(h - 1);
            for (d, s) in dst.iter_mut().zip(&tmp[yy * w..(yy + 1) * w]) {
                *d += kv * s;
            }
        }
    }
}

/// Shifts other than (0, 0), nearest first: a moved edge usually matches early.
fn shifts() -> &'static [(i32, i32)] {
    static SHIFTS: std::sync::OnceLock<Vec<(i32, i32)>> = std::sync::OnceLock::new();
    SHIFTS.get_or_init(|| {
        let mut s: Vec<(i32, i32)> = (-SHIFT..=SHIFT)
            .flat_map(|y| (-SHIFT..=SHIFT).map(move |x| (x, y)))
            .filter(|&s| s != (0, 0))
            .collect();
        s.sort_by_key(|&(x, y)| x * x + y * y);
        s
    })
}
