//! `spotdiff batch`: many pairs, from a manifest or two folders; one JSON line per pair.

use super::args::{CompareArgs, StyleArgs};
use super::backbone::BackboneArgs;
use super::compare::write_pictures;
use super::review::{absolute, Entry, Review};
use super::{describe, print, Progress, EXIT_DIFFERENT, EXIT_ERROR, EXIT_SAME};
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;
use spotdiff::eval::Manifest;
use spotdiff::render::Picture;
use spotdiff::{load_pair_for, Error, IoOp, Options, Report, Session};
use std::path::{Path, PathBuf};

pub const HELP: &str = "\
Input: either --manifest FILE or two folders DIR_A DIR_B, whose files are paired by
their path relative to the folder, subfolders included (chrome/login.png in both):
names starting with `.` are skipped, so are files that are not images (by extension:
png, jpg, jpeg, webp, bmp, tif, tiff, gif; a note on stderr says which), and a file on
one side only gets a record with `only` (\"a\" or \"b\") and an `error`, counts as a
difference (exit 1) and is listed in the summary. Zero pairs compared is an error
(exit 2: a wrong path must not pass) unless --allow-empty (also for a --shard that
holds no pair). A manifest is JSON (the format of `spotdiff eval --help`; only `name`, `a` and
`b` of each pair are used) or, when its name ends in .jsonl, JSON Lines: one pair per
line, {\"name\": \"x\", \"a\": \"A/x.png\", \"b\": \"B/x.png\"} (other keys are
ignored; `name` defaults to pairN, N the line number). Relative paths are relative to
the manifest's folder. Parquet manifests: convert them to JSON Lines, or run them with
the Python package's Ray batch (spotdiff.ray), which reads Parquet.

Sharding (--shard I/N, I from 1 to N): the batch runs only the pairs whose name hashes
to shard I: FNV-1a (64-bit) of the name's UTF-8 bytes, modulo N, plus one. The shards of
a manifest are disjoint and together hold every pair; a pair's shard depends on its name
alone, not on its place in the manifest or on the other pairs, so appending pairs or
re-sorting the manifest moves none of them (the Python package's spotdiff.shard_of
computes the same).

Output (stdout, JSON Lines, one record per pair, in input order):
  {\"name\": \"x.png\", \"a\": \"A/x.png\", \"b\": \"B/x.png\", \"ms\": 12.3,
   \"report\": {...the JSON report of `spotdiff compare --json`...}}
  {\"name\": \"y.png\", \"a\": \"A/y.png\", \"b\": \"B/y.png\", \"ms\": 0.4,
   \"error\": \"B/y.png: not a PNG, JPEG, ... image\"}
A failed pair is recorded and the batch goes on. Pairs run in parallel on every core.
A progress bar is drawn on stderr when stderr is a terminal; a summary line follows it
on stderr (pairs, different, same, failed, one-sided, time).

Pictures: --out DIR writes each pair's pictures (--write, default all six) into
DIR/<name without extension>/, e.g. DIR/chrome/login/b_boxes.png. --report DIR writes
the static HTML review report (DIR/index.html; see `spotdiff approve --help`).

Exit codes:
  0  every pair compared, none differs
  1  every pair compared, at least one differs (or a file is on one side only)
  2  at least one pair failed (see its `error` record), no pair was compared (without
     --allow-empty), or the batch could not start (unreadable manifest or folder, bad
     option)

Examples:
  spotdiff batch shots/before shots/after > results.jsonl
  spotdiff batch shots/before shots/after --max-diff-ratio 0.001 --report review/
  spotdiff batch --manifest pairs.json --method pixel
  spotdiff batch --manifest pairs.jsonl --shard 3/16 > part-03.jsonl";

#[derive(Args)]
pub struct BatchArgs {
    /// Folder of reference images (with DIR_B; or use --manifest).
    #[arg(required_unless_present = "manifest", conflicts_with = "manifest")]
    pub dir_a: Option<PathBuf>,
    /// Folder of images to compare, matched to DIR_A by file name.
    #[arg(required_unless_present = "manifest")]
    pub dir_b: Option<PathBuf>,

    /// A manifest listing the pairs: JSON, or JSON Lines when the name ends in .jsonl.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,

    /// Run only shard I of N (1 ≤ I ≤ N): the pairs whose name hashes to it (see
    /// below), for splitting one batch across machines.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, allow_hyphen_values = true)]
    pub shard: Option<Shard>,

    /// Succeed (exit 0) when there is nothing to compare, instead of exit 2.
    #[arg(long)]
    pub allow_empty: bool,

    /// Folder for each pair's pictures, in a subfolder named after the pair.
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Pictures to write with --out, comma-separated: a,b,side,heatmap,mask,filled or
    /// all (default all).
    #[arg(short, long, value_name = "LIST", value_delimiter = ',', value_parser = super::compare::parse_picture)]
    pub write: Vec<Vec<Picture>>,

    /// Write a static HTML review report of every pair into DIR (index.html).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,

    #[command(flatten)]
    pub compare: CompareArgs,

    #[command(flatten)]
    pub style: StyleArgs,

    #[command(flatten)]
    pub backbone: BackboneArgs,
}

/// One pair to compare.
pub struct Job {
    pub name: String,
    pub a: PathBuf,
    pub b: PathBuf,
    /// Known before comparing (e.g. a file on one side only).
    pub error: Option<String>,
    /// The side a file is on when it is on one side only.
    pub only: Option<Side>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    A,
    B,
}

#[derive(Serialize)]
struct Record<'a> {
    name: &'a str,
    a: String,
    b: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    only: Option<Side>,
    ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// One of N deterministic parts of a batch (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The shard (1..=count) of the pair named `name`: FNV-1a (64-bit) of its UTF-8
    /// bytes, modulo `count`, plus one. Stable across runs, platforms and manifest
    /// orders; the Python package's `shard_of` is the same function.
    pub fn of(name: &str, count: u64) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h % count + 1
    }

    pub fn contains(&self, name: &str) -> bool {
        Shard::of(name, self.count) == self.index
    }
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("`{s}` is not a shard I/N with 1 <= I <= N (e.g. 1/4)");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, count) = (
        i.trim().parse::<u64>().map_err(|_| bad())?,
        n.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if index == 0 || index > count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

/// Reads a manifest: JSON Lines when the name ends in `.jsonl`, else the JSON manifest
/// of `spotdiff eval`.
pub fn manifest_jobs(path: &Path) -> Result<Vec<Job>, Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("jsonl") => jsonl_jobs(path),
        Some("parquet") => Err(Error::decode(
            path,
            "Parquet manifests are read by the Python package's Ray batch \
             (python -m spotdiff.ray); convert it to JSON Lines (.jsonl) for this command",
        )),
        _ => Ok(Manifest::load(path, None)?
            .pairs
            .into_iter()
            .map(|p| Job {
                name: p.name,
                a: p.a,
                b: p.b,
                error: None,
                only: None,
            })
            .collect()),
    }
}

