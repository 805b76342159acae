//! Direct refinement: Gauss-Newton on luma (forward additive Lucas-Kanade, Baker &
//! Matthews 2004) of a translation, similarity, affine or homography, jointly with a
//! global luma gain and offset, Huber-weighted so that a local change does not pull
//! the fit. Coordinates are normalised (centre 0, half the long side 1) to keep the
//! normal equations conditioned.

use super::plane::Plane;
use super::{apply, mul, Mat3, TUNING};
use nalgebra::{DMatrix, DVector};

/// Which parameters the refinement moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dof {
    Translation,
    Similarity,
    Affine,
    Homography,
}

impl Dof {
    /// d(H)/dθ_k as (row, col, sign) entries.
    fn basis(self) -> Vec<Vec<(usize, usize, f64)>> {
        let t = vec![vec![(0, 2, 1.0)], vec![(1, 2, 1.0)]];
        match self {
            Dof::Translation => t,
            Dof::Similarity => {
                let mut b = vec![
                    vec![(0, 0, 1.0), (1, 1, 1.0)],
                    vec![(1, 0, 1.0), (0, 1, -1.0)],
                ];
                b.extend(t);
                b
            }
            Dof::Affine => {
                let mut b: Vec<_> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|&(r, c)| vec![(r, c, 1.0)])
                    .collect();
                b.extend(t);
                b
            }
            Dof::Homography => {
                let mut b: Vec<_> = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
                    .iter()
                    .map(|&(r, c)| vec![(r, c, 1.0)])
                    .collect();
                b.extend(t);
                b
            }
        }
    }
}

/// Normalisation of one plane's coordinates.
fn norm(p: &Plane) -> Mat3 {
    let c = ((p.w as f64 - 1.0) / 2.0, (p.h as f64 - 1.0) / 2.0);
    let s = 2.0 / p.w.max(p.h).max(2) as f64;
    [[s, 0.0, -s * c.0], [0.0, s, -s * c.1], [0.0, 0.0, 1.0]]
}

