//! Evaluation against labelled pairs: manifest parsing, box matching by IoU, detection
//! metrics, pixel AUROC and Spearman's rank correlation.
//!
//! A manifest is JSON, either an array of pairs or an object:
//!
//! ```json
//! {
//!   "name": "my-set",
//!   "root": "images",
//!   "pairs": [
//!     {"name": "p1", "a": "p1-a.png", "b": "p1-b.png",
//!      "boxes": [[10, 20, 30, 40]], "mask": "p1-mask.png", "tags": ["edit:text"]},
//!     {"name": "p2", "a": "p2-a.png", "b": "p2-b.png", "expect": "same", "boxes": []},
//!     {"name": "p3", "a": "p3-a.png", "b": "p3-b.png", "expect": "different"}
//!   ],
//!   "rankings": [
//!     {"name": "r1", "ref": "ref.png", "candidates": [
//!       {"path": "light-edit.png", "severity": 1},
//!       {"path": "heavy-edit.png", "severity": 3},
//!       {"path": "other-photo.png", "unrelated": true}]}
//!   ]
//! }
//! ```
//!
//! Paths are relative to the manifest's folder joined with `root` (default: the folder
//! itself). Boxes are `[x, y, w, h]` in pixels of A. `expect` is `same` or `different`;
//! when absent it follows from `boxes` (empty: same). A pair without `boxes` has only a
//! verdict as truth and counts in the pair-level numbers, not the box numbers. `mask`
//! (optional) is an image whose non-black pixels are the changed ones; it feeds the pixel
//! AUROC, where a `same` pair without a mask counts as all unchanged.

use crate::error::{Error, Result};
use crate::options::{Method, Options, Threshold, DEEP_FLOOR, PIXEL_FLOOR, SSIM_FLOOR};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A box as `[x, y, w, h]`.
pub type BoxXywh = [u32; 4];

/// The expected pair-level result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Same,
    Different,
}

/// One labelled pair, paths resolved.
#[derive(Debug, Clone, Serialize)]
pub struct PairSpec {
    pub name: String,
    pub a: PathBuf,
    pub b: PathBuf,
    pub expect: Expect,
    /// Truth boxes; `None` when only the verdict is known.
    pub boxes: Option<Vec<BoxXywh>>,
    pub mask: Option<PathBuf>,
    pub tags: Vec<String>,
    /// When a predicted box finds a truth box.
    pub rule: MatchRule,
}

/// A candidate of a ranking task.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub path: PathBuf,
    /// Edit severity (0 = untouched or nuisance only); `None` for unrelated images.
    pub severity: Option<f64>,
}

/// A ranking task: candidates to order by similarity to `reference`.
#[derive(Debug, Clone, Serialize)]
pub struct RankSpec {
    pub name: String,
    pub reference: PathBuf,
    pub candidates: Vec<Candidate>,
}

/// A parsed manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub name: String,
    pub pairs: Vec<PairSpec>,
    pub rankings: Vec<RankSpec>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawManifest {
    List(Vec<RawPair>),
    Full {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        root: Option<PathBuf>,
        #[serde(default)]
        pairs: Vec<RawPair>,
        #[serde(default)]
        rankings: Vec<RawRanking>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPair {
    #[serde(default)]
    name: Option<String>,
    a: PathBuf,
    b: PathBuf,
    #[serde(default)]
    expect: Option<Expect>,
    #[serde(default)]
    boxes: Option<Vec<BoxXywh>>,
    #[serde(default)]
    mask: Option<PathBuf>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, rename = "match")]
    rule: MatchRule,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRanking {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "ref")]
    reference: PathBuf,
    candidates: Vec<RawCandidate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCandidate {
    path: PathBuf,
    #[serde(default)]
    severity: Option<f64>,
    #[serde(default)]
    unrelated: bool,
}

