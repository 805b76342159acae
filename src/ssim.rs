//! Structural similarity (Wang et al. 2004) on luma: Gaussian window σ = 1.5
//! (truncated at 3.5σ, an 11×11 window), K1 = 0.01, K2 = 0.03, data range 255,
//! population covariance. The global score is the mean of the SSIM map with a
//! 5 px border cropped, as scikit-image's `structural_similarity(...,
//! gaussian_weights=True, sigma=1.5, use_sample_covariance=False)` reports it.
//!
//! Where both images are equal over a whole window SSIM is exactly 1, so the map is
//! computed only in tiles near a difference. The change map is `1 - SSIM`, made
//! tolerant of small shifts: where it is high, B is also compared shifted by up to
//! `SHIFT` pixels in each direction and the best match counts.

use crate::color::luma_over_white;
use crate::map::{gaussian_kernel, segments, Map, TileRect, Tiles, TILE};
use image::{GrayImage, RgbaImage};
use rayon::prelude::*;
use std::ops::Range;

const SIGMA: f32 = 1.5;
const TRUNCATE: f32 = 3.5;
const C1: f32 = (0.01 * 255.0) * (0.01 * 255.0);
const C2: f32 = (0.03 * 255.0) * (0.03 * 255.0);
/// Shift tolerance of the change map with `--method ssim`, px.
pub const SHIFT: u32 = 1;

/// The global score and the change map.
#[derive(Debug, Clone)]
pub struct Ssim {
    /// Mean SSIM, 1 for equal images.
    pub score: f64,
    /// `1 - SSIM` per pixel (shift-tolerant), 0 where nothing changed.
    pub map: Map,
}

/// A grayscale plane SSIM can read: 8-bit luma per pixel.
pub trait Plane: Sync {
    fn dims(&self) -> (u32, u32);
    fn at(&self, x: usize, y: usize) -> u8;
}

impl Plane for GrayImage {
    fn dims(&self) -> (u32, u32) {
        self.dimensions()
    }
    #[inline]
    fn at(&self, x: usize, y: usize) -> u8 {
        self.as_raw()[y * self.width() as usize + x]
    }
}

/// Luma of an RGBA image, read on the fly (Rec. 601 over white, exactly as Pillow's
/// `convert("L")` for opaque pixels), so no grayscale copy is allocated.
pub struct Luma<'a>(pub &'a RgbaImage);

impl Plane for Luma<'_> {
    fn dims(&self) -> (u32, u32) {
        self.0.dimensions()
    }
    #[inline]
    fn at(&self, x: usize, y: usize) -> u8 {
        let i = (y * self.0.width() as usize + x) * 4;
        let p = &self.0.as_raw()[i..i + 4];
        luma_over_white([p[0], p[1], p[2], p[3]])
    }
}

/// SSIM of two same-sized grayscale images, computed everywhere (no tile skipping).
/// This is the reference entry point, checked against scikit-image in the tests.
pub fn ssim_gray(a: &GrayImage, b: &GrayImage) -> f64 {
    compute(a, b, &Tiles::all(a.width(), a.height()), MapKind::None).score
}

/// Which change map to build beside the score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MapKind<'a> {
    /// Score only.
    None,
    /// `1 - max SSIM` over B shifted by up to `shift` pixels, exact where it is at
    /// least `care`; where the exact value is below `care`, the stored one is too
    /// (a pixel whose plain value is below `care` is not re-checked). With `only`
    /// (one flag per tile, row-major), tiles not flagged keep the plain value.
    ShiftTolerant {
        shift: u32,
        care: f32,
        only: Option<&'a [bool]>,
    },
}

/// SSIM over the tiles near a difference (`tiles` from [`Tiles::find`]).
pub fn compute<P: Plane>(a: &P, b: &P, tiles: &Tiles, kind: MapKind) -> Ssim {
    let (w, h) = a.dims();
    let kernel = gaussian_kernel(SIGMA, TRUNCATE);
    let pad = (kernel.len() / 2) as u32;
    // Crop like scikit-image: (win - 1) / 2 px each side, when the image is big enough.
    let crop = if w > 2 * pad && h > 2 * pad {
        (pad, pad, w - pad, h - pad)
    } else {
        (0, 0, w, h)
    };
    let segments = segments(&tiles.near_dirty());
    let results: Vec<Vec<TileResult>> = segments
        .par_iter()
        .map(|seg| segment_ssim(a, b, seg, &kernel, crop, tiles.cols, kind))
        .collect();
    let (cx0, cy0, cx1, cy1) = crop;
    let cropped = u64::from(cx1 - cx0) * u64::from(cy1 - cy0);
    let mut sum_deficit = 0f64;
    let mut map = Map::zeros(w, h);
    for (t, deficit, values) in results.into_iter().flatten() {
        sum_deficit += deficit;
        if let Some(v) = values {
            map.put(t, v.iter().map(|s| (1.0 - s).clamp(0.0, 2.0)).collect());
        }
    }
    Ssim {
        score: 1.0 - sum_deficit / cropped as f64,
        map,
    }
}

