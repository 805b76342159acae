//! Fitting a geometric model to point matches: closed-form least squares for
//! similarity and affine, normalised DLT for a homography, and RANSAC with a local
//! optimisation step (refit on the inliers, recount) around them.

use super::{apply, Mat3, Rng, TUNING};
use nalgebra::{DMatrix, Matrix3, SMatrix, SVector};

/// A model family a fit can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Rotation, uniform scale, translation (4 parameters).
    Similarity,
    /// General linear map plus translation (6).
    Affine,
    /// Projective map (8).
    Homography,
}

impl Family {
    /// Points a minimal sample needs.
    pub fn minimal(self) -> usize {
        match self {
            Family::Similarity => 2,
            Family::Affine => 3,
            Family::Homography => 4,
        }
    }
}

/// Least-squares fit of `family` mapping `src` onto `dst` (at least the minimal
/// number of points). `None` when degenerate.
pub(crate) fn fit(family: Family, src: &[(f64, f64)], dst: &[(f64, f64)]) -> Option<Mat3> {
    if src.len() < family.minimal() || src.len() != dst.len() {
        return None;
    }
    match family {
        Family::Similarity => fit_similarity(src, dst),
        Family::Affine => fit_affine(src, dst),
        Family::Homography => fit_homography(src, dst),
    }
}

/// x' = a x - b y + tx, y' = b x + a y + ty, in closed form (centred coordinates).
fn fit_similarity(src: &[(f64, f64)], dst: &[(f64, f64)]) -> Option<Mat3> {
    let n = src.len() as f64;
    let (mx, my) = mean(src);
    let (ux, uy) = mean(dst);
    let (mut sxx, mut num_a, mut num_b) = (0.0, 0.0, 0.0);
    for (p, q) in src.iter().zip(dst) {
        let (x, y) = (p.0 - mx, p.1 - my);
        let (u, v) = (q.0 - ux, q.1 - uy);
        sxx += x * x + y * y;
        num_a += x * u + y * v;
        num_b += x * v - y * u;
    }
    if sxx < 1e-9 * n {
        return None;
    }
    let (a, b) = (num_a / sxx, num_b / sxx);
    Some([
        [a, -b, ux - a * mx + b * my],
        [b, a, uy - b * mx - a * my],
        [0.0, 0.0, 1.0],
    ])
}

fn fit_affine(src: &[(f64, f64)], dst: &[(f64, f64)]) -> Option<Mat3> {
    let (mx, my) = mean(src);
    let (ux, uy) = mean(dst);
    let mut m = SMatrix::<f64, 2, 2>::zeros();
    let mut bx = SVector::<f64, 2>::zeros();
    let mut by = SVector::<f64, 2>::zeros();
    for (p, q) in src.iter().zip(dst) {
        let v = SVector::<f64, 2>::new(p.0 - mx, p.1 - my);
        m += v * v.transpose();
        bx += v * (q.0 - ux);
        by += v * (q.1 - uy);
    }
    let inv = m.try_inverse()?;
    let (rx, ry) = (inv * bx, inv * by);
    if !(rx.iter().chain(ry.iter()).all(|v| v.is_finite())) {
        return None;
    }
    Some([
        [rx[0], rx[1], ux - rx[0] * mx - rx[1] * my],
        [ry[0], ry[1], uy - ry[0] * mx - ry[1] * my],
        [0.0, 0.0, 1.0],
    ])
}

/// Hartley normalisation: centroid to the origin, mean distance √2.
fn normaliser(pts: &[(f64, f64)]) -> Matrix3<f64> {
    let (mx, my) = mean(pts);
    let d = pts
        .iter()
        .map(|p| ((p.0 - mx).powi(2) + (p.1 - my).powi(2)).sqrt())
        .sum::<f64>()
        / pts.len() as f64;
    let s = if d > 1e-12 {
        std::f64::consts::SQRT_2 / d
    } else {
        1.0
    };
    Matrix3::new(s, 0.0, -s * mx, 0.0, s, -s * my, 0.0, 0.0, 1.0)
}

