//! Photometric correction: per channel B ≈ g·A + o, a robust line fit (Huber IRLS,
//! then a few Tukey biweight steps to shed the bias that gross outliers leave) on
//! unsaturated, low-gradient pixels of the overlap, as in relative radiometric
//! normalisation (Canty & Nielsen 2004); optionally a smooth multiplicative field
//! B ≈ (1 + q(x, y))·(g·A + o), q a quadratic in normalised coordinates (vignetting,
//! uneven lighting).

use super::TUNING;
use image::RgbaImage;
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use serde::Serialize;

/// The photometric correction found: B ≈ (1 + q(x, y))·(gain·A + offset) per channel.
/// [`Photometric::apply`] maps B's values back onto A's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Photometric {
    /// Per-channel gain (R, G, B).
    pub gain: [f32; 3],
    /// Per-channel offset (R, G, B), in levels.
    pub offset: [f32; 3],
    /// The multiplicative field q = c0 + c1 x + c2 y + c3 x² + c4 xy + c5 y², with
    /// x, y in -1..1 over A's frame; `None` when no field was fitted or kept.
    pub field: Option<[f32; 6]>,
    /// True when the correction changes B noticeably and was applied to the
    /// resampled B.
    pub applied: bool,
}

impl Default for Photometric {
    fn default() -> Self {
        Photometric::IDENTITY
    }
}

impl Photometric {
    /// No correction.
    pub const IDENTITY: Photometric = Photometric {
        gain: [1.0; 3],
        offset: [0.0; 3],
        field: None,
        applied: false,
    };

    /// q(x, y) at normalised coordinates.
    #[inline]
    pub fn q(&self, x: f32, y: f32) -> f32 {
        self.field.map_or(0.0, |c| {
            c[0] + c[1] * x + c[2] * y + c[3] * x * x + c[4] * x * y + c[5] * y * y
        })
    }

    /// Corrects the pixels of `img` (B in A's frame) in place: v ← (v/(1 + q) − o)/g.
    pub fn apply(&self, img: &mut RgbaImage) {
        let (w, h) = img.dimensions();
        let (cx, cy, s) = norm_params(w, h);
        let lut: Vec<[u8; 256]> = (0..3)
            .map(|c| {
                let mut t = [0u8; 256];
                for (v, o) in t.iter_mut().enumerate() {
                    *o = ((v as f32 - self.offset[c]) / self.gain[c])
                        .round()
                        .clamp(0.0, 255.0) as u8;
                }
                t
            })
            .collect();
        let row_len = w as usize * 4;
        img.par_chunks_mut(row_len)
            .enumerate()
            .for_each(|(y, row)| {
                let ny = (y as f32 - cy) * s;
                for (x, p) in row.chunks_exact_mut(4).enumerate() {
                    if self.field.is_none() {
                        for (v, t) in p.iter_mut().zip(&lut) {
                            *v = t[*v as usize];
                        }
                    } else {
                        let m = 1.0 + self.q((x as f32 - cx) * s, ny);
                        for (c, v) in p.iter_mut().take(3).enumerate() {
                            let u = (*v as f32 / m - self.offset[c]) / self.gain[c];
                            *v = u.round().clamp(0.0, 255.0) as u8;
                        }
                    }
                }
            });
    }
}

/// Centre and scale mapping pixel coordinates to -1..1 (long side).
pub(crate) fn norm_params(w: u32, h: u32) -> (f32, f32, f32) {
    (
        (w as f32 - 1.0) / 2.0,
        (h as f32 - 1.0) / 2.0,
        2.0 / w.max(h).max(2) as f32,
    )
}

/// One sample for the fit: A's and B's colour, normalised position.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColourSample {
    pub a: [f32; 3],
    pub b: [f32; 3],
    pub x: f32,
    pub y: f32,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let m = v.len() / 2;
    v.select_nth_unstable_by(m, |a, b| a.total_cmp(b));
    v[m]
}