/// One line of a JSON Lines manifest. Other keys are ignored.
#[derive(serde::Deserialize)]
struct JsonlPair {
    #[serde(default)]
    name: Option<String>,
    a: PathBuf,
    b: PathBuf,
}

/// Reads a JSON Lines manifest: one `{"name", "a", "b"}` object per line (blank lines
/// skipped); relative paths are relative to the manifest's folder.
fn jsonl_jobs(path: &Path) -> Result<Vec<Job>, Error> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io(IoOp::Read, path, e.to_string(), e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut jobs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let p: JsonlPair = serde_json::from_str(line).map_err(|e| {
            Error::decode(
                path,
                format!("line {}: not a pair {{\"name\", \"a\", \"b\"}}: {e}", i + 1),
            )
        })?;
        jobs.push(Job {
            name: p.name.unwrap_or_else(|| format!("pair{}", i + 1)),
            a: dir.join(p.a),
            b: dir.join(p.b),
            error: None,
            only: None,
        });
    }
    Ok(jobs)
}

/// File extensions of the images a folder batch compares.
const IMAGE_EXTENSIONS: [&str; 8] = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"];

/// Subfolders deeper than this are not searched (a link loop ends here).
const MAX_DEPTH: usize = 32;

/// What a folder holds: image files by relative path (`/`-separated), and the other
/// files skipped.
#[derive(Default)]
struct Listing {
    images: std::collections::BTreeMap<String, PathBuf>,
    skipped: Vec<String>,
}