/// Separable filter with kernel `k`: `rows` output rows of width `bw`, where input
/// row `i` (of `rows + 2r`, each `bw + 2r` wide) is produced by `input(i, row)`.
/// Each output sums its taps in kernel order, as a direct convolution does.
///
/// Kept hand-written (hot path; imageproc is not within 10 %): the five windowed
/// moments of every segment of a 1080p pair took 601.4 M instructions here and
/// 3258 M with imageproc's `separable_filter_equal` (callgrind, bit-identical
/// values). imageproc needs each product plane (a², b², ab) built first and filters
/// the margins too, as it has no "valid" mode, and it filters pixel by pixel where
/// this loop runs along whole rows.
fn filter(
    k: &[f32],
    bw: usize,
    rows: usize,
    mut input: impl FnMut(usize, &mut [f32]),
    out: &mut Vec<f32>,
) {
    let r = k.len() / 2;
    let mut row = vec![0f32; bw + 2 * r];
    let mut hz = vec![0f32; bw * (rows + 2 * r)];
    for (i, dst) in hz.chunks_exact_mut(bw).enumerate() {
        input(i, &mut row);
        for (t, kv) in k.iter().enumerate() {
            for (d, s) in dst.iter_mut().zip(&row[t..t + bw]) {
                *d += kv * s;
            }
        }
    }
    out.clear();
    out.resize(bw * rows, 0.0);
    for (j, dst) in out.chunks_exact_mut(bw).enumerate() {
        for (t, kv) in k.iter().enumerate() {
            for (d, s) in dst.iter_mut().zip(&hz[(j + t) * bw..][..bw]) {
                *d += kv * s;
            }
        }
    }
}

#[inline]
fn ssim_formula(ma: f32, mb: f32, aa: f32, bb: f32, ab: f32) -> f32 {
    let va = aa - ma * ma;
    let vb = bb - mb * mb;
    let cov = ab - ma * mb;
    ((2.0 * ma * mb + C1) * (2.0 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2))
}

/// A segment's luma planes (margin: window radius + `s`, mirrored at the image edges as
/// SciPy's `reflect` mode does) and the windowed moments of A and B over the
/// segment grown by `s` px: with them, SSIM against B shifted by up to `s`
/// px needs only the cross moment to be filtered again.
struct Segment {
    a: Vec<f32>,
    b: Vec<f32>,
    /// Plane width.
    pw: usize,
    /// Largest shift.
    s: usize,
    /// Segment width and height.
    sw: usize,
    sh: usize,
    /// Moments over the grown segment (`sw + 2S` wide): means, squares, product.
    ma: Vec<f32>,
    mb: Vec<f32>,
    aa: Vec<f32>,
    bb: Vec<f32>,
    ab: Vec<f32>,
}

impl Segment {
    fn new(a: Vec<f32>, b: Vec<f32>, (sw, sh): (usize, usize), s: usize, k: &[f32]) -> Segment {
        let pw = sw + 2 * (k.len() / 2 + s);
        let (ew, eh) = (sw + 2 * s, sh + 2 * s);
        let mut m: [Vec<f32>; 5] = Default::default();
        for (c, out) in m.iter_mut().enumerate() {
            filter(
                k,
                ew,
                eh,
                |i, row| {
                    let (ra, rb) = (&a[i * pw..][..pw], &b[i * pw..][..pw]);
                    for (x, v) in row.iter_mut().enumerate() {
                        *v = match c {
                            0 => ra[x],
                            1 => rb[x],
                            2 => ra[x] * ra[x],
                            3 => rb[x] * rb[x],
                            _ => ra[x] * rb[x],
                        };
                    }
                },
                out,
            );
        }
        let [ma, mb, aa, bb, ab] = m;
        Segment {
            a,
            b,
            pw,
            s,
            sw,
            sh,
            ma,
            mb,
            aa,
            bb,
            ab,
        }
    }

