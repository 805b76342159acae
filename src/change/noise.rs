//! The noise of the pair, measured from its residual: a robust level per channel
//! (what sensor noise, JPEG and resampling leave everywhere) and an edge-jitter
//! factor (how far shared edges moved: sub-pixel shifts, anti-aliasing, ringing
//! grow with the local gradient, not in flat areas).

use super::residual::Residual;
use super::Model;
use serde::Serialize;

/// Upper edges of the activity bins of the noise level function (Lab units per
/// pixel); the last bin is open.
pub const BINS: [f32; 8] = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// The noise model of the residual of channel `c` at a pixel: Gaussian noise whose
/// level depends on the local activity (a noise level function: flat areas of a
/// screenshot are exact, compression error lives around text and texture), plus
/// edge jitter of up to `jitter[c] · g`, with `g` the pixel's shared gradient.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Noise {
    /// Robust standard deviation of the residual per Lab channel ([`spread`]) where
    /// most pixels are: the level of the most populated activity bin, at least
    /// [`Model::sigma_floor`].
    pub sigma: [f32; 3],
    /// Edge jitter per channel, in pixels: the 95th percentile of the residual on
    /// shared edges divided by their gradient, from [`Model::min_jitter`] to
    /// [`Model::max_jitter`].
    pub jitter: [f32; 3],
    /// Per channel, the noise level (standard deviation) per activity bin
    /// ([`BINS`], then the open bin): never below the flatter bins' level.
    pub levels: [[f32; 9]; 3],
}

impl Noise {
    /// Estimates the noise from every tested pixel (`q` 0.95, see [`spread`]).
    #[cfg(test)]
    pub fn estimate(r: &Residual, model: &Model) -> Noise {
        Noise::estimate_without(r, model, None, 0.95)
    }

    /// Estimates the noise from the tested pixels outside `changed` (1 = inside a
    /// detection of a first pass), with tail quantile `q`: once the changes are left
    /// out, the tails of the residual are the noise's own.
    pub fn estimate_without(r: &Residual, model: &Model, changed: Option<&[u8]>, q: f64) -> Noise {
        let n = r.valid.len();
        let tested =
            |i: usize| r.valid[i] == 1 && r.hidden[i] == 0 && changed.is_none_or(|c| c[i] == 0);
        // Every pixel for small images; a regular subsample of about a million.
        let step = (n / 1_000_000).max(1);
        let mut jitter = [model.min_jitter; 3];
        let mut levels = [[model.sigma_floor; 9]; 3];
        let mut sigma = [model.sigma_floor; 3];
        // Too few pixels to measure the pair's noise (an icon): the model's floor.
        if (0..n).filter(|&i| r.valid[i] == 1).take(MIN_PIXELS).count() < MIN_PIXELS {
            return Noise {
                sigma,
                jitter,
                levels,
            };
        }
        for c in 0..3 {
            let mut bins: [Vec<f32>; 9] = Default::default();
            for i in (0..n).step_by(step).filter(|&i| tested(i)) {
                bins[bin(r.activity[c][i])].push(r.d[c][i]);
            }
            // The whole pair's level is a lower bound for every bin.
            let all: Vec<f32> = bins.iter().flatten().copied().collect();
            let mut level = spread(all, q).max(model.sigma_floor);
            let fullest = (0..9).max_by_key(|&k| bins[k].len()).unwrap_or(0);
            for (k, v) in bins.into_iter().enumerate() {
                if v.len() >= 256 {
                    level = level.max(spread(v, q));
                }
                levels[c][k] = level.min(model.max_sigma);
            }
            sigma[c] = levels[c][fullest];
            let edges: Vec<f32> = (0..n)
                .step_by(step)
                .filter(|&i| tested(i) && r.g[c][i] >= model.edge_gradient)
                .map(|i| (r.d[c][i] / r.g[c][i]).abs())
                .collect();
            if edges.len() >= 64 {
                jitter[c] = quantile(edges, 0.95)
                    .max(model.min_jitter)
                    .min(model.max_jitter);
            }
        }
        Noise {
            sigma,
            jitter,
            levels,
        }
    }

    /// The variance of channel `c`'s random residual at a pixel of local activity
    /// `act` ([`Residual::activity`]).
    #[inline]
    pub fn variance(&self, c: usize, act: f32) -> f32 {
        let s = self.levels[c][bin(act)];
        s * s
    }

    /// What edge jitter can explain of channel `c`'s residual at a pixel of shared
    /// gradient `g`.
    #[inline]
    pub fn jitter_bound(&self, c: usize, g: f32) -> f32 {
        self.jitter[c] * g
    }
}

