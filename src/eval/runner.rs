//! Running labelled pairs through a session: predictions, threshold sweeps, pixel
//! AUROC of the heatmap, and external predictions read from JSON Lines.

use super::manifest::{BoxXywh, Expect, PairSpec};
use super::metrics::{Auroc, Prediction};
use crate::error::{Error, Hint, IoOp, Result};
use crate::options::{Method, Options, Threshold, DEEP_FLOOR, PIXEL_FLOOR, SSIM_FLOOR};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Threshold scales swept for precision/recall curves (1 = the default thresholds).
pub const SWEEP: [f32; 8] = [0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0, 3.0];

/// `base` for `method` with every threshold multiplied by `scale` (an automatic
/// threshold scales its floor); at scale 1, `base` as it is.
pub fn scaled_options(base: &Options, method: Method, scale: f32) -> Options {
    let fixed = |t: Threshold, floor: f32, max: f32| {
        if scale == 1.0 {
            return t;
        }
        let v = match t {
            Threshold::Fixed(v) => v,
            Threshold::Auto => floor,
        };
        Threshold::Fixed((v * scale).min(max))
    };
    Options {
        method,
        pixel_threshold: fixed(base.pixel_threshold, PIXEL_FLOOR, 300.0),
        ssim_threshold: fixed(base.ssim_threshold, SSIM_FLOOR, 2.0),
        deep_threshold: fixed(base.deep_threshold, DEEP_FLOOR, 4.0),
        ..base.clone()
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
    let result = crate::load_pair_for(&spec.a, &spec.b, options).and_then(|(a, b)| {
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
            return Err(Error::Size {
                problem: format!(
                    "{}: mask is {}x{}, the compared images are {w}x{h}",
                    spec.mask.as_deref().unwrap_or(Path::new("")).display(),
                    m.width(),
                    m.height()
                ),
                hint: Hint::None,
            });
        }
    }
    let mut acc = Auroc::new(AUROC_TOP, AUROC_BINS);
    let mut scores = vec![0.0; w as usize];
    for y in 0..h {
        cmp.fields.score_row(y, &mut scores);
        for (x, &s) in (0..w).zip(&scores) {
            let changed = mask.as_ref().is_some_and(|m| m.get_pixel(x, y).0[0] > 0);
            acc.add(s, changed);
        }
    }
    Ok(acc)
}

/// Reads external predictions (JSON Lines, one `{"name", "boxes", "ms"}` per pair, as
/// `scripts/eval/classic-eval.py` writes them), keyed by pair name. Optional per record:
/// `"map"` (path of an 8-bit image, brighter = more changed, for the pixel AUROC) and
/// `"sweep"` (a list of `{"param", "boxes"}` for a precision/recall curve).
pub fn load_predictions(path: &Path) -> Result<std::collections::HashMap<String, External>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io(IoOp::Read, path, e.to_string(), e))?;
    let mut out = std::collections::HashMap::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let rec: External = serde_json::from_str(line)
            .map_err(|e| Error::decode(path, format!("line {}: {e}", i + 1)))?;
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
            return Err(Error::Size {
                problem: format!("{}: map and mask sizes differ", map.display()),
                hint: Hint::None,
            });
        }
    }
    let mut acc = Auroc::new(256.0, 256);
    for (x, y, p) in scores.enumerate_pixels() {
        let changed = mask.as_ref().is_some_and(|m| m.get_pixel(x, y).0[0] > 0);
        acc.add(f32::from(p.0[0]), changed);
    }
    Ok(Some(acc))
}
