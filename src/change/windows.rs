//! The multiscale test: the mean residual of every window of a family of sizes and
//! aspect ratios, read from integral images, against what the noise model allows
//! for that window (edge jitter up to a bound, then Gaussian noise). A window is significant when its number of false alarms,
//! `NFA = N_tests · 2Φ̄(|z|)`, is at most ε, and its mean is visible (at least the
//! effect floor, ΔE).

use super::noise::Noise;
use super::residual::Residual;
use super::Model;
use crate::cancel::Cancel;
use rayon::prelude::*;

/// The windows' sizes: about √2 apart, from one pixel to the whole image.
fn sizes(limit: u32) -> Vec<u32> {
    let mut out = vec![1, 2, 3];
    let mut s = 4u32;
    while s <= limit {
        out.push(s);
        out.push(s + s / 2);
        s *= 2;
    }
    out.retain(|&v| v <= limit);
    out
}

/// A window shape, `w × h`, and its positions (every half window, plus the last
/// position flush with the far edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub w: u32,
    pub h: u32,
}

impl Shape {
    /// Squares and 3:1 / 1:3 rectangles (lines of text, borders, wires).
    pub fn family(width: u32, height: u32) -> Vec<Shape> {
        let mut out = Vec::new();
        for s in sizes(width.max(height)) {
            for (w, h) in [(s, s), (3 * s, s), (s, 3 * s)] {
                if w <= width && h <= height {
                    out.push(Shape { w, h });
                }
            }
        }
        out
    }

    fn stride(&self) -> (u32, u32) {
        ((self.w / 2).max(1), (self.h / 2).max(1))
    }

    fn starts(len: u32, size: u32, stride: u32) -> Vec<u32> {
        let last = len - size;
        let mut v: Vec<u32> = (0..=last).step_by(stride as usize).collect();
        if *v.last().unwrap() != last {
            v.push(last);
        }
        v
    }

    fn positions(&self, width: u32, height: u32) -> (Vec<u32>, Vec<u32>) {
        let (sx, sy) = self.stride();
        (
            Shape::starts(width, self.w, sx),
            Shape::starts(height, self.h, sy),
        )
    }
}

/// Integral images of the residual, of the shared gradient, of the noise variance
/// and of the tested-pixel count. The residual's are built once per pair; the
/// variance's again for each noise estimate ([`Integrals::with_noise`]).
pub struct Integrals {
    width: u32,
    height: u32,
    stride: usize,
    d: [Vec<f64>; 3],
    g: [Vec<f64>; 3],
    v: [Vec<f64>; 3],
    n: Vec<u32>,
    /// Per cell of [`CELL`]² pixels (`cols` per row), the largest ΔE94 of the
    /// residual: no window inside cells under the effect floor can reach it (a
    /// window's mean is at most its largest pixel), so the test skips them.
    peak: Vec<f32>,
    cols: u32,
}

/// The integral image of `value(i)` over a `w × h` plane (one row and column of
/// zeros first).
fn integral(w: usize, h: usize, value: impl Fn(usize) -> f64) -> Vec<f64> {
    let mut out = vec![0f64; (w + 1) * (h + 1)];
    integral_into(&mut out, w, h, value);
    out
}

/// [`integral`] into `out`, reusing its memory (a fresh plane of that size costs
/// more in page faults than the sums themselves).
fn integral_into(out: &mut Vec<f64>, w: usize, h: usize, value: impl Fn(usize) -> f64) {
    let stride = w + 1;
    out.resize(stride * (h + 1), 0.0);
    out[..stride].fill(0.0);
    for y in 0..h {
        out[(y + 1) * stride] = 0.0;
        let mut row = 0f64;
        for x in 0..w {
            row += value(y * w + x);
            out[(y + 1) * stride + x + 1] = out[y * stride + x + 1] + row;
        }
    }
}

/// The integral image of a count: how many of the `w × h` cells (row-major) before
/// and above each position `hit`, laid out as [`integral`].
fn counts(w: usize, h: usize, hit: impl Fn(usize) -> bool) -> Vec<u32> {
    let stride = w + 1;
    let mut out = vec![0u32; stride * (h + 1)];
    for y in 0..h {
        let mut row = 0u32;
        for x in 0..w {
            row += u32::from(hit(y * w + x));
            out[(y + 1) * stride + x + 1] = out[y * stride + x + 1] + row;
        }
    }
    out
}