fn list(root: &Path) -> Result<Listing, Error> {
    fn walk(dir: &Path, rel: &str, depth: usize, out: &mut Listing) -> Result<(), Error> {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| Error::io(IoOp::Read, dir, "cannot list folder", e))?;
        for entry in rd.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let rel_name = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            // Follows links: a linked folder is searched, a linked file compared.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                if depth < MAX_DEPTH {
                    walk(&path, &rel_name, depth + 1, out)?;
                }
            } else if is_image_name(&name) {
                out.images.insert(rel_name, path);
            } else {
                out.skipped.push(rel_name);
            }
        }
        Ok(())
    }
    let mut out = Listing::default();
    walk(root, "", 0, &mut out)?;
    Ok(out)
}

fn is_image_name(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Pairs the images of two folders (and their subfolders) by relative path; also
/// returns the files skipped as not images (from either side, each once).
pub fn folder_jobs(dir_a: &Path, dir_b: &Path) -> Result<(Vec<Job>, Vec<String>), Error> {
    let (la, lb) = (list(dir_a)?, list(dir_b)?);
    let names: std::collections::BTreeSet<&String> =
        la.images.keys().chain(lb.images.keys()).collect();
    let jobs = names
        .into_iter()
        .map(|n| {
            let native = |dir: &Path| n.split('/').fold(dir.to_path_buf(), |p, c| p.join(c));
            let (a, b) = (
                la.images.get(n).cloned().unwrap_or_else(|| native(dir_a)),
                lb.images.get(n).cloned().unwrap_or_else(|| native(dir_b)),
            );
            let (error, only) = if !la.images.contains_key(n) {
                (
                    Some(format!(
                        "{}: no such file (only in {})",
                        a.display(),
                        dir_b.display()
                    )),
                    Some(Side::B),
                )
            } else if !lb.images.contains_key(n) {
                (
                    Some(format!(
                        "{}: no such file (only in {})",
                        b.display(),
                        dir_a.display()
                    )),
                    Some(Side::A),
                )
            } else {
                (None, None)
            };
            Job {
                name: n.clone(),
                a,
                b,
                error,
                only,
            }
        })
        .collect();
    let mut skipped: Vec<String> = la.skipped.into_iter().chain(lb.skipped).collect();
    skipped.sort();
    skipped.dedup();
    Ok((jobs, skipped))
}

/// A pair's folder under `--out`: its name's path parts (no `.`, `..` or empty
/// part), the last without its extension.
fn picture_dir(root: &Path, name: &str) -> PathBuf {
    let parts: Vec<&str> = name
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    let mut dir = root.to_path_buf();
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            let stem = Path::new(p)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| (*p).to_string());
            dir.push(stem);
        } else {
            dir.push(p);
        }
    }
    if parts.is_empty() {
        dir.push("pair");
    }
    dir
}

/// What a batch writes beside its JSON lines.
struct Outputs<'o> {
    out: Option<&'o Path>,
    pictures: Vec<Picture>,
    style: spotdiff::Style,
    review: Option<Review>,
}

/// How one pair ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Same,
    Different,
    Failed,
    OnlyA,
    OnlyB,
}