/// Robust scale: 1.4826 · median |r|.
fn mad(r: &[f64]) -> f64 {
    let mut a: Vec<f64> = r.iter().map(|v| v.abs()).collect();
    1.4826 * median(&mut a)
}

/// Robust weighted least squares of `y` on the columns of `x` (rows = samples):
/// Huber IRLS from the ordinary fit, then Tukey biweight steps.
pub(crate) fn robust_lstsq(x: &DMatrix<f64>, y: &DVector<f64>) -> Option<(DVector<f64>, f64)> {
    let t = &TUNING;
    let n = x.nrows();
    let p = x.ncols();
    if n < 2 * p {
        return None;
    }
    let solve = |w: &[f64]| -> Option<DVector<f64>> {
        let mut xtx = DMatrix::<f64>::zeros(p, p);
        let mut xty = DVector::<f64>::zeros(p);
        for i in 0..n {
            let wi = w[i];
            if wi == 0.0 {
                continue;
            }
            for a in 0..p {
                let xa = x[(i, a)] * wi;
                xty[a] += xa * y[i];
                for b in a..p {
                    xtx[(a, b)] += xa * x[(i, b)];
                }
            }
        }
        for a in 0..p {
            for b in 0..a {
                xtx[(a, b)] = xtx[(b, a)];
            }
        }
        xtx.cholesky().map(|c| c.solve(&xty))
    };
    let mut w = vec![1.0; n];
    let mut beta = solve(&w)?;
    let mut sigma = 1.0;
    for it in 0..t.irls_iterations + t.tukey_iterations {
        let r: Vec<f64> = (0..n).map(|i| y[i] - (x.row(i) * &beta)[0]).collect();
        sigma = mad(&r).max(t.min_sigma);
        let huber = it < t.irls_iterations;
        for (wi, ri) in w.iter_mut().zip(&r) {
            *wi = weight(ri.abs(), sigma, huber);
        }
        let next = solve(&w)?;
        let change = (&next - &beta).amax();
        beta = next;
        if change < 1e-6 && !huber {
            break;
        }
    }
    Some((beta, sigma))
}

/// Robust line y ≈ g·x + o: (g, o, σ). The same iteration as [`robust_lstsq`],
/// written out for two parameters (it runs on every aligned pair).
pub(crate) fn robust_line(xs: &[f32], ys: &[f32]) -> Option<(f64, f64, f64)> {
    let t = &TUNING;
    let n = xs.len();
    if n < 4 {
        return None;
    }
    let solve = |w: &[f64]| -> Option<(f64, f64)> {
        let (mut sw, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            let (x, y, wi) = (xs[i] as f64, ys[i] as f64, w[i]);
            sw += wi;
            sx += wi * x;
            sy += wi * y;
            sxx += wi * x * x;
            sxy += wi * x * y;
        }
        let det = sw * sxx - sx * sx;
        if det.abs() < 1e-9 * sw.max(1.0) * sxx.max(1.0) {
            return None;
        }
        let g = (sw * sxy - sx * sy) / det;
        Some((g, (sy - g * sx) / sw))
    };
    let mut w = vec![1.0; n];
    let (mut g, mut o) = solve(&w)?;
    let mut r = vec![0f64; n];
    let mut sigma = 1.0;
    for it in 0..t.irls_iterations + t.tukey_iterations {
        for i in 0..n {
            r[i] = ys[i] as f64 - (g * xs[i] as f64 + o);
        }
        sigma = mad(&r).max(t.min_sigma);
        let huber = it < t.irls_iterations;
        for (wi, ri) in w.iter_mut().zip(&r) {
            *wi = weight(ri.abs(), sigma, huber);
        }
        let (g2, o2) = solve(&w)?;
        let change = (g2 - g).abs() * 255.0 + (o2 - o).abs();
        (g, o) = (g2, o2);
        if change < 1e-4 && !huber {
            break;
        }
    }
    Some((g, o, sigma))
}