impl Integrals {
    /// `delta_e`: the residual's ΔE94 per pixel ([`Residual::delta_e`]).
    pub fn new(r: &Residual, delta_e: &[f32]) -> Integrals {
        let (w, h) = (r.width as usize, r.height as usize);
        let stride = w + 1;
        let planes: Vec<Vec<f64>> = (0..6)
            .into_par_iter()
            .map(|k| {
                let c = k % 3;
                if k < 3 {
                    integral(w, h, |i| f64::from(r.d[c][i]))
                } else {
                    integral(w, h, |i| f64::from(r.g[c][i]) * f64::from(r.valid[i]))
                }
            })
            .collect();
        let mut it = planes.into_iter();
        let d = std::array::from_fn(|_| it.next().unwrap());
        let g = std::array::from_fn(|_| it.next().unwrap());
        let n = counts(w, h, |i| r.valid[i] == 1);
        let cols = r.width.div_ceil(CELL);
        let mut peak = vec![0f32; cols as usize * r.height.div_ceil(CELL) as usize];
        for y in 0..h {
            let row = &mut peak[(y / CELL as usize) * cols as usize..];
            for x in 0..w {
                let p = &mut row[x / CELL as usize];
                *p = p.max(delta_e[y * w + x]);
            }
        }
        Integrals {
            width: r.width,
            height: r.height,
            stride,
            d,
            g,
            v: Default::default(),
            n,
            peak,
            cols,
        }
    }

    /// The integral, over cells laid out as [`Integrals::peak`] (`cols + 1` per
    /// row, one row and column of zeros first), of the cells whose peak is over
    /// `level`.
    fn cells_over(&self, level: f32) -> Vec<u32> {
        let (cols, rows) = (self.cols as usize, self.height.div_ceil(CELL) as usize);
        counts(cols, rows, |i| self.peak[i] > level)
    }

    /// Whether window `s` at `(x, y)` touches a cell of `over` ([`Integrals::cells_over`]).
    #[inline]
    fn touches(&self, over: &[u32], x: u32, y: u32, s: Shape) -> bool {
        let (x0, y0) = ((x / CELL) as usize, (y / CELL) as usize);
        let (x1, y1) = (
            ((x + s.w - 1) / CELL) as usize + 1,
            ((y + s.h - 1) / CELL) as usize + 1,
        );
        let k = self.cols as usize + 1;
        over[y1 * k + x1] + over[y0 * k + x0] != over[y0 * k + x1] + over[y1 * k + x0]
    }

    /// The variance planes for `noise` (replacing any earlier ones).
    pub fn with_noise(&mut self, r: &Residual, noise: &Noise) {
        let (w, h) = (r.width as usize, r.height as usize);
        self.v.par_iter_mut().enumerate().for_each(|(c, plane)| {
            integral_into(plane, w, h, |i| {
                f64::from(noise.variance(c, r.activity[c][i])) * f64::from(r.valid[i])
            })
        });
    }

    #[inline]
    fn sum(&self, p: &[f64], x: u32, y: u32, s: Shape) -> f64 {
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = (x0 + s.w as usize, y0 + s.h as usize);
        let k = self.stride;
        p[y1 * k + x1] - p[y0 * k + x1] - p[y1 * k + x0] + p[y0 * k + x0]
    }

    #[inline]
    fn count(&self, x: u32, y: u32, s: Shape) -> u32 {
        self.count_in(&self.n, x, y, s)
    }

    /// The sum over a window of a count plane laid out as [`Integrals::n`].
    #[inline]
    fn count_in(&self, p: &[u32], x: u32, y: u32, s: Shape) -> u32 {
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = (x0 + s.w as usize, y0 + s.h as usize);
        let k = self.stride;
        p[y1 * k + x1] + p[y0 * k + x0] - p[y0 * k + x1] - p[y1 * k + x0]
    }
}

/// What one window says, per channel: z, the part of its mean difference that
/// edge jitter cannot explain over the noise's standard deviation for the window;
/// the share of the jitter bound in the allowance; and that unexplained mean.
struct Stat {
    /// Tested pixels in the window.
    n: u32,
    z: [f64; 3],
    share: [f64; 3],
    mean: [f64; 3],
}

