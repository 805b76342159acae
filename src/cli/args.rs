//! The comparison options, defined once: [`CompareArgs`] is flattened into `compare`,
//! `batch` and `eval`, [`StyleArgs`] into `compare`, and `serve` reads the same names
//! from its form through the same parsers ([`FormArgs`]). [`CompareArgs::options`] is
//! the one conversion into the library's [`Options`].
//!
//! This file stands alone (it names nothing of the binary but `clap` and the
//! library), so the form fuzz target and its corpus test include it as it is; the
//! tests that need the whole command line are in `cli/mod.rs`.

use clap::{Args, Parser};
use spotdiff::render::parse_hex_color;
use spotdiff::{
    AlignMode, GlobalChange, Limits, Method, Options, Rect, SizePolicy, Style, Threshold, Tolerance,
};

/// What a comparison is told: evidence, thresholds, regions, sizes, limits.
#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Evidence that decides what changed: fused (colour + structure + deep features
    /// when a backbone is installed), pixel (colour difference only), ssim (structure
    /// only) or deep (CNN features, refined with the colour difference). With `eval`,
    /// the one method to evaluate. [default: fused]
    #[arg(short, long, value_parser = parse_method)]
    pub method: Option<Method>,

    /// The least mean colour difference (ΔE) a change must have to be boxed, or
    /// `auto` (2.3, a just-noticeable difference, raised to the pair's measured noise;
    /// a clearly visible change is 10+).
    #[arg(short, long, default_value = "auto", value_parser = parse_threshold)]
    #[arg(allow_negative_numbers = true)]
    pub threshold: Threshold,

    /// SSIM threshold as `1 - SSIM` (0..2), or `auto` (0.5).
    #[arg(long, default_value = "auto", value_parser = parse_threshold)]
    #[arg(allow_negative_numbers = true)]
    pub ssim_threshold: Threshold,

    /// Deep-feature threshold as `2 (1 - cos)` (0..4), or `auto` (0.75).
    #[arg(long, default_value = "auto", value_parser = parse_threshold)]
    #[arg(allow_negative_numbers = true)]
    pub deep_threshold: Threshold,

    /// Smallest change reported, in changed pixels; smaller ones are dropped unless
    /// they change strongly (3× the threshold).
    #[arg(long, default_value_t = 12)]
    pub min_area: u32,

    /// Changes closer than this many pixels are merged into one box.
    #[arg(long, default_value_t = 12)]
    pub merge_distance: u32,

    /// A rectangle `x,y,w,h` that never produces boxes (repeatable).
    #[arg(long = "ignore", value_name = "X,Y,W,H", value_parser = parse_rect)]
    pub ignore: Vec<Rect>,

    /// When sizes differ: auto (register B onto A when a crop or scale explains the
    /// sizes, else refuse), error (refuse), align (register and compare the overlap,
    /// whatever registration finds), resize (B to A's size, same aspect ratio only) or
    /// pad (both to the larger size; the padding counts as changed).
    #[arg(long, default_value = "auto", value_parser = str::parse::<SizePolicy>)]
    pub size_policy: SizePolicy,

    /// How B is brought onto A before comparing: none (pixel (x, y) against (x, y);
    /// images of different sizes are still registered under --size-policy auto), auto
    /// (identity when the images agree, else the simplest model that explains them: a
    /// shift, then a similarity, affine or perspective map from keypoints, and a tone
    /// correction), shift, affine or homography. Parts of A that B does not cover are
    /// never boxed.
    #[arg(long, default_value = "auto", value_parser = str::parse::<AlignMode>)]
    pub align: AlignMode,

    /// A whole-picture change (moved, scaled, rotated, tone): different (exit 1,
    /// never boxed) or ignore.
    #[arg(long, default_value = "different", value_parser = str::parse::<GlobalChange>)]
    pub global_change: GlobalChange,

    /// Tolerate up to N changed pixels (inside the boxes): the verdict is `different`
    /// only above it; the boxes are still listed (like Playwright's maxDiffPixels).
    #[arg(long, value_name = "N")]
    pub max_diff_pixels: Option<u64>,

    /// Tolerate changed pixels up to this share of the image (0..1, e.g. 0.001 for
    /// 0.1 %): the verdict is `different` only above it. With --max-diff-pixels, both
    /// must hold.
    #[arg(long, value_name = "R", value_parser = parse_ratio)]
    pub max_diff_ratio: Option<f64>,

    /// Refuse images with more pixels than this (checked before decoding).
    #[arg(long, default_value_t = 100_000_000)]
    pub max_pixels: u64,
}

