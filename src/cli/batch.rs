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
Input: either --manifest FILE (the format of `spotdiff eval --help`; only `name`, `a`
and `b` of each pair are used) or two folders DIR_A DIR_B, whose files are paired by
file name (files starting with `.` are skipped; a file on one side only is an error
record).

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
  spotdiff batch --manifest pairs.json --method pixel";

#[derive(Args)]
pub struct BatchArgs {
    /// Folder of reference images (with DIR_B; or use --manifest).
    #[arg(required_unless_present = "manifest", conflicts_with = "manifest")]
    pub dir_a: Option<PathBuf>,
    /// Folder of images to compare, matched to DIR_A by file name.
    #[arg(required_unless_present = "manifest")]
    pub dir_b: Option<PathBuf>,

    /// A manifest listing the pairs (JSON).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,

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
    let jobs = match (&args.manifest, &args.dir_a, &args.dir_b) {
        (Some(m), _, _) => Manifest::load(m, None)?
            .pairs
            .into_iter()
            .map(|p| Job {
                name: p.name,
                a: p.a,
                b: p.b,
                error: None,
            })
            .collect(),
        (None, Some(a), Some(b)) => folder_jobs(a, b)?,
        _ => {
            return Err(Error::option(
                "manifest",
                "give two folders or --manifest FILE",
            ))
        }
    };
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