/// The tested pixels of a window, when it is a test: windows mostly outside the
/// tested area are not.
#[inline]
fn tested(ii: &Integrals, x: u32, y: u32, s: Shape) -> Option<u32> {
    let n = ii.count(x, y, s);
    (2 * u64::from(n) >= u64::from(s.w) * u64::from(s.h) && n > 0).then_some(n)
}

/// Edge jitter is bounded, not random: an edge moved by up to δ px changes each
/// pixel by up to δ·g, with the same sign all along the edge, so a window's sum may
/// be off by up to δ·Σg without any change. Only the excess is tested against the
/// noise, `√Σσ²`.
fn stat(ii: &Integrals, noise: &Noise, x: u32, y: u32, s: Shape) -> Option<Stat> {
    let n = tested(ii, x, y, s)?;
    let mut st = Stat {
        n,
        z: [0.0; 3],
        share: [0.0; 3],
        mean: [0.0; 3],
    };
    let nf = f64::from(n);
    for c in 0..3 {
        let d = ii.sum(&ii.d[c], x, y, s);
        let bound = f64::from(noise.jitter[c]) * ii.sum(&ii.g[c], x, y, s).max(0.0);
        let excess = (d.abs() - bound).max(0.0).copysign(d);
        let sd = ii.sum(&ii.v[c], x, y, s).max(1e-12).sqrt();
        st.z[c] = excess / sd;
        st.share[c] = bound / (bound + sd);
        st.mean[c] = excess / nf;
    }
    Some(st)
}

/// log10 of the two-sided Gaussian tail `2Φ̄(z) = erfc(z/√2)`, accurate far into
/// the tail (Numerical Recipes' erfc, fractional error under 1.2e-7, in log form).
pub fn log10_tail(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    (t.ln() + poly) / std::f64::consts::LN_10
}

