//! `spotdiff compare A B`: one pair; the report on stdout, pictures on request.

use super::args::{CompareArgs, StyleArgs};
use super::backbone::{BackboneArgs, Selection};
use super::{print, EXIT_DIFFERENT, EXIT_SAME};
use clap::Args;
use spotdiff::render::{Picture, Renderer};
use spotdiff::{
    compare_with, load_pair_for, prepare_dir, Alignment, Error, Method, Report, Staged, Verdict,
};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

pub const HELP: &str = "\
Exit codes:
  0  no difference (identical, or only changes below the thresholds)
  1  differences found (at least one box)
  2  error (unreadable or corrupt input, bad option, unwritable output)

Pictures (with --out; all six unless --write picks some):
  a        A with boxes              (a_boxes.png)
  b        B with boxes              (b_boxes.png)
  side     A | B with boxes on both  (side_by_side.png)
  heatmap  change heatmap            (heatmap.png)
  mask     binary mask of changes    (mask.png)
  filled   B with changes filled     (filled.png)

Tolerances (CI gates): --max-diff-pixels N and --max-diff-ratio R make the verdict
`different` (exit 1) only when the boxes hold more changed pixels than that; the boxes
are still listed and drawn, and the JSON's `tolerance` says what was applied.

Heatmap colours: inferno for the change inside the boxes, --tolerated-color for
differences that were measured but tolerated (no box holds them). Boxes are numbered
in the pictures as in the report.

Examples:
  spotdiff compare before.png after.png
  spotdiff compare before.png after.png --max-diff-pixels 100 --report review/
  spotdiff compare before.png after.png --out diff/ --write side,heatmap
  spotdiff compare a.jpg b.jpg --json --ignore 0,0,400,60 --color '#00c8ff'";

#[derive(Args)]
pub struct CompareCmd {
    /// The first (reference) image.
    pub a: PathBuf,
    /// The second image.
    pub b: PathBuf,

    #[command(flatten)]
    pub compare: CompareArgs,

    #[command(flatten)]
    pub backbone: BackboneArgs,

    /// Print where the time went (decode, maps, deep steps, boxes, pictures) on stderr.
    #[arg(long)]
    pub timings: bool,

    /// Folder for the pictures (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Pictures to write, comma-separated: a,b,side,heatmap,mask,filled or all.
    #[arg(short, long, value_name = "LIST", value_delimiter = ',', value_parser = parse_picture)]
    pub write: Vec<Vec<Picture>>,

    #[command(flatten)]
    pub style: StyleArgs,

    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,