/// Refines `init` (A → B, in the planes' pixels) by Gauss-Newton. `valid_a` limits
/// the points used (x0, y0, x1, y1, exclusive ends). `None` with too few points.
pub(crate) fn refine(
    a: &Plane,
    b: &Plane,
    init: &Mat3,
    dof: Dof,
    valid_a: (usize, usize, usize, usize),
) -> Option<Mat3> {
    let t = &TUNING;
    let (na, nb) = (norm(a), norm(b));
    let na_inv = super::invert(&na)?;
    let nb_inv = super::invert(&nb)?;
    let lb = 1.0 / nb[0][0];
    // Points: textured pixels of A on a stride, with their luma.
    let (x0, y0, x1, y1) = valid_a;
    let x1 = x1.min(a.w.saturating_sub(1));
    let y1 = y1.min(a.h.saturating_sub(1));
    let x0 = x0.max(1);
    let y0 = y0.max(1);
    if x1 <= x0 + 4 || y1 <= y0 + 4 {
        return None;
    }
    let area = (x1 - x0) * (y1 - y0);
    let stride = ((area as f64 / (4 * t.refine_points) as f64).sqrt().floor() as usize).max(1);
    let mut pts: Vec<(f64, f64, f32)> = Vec::new();
    for y in (y0..y1).step_by(stride) {
        for x in (x0..x1).step_by(stride) {
            let gx = 0.5 * (a.get(x + 1, y) - a.get(x - 1, y));
            let gy = 0.5 * (a.get(x, y + 1) - a.get(x, y - 1));
            if gx * gx + gy * gy >= t.texture * t.texture {
                pts.push((x as f64, y as f64, a.get(x, y)));
            }
        }
    }
    if pts.len() > t.refine_points {
        let k = pts.len().div_ceil(t.refine_points);
        pts = pts.into_iter().step_by(k).collect();
    }
    if pts.len() < t.min_refine_points {
        return None;
    }
    let pn: Vec<(f64, f64)> = pts.iter().map(|p| apply(&na, p.0, p.1)).collect();
    let basis = dof.basis();
    let np = basis.len();
    let mut h = mul(&nb, &mul(init, &na_inv));
    let s = h[2][2];
    for row in &mut h {
        for v in row {
            *v /= s;
        }
    }
    let (mut gain, mut off) = (1.0f64, 0.0f64);
    let mut last = None;
    let corners = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)];
    let n = np + 2;
    let mut res: Vec<f64> = Vec::with_capacity(pts.len());
    let mut jac: Vec<[f64; 10]> = Vec::with_capacity(pts.len());
    let mut abs: Vec<f64> = Vec::with_capacity(pts.len());
    for _ in 0..t.refine_iterations {
        // Residuals and Jacobians.
        res.clear();
        jac.clear();
        for (p, &(px, py)) in pts.iter().zip(&pn) {
            let u = h[0][0] * px + h[0][1] * py + h[0][2];
            let v = h[1][0] * px + h[1][1] * py + h[1][2];
            let w = h[2][0] * px + h[2][1] * py + h[2][2];
            if w.abs() < 1e-9 {
                continue;
            }
            let (qx, qy) = (u / w, v / w);
            let (bx, by) = apply(&nb_inv, qx, qy);
            let (bx, by) = (bx as f32, by as f32);
            if !b.contains(bx, by, -1.0) {
                continue;
            }
            let bv = b.sample(bx, by) as f64;
            let gbx = 0.5 * (b.sample(bx + 1.0, by) - b.sample(bx - 1.0, by)) as f64 * lb;
            let gby = 0.5 * (b.sample(bx, by + 1.0) - b.sample(bx, by - 1.0)) as f64 * lb;
            let hp = [px, py, 1.0];
            let mut j = [0f64; 10];
            for (k, e) in basis.iter().enumerate() {
                let (mut eu, mut ev, mut ew) = (0.0, 0.0, 0.0);
                for &(row, col, sg) in e {
                    let d = sg * hp[col];
                    match row {
                        0 => eu += d,
                        1 => ev += d,
                        _ => ew += d,
                    }
                }
                j[k] = gbx * (eu - qx * ew) / w + gby * (ev - qy * ew) / w;
            }
            j[np] = -(p.2 as f64);
            j[np + 1] = -1.0;
            res.push(bv - (gain * p.2 as f64 + off));
            jac.push(j);
        }
        if res.len() < t.min_refine_points {
            break;
        }
        abs.clear();
        abs.extend(res.iter().map(|r| r.abs()));
        let mid = abs.len() / 2;
        abs.select_nth_unstable_by(mid, |x, y| x.total_cmp(y));
        let sigma = (1.4826 * abs[mid]).max(0.5);
        let delta = 1.345 * sigma;
        last = Some(h);
        let mut jtj = [[0f64; 10]; 10];
        let mut jtr = [0f64; 10];
        for (r, j) in res.iter().zip(&jac) {
            let wgt = if r.abs() <= delta {
                1.0
            } else {
                delta / r.abs()
            };
            for a_ in 0..n {
                let ja = j[a_] * wgt;
                jtr[a_] += ja * r;
                for b_ in a_..n {
                    jtj[a_][b_] += ja * j[b_];
                }
            }
        }
        let m = DMatrix::<f64>::from_fn(n, n, |r, c| {
            let v = if r <= c { jtj[r][c] } else { jtj[c][r] };
            // A touch of damping (Levenberg).
            if r == c {
                v * (1.0 + 1e-6)
            } else {
                v
            }
        });
        let rhs = DVector::<f64>::from_fn(n, |r, _| -jtr[r]);
        let Some(step) = m.cholesky().map(|c| c.solve(&rhs)) else {
            break;
        };
        let old = h;
        for (k, e) in basis.iter().enumerate() {
            for &(row, col, sg) in e {
                h[row][col] += sg * step[k];
            }
        }
        gain += step[np];
        off += step[np + 1];
        // Converged when no corner moves by more than the tolerance (in B's pixels).
        let moved = corners
            .iter()
            .map(|c| {
                let (x0, y0) = apply(&old, c.0, c.1);
                let (x1, y1) = apply(&h, c.0, c.1);
                ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt() * lb
            })
            .fold(0.0, f64::max);
        if moved < t.refine_tolerance {
            break;
        }
    }
    last?;
    let m = mul(&nb_inv, &mul(&h, &na));
    let s = m[2][2];
    Some(m.map(|r| r.map(|v| v / s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(x: f64, y: f64) -> f32 {
        let mut v = 128.0;
        let mut s = 7u64;
        for k in 0..40 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let fx = ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.8;
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let fy = ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.8;
            v += 60.0 / (k as f64 + 3.0) * (fx * x + fy * y + k as f64).sin();
        }
        v as f32
    }

    fn render(w: usize, h: usize, m: &Mat3) -> Plane {
        // B(T p) = A(p): B(q) = A(T⁻¹ q).
        let inv = crate::register::invert(m).unwrap();
        let mut data = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (u, v) = apply(&inv, x as f64, y as f64);
                data.push(field(u, v));
            }
        }
        Plane { w, h, data }
    }

    #[test]
    fn refines_a_rotation_from_a_rough_start() {
        let (w, h) = (160, 120);
        let id: Mat3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        let a = render(w, h, &id);
        let ang = 2f64.to_radians();
        let (c, s) = (ang.cos(), ang.sin());
        let truth: Mat3 = [[c, -s, 3.3], [s, c, -2.1], [0.0, 0.0, 1.0]];
        let b = render(w, h, &truth);
        let start: Mat3 = [[1.0, 0.0, 3.0], [0.0, 1.0, -1.0], [0.0, 0.0, 1.0]];
        let r = refine(&a, &b, &start, Dof::Similarity, (0, 0, w, h)).unwrap();
        for p in [(0.0, 0.0), (159.0, 0.0), (159.0, 119.0), (0.0, 119.0)] {
            let e = apply(&r, p.0, p.1);
            let t = apply(&truth, p.0, p.1);
            assert!(
                (e.0 - t.0).abs() < 0.05 && (e.1 - t.1).abs() < 0.05,
                "{r:?}"
            );
        }
    }
}
