//! The subcommands, one file each, and what they share: the options ([`args`]), the
//! backbone's discovery ([`backbone`]), stdout, progress bars, and error wording.

pub mod approve;
pub mod args;
pub mod backbone;
pub mod batch;
pub mod compare;
pub mod eval;
pub mod rank;
pub mod review;
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

/// The options of `args.rs` against the whole command line (`crate::Cli`).
#[cfg(test)]
mod tests {
    use super::args::*;
    use clap::{CommandFactory, Parser};
    use spotdiff::{Method, Options, Threshold};

    fn longs(cmd: &clap::Command) -> Vec<String> {
        cmd.get_arguments()
            .filter_map(|a| a.get_long())
            .map(str::to_string)
            .collect()
    }

    fn compare_longs() -> Vec<String> {
        #[derive(Parser)]
        #[command(no_binary_name = true)]
        struct Only {
            #[command(flatten)]
            c: CompareArgs,
        }
        longs(&Only::command())
    }

    /// A value each option accepts (not always its default, so that parsing is seen).
    fn sample(long: &str) -> &'static str {
        match long {
            "method" => "pixel",
            "threshold" | "ssim-threshold" | "deep-threshold" => "0.5",
            "ignore" => "1,2,3,4",
            "size-policy" => "pad",
            "align" => "shift",
            "global-change" => "ignore",
            "color" | "tolerated-color" => "#00c8ff",
            "max-diff-ratio" => "0.01",
            "fill-opacity" => "0.25",
            _ => "7",
        }
    }

    #[test]
    fn every_compare_option_is_accepted_by_batch_eval_and_the_form() {
        let all = compare_longs();
        assert!(all.len() >= 9, "{all:?}");
        let cli = crate::Cli::command();
        for sub in ["compare", "batch", "eval"] {
            let cmd = cli.find_subcommand(sub).expect(sub);
            let have = longs(cmd);
            for long in &all {
                assert!(have.contains(long), "`{sub}` lacks --{long}");
            }
        }
        let form_fields = FormArgs::field_names();
        for long in all.iter().chain(
            ["color", "thickness", "fill-opacity"]
                .map(String::from)
                .iter(),
        ) {
            let name = long.replace('-', "_");
            assert!(form_fields.contains(&name), "the form lacks `{name}`");
            let parsed = FormArgs::parse(&[(name.clone(), sample(long).to_string())]);
            assert!(parsed.is_ok(), "{name}: {parsed:?}");
        }
    }

    #[test]
    fn form_values_reach_the_options_as_on_the_command_line() {
        let fields = [
            ("method", "pixel"),
            ("threshold", "5.5"),
            ("deep_threshold", "1.5"),
            ("ignore", "1,2,3,4"),
            ("ignore", "5,6,7,8"),
            ("min_area", ""),
            ("color", "#00c8ff"),
        ]
        .map(|(n, v)| (n.to_string(), v.to_string()));
        let form = FormArgs::parse(&fields).unwrap();
        let o = form.compare.options().unwrap();
        assert_eq!(o.method, Method::Pixel);
        assert_eq!(o.pixel_threshold, Threshold::Fixed(5.5));
        assert_eq!(o.deep_threshold, Threshold::Fixed(1.5));
        assert_eq!(o.ignore.len(), 2);
        assert_eq!(o.min_area, Options::default().min_area);
        assert_eq!(form.style.style().color, [0, 0xc8, 0xff]);
        let cli = crate::Cli::try_parse_from([
            "spotdiff",
            "compare",
            "a.png",
            "b.png",
            "-m",
            "pixel",
            "-t",
            "5.5",
            "--deep-threshold",
            "1.5",
            "--ignore",
            "1,2,3,4",
            "--ignore",
            "5,6,7,8",
        ])
        .unwrap();
        let crate::Command::Compare(c) = cli.command else {
            panic!("not compare")
        };
        assert_eq!(c.compare.options().unwrap(), o);
    }
}