/// Huber (k = 1.345σ) or Tukey biweight (c = 4.685σ) weight of a residual.
#[inline]
fn weight(u: f64, sigma: f64, huber: bool) -> f64 {
    if huber {
        let k = 1.345 * sigma;
        if u <= k {
            1.0
        } else {
            k / u
        }
    } else {
        let c = 4.685 * sigma;
        if u < c {
            (1.0 - (u / c).powi(2)).powi(2)
        } else {
            0.0
        }
    }
}

/// One channel's B ≈ g·A + o: a robust line when A's samples spread over at least
/// `TUNING.min_spread` levels (5th to 95th percentile), otherwise a gain alone
/// through the origin (a narrow range cannot tell gain from offset; lighting is
/// multiplicative). `None` when the gain is out of range.
fn fit_channel(xs: &[f32], ys: &[f32]) -> Option<(f64, f64, f64)> {
    let t = &TUNING;
    let mut sorted: Vec<f64> = xs.iter().map(|&v| v as f64).collect();
    let n = sorted.len();
    if n < 2 {
        return None;
    }
    sorted.sort_by(|a, b| a.total_cmp(b));
    let spread = sorted[n * 95 / 100] - sorted[n * 5 / 100];
    let (g, o, s) = if spread >= t.min_spread {
        robust_line(xs, ys)?
    } else {
        let x = DMatrix::from_fn(n, 1, |i, _| xs[i] as f64);
        let y = DVector::from_fn(n, |i, _| ys[i] as f64);
        let (b, s) = robust_lstsq(&x, &y)?;
        (b[0], 0.0, s)
    };
    (t.gain_range.0..=t.gain_range.1)
        .contains(&g)
        .then_some((g, o, s))
}

