//! Options for a comparison: one public struct with `Default`, validated once into
//! [`Settings`], which is what the internals trust.

use crate::error::{Error, Result};
pub use crate::register::AlignMode;
use serde::Serialize;

/// Which evidence decides what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Colour difference (CIE Lab ΔE) with tolerance for small shifts.
    Pixel,
    /// Structural similarity (SSIM) on luma, with tolerance for small shifts.
    Ssim,
    /// Deep features of a pretrained CNN, refined with the colour difference.
    Deep,
    /// Pixel evidence plus SSIM evidence for faint structural changes, plus deep
    /// features when a backbone is available.
    #[default]
    Fused,
}

impl Method {
    /// Every method, in the order they are listed to users.
    pub const ALL: [Method; 4] = [Method::Fused, Method::Pixel, Method::Ssim, Method::Deep];

    /// Parses `pixel`, `ssim`, `deep` or `fused`.
    pub fn parse(s: &str) -> Option<Method> {
        match s.to_ascii_lowercase().as_str() {
            "pixel" => Some(Method::Pixel),
            "ssim" => Some(Method::Ssim),
            "deep" => Some(Method::Deep),
            "fused" | "default" => Some(Method::Fused),
            _ => None,
        }
    }

    /// The name `parse` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Method::Pixel => "pixel",
            Method::Ssim => "ssim",
            Method::Deep => "deep",
            Method::Fused => "fused",
        }
    }
}

/// A threshold: chosen from the images, or fixed by the user.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Threshold {
    /// max(Otsu's threshold (capped), an absolute floor).
    #[default]
    Auto,
    /// A fixed value in the map's own unit.
    Fixed(f32),
}

/// What to do when the two images differ in size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SizePolicy {
    /// Register B onto A when registration explains the sizes (a crop, a scale);
    /// otherwise refuse, as [`SizePolicy::Error`].
    #[default]
    Auto,
    /// Refuse, and say how to proceed.
    Error,
    /// Register B onto A and compare where they overlap, whatever registration finds
    /// (an unexplained pair is compared at B's top-left, on the overlap).
    Align,
    /// Resize B to A's size when the aspect ratios agree (within 1 %).
    Resize,
    /// Pad both to the larger width and height with transparent pixels
    /// (the padded area counts as changed where the other image has content).
    Pad,
}

/// Whether a global change that registration explains (B moved, scaled, rotated, or
/// its tone changed) counts for the verdict. It is never boxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GlobalChange {
    /// The verdict is `different` (exit 1), with the change said in the report.
    #[default]
    Different,
    /// Reported only: the verdict follows from the boxes.
    Ignore,
}

impl std::str::FromStr for SizePolicy {
    type Err = String;
    /// The command line's names: `auto`, `error`, `align`, `resize`, `pad`.
    fn from_str(s: &str) -> std::result::Result<SizePolicy, String> {
        match s {
            "auto" => Ok(SizePolicy::Auto),
            "error" => Ok(SizePolicy::Error),
            "align" => Ok(SizePolicy::Align),
            "resize" => Ok(SizePolicy::Resize),
            "pad" => Ok(SizePolicy::Pad),
            _ => Err(format!(
                "unknown size policy `{s}` (use auto, error, align, resize or pad)"
            )),
        }
    }
}

impl std::str::FromStr for GlobalChange {
    type Err = String;
    /// `different` or `ignore`.
    fn from_str(s: &str) -> std::result::Result<GlobalChange, String> {
        match s {
            "different" => Ok(GlobalChange::Different),
            "ignore" => Ok(GlobalChange::Ignore),
            _ => Err(format!(
                "unknown global-change rule `{s}` (use different or ignore)"
            )),
        }
    }
}

/// An axis-aligned rectangle in pixels: left, top, width, height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    /// Parses `x,y,w,h` (also accepts `x,y,wxh`).
    pub fn parse(s: &str) -> Option<Rect> {
        let parts: Vec<u32> = s
            .split([',', 'x', ' '])
            .filter(|p| !p.is_empty())
            .map(|p| p.trim().parse().ok())
            .collect::<Option<Vec<u32>>>()?;
        match parts[..] {
            [x, y, w, h] if w > 0 && h > 0 => Some(Rect { x, y, w, h }),
            _ => None,
        }
    }

    /// Right edge, exclusive.
    pub fn right(&self) -> u32 {
        self.x.saturating_add(self.w)
    }

    /// Bottom edge, exclusive.
    pub fn bottom(&self) -> u32 {
        self.y.saturating_add(self.h)
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, o: Rect) -> Rect {
        let (x, y) = (self.x.min(o.x), self.y.min(o.y));
        Rect {
            x,
            y,
            w: self.right().max(o.right()) - x,
            h: self.bottom().max(o.bottom()) - y,
        }
    }
}

