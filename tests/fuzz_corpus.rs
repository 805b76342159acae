//! Every committed fuzz input, replayed through its target on stable: the seed corpora
//! (`fuzz/corpus/TARGET/`) and the inputs that once crashed a target
//! (`fuzz/crashes/TARGET/`, kept after the fix). The targets are `fuzz/targets.rs`,
//! the same functions the fuzzers run (`scripts/fuzz.sh`, FUZZING.md).

#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::Path;

/// Runs `target` over every file under `fuzz/corpus/NAME` and `fuzz/crashes/NAME`;
/// returns how many there were.
fn replay(name: &str) -> usize {
    let run = targets::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no target {name}"))
        .1;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for kind in ["corpus", "crashes"] {
        let Ok(dir) = std::fs::read_dir(root.join(kind).join(name)) else {
            continue;
        };
        let mut files: Vec<_> = dir
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", f.display());
            n += 1;
        }
    }
    n
}

#[test]
fn decode_inputs_replay_cleanly() {
    assert!(replay("decode") >= 10);
}

#[test]
fn compare_inputs_replay_cleanly() {
    assert!(replay("compare") >= 3);
}

#[test]
fn render_inputs_replay_cleanly() {
    assert!(replay("render") >= 3);
}

#[test]
fn form_inputs_replay_cleanly() {
    assert!(replay("form") >= 3);
}

#[test]
fn manifest_inputs_replay_cleanly() {
    assert!(replay("manifest") >= 2);
}

#[test]
fn every_target_has_a_corpus() {
    for (name, _) in targets::TARGETS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(name);
        assert!(dir.is_dir(), "{} is missing", dir.display());
    }
}
