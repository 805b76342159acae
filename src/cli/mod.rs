//! The subcommands, one file each, and what they share: the options ([`args`]), the
//! backbone's discovery ([`backbone`]), stdout, progress bars, and error wording.

pub mod args;
pub mod backbone;
pub mod batch;
pub mod compare;
pub mod eval;
pub mod rank;
#[cfg(feature = "serve")]
pub mod serve;

use spotdiff::{Error, Hint, LimitKind};
use std::io::{IsTerminal, Write};

pub const EXIT_SAME: u8 = 0;
pub const EXIT_DIFFERENT: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Writes text to stdout. A closed pipe is not an error.
pub fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io(
            spotdiff::IoOp::Write,
            "standard output",
            e.to_string(),
            e,
        )),
        _ => Ok(()),
    }
}

/// An error in one line, with the command line's hints (its flags, its set-up
/// commands).
pub fn describe(e: &Error) -> String {
    let mut line = e.chain();
    match (e, e.hint()) {
        (_, Hint::SizePolicy { resize }) => line.push_str(&format!(
            "; use --size-policy {} to compare them anyway",
            if resize {
                "resize (same aspect ratio) or pad"
            } else {
                "pad"
            }
        )),
        (
            Error::Limit {
                limit: LimitKind::Pixels { .. },
                ..
            },
            _,
        ) => line.push_str(" (raise it with --max-pixels)"),
        (_, hint) => {
            if let Some(h) = backbone::hint_text(hint) {
                line.push_str("; ");
                line.push_str(&h);
            }
        }
    }
    line
}

/// A progress bar on stderr, drawn only when stderr is a terminal. Thread-safe.
pub struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    pub fn new(label: &str, total: usize) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} ({eta} left)",
                )
                .expect("progress template")
                .progress_chars("#> "),
            );
            bar.set_prefix(label.to_string());
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        Progress { bar }
    }

    /// Counts one finished item.
    pub fn tick(&self) {
        self.bar.inc(1);
    }

    /// Clears the bar's line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