    /// SSIM over the segment, unshifted (row-major, `sw` wide).
    fn base(&self) -> Vec<f32> {
        let (s, ew) = (self.s, self.sw + 2 * self.s);
        let mut out = Vec::with_capacity(self.sw * self.sh);
        for j in 0..self.sh {
            let e = (j + s) * ew + s;
            out.extend(
                (e..e + self.sw).map(|i| {
                    ssim_formula(self.ma[i], self.mb[i], self.aa[i], self.bb[i], self.ab[i])
                }),
            );
        }
        out
    }

    /// SSIM of the block `cols` × `rows` (segment coordinates) with B read `shift`
    /// px away, into `out` (row-major, block-sized).
    fn shifted(
        &self,
        k: &[f32],
        cols: Range<usize>,
        rows: Range<usize>,
        (dx, dy): (i64, i64),
        scratch: &mut Vec<f32>,
        out: &mut Vec<f32>,
    ) {
        let r = k.len() / 2;
        let bw = cols.len();
        let iw = bw + 2 * r;
        // The window of output (i, j) starts at plane (i + s, j + s).
        let s = self.s;
        let (ua, va) = (cols.start + s, rows.start + s);
        let (ub, vb) = ((ua as i64 + dx) as usize, (va as i64 + dy) as usize);
        filter(
            k,
            bw,
            rows.len(),
            |i, row| {
                let ra = &self.a[(va + i) * self.pw + ua..][..iw];
                let rb = &self.b[(vb + i) * self.pw + ub..][..iw];
                for ((v, x), y) in row.iter_mut().zip(ra).zip(rb) {
                    *v = x * y;
                }
            },
            scratch,
        );
        let ew = self.sw + 2 * s;
        out.clear();
        for (j, cross) in rows.clone().zip(scratch.chunks_exact(bw)) {
            let ea = (j + s) * ew + cols.start + s;
            let eb = ((j + s) as i64 + dy) as usize * ew + ((cols.start + s) as i64 + dx) as usize;
            out.extend((0..bw).map(|i| {
                let (pa, pb) = (ea + i, eb + i);
                ssim_formula(self.ma[pa], self.mb[pb], self.aa[pa], self.bb[pb], cross[i])
            }));
        }
    }
}

fn segment_ssim<P: Plane>(
    a: &P,
    b: &P,
    seg: &[TileRect],
    kernel: &[f32],
    (cx0, cy0, cx1, cy1): (u32, u32, u32, u32),
    cols: u32,
    kind: MapKind,
) -> Vec<TileResult> {
    let (w, h) = a.dims();
    let (w, h) = (i64::from(w), i64::from(h));
    let (first, last) = (seg[0], seg[seg.len() - 1]);
    let sw = (last.x + last.w - first.x) as usize;
    let sh = first.h as usize;
    let shift = match kind {
        MapKind::ShiftTolerant { shift, .. } => shift as usize,
        _ => 0,
    };
    let margin = kernel.len() / 2 + shift;
    let pw = sw + 2 * margin;
    let ph = sh + 2 * margin;
    let xs: Vec<usize> = (0..pw)
        .map(|u| reflect(i64::from(first.x) + u as i64 - margin as i64, w))
        .collect();
    let mut pa = Vec::with_capacity(pw * ph);
    let mut pb = Vec::with_capacity(pw * ph);
    for v in 0..ph {
        let y = reflect(i64::from(first.y) + v as i64 - margin as i64, h);
        pa.extend(xs.iter().map(|&x| f32::from(a.at(x, y))));
        pb.extend(xs.iter().map(|&x| f32::from(b.at(x, y))));
    }
    let segment = Segment::new(pa, pb, (sw, sh), shift, kernel);
    let base = segment.base();
    let mut s = base.clone();
    let tile_cols = |t: &TileRect| (t.x - first.x) as usize..(t.x - first.x + t.w) as usize;

    // Shift tolerance: re-check the rows of flagged tiles that hold a pixel whose
    // best SSIM so far is at or below 1 - care, over the span of those tiles.
    if let MapKind::ShiftTolerant { care, only, .. } = kind {
        let floor = 1.0 - care;
        let flagged =
            |t: &TileRect| only.is_none_or(|f| f[((t.y / TILE) * cols + t.x / TILE) as usize]);
        let pending = |s: &[f32]| -> Option<(Range<usize>, Range<usize>)> {
            let (mut c, mut rws): (Option<Range<usize>>, Option<Range<usize>>) = (None, None);
            for t in seg.iter().filter(|t| flagged(t)) {
                let tc = tile_cols(t);
                for j in 0..sh {
                    if s[j * sw + tc.start..j * sw + tc.end]
                        .iter()
                        .any(|v| *v <= floor)
                    {
                        c = Some(
                            c.map_or(tc.clone(), |c| c.start.min(tc.start)..c.end.max(tc.end)),
                        );
                        rws = Some(rws.map_or(j..j + 1, |r| r.start.min(j)..r.end.max(j + 1)));
                    }
                }
            }
            Some((c?, rws?))
        };
        let (mut scratch, mut shifted) = (Vec::new(), Vec::new());
        let mut todo = pending(&s);
        let mut shifts: Vec<(i64, i64)> = (-(shift as i64)..=shift as i64)
            .flat_map(|y| (-(shift as i64)..=shift as i64).map(move |x| (x, y)))
            .filter(|&d| d != (0, 0))
            .collect();
        shifts.sort_by_key(|&(x, y)| x * x + y * y);
        for (dx, dy) in shifts {
            {
                let Some((cc, rr)) = todo.clone() else {
                    break;
                };
                segment.shifted(
                    kernel,
                    cc.clone(),
                    rr.clone(),
                    (dx, dy),
                    &mut scratch,
                    &mut shifted,
                );
                for (j, row) in rr.zip(shifted.chunks_exact(cc.len())) {
                    for (bv, sv) in s[j * sw + cc.start..j * sw + cc.end].iter_mut().zip(row) {
                        *bv = bv.max(*sv);
                    }
                }
                todo = pending(&s);
            }
        }
    }

    seg.iter()
        .map(|&t| {
            let tc = tile_cols(&t);
            let values: Vec<f32> = (0..sh)
                .flat_map(|j| s[j * sw + tc.start..j * sw + tc.end].iter().copied())
                .collect();
            // The score is the unshifted SSIM.
            let deficit = tile_deficit(&t, &base, sw, tc.start, (cx0, cy0, cx1, cy1));
            let map = match kind {
                MapKind::None => None,
                _ => Some(values),
            };
            (t, deficit, map)
        })
        .collect()
}