impl Manifest {
    /// Reads and checks a manifest. `root` overrides the manifest's own `root`.
    pub fn load(path: &Path, root: Option<&Path>) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        Manifest::parse(&text, path, root)
    }

    /// Parses manifest text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path, root: Option<&Path>) -> Result<Manifest> {
        let bad = |problem: String| Error::Decode {
            path: path.to_path_buf(),
            problem,
        };
        let raw: RawManifest =
            serde_json::from_str(text).map_err(|e| bad(format!("not a spotdiff manifest: {e}")))?;
        let (name, own_root, pairs, rankings) = match raw {
            RawManifest::List(p) => (None, None, p, Vec::new()),
            RawManifest::Full {
                name,
                root,
                pairs,
                rankings,
            } => (name, root, pairs, rankings),
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let base = match (root, own_root) {
            (Some(r), _) => r.to_path_buf(),
            (None, Some(r)) => dir.join(r),
            (None, None) => dir.to_path_buf(),
        };
        let name = name.unwrap_or_else(|| {
            path.file_stem()
                .map_or("manifest".into(), |s| s.to_string_lossy().into_owned())
        });
        let mut out = Vec::with_capacity(pairs.len());
        for (i, p) in pairs.into_iter().enumerate() {
            let pname = p.name.unwrap_or_else(|| format!("pair{}", i + 1));
            let expect = match (p.expect, &p.boxes) {
                (Some(e), _) => e,
                (None, Some(b)) if b.is_empty() => Expect::Same,
                (None, Some(_)) => Expect::Different,
                (None, None) => {
                    return Err(bad(format!(
                        "pair `{pname}` has neither `expect` nor `boxes`"
                    )))
                }
            };
            if let Some(b) = &p.boxes {
                if expect == Expect::Same && !b.is_empty() {
                    return Err(bad(format!(
                        "pair `{pname}` expects `same` but lists boxes"
                    )));
                }
                if let Some(z) = b.iter().find(|b| b[2] == 0 || b[3] == 0) {
                    return Err(bad(format!("pair `{pname}`: box {z:?} is empty")));
                }
            }
            out.push(PairSpec {
                name: pname,
                a: base.join(p.a),
                b: base.join(p.b),
                expect,
                boxes: p.boxes,
                mask: p.mask.map(|m| base.join(m)),
                tags: p.tags,
                rule: p.rule,
            });
        }
        let rankings = rankings
            .into_iter()
            .enumerate()
            .map(|(i, r)| RankSpec {
                name: r.name.unwrap_or_else(|| format!("ranking{}", i + 1)),
                reference: base.join(r.reference),
                candidates: r
                    .candidates
                    .into_iter()
                    .map(|c| Candidate {
                        path: base.join(c.path),
                        severity: if c.unrelated {
                            None
                        } else {
                            Some(c.severity.unwrap_or(0.0))
                        },
                    })
                    .collect(),
            })
            .collect();
        Ok(Manifest {
            name,
            pairs: out,
            rankings,
        })
    }
}

/// Intersection over union of two `[x, y, w, h]` boxes.
pub fn iou(a: BoxXywh, b: BoxXywh) -> f64 {
    let ix = (a[0] + a[2])
        .min(b[0] + b[2])
        .saturating_sub(a[0].max(b[0]));
    let iy = (a[1] + a[3])
        .min(b[1] + b[3])
        .saturating_sub(a[1].max(b[1]));
    let inter = f64::from(ix) * f64::from(iy);
    let union = f64::from(a[2]) * f64::from(a[3]) + f64::from(b[2]) * f64::from(b[3]) - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// IoU a predicted box needs to find a truth box.
pub const IOU_MATCH: f64 = 0.5;

/// When a predicted box finds a truth box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MatchRule {
    /// IoU ≥ 0.5.
    #[default]
    Iou,
    /// For truth boxes drawn loosely around small defects (DeepPCB's protocol): IoU ≥
    /// 0.33, or at least half of the predicted box inside the truth box.
    Loose,
}

