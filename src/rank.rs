//! Ranking: order candidate images by similarity to a reference. Candidates may have
//! any size: both images are scored at a common working size (the reference scaled to
//! at most [`WORK_SIDE`] px on its long side, each candidate resized to exactly that).

use crate::error::Result;
use crate::load::Image;
use crate::options::Options;
use crate::session::Session;
use image::imageops::FilterType;
use serde::Serialize;

/// Weight of the structural score in the fused score. Mean SSIM drops under nuisances
/// the comparison tolerates (a JPEG re-encode of the same photo scores 0.95-0.97, below a
/// copy with one real edit at 0.995), while the pixel score already rests on colour and
/// structural evidence with that tolerance; so SSIM only breaks ties. Chosen on the
/// generated ranking set (0.8 gives Spearman 0.89-0.96, 0.9 gives 0.96-1.0).
pub const STRUCTURAL_WEIGHT: f64 = 0.1;

/// Share of the change score a candidate loses for having any reported change at
/// all. Global scores barely move for a small edit (a changed word in a screenshot
/// moves mean SSIM and the changed-pixel share by 0.001-0.005, a JPEG re-save moves
/// SSIM by more), so a box, however small, must cost more than any nuisance the
/// comparison tolerates: with it, a text or icon change ranks below a JPEG re-save of
/// the reference (tests/review.rs, on rendered screenshots).
pub const CHANGE_PENALTY: f64 = 0.05;

/// Long side of the working size, in pixels.
pub const WORK_SIDE: u32 = 512;

/// Which similarity orders the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScoreKind {
    /// Mostly the change score (the boxes' area, [`change_score`]), with the
    /// structural score breaking ties ([`STRUCTURAL_WEIGHT`]).
    #[default]
    Fused,
    /// Mean SSIM on luma.
    Structural,
    /// Share of pixels outside any reported change.
    Pixel,
    /// Cosine of the backbone's pooled embeddings (needs a backbone).
    Semantic,
}

impl ScoreKind {
    /// Every kind, in the order they are listed to users.
    pub const ALL: [ScoreKind; 4] = [
        ScoreKind::Fused,
        ScoreKind::Structural,
        ScoreKind::Pixel,
        ScoreKind::Semantic,
    ];

    /// Parses `fused`, `structural` (or `ssim`) or `pixel`.
    pub fn parse(s: &str) -> Option<ScoreKind> {
        match s.to_ascii_lowercase().as_str() {
            "fused" => Some(ScoreKind::Fused),
            "structural" | "ssim" => Some(ScoreKind::Structural),
            "pixel" => Some(ScoreKind::Pixel),
            "semantic" | "deep" => Some(ScoreKind::Semantic),
            _ => None,
        }
    }
}

/// The similarity of one candidate to the reference; every score is in 0..1, higher is
/// more similar.
#[derive(Debug, Clone, Serialize)]
pub struct Similarity {
    /// Mean SSIM on luma at the working size (clamped at 0).
    pub structural: f64,
    /// 1 - the share of pixels inside reported changes.
    pub pixel: f64,
    /// Share of the image the reported boxes cover (their `w × h`, summed, at most 1).
    pub changed_area: f64,
    /// [`change_score`] of the boxes: 1 without a box.
    pub change: f64,
    /// Cosine of the pooled deep embeddings, when the session has a backbone.
    pub semantic: Option<f64>,
    /// Boxes the default comparison reported at the working size.
    pub boxes: usize,
    /// The score the ranking uses.
    pub score: f64,
}

impl Similarity {
    /// The score of one kind.
    pub fn of_kind(&self, kind: ScoreKind) -> f64 {
        match kind {
            ScoreKind::Fused => {
                (1.0 - STRUCTURAL_WEIGHT) * self.change + STRUCTURAL_WEIGHT * self.structural
            }
            ScoreKind::Structural => self.structural,
            ScoreKind::Pixel => self.pixel,
            // Without a backbone there is no semantic score: rank by the fused one.
            ScoreKind::Semantic => self
                .semantic
                .unwrap_or_else(|| self.of_kind(ScoreKind::Fused)),
        }
    }

