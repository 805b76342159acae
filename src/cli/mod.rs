//! Subcommands beyond `compare`, one file each; shared helpers here.

pub mod batch;
pub mod eval;
pub mod rank;
pub mod serve;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Writes text to stdout. A closed pipe is not an error.
pub fn print(text: &str) -> Result<(), spotdiff::Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(spotdiff::Error::Write {
            path: "standard output".into(),
            problem: e.to_string(),
        }),
        _ => Ok(()),
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal. Thread-safe.
pub struct Progress {
    label: String,
    total: usize,
    done: AtomicUsize,
    shown: bool,
}

impl Progress {
    pub fn new(label: &str, total: usize) -> Progress {
        let p = Progress {
            label: label.to_string(),
            total,
            done: AtomicUsize::new(0),
            shown: std::io::stderr().is_terminal(),
        };
        p.draw(0);
        p
    }

    /// Counts one finished item.
    pub fn tick(&self) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.draw(n);
    }

    fn draw(&self, n: usize) {
        if !self.shown {
            return;
        }
        const WIDTH: usize = 30;
        let fill = (n * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        eprint!(
            "\r{} [{}{}] {n}/{}",
            self.label,
            "#".repeat(fill),
            " ".repeat(WIDTH - fill),
            self.total
        );
    }

    /// Clears the bar's line.
    pub fn finish(&self) {
        if self.shown {
            eprint!("\r{}\r", " ".repeat(self.label.len() + 50));
        }
    }
}

/// Where the deep-feature backbone comes from, for subcommands that compare many pairs.
#[derive(clap::Args, Debug, Clone)]
pub struct BackboneArgs {
    /// Backbone for deep features, loaded once and shared by every pair: a name in
    /// models/ (resnet50, efficientnet-lite0), a manifest .json, a model .onnx with its
    /// manifest beside it, or `none`. Default: resnet50 when installed, else
    /// efficientnet-lite0; without either, pixel + SSIM only (said in one line).
    #[arg(long, value_name = "NAME|PATH")]
    pub model: Option<String>,

    /// The ONNX Runtime library (default: $ORT_DYLIB_PATH, then
    /// .deps/onnxruntime/libonnxruntime.so of the project).
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
}

impl BackboneArgs {
    /// A session holding the backbone these arguments name; a missing default backbone
    /// is said on stderr in one line, not an error.
    pub fn session(&self) -> Result<spotdiff::Session, spotdiff::Error> {
        use spotdiff::deep::{select, Selection};
        let selection = select(self.model.as_deref(), self.ort_lib.as_deref())?;
        if let Selection::Missing(reason) = &selection {
            eprintln!("spotdiff: note: {reason}; comparing with pixel + SSIM evidence only");
        }
        Ok(spotdiff::Session::with_backbone(selection.into_backbone()))
    }
}