impl MatchRule {
    /// The IoU of `t` and `p` when they match under this rule.
    pub fn score(self, t: BoxXywh, p: BoxXywh) -> Option<f64> {
        let v = iou(t, p);
        let ok = match self {
            MatchRule::Iou => v >= IOU_MATCH,
            MatchRule::Loose => {
                let ix = (t[0] + t[2])
                    .min(p[0] + p[2])
                    .saturating_sub(t[0].max(p[0]));
                let iy = (t[1] + t[3])
                    .min(p[1] + p[3])
                    .saturating_sub(t[1].max(p[1]));
                v >= 0.33 || 2 * u64::from(ix) * u64::from(iy) >= u64::from(p[2]) * u64::from(p[3])
            }
        };
        ok.then_some(v)
    }
}

/// One-to-one matching of predicted to truth boxes at IoU ≥ `min_iou`, greedily by
/// IoU (highest first). Returns the number of matched pairs.
pub fn match_boxes(truth: &[BoxXywh], pred: &[BoxXywh], min_iou: f64) -> usize {
    match_boxes_by(truth, pred, |t, p| {
        let v = iou(t, p);
        (v >= min_iou).then_some(v)
    })
}

/// One-to-one matching where `rule` says whether two boxes match and how well;
/// greedily, best first. Returns the number of matched pairs.
pub fn match_boxes_by(
    truth: &[BoxXywh],
    pred: &[BoxXywh],
    rule: impl Fn(BoxXywh, BoxXywh) -> Option<f64>,
) -> usize {
    let mut cand: Vec<(f64, usize, usize)> = Vec::new();
    for (i, t) in truth.iter().enumerate() {
        for (j, p) in pred.iter().enumerate() {
            if let Some(v) = rule(*t, *p) {
                cand.push((v, i, j));
            }
        }
    }
    cand.sort_by(|x, y| y.0.total_cmp(&x.0));
    let (mut used_t, mut used_p) = (vec![false; truth.len()], vec![false; pred.len()]);
    let mut n = 0;
    for (_, i, j) in cand {
        if !used_t[i] && !used_p[j] {
            used_t[i] = true;
            used_p[j] = true;
            n += 1;
        }
    }
    n
}

/// What one method reported for one pair.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Prediction {
    pub boxes: Vec<BoxXywh>,
    /// Time for the pair (load and compare), milliseconds.
    pub ms: f64,
    /// Set when the comparison failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Counts over a set of pairs, from which the metrics follow.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub pairs: usize,
    /// Pairs with truth boxes.
    pub box_pairs: usize,
    pub truth_boxes: usize,
    pub predicted_boxes: usize,
    pub matched: usize,
    /// Pairs expected `same`, and the boxes reported on them.
    pub change_free_pairs: usize,
    pub change_free_boxes: usize,
    /// Change-free pairs with at least one box.
    pub change_free_flagged: usize,
    /// Pairs whose verdict (any box / no box) agrees with `expect`.
    pub verdict_correct: usize,
    pub errors: usize,
    pub total_ms: f64,
}

impl Tally {
    /// Adds one pair's outcome.
    pub fn add(&mut self, spec: &PairSpec, pred: &Prediction) {
        self.pairs += 1;
        self.total_ms += pred.ms;
        if pred.error.is_some() {
            self.errors += 1;
        }
        let flagged = !pred.boxes.is_empty();
        if flagged == (spec.expect == Expect::Different) && pred.error.is_none() {
            self.verdict_correct += 1;
        }
        if spec.expect == Expect::Same {
            self.change_free_pairs += 1;
            self.change_free_boxes += pred.boxes.len();
            self.change_free_flagged += usize::from(flagged);
        }
        if let Some(truth) = &spec.boxes {
            self.box_pairs += 1;
            self.truth_boxes += truth.len();
            self.predicted_boxes += pred.boxes.len();
            self.matched += match_boxes_by(truth, &pred.boxes, |t, p| spec.rule.score(t, p));
        }
    }