pub fn run(args: BatchArgs) -> Result<u8, Error> {
    let start = std::time::Instant::now();
    let options = args.compare.options()?;
    let mut pictures = super::compare::chosen_pictures(&args.write, args.out.as_ref())?;
    if pictures.is_empty() {
        pictures = Picture::ALL.to_vec();
    }
    let (mut jobs, skipped) = match (&args.manifest, &args.dir_a, &args.dir_b) {
        (Some(m), _, _) => (manifest_jobs(m)?, Vec::new()),
        (None, Some(a), Some(b)) => folder_jobs(a, b)?,
        _ => {
            return Err(Error::option(
                "manifest",
                "give two folders or --manifest FILE",
            ))
        }
    };
    if let Some(shard) = args.shard {
        jobs.retain(|j| shard.contains(&j.name));
    }
    if !skipped.is_empty() {
        const SHOWN: usize = 5;
        let mut list = skipped[..skipped.len().min(SHOWN)].join(", ");
        if skipped.len() > SHOWN {
            list.push_str(&format!(", and {} more", skipped.len() - SHOWN));
        }
        eprintln!(
            "spotdiff: note: skipped {} file{} that {} not an image (by extension): {list}",
            skipped.len(),
            if skipped.len() == 1 { "" } else { "s" },
            if skipped.len() == 1 { "is" } else { "are" },
        );
    }
    let comparable = jobs.iter().filter(|j| j.error.is_none()).count();
    if comparable == 0 && !args.allow_empty {
        let input = match (&args.manifest, &args.dir_a, &args.dir_b) {
            (Some(m), _, _) => m.display().to_string(),
            (_, Some(a), Some(b)) => format!("{} and {}", a.display(), b.display()),
            _ => String::new(),
        };
        let why = if jobs.is_empty() {
            "no image to compare".to_string()
        } else {
            format!("no image is in both ({} on one side only)", jobs.len())
        };
        return Err(Error::read(
            input,
            format!("{why}: nothing was compared (pass --allow-empty if that is expected)"),
        ));
    }
    if let Some(dir) = &args.out {
        spotdiff::prepare_dir(dir)?;
    }
    let outputs = Outputs {
        out: args.out.as_deref(),
        pictures,
        style: args.style.style(),
        review: match &args.report {
            Some(dir) => Some(Review::create(dir)?),
            None => None,
        },
    };
    let session = args.backbone.session()?;
    let progress = Progress::new("batch", jobs.len());
    let results: Vec<(String, Outcome, Option<Entry>)> = jobs
        .par_iter()
        .enumerate()
        .map(|(i, job)| {
            let r = compare_job(&session, i, job, &options, &outputs);
            progress.tick();
            r
        })
        .collect();
    progress.finish();
    let mut out = String::new();
    let count = |o: Outcome| results.iter().filter(|r| r.1 == o).count();
    let (same, different, failed, only_a, only_b) = (
        count(Outcome::Same),
        count(Outcome::Different),
        count(Outcome::Failed),
        count(Outcome::OnlyA),
        count(Outcome::OnlyB),
    );
    for (line, _, _) in &results {
        out.push_str(line);
        out.push('\n');
    }
    let index = match &outputs.review {
        Some(review) => Some(review.finish(results.into_iter().filter_map(|r| r.2).collect())?),
        None => None,
    };
    print(&out)?;
    eprintln!(
        "spotdiff: batch: {} pair{} compared in {:.1} s: {different} different, {same} same, \
         {failed} failed; one-sided: {only_a} only in A, {only_b} only in B{}",
        same + different + failed,
        if same + different + failed == 1 {
            ""
        } else {
            "s"
        },
        start.elapsed().as_secs_f64(),
        index.map_or(String::new(), |p| format!("; report: {}", p.display())),
    );
    Ok(if failed > 0 {
        EXIT_ERROR
    } else if different + only_a + only_b > 0 {
        EXIT_DIFFERENT
    } else {
        EXIT_SAME
    })
}

