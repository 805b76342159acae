//! `spotdiff approve REPORT_DIR [PAIR ...]`: accept B as the new baseline, as
//! BackstopJS and reg-cli do: each chosen pair's B file is copied over its A (the
//! absolute paths the report recorded), byte for byte, through a temporary file
//! renamed into place.

use super::review::{read, Entry};
use super::{print, EXIT_SAME};
use clap::Args;
use spotdiff::{Error, IoOp};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub const HELP: &str = "\
Without PAIR names, every pair the report marks `different` is approved, and every
file that was only in B (a new baseline). A PAIR is a name as the report lists it
(e.g. chrome/login.png). Each approval copies B's file over A's, byte for byte, and
prints what it replaced. B and A must have the same file extension (a JPEG is never
written under a .png name).

Exit codes: 0 approved (or nothing to approve), 2 error (no report, an unknown pair,
a file that cannot be copied; pairs before it in the list are already approved).

Examples:
  spotdiff batch base/ new/ --report review/
  spotdiff approve review/                      # every differing pair
  spotdiff approve review/ chrome/login.png     # just this one";

#[derive(Args)]
pub struct ApproveArgs {
    /// A report folder written by --report.
    pub report: PathBuf,
    /// The pairs to approve, by name (default: every differing pair and every new
    /// file of B).
    pub pairs: Vec<String>,
}

pub fn run(args: ApproveArgs) -> Result<u8, Error> {
    let doc = read(&args.report)?;
    let chosen: Vec<&Entry> = if args.pairs.is_empty() {
        doc.pairs
            .iter()
            .filter(|e| e.status == "different" || e.status == "only_b")
            .collect()
    } else {
        let mut out = Vec::new();
        for name in &args.pairs {
            let e = doc.pairs.iter().find(|e| &e.name == name).ok_or_else(|| {
                Error::read(
                    args.report.join("report.json"),
                    format!("no pair named `{}` in the report", name.escape_debug()),
                )
            })?;
            if e.status == "failed" || e.status == "only_a" {
                return Err(Error::read(
                    &e.b,
                    format!(
                        "cannot approve `{}`: {}",
                        e.name,
                        if e.status == "only_a" {
                            "there is no B to copy".to_string()
                        } else {
                            format!(
                                "the comparison failed ({})",
                                e.error.as_deref().unwrap_or("?")
                            )
                        }
                    ),
                ));
            }
            out.push(e);
        }
        out
    };
    let mut text = String::new();
    for e in &chosen {
        let replaced = copy_over(&e.b, &e.a)?;
        writeln!(
            text,
            "approved {}: {} → {}{}",
            e.name,
            e.b.display(),
            e.a.display(),
            if replaced {
                " (replaced the baseline)"
            } else {
                " (new baseline)"
            }
        )
        .unwrap();
    }
    if chosen.is_empty() {
        text.push_str("nothing to approve: no pair differs\n");
    }
    print(&text)?;
    Ok(EXIT_SAME)
}

/// Copies `from` over `to` through a temporary file next to `to`; true when `to`
/// existed.
fn copy_over(from: &Path, to: &Path) -> Result<bool, Error> {
    let ext = |p: &Path| {
        p.extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
    };
    if ext(from) != ext(to) {
        return Err(Error::write(
            to,
            format!(
                "not replaced by {}: the file types differ (copy it by hand)",
                from.display()
            ),
        ));
    }
    let bytes = std::fs::read(from).map_err(|e| Error::io(IoOp::Read, from, e.to_string(), e))?;
    let existed = to.exists();
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(IoOp::Write, dir, e.to_string(), e))?;
    }
    let mut staged = spotdiff::Staged::default();
    staged.bytes(to, &bytes)?;
    staged.commit()?;
    Ok(existed)
}