/// Normalised direct linear transform (Hartley & Zisserman, alg. 4.2).
fn fit_homography(src: &[(f64, f64)], dst: &[(f64, f64)]) -> Option<Mat3> {
    let (ns, nd) = (normaliser(src), normaliser(dst));
    let n = src.len();
    let mut a = DMatrix::<f64>::zeros(2 * n.max(5), 9);
    for (i, (p, q)) in src.iter().zip(dst).enumerate() {
        let ps = ns * nalgebra::Vector3::new(p.0, p.1, 1.0);
        let qs = nd * nalgebra::Vector3::new(q.0, q.1, 1.0);
        let (x, y) = (ps[0], ps[1]);
        let (u, v) = (qs[0], qs[1]);
        let r = 2 * i;
        a.row_mut(r)
            .copy_from_slice(&[-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u]);
        a.row_mut(r + 1)
            .copy_from_slice(&[0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v]);
    }
    // The null vector of A: the last column of V (smallest singular value).
    let svd = a.svd(false, true);
    let vt = svd.v_t?;
    let (imin, _) = svd
        .singular_values
        .iter()
        .enumerate()
        .min_by(|x, y| x.1.total_cmp(y.1))?;
    let h = vt.row(imin);
    let hn = Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]);
    let full = nd.try_inverse()? * hn * ns;
    let s = full[(2, 2)];
    if s.abs() < 1e-12 || !full.iter().all(|v| v.is_finite()) {
        return None;
    }
    let full = full / s;
    let mut out = [[0.0; 3]; 3];
    for (r, row) in out.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = full[(r, c)];
        }
    }
    Some(out)
}

fn mean(p: &[(f64, f64)]) -> (f64, f64) {
    let n = p.len().max(1) as f64;
    (
        p.iter().map(|v| v.0).sum::<f64>() / n,
        p.iter().map(|v| v.1).sum::<f64>() / n,
    )
}

/// Squared reprojection error of one match.
#[inline]
fn err2(m: &Mat3, p: (f64, f64), q: (f64, f64)) -> f64 {
    let (x, y) = apply(m, p.0, p.1);
    (x - q.0).powi(2) + (y - q.1).powi(2)
}

/// A RANSAC result.
#[derive(Debug, Clone)]
pub(crate) struct Consensus {
    /// The model, refitted on its inliers.
    pub model: Mat3,
    /// Its inliers.
    pub count: usize,
}

/// True when a fitted model is plausible for two views of one scene: it keeps
/// orientation, and does not shrink or stretch by more than `TUNING.max_scale`.
pub(crate) fn plausible(m: &Mat3) -> bool {
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let t = TUNING.max_scale;
    det > 1.0 / (t * t) && det < t * t && m[2][0].abs() < 0.01 && m[2][1].abs() < 0.01
}

