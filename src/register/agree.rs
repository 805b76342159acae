//! Does a transform explain the pair? Block-wise agreement of A's lattice with B
//! sampled where the transform puts each lattice point.
//!
//! In each block of lattice samples, B's luma is regressed on A's (gain and offset of
//! that block alone, so lighting that varies over the image does not count against
//! the geometry). What is left is compared with the block's texture: a misalignment
//! of δ px leaves a residual of about |∇A|·δ, so a block agrees when its residual RMS
//! is at most `agree_shift`·(gradient RMS) + `agree_noise`. The share of textured
//! blocks that agree says how much of the image the transform explains; a local
//! change (a pasted object) only loses its own blocks.

use super::plane::Lattice;
use super::TUNING;

/// How well one transform explains the pair, on the lattice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Agreement {
    /// Share of the textured, covered blocks that agree (0..1).
    pub share: f64,
    /// Number of textured, covered blocks.
    pub blocks: usize,
    /// Mean absolute luma difference over covered samples after one global gain and
    /// offset (levels).
    pub residual: f64,
    /// Covered samples.
    pub covered: usize,
}

#[derive(Clone, Copy, Default)]
struct Acc {
    n: f64,
    sa: f64,
    sb: f64,
    saa: f64,
    sab: f64,
    sbb: f64,
    sg: f64,
}

/// Scores B's values at the lattice points (`NaN` where B does not cover the point).
pub(crate) fn agreement(lat: &Lattice, b: &[f32]) -> Agreement {
    let t = &TUNING;
    let mut acc = vec![Acc::default(); lat.blocks];
    let mut g = Acc::default();
    for (s, &bv) in lat.samples.iter().zip(b) {
        if bv.is_nan() {
            continue;
        }
        let (a, bv) = (s.a as f64, bv as f64);
        let c = &mut acc[s.block as usize];
        c.n += 1.0;
        c.sa += a;
        c.sb += bv;
        c.saa += a * a;
        c.sab += a * bv;
        c.sbb += bv * bv;
        c.sg += (s.gx * s.gx + s.gy * s.gy) as f64;
        g.n += 1.0;
        g.sa += a;
        g.sb += bv;
        g.saa += a * a;
        g.sab += a * bv;
    }
    let block_full = (t.block * t.block) as f64;
    let (mut textured, mut agree) = (0usize, 0usize);
    for c in &acc {
        if c.n < 0.5 * block_full || c.n < 4.0 {
            continue;
        }
        let grad = (c.sg / c.n).sqrt();
        if grad < t.texture as f64 {
            continue;
        }
        textured += 1;
        let va = c.saa - c.sa * c.sa / c.n;
        let vb = c.sbb - c.sb * c.sb / c.n;
        let cab = c.sab - c.sa * c.sb / c.n;
        if va <= 1e-9 {
            continue;
        }
        let gain = cab / va;
        let resid = ((vb - cab * cab / va).max(0.0) / c.n).sqrt();
        if (t.block_gain.0..=t.block_gain.1).contains(&gain)
            && resid <= t.agree_shift * grad + t.agree_noise
        {
            agree += 1;
        }
    }
    // Global gain/offset for the residual figure.
    let (gain, off) = if g.n > 2.0 {
        let va = g.saa - g.sa * g.sa / g.n;
        let cab = g.sab - g.sa * g.sb / g.n;
        let gain = if va > 1e-9 {
            (cab / va).clamp(0.5, 2.0)
        } else {
            1.0
        };
        (gain, (g.sb - gain * g.sa) / g.n)
    } else {
        (1.0, 0.0)
    };
    let mut sum = 0.0;
    for (s, &bv) in lat.samples.iter().zip(b) {
        if !bv.is_nan() {
            sum += (bv as f64 - gain * s.a as f64 - off).abs();
        }
    }
    Agreement {
        share: if textured > 0 {
            agree as f64 / textured as f64
        } else {
            0.0
        },
        blocks: textured,
        residual: if g.n > 0.0 { sum / g.n } else { f64::NAN },
        covered: g.n as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::plane::{luma, Lattice};
    use image::{Rgba, RgbaImage};

    fn texture(w: u32, h: u32, dx: f32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let x = x as f32 - dx;
            let y = y as f32;
            let v = 128.0
                + 50.0 * (x * 0.31).sin() * (y * 0.23).cos()
                + 30.0 * (x * 0.07 + y * 0.11).sin();
            let v = v.clamp(0.0, 255.0) as u8;
            Rgba([v, v, v, 255])
        })
    }

    fn values(lat: &Lattice, b: &RgbaImage) -> Vec<f32> {
        lat.samples
            .iter()
            .map(|s| luma(b.get_pixel(s.x, s.y).0))
            .collect()
    }

    #[test]
    fn identical_agrees_and_shifted_does_not() {
        let a = texture(128, 96, 0.0);
        let lat = Lattice::new(&a, 512, TUNING.block);
        let same = agreement(&lat, &values(&lat, &a));
        assert_eq!(same.share, 1.0);
        assert!(same.residual < 1e-6);
        let moved = agreement(&lat, &values(&lat, &texture(128, 96, 2.0)));
        assert!(moved.share < 0.3, "{moved:?}");
        // Brighter B still agrees (per-block gain and offset).
        let brighter = RgbaImage::from_fn(128, 96, |x, y| {
            let p = a.get_pixel(x, y).0;
            let v = (p[0] as f32 * 1.1 + 5.0).min(255.0) as u8;
            Rgba([v, v, v, 255])
        });
        assert!(agreement(&lat, &values(&lat, &brighter)).share > 0.95);
    }
}
