//! Colour conversions: 8-bit sRGB (optionally with alpha over a background) to CIE
//! Lab (D65), and the luma used by SSIM.

use std::sync::OnceLock;

/// sRGB byte → linear light, as a table.
fn linear_table() -> &'static [f32; 256] {
    static TABLE: OnceLock<[f32; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0f32; 256];
        for (i, v) in t.iter_mut().enumerate() {
            let c = i as f32 / 255.0;
            *v = if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            };
        }
        t
    })
}

#[inline]
fn lab_f(t: f32) -> f32 {
    const E: f32 = 216.0 / 24389.0;
    const K: f32 = 24389.0 / 27.0;
    if t > E {
        t.cbrt()
    } else {
        (K * t + 16.0) / 116.0
    }
}

/// Linear RGB → Lab.
#[inline]
fn linear_to_lab(r: f32, g: f32, b: f32) -> [f32; 3] {
    // sRGB primaries, D65 white, white normalised to 1.
    let x = (0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b) / 0.950_47;
    let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b;
    let z = (0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b) / 1.088_83;
    let (fx, fy, fz) = (lab_f(x), lab_f(y), lab_f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// An opaque sRGB pixel → Lab.
#[inline]
pub fn srgb_to_lab(p: [u8; 3]) -> [f32; 3] {
    let t = linear_table();
    linear_to_lab(t[p[0] as usize], t[p[1] as usize], t[p[2] as usize])
}

/// An RGBA pixel shown over a grey background `bg` (0 = black, 255 = white) → Lab.
/// Blending is done on the stored sRGB values, as browsers and viewers do.
#[inline]
pub fn rgba_over_to_lab(p: [u8; 4], bg: u8) -> [f32; 3] {
    if p[3] == 255 {
        return srgb_to_lab([p[0], p[1], p[2]]);
    }
    let a = p[3] as f32 / 255.0;
    let mix = |c: u8| -> f32 {
        let v = (c as f32 * a + bg as f32 * (1.0 - a)) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    linear_to_lab(mix(p[0]), mix(p[1]), mix(p[2]))
}

/// Rec. 601 luma of an opaque pixel, computed exactly as Pillow's `convert("L")`
/// (so SSIM can be checked against scikit-image on the same grayscale input).
#[inline]
pub fn luma601(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// Luma of an RGBA pixel shown over white.
#[inline]
pub fn luma_over_white(p: [u8; 4]) -> u8 {
    if p[3] == 255 {
        return luma601(p[0], p[1], p[2]);
    }
    let a = p[3] as u32;
    let mix = |c: u8| ((c as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
    luma601(mix(p[0]), mix(p[1]), mix(p[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_of_known_colours() {
        let w = srgb_to_lab([255, 255, 255]);
        assert!((w[0] - 100.0).abs() < 0.01 && w[1].abs() < 0.01 && w[2].abs() < 0.01);
        let k = srgb_to_lab([0, 0, 0]);
        assert!(k[0].abs() < 1e-4);
        // sRGB red: L 53.24, a 80.09, b 67.20 (standard reference values).
        let r = srgb_to_lab([255, 0, 0]);
        assert!((r[0] - 53.24).abs() < 0.05, "{r:?}");
        assert!((r[1] - 80.09).abs() < 0.1, "{r:?}");
        assert!((r[2] - 67.20).abs() < 0.1, "{r:?}");
    }

    #[test]
    fn transparent_pixels_match_whatever_they_store() {
        let a = rgba_over_to_lab([255, 0, 0, 0], 255);
        let b = rgba_over_to_lab([0, 0, 255, 0], 255);
        assert_eq!(a, b);
    }

    #[test]
    fn luma_matches_pillow() {
        // Pillow: Image.new("RGB",(1,1),(200,100,50)).convert("L").getpixel((0,0)) == 124
        assert_eq!(luma601(200, 100, 50), 124);
        assert_eq!(luma601(255, 255, 255), 255);
        assert_eq!(luma601(0, 0, 0), 0);
    }
}
