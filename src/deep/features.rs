//! From two images to a deep change map: preprocessing at a working resolution that
//! keeps the aspect ratio (no centre crop), one batch through the backbone, and an
//! LPIPS-style distance between the feature maps, tolerant of one cell of shift.

//!
//! The map itself ([`DeepMap`]) is a plain grid, so the library without the `deep`
//! feature needs no tensor crate; the computation (ndarray, ONNX Runtime) needs it.

use super::backbone::Backbone;
#[cfg(feature = "deep")]
use super::backbone::FeatureMap;
use super::manifest::ModelSpec;
use crate::error::Result;
#[cfg(feature = "deep")]
use crate::map::gaussian_kernel;
#[cfg(feature = "deep")]
use image::imageops::{self, FilterType};
use image::RgbaImage;
#[cfg(feature = "deep")]
use image::{ImageBuffer, Luma};
#[cfg(feature = "deep")]
use ndarray::{s, Array2, Array3, Array4, ArrayView1, ArrayView2, ArrayViewMut3, Axis, Zip};
#[cfg(feature = "deep")]
use rayon::prelude::*;

/// The working resolution: the image scaled to `w × h`, padded to `pw × ph`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Work {
    pub w: u32,
    pub h: u32,
    pub pw: u32,
    pub ph: u32,
    /// Working pixels per image pixel, along x and y.
    pub sx: f32,
    pub sy: f32,
}

impl Work {
    /// Short side `working_short_side`, long side at most `max_long_side`, both padded
    /// to a multiple of `pad_multiple`.
    pub fn for_image(width: u32, height: u32, spec: &ModelSpec) -> Work {
        let (short, long) = (width.min(height).max(1), width.max(height).max(1));
        let mut scale = spec.working_short_side as f32 / short as f32;
        if long as f32 * scale > spec.max_long_side as f32 {
            scale = spec.max_long_side as f32 / long as f32;
        }
        let w = ((width as f32 * scale).round() as u32).max(1);
        let h = ((height as f32 * scale).round() as u32).max(1);
        let m = spec.pad_multiple;
        Work {
            w,
            h,
            pw: w.div_ceil(m) * m,
            ph: h.div_ceil(m) * m,
            sx: w as f32 / width.max(1) as f32,
            sy: h as f32 / height.max(1) as f32,
        }
    }
}

#[cfg(feature = "deep")]
/// Gaussian smoothing of the deep map (σ, working pixels).
const SMOOTH: f32 = 4.0;

#[cfg(feature = "deep")]
/// Gaussian blur (σ, working pixels) applied before the backbone: JPEG ringing and
/// sensor noise otherwise move the stride-8 features of textured areas.
const BLUR: f32 = 1.0;

#[cfg(feature = "deep")]
/// ImageNet classification of one image, as the backbone was trained: shorter side
/// scaled to 256, centre crop 224×224. Returns the class scores (`None` when the
/// model has no logits output). Used to check that the weights are the real ones.
pub fn classify(backbone: &Backbone, img: &RgbaImage) -> Result<Option<Vec<f32>>> {
    let (w, h) = img.dimensions();
    let scale = 256.0 / w.min(h).max(1) as f32;
    let (sw, sh) = (
        ((w as f32 * scale).round() as u32).max(224),
        ((h as f32 * scale).round() as u32).max(224),
    );
    let scaled = imageops::resize(img, sw, sh, FilterType::Triangle);
    let crop = imageops::crop_imm(&scaled, (sw - 224) / 2, (sh - 224) / 2, 224, 224).to_image();
    let work = Work {
        w: 224,
        h: 224,
        pw: 224,
        ph: 224,
        sx: 1.0,
        sy: 1.0,
    };
    let mut input = Array4::<f32>::zeros((1, 3, 224, 224));
    to_tensor(
        &crop,
        work,
        backbone.spec(),
        input.index_axis_mut(Axis(0), 0),
    );
    let out = backbone.run(input)?;
    Ok(out.logits.map(|l| l.row(0).to_vec()))
}

