//! The `spotdiff` command: a thin front over the library. It parses arguments, prints
//! the report, writes the pictures asked for and maps the result to an exit code:
//! 0 no difference, 1 differences found, 2 error.

mod cli;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use cli::{EXIT_ERROR, EXIT_SAME};
use std::process::ExitCode;

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
    #[command(after_help = cli::compare::HELP)]
    Compare(cli::compare::CompareCmd),
    /// Serve a web page (and a JSON API) that compares two uploaded images.
    #[cfg(feature = "serve")]
    Serve(cli::serve::ServeArgs),
    /// Evaluate every method on a labelled set (manifest): recall, precision, F1, ...
    #[command(after_help = cli::eval::HELP)]
    Eval(cli::eval::EvalArgs),
    /// Compare many pairs (a manifest, or two folders by relative path): JSON Lines out,
    /// a summary on stderr, pictures and an HTML review report on request.
    #[command(after_help = cli::batch::HELP)]
    Batch(cli::batch::BatchArgs),
    /// Order candidate images by similarity to a reference image.
    #[command(after_help = cli::rank::HELP)]
    Rank(cli::rank::RankArgs),
    /// Accept B as the new baseline: copy the chosen pairs' B files over their A files,
    /// from a report folder written by --report.
    #[command(after_help = cli::approve::HELP)]
    Approve(cli::approve::ApproveArgs),
}

fn main() -> ExitCode {
    // ONNX Runtime 1.29+ starts a telemetry uploader and its on-disk event cache on
    // Linux when the runtime initialises (about 40 ms of every model load, and network
    // attempts from an offline tool); its documented opt-out is this variable, read
    // once before initialisation. Set here, while the process has one thread. A user
    // who sets it otherwise keeps their value.
    if std::env::var_os("ORT_DISABLE_TELEMETRY").is_none() {
        std::env::set_var("ORT_DISABLE_TELEMETRY", "1");
    }
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
            eprintln!(
                "spotdiff: error: {} (see --help)",
                cli::args::clap_problem(&e)
            );
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = match cli.command {
        Command::Compare(args) => cli::compare::run(args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => cli::serve::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Batch(args) => cli::batch::run(args),
        Command::Rank(args) => cli::rank::run(args),
        Command::Approve(args) => cli::approve::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("spotdiff: error: {}", cli::describe(&e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