/// The |z| at which a test among `log10_n` (log10 of their number) reaches
/// NFA = 10^`log10_eps`.
pub fn z_needed(log10_n: f64, log10_eps: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if log10_n + log10_tail(mid) > log10_eps {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The test's result: which pixels lie in a significant window, and per cell of
/// [`CELL`] pixels the best (lowest) log10 NFA of the windows touching it, by scale:
/// `scales[k]` over the windows whose longer side is at most `CELL · 2^k` (so a
/// region's own significance is read from windows of about its size, not from a
/// large change's windows that reach it).
pub struct Significant {
    pub covered: Vec<u8>,
    pub scales: Vec<Vec<f32>>,
    pub cols: u32,
}

/// Cell side of [`Significant::scales`].
pub const CELL: u32 = 8;

/// The scale class of a window's longer side: the least k with `side ≤ CELL · 2^k`.
fn scale_of(side: u32) -> usize {
    let mut k = 0;
    while u64::from(CELL) << k < u64::from(side) {
        k += 1;
    }
    k
}

impl Significant {
    /// The best log10 NFA of the windows of every size touching `rect`'s cells
    /// (x1, y1 inclusive).
    pub fn best_in(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> f32 {
        self.best_up_to(u32::MAX, (x0, y0, x1, y1))
    }

    /// The best log10 NFA of the windows whose longer side is at most `side` (rounded
    /// up to a scale class) touching `rect`'s cells.
    pub fn best_up_to(&self, side: u32, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> f32 {
        let Some(cells) = self.scales.get(scale_of(side)).or(self.scales.last()) else {
            return f32::INFINITY;
        };
        let mut best = f32::INFINITY;
        for cy in y0 / CELL..=y1 / CELL {
            for cx in x0 / CELL..=x1 / CELL {
                best = best.min(cells[(cy * self.cols + cx) as usize]);
            }
        }
        best
    }
}

/// Per shape and channel, the spread of the raw z over a sample of windows, for
/// windows dominated by edge jitter and for the others: the inflation that spatial
/// correlation (JPEG blocks, demosaicing) and the model's error add. At least 1.
/// `None` where too few windows were sampled to measure (the largest shapes): the
/// caller keeps the inflation of the next smaller shape of the same aspect.
fn inflation(
    ii: &Integrals,
    noise: &Noise,
    shape: Shape,
    xs: &[u32],
    ys: &[u32],
) -> [[Option<f64>; 2]; 3] {
    const SAMPLE: usize = 4096;
    // Measured only where at least 256 disjoint windows fit: with fewer, one change
    // is a large share of the sample (the caller carries a smaller shape's value).
    let (iw, ih) = (*xs.last().unwrap() + shape.w, *ys.last().unwrap() + shape.h);
    if u64::from(shape.w) * u64::from(shape.h) * 256 > u64::from(iw) * u64::from(ih) {
        return [[None; 2]; 3];
    }
    let total = xs.len() * ys.len();
    let step = (total / SAMPLE).max(1);
    let mut z: [[Vec<f32>; 2]; 3] = Default::default();
    for k in (0..total).step_by(step) {
        let (x, y) = (xs[k % xs.len()], ys[k / xs.len()]);
        if let Some(st) = stat(ii, noise, x, y, shape) {
            for c in 0..3 {
                z[c][usize::from(st.share[c] >= 0.5)].push(st.z[c] as f32);
            }
        }
    }
    let mut out = [[None; 2]; 3];
    for c in 0..3 {
        for g in 0..2 {
            let v = std::mem::take(&mut z[c][g]);
            if v.len() >= 32 {
                out[c][g] = Some((1.4826 * f64::from(super::noise::mad(v))).max(1.0));
            }
        }
    }
    out
}

/// A window's strongest channel: its z over that channel's inflation, and the
/// number of independent pixels it counts as (n / κ²).
#[inline]
fn strongest(st: &Stat, kappa: &[[f64; 2]; 3]) -> (f64, f64) {
    let (z, k) = kappa
        .iter()
        .zip(st.share.iter().zip(&st.z))
        .map(|([flat, edge], (share, z))| {
            let k = flat + share * (edge - flat);
            (z.abs() / k, k)
        })
        .fold((0f64, 1f64), |best, v| if v.0 > best.0 { v } else { best });
    (z, f64::from(st.n) / (k * k))
}

/// How heavy the tail of a shape's windows is, measured on the windows that touch
/// no known change (`excluded`: integral of the excluded pixels; `nonzero`: of the cells
/// where the residual is not zero, [`Integrals::cells_over`]): Bernstein's bound
/// `2·exp(−z² / (2(1 + h·z / (3√n))))` for a sum of `n` independent pixels, set
/// equal to the share `q` of windows beyond the measured quantile `z_q`, solved for
/// the per-pixel heaviness `h` (0: Gaussian). Codec errors are heavy-tailed and
/// spatially coherent: a JPEG pair has 5×5 patches 8σ off, which a Gaussian says
/// never happen; sums of many pixels become Gaussian again, as `1/√n`. `q` is 10⁻³,
/// or what the count allows (100 windows beyond it); `None` under 1000 windows.
fn tail_heaviness(
    ii: &Integrals,
    noise: &Noise,
    shape: Shape,
    xs: &[u32],
    ys: &[u32],
    kappa: &[[f64; 2]; 3],
    (excluded, nonzero): (&[u32], &[u32]),
) -> Option<f64> {
    // Only the upper tail is kept (z over 2: a few per cent of null windows).
    let (tail, count): (Vec<(f32, f32)>, usize) = ys
        .par_iter()
        .map(|&y| {
            let mut tail = Vec::new();
            let mut count = 0;
            for &x in xs {
                if ii.count_in(excluded, x, y, shape) > 0 {
                    continue;
                }
                // A window whose residual is zero throughout has z = 0.
                if !ii.touches(nonzero, x, y, shape) {
                    count += usize::from(tested(ii, x, y, shape).is_some());
                    continue;
                }
                let Some(st) = stat(ii, noise, x, y, shape) else {
                    continue;
                };
                count += 1;
                let (z, n_eff) = strongest(&st, kappa);
                if z > 2.0 {
                    tail.push((z as f32, n_eff as f32));
                }
            }
            (tail, count)
        })
        .reduce(
            || (Vec::new(), 0),
            |mut a, b| {
                a.0.extend(b.0);
                (a.0, a.1 + b.1)
            },
        );
    if count < 1000 {
        return None;
    }
    let q = (100.0 / count as f64).max(1e-3);
    let k = (q * count as f64) as usize;
    if tail.len() <= k {
        return Some(0.0);
    }
    let mut tail = tail;
    tail.select_nth_unstable_by(k, |a, b| b.0.total_cmp(&a.0));
    let (zq, n_eff) = (f64::from(tail[k].0), f64::from(tail[k].1));
    let zg = z_needed(0.0, q.log10());
    // z_q / √(1 + h·z_q/(3√n)) = the Gaussian quantile of q.
    let h = ((zq / zg).powi(2) - 1.0) * 3.0 * n_eff.sqrt() / zq;
    Some(h.max(0.0))
}

/// Runs the test on every window of [`Shape::family`].
/// `ii` must hold the variance planes of `noise` ([`Integrals::with_noise`]).
pub fn test(
    ii: &Integrals,
    noise: &Noise,
    model: &Model,
    floor: f32,
    exclude: Option<&[u8]>,
    cancel: &Cancel,
) -> Significant {
    let (w, h) = (ii.width, ii.height);
    let shapes = Shape::family(w, h);
    let placed: Vec<(Shape, Vec<u32>, Vec<u32>)> = shapes
        .iter()
        .map(|s| {
            let (xs, ys) = s.positions(w, h);
            (*s, xs, ys)
        })
        .collect();
    let windows: u64 = placed
        .iter()
        .map(|(_, xs, ys)| (xs.len() * ys.len()) as u64)
        .sum();
    let log10_tests = (3.0 * windows as f64).log10();
    let z_min = z_needed(log10_tests, model.log10_eps);
    let cols = w.div_ceil(CELL);
    let rows = h.div_ceil(CELL);
    let classes = scale_of(w.max(h)) + 1;
    let mut scales = vec![vec![f32::INFINITY; (cols * rows) as usize]; classes];
    let stride = w as usize + 1;
    let mut diff = vec![0i32; stride * (h as usize + 1)];
    let floor2 = f64::from(floor) * f64::from(floor);
    // Cells where a window's mean could reach the floor, and where the residual is
    // not zero (`tail_heaviness`).
    let hot = ii.cells_over(0.999 * floor);
    let nonzero = exclude.map(|_| ii.cells_over(0.0));
    let excluded = exclude.map(|e| counts(w as usize, h as usize, |i| e[i] != 0));
    let mut last_heavy = [0f64; 3];
    // The inflation last measured per aspect (square, wide, tall), channel and group;
    // it never decreases with the window's size (correlated noise adds up).
    let mut last = [[[1.0f64; 2]; 3]; 3];
    for (shape, xs, ys) in &placed {
        cancel.bail("change test");
        let aspect = match shape.w.cmp(&shape.h) {
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
            std::cmp::Ordering::Less => 2,
        };
        let measured = inflation(ii, noise, *shape, xs, ys);
        let mut kappa = last[aspect];
        // Correlation inflates a window's z by at most √n (all its pixels one
        // variable): a larger spread is changes, not noise (they cover most windows
        // when most of the image changed).
        let cap = f64::from(shape.w * shape.h).sqrt();
        for c in 0..3 {
            for g in 0..2 {
                if let Some(k) = measured[c][g] {
                    kappa[c][g] = kappa[c][g].max(k).min(cap);
                }
            }
            // Edge windows not measured at all count as the others.
            if measured[c][1].is_none() && kappa[c][1] < kappa[c][0] {
                kappa[c][1] = kappa[c][0];
            }
        }
        last[aspect] = kappa;
        // The tail of this shape's windows away from the known changes.
        let heavy = match (&excluded, &nonzero) {
            (Some(ex), Some(nz)) => {
                let measured = tail_heaviness(ii, noise, *shape, xs, ys, &kappa, (ex, nz));
                let h = measured.unwrap_or(0.0).max(last_heavy[aspect]);
                last_heavy[aspect] = h;
                h
            }
            _ => 0.0,
        };
        let hits: Vec<Vec<(u32, f32)>> = ys
            .par_iter()
            .map(|&y| {
                let mut row = Vec::new();
                for &x in xs {
                    if !ii.touches(&hot, x, y, *shape) {
                        continue;
                    }
                    let Some(st) = stat(ii, noise, x, y, *shape) else {
                        continue;
                    };
                    let effect2: f64 = st.mean.iter().map(|m| m * m).sum();
                    if effect2 < floor2 {
                        continue;
                    }
                    let (z, n_eff) = strongest(&st, &kappa);
                    if z < z_min {
                        continue;
                    }
                    let z = z / (1.0 + heavy * z / (3.0 * n_eff.sqrt())).sqrt();
                    if z >= z_min {
                        row.push((x, (log10_tests + log10_tail(z)) as f32));
                    }
                }
                row
            })
            .collect();
        let cells = &mut scales[scale_of(shape.w.max(shape.h))];
        for (&y, row) in ys.iter().zip(&hits) {
            let (y0, y1) = (y as usize, (y + shape.h) as usize);
            for &(x, lnfa) in row {
                let (x0, x1) = (x as usize, (x + shape.w) as usize);
                diff[y0 * stride + x0] += 1;
                diff[y0 * stride + x1] -= 1;
                diff[y1 * stride + x0] -= 1;
                diff[y1 * stride + x1] += 1;
                for cy in y / CELL..=(y + shape.h - 1) / CELL {
                    for cx in x / CELL..=(x + shape.w - 1) / CELL {
                        let c = &mut cells[(cy * cols + cx) as usize];
                        *c = c.min(lnfa);
                    }
                }
            }
        }
    }
    // Prefix sums of the difference array: > 0 inside some significant window.
    let (wu, hu) = (w as usize, h as usize);
    let mut covered = vec![0u8; wu * hu];
    let mut above = vec![0i32; wu + 1];
    for y in 0..hu {
        let mut run = 0i32;
        for x in 0..wu {
            run += diff[y * stride + x];
            above[x] += run;
            covered[y * wu + x] = u8::from(above[x] > 0);
        }
    }
    // Each class holds the smaller ones too.
    for k in 1..classes {
        let (lower, upper) = scales.split_at_mut(k);
        for (u, l) in upper[0].iter_mut().zip(&lower[k - 1]) {
            *u = u.min(*l);
        }
    }
    Significant {
        covered,
        scales,
        cols,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_matches_known_values() {
        // 2Φ̄(1.96) = 0.05, 2Φ̄(5) = 5.733e-7, 2Φ̄(10) = 1.524e-23.
        assert!((log10_tail(1.96) - 0.05f64.log10()).abs() < 1e-3);
        assert!((log10_tail(5.0) - 5.733e-7f64.log10()).abs() < 1e-3);
        assert!((log10_tail(10.0) - 1.524e-23f64.log10()).abs() < 1e-2);
        let z = z_needed(7.0, 0.0);
        assert!((7.0 + log10_tail(z)).abs() < 1e-6);
        assert!(z > 5.0 && z < 6.0, "{z}");
    }

    #[test]
    fn shapes_cover_every_size_and_positions_reach_the_far_edge() {
        let f = Shape::family(10, 7);
        assert!(f.contains(&Shape { w: 1, h: 1 }));
        assert!(f.contains(&Shape { w: 6, h: 6 }));
        assert!(f.contains(&Shape { w: 9, h: 3 }));
        assert!(f.iter().all(|s| s.w <= 10 && s.h <= 7));
        let (xs, ys) = Shape { w: 4, h: 4 }.positions(10, 7);
        assert_eq!(xs, vec![0, 2, 4, 6]);
        assert_eq!(ys, vec![0, 2, 3]);
    }

    #[test]
    fn windows_away_from_any_large_difference_are_skipped_and_no_others() {
        // 40×24, one pixel of B changed by about ΔE 20 at (21, 9): cell (2, 1).
        let a = image::RgbaImage::from_pixel(40, 24, image::Rgba([128, 128, 128, 255]));
        let mut b = a.clone();
        b.put_pixel(21, 9, image::Rgba([180, 128, 128, 255]));
        let r = Residual::new(&a, &b, false, None, |_, _| true);
        let de: Vec<f32> = (0..r.valid.len()).map(|i| r.delta_e(i)).collect();
        let ii = Integrals::new(&r, &de);
        let hot = ii.cells_over(10.0);
        let one = Shape { w: 1, h: 1 };
        assert!(ii.touches(&hot, 21, 9, one));
        // Same cell, other pixel: a bound by cells, not by pixels.
        assert!(ii.touches(&hot, 16, 8, one));
        assert!(!ii.touches(&hot, 15, 9, one));
        assert!(!ii.touches(&hot, 21, 16, one));
        // Windows reaching into the cell from any side touch it.
        assert!(!ii.touches(&hot, 0, 0, Shape { w: 24, h: 8 }));
        assert!(ii.touches(&hot, 0, 0, Shape { w: 17, h: 9 }));
        assert!(ii.touches(&hot, 23, 15, Shape { w: 2, h: 2 }));
        assert!(!ii.touches(&hot, 24, 0, Shape { w: 16, h: 24 }));
        // Over a level above the change, nothing is touched.
        let none = ii.cells_over(100.0);
        assert!(!ii.touches(&none, 0, 0, Shape { w: 40, h: 24 }));
    }
}