#[cfg(feature = "deep")]
/// Scales an image to the working size with a Gaussian filter (which also does the
/// light blur) and writes it as normalised CHW floats (`out`: `[3, ph, pw]`),
/// composited over white; the padding repeats the edge pixels.
///
/// Kept hand-written. 1080p to 796×448 (one thread, callgrind): 345.7 M instructions
/// here; `image`'s `resize` (its Gaussian filter, σ fixed at 0.5 output px, on
/// `Rgb32F`) 572.6 M and a different image (up to 1.44 apart after normalisation);
/// `fast_image_resize` with a custom Gaussian of the same σ (`F32x3`) 255.8 M but not
/// the same values (up to 0.27 apart: it cuts the window at a different radius and
/// normalises in f64), and it needs Rust 1.87, above this crate's 1.85. The deep map
/// would change with either, and the resample is a small part of a deep run.
fn preprocess(img: &RgbaImage, work: Work, spec: &ModelSpec, out: ArrayViewMut3<'_, f32>) {
    let (iw, ih) = img.dimensions();
    let (iw, ih) = (iw as usize, ih as usize);
    let (pw, ph) = (work.pw as usize, work.ph as usize);
    let xs = taps(iw, work.w as usize, pw, work.sx);
    let ys = taps(ih, work.h as usize, ph, work.sy);
    // Horizontal pass: every input row to `pw` RGB columns.
    let mut rows = vec![0.0f32; ih * pw * 3];
    rows.par_chunks_mut(pw * 3)
        .enumerate()
        .for_each(|(y, row)| {
            // The input row as 0..1 RGB over white.
            let line: Vec<[f32; 3]> = img.as_raw()[y * iw * 4..(y + 1) * iw * 4]
                .chunks_exact(4)
                .map(|p| {
                    let a = f32::from(p[3]) / 255.0;
                    let over = |c: u8| f32::from(c) / 255.0 * a + (1.0 - a);
                    [over(p[0]), over(p[1]), over(p[2])]
                })
                .collect();
            for (x, (start, weights)) in xs.iter().enumerate() {
                let mut acc = [0.0f32; 3];
                for (p, wgt) in line[*start..*start + weights.len()].iter().zip(weights) {
                    acc[0] += wgt * p[0];
                    acc[1] += wgt * p[1];
                    acc[2] += wgt * p[2];
                }
                row[x * 3..x * 3 + 3].copy_from_slice(&acc);
            }
        });
    // Vertical pass, normalisation, planar layout.
    let planar = out
        .into_slice()
        .expect("a standard-layout [3, ph, pw] block");
    planar.par_chunks_mut(pw).enumerate().for_each(|(i, line)| {
        let (c, y) = (i / ph, i % ph);
        let (start, weights) = &ys[y];
        line.fill(0.0);
        for (k, wgt) in weights.iter().enumerate() {
            let src = &rows[(start + k) * pw * 3..(start + k + 1) * pw * 3];
            for (v, p) in line.iter_mut().zip(src.chunks_exact(3)) {
                *v += wgt * p[c];
            }
        }
        let (mean, inv_std) = (spec.mean[c], 1.0 / spec.std[c]);
        line.iter_mut().for_each(|v| *v = (*v - mean) * inv_std);
    });
}

#[cfg(feature = "deep")]
/// Gaussian resampling weights from `n_in` input pixels to `n_out` output pixels
/// (scale `s` = output per input), padded to `n_pad` by repeating the last output
/// pixel. Each entry: first input index and normalised weights. The filter's width
/// is [`BLUR`] plus half an output pixel of anti-aliasing, in output pixels.
fn taps(n_in: usize, n_out: usize, n_pad: usize, s: f32) -> Vec<(usize, Vec<f32>)> {
    let sigma_out = (BLUR * BLUR + 0.25).sqrt();
    let sigma = (sigma_out / s).max(0.5);
    let radius = (3.0 * sigma).ceil() as isize;
    (0..n_pad)
        .map(|o| {
            let o = o.min(n_out - 1);
            let centre = (o as f32 + 0.5) / s - 0.5;
            let lo = (centre.round() as isize - radius).clamp(0, n_in as isize - 1) as usize;
            let hi = (centre.round() as isize + radius).clamp(0, n_in as isize - 1) as usize;
            let mut w: Vec<f32> = (lo..=hi)
                .map(|i| {
                    let d = (i as f32 - centre) / sigma;
                    (-0.5 * d * d).exp()
                })
                .collect();
            let sum: f32 = w.iter().sum();
            w.iter_mut().for_each(|v| *v /= sum);
            (lo, w)
        })
        .collect()
}