    /// Write a static HTML review report into DIR (index.html, works offline without
    /// a server): the verdict, scores and boxes, and a viewer with side by side, a
    /// swipe slider, onion skin, blink, zoom and pan. `spotdiff approve DIR` then
    /// copies B over A.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

pub fn parse_picture(s: &str) -> Result<Vec<Picture>, String> {
    if s == "all" {
        return Ok(Picture::ALL.to_vec());
    }
    Picture::parse(s).map(|p| vec![p]).ok_or_else(|| {
        format!("unknown picture `{s}` (use a, b, side, heatmap, mask, filled or all)")
    })
}

/// The pictures asked for with `--write` (each once, in order); they need `--out`.
pub fn chosen_pictures(
    write: &[Vec<Picture>],
    out: Option<&PathBuf>,
) -> Result<Vec<Picture>, Error> {
    let mut pictures: Vec<Picture> = write.iter().flatten().copied().collect();
    pictures.sort();
    pictures.dedup();
    if !pictures.is_empty() && out.is_none() {
        return Err(Error::option(
            "write",
            "--write needs --out DIR to say where the pictures go",
        ));
    }
    Ok(pictures)
}

pub fn run(args: CompareCmd) -> Result<u8, Error> {
    let mut pictures = chosen_pictures(&args.write, args.out.as_ref())?;
    if pictures.is_empty() && args.out.is_some() {
        pictures = Picture::ALL.to_vec();
    }
    let options = args.compare.options()?;
    let mut clock = Instant::now();
    // The backbone loads (checksum, session) while the images decode.
    let ((loaded, decode_ms), selection) = std::thread::scope(|s| {
        let selection = s.spawn(|| {
            let clock = Instant::now();
            let sel = if matches!(options.method, Method::Deep | Method::Fused) {
                args.backbone.select()
            } else {
                Ok(Selection::Off)
            };
            (sel, clock.elapsed().as_secs_f64() * 1000.0)
        });
        // Both headers are read and checked (limits, size policy) before decoding.
        let loaded = load_pair_for(&args.a, &args.b, &options);
        let decode_ms = clock.elapsed().as_secs_f64() * 1000.0;
        ((loaded, decode_ms), selection.join())
    });
    let (a, b) = loaded?;
    lap(&mut clock);
    let (selection, load_model_ms) = selection.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let selection = selection?;
    if let Selection::Missing(reason) = &selection {
        if options.method == Method::Deep {
            return Err(Error::option(
                "method",
                format!("--method deep needs a backbone: {reason}"),
            ));
        }
    }
    selection.note_missing();
    // The output folder is made only once the inputs have loaded, so bad input leaves
    // nothing behind; it is checked before the comparison's work is done.
    if let Some(dir) = &args.out {
        prepare_dir(dir)?;
    }
    let review = match &args.report {
        Some(dir) => Some(super::review::Review::create(dir)?),
        None => None,
    };
    let cmp = compare_with(&a, &b, &options, selection.backbone())?;
    let compare_ms = lap(&mut clock);
    let style = args.style.style();
    let mut written = Vec::new();
    if let Some(dir) = &args.out {
        written = write_pictures(&cmp, &pictures, &style, dir)?;
    }
    if let Some(review) = review {
        let name = args
            .b
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "pair".into());
        let entry = review.pair(0, &name, &args.a, &args.b, &cmp, &style)?;
        let index = review.finish(vec![entry])?;
        written.push(index);
    }
    if args.timings {
        let t = &cmp.timings;
        eprintln!(
            "spotdiff: timings ms: decode {decode_ms:.1}, model load {load_model_ms:.1} (beside decode), \
             compare {compare_ms:.1} (registration {:.1}, maps {:.1}, deep preprocess {:.1}, \
             deep inference {:.1}, deep map {:.1}, boxes {:.1}), pictures {:.1}",
            t.register_ms,
            t.maps_ms,
            t.deep_preprocess_ms,
            t.deep_inference_ms,
            t.deep_map_ms,
            t.boxes_ms,
            lap(&mut clock)
        );
    }
    let report = &cmp.report;
    if args.json {
        let mut value = serde_json::to_value(report).expect("report serialises");
        value["pictures"] = serde_json::Value::Object(
            pictures
                .iter()
                .zip(&written)
                .map(|(p, path)| (p.name().to_string(), path.display().to_string().into()))
                .collect(),
        );
        print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).expect("json")
        ))?;
    } else {
        print(&text_report(report, &written))?;
    }
    Ok(if report.is_different() {
        EXIT_DIFFERENT
    } else {
        EXIT_SAME
    })
}

/// Renders and writes `pictures` into `dir`, all at once (each on its own thread),
/// under temporary names renamed into place when every one succeeded.
pub fn write_pictures(
    cmp: &spotdiff::Comparison,
    pictures: &[Picture],
    style: &spotdiff::Style,
    dir: &std::path::Path,
) -> Result<Vec<PathBuf>, Error> {
    let renderer = Renderer::new(cmp, *style);
    let renderer = &renderer;
    // Largest first (see `Staged::pngs`): side by side holds both images.
    let mut order = pictures.to_vec();
    order.sort_by_key(|&p| p != Picture::Side);
    let mut staged = Staged::default();
    staged.pngs(
        order
            .iter()
            .map(|&p| (dir.join(p.file_name()), move || renderer.render(p)))
            .collect(),
    )?;
    let mut written = staged.commit()?;
    // Reported in the order asked for.
    written.sort_by_key(|path| {
        pictures
            .iter()
            .position(|p| path.file_name() == Some(std::ffi::OsStr::new(p.file_name())))
    });
    Ok(written)
}