    fn with_kind(mut self, kind: ScoreKind) -> Similarity {
        self.score = self.of_kind(kind);
        self
    }
}

/// The change score of a candidate with `boxes` reported boxes covering
/// `changed_area` of the image: 1 without a box; with boxes, [`CHANGE_PENALTY`] less,
/// and less again with the square root of the area they cover (a small box is already
/// a real change; larger ones rank lower still, in order of area).
pub fn change_score(boxes: usize, changed_area: f64) -> f64 {
    if boxes == 0 {
        return 1.0;
    }
    (1.0 - CHANGE_PENALTY) * (1.0 - changed_area.clamp(0.0, 1.0).sqrt())
}

/// The reference at the working size.
pub fn working_reference(reference: &Image) -> Image {
    let (w, h) = (reference.width(), reference.height());
    let long = w.max(h);
    if long <= WORK_SIDE {
        return reference.clone();
    }
    let s = f64::from(WORK_SIDE) / f64::from(long);
    let size = (
        ((f64::from(w) * s).round() as u32).max(1),
        ((f64::from(h) * s).round() as u32).max(1),
    );
    resized(reference, size)
}

fn resized(img: &Image, (w, h): (u32, u32)) -> Image {
    let rgba = image::imageops::resize(&img.rgba, w, h, FilterType::Triangle);
    let mut out = Image::from_rgba(img.path.clone(), rgba);
    out.format.clone_from(&img.format);
    out
}

/// Scores one candidate against a reference already at the working size.
pub fn similarity(
    session: &Session,
    reference: &Image,
    candidate: &Image,
    kind: ScoreKind,
) -> Result<Similarity> {
    let dims = (reference.width(), reference.height());
    let cand = if (candidate.width(), candidate.height()) == dims {
        std::borrow::Cow::Borrowed(candidate)
    } else {
        std::borrow::Cow::Owned(resized(candidate, dims))
    };
    let cmp = session.compare(reference, &cand, &Options::default())?;
    let r = &cmp.report;
    let total = f64::from(dims.0) * f64::from(dims.1);
    let changed_area = (r.boxes.iter().map(|b| b.area as f64).sum::<f64>() / total).min(1.0);
    Ok(Similarity {
        structural: r.scores.ssim.clamp(0.0, 1.0),
        pixel: 1.0 - r.scores.changed_pixel_ratio,
        changed_area,
        change: change_score(r.boxes.len(), changed_area),
        semantic: r.scores.semantic,
        boxes: r.boxes.len(),
        score: 0.0,
    }
    .with_kind(kind))
}

/// Candidate indices with their similarity, most similar first (ties keep input order).
pub fn rank(
    session: &Session,
    reference: &Image,
    candidates: &[Image],
    kind: ScoreKind,
) -> Result<Vec<(usize, Similarity)>> {
    use rayon::prelude::*;
    let work = working_reference(reference);
    let scored: Result<Vec<Similarity>> = candidates
        .par_iter()
        .map(|c| similarity(session, &work, c, kind))
        .collect();
    let mut out: Vec<(usize, Similarity)> = scored?.into_iter().enumerate().collect();
    out.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_box_costs_more_than_a_nuisance_and_area_orders_the_rest() {
        let sim = |boxes, area: f64, ssim| Similarity {
            structural: ssim,
            pixel: 1.0 - area,
            changed_area: area,
            change: change_score(boxes, area),
            semantic: None,
            boxes,
            score: 0.0,
        };
        // A re-save: no box, SSIM down to 0.95. A changed word: one small box, SSIM 0.999.
        let resave = sim(0, 0.0, 0.95).of_kind(ScoreKind::Fused);
        let word = sim(1, 0.0005, 0.999).of_kind(ScoreKind::Fused);
        assert!(word < resave, "{word} {resave}");
        let bigger = sim(1, 0.05, 0.999).of_kind(ScoreKind::Fused);
        assert!(bigger < word);
        assert_eq!(change_score(0, 0.0), 1.0);
        assert_eq!(change_score(3, 1.0), 0.0);
    }
}