#[cfg(feature = "deep")]
/// Writes an image of the working size as normalised CHW floats (`out`: `[3, ph, pw]`,
/// composited over white; the padding repeats the edge pixels).
fn to_tensor(small: &RgbaImage, work: Work, spec: &ModelSpec, mut out: ArrayViewMut3<'_, f32>) {
    for ((c, y, x), v) in out.indexed_iter_mut() {
        let p = small
            .get_pixel((x as u32).min(work.w - 1), (y as u32).min(work.h - 1))
            .0;
        let a = f32::from(p[3]) / 255.0;
        let over = (f32::from(p[c]) / 255.0) * a + (1.0 - a);
        *v = (over - spec.mean[c]) / spec.std[c];
    }
}

/// Working pixels per cell of the deep change map.
pub const CELL: u32 = 4;

/// The deep change map, 0 (same) to 4 (opposite features), on a grid of
/// [`CELL`]-pixel cells of the working resolution, and the image-level scores.
#[derive(Debug, Clone)]
pub struct DeepMap {
    pub work: Work,
    /// Grid size: the working size divided by [`CELL`], rounded up.
    pub cols: u32,
    pub rows: u32,
    /// Row-major, `rows × cols`.
    pub values: Vec<f32>,
    /// Cosine similarity of the pooled embeddings.
    pub semantic: f64,
    /// Mean cosine similarity of corresponding feature cells (stride-16 layer).
    pub patch_similarity: f64,
    /// The pair's own level of unchanged cells: median and robust spread (1.4826 ×
    /// the median absolute deviation) of the map's values. Most cells of a pair do not
    /// change, so these describe what "nothing changed" looks like for this pair (a
    /// re-taken photo's parallax and lighting raise both); see [`DeepMap::level`].
    pub null_median: f32,
    pub null_spread: f32,
    /// Stride of the coarsest feature layer, in working pixels: the smallest
    /// area the features can tell apart from its surroundings.
    pub stride: u32,
    /// Milliseconds spent preprocessing, in the backbone, and building the map.
    pub timings: [f64; 3],
}

impl DeepMap {
    /// The map at an image pixel (bilinear).
    pub fn at_image(&self, x: u32, y: u32) -> f32 {
        let u = (x as f32 + 0.5) * self.work.sx / CELL as f32 - 0.5;
        let v = (y as f32 + 0.5) * self.work.sy / CELL as f32 - 0.5;
        bilinear(&self.values, self.cols as usize, self.rows as usize, u, v)
    }

    /// The map at a grid cell.
    pub fn at_cell(&self, x: u32, y: u32) -> f32 {
        self.values[y as usize * self.cols as usize + x as usize]
    }

    /// The image pixels a grid cell covers: `[x0, x1)`, `[y0, y1)`.
    pub fn cell_to_image(&self, x: u32, y: u32) -> [f32; 4] {
        let (cx, cy) = (CELL as f32 / self.work.sx, CELL as f32 / self.work.sy);
        [
            x as f32 * cx,
            y as f32 * cy,
            (x + 1) as f32 * cx,
            (y + 1) as f32 * cy,
        ]
    }

    /// The coarsest feature cell's size in image pixels, `[width, height]`.
    pub fn stride_in_image(&self) -> [f32; 2] {
        [
            self.stride as f32 / self.work.sx,
            self.stride as f32 / self.work.sy,
        ]
    }

    pub fn max(&self) -> f32 {
        self.values.iter().fold(0.0, |m, v| m.max(*v))
    }

