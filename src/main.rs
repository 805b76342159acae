//! The `spotdiff` command: a thin front over the library. It parses arguments, prints
//! the report, writes the pictures asked for and maps the result to an exit code:
//! 0 no difference, 1 differences found, 2 error.

mod cli;

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};
use spotdiff::render::{parse_hex_color, render, Picture, Style};
use spotdiff::report::{Report, Verdict};
use spotdiff::write::{prepare_dir, Staged};
use spotdiff::{
    compare_with, deep, load_pair, Limits, Method, Options, Rect, SizePolicy, Threshold,
};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const EXIT_SAME: u8 = 0;
const EXIT_DIFFERENT: u8 = 1;
const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "spotdiff",
    version,
    about = "Find every region that changed between two images, box it, and score the similarity.",
    after_help = "Exit codes: 0 = no difference, 1 = differences found, 2 = error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare two images: print the changed regions and scores, write pictures.
    #[command(after_help = COMPARE_HELP)]
    Compare(CompareArgs),
    /// Serve a web page (and a JSON API) that compares two uploaded images.
    Serve(cli::serve::ServeArgs),
    /// Evaluate every method on a labelled set (manifest): recall, precision, F1, ...
    #[command(after_help = cli::eval::HELP)]
    Eval(cli::eval::EvalArgs),
    /// Compare many pairs (a manifest, or two folders by file name): JSON Lines out.
    #[command(after_help = cli::batch::HELP)]
    Batch(cli::batch::BatchArgs),
    /// Order candidate images by similarity to a reference image.
    #[command(after_help = cli::rank::HELP)]
    Rank(cli::rank::RankArgs),
}

const COMPARE_HELP: &str = "\
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

Examples:
  spotdiff compare before.png after.png
  spotdiff compare before.png after.png --out diff/ --write side,heatmap
  spotdiff compare a.jpg b.jpg --json --ignore 0,0,400,60 --color '#00c8ff'";

#[derive(Args)]
struct CompareArgs {
    /// The first (reference) image.
    a: PathBuf,
    /// The second image.
    b: PathBuf,

    /// Evidence that decides what changed: fused (colour + structure + deep features
    /// when a backbone is installed), pixel (colour difference only), ssim (structure
    /// only) or deep (CNN features, refined with the colour difference).
    #[arg(short, long, default_value = "fused", value_parser = parse_method)]
    method: Method,

    /// Colour-difference threshold in ΔE (CIE76), or `auto` (12; a just-noticeable
    /// difference is about 2.3, a clearly visible one 10+).
    #[arg(short, long, default_value = "auto", value_parser = parse_threshold)]
    #[arg(allow_negative_numbers = true)]
    threshold: Threshold,

    /// SSIM threshold as `1 - SSIM` (0..2), or `auto` (0.5).
    #[arg(long, default_value = "auto", value_parser = parse_threshold)]
    #[arg(allow_negative_numbers = true)]
    ssim_threshold: Threshold,

    /// Deep-feature threshold as `2 (1 - cos)` (0..4), or `auto` (0.75).
    #[arg(long, default_value = "auto", value_parser = parse_threshold)]
    #[arg(allow_negative_numbers = true)]
    deep_threshold: Threshold,

    /// Backbone for deep features: a name in models/ (resnet50, efficientnet-lite0),
    /// a manifest .json, a model .onnx with its manifest beside it, or `none`.
    /// Default: resnet50 when installed, else efficientnet-lite0; without either,
    /// the fused method uses pixel + SSIM and says so.
    #[arg(long, value_name = "NAME|PATH")]
    model: Option<String>,

    /// The ONNX Runtime library (default: $ORT_DYLIB_PATH, then
    /// .deps/onnxruntime/libonnxruntime.so of the project).
    #[arg(long, value_name = "PATH")]
    ort_lib: Option<PathBuf>,

    /// Print where the time went (decode, maps, deep steps, boxes, pictures) on stderr.
    #[arg(long)]
    timings: bool,

    /// Smallest change reported, in changed pixels; smaller ones are dropped unless
    /// they change strongly (3× the threshold).
    #[arg(long, default_value_t = 12)]
    min_area: u32,

