//! Keypoints: FAST-9 corners and BRIEF descriptors (imageproc), spread over the image
//! by a grid, matched by brute-force Hamming distance with a ratio test and a mutual
//! check.

use super::plane::Plane;
use super::{Rng, TUNING};
use imageproc::binary_descriptors::brief::{brief, TestPair};
use imageproc::corners::corners_fast9;
use imageproc::point::Point;

/// Corners of one image and their descriptors (256 bits each).
#[derive(Debug, Clone, Default)]
pub(crate) struct Keypoints {
    pub points: Vec<(f64, f64)>,
    pub desc: Vec<[u128; 2]>,
}

/// BRIEF distance from a patch's border: imageproc needs 17 px.
const MARGIN: u32 = 18;

/// BRIEF test pairs, fixed by a seed (imageproc's own are drawn from the thread's
/// random generator, which would make two runs differ): isotropic Gaussian, σ 6.6,
/// in the 31×31 patch (Calonder et al. 2010, G II).
fn test_pairs() -> Vec<TestPair> {
    let mut rng = Rng::new(0x5eed_b41e);
    let mut out = Vec::with_capacity(256);
    while out.len() < 256 {
        let mut c = [0u32; 4];
        let mut ok = true;
        for v in &mut c {
            let g = 16.0 + 6.6 * rng.gaussian();
            if !(0.0..31.0).contains(&g) {
                ok = false;
            }
            *v = g.max(0.0) as u32;
        }
        if ok {
            out.push(TestPair {
                p0: Point::new(c[0], c[1]),
                p1: Point::new(c[2], c[3]),
            });
        }
    }
    out
}

/// Detects up to `TUNING.max_keypoints` corners inside `valid` (x0, y0, x1, y1 in the
/// plane's pixels, exclusive ends), spread over a grid, and describes them.
pub(crate) fn detect(plane: &Plane, valid: (u32, u32, u32, u32)) -> Keypoints {
    let t = &TUNING;
    let img = plane.to_gray();
    let (w, h) = img.dimensions();
    let (x0, y0) = (valid.0.max(MARGIN), valid.1.max(MARGIN));
    let (x1, y1) = (
        valid.2.min(w.saturating_sub(MARGIN)),
        valid.3.min(h.saturating_sub(MARGIN)),
    );
    if x1 <= x0 + 8 || y1 <= y0 + 8 {
        return Keypoints::default();
    }
    let mut corners = Vec::new();
    for threshold in [24u8, 14, 8] {
        corners = corners_fast9(&img, threshold);
        corners.retain(|c| c.x >= x0 && c.x < x1 && c.y >= y0 && c.y < y1);
        if corners.len() >= 2 * t.max_keypoints {
            break;
        }
    }
    corners.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then((a.y, a.x).cmp(&(b.y, b.x)))
    });
    // Grid bucketing: at most `per` corners per cell, no two within 3 px.
    let g = t.keypoint_grid as u32;
    let per = t.max_keypoints.div_ceil((g * g) as usize);
    let (cw, ch) = ((x1 - x0).div_ceil(g), (y1 - y0).div_ceil(g));
    let mut counts = vec![0usize; (g * g) as usize];
    let mut taken = vec![false; (w * h) as usize];
    let mut chosen = Vec::new();
    for c in &corners {
        let cell = (((c.y - y0) / ch) * g + (c.x - x0) / cw) as usize;
        if counts[cell] >= per {
            continue;
        }
        let near = (c.y.saturating_sub(3)..=(c.y + 3).min(h - 1)).any(|yy| {
            (c.x.saturating_sub(3)..=(c.x + 3).min(w - 1)).any(|xx| taken[(yy * w + xx) as usize])
        });
        if near {
            continue;
        }
        taken[(c.y * w + c.x) as usize] = true;
        counts[cell] += 1;
        chosen.push(Point::new(c.x, c.y));
        if chosen.len() >= t.max_keypoints {
            break;
        }
    }
    let pairs = test_pairs();
    let Ok((desc, _)) = brief(&img, &chosen, 256, Some(&pairs)) else {
        return Keypoints::default();
    };
    Keypoints {
        points: desc
            .iter()
            .map(|d| (d.corner.x as f64, d.corner.y as f64))
            .collect(),
        desc: desc.iter().map(|d| [d.bits[0], d.bits[1]]).collect(),
    }
}

#[inline]
fn hamming(a: &[u128; 2], b: &[u128; 2]) -> u32 {
    (a[0] ^ b[0]).count_ones() + (a[1] ^ b[1]).count_ones()
}

/// Best and second-best match of each descriptor of `a` in `b`.
fn nearest(a: &[[u128; 2]], b: &[[u128; 2]]) -> Vec<(usize, u32, u32)> {
    use rayon::prelude::*;
    a.par_iter()
        .map(|da| {
            let (mut best, mut second, mut at) = (u32::MAX, u32::MAX, 0usize);
            for (j, db) in b.iter().enumerate() {
                let d = hamming(da, db);
                if d < best {
                    (second, best, at) = (best, d, j);
                } else if d < second {
                    second = d;
                }
            }
            (at, best, second)
        })
        .collect()
}

/// Matches (index in `a`, index in `b`): mutual nearest neighbours, within
/// `TUNING.max_hamming` bits, passing Lowe's ratio test at `TUNING.match_ratio`.
pub(crate) fn match_keypoints(a: &Keypoints, b: &Keypoints) -> Vec<(usize, usize)> {
    let t = &TUNING;
    if a.desc.is_empty() || b.desc.is_empty() {
        return Vec::new();
    }
    let ab = nearest(&a.desc, &b.desc);
    let ba = nearest(&b.desc, &a.desc);
    ab.iter()
        .enumerate()
        .filter_map(|(i, &(j, d, d2))| {
            let ok = d <= t.max_hamming
                && ba[j].0 == i
                && (d2 == u32::MAX || (d as f64) < t.match_ratio * d2 as f64);
            ok.then_some((i, j))
        })
        .collect()
}