    /// The automatic threshold: `floor`, or [`SIGNIFICANCE`] robust spreads above the
    /// pair's unchanged level when that is higher. A cell at or over it is significant
    /// against the pair's own distribution of distances: were the unchanged cells'
    /// distances Gaussian with this median and spread, a cell would cross it by chance
    /// with probability under 3·10⁻⁷ (one-sided 5σ), under 0.002 expected false cells
    /// on the largest grid (224 × 448 working pixels, 6272 cells). Real distance
    /// distributions have heavier tails than that, which the floor covers.
    pub fn level(&self, floor: f32) -> f32 {
        floor.max(self.null_median + SIGNIFICANCE * self.null_spread)
    }
}

/// Robust spreads above the pair's unchanged level that make a deep cell significant
/// ([`DeepMap::level`]).
pub const SIGNIFICANCE: f32 = 5.0;

/// Median and robust spread (1.4826 × MAD) of a map's values.
#[cfg(any(feature = "deep", test))]
fn robust_null(values: &[f32]) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let median = |v: &mut Vec<f32>| -> f32 {
        let mid = v.len() / 2;
        *v.select_nth_unstable_by(mid, f32::total_cmp).1
    };
    let mut v = values.to_vec();
    let m = median(&mut v);
    let mut dev: Vec<f32> = values.iter().map(|x| (x - m).abs()).collect();
    (m, 1.4826 * median(&mut dev))
}

#[cfg(feature = "deep")]
/// Runs A and B as one batch and builds the deep change map.
pub fn deep_map(backbone: &Backbone, a: &RgbaImage, b: &RgbaImage) -> Result<DeepMap> {
    let spec = backbone.spec();
    let clock = std::time::Instant::now();
    let mut timings = [0.0; 3];
    let elapsed = || clock.elapsed().as_secs_f64() * 1000.0;
    let work = Work::for_image(a.width(), a.height(), spec);
    let mut input = Array4::<f32>::zeros((2, 3, work.ph as usize, work.pw as usize));
    {
        let (ia, ib) = input.view_mut().split_at(Axis(0), 1);
        rayon::join(
            || preprocess(a, work, spec, ia.index_axis_move(Axis(0), 0)),
            || preprocess(b, work, spec, ib.index_axis_move(Axis(0), 0)),
        );
    }
    timings[0] = elapsed();
    let out = backbone.run(input)?;
    timings[1] = elapsed() - timings[0];
    let semantic = cosine(
        out.pooled.row(0).as_slice().expect("standard layout"),
        out.pooled.row(1).as_slice().expect("standard layout"),
    );
    let layers: Vec<(Array2<f32>, &FeatureMap)> = out
        .features
        .iter()
        .map(|f| (layer_distance(f, work), f))
        .collect();
    let coarsest = out
        .features
        .iter()
        .max_by_key(|f| f.stride)
        .expect("features");
    let patch_similarity = patch_similarity(coarsest, work);
    // Sample every layer at the cell centres and average them.
    let (cols, rows) = (
        work.w.div_ceil(CELL) as usize,
        work.h.div_ceil(CELL) as usize,
    );
    let mut values = Array2::<f32>::zeros((rows, cols));
    for (d, f) in &layers {
        let s = f.stride as f32;
        let centre = |i: usize| ((i as f32 + 0.5) * CELL as f32) / s - 0.5;
        for ((y, x), v) in values.indexed_iter_mut() {
            let (gh, gw) = d.dim();
            let grid = d.as_slice().expect("a standard-layout grid");
            *v += bilinear(grid, gw, gh, centre(x), centre(y)) / layers.len() as f32;
        }
    }
    let values = gaussian_blur(values.view(), SMOOTH / CELL as f32);
    let (null_median, null_spread) = robust_null(&values);
    timings[2] = elapsed() - timings[0] - timings[1];
    Ok(DeepMap {
        work,
        cols: cols as u32,
        rows: rows as u32,
        values,
        semantic,
        patch_similarity,
        null_median,
        null_spread,
        stride: coarsest.stride,
        timings,
    })
}

