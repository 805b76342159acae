//! Phase correlation (Kuglin & Hines 1975; as OpenCV's `phaseCorrelate`): Hann
//! window, normalised cross-power spectrum, peak with a sub-pixel refinement.

use super::plane::Plane;
use rustfft::num_complex::Complex32;
use rustfft::FftPlanner;

/// The correlation peak: the shift (dx, dy) with B(x + dx, y + dy) ≈ A(x, y), and how
/// far the peak stands out of the rest of the surface.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Peak {
    /// Shift at the peak, integer part.
    pub ix: i64,
    /// Shift at the peak, integer part.
    pub iy: i64,
    /// Shift with the sub-pixel refinement.
    pub dx: f64,
    /// Shift with the sub-pixel refinement.
    pub dy: f64,
    /// Peak-to-sidelobe ratio: (peak - mean) / standard deviation of the surface
    /// outside a 5×5 neighbourhood of the peak. About 4-6 for unrelated images.
    pub psr: f64,
}

/// The smallest length ≥ n whose prime factors are 2, 3 and 5 (fast FFT sizes).
fn fast_len(n: usize) -> usize {
    let mut m = n.max(2);
    loop {
        let mut r = m;
        for p in [2, 3, 5] {
            while r % p == 0 {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

/// Mean-removed, Hann-windowed copy of `p`, zero-padded to `w`×`h`.
fn windowed(p: &Plane, w: usize, h: usize) -> Vec<Complex32> {
    let mean = p.data.iter().map(|&v| v as f64).sum::<f64>() / p.data.len().max(1) as f64;
    let mean = mean as f32;
    let hann = |i: usize, n: usize| -> f32 {
        if n < 2 {
            1.0
        } else {
            0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / (n - 1) as f32).cos()
        }
    };
    let wx: Vec<f32> = (0..p.w).map(|i| hann(i, p.w)).collect();
    let mut out = vec![Complex32::new(0.0, 0.0); w * h];
    for y in 0..p.h {
        let wy = hann(y, p.h);
        for x in 0..p.w {
            out[y * w + x] = Complex32::new((p.get(x, y) - mean) * wx[x] * wy, 0.0);
        }
    }
    out
}

fn transpose(src: &[Complex32], w: usize, h: usize) -> Vec<Complex32> {
    let mut out = vec![Complex32::new(0.0, 0.0); w * h];
    for y in 0..h {
        for x in 0..w {
            out[x * h + y] = src[y * w + x];
        }
    }
    out
}

/// Phase-correlates two planes (any sizes; both are padded to one FFT size).
pub(crate) fn phase_correlate(a: &Plane, b: &Plane) -> Peak {
    let w = fast_len(a.w.max(b.w));
    let h = fast_len(a.h.max(b.h));
    let mut planner = FftPlanner::<f32>::new();
    let fw = planner.plan_fft_forward(w);
    let fh = planner.plan_fft_forward(h);
    let iw = planner.plan_fft_inverse(w);
    let ih = planner.plan_fft_inverse(h);
    let spectrum = |p: &Plane| {
        let mut buf = windowed(p, w, h);
        fw.process(&mut buf);
        let mut t = transpose(&buf, w, h);
        fh.process(&mut t);
        t
    };
    let (fa, fb) = rayon::join(|| spectrum(a), || spectrum(b));
    // conj(Fa)·Fb / |conj(Fa)·Fb|: its inverse peaks at +d when B(x + d) = A(x).
    let mut r: Vec<Complex32> = fa
        .iter()
        .zip(&fb)
        .map(|(x, y)| {
            let c = x.conj() * y;
            let n = c.norm();
            if n > 1e-12 {
                c / n
            } else {
                Complex32::new(0.0, 0.0)
            }
        })
        .collect();
    ih.process(&mut r);
    let mut r = transpose(&r, h, w);
    iw.process(&mut r);
    let surf: Vec<f32> = r.iter().map(|c| c.re).collect();

    let (mut best, mut at) = (f32::NEG_INFINITY, 0usize);
    for (i, &v) in surf.iter().enumerate() {
        if v > best {
            (best, at) = (v, i);
        }
    }
    let (px, py) = (at % w, at / w);
    let val = |x: i64, y: i64| -> f32 {
        let x = x.rem_euclid(w as i64) as usize;
        let y = y.rem_euclid(h as i64) as usize;
        surf[y * w + x]
    };
    // Foroosh, Zerubia & Berthod (2002): the phase-correlation peak of a sub-pixel
    // shift is a sampled Dirichlet kernel; the larger neighbour gives the offset.
    let sub = |c: f32, l: f32, r: f32| -> f64 {
        let (c, l, r) = (c as f64, l as f64, r as f64);
        if r >= l && r > 0.0 {
            r / (r + c)
        } else if l > 0.0 {
            -l / (l + c)
        } else {
            0.0
        }
    };
    let (pxi, pyi) = (px as i64, py as i64);
    let fx = sub(best, val(pxi - 1, pyi), val(pxi + 1, pyi));
    let fy = sub(best, val(pxi, pyi - 1), val(pxi, pyi + 1));
    // Sidelobes.
    let (mut s, mut s2, mut n) = (0f64, 0f64, 0f64);
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            let ddx = (x - pxi)
                .rem_euclid(w as i64)
                .min((pxi - x).rem_euclid(w as i64));
            let ddy = (y - pyi)
                .rem_euclid(h as i64)
                .min((pyi - y).rem_euclid(h as i64));
            if ddx <= 2 && ddy <= 2 {
                continue;
            }
            let v = surf[y as usize * w + x as usize] as f64;
            s += v;
            s2 += v * v;
            n += 1.0;
        }
    }
    let mean = s / n.max(1.0);
    let sd = (s2 / n.max(1.0) - mean * mean).max(1e-30).sqrt();
    let wrap = |i: usize, n: usize| -> i64 {
        if i > n / 2 {
            i as i64 - n as i64
        } else {
            i as i64
        }
    };
    let (ix, iy) = (wrap(px, w), wrap(py, h));
    Peak {
        ix,
        iy,
        dx: ix as f64 + fx,
        dy: iy as f64 + fy,
        psr: (best as f64 - mean) / sd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blurred noise (broadband, like a photo's texture), sampled bilinearly at
    /// (x - dx, y - dy) so sub-pixel shifts are defined.
    fn plane(w: usize, h: usize, dx: f64, dy: f64) -> Plane {
        let n = 256;
        let mut rng = crate::register::Rng::new(77);
        let noise = Plane {
            w: n,
            h: n,
            data: (0..n * n).map(|_| (rng.unit() * 255.0) as f32).collect(),
        };
        let base = noise.blur3().blur3();
        let mut data = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                data.push(
                    base.sample((x as f64 + 40.0 - dx) as f32, (y as f64 + 40.0 - dy) as f32),
                );
            }
        }
        Plane { w, h, data }
    }

    #[test]
    fn recovers_an_integer_shift_exactly() {
        let a = plane(160, 120, 0.0, 0.0);
        let b = plane(160, 120, 7.0, -4.0);
        let p = phase_correlate(&a, &b);
        assert_eq!((p.ix, p.iy), (7, -4), "{p:?}");
        assert!(p.psr > 20.0, "{p:?}");
    }

    #[test]
    fn sub_pixel_shift_within_a_tenth() {
        let a = plane(128, 128, 0.0, 0.0);
        for (dx, dy) in [(3.3, -1.6), (-5.75, 2.25), (0.5, 0.0)] {
            let b = plane(128, 128, dx, dy);
            let p = phase_correlate(&a, &b);
            assert!(
                (p.dx - dx).abs() < 0.1 && (p.dy - dy).abs() < 0.1,
                "{dx} {dy}: {p:?}"
            );
        }
    }

    #[test]
    fn unrelated_planes_give_a_weak_peak() {
        let a = plane(128, 96, 0.0, 0.0);
        let mut data = Vec::new();
        let mut s = 12345u64;
        for _ in 0..128 * 96 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            data.push((s >> 56) as f32);
        }
        let b = Plane {
            w: 128,
            h: 96,
            data,
        };
        assert!(phase_correlate(&a, &b).psr < 8.0);
    }
}