    /// Changes closer than this many pixels are merged into one box.
    #[arg(long, default_value_t = 12)]
    merge_distance: u32,

    /// A rectangle `x,y,w,h` that never produces boxes (repeatable).
    #[arg(long = "ignore", value_name = "X,Y,W,H", value_parser = parse_rect)]
    ignore: Vec<Rect>,

    /// When sizes differ: error, resize (B to A's size, same aspect ratio only) or pad
    /// (both to the larger size; the padding counts as changed).
    #[arg(long, default_value = "error", value_parser = parse_size_policy)]
    size_policy: SizePolicy,

    /// Folder for the pictures (created if missing).
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Pictures to write, comma-separated: a,b,side,heatmap,mask,filled or all.
    #[arg(short, long, value_name = "LIST", value_delimiter = ',', value_parser = parse_picture)]
    write: Vec<Vec<Picture>>,

    /// Box and fill colour, CSS hex (#rgb or #rrggbb).
    #[arg(long, default_value = "#ff0044", value_parser = parse_color)]
    color: [u8; 3],

    /// Box line thickness in pixels (drawn outside the box).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    thickness: u32,

    /// Opacity of the fill in the `filled` picture, 0..1.
    #[arg(long, default_value_t = 0.5, value_parser = parse_opacity)]
    #[arg(allow_negative_numbers = true)]
    fill_opacity: f32,

    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,

    /// Refuse images with more pixels than this (checked before decoding).
    #[arg(long, default_value_t = 100_000_000)]
    max_pixels: u64,
}

fn parse_method(s: &str) -> Result<Method, String> {
    Method::parse(s).ok_or_else(|| format!("unknown method `{s}` (use fused, pixel, ssim or deep)"))
}

fn parse_threshold(s: &str) -> Result<Threshold, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(Threshold::Auto);
    }
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(Threshold::Fixed(v)),
        _ => Err(format!("`{s}` is not `auto` or a positive number")),
    }
}

fn parse_rect(s: &str) -> Result<Rect, String> {
    Rect::parse(s).ok_or_else(|| format!("`{s}` is not a rectangle x,y,w,h with w,h > 0"))
}

fn parse_size_policy(s: &str) -> Result<SizePolicy, String> {
    match s {
        "error" => Ok(SizePolicy::Error),
        "resize" => Ok(SizePolicy::Resize),
        "pad" => Ok(SizePolicy::Pad),
        _ => Err(format!(
            "unknown size policy `{s}` (use error, resize or pad)"
        )),
    }
}

fn parse_picture(s: &str) -> Result<Vec<Picture>, String> {
    if s == "all" {
        return Ok(Picture::ALL.to_vec());
    }
    Picture::parse(s).map(|p| vec![p]).ok_or_else(|| {
        format!("unknown picture `{s}` (use a, b, side, heatmap, mask, filled or all)")
    })
}

fn parse_color(s: &str) -> Result<[u8; 3], String> {
    parse_hex_color(s).ok_or_else(|| format!("`{s}` is not a hex colour like #ff0044 or #f04"))
}