/// Without the `deep` feature no backbone exists, so no map can be asked for.
#[cfg(not(feature = "deep"))]
pub fn deep_map(backbone: &Backbone, _a: &RgbaImage, _b: &RgbaImage) -> Result<DeepMap> {
    match *backbone {}
}

/// Cells of a feature map that cover the image (not only padding).
#[cfg(feature = "deep")]
fn valid_cells(f: &FeatureMap, work: Work) -> (usize, usize) {
    let s = f.stride;
    let (_, _, h, w) = f.data.dim();
    (
        (work.w.div_ceil(s) as usize).min(w),
        (work.h.div_ceil(s) as usize).min(h),
    )
}

#[cfg(feature = "deep")]
/// Feature vectors of item `i` (`[gh, gw, c]`) for the valid cells only, each divided
/// by its norm plus `eps`: strong features become unit vectors, while the weak,
/// direction-less features of flat areas stay short, so sensor noise there cannot
/// swing them around.
fn unit_cells(f: &FeatureMap, i: usize, gw: usize, gh: usize, eps: f32) -> Array3<f32> {
    let mut out = cells(f, i, gw, gh);
    for mut cell in out.lanes_mut(Axis(2)) {
        let inv = 1.0 / (norm(cell.view()) + eps + 1e-10);
        cell.mapv_inplace(|v| v * inv);
    }
    out
}

#[cfg(feature = "deep")]
/// Raw feature vectors of item `i`, `[gh, gw, c]` (each cell's channels contiguous),
/// valid cells only.
fn cells(f: &FeatureMap, i: usize, gw: usize, gh: usize) -> Array3<f32> {
    let valid = f.item(i).slice_move(s![.., ..gh, ..gw]);
    valid
        .permuted_axes([1, 2, 0])
        .as_standard_layout()
        .into_owned()
}

#[cfg(feature = "deep")]
/// The values of an array in standard (row-major) layout, as one slice.
fn standard<D: ndarray::Dimension>(a: &ndarray::ArrayRef<f32, D>) -> &[f32] {
    a.as_slice().expect("a standard-layout array")
}

#[cfg(feature = "deep")]
/// Euclidean norm, summed in order (not `dot`, whose unrolled sum rounds otherwise).
fn norm(v: ArrayView1<'_, f32>) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[cfg(feature = "deep")]
/// The normalisation floor of a layer: a share of the mean feature norm over both
/// images' valid cells.
fn norm_floor(f: &FeatureMap, gw: usize, gh: usize) -> f32 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for i in 0..2 {
        for cell in cells(f, i, gw, gh).lanes(Axis(2)) {
            sum += f64::from(norm(cell));
            n += 1;
        }
    }
    (NORM_FLOOR * sum / n.max(1) as f64) as f32
}

#[cfg(feature = "deep")]
/// See [`norm_floor`].
const NORM_FLOOR: f64 = 0.25;

#[cfg(feature = "deep")]
/// Squared distance of unit vectors: 2 (1 - cos), 0..4 (summed in channel order).
#[inline]
fn dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(feature = "deep")]
/// The layer's distance per valid cell (`[gh, gw]`): for each shift of up to one cell,
/// the squared distance averaged over the 3×3 neighbourhood; the best shift wins, and
/// the larger of the two directions (A against B, B against A) counts.
fn layer_distance(f: &FeatureMap, work: Work) -> Array2<f32> {
    let (gw, gh) = valid_cells(f, work);
    let eps = norm_floor(f, gw, gh);
    let ua = unit_cells(f, 0, gw, gh, eps);
    let ub = unit_cells(f, 1, gw, gh, eps);
    // Cells are read as slices of the `[gh, gw, c]` arrays: `slice` per cell cost a
    // third more instructions per deep map.
    let c = f.data.dim().1;
    let one_way = |p: &[f32], q: &[f32]| -> Array2<f32> {
        let mut best = Array2::from_elem((gh, gw), f32::INFINITY);
        for dy in -1i32..=1 {
            for dx in -1i32..=1 {
                // Raw distance of each cell to its shifted partner (NaN: partner outside).
                let raw = Array2::from_shape_fn((gh, gw), |(y, x)| {
                    let (qx, qy) = (x as i32 + dx, y as i32 + dy);
                    if qx < 0 || qy < 0 || qx >= gw as i32 || qy >= gh as i32 {
                        return f32::NAN;
                    }
                    let (i, j) = (y * gw + x, qy as usize * gw + qx as usize);
                    dist(&p[i * c..(i + 1) * c], &q[j * c..(j + 1) * c])
                });
                let avg = box3_mean(raw.view());
                Zip::from(&mut best).and(&avg).for_each(|b, &v| {
                    if v < *b {
                        *b = v;
                    }
                });
            }
        }
        best.mapv(|v| if v.is_finite() { v } else { 0.0 })
    };
    let (ua, ub) = (standard(&ua), standard(&ub));
    let ab = one_way(ua, ub);
    let ba = one_way(ub, ua);
    Zip::from(&ab).and(&ba).map_collect(|x, y| x.max(*y))
}