    /// Share of truth boxes found (1 when there are none).
    pub fn recall(&self) -> f64 {
        ratio(self.matched, self.truth_boxes)
    }

    /// Share of predicted boxes (on pairs with truth boxes) that found a truth box.
    pub fn precision(&self) -> f64 {
        ratio(self.matched, self.predicted_boxes)
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Share of pairs whose verdict agrees with the truth.
    pub fn verdict_accuracy(&self) -> f64 {
        ratio(self.verdict_correct, self.pairs)
    }

    /// Mean time per pair in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        if self.pairs == 0 {
            0.0
        } else {
            self.total_ms / self.pairs as f64
        }
    }
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        1.0
    } else {
        n as f64 / d as f64
    }
}

/// Pixel-level ROC area from score histograms: scores are binned on a fixed scale, so
/// any number of pixels costs constant memory. Ties within a bin count half.
#[derive(Debug, Clone)]
pub struct Auroc {
    top: f32,
    pos: Vec<u64>,
    neg: Vec<u64>,
}

impl Auroc {
    /// Scores from 0 to `top` (larger ones go to the last bin), in `bins` bins.
    pub fn new(top: f32, bins: usize) -> Auroc {
        Auroc {
            top,
            pos: vec![0; bins + 1],
            neg: vec![0; bins + 1],
        }
    }

    fn bin(&self, score: f32) -> usize {
        let n = self.pos.len() - 1;
        if score.is_nan() || score <= 0.0 {
            return 0;
        }
        1 + ((score / self.top * (n - 1) as f32) as usize).min(n - 1)
    }

    /// Records one pixel.
    pub fn add(&mut self, score: f32, changed: bool) {
        let i = self.bin(score);
        if changed {
            self.pos[i] += 1;
        } else {
            self.neg[i] += 1;
        }
    }

    /// Adds another accumulator with the same bins.
    pub fn merge(&mut self, other: &Auroc) {
        for (a, b) in self.pos.iter_mut().zip(&other.pos) {
            *a += b;
        }
        for (a, b) in self.neg.iter_mut().zip(&other.neg) {
            *a += b;
        }
    }

    /// Number of changed and unchanged pixels recorded.
    pub fn counts(&self) -> (u64, u64) {
        (self.pos.iter().sum(), self.neg.iter().sum())
    }

    /// The area under the ROC curve: the chance that a random changed pixel scores above
    /// a random unchanged one. `None` without pixels of both kinds.
    pub fn value(&self) -> Option<f64> {
        let (p, n) = self.counts();
        if p == 0 || n == 0 {
            return None;
        }
        let mut below = 0u64; // negatives in lower bins
        let mut sum = 0.0f64;
        for (pc, nc) in self.pos.iter().zip(&self.neg) {
            sum += *pc as f64 * (below as f64 + 0.5 * *nc as f64);
            below += nc;
        }
        Some(sum / (p as f64 * n as f64))
    }
}

/// Spearman's rank correlation of two equally long series (average ranks for ties).
/// `None` for fewer than two values or a constant series.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    pearson(&rx, &ry)
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            r[*k] = avg;
        }
        i = j + 1;
    }
    r
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Threshold scales swept for precision/recall curves (1 = the default thresholds).
pub const SWEEP: [f32; 8] = [0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0, 3.0];

/// Options for `method` with every threshold multiplied by `scale`; at scale 1 the
/// automatic defaults.
pub fn scaled_options(method: Method, scale: f32) -> Options {
    let fixed = |floor: f32, max: f32| {
        if scale == 1.0 {
            Threshold::Auto
        } else {
            Threshold::Fixed((floor * scale).min(max))
        }
    };
    Options {
        method,
        pixel_threshold: fixed(PIXEL_FLOOR, 300.0),
        ssim_threshold: fixed(SSIM_FLOOR, 2.0),
        deep_threshold: fixed(DEEP_FLOOR, 4.0),
        ..Options::default()
    }
}