fn parse_opacity(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number from 0 to 1")),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // --help, --version, and a bare `spotdiff`: clap's own output.
        Err(e)
            if !e.use_stderr()
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            let code = if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_SAME
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
        // Usage errors: one line, like every other error.
        Err(e) => {
            eprintln!("spotdiff: error: {}", one_line(&e));
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = match cli.command {
        Command::Compare(args) => run_compare(args),
        Command::Serve(args) => cli::serve::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Batch(args) => cli::batch::run(args),
        Command::Rank(args) => cli::rank::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("spotdiff: error: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Clap's message on one line: its first paragraph (no tip, no usage block).
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.split("\n\n").next().unwrap_or_default().trim();
    let first = first.strip_prefix("error:").unwrap_or(first);
    let words: Vec<&str> = first
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    format!("{} (see --help)", words.join(" "))
}

fn run_compare(args: CompareArgs) -> Result<u8, spotdiff::Error> {
    let mut pictures: Vec<Picture> = args.write.iter().flatten().copied().collect();
    pictures.sort();
    pictures.dedup();
    if !pictures.is_empty() && args.out.is_none() {
        return Err(spotdiff::Error::InvalidOption(
            "--write needs --out DIR to say where the pictures go".into(),
        ));
    }
    if pictures.is_empty() && args.out.is_some() {
        pictures = Picture::ALL.to_vec();
    }
    let options = Options {
        method: args.method,
        pixel_threshold: args.threshold,
        ssim_threshold: args.ssim_threshold,
        deep_threshold: args.deep_threshold,
        min_area: args.min_area,
        merge_distance: args.merge_distance,
        ignore: args.ignore,
        size_policy: args.size_policy,
        limits: Limits {
            max_pixels: args.max_pixels,
            ..Limits::default()
        },
    };
    options.validate()?;
    let mut clock = Instant::now();
    // The backbone loads (checksum, session) while the images decode.
    let ((loaded, decode_ms), selection) = std::thread::scope(|s| {
        let selection = s.spawn(|| {
            let clock = Instant::now();
            let sel = if matches!(options.method, Method::Deep | Method::Fused) {
                deep::select(args.model.as_deref(), args.ort_lib.as_deref())
            } else {
                Ok(deep::Selection::Off)
            };
            (sel, clock.elapsed().as_secs_f64() * 1000.0)
        });
        let loaded = load_pair(&args.a, &args.b, &options.limits);
        let decode_ms = clock.elapsed().as_secs_f64() * 1000.0;
        ((loaded, decode_ms), selection.join())
    });
    let (a, b) = loaded?;
    lap(&mut clock);
    let (selection, load_model_ms) = selection.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let selection = selection?;
    if let deep::Selection::Missing(reason) = &selection {
        if options.method == Method::Deep {
            return Err(spotdiff::Error::InvalidOption(format!(
                "--method deep needs a backbone: {reason}"
            )));
        }
        eprintln!("spotdiff: note: {reason}; comparing with pixel + SSIM evidence only");
    }
    // The output folder is made only once the inputs have loaded, so bad input leaves
    // nothing behind; it is checked before the comparison's work is done.
    if let Some(dir) = &args.out {
        prepare_dir(dir)?;
    }
    let cmp = compare_with(&a, &b, &options, selection.backbone())?;
    let compare_ms = lap(&mut clock);
    let style = Style {
        color: args.color,
        thickness: args.thickness,
        fill_opacity: args.fill_opacity,
    };
    let mut written = Vec::new();
    if let Some(dir) = &args.out {
        let mut staged = Staged::default();
        for p in &pictures {
            staged.png(&dir.join(p.file_name()), &render(&cmp, *p, &style))?;
        }
        written = staged.commit()?;
    }
    if args.timings {
        let t = &cmp.timings;
        eprintln!(
            "spotdiff: timings ms: decode {decode_ms:.1}, model load {load_model_ms:.1} (beside decode), \
             compare {compare_ms:.1} (maps {:.1}, deep preprocess {:.1}, deep inference {:.1}, \
             deep map {:.1}, boxes {:.1}), pictures {:.1}",
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
        cli::print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).expect("json")
        ))?;
    } else {
        cli::print(&text_report(report, &written))?;
    }
    Ok(if report.is_different() {
        EXIT_DIFFERENT
    } else {
        EXIT_SAME
    })
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
        Verdict::Same => "same: no change above the thresholds".to_string(),
        Verdict::Different => format!(
            "different: {n} changed region{}",
            if n == 1 { "" } else { "s" }
        ),
    };
    writeln!(out, "{headline}").unwrap();
    writeln!(
        out,
        "  SSIM {:.4}   changed {:.3}% of pixels   max ΔE {:.1}   (thresholds: ΔE {}, 1-SSIM {})",
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
    match &r.alignment {
        spotdiff::align::Alignment::None => {}
        spotdiff::align::Alignment::ResizedB { from, to } => writeln!(
            out,
            "  B was resized from {}x{} to {}x{}",
            from[0], from[1], to[0], to[1]
        )
        .unwrap(),
        spotdiff::align::Alignment::Padded { to } => {
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
