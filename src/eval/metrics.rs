//! Detection metrics: box matching by IoU, tallies (recall, precision, F1), pixel
//! AUROC and Spearman's rank correlation.

use super::manifest::{BoxXywh, Expect, PairSpec};
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::MatchRule;

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
}
