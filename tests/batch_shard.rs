//! `spotdiff batch --shard I/N` and JSON Lines manifests, end to end: shards partition
//! the pairs (disjoint, together all of them) the same way on every run, each pair's
//! record in a shard equals its record in the whole batch, JSONL and JSON manifests give
//! the same records, and bad shards or manifests exit 2 with one line.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

#[path = "support/run.rs"]
mod run;
use run::spotdiff;

/// The fast, backbone-free settings every run here uses.
const FAST: [&str; 4] = ["--method", "pixel", "--model", "none"];

/// `batch --manifest FILE [extra]`: the records (without their timing) by name, in
/// output order.
fn batch(manifest: &Path, extra: &[&str]) -> (i32, Vec<(String, Value)>) {
    let m = manifest.display().to_string();
    let mut args = vec!["batch", "--manifest", &m];
    args.extend_from_slice(&FAST);
    args.extend_from_slice(extra);
    let r = spotdiff(&args);
    assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
    let records = r
        .stdout
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("a JSON line");
            v.as_object_mut().unwrap().remove("ms");
            (v["name"].as_str().unwrap().to_string(), v)
        })
        .collect();
    (r.code, records)
}

/// The fixture pairs, each listed `copies` times under distinct names.
fn pairs(copies: usize) -> Vec<(String, String, String)> {
    let names = [
        "erasure-flat",
        "move-fur",
        "move-retina",
        "speck",
        "text-aa-same",
        "text-word-changed",
    ];
    (0..copies)
        .flat_map(|i| {
            names.iter().map(move |n| {
                (
                    format!("{n}-{i}"),
                    repo_str(&format!("tests/fixtures/{n}-a.png")),
                    repo_str(&format!("tests/fixtures/{n}-b.png")),
                )
            })
        })
        .collect()
}

fn write_jsonl(path: &Path, pairs: &[(String, String, String)]) {
    let text: String = pairs
        .iter()
        .map(|(n, a, b)| format!("{}\n", serde_json::json!({"name": n, "a": a, "b": b})))
        .collect();
    std::fs::write(path, text).unwrap();
}

#[test]
fn shards_partition_the_pairs_the_same_way_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("pairs.jsonl");
    let all_pairs = pairs(7); // 42 pairs
    write_jsonl(&manifest, &all_pairs);
    let (_, whole) = batch(&manifest, &[]);
    assert_eq!(whole.len(), all_pairs.len());
    let whole_names: BTreeSet<String> = whole.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(whole_names.len(), all_pairs.len());

    let n = 4;
    let mut seen = BTreeSet::new();
    for i in 1..=n {
        let shard = format!("{i}/{n}");
        let (_, part) = batch(&manifest, &["--shard", &shard]);
        assert!(!part.is_empty(), "shard {shard} is empty");
        for (name, record) in &part {
            assert!(seen.insert(name.clone()), "{name} in two shards");
            let full = &whole.iter().find(|(n, _)| n == name).unwrap().1;
            assert_eq!(
                record, full,
                "{name}: shard record differs from the batch's"
            );
        }
        // The same shard again: the same pairs, in the same order.
        let (_, again) = batch(&manifest, &["--shard", &shard]);
        let names = |v: &[(String, Value)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&part),
            names(&again),
            "shard {shard} changed between runs"
        );
    }
    assert_eq!(seen, whole_names, "the shards do not add up to the batch");

    // A pair's shard depends on its name alone: reversing the manifest moves none.
    let reversed = dir.path().join("reversed.jsonl");
    let mut rev = all_pairs.clone();
    rev.reverse();
    write_jsonl(&reversed, &rev);
    let (_, a) = batch(&manifest, &["--shard", "3/4"]);
    let (_, b) = batch(&reversed, &["--shard", "3/4"]);
    let set = |v: &[(String, Value)]| v.iter().map(|(n, _)| n.clone()).collect::<BTreeSet<_>>();
    assert_eq!(set(&a), set(&b));

    // One shard of one is the whole batch.
    let (_, one) = batch(&manifest, &["--shard", "1/1"]);
    assert_eq!(one, whole);
}