/// Compares one pair (number `index`): its JSON line, its outcome, and its entry in
/// the review report when one is written. Its pictures are written here.
fn compare_job(
    session: &Session,
    index: usize,
    job: &Job,
    options: &Options,
    outputs: &Outputs,
) -> (String, Outcome, Option<Entry>) {
    let start = std::time::Instant::now();
    let mut entry = None;
    let result = match &job.error {
        Some(e) => Err(e.clone()),
        None => load_pair_for(&job.a, &job.b, options)
            .and_then(|(a, b)| {
                let cmp = session.compare(&a, &b, options)?;
                if let Some(root) = outputs.out {
                    let dir = picture_dir(root, &job.name);
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| Error::io(IoOp::Write, &dir, "cannot create folder", e))?;
                    write_pictures(&cmp, &outputs.pictures, &outputs.style, &dir)?;
                }
                if let Some(review) = &outputs.review {
                    entry = Some(review.pair(
                        index,
                        &job.name,
                        &job.a,
                        &job.b,
                        &cmp,
                        &outputs.style,
                    )?);
                }
                Ok(cmp.report)
            })
            .map_err(|e| describe(&e)),
    };
    let outcome = match (&result, job.only) {
        (_, Some(Side::A)) => Outcome::OnlyA,
        (_, Some(Side::B)) => Outcome::OnlyB,
        (Ok(r), None) if r.is_different() => Outcome::Different,
        (Ok(_), None) => Outcome::Same,
        (Err(_), None) => Outcome::Failed,
    };
    let (report, error) = match result {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e)),
    };
    if outputs.review.is_some() && entry.is_none() {
        entry = Some(Entry {
            name: job.name.clone(),
            a: absolute(&job.a),
            b: absolute(&job.b),
            status: match outcome {
                Outcome::OnlyA => "only_a",
                Outcome::OnlyB => "only_b",
                _ => "failed",
            }
            .into(),
            error: error.clone(),
            report: None,
            files: None,
        });
    }
    let record = Record {
        name: &job.name,
        a: job.a.display().to_string(),
        b: job.b.display().to_string(),
        only: job.only,
        ms: (start.elapsed().as_secs_f64() * 1e4).round() / 10.0,
        report,
        error,
    };
    (
        serde_json::to_string(&record).expect("record serialises"),
        outcome,
        entry,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_hash_is_fnv1a_and_stable() {
        // FNV-1a 64 reference values: "" = 0xcbf29ce484222325, "a" = 0xaf63dc4c8601ec8c.
        assert_eq!(Shard::of("", u64::MAX), 0xcbf2_9ce4_8422_2325 + 1);
        assert_eq!(
            Shard::of("a", 1 << 32),
            (0xaf63_dc4c_8601_ec8c & 0xffff_ffff) + 1
        );
        assert_eq!(Shard::of("anything", 1), 1);
        let shards: Vec<u64> = (0..1000)
            .map(|i| Shard::of(&format!("pair{i}"), 4))
            .collect();
        for s in 1..=4 {
            let n = shards.iter().filter(|&&x| x == s).count();
            assert!((200..300).contains(&n), "shard {s}: {n} of 1000");
        }
    }

    #[test]
    fn picture_folders_follow_the_pair_names() {
        let root = Path::new("out");
        assert_eq!(
            picture_dir(root, "chrome/login.png"),
            root.join("chrome").join("login")
        );
        assert_eq!(picture_dir(root, "x.png"), root.join("x"));
        assert_eq!(
            picture_dir(root, "../../etc/x.png"),
            root.join("etc").join("x")
        );
        assert_eq!(picture_dir(root, ".."), root.join("pair"));
        assert_eq!(picture_dir(root, "pair3"), root.join("pair3"));
    }

    #[test]
    fn folders_pair_by_relative_path_and_skip_what_is_not_an_image() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        for (root, files) in [
            (
                &a,
                &[
                    "x.png",
                    "sub/y.PNG",
                    "notes.txt",
                    "only-a.jpg",
                    ".hidden.png",
                ][..],
            ),
            (
                &b,
                &["x.png", "sub/y.PNG", "notes.txt", "sub/deeper/new.webp"][..],
            ),
        ] {
            for f in files {
                let p = root.join(f);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, b"x").unwrap();
            }
        }
        let (jobs, skipped) = folder_jobs(&a, &b).unwrap();
        let names: Vec<(&str, Option<Side>)> =
            jobs.iter().map(|j| (j.name.as_str(), j.only)).collect();
        assert_eq!(
            names,
            [
                ("only-a.jpg", Some(Side::A)),
                ("sub/deeper/new.webp", Some(Side::B)),
                ("sub/y.PNG", None),
                ("x.png", None)
            ]
        );
        assert_eq!(skipped, ["notes.txt"]);
        assert_eq!(jobs[2].a, a.join("sub").join("y.PNG"));
        assert!(jobs[0].error.as_deref().unwrap().contains("no such file"));
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(parse_shard("2/5"), Ok(Shard { index: 2, count: 5 }));
        assert_eq!(parse_shard("1/1"), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/4", "5/4", "1/0", "1", "a/b", "1/2/3", "-1/4", ""] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