/// Milliseconds since the last lap, restarting the clock.
fn lap(clock: &mut Instant) -> f64 {
    let ms = clock.elapsed().as_secs_f64() * 1000.0;
    *clock = Instant::now();
    ms
}

fn text_report(r: &Report, written: &[PathBuf]) -> String {
    let mut out = String::new();
    let s = &r.scores;
    let n = r.boxes.len();
    let headline = match r.verdict {
        Verdict::Identical => "identical: the images are pixel-for-pixel equal".to_string(),
        Verdict::Same if r.tolerance.as_ref().is_some_and(|t| t.tolerated) => format!(
            "same: {n} changed region{} ({} changed pixels) within the tolerance",
            if n == 1 { "" } else { "s" },
            r.tolerance.as_ref().map_or(0, |t| t.changed_pixels)
        ),
        Verdict::Same if r.global.is_empty() => "same: no change above the thresholds".to_string(),
        Verdict::Same => format!(
            "same: no changed region ({}; ignored as asked)",
            r.global.join("; ")
        ),
        Verdict::Different if n == 0 => {
            format!("different: {}; no changed region", r.global.join("; "))
        }
        Verdict::Different => format!(
            "different: {n} changed region{}{}",
            if n == 1 { "" } else { "s" },
            if r.global.is_empty() {
                String::new()
            } else {
                format!("; also {}", r.global.join("; "))
            }
        ),
    };
    writeln!(out, "{headline}").unwrap();
    writeln!(
        out,
        "  SSIM {:.4}   changed {:.3}% of pixels   max ΔE {:.1}   (thresholds: ΔE {:.1}, 1-SSIM {})",
        s.ssim,
        s.changed_pixel_ratio * 100.0,
        s.max_delta_e,
        r.thresholds.pixel_delta_e,
        r.thresholds.ssim_dissimilarity
    )
    .unwrap();
    if let (Some(model), Some(sem), Some(patch)) = (&r.model, s.semantic, s.patch_similarity) {
        writeln!(
            out,
            "  deep ({model}): semantic {sem:.4}   patch similarity {patch:.4}   (threshold {})",
            r.thresholds.deep_distance.unwrap_or_default()
        )
        .unwrap();
    }
    if let Some(g) = &r.registration {
        if g.model != spotdiff::register::Model::Identity || g.uncovered_share > 0.0 {
            writeln!(
                out,
                "  registered: {} (residual {:.1} → {:.1} levels), {:.1}% of A not covered by B",
                serde_json::to_value(g.model)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
                    .replace('_', " "),
                g.residual_before.unwrap_or(g.residual_after),
                g.residual_after,
                g.uncovered_share * 100.0
            )
            .unwrap();
        }
        if let Some(note) = &g.note {
            writeln!(out, "  registration: {note}").unwrap();
        }
    }
    match &r.alignment {
        Alignment::None => {}
        Alignment::ResizedB { from, to } => writeln!(
            out,
            "  B was resized from {}x{} to {}x{}",
            from[0], from[1], to[0], to[1]
        )
        .unwrap(),
        Alignment::Padded { to } => {
            writeln!(out, "  both images were padded to {}x{}", to[0], to[1]).unwrap()
        }
    }
    for (i, b) in r.boxes.iter().enumerate() {
        writeln!(
            out,
            "  #{:<3} x={:<5} y={:<5} w={:<5} h={:<5} changed px {:<7} ΔE mean {:>5.1} peak {:>5.1}  [{}]{}",
            i + 1,
            b.x,
            b.y,
            b.w,
            b.h,
            b.changed_pixels,
            b.mean_change,
            b.peak_change,
            b.evidence.join(", "),
            if b.kind == spotdiff::BoxKind::Semantic {
                "  texture/semantic change"
            } else {
                ""
            }
        )
        .unwrap();
    }
    for p in written {
        writeln!(out, "  wrote {}", p.display()).unwrap();
    }
    out
}
