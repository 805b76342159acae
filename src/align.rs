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
