//! `spotdiff eval MANIFEST`: every method over a labelled set; tables of box recall,
//! precision, F1, boxes on change-free pairs, time per pair, pixel AUROC, and the
//! ranking figures.

use super::args::{parse_method, CompareArgs};
use super::backbone::BackboneArgs;
use super::{print, Progress};
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;
use spotdiff::eval::{
    external_auroc, load_predictions, run_pair, scaled_options, spearman, Auroc, Manifest,
    PairSpec, Prediction, RankSpec, Tally, SWEEP,
};
use spotdiff::rank::{similarity, working_reference, ScoreKind, Similarity};
use spotdiff::{load, Method, Options, Session};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

pub const HELP: &str = "\
Manifest (JSON; a bare array of pairs is also accepted):
  {\"name\": \"my-set\", \"root\": \"images\",
   \"pairs\": [{\"name\": \"p1\", \"a\": \"p1-a.png\", \"b\": \"p1-b.png\",
              \"boxes\": [[x, y, w, h], ...], \"expect\": \"same\"|\"different\",
              \"mask\": \"p1-mask.png\", \"tags\": [\"edit:text\", \"nuisance:jpeg\"],
              \"match\": \"iou\"|\"loose\"}],
   \"rankings\": [{\"name\": \"r1\", \"ref\": \"ref.png\",
                 \"candidates\": [{\"path\": \"c.png\", \"severity\": 2},
                                {\"path\": \"u.png\", \"unrelated\": true}]}]}
  Paths are relative to the manifest's folder joined with `root`. `expect` follows from
  `boxes` when absent; a pair without `boxes` is scored on its verdict only. `mask`:
  non-black pixels are changed (for the pixel AUROC). `match`: `iou` (default) or
  `loose` (IoU >= 0.33 or half the predicted box inside the truth box: DeepPCB's rule
  for boxes drawn loosely around small defects).

Metrics:
  a truth box is found by a predicted box with IoU >= 0.5 (one-to-one, best IoU first);
  recall = found / truth boxes, precision = found / boxes predicted on pairs with truth
  boxes; cf boxes = boxes reported on change-free pairs (expect same); verdict = share of
  pairs whose verdict (any box or none) is right; ms = mean load+compare time per pair
  (pairs run in parallel); AUROC = pixel-level ROC area of the change heatmap against
  the masks (change-free pairs count as all unchanged).
  Rankings: Spearman correlation between similarity and -severity over the edited
  copies, and whether every unrelated image scores below every edited copy.

External predictions (--external NAME=FILE): JSON Lines, one record per pair:
  {\"name\": \"p1\", \"boxes\": [[x, y, w, h], ...], \"ms\": 12.5,
   \"map\": \"optional 8-bit heatmap.png\", \"sweep\": [{\"param\": 0.3, \"boxes\": [...]}]}
  scripts/eval/classic-eval.py writes them for the classic SSIM recipe.

Exit codes: 0 evaluation done (whatever the numbers), 2 error (unreadable manifest,
unknown method, bad external file). Pairs that fail to load count as errors in the table.

Examples:
  spotdiff eval out/evalset/manifest.json --sweep --json out/eval/generated.json
  spotdiff eval eval/realpairs.json --methods fused,pixel
  bash scripts/eval/eval.sh        (generate the set, run the classic recipe, EVALUATION.md)";

#[derive(Args)]
pub struct EvalArgs {
    /// The manifest (JSON) listing labelled pairs and ranking tasks.
    pub manifest: PathBuf,

    /// Methods to evaluate, comma-separated (default: every method available).
    #[arg(long, value_delimiter = ',', value_parser = parse_method)]
    pub methods: Vec<Method>,

    /// Also score external predictions: NAME=FILE (JSON Lines; repeatable).
    #[arg(long, value_name = "NAME=FILE")]
    pub external: Vec<String>,

    /// Sweep the thresholds (x0.5 .. x3) for precision/recall curves.
    #[arg(long)]
    pub sweep: bool,

    /// Sweep only the pairs with this tag (keeps the sweep fast on large sets).
    #[arg(long, value_name = "TAG", requires = "sweep")]
    pub sweep_tag: Option<String>,

    /// Folder the manifest's relative paths start from (overrides its `root`).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Write every number (tallies, curves, per-tag tables, rankings) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Per-tag breakdown (edit kinds, nuisances, sizes).
    #[arg(long)]
    pub by_tag: bool,

    /// The options every method runs with (thresholds are scaled by --sweep). A
    /// `--method` given here evaluates that method only, as `--methods` does.
    #[command(flatten)]
    pub compare: CompareArgs,

    #[command(flatten)]
    pub backbone: BackboneArgs,
}

/// Results for one method (or external predictor).
#[derive(Serialize)]
pub struct MethodResult {
    pub name: String,
    pub tally: Tally,
    pub recall: f64,
    pub precision: f64,
    pub f1: f64,
    pub verdict_accuracy: f64,
    pub mean_ms: f64,
    pub auroc: Option<f64>,
    /// Threshold sweep: one point per scale (or external parameter).
    pub curve: Vec<CurvePoint>,
    pub by_tag: BTreeMap<String, Tally>,
    /// Pairs with a missed truth box or a false box (names), for inspection.
    pub failures: Vec<String>,
}

#[derive(Serialize)]
pub struct CurvePoint {
    pub param: f64,
    pub recall: f64,
    pub precision: f64,
    pub f1: f64,
    pub change_free_boxes: usize,
}

#[derive(Serialize)]
pub struct RankResult {
    pub kind: ScoreKind,
    pub tasks: Vec<RankTask>,
    pub spearman_mean: Option<f64>,
    pub spearman_min: Option<f64>,
    pub separated: usize,
}

#[derive(Serialize)]
pub struct RankTask {
    pub name: String,
    pub spearman: Option<f64>,
    /// Every unrelated candidate scores below every edited copy.
    pub separated: bool,
    pub scores: Vec<(String, Option<f64>, f64)>,
}

pub fn run(args: EvalArgs) -> Result<u8, spotdiff::Error> {
    let base = args.compare.options()?;
    let manifest = Manifest::load(&args.manifest, args.root.as_deref())?;
    let session = args.backbone.session()?;
    let methods = match (&args.methods[..], args.compare.method) {
        ([], None) => session.methods(),
        ([], Some(m)) => vec![m],
        (list, _) => list.to_vec(),
    };
    if let Some(m) = methods.iter().find(|m| !session.supports(**m)) {
        return Err(spotdiff::Error::option(
            "method",
            format!("method `{}` is not available in this session", m.name()),
        ));
    }
    let externals = args
        .external
        .iter()
        .map(|e| {
            let (name, file) = e.split_once('=').ok_or_else(|| {
                spotdiff::Error::option("external", format!("--external `{e}` is not NAME=FILE"))
            })?;
            Ok((name.to_string(), load_predictions(file.as_ref())?))
        })
        .collect::<Result<Vec<_>, spotdiff::Error>>()?;

    let sweep = args.sweep.then(|| Sweep {
        tag: args.sweep_tag.clone(),
    });
    let mut results = Vec::new();
    for m in &methods {
        results.push(evaluate_method(
            &session,
            &manifest.pairs,
            &base,
            *m,
            sweep.as_ref(),
        ));
    }
    for (name, preds) in &externals {
        results.push(evaluate_external(
            name,
            &manifest.pairs,
            &base,
            preds,
            sweep.as_ref(),
        )?);
    }
    let rankings: Vec<RankResult> = if manifest.rankings.is_empty() {
        Vec::new()
    } else {
        evaluate_rankings(&session, &manifest.rankings, &base)?
    };

    let text = tables(&manifest, &results, &rankings, args.by_tag);
    if let Some(path) = &args.json {
        let value = serde_json::json!({
            "manifest": manifest.name,
            "pairs": manifest.pairs.len(),
            "methods": results,
            "rankings": rankings,
        });
        let body = serde_json::to_string_pretty(&value).expect("json") + "\n";
        let mut staged = spotdiff::Staged::default();
        staged.bytes(path, body.as_bytes())?;
        staged.commit()?;
    }
    print(&text)?;
    Ok(0)
}

fn tally_of(pairs: &[PairSpec], preds: &[Prediction]) -> Tally {
    let mut t = Tally::default();
    for (s, p) in pairs.iter().zip(preds) {
        t.add(s, p);
    }
    t
}

fn finish(
    name: String,
    pairs: &[PairSpec],
    preds: &[Prediction],
    auroc: Option<Auroc>,
    curve: Vec<CurvePoint>,
) -> MethodResult {
    let tally = tally_of(pairs, preds);
    let mut by_tag: BTreeMap<String, Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    for (s, p) in pairs.iter().zip(preds) {
        for tag in s
            .tags
            .iter()
            .chain(s.tags.is_empty().then_some(&String::new()))
        {
            let key = if tag.is_empty() { "(untagged)" } else { tag };
            by_tag.entry(key.to_string()).or_default().add(s, p);
        }
        let mut one = Tally::default();
        one.add(s, p);
        if one.verdict_correct == 0
            || one.matched < one.truth_boxes
            || one.matched < one.predicted_boxes
        {
            failures.push(s.name.clone());
        }
    }
    MethodResult {
        name,
        recall: tally.recall(),
        precision: tally.precision(),
        f1: tally.f1(),
        verdict_accuracy: tally.verdict_accuracy(),
        mean_ms: tally.mean_ms(),
        auroc: auroc.and_then(|a| a.value()),
        tally,
        curve,
        by_tag,
        failures,
    }
}

fn point(param: f64, t: &Tally) -> CurvePoint {
    CurvePoint {
        param,
        recall: t.recall(),
        precision: t.precision(),
        f1: t.f1(),
        change_free_boxes: t.change_free_boxes,
    }
}

/// Which pairs the threshold sweep runs on: all, or those with one tag.
pub struct Sweep {
    pub tag: Option<String>,
}

fn evaluate_method(
    session: &Session,
    pairs: &[PairSpec],
    base: &Options,
    method: Method,
    sweep: Option<&Sweep>,
) -> MethodResult {
    let options = scaled_options(base, method, 1.0);
    let progress = Progress::new(method.name(), pairs.len());
    let runs: Vec<_> = pairs
        .par_iter()
        .map(|s| {
            let r = run_pair(session, s, &options, true);
            progress.tick();
            r
        })
        .collect();
    progress.finish();
    let mut auroc: Option<Auroc> = None;
    let mut preds = Vec::with_capacity(runs.len());
    for r in runs {
        if let Some(a) = &r.auroc {
            match &mut auroc {
                Some(acc) => acc.merge(a),
                None => auroc = Some(a.clone()),
            }
        }
        preds.push(r.prediction);
    }
    let mut curve = Vec::new();
    if let Some(sweep) = sweep {
        let chosen: Vec<usize> = (0..pairs.len())
            .filter(|&i| sweep.tag.as_ref().is_none_or(|t| pairs[i].tags.contains(t)))
            .collect();
        let subset: Vec<PairSpec> = chosen.iter().map(|&i| pairs[i].clone()).collect();
        for &scale in &SWEEP {
            let p: Vec<Prediction> = if scale == 1.0 {
                chosen.iter().map(|&i| preds[i].clone()).collect()
            } else {
                let opts = scaled_options(base, method, scale);
                let progress = Progress::new(&format!("{} x{scale}", method.name()), subset.len());
                let p = subset
                    .par_iter()
                    .map(|s| {
                        let r = run_pair(session, s, &opts, false).prediction;
                        progress.tick();
                        r
                    })
                    .collect();
                progress.finish();
                p
            };
            curve.push(point(f64::from(scale), &tally_of(&subset, &p)));
        }
    }
    finish(method.name().to_string(), pairs, &preds, auroc, curve)
}

fn evaluate_external(
    name: &str,
    pairs: &[PairSpec],
    options: &Options,
    preds: &std::collections::HashMap<String, spotdiff::eval::External>,
    sweep: Option<&Sweep>,
) -> Result<MethodResult, spotdiff::Error> {
    let mut auroc: Option<Auroc> = None;
    let mut list = Vec::with_capacity(pairs.len());
    for s in pairs {
        let Some(rec) = preds.get(&s.name) else {
            list.push(Prediction {
                error: Some("no prediction".into()),
                ..Prediction::default()
            });
            continue;
        };
        if let Some(map) = &rec.map {
            if let Some(a) = external_auroc(map, s, options)? {
                match &mut auroc {
                    Some(acc) => acc.merge(&a),
                    None => auroc = Some(a),
                }
            }
        }
        list.push(rec.prediction.clone());
    }
    // The sweep (on the same pairs as the methods' sweep): parameters in the order of
    // the first record that has them.
    let subset: Vec<PairSpec> = match sweep {
        None => Vec::new(),
        Some(sw) => pairs
            .iter()
            .filter(|p| sw.tag.as_ref().is_none_or(|t| p.tags.contains(t)))
            .cloned()
            .collect(),
    };
    let params: Vec<f64> = preds
        .values()
        .find(|r| !r.sweep.is_empty())
        .map(|r| r.sweep.iter().map(|p| p.param).collect())
        .unwrap_or_default();
    let curve = if subset.is_empty() {
        Vec::new()
    } else {
        params
    }
    .iter()
    .map(|&param| {
        let swept: Vec<Prediction> = subset
            .iter()
            .map(|s| Prediction {
                boxes: preds
                    .get(&s.name)
                    .and_then(|r| r.sweep.iter().find(|p| p.param == param))
                    .map(|p| p.boxes.clone())
                    .unwrap_or_default(),
                ..Prediction::default()
            })
            .collect();
        point(param, &tally_of(&subset, &swept))
    })
    .collect();
    Ok(finish(name.to_string(), pairs, &list, auroc, curve))
}

/// Scores every candidate once; the figures for each score kind follow from them.
fn evaluate_rankings(
    session: &Session,
    specs: &[RankSpec],
    base: &Options,
) -> Result<Vec<RankResult>, spotdiff::Error> {
    let limits = base.limits;
    let mut scored = Vec::new();
    for spec in specs {
        let reference = working_reference(&load(&spec.reference, &limits)?);
        let sims: Vec<Similarity> = spec
            .candidates
            .par_iter()
            .map(|c| {
                similarity(
                    session,
                    &reference,
                    &load(&c.path, &limits)?,
                    ScoreKind::Fused,
                )
            })
            .collect::<Result<_, spotdiff::Error>>()?;
        scored.push(sims);
    }
    Ok(ScoreKind::ALL
        .iter()
        .map(|&kind| rank_figures(specs, &scored, kind))
        .collect())
}

fn rank_figures(specs: &[RankSpec], scored: &[Vec<Similarity>], kind: ScoreKind) -> RankResult {
    let mut tasks = Vec::new();
    for (spec, sims) in specs.iter().zip(scored) {
        let scores: Vec<f64> = sims.iter().map(|s| s.of_kind(kind)).collect();
        let (mut sev, mut related, mut unrelated) = (Vec::new(), Vec::new(), Vec::new());
        for (c, s) in spec.candidates.iter().zip(&scores) {
            match c.severity {
                Some(v) => {
                    sev.push(-v);
                    related.push(*s);
                }
                None => unrelated.push(*s),
            }
        }
        let lowest_related = related.iter().copied().fold(f64::INFINITY, f64::min);
        tasks.push(RankTask {
            name: spec.name.clone(),
            spearman: spearman(&related, &sev),
            separated: unrelated.iter().all(|u| *u < lowest_related),
            scores: spec
                .candidates
                .iter()
                .zip(&scores)
                .map(|(c, s)| {
                    let file = c.path.file_name().unwrap_or_default();
                    (file.to_string_lossy().into_owned(), c.severity, *s)
                })
                .collect(),
        });
    }
    let rho: Vec<f64> = tasks.iter().filter_map(|t| t.spearman).collect();
    RankResult {
        kind,
        spearman_mean: (!rho.is_empty()).then(|| rho.iter().sum::<f64>() / rho.len() as f64),
        spearman_min: rho.iter().copied().reduce(f64::min),
        separated: tasks.iter().filter(|t| t.separated).count(),
        tasks,
    }
}

fn opt3(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.3}"))
}

/// The tables, as Markdown (readable on a terminal, pasted into EVALUATION.md).
fn tables(m: &Manifest, results: &[MethodResult], ranks: &[RankResult], by_tag: bool) -> String {
    let mut o = String::new();
    let (n, cf) = (
        m.pairs.len(),
        m.pairs
            .iter()
            .filter(|p| p.expect == spotdiff::eval::Expect::Same)
            .count(),
    );
    let boxes: usize = m
        .pairs
        .iter()
        .filter_map(|p| p.boxes.as_ref())
        .map(Vec::len)
        .sum();
    if n > 0 {
        writeln!(
            o,
            "Manifest `{}`: {n} pairs ({cf} change-free), {boxes} truth boxes.\n",
            m.name
        )
        .unwrap();
        o.push_str("| method | recall | precision | F1 | cf boxes | cf pairs flagged | verdict | AUROC | ms/pair | errors |\n");
        o.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
        for r in results {
            let t = &r.tally;
            writeln!(
                o,
                "| {} | {:.3} | {:.3} | {:.3} | {} | {}/{} | {:.3} | {} | {:.1} | {} |",
                r.name,
                r.recall,
                r.precision,
                r.f1,
                t.change_free_boxes,
                t.change_free_flagged,
                t.change_free_pairs,
                r.verdict_accuracy,
                opt3(r.auroc),
                r.mean_ms,
                t.errors
            )
            .unwrap();
        }
    }
    if by_tag && !results.is_empty() {
        let tags: Vec<&String> = results[0].by_tag.keys().collect();
        o.push_str(
            "\nPer tag: recall / precision / boxes on change-free pairs.\n\n| tag | pairs |",
        );
        for r in results {
            write!(o, " {} |", r.name).unwrap();
        }
        o.push_str("\n|---|---|");
        o.push_str(&"---|".repeat(results.len()));
        o.push('\n');
        for tag in tags {
            write!(o, "| {tag} | {} |", results[0].by_tag[tag].pairs).unwrap();
            for r in results {
                match r.by_tag.get(tag) {
                    Some(t) if t.truth_boxes > 0 => write!(
                        o,
                        " {:.2} / {:.2} / {} |",
                        t.recall(),
                        t.precision(),
                        t.change_free_boxes
                    )
                    .unwrap(),
                    Some(t) => write!(
                        o,
                        " verdict {:.2} / {} |",
                        t.verdict_accuracy(),
                        t.change_free_boxes
                    )
                    .unwrap(),
                    None => o.push_str(" |"),
                }
            }
            o.push('\n');
        }
    }
    if !ranks.is_empty() {
        writeln!(
            o,
            "\nRanking ({} tasks): Spearman(similarity, -severity) over edited copies; \
             separated = every unrelated image below every edited copy.\n",
            m.rankings.len()
        )
        .unwrap();
        o.push_str("| score | Spearman mean | Spearman min | separated |\n|---|---|---|---|\n");
        for r in ranks {
            writeln!(
                o,
                "| {} | {} | {} | {}/{} |",
                serde_json::to_value(r.kind)
                    .expect("kind")
                    .as_str()
                    .unwrap_or(""),
                opt3(r.spearman_mean),
                opt3(r.spearman_min),
                r.separated,
                r.tasks.len()
            )
            .unwrap();
        }
    }
    o
}