impl CompareArgs {
    /// The library's options, validated.
    pub fn options(&self) -> Result<Options, spotdiff::Error> {
        let options = Options {
            method: self.method.unwrap_or_default(),
            pixel_threshold: self.threshold,
            ssim_threshold: self.ssim_threshold,
            deep_threshold: self.deep_threshold,
            min_area: self.min_area,
            merge_distance: self.merge_distance,
            ignore: self.ignore.clone(),
            size_policy: self.size_policy,
            align: self.align,
            global_change: self.global_change,
            tolerance: Tolerance {
                max_diff_pixels: self.max_diff_pixels,
                max_diff_ratio: self.max_diff_ratio,
            },
            limits: Limits {
                max_pixels: self.max_pixels,
                ..Limits::default()
            },
        };
        options.validate()?;
        Ok(options)
    }
}

/// How boxes are drawn on the pictures.
#[derive(Args, Debug, Clone)]
pub struct StyleArgs {
    /// Box and fill colour, CSS hex (#rgb or #rrggbb).
    #[arg(long, default_value = "#ff0044", value_parser = parse_color)]
    pub color: [u8; 3],

    /// Colour of differences that were measured but tolerated (not boxed: noise,
    /// anti-aliasing, a small shift, below the thresholds) in the heatmap, CSS hex.
    #[arg(long, default_value = "#00b4ff", value_parser = parse_color)]
    pub tolerated_color: [u8; 3],

    /// Box line thickness in pixels (drawn outside the box).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub thickness: u32,

    /// Opacity of the fill in the `filled` picture, 0..1.
    #[arg(long, default_value_t = 0.5, value_parser = parse_opacity)]
    #[arg(allow_negative_numbers = true)]
    pub fill_opacity: f32,
}

impl StyleArgs {
    pub fn style(&self) -> Style {
        Style {
            color: self.color,
            tolerated_color: self.tolerated_color,
            thickness: self.thickness,
            fill_opacity: self.fill_opacity,
        }
    }
}

/// The options a web form may carry: the same names as the command line's (with `_`
/// for `-`), parsed by the same parsers.
#[derive(Parser, Debug)]
#[command(no_binary_name = true, disable_help_flag = true)]
pub struct FormArgs {
    #[command(flatten)]
    pub compare: CompareArgs,
    #[command(flatten)]
    pub style: StyleArgs,
}

impl FormArgs {
    /// The field names a form may send, in the command line's order.
    pub fn field_names() -> Vec<String> {
        use clap::CommandFactory;
        FormArgs::command()
            .get_arguments()
            .filter_map(|a| a.get_long())
            .map(|l| l.replace('-', "_"))
            .collect()
    }

    /// Parses `(name, value)` fields. Empty values keep the default. An error names
    /// the field, in one line.
    pub fn parse(fields: &[(String, String)]) -> Result<FormArgs, String> {
        let known = FormArgs::field_names();
        let mut argv = Vec::new();
        for (name, value) in fields.iter().filter(|(_, v)| !v.is_empty()) {
            if !known.contains(name) {
                return Err(format!("unknown field `{}`", name.escape_debug()));
            }
            // Every value is one line (and so is every error that quotes it).
            if value.chars().any(char::is_control) {
                return Err(format!(
                    "field `{name}`: the value holds a control character"
                ));
            }
            let one = [format!("--{}", name.replace('_', "-")), value.clone()];
            if let Err(e) = FormArgs::try_parse_from(&one) {
                return Err(format!("field `{name}`: {}", clap_problem(&e)));
            }
            argv.extend(one);
        }
        FormArgs::try_parse_from(&argv).map_err(|e| clap_problem(&e))
    }
}

/// Clap's message on one line: its first paragraph (no tip, no usage block).
pub fn clap_problem(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.split("\n\n").next().unwrap_or_default().trim();
    let first = first.strip_prefix("error:").unwrap_or(first);
    let words: Vec<&str> = first
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    words.join(" ")
}

pub fn parse_method(s: &str) -> Result<Method, String> {
    Method::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
        format!("unknown method `{s}` (use {})", names.join(", "))
    })
}

pub fn parse_threshold(s: &str) -> Result<Threshold, String> {
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

fn parse_color(s: &str) -> Result<[u8; 3], String> {
    parse_hex_color(s).ok_or_else(|| format!("`{s}` is not a hex colour like #ff0044 or #f04"))
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a share from 0 to 1 (e.g. 0.001)")),
    }
}

fn parse_opacity(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number from 0 to 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_errors_name_the_field() {
        for (name, value) in [
            ("method", "magic"),
            ("threshold", "lots"),
            ("min_area", "-3"),
            ("thickness", "0"),
            ("fill_opacity", "2"),
            ("colour", "#fff"),
            ("threshold", "5\n6"),
            ("bad\nname", "1"),
        ] {
            let e = FormArgs::parse(&[(name.to_string(), value.to_string())]).unwrap_err();
            assert!(e.contains(&*name.escape_debug().to_string()), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