/// Σ (1 - S) over the part of tile `t` inside the crop; `s` is the segment's SSIM.
fn tile_deficit(
    t: &TileRect,
    s: &[f32],
    sw: usize,
    c0: usize,
    (cx0, cy0, cx1, cy1): (u32, u32, u32, u32),
) -> f64 {
    let mut deficit = 0f64;
    for row in 0..t.h {
        let y = t.y + row;
        if y < cy0 || y >= cy1 {
            continue;
        }
        for col in 0..t.w {
            let x = t.x + col;
            if x >= cx0 && x < cx1 {
                deficit += 1.0 - f64::from(s[row as usize * sw + c0 + col as usize]);
            }
        }
    }
    deficit
}

/// A tile, its Σ (1 - SSIM) over the cropped area, and its map values if asked for.
type TileResult = (TileRect, f64, Option<Vec<f32>>);

/// Mirror index as SciPy's `reflect` mode: (d c b a | a b c d | d c b a).
#[inline]
fn reflect(i: i64, n: i64) -> usize {
    let mut i = i;
    loop {
        if i < 0 {
            i = -i - 1;
        } else if i >= n {
            i = 2 * n - i - 1;
        } else {
            return i as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 13) % 256) as u8]))
    }

    #[test]
    fn equal_images_score_exactly_one() {
        let a = ramp(50, 40);
        assert_eq!(ssim_gray(&a, &a), 1.0);
    }

    #[test]
    fn tile_skipping_gives_the_same_score() {
        let a = ramp(100, 90);
        let mut b = a.clone();
        for y in 40..50 {
            for x in 60..75 {
                b.put_pixel(x, y, image::Luma([0]));
            }
        }
        let full = ssim_gray(&a, &b);
        let rgba = |g: &GrayImage| {
            RgbaImage::from_fn(g.width(), g.height(), |x, y| {
                let v = g.get_pixel(x, y)[0];
                image::Rgba([v, v, v, 255])
            })
        };
        let (ra, rb) = (rgba(&a), rgba(&b));
        let tiles = Tiles::find(&ra, &rb);
        let fast = compute(&Luma(&ra), &Luma(&rb), &tiles, MapKind::None).score;
        assert!(full < 0.99);
        assert!((full - fast).abs() < 1e-6, "{full} vs {fast}");
    }

    #[test]
    fn reflect_matches_scipy() {
        assert_eq!(reflect(-1, 5), 0);
        assert_eq!(reflect(-2, 5), 1);
        assert_eq!(reflect(5, 5), 4);
        assert_eq!(reflect(6, 5), 3);
        assert_eq!(reflect(-3, 2), 1);
    }
}