/// Fits the correction on `samples` (already restricted to the overlap and to
/// low-gradient pixels). `field`: also try the smooth field.
pub(crate) fn estimate(samples: &[ColourSample], field: bool) -> Photometric {
    let t = &TUNING;
    let ok = |v: f32| (t.unsaturated.0..=t.unsaturated.1).contains(&v);
    let agrees = |s: &ColourSample| (0..3).all(|c| (s.a[c] - s.b[c]).abs() <= 1.0);
    let mut used: Vec<&ColourSample> = samples
        .iter()
        .filter(|s| s.a.iter().chain(&s.b).all(|&v| ok(v)))
        .collect();
    // The samples whose agreement decides whether there is anything to fit.
    let mut judged = used.clone();
    if used.len() < t.min_photometric_samples {
        // A page that is almost all white (or black) on one side: a tone change
        // leaves the other side's levels unsaturated. Those samples are used, but
        // only when the pair as a whole does not agree (on a white page with one
        // grey block, white against white is the majority and nothing is fitted).
        used = samples
            .iter()
            .filter(|s| s.a.iter().all(|&v| ok(v)) || s.b.iter().all(|&v| ok(v)))
            .collect();
        if used.len() < t.min_photometric_samples {
            return Photometric::IDENTITY;
        }
        judged = samples.iter().collect();
    }
    // Nothing to fit when nearly every sample already matches (the common case of
    // an edited copy): no level would move by the tolerance.
    let exact = judged.iter().filter(|s| agrees(s)).count();
    if exact as f64 >= t.exact_share * judged.len() as f64 {
        return Photometric::IDENTITY;
    }
    let mut out = Photometric::IDENTITY;
    let mut sig = [0f64; 3];
    for (c, sc) in sig.iter_mut().enumerate() {
        let xs: Vec<f32> = used.iter().map(|s| s.a[c]).collect();
        let ys: Vec<f32> = used.iter().map(|s| s.b[c]).collect();
        if let Some((g, o, s)) = fit_channel(&xs, &ys) {
            out.gain[c] = g as f32;
            out.offset[c] = o as f32;
            *sc = s;
        }
    }
    let try_field = field && sig.iter().any(|&s| s >= t.field_try_sigma);
    if try_field {
        let step = used.len().div_ceil(t.field_samples).max(1);
        let used: Vec<&ColourSample> = used.iter().step_by(step).copied().collect();
        // Residual e = B − pred = q·pred over all channels (shared field).
        let n = used.len() * 3;
        let mut x = DMatrix::<f64>::zeros(n, 6);
        let mut y = DVector::<f64>::zeros(n);
        for (i, s) in used.iter().enumerate() {
            let (px, py) = (s.x as f64, s.y as f64);
            let basis = [1.0, px, py, px * px, px * py, py * py];
            for c in 0..3 {
                let pred = out.gain[c] as f64 * s.a[c] as f64 + out.offset[c] as f64;
                let r = 3 * i + c;
                for (k, bv) in basis.iter().enumerate() {
                    x[(r, k)] = pred * bv;
                }
                y[r] = s.b[c] as f64 - pred;
            }
        }
        let before = {
            let r: Vec<f64> = y.iter().copied().collect();
            mad(&r)
        };
        if let Some((q, after)) = robust_lstsq(&x, &y) {
            let cand = Photometric {
                field: Some([
                    q[0] as f32,
                    q[1] as f32,
                    q[2] as f32,
                    q[3] as f32,
                    q[4] as f32,
                    q[5] as f32,
                ]),
                ..out
            };
            let peak = [
                (-1.0, -1.0),
                (1.0, -1.0),
                (1.0, 1.0),
                (-1.0, 1.0),
                (0.0, 0.0),
            ]
            .iter()
            .map(|p| cand.q(p.0, p.1).abs())
            .fold(0.0f32, f32::max);
            if after <= (1.0 - t.field_gain) * before && peak >= t.field_min {
                // Refit gain and offset on B/(1 + q).
                for c in 0..3 {
                    let xs: Vec<f32> = used.iter().map(|s| s.a[c]).collect();
                    let ys: Vec<f32> = used
                        .iter()
                        .map(|s| s.b[c] / (1.0 + cand.q(s.x, s.y)))
                        .collect();
                    if let Some((g, o, _)) = fit_channel(&xs, &ys) {
                        out.gain[c] = g as f32;
                        out.offset[c] = o as f32;
                    }
                }
                out.field = cand.field;
            }
        }
    }
    // Kept only when it brings B closer to A on the samples, all of them (a robust
    // fit can follow the majority while a lighting change that is not one gain and
    // offset moves the rest away).
    let err = |p: &Photometric| -> f64 {
        used.iter()
            .map(|s| {
                let m = 1.0 + p.q(s.x, s.y);
                (0..3)
                    .map(|c| ((s.b[c] / m - p.offset[c]) / p.gain[c] - s.a[c]).abs() as f64)
                    .sum::<f64>()
            })
            .sum::<f64>()
    };
    if err(&out) > (1.0 - t.photometric_gain) * err(&Photometric::IDENTITY) {
        return Photometric::IDENTITY;
    }
    let broken = judged
        .iter()
        .filter(|s| {
            let m = 1.0 + out.q(s.x, s.y);
            (0..3).all(|c| (s.a[c] - s.b[c]).abs() <= 1.0)
                && (0..3).any(|c| {
                    ((s.b[c] / m - out.offset[c]) / out.gain[c] - s.a[c]).abs()
                        > t.photometric_tolerance
                })
        })
        .count();
    if broken as f64 >= t.exact_broken_share * judged.len() as f64 {
        return Photometric::IDENTITY;
    }
    // Applied when it moves some level by more than the tolerance.
    let moves = (0..3).any(|c| {
        [0.0f32, 128.0, 255.0]
            .iter()
            .any(|&v| (out.gain[c] * v + out.offset[c] - v).abs() > t.photometric_tolerance)
    });
    out.applied = moves || out.field.is_some();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::Rng;

    #[test]
    fn huber_fit_recovers_gain_and_offset_with_outliers() {
        let mut rng = Rng::new(3);
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for i in 0..2000 {
            let a = 20.0 + 200.0 * rng.unit() as f32;
            xs.push(a);
            if i % 10 == 0 {
                // 10 % outliers: a pasted object, far off the line.
                ys.push(255.0 * rng.unit() as f32);
            } else {
                ys.push(1.1 * a + 5.0 + 2.0 * rng.gaussian() as f32);
            }
        }
        let (g, o, s) = robust_line(&xs, &ys).unwrap();
        assert!((g - 1.1).abs() < 0.01, "gain {g}");
        assert!((o - 5.0).abs() < 1.0, "offset {o}");
        assert!((s - 2.0).abs() < 0.5, "sigma {s}");
    }

    #[test]
    fn field_recovers_a_vignette() {
        let mut samples = Vec::new();
        let mut rng = Rng::new(5);
        for _ in 0..3000 {
            let (x, y) = (rng.unit() as f32 * 2.0 - 1.0, rng.unit() as f32 * 2.0 - 1.0);
            let a = [50.0 + 150.0 * rng.unit() as f32; 3];
            let v = 1.0 - 0.25 * (x * x + y * y);
            samples.push(ColourSample {
                a,
                b: a.map(|c| c * v),
                x,
                y,
            });
        }
        let p = estimate(&samples, true);
        assert!(p.applied && p.field.is_some(), "{p:?}");
        let m = (1.0 + p.q(0.8, -0.6)) * (p.gain[0] * 100.0 + p.offset[0]);
        assert!((m - 100.0 * (1.0 - 0.25)).abs() < 1.0, "{p:?} {m}");
    }

    #[test]
    fn no_change_means_no_correction() {
        let samples: Vec<ColourSample> = (0..500)
            .map(|i| {
                let v = 20.0 + (i % 200) as f32;
                ColourSample {
                    a: [v; 3],
                    b: [v; 3],
                    x: 0.0,
                    y: 0.0,
                }
            })
            .collect();
        assert!(!estimate(&samples, true).applied);
    }

    #[test]
    fn a_white_page_turned_grey_is_a_tone_change_and_a_grey_block_on_it_is_not() {
        let flat = |a: f32, b: f32| ColourSample {
            a: [a; 3],
            b: [b; 3],
            x: 0.0,
            y: 0.0,
        };
        // B all white (saturated) against A a uniform light grey: only A's levels are
        // unsaturated, and they still tell the tone change.
        let samples: Vec<ColourSample> = (0..400).map(|_| flat(248.0, 255.0)).collect();
        let p = estimate(&samples, true);
        assert!(p.applied && (p.gain[0] * 248.0 + p.offset[0] - 255.0).abs() < 1.0);
        // White against white on most of the page, one grey block painted in B:
        // not a tone change.
        let mut samples: Vec<ColourSample> = (0..1000).map(|_| flat(255.0, 255.0)).collect();
        samples.extend((0..400).map(|_| flat(255.0, 128.0)));
        assert_eq!(estimate(&samples, true), Photometric::IDENTITY);
    }

    #[test]
    fn recoloured_sections_of_an_agreeing_page_are_not_lighting() {
        // 40 % of the samples agree to the level, the rest lie in sections whose
        // shade changed by one gain and offset: a fit follows the sections, and
        // would move the agreeing pixels, so nothing is corrected. With the same
        // change over every sample it is lighting, and corrected.
        let mut rng = Rng::new(7);
        let section = |a: f32| a * 1.1 - 6.0;
        let mut samples = Vec::new();
        for i in 0..2000 {
            let a = [40.0 + 180.0 * rng.unit() as f32; 3];
            let b = if i % 5 < 2 { a } else { a.map(section) };
            samples.push(ColourSample {
                a,
                b,
                x: 0.0,
                y: 0.0,
            });
        }
        assert_eq!(estimate(&samples, false), Photometric::IDENTITY);
        for s in &mut samples {
            s.b = s.a.map(section);
        }
        let p = estimate(&samples, false);
        assert!(p.applied && (p.gain[0] - 1.1).abs() < 0.01, "{p:?}");
    }
}
