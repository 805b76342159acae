//! `spotdiff batch`: many pairs, from a manifest or two folders; one JSON line per pair.

use super::args::CompareArgs;
use super::backbone::BackboneArgs;
use super::{describe, print, Progress, EXIT_DIFFERENT, EXIT_ERROR, EXIT_SAME};
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;
use spotdiff::eval::Manifest;
use spotdiff::{load_pair_for, Error, IoOp, Options, Report, Session};
use std::path::{Path, PathBuf};

pub const HELP: &str = "\
Input: either --manifest FILE or two folders DIR_A DIR_B, whose files are paired by
file name (files starting with `.` are skipped; a file on one side only is an error
record). A manifest is JSON (the format of `spotdiff eval --help`; only `name`, `a` and
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
A progress bar is drawn on stderr when stderr is a terminal.

Exit codes:
  0  every pair compared, none differs
  1  every pair compared, at least one differs
  2  at least one pair failed (see its `error` record), or the batch could not start
     (unreadable manifest or folder, bad option)

Examples:
  spotdiff batch shots/before shots/after > results.jsonl
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

    #[command(flatten)]
    pub compare: CompareArgs,

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
}

#[derive(Serialize)]
struct Record<'a> {
    name: &'a str,
    a: String,
    b: String,
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
        });
    }
    Ok(jobs)
}

/// Pairs the files of two folders by name.
pub fn folder_jobs(dir_a: &Path, dir_b: &Path) -> Result<Vec<Job>, Error> {
    let names = |dir: &Path| -> Result<std::collections::BTreeSet<String>, Error> {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| Error::io(IoOp::Read, dir, "cannot list folder", e))?;
        Ok(rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect())
    };
    let (na, nb) = (names(dir_a)?, names(dir_b)?);
    Ok(na
        .union(&nb)
        .map(|n| {
            let (a, b) = (dir_a.join(n), dir_b.join(n));
            let error = if !na.contains(n) {
                Some(format!(
                    "{}: no such file (only in {})",
                    a.display(),
                    dir_b.display()
                ))
            } else if !nb.contains(n) {
                Some(format!(
                    "{}: no such file (only in {})",
                    b.display(),
                    dir_a.display()
                ))
            } else {
                None
            };
            Job {
                name: n.clone(),
                a,
                b,
                error,
            }
        })
        .collect())
}

pub fn run(args: BatchArgs) -> Result<u8, Error> {
    let options = args.compare.options()?;
    let mut jobs = match (&args.manifest, &args.dir_a, &args.dir_b) {
        (Some(m), _, _) => manifest_jobs(m)?,
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
    let session = args.backbone.session()?;
    let progress = Progress::new("batch", jobs.len());
    let lines: Vec<(String, Option<bool>)> = jobs
        .par_iter()
        .map(|job| {
            let line = compare_job(&session, job, &options);
            progress.tick();
            line
        })
        .collect();
    progress.finish();
    let mut out = String::new();
    let (mut failed, mut different) = (false, false);
    for (line, outcome) in &lines {
        out.push_str(line);
        out.push('\n');
        match outcome {
            None => failed = true,
            Some(d) => different |= d,
        }
    }
    print(&out)?;
    Ok(if failed {
        EXIT_ERROR
    } else if different {
        EXIT_DIFFERENT
    } else {
        EXIT_SAME
    })
}

/// Compares one pair: its JSON line and `Some(differs)`, or `None` when it failed.
fn compare_job(session: &Session, job: &Job, options: &Options) -> (String, Option<bool>) {
    let start = std::time::Instant::now();
    let result = match &job.error {
        Some(e) => Err(e.clone()),
        None => load_pair_for(&job.a, &job.b, options)
            .and_then(|(a, b)| Ok(session.compare(&a, &b, options)?.report))
            .map_err(|e| describe(&e)),
    };
    let outcome = result.as_ref().ok().map(Report::is_different);
    let (report, error) = match result {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e)),
    };
    let record = Record {
        name: &job.name,
        a: job.a.display().to_string(),
        b: job.b.display().to_string(),
        ms: (start.elapsed().as_secs_f64() * 1e4).round() / 10.0,
        report,
        error,
    };
    (
        serde_json::to_string(&record).expect("record serialises"),
        outcome,
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
    fn shard_syntax() {
        assert_eq!(parse_shard("2/5"), Ok(Shard { index: 2, count: 5 }));
        assert_eq!(parse_shard("1/1"), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/4", "5/4", "1/0", "1", "a/b", "1/2/3", "-1/4", ""] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