/// RANSAC for `family` with inlier threshold `eps` px, fixed seed, adaptive stopping,
/// and a local optimisation (least squares on the inliers, repeated) of each new best.
pub(crate) fn ransac(
    family: Family,
    src: &[(f64, f64)],
    dst: &[(f64, f64)],
    eps: f64,
) -> Option<Consensus> {
    let n = src.len();
    let k = family.minimal();
    if n < k.max(TUNING.min_inliers) {
        return None;
    }
    let e2 = eps * eps;
    let mut rng = Rng::new(0x7a5c_0000 + k as u64);
    let count = |m: &Mat3| -> (usize, Vec<bool>) {
        let inl: Vec<bool> = src
            .iter()
            .zip(dst)
            .map(|(p, q)| err2(m, *p, *q) <= e2)
            .collect();
        (inl.iter().filter(|&&b| b).count(), inl)
    };
    let refine = |m: Mat3, mut inl: Vec<bool>, mut c: usize| -> (Mat3, Vec<bool>, usize) {
        let mut m = m;
        for _ in 0..4 {
            let s: Vec<(f64, f64)> = (0..n).filter(|&i| inl[i]).map(|i| src[i]).collect();
            let d: Vec<(f64, f64)> = (0..n).filter(|&i| inl[i]).map(|i| dst[i]).collect();
            let Some(m2) = fit(family, &s, &d) else { break };
            let (c2, inl2) = count(&m2);
            if c2 < c {
                break;
            }
            let done = c2 == c;
            (m, inl, c) = (m2, inl2, c2);
            if done {
                break;
            }
        }
        (m, inl, c)
    };
    let mut best: Option<(Mat3, Vec<bool>, usize)> = None;
    let mut iters = TUNING.ransac_iterations;
    let mut i = 0;
    let mut idx = vec![0usize; k];
    while i < iters {
        i += 1;
        for j in 0..k {
            loop {
                let v = rng.below(n);
                if !idx[..j].contains(&v) {
                    idx[j] = v;
                    break;
                }
            }
        }
        let s: Vec<(f64, f64)> = idx.iter().map(|&j| src[j]).collect();
        let d: Vec<(f64, f64)> = idx.iter().map(|&j| dst[j]).collect();
        let Some(m) = fit(family, &s, &d) else {
            continue;
        };
        if !plausible(&m) {
            continue;
        }
        let (c, inl) = count(&m);
        if best.as_ref().is_none_or(|b| c > b.2) {
            let (m, inl, c) = refine(m, inl, c);
            if !plausible(&m) {
                continue;
            }
            best = Some((m, inl, c));
            // Adaptive stopping at 99 % confidence.
            let w = c as f64 / n as f64;
            let p_good = w.powi(k as i32);
            if p_good > 0.0 && p_good < 1.0 {
                let need = ((0.01f64).ln() / (1.0 - p_good).ln()).ceil() as usize;
                iters = iters.min(need.max(32));
            } else if p_good >= 1.0 {
                break;
            }
        }
    }
    let (model, _, count) = best?;
    Some(Consensus { model, count })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &Mat3, b: &Mat3, tol: f64) -> bool {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn homography_from_four_exact_points() {
        let h: Mat3 = [[1.02, 0.03, 5.0], [-0.01, 0.98, -3.0], [1e-4, -2e-4, 1.0]];
        let src = [(0.0, 0.0), (200.0, 0.0), (200.0, 150.0), (0.0, 150.0)];
        let dst: Vec<(f64, f64)> = src.iter().map(|p| apply(&h, p.0, p.1)).collect();
        let got = fit(Family::Homography, &src, &dst).unwrap();
        assert!(close(&got, &h, 1e-8), "{got:?}");
    }

    #[test]
    fn similarity_and_affine_fits_are_exact() {
        let (c, s) = (2f64.to_radians().cos() * 1.1, 2f64.to_radians().sin() * 1.1);
        let sim: Mat3 = [[c, -s, 4.0], [s, c, -7.0], [0.0, 0.0, 1.0]];
        let src = [(3.0, 4.0), (100.0, 20.0), (50.0, 90.0), (10.0, 70.0)];
        let dst: Vec<(f64, f64)> = src.iter().map(|p| apply(&sim, p.0, p.1)).collect();
        assert!(close(
            &fit(Family::Similarity, &src, &dst).unwrap(),
            &sim,
            1e-9
        ));
        let aff: Mat3 = [[1.1, 0.2, 3.0], [-0.1, 0.9, 2.0], [0.0, 0.0, 1.0]];
        let dst: Vec<(f64, f64)> = src.iter().map(|p| apply(&aff, p.0, p.1)).collect();
        assert!(close(&fit(Family::Affine, &src, &dst).unwrap(), &aff, 1e-9));
    }

    #[test]
    fn ransac_ignores_outliers() {
        let h: Mat3 = [[0.99, -0.02, 12.0], [0.02, 0.99, -5.0], [0.0, 0.0, 1.0]];
        let mut rng = Rng::new(9);
        let mut src = Vec::new();
        let mut dst = Vec::new();
        for i in 0..100 {
            let p = (rng.unit() * 300.0, rng.unit() * 200.0);
            src.push(p);
            if i % 3 == 0 {
                dst.push((rng.unit() * 300.0, rng.unit() * 200.0));
            } else {
                dst.push(apply(&h, p.0, p.1));
            }
        }
        let c = ransac(Family::Homography, &src, &dst, 1.0).unwrap();
        assert_eq!(c.count, 66);
        assert!(close(&c.model, &h, 1e-6), "{:?}", c.model);
    }
}