/// Top of the AUROC score scale, in threshold units (the heatmap's scale is 0..2).
const AUROC_TOP: f32 = 8.0;
const AUROC_BINS: usize = 2048;

/// What one comparison of a labelled pair gave.
pub struct PairRun {
    pub prediction: Prediction,
    /// Per-pixel scores against the truth mask, when the pair has one (or is change-free).
    pub auroc: Option<Auroc>,
}

/// Compares one labelled pair with `options` through `session` and, when `with_map` and
/// the pair has a mask (or is change-free), scores every pixel against the mask. Errors
/// are recorded in the prediction, never returned.
pub fn run_pair(
    session: &crate::Session,
    spec: &PairSpec,
    options: &Options,
    with_map: bool,
) -> PairRun {
    let start = std::time::Instant::now();
    let result = crate::load_pair(&spec.a, &spec.b, &options.limits).and_then(|(a, b)| {
        let cmp = session.compare(&a, &b, options)?;
        let boxes = cmp
            .report
            .boxes
            .iter()
            .map(|b| [b.x, b.y, b.w, b.h])
            .collect();
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let auroc = if with_map && (spec.mask.is_some() || spec.expect == Expect::Same) {
            Some(pixel_auroc(&cmp, spec, options)?)
        } else {
            None
        };
        Ok((boxes, ms, auroc))
    });
    match result {
        Ok((boxes, ms, auroc)) => PairRun {
            prediction: Prediction {
                boxes,
                ms,
                error: None,
            },
            auroc,
        },
        Err(e) => PairRun {
            prediction: Prediction {
                boxes: Vec::new(),
                ms: start.elapsed().as_secs_f64() * 1e3,
                error: Some(e.to_string()),
            },
            auroc: None,
        },
    }
}

/// Reads a truth mask: non-black pixels are changed. `None` when there is no mask.
pub fn load_mask(spec: &PairSpec, options: &Options) -> Result<Option<image::GrayImage>> {
    let Some(path) = &spec.mask else {
        return Ok(None);
    };
    let img = crate::load(path, &options.limits)?;
    Ok(Some(image::DynamicImage::ImageRgba8(img.rgba).to_luma8()))
}

fn pixel_auroc(cmp: &crate::Comparison, spec: &PairSpec, options: &Options) -> Result<Auroc> {
    let (w, h) = cmp.a.dimensions();
    let mask = load_mask(spec, options)?;
    if let Some(m) = &mask {
        if m.dimensions() != (w, h) {
            return Err(Error::SizeMismatch(format!(
                "{}: mask is {}x{}, the compared images are {w}x{h}",
                spec.mask.as_deref().unwrap_or(Path::new("")).display(),
                m.width(),
                m.height()
            )));
        }
    }
    let mut acc = Auroc::new(AUROC_TOP, AUROC_BINS);
    for y in 0..h {
        for x in 0..w {
            let changed = mask.as_ref().is_some_and(|m| m.get_pixel(x, y).0[0] > 0);
            acc.add(cmp.fields.score(x, y), changed);
        }
    }
    Ok(acc)
}

/// Reads external predictions (JSON Lines, one `{"name", "boxes", "ms"}` per pair, as
/// `scripts/eval/classic-eval.py` writes them), keyed by pair name. Optional per record:
/// `"map"` (path of an 8-bit image, brighter = more changed, for the pixel AUROC) and
/// `"sweep"` (a list of `{"param", "boxes"}` for a precision/recall curve).
pub fn load_predictions(path: &Path) -> Result<std::collections::HashMap<String, External>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    let mut out = std::collections::HashMap::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let rec: External = serde_json::from_str(line).map_err(|e| Error::Decode {
            path: path.to_path_buf(),
            problem: format!("line {}: {e}", i + 1),
        })?;
        out.insert(rec.name.clone(), rec);
    }
    Ok(out)
}

