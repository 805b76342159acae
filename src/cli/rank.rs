//! `spotdiff rank REF CANDIDATES...`: candidates ordered by similarity to a reference.

use super::print;
use clap::Args;
use rayon::prelude::*;
use spotdiff::rank::{rank, ScoreKind, WORK_SIDE};
use spotdiff::{load, Limits};
use std::fmt::Write as _;
use std::path::PathBuf;

pub const HELP: &str = "\
Scores (all 0..1, higher = more similar), computed at a common working size (REF scaled
to at most 512 px on its long side, each candidate resized to exactly that size, so
candidates may have any size or aspect ratio):
  structural  mean SSIM on luma
  pixel       1 - share of pixels inside reported changes (default comparison: colour
              and structural evidence, tolerant of JPEG noise, small shifts, brightness)
  change      1 without a box; with boxes 0.95 (1 - sqrt(share of the image the boxes
              cover)): any real change, however small, costs more than a nuisance
  fused       0.9 change + 0.1 structural (default): a changed word or icon ranks below
              a JPEG re-save of the reference; mean SSIM drops under nuisances the
              comparison tolerates, so it only breaks ties
  semantic    cosine of the backbone's pooled embeddings (content similarity; needs a
              backbone, see --model; without one the fused score is used)

Output: one line per candidate, most similar first: rank, score, the structural, pixel
and change scores, boxes reported, file. With --json: {\"reference\", \"score\",
\"ranking\": [{\"rank\", \"path\", \"score\", \"structural\", \"pixel\", \"change\",
\"changed_area\", \"semantic\", \"boxes\"}]}.

Exit codes: 0 ranked, 2 error (an unreadable image or a bad option; nothing is printed).

Examples:
  spotdiff rank ref.png shots/*.png
  spotdiff rank ref.jpg a.jpg b.webp --score structural --json";

#[derive(Args)]
pub struct RankArgs {
    /// The reference image.
    pub reference: PathBuf,
    /// Images to rank by similarity to the reference.
    #[arg(required = true)]
    pub candidates: Vec<PathBuf>,

    /// Score that orders the candidates: fused, structural, pixel or semantic.
    #[arg(short, long, default_value = "fused", value_parser = parse_kind)]
    pub score: ScoreKind,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,

    /// Refuse images with more pixels than this (checked before decoding).
    #[arg(long, default_value_t = 100_000_000)]
    pub max_pixels: u64,

    #[command(flatten)]
    pub backbone: super::backbone::BackboneArgs,
}

fn parse_kind(s: &str) -> Result<ScoreKind, String> {
    ScoreKind::parse(s)
        .ok_or_else(|| format!("unknown score `{s}` (use fused, structural, pixel or semantic)"))
}

pub fn run(args: RankArgs) -> Result<u8, spotdiff::Error> {
    let limits = Limits {
        max_pixels: args.max_pixels,
        ..Limits::default()
    };
    let reference = load(&args.reference, &limits)?;
    let candidates = args
        .candidates
        .par_iter()
        .map(|p| load(p, &limits))
        .collect::<Result<Vec<_>, _>>()?;
    let session = args.backbone.session()?;
    let ranked = rank(&session, &reference, &candidates, args.score)?;
    let mut out = String::new();
    if args.json {
        let list: Vec<_> = ranked
            .iter()
            .enumerate()
            .map(|(i, (idx, s))| {
                serde_json::json!({
                    "rank": i + 1,
                    "path": args.candidates[*idx].display().to_string(),
                    "score": s.score,
                    "structural": s.structural,
                    "pixel": s.pixel,
                    "change": s.change,
                    "changed_area": s.changed_area,
                    "semantic": s.semantic,
                    "boxes": s.boxes,
                })
            })
            .collect();
        let value = serde_json::json!({
            "reference": args.reference.display().to_string(),
            "score": args.score,
            "working_side": WORK_SIDE,
            "ranking": list,
        });
        out = serde_json::to_string_pretty(&value).expect("json") + "\n";
    } else {
        let kind = serde_json::to_value(args.score).expect("kind");
        writeln!(
            out,
            "ranked by {} similarity to {}",
            kind.as_str().unwrap_or(""),
            args.reference.display()
        )
        .unwrap();
        writeln!(out, "rank  score   struct  pixel   change  boxes  file").unwrap();
        for (i, (idx, s)) in ranked.iter().enumerate() {
            writeln!(
                out,
                "{:<5} {:.4}  {:.4}  {:.4}  {:.4}  {:<5}  {}",
                i + 1,
                s.score,
                s.structural,
                s.pixel,
                s.change,
                s.boxes,
                args.candidates[*idx].display()
            )
            .unwrap();
        }
    }
    print(&out)?;
    Ok(0)
}