#[test]
fn shards_of_two_folders_partition_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&da).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    for (name, a, b) in pairs(3) {
        std::fs::copy(&a, da.join(format!("{name}.png"))).unwrap();
        std::fs::copy(&b, db.join(format!("{name}.png"))).unwrap();
    }
    let (sa, sb) = (da.display().to_string(), db.display().to_string());
    let names = |shard: Option<&str>| -> BTreeSet<String> {
        let mut args = vec!["batch", sa.as_str(), sb.as_str()];
        args.extend_from_slice(&FAST);
        if let Some(s) = shard {
            args.extend_from_slice(&["--shard", s]);
        }
        let r = spotdiff(&args);
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
        r.stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let all = names(None);
    assert_eq!(all.len(), 18);
    let mut union = BTreeSet::new();
    for shard in ["1/3", "2/3", "3/3"] {
        let part = names(Some(shard));
        assert!(union.is_disjoint(&part), "{shard} overlaps");
        union.extend(part);
    }
    assert_eq!(union, all);
}

#[test]
fn jsonl_and_json_manifests_give_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    // Relative paths (to the manifest's folder), a blank line, a pair without a name
    // (pairN, N its line) and a key the batch does not use.
    std::fs::copy(
        fixture("two-changes-far-a.png"),
        dir.path().join("far-a.png"),
    )
    .unwrap();
    std::fs::copy(
        fixture("two-changes-far-b.png"),
        dir.path().join("far-b.png"),
    )
    .unwrap();
    let jsonl = dir.path().join("pairs.jsonl");
    std::fs::write(
        &jsonl,
        format!(
            "{{\"name\": \"far\", \"a\": \"far-a.png\", \"b\": \"far-b.png\", \"id\": 7}}\n\
             \n\
             {{\"a\": \"{}\", \"b\": \"{}\"}}\n",
            repo_str("tests/fixtures/isoluminant-a.png"),
            repo_str("tests/fixtures/isoluminant-b.png")
        ),
    )
    .unwrap();
    let json = dir.path().join("pairs.json");
    std::fs::write(
        &json,
        serde_json::json!([
            {"name": "far", "a": "far-a.png", "b": "far-b.png", "expect": "different"},
            {"name": "pair3", "a": repo_str("tests/fixtures/isoluminant-a.png"),
             "b": repo_str("tests/fixtures/isoluminant-b.png"), "expect": "different"},
        ])
        .to_string(),
    )
    .unwrap();
    let (code, from_jsonl) = batch(&jsonl, &[]);
    assert_eq!(code, 1);
    let (_, from_json) = batch(&json, &[]);
    assert_eq!(from_jsonl, from_json);
    assert_eq!(from_jsonl[0].0, "far");
    assert_eq!(from_jsonl[1].0, "pair3");
    assert_eq!(
        from_jsonl[0].1["a"],
        dir.path().join("far-a.png").display().to_string()
    );
    assert_eq!(from_jsonl[0].1["report"]["verdict"], "different");
    assert_eq!(from_jsonl[1].1["report"]["verdict"], "different");
}

/// Exit 2, nothing on stdout, and one line on stderr containing every `needles`.
fn fails_in_one_line(args: &[&str], needles: &[&str]) {
    let r = spotdiff(args);
    assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    assert_eq!(
        r.stderr.trim_end().lines().count(),
        1,
        "{args:?}: {}",
        r.stderr
    );
    for n in needles {
        assert!(r.stderr.contains(n), "{args:?}: {} lacks {n}", r.stderr);
    }
}

#[test]
fn bad_shards_and_manifests_exit_2_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    write_jsonl(&good, &pairs(1));
    let g = good.display().to_string();
    for bad in ["0/4", "5/4", "2", "a/b", "1/0", "1/2/3", "-1/3"] {
        fails_in_one_line(
            &["batch", "--manifest", &g, "--shard", bad],
            &["--shard", "is not a shard I/N"],
        );
    }
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(
        &broken,
        "{\"name\": \"x\", \"a\": \"a.png\", \"b\": \"b.png\"}\n{\"name\": \"y\", \"a\": \"a.png\"}\n",
    )
    .unwrap();
    let b = broken.display().to_string();
    fails_in_one_line(
        &["batch", "--manifest", &b],
        &[&b, "line 2", "missing field `b`"],
    );
    let parquet = dir.path().join("pairs.parquet");
    std::fs::write(&parquet, b"PAR1").unwrap();
    let p = parquet.display().to_string();
    fails_in_one_line(&["batch", "--manifest", &p], &[&p, "JSON Lines"]);
    let missing = dir.path().join("missing.jsonl").display().to_string();
    fails_in_one_line(&["batch", "--manifest", &missing], &[&missing]);
}
