//! The static HTML review report (`--report DIR` of `compare` and `batch`): one
//! self-contained `index.html` (its script and style inline, no server, no network)
//! with an index of the pairs and a viewer per pair, `report.json` with the same data
//! (what `spotdiff approve` reads), and each pair's pictures under `pairs/NNNN/`.
//!
//! The data come from the library's [`Report`]; this module only lays them out.

use serde::Serialize;
use spotdiff::render::{Picture, Renderer, Style};
use spotdiff::{prepare_dir, Comparison, Error, IoOp, Staged, Verdict};
use std::path::{Path, PathBuf};

/// Version of `report.json`'s shape.
pub const REVIEW_SCHEMA: u32 = 1;

/// Long side of the thumbnails in the index, in pixels.
const THUMB_SIDE: u32 = 320;

const PAGE: &str = include_str!("review/page.html");
const SCRIPT: &str = include_str!("review/review.js");
const STYLE: &str = include_str!("review/review.css");

/// A report being written into its folder.
pub struct Review {
    dir: PathBuf,
}

/// What the report knows of one pair.
#[derive(Serialize, serde::Deserialize, Debug, Clone)]
pub struct Entry {
    pub name: String,
    /// Absolute paths of the inputs (A is the baseline `approve` replaces).
    pub a: PathBuf,
    pub b: PathBuf,
    /// `identical`, `same`, `different`, `failed`, `only_a` or `only_b`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The pair's report, as `compare --json` prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
    /// The pictures, relative to the report's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Files>,
}

#[derive(Serialize, serde::Deserialize, Debug, Clone)]
pub struct Files {
    /// A and B as compared (after the size policy; B registered onto A when it
    /// moved), so that both align with the boxes.
    pub a: String,
    pub b: String,
    pub heatmap: String,
    pub thumb: String,
}

/// `report.json`.
#[derive(Serialize, serde::Deserialize, Debug)]
pub struct Document {
    pub schema: u32,
    pub pairs: Vec<Entry>,
}

/// An input's path made absolute, links resolved where it (or a folder above it)
/// exists: a file on one side only keeps the name it would have.
pub fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut rest = Vec::new();
    let mut at = abs.as_path();
    while let (Some(parent), Some(name)) = (at.parent(), at.file_name()) {
        rest.push(name);
        if let Ok(c) = std::fs::canonicalize(parent) {
            return rest.iter().rev().fold(c, |p, n| p.join(n));
        }
        at = parent;
    }
    abs
}

impl Review {
    /// Makes sure `dir` can be written, before any comparison is done.
    pub fn create(dir: &Path) -> Result<Review, Error> {
        prepare_dir(dir)?;
        Ok(Review {
            dir: dir.to_path_buf(),
        })
    }

    /// Writes the pictures of pair number `index` and returns its entry.
    pub fn pair(
        &self,
        index: usize,
        name: &str,
        a: &Path,
        b: &Path,
        cmp: &Comparison,
        style: &Style,
    ) -> Result<Entry, Error> {
        let rel = format!("pairs/{index:04}");
        let folder = self.dir.join(&rel);
        prepare_dir(&folder)?;
        let files = Files {
            a: format!("{rel}/a.png"),
            b: format!("{rel}/b.png"),
            heatmap: format!("{rel}/heatmap.png"),
            thumb: format!("{rel}/thumb.png"),
        };
        type Make<'c> = Box<dyn FnOnce() -> image::DynamicImage + Send + 'c>;
        let renderer = Renderer::new(cmp, *style);
        let r = &renderer;
        // A and B as compared, without boxes (the viewer draws them).
        let plain = |img: &image::RgbaImage| -> image::DynamicImage {
            image::DynamicImage::ImageRgba8(img.clone())
                .to_rgb8()
                .into()
        };
        let jobs: Vec<(PathBuf, Make)> = vec![
            (self.dir.join(&files.a), Box::new(|| plain(&cmp.a))),
            (self.dir.join(&files.b), Box::new(|| plain(&cmp.b))),
            (
                self.dir.join(&files.heatmap),
                Box::new(move || r.render(Picture::Heatmap)),
            ),
            (
                self.dir.join(&files.thumb),
                Box::new(move || thumbnail(r.render(Picture::B))),
            ),
        ];
        let mut staged = Staged::default();
        staged.pngs(jobs)?;
        staged.commit()?;
        Ok(Entry {
            name: name.to_string(),
            a: absolute(a),
            b: absolute(b),
            status: verdict_name(cmp.report.verdict).into(),
            error: None,
            report: Some(serde_json::to_value(&cmp.report).expect("report serialises")),
            files: Some(files),
        })
    }

    /// Writes `report.json` and `index.html` (under temporary names, renamed into
    /// place together); returns the page's path.
    pub fn finish(&self, pairs: Vec<Entry>) -> Result<PathBuf, Error> {
        let doc = Document {
            schema: REVIEW_SCHEMA,
            pairs,
        };
        let json = serde_json::to_string_pretty(&doc).expect("review serialises");
        // Inside <script>, `</` would end the element: JSON allows `<\/` for it.
        let inline = json.replace("</", "<\\/");
        let page = PAGE
            .replace("/*STYLE*/", STYLE)
            .replace("/*SCRIPT*/", SCRIPT)
            .replace("/*DATA*/", &inline);
        let index = self.dir.join("index.html");
        let mut staged = Staged::default();
        staged.bytes(&self.dir.join("report.json"), json.as_bytes())?;
        staged.bytes(&index, page.as_bytes())?;
        staged.commit()?;
        Ok(index)
    }
}

/// B with boxes, scaled so its long side is at most [`THUMB_SIDE`].
fn thumbnail(pic: image::DynamicImage) -> image::DynamicImage {
    let (w, h) = (pic.width(), pic.height());
    if w.max(h) <= THUMB_SIDE {
        return pic;
    }
    let s = f64::from(THUMB_SIDE) / f64::from(w.max(h));
    let (tw, th) = (
        ((f64::from(w) * s).round() as u32).max(1),
        ((f64::from(h) * s).round() as u32).max(1),
    );
    pic.resize_exact(tw, th, image::imageops::FilterType::Triangle)
}

pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Identical => "identical",
        Verdict::Same => "same",
        Verdict::Different => "different",
    }
}

/// Reads a report folder's `report.json`.
pub fn read(dir: &Path) -> Result<Document, Error> {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            "no report here (write one with --report DIR)".to_string()
        } else {
            e.to_string()
        };
        Error::io(IoOp::Read, &path, what, e)
    })?;
    let doc: Document = serde_json::from_str(&text)
        .map_err(|e| Error::decode(&path, format!("not a spotdiff review report: {e}")))?;
    if doc.schema != REVIEW_SCHEMA {
        return Err(Error::decode(
            &path,
            format!(
                "review report schema {} (this spotdiff reads {REVIEW_SCHEMA})",
                doc.schema
            ),
        ));
    }
    Ok(doc)
}