#[cfg(feature = "deep")]
/// Mean over each cell's 3×3 neighbourhood, skipping NaN; NaN where the cell is NaN.
fn box3_mean(v: ArrayView2<'_, f32>) -> Array2<f32> {
    let (h, w) = v.dim();
    Array2::from_shape_fn((h, w), |(y, x)| {
        if v[[y, x]].is_nan() {
            return f32::NAN;
        }
        let (mut sum, mut n) = (0.0f32, 0u32);
        for ny in y.saturating_sub(1)..(y + 2).min(h) {
            for nx in x.saturating_sub(1)..(x + 2).min(w) {
                let s = v[[ny, nx]];
                if !s.is_nan() {
                    sum += s;
                    n += 1;
                }
            }
        }
        sum / n as f32
    })
}

#[cfg(feature = "deep")]
fn patch_similarity(f: &FeatureMap, work: Work) -> f64 {
    let (gw, gh) = valid_cells(f, work);
    let ua = unit_cells(f, 0, gw, gh, 0.0);
    let ub = unit_cells(f, 1, gw, gh, 0.0);
    let sum: f64 = Zip::from(ua.lanes(Axis(2)))
        .and(ub.lanes(Axis(2)))
        .fold(0.0, |acc, a, b| {
            acc + (1.0 - f64::from(dist(standard(&a), standard(&b))) / 2.0)
        });
    sum / (gw * gh).max(1) as f64
}

/// Cosine similarity; 1 for two zero vectors (nothing to tell apart).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 && bb == 0.0 {
        return 1.0;
    }
    (ab / (aa.sqrt() * bb.sqrt()).max(1e-30)).clamp(-1.0, 1.0)
}

