//! Runs the `spotdiff` binary (for the tests that need the CLI; included with
//! `#[path = "support/run.rs"] mod run;`).

use std::process::Command;

/// What one run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `spotdiff ARGS`, waited for.
pub fn spotdiff(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_spotdiff"))
        .args(args)
        .output()
        .expect("spawn spotdiff");
    Run {
        code: out.status.code().expect("exited by a signal"),
        stdout: String::from_utf8(out.stdout).expect("utf-8"),
        stderr: String::from_utf8(out.stderr).expect("utf-8"),
    }
}