/// Limits checked before any pixel memory is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest image accepted, in pixels (width × height).
    /// Default: 100,000,000.
    pub max_pixels: u64,
    /// Largest input file accepted, in bytes.
    /// Default: 512 MiB.
    pub max_file_bytes: u64,
    /// Most memory a decoder may allocate for itself beside the pixels, in bytes: the
    /// metadata it reads before the first pixel (a PNG's ICC profile and text chunks,
    /// decompressed; EXIF) and its working buffers. An image over it is refused.
    /// Default: 16 MiB.
    pub max_metadata_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 100_000_000,
            max_file_bytes: 512 * 1024 * 1024,
            max_metadata_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Everything a comparison can be told.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Which evidence decides what changed.
    /// Default: [`Method::Fused`].
    pub method: Method,
    /// Colour-difference threshold, in CIE76 ΔE units.
    /// Default: auto (at least 12).
    pub pixel_threshold: Threshold,
    /// SSIM dissimilarity threshold, `1 - SSIM` in 0..2.
    /// Default: auto (at least 0.5).
    pub ssim_threshold: Threshold,
    /// Deep-feature distance threshold, `2 (1 - cos)` in 0..4.
    /// Default: auto (the floor [`DEEP_FLOOR`]).
    pub deep_threshold: Threshold,
    /// Smallest changed region reported, in changed pixels. Smaller regions are
    /// dropped unless their change is strong (at least 3× the threshold).
    /// Default: 12.
    pub min_area: u32,
    /// Boxes closer than this many pixels (gap between edges) are merged into one.
    /// Default: 12.
    pub merge_distance: u32,
    /// Rectangles that never produce boxes (in A's coordinates).
    /// Default: none.
    pub ignore: Vec<Rect>,
    /// What to do when the images differ in size.
    /// Default: [`SizePolicy::Auto`].
    pub size_policy: SizePolicy,
    /// How B is registered onto A before any change map (images of different sizes
    /// are registered under [`SizePolicy::Auto`] whatever this says).
    /// Default: [`AlignMode::Auto`] (identity when the images already agree).
    pub align: AlignMode,
    /// Whether a global change (moved, scaled, rotated, tone) makes the verdict
    /// `different`.
    /// Default: [`GlobalChange::Different`].
    pub global_change: GlobalChange,
    /// How much boxed change is tolerated before the verdict is `different` (the
    /// boxes are reported either way).
    /// Default: none (any box makes the pair `different`).
    pub tolerance: Tolerance,
    /// Input limits.
    /// Default: see [`Limits`].
    pub limits: Limits,
}

/// A tolerance for CI gates, as Playwright's `maxDiffPixels` / `maxDiffPixelRatio`:
/// the pair is `different` only when its changed pixels (inside the boxes, the mask's
/// white pixels) exceed one of the limits set. With both set, both must hold.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Tolerance {
    /// Most changed pixels tolerated.
    pub max_diff_pixels: Option<u64>,
    /// Largest share of changed pixels tolerated, 0..1.
    pub max_diff_ratio: Option<f64>,
}

impl Tolerance {
    /// True when no limit is set.
    pub fn is_none(&self) -> bool {
        self.max_diff_pixels.is_none() && self.max_diff_ratio.is_none()
    }

    /// True when `changed` pixels of `total` are within every limit set (always false
    /// without a limit: any change counts).
    pub fn allows(&self, changed: u64, total: u64) -> bool {
        if self.is_none() {
            return false;
        }
        let ratio = changed as f64 / total.max(1) as f64;
        self.max_diff_pixels.is_none_or(|n| changed <= n)
            && self.max_diff_ratio.is_none_or(|r| ratio <= r)
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            method: Method::Fused,
            pixel_threshold: Threshold::Auto,
            ssim_threshold: Threshold::Auto,
            deep_threshold: Threshold::Auto,
            min_area: 12,
            merge_distance: 12,
            ignore: Vec::new(),
            size_policy: SizePolicy::Auto,
            align: AlignMode::Auto,
            global_change: GlobalChange::Different,
            tolerance: Tolerance::default(),
            limits: Limits::default(),
        }
    }
}

/// Floor of the automatic pixel threshold, ΔE.
pub const PIXEL_FLOOR: f32 = 12.0;
/// Floor of the automatic SSIM-dissimilarity threshold.
pub const SSIM_FLOOR: f32 = 0.5;
/// Floor of the automatic deep-feature threshold, `2 (1 - cos)`.
pub const DEEP_FLOOR: f32 = 0.75;