/// The pair's bulk noise, √Σ σ² over the Lab channels of the tested pixels (a regular
/// subsample of about a million), σ read from the lower quartile of the absolute
/// deviations from the median (0.3186 σ for a Gaussian): what the quietest pixels
/// show, robust to changes covering up to three quarters of them.
pub fn bulk_level(r: &Residual) -> f32 {
    let n = r.valid.len();
    let step = (n / 1_000_000).max(1);
    (0..3)
        .map(|c| {
            let v: Vec<f32> = (0..n)
                .step_by(step)
                .filter(|&i| r.valid[i] == 1)
                .map(|i| r.d[c][i])
                .collect();
            let mut v = v;
            let med = median(&mut v);
            let dev: Vec<f32> = v.iter().map(|x| (x - med).abs()).collect();
            (quantile(dev, 0.25) / 0.3186).powi(2)
        })
        .sum::<f32>()
        .sqrt()
}

/// Fewer tested pixels than this (32 × 32) are too few to measure a pair's noise
/// from: the noise is then [`Model::sigma_floor`] and [`Model::min_jitter`].
pub const MIN_PIXELS: usize = 1024;

/// The activity bin of a value.
#[inline]
fn bin(act: f32) -> usize {
    BINS.iter().position(|&e| act < e).unwrap_or(BINS.len())
}

/// A robust standard deviation that also sees heavy tails: the larger of
/// 1.4826 · MAD (the bulk, Gaussian noise) and the `q` quantile of the absolute
/// deviation over the Gaussian's (ringing and compression errors are
/// heavier-tailed than a Gaussian). Robust to changes covering under `1 − q` of the
/// values.
pub fn spread(mut v: Vec<f32>, q: f64) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let med = median(&mut v);
    for x in v.iter_mut() {
        *x = (*x - med).abs();
    }
    let k = ((v.len() as f64 * q) as usize).min(v.len() - 1);
    let tail = *v.select_nth_unstable_by(k, f32::total_cmp).1;
    (1.4826 * median(&mut v)).max(tail / gaussian_quantile(q))
}

/// The two-sided Gaussian quantile of `q` (|z| exceeded with probability 1 − q), by
/// bisection on the tail.
fn gaussian_quantile(q: f64) -> f32 {
    super::windows::z_needed(0.0, (1.0 - q).log10()) as f32
}

/// The `q` quantile (0 for no values), reordering `v`.
pub fn quantile(mut v: Vec<f32>, q: f64) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let k = ((v.len() as f64 * q) as usize).min(v.len() - 1);
    *v.select_nth_unstable_by(k, f32::total_cmp).1
}

/// Median absolute deviation from the median (0 for no values).
pub fn mad(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let med = median(&mut v);
    for x in v.iter_mut() {
        *x = (*x - med).abs();
    }
    median(&mut v)
}

/// Median (the upper one for an even count), reordering `v`.
pub fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f32::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgba, RgbaImage};

    #[test]
    fn mad_of_a_literal() {
        assert_eq!(mad(vec![1.0, 2.0, 3.0, 4.0, 100.0]), 1.0);
        assert_eq!(mad(vec![]), 0.0);
    }

    #[test]
    fn a_lossless_pair_has_the_floor_and_noise_is_measured() {
        let model = Model::default();
        let a = RgbaImage::from_fn(64, 64, |x, y| {
            let v = (x * 3 + y) as u8;
            Rgba([v, v, v, 255])
        });
        let mut b = a.clone();
        b.put_pixel(10, 10, Rgba([255, 0, 0, 255]));
        let n = Noise::estimate(&Residual::new(&a, &b, false, None, |_, _| true), &model);
        assert_eq!(n.sigma, [model.sigma_floor; 3]);
        // Deterministic noise, uniform in ±6 levels, on every pixel.
        let noisy = RgbaImage::from_fn(64, 64, |x, y| {
            let p = a.get_pixel(x, y).0;
            let s = ((x * 7 + y * 13) % 13) as i16 - 6;
            let v = (i16::from(p[0]) + s).clamp(0, 255) as u8;
            Rgba([v, v, v, 255])
        });
        let n = Noise::estimate(&Residual::new(&a, &noisy, false, None, |_, _| true), &model);
        assert!(n.sigma[0] > 1.5, "{:?}", n.sigma);
        assert_eq!(n.sigma[1], model.sigma_floor, "grey noise has no chroma");
    }

    #[test]
    fn the_noise_level_follows_the_activity() {
        // Left half flat and exact; right half striped, with ±4 levels of noise in B.
        // (The whole pair's level bounds every bin from below.)
        let a = RgbaImage::from_fn(128, 64, |x, _| {
            let v = if x >= 64 && x % 2 == 0 { 60 } else { 200 };
            Rgba([v, v, v, 255])
        });
        let b = RgbaImage::from_fn(128, 64, |x, y| {
            let p = a.get_pixel(x, y).0;
            let s = if x >= 64 {
                ((x * 7 + y * 13) % 9) as i16 - 4
            } else {
                0
            };
            let v = (i16::from(p[0]) + s) as u8;
            Rgba([v, v, v, 255])
        });
        let model = Model::default();
        let n = Noise::estimate(&Residual::new(&a, &b, false, None, |_, _| true), &model);
        let flat = n.levels[0][0];
        let busy = n.levels[0][8];
        assert!(busy > 1.25 * flat, "{:?}", n.levels[0]);
        assert!(n.variance(0, 100.0) > n.variance(0, 0.0));
    }
}