/// One record of external predictions.
#[derive(Debug, Clone, Deserialize)]
pub struct External {
    pub name: String,
    #[serde(flatten)]
    pub prediction: Prediction,
    #[serde(default)]
    pub map: Option<PathBuf>,
    #[serde(default)]
    pub sweep: Vec<SweepPoint>,
}

/// Boxes an external method gave at one setting of its parameter.
#[derive(Debug, Clone, Deserialize)]
pub struct SweepPoint {
    pub param: f64,
    pub boxes: Vec<BoxXywh>,
}

/// Scores an external map (8-bit, brighter = more changed) against the pair's mask.
pub fn external_auroc(map: &Path, spec: &PairSpec, options: &Options) -> Result<Option<Auroc>> {
    if spec.mask.is_none() && spec.expect != Expect::Same {
        return Ok(None);
    }
    let img = crate::load(map, &options.limits)?;
    let scores = image::DynamicImage::ImageRgba8(img.rgba).to_luma8();
    let mask = load_mask(spec, options)?;
    if let Some(m) = &mask {
        if m.dimensions() != scores.dimensions() {
            return Err(Error::SizeMismatch(format!(
                "{}: map and mask sizes differ",
                map.display()
            )));
        }
    }
    let mut acc = Auroc::new(256.0, 256);
    for (x, y, p) in scores.enumerate_pixels() {
        let changed = mask.as_ref().is_some_and(|m| m.get_pixel(x, y).0[0] > 0);
        acc.add(f32::from(p.0[0]), changed);
    }
    Ok(Some(acc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_known_boxes() {
        assert_eq!(iou([0, 0, 10, 10], [0, 0, 10, 10]), 1.0);
        assert_eq!(iou([0, 0, 10, 10], [10, 0, 10, 10]), 0.0);
        // half overlap: 50 / 150
        assert!((iou([0, 0, 10, 10], [5, 0, 10, 10]) - 1.0 / 3.0).abs() < 1e-12);
        // one inside another: 25 / 100
        assert!((iou([0, 0, 10, 10], [2, 2, 5, 5]) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn matching_is_one_to_one_and_needs_half_overlap() {
        let truth = [[0, 0, 10, 10], [100, 100, 20, 20]];
        // two predictions on the first truth box: only one counts
        assert_eq!(
            match_boxes(&truth, &[[0, 0, 10, 10], [1, 1, 10, 10]], 0.5),
            1
        );
        // IoU 1/3 is not enough
        assert_eq!(match_boxes(&truth, &[[5, 0, 10, 10]], 0.5), 0);
        assert_eq!(
            match_boxes(&truth, &[[101, 101, 20, 20], [0, 0, 9, 10]], 0.5),
            2
        );
        // loose rule: a small box inside a large truth box matches
        let loose = |t, p| MatchRule::Loose.score(t, p);
        assert_eq!(
            match_boxes_by(&[[0, 0, 40, 40]], &[[10, 10, 8, 8]], loose),
            1
        );
        assert_eq!(
            match_boxes_by(&[[0, 0, 40, 40]], &[[36, 36, 8, 8]], loose),
            0
        );
        // greedy by IoU: the better pair wins the shared prediction
        let t2 = [[0, 0, 10, 10], [0, 0, 12, 12]];
        assert_eq!(match_boxes(&t2, &[[0, 0, 12, 12]], 0.5), 1);
    }

    fn spec(expect: Expect, boxes: Option<Vec<BoxXywh>>) -> PairSpec {
        PairSpec {
            name: "p".into(),
            a: "a".into(),
            b: "b".into(),
            expect,
            boxes,
            mask: None,
            tags: vec![],
            rule: MatchRule::Iou,
        }
    }

    #[test]
    fn tally_gives_precision_recall_f1() {
        let mut t = Tally::default();
        let two = spec(
            Expect::Different,
            Some(vec![[0, 0, 10, 10], [50, 50, 10, 10]]),
        );
        t.add(
            &two,
            &Prediction {
                boxes: vec![[0, 0, 10, 10], [200, 200, 5, 5]],
                ms: 10.0,
                error: None,
            },
        );
        t.add(
            &spec(Expect::Same, Some(vec![])),
            &Prediction {
                boxes: vec![[1, 1, 3, 3]],
                ms: 20.0,
                error: None,
            },
        );
        t.add(&spec(Expect::Different, None), &Prediction::default());
        assert_eq!((t.truth_boxes, t.predicted_boxes, t.matched), (2, 3, 1));
        assert!((t.recall() - 0.5).abs() < 1e-12);
        assert!((t.precision() - 1.0 / 3.0).abs() < 1e-12);
        assert!((t.f1() - 0.4).abs() < 1e-12);
        assert_eq!((t.change_free_pairs, t.change_free_boxes), (1, 1));
        assert_eq!(t.verdict_correct, 1);
        assert!((t.mean_ms() - 10.0).abs() < 1e-12);
    }

    #[test]
    fn auroc_of_separable_and_random_scores() {
        let mut a = Auroc::new(4.0, 400);
        for i in 0..100 {
            a.add(2.0 + i as f32 * 0.01, true);
            a.add(i as f32 * 0.01, false);
        }
        assert_eq!(a.value(), Some(1.0));
        let mut b = Auroc::new(4.0, 400);
        for i in 0..100 {
            let s = i as f32 * 0.03;
            b.add(s, true);
            b.add(s, false);
        }
        assert!((b.value().unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(Auroc::new(1.0, 10).value(), None);
    }

    #[test]
    fn spearman_known_values() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(spearman(&x, &[10.0, 20.0, 30.0, 40.0, 50.0]), Some(1.0));
        assert_eq!(spearman(&x, &[5.0, 4.0, 3.0, 2.0, 1.0]), Some(-1.0));
        // one swap of neighbours in 5: 1 - 6*2/(5*24) = 0.9
        let r = spearman(&x, &[1.0, 3.0, 2.0, 4.0, 5.0]).unwrap();
        assert!((r - 0.9).abs() < 1e-12);
        assert_eq!(spearman(&x, &[1.0; 5]), None);
    }

    #[test]
    fn manifest_forms_and_errors() {
        let p = Path::new("/data/set/m.json");
        let m = Manifest::parse(
            r#"[{"name":"x","a":"a.png","b":"b.png","boxes":[[1,2,3,4]]},
                {"a":"c.png","b":"d.png","boxes":[]}]"#,
            p,
            None,
        )
        .unwrap();
        assert_eq!(m.pairs[0].expect, Expect::Different);
        assert_eq!(m.pairs[1].expect, Expect::Same);
        assert_eq!(m.pairs[0].a, Path::new("/data/set/a.png"));
        assert_eq!(m.name, "m");
        let m = Manifest::parse(
            r#"{"root":"img","pairs":[{"a":"a","b":"b","expect":"different"}],
                "rankings":[{"ref":"r","candidates":[{"path":"c","severity":2},{"path":"u","unrelated":true}]}]}"#,
            p,
            None,
        )
        .unwrap();
        assert_eq!(m.pairs[0].boxes, None);
        assert_eq!(m.pairs[0].b, Path::new("/data/set/img/b"));
        assert_eq!(m.rankings[0].candidates[0].severity, Some(2.0));
        assert_eq!(m.rankings[0].candidates[1].severity, None);
        for bad in [
            r#"[{"a":"a","b":"b"}]"#,
            r#"[{"a":"a","b":"b","expect":"same","boxes":[[0,0,1,1]]}]"#,
            r#"[{"a":"a","b":"b","boxes":[[0,0,0,1]]}]"#,
            r#"[{"a":"a","b":"b","boxes":[],"colour":1}]"#,
            r#"{"pairs":7}"#,
        ] {
            let e = Manifest::parse(bad, p, None).unwrap_err().to_string();
            assert!(e.starts_with("/data/set/m.json: "), "{e}");
        }
    }
}