/// Validated options: what the internals trust.
#[derive(Debug, Clone)]
pub struct Settings {
    pub method: Method,
    pub pixel_threshold: Threshold,
    pub ssim_threshold: Threshold,
    pub deep_threshold: Threshold,
    pub min_area: u32,
    pub merge_distance: u32,
    pub ignore: Vec<Rect>,
    pub size_policy: SizePolicy,
    pub align: AlignMode,
    pub global_change: GlobalChange,
    pub tolerance: Tolerance,
}

impl Options {
    /// Checks every value once. Errors name the option and the accepted range.
    pub fn validate(&self) -> Result<Settings> {
        if let Threshold::Fixed(t) = self.pixel_threshold {
            if !(t.is_finite() && t > 0.0 && t <= 300.0) {
                return Err(Error::option(
                    "pixel_threshold",
                    format!(
                        "pixel threshold {t} is out of range (ΔE, greater than 0 and at most 300)"
                    ),
                ));
            }
        }
        if let Threshold::Fixed(t) = self.ssim_threshold {
            if !(t.is_finite() && t > 0.0 && t <= 2.0) {
                return Err(Error::option(
                    "ssim_threshold",
                    format!(
                    "SSIM threshold {t} is out of range (1 - SSIM, greater than 0 and at most 2)"
                ),
                ));
            }
        }
        if let Threshold::Fixed(t) = self.deep_threshold {
            if !(t.is_finite() && t > 0.0 && t <= 4.0) {
                return Err(Error::option(
                    "deep_threshold",
                    format!(
                    "deep threshold {t} is out of range (2(1 - cos), greater than 0 and at most 4)"
                ),
                ));
            }
        }
        if self.merge_distance > 10_000 {
            return Err(Error::option(
                "merge_distance",
                format!(
                    "merge distance {} is out of range (0 to 10000 pixels)",
                    self.merge_distance
                ),
            ));
        }
        if let Some(r) = self.tolerance.max_diff_ratio {
            if !(r.is_finite() && (0.0..=1.0).contains(&r)) {
                return Err(Error::option(
                    "max_diff_ratio",
                    format!("tolerated ratio {r} is out of range (0 to 1)"),
                ));
            }
        }
        if self.limits.max_pixels == 0
            || self.limits.max_file_bytes == 0
            || self.limits.max_metadata_bytes == 0
        {
            return Err(Error::option("limits", "limits must be greater than 0"));
        }
        Ok(Settings {
            method: self.method,
            pixel_threshold: self.pixel_threshold,
            ssim_threshold: self.ssim_threshold,
            deep_threshold: self.deep_threshold,
            min_area: self.min_area.max(1),
            merge_distance: self.merge_distance,
            ignore: self.ignore.clone(),
            size_policy: self.size_policy,
            align: self.align,
            global_change: self.global_change,
            tolerance: self.tolerance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rect_parses_both_forms() {
        assert_eq!(
            Rect::parse("10,20,30,40"),
            Some(Rect {
                x: 10,
                y: 20,
                w: 30,
                h: 40
            })
        );
        assert_eq!(
            Rect::parse("10,20,30x40"),
            Some(Rect {
                x: 10,
                y: 20,
                w: 30,
                h: 40
            })
        );
        assert_eq!(Rect::parse("10,20,0,40"), None);
        assert_eq!(Rect::parse("10,20,30"), None);
        assert_eq!(Rect::parse("a,b,c,d"), None);
    }

    #[test]
    fn tolerances_need_every_limit_set_to_hold() {
        let none = Tolerance::default();
        assert!(!none.allows(0, 100));
        let px = Tolerance {
            max_diff_pixels: Some(10),
            max_diff_ratio: None,
        };
        assert!(px.allows(10, 100) && !px.allows(11, 100));
        let both = Tolerance {
            max_diff_ratio: Some(0.05),
            ..px
        };
        assert!(both.allows(5, 100) && !both.allows(6, 100) && !both.allows(11, 1000));
        let bad = Options {
            tolerance: Tolerance {
                max_diff_pixels: None,
                max_diff_ratio: Some(1.5),
            },
            ..Options::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn bad_thresholds_are_refused() {
        let o = Options {
            pixel_threshold: Threshold::Fixed(-1.0),
            ..Options::default()
        };
        assert!(o.validate().is_err());
        let o = Options {
            ssim_threshold: Threshold::Fixed(f32::NAN),
            ..Options::default()
        };
        assert!(o.validate().is_err());
        assert!(Options::default().validate().is_ok());
    }
}