/// Bilinear sample of a grid (`[h, w]`) at (u, v), clamped at the edges.
///
/// Kept hand-written: `image`'s `interpolate_bilinear` on the same grid took 7 % more
/// instructions (193.7 M against 180.7 M for 20 resamplings of a 1080p pair's two
/// layers onto the 199×112 cell grid, callgrind) and rounds differently (weighted
/// mean of four corners, not two lerps): a third of the values changed in the last
/// bit.
fn bilinear(g: &[f32], w: usize, h: usize, u: f32, v: f32) -> f32 {
    let u = u.clamp(0.0, (w - 1) as f32);
    let v = v.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (u.floor() as usize, v.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (u - x0 as f32, v - y0 as f32);
    let top = g[y0 * w + x0] * (1.0 - fx) + g[y0 * w + x1] * fx;
    let bottom = g[y1 * w + x0] * (1.0 - fx) + g[y1 * w + x1] * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(feature = "deep")]
/// Separable Gaussian blur with clamped edges (imageproc's `separable_filter_equal`
/// with the kernel of [`gaussian_kernel`]). It replaced a hand-written pass that gave
/// bit-identical values: on a 199×112 map (1080p input), 20 blurs took 114.2 M
/// instructions hand-written and 68.5 M with imageproc (callgrind).
fn gaussian_blur(v: ArrayView2<'_, f32>, sigma: f32) -> Vec<f32> {
    let (h, w) = v.dim();
    let k = gaussian_kernel(sigma, 3.0);
    let grid: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_raw(w as u32, h as u32, v.iter().copied().collect()).expect("h × w");
    imageproc::filter::separable_filter_equal(&grid, &k).into_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        ModelSpec::resolve("efficientnet-lite0", &dir).unwrap()
    }

    #[test]
    fn working_size_keeps_the_aspect_ratio() {
        // The offline manifest: short side 224, long side at most 448, padded to 32.
        let w = Work::for_image(1920, 1080, &spec());
        assert_eq!((w.w, w.h), (398, 224));
        assert_eq!((w.pw, w.ph), (416, 224));
        let w = Work::for_image(1280, 800, &spec());
        assert_eq!((w.w, w.h, w.pw, w.ph), (358, 224, 384, 224));
        let w = Work::for_image(100, 4000, &spec());
        assert_eq!((w.w, w.h), (11, 448));
        assert_eq!((w.pw, w.ph), (32, 448));
        let w = Work::for_image(64, 64, &spec());
        assert_eq!((w.w, w.h, w.pw, w.ph), (224, 224, 224, 224));
    }

    #[test]
    fn the_null_level_is_the_median_and_the_scaled_mad() {
        // Nine unchanged cells around 0.1 and one changed cell: the changed one moves
        // neither the median nor the spread.
        let mut v = vec![0.08f32, 0.09, 0.1, 0.1, 0.1, 0.11, 0.12, 0.1, 0.1, 3.0];
        let (m, s) = robust_null(&v);
        assert!((m - 0.1).abs() < 1e-6, "median {m}");
        assert!(s > 0.0 && s < 0.02, "spread {s}");
        v[9] = 0.1;
        assert_eq!(robust_null(&v).0, 0.1);
        assert_eq!(robust_null(&[]), (0.0, 0.0));
    }

    #[test]
    fn cosine_of_equal_and_opposite_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-12);
        assert!((cosine(&[1.0, 0.0], &[-1.0, 0.0]) + 1.0).abs() < 1e-12);
        assert_eq!(cosine(&[0.0], &[0.0]), 1.0);
    }

    #[cfg(feature = "deep")]
    #[test]
    fn shifted_features_cost_nothing_changed_ones_do() {
        // A 6x6 grid, 2 channels: B is A shifted one cell right, except one cell.
        let (gw, gh, c) = (6usize, 6usize, 2usize);
        let cellv = |x: usize, y: usize| [((x * 7 + y * 3) % 5) as f32 + 1.0, (y % 3) as f32];
        let mut data = vec![0.0f32; 2 * c * gw * gh];
        for y in 0..gh {
            for x in 0..gw {
                let a = cellv(x, y);
                let b = cellv(x.saturating_sub(1), y);
                for ch in 0..c {
                    data[ch * gw * gh + y * gw + x] = a[ch];
                    data[c * gw * gh + ch * gw * gh + y * gw + x] = b[ch];
                }
            }
        }
        let tensor = |data: Vec<f32>| Array4::from_shape_vec((2, c, gh, gw), data).unwrap();
        let f = FeatureMap {
            stride: 8,
            data: tensor(data.clone()),
        };
        let work = Work {
            w: 48,
            h: 48,
            pw: 48,
            ph: 48,
            sx: 1.0,
            sy: 1.0,
        };
        let d = layer_distance(&f, work);
        assert!(d[[2, 3]] < 1e-6, "shift not tolerated: {}", d[[2, 3]]);
        // Flip one cell of B to the opposite direction.
        let mut changed = data;
        for ch in 0..c {
            changed[c * gw * gh + ch * gw * gh + 3 * gw + 3] *= -1.0;
        }
        let f = FeatureMap {
            data: tensor(changed),
            ..f
        };
        let d = layer_distance(&f, work);
        assert!(d[[3, 3]] > 0.3, "change missed: {}", d[[3, 3]]);
    }
}
