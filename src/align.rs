//! Size policy: bring two images to the same size, or refuse and say how to proceed.

use crate::error::{Error, Hint, Result};
use crate::load::Image;
use crate::options::SizePolicy;
use image::{imageops, Rgba, RgbaImage};
use serde::Serialize;
use std::borrow::Cow;
use std::path::Path;

/// What the size policy did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Alignment {
    /// Same size: nothing done.
    None,
    /// B was resized to A's size.
    ResizedB { from: [u32; 2], to: [u32; 2] },
    /// Both were padded (right and bottom, transparent) to a common size.
    Padded { to: [u32; 2] },
}

/// Checks two sizes against the size policy: `Ok` when the images can be compared
/// (same size, or a policy that allows the difference), the size error otherwise.
/// [`align`] and the header check before decoding (`load::check_pair`) both use it.
pub(crate) fn check_sizes(
    (pa, (aw, ah)): (&Path, (u32, u32)),
    (pb, (bw, bh)): (&Path, (u32, u32)),
    policy: SizePolicy,
) -> Result<()> {
    if (aw, ah) == (bw, bh) {
        return Ok(());
    }
    let sizes = format!(
        "{} is {aw}x{ah} but {} is {bw}x{bh}",
        pa.display(),
        pb.display()
    );
    let ratio_a = aw as f64 / ah as f64;
    let ratio_b = bw as f64 / bh as f64;
    let same_aspect = (ratio_a / ratio_b - 1.0).abs() <= 0.01;
    match policy {
        // (Auto and Align reach here only when registration did not explain the sizes.)
        SizePolicy::Error | SizePolicy::Auto | SizePolicy::Align => Err(Error::Size {
            problem: format!("images differ in size: {sizes}"),
            hint: Hint::SizePolicy {
                resize: same_aspect,
            },
        }),
        SizePolicy::Resize if !same_aspect => Err(Error::Size {
            problem: format!(
                "images differ in aspect ratio ({sizes}), so resizing would distort one"
            ),
            hint: Hint::SizePolicy { resize: false },
        }),
        SizePolicy::Resize | SizePolicy::Pad => Ok(()),
    }
}

/// Applies the size policy. Returns both images at one size and what was done.
pub fn align<'a>(
    a: &'a Image,
    b: &'a Image,
    policy: SizePolicy,
) -> Result<(Cow<'a, RgbaImage>, Cow<'a, RgbaImage>, Alignment)> {
    let (aw, ah) = a.rgba.dimensions();
    let (bw, bh) = b.rgba.dimensions();
    if (aw, ah) == (bw, bh) {
        return Ok((
            Cow::Borrowed(&a.rgba),
            Cow::Borrowed(&b.rgba),
            Alignment::None,
        ));
    }
    check_sizes((&a.path, (aw, ah)), (&b.path, (bw, bh)), policy)?;
    // The sizes differ and the policy allows it: resize or pad (`Error` was refused).
    if policy == SizePolicy::Resize {
        let resized = imageops::resize(&b.rgba, aw, ah, imageops::FilterType::CatmullRom);
        return Ok((
            Cow::Borrowed(&a.rgba),
            Cow::Owned(resized),
            Alignment::ResizedB {
                from: [bw, bh],
                to: [aw, ah],
            },
        ));
    }
    let (w, h) = (aw.max(bw), ah.max(bh));
    let pad = |img: &RgbaImage| {
        let mut out = RgbaImage::from_pixel(w, h, Rgba([0, 0, 0, 0]));
        imageops::replace(&mut out, img, 0, 0);
        out
    };
    Ok((
        Cow::Owned(pad(&a.rgba)),
        Cow::Owned(pad(&b.rgba)),
        Alignment::Padded { to: [w, h] },
    ))
}

/// The displacement of B's content against A's when B as a whole is A moved by at
/// most `max` px (a shifted screenshot, a re-cropped scan): `Some((dx, dy))` with
/// B(x + dx, y + dy) ≈ A(x, y), when that shift leaves at most half the difference of
/// no shift. `None` when no shift explains B better (including identical content).
/// Luma on a 4-px lattice inside a `max` px margin: a few milliseconds at 1080p.
pub fn global_shift(a: &RgbaImage, b: &RgbaImage, max: i32) -> Option<(i32, i32)> {
    use crate::color::luma_over_white;
    const STEP: usize = 4;
    let (w, h) = (a.width() as i32, a.height() as i32);
    if w <= 2 * max + 1 || h <= 2 * max + 1 {
        return None;
    }
    let error = |dx: i32, dy: i32| -> f64 {
        let mut sum = 0u64;
        let mut n = 0u64;
        for y in (max..h - max).step_by(STEP) {
            for x in (max..w - max).step_by(STEP) {
                let pa = luma_over_white(a.get_pixel(x as u32, y as u32).0);
                let pb = luma_over_white(b.get_pixel((x + dx) as u32, (y + dy) as u32).0);
                sum += u64::from(pa.abs_diff(pb));
                n += 1;
            }
        }
        sum as f64 / n.max(1) as f64
    };
    let still = error(0, 0);
    let (mut best, mut at) = (still, (0, 0));
    for dy in -max..=max {
        for dx in -max..=max {
            if (dx, dy) != (0, 0) {
                let e = error(dx, dy);
                if e < best {
                    (best, at) = (e, (dx, dy));
                }
            }
        }
    }
    (at != (0, 0) && best <= 0.5 * still).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth, non-repeating pattern.
    fn pattern(w: u32, h: u32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let v = ((x * 7 + y * 13) % 97 + (x * y) % 31) as u8;
            Rgba([v, v.wrapping_mul(3), 200 - v, 255])
        })
    }

    fn moved(img: &RgbaImage, dx: i32, dy: i32) -> RgbaImage {
        let (w, h) = img.dimensions();
        RgbaImage::from_fn(w, h, |x, y| {
            let sx = (x as i32 - dx).clamp(0, w as i32 - 1) as u32;
            let sy = (y as i32 - dy).clamp(0, h as i32 - 1) as u32;
            *img.get_pixel(sx, sy)
        })
    }

    #[test]
    fn global_shift_finds_the_displacement() {
        let a = pattern(120, 80);
        for d in [(2, 0), (0, -3), (-1, 1), (3, 3)] {
            assert_eq!(global_shift(&a, &moved(&a, d.0, d.1), 3), Some(d));
        }
    }

    #[test]
    fn global_shift_is_none_without_one() {
        let a = pattern(120, 80);
        assert_eq!(global_shift(&a, &a, 3), None);
        // A local change is not a displacement.
        let mut b = a.clone();
        for y in 20..40 {
            for x in 30..60 {
                b.put_pixel(x, y, Rgba([0, 0, 0, 255]));
            }
        }
        assert_eq!(global_shift(&a, &b, 3), None);
        // Too small to search.
        assert_eq!(global_shift(&pattern(6, 6), &pattern(6, 6), 3), None);
    }
}
