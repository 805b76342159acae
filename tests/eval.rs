//! `spotdiff eval`, `batch` and `rank` end to end, on committed fixtures and the real
//! pairs in `../shared/realpairs`.

mod common;
use common::*;
use serde_json::Value;

#[path = "support/run.rs"]
mod run;
use run::spotdiff;

/// Runs `spotdiff eval ARGS --json FILE` and returns the JSON.
fn eval_json(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("eval.json");
    let mut all: Vec<&str> = vec!["eval"];
    all.extend_from_slice(args);
    let json_s = json.display().to_string();
    all.extend_from_slice(&["--json", &json_s]);
    let r = spotdiff(&all);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("| method | recall |"), "{}", r.stdout);
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

fn method<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no method {name} in {v}"))
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn eval_scores_known_predictions_exactly() {
    // tests/fixtures/truth.json: 10 pairs, 9 truth boxes, 2 change-free. The predictions
    // file finds 4 boxes (one at IoU 0.38 does not count), adds one false box on a changed
    // pair and one on a change-free pair: 7 predicted boxes; on the three move pairs it
    // predicts nothing.
    let v = eval_json(&[
        &repo_str("tests/fixtures/truth.json"),
        "--methods",
        "pixel",
        "--external",
        &format!("known={}", repo_str("tests/data/eval-predictions.jsonl")),
    ]);
    let k = method(&v, "known");
    let t = &k["tally"];
    assert_eq!(t["truth_boxes"], 9);
    assert_eq!(t["predicted_boxes"], 7);
    assert_eq!(t["matched"], 4);
    assert_eq!(t["change_free_boxes"], 1);
    assert_eq!(t["change_free_flagged"], 1);
    assert_eq!(t["verdict_correct"], 5);
    assert!((f(k, "recall") - 4.0 / 9.0).abs() < 1e-9);
    assert!((f(k, "precision") - 4.0 / 7.0).abs() < 1e-9);
    assert!((f(k, "f1") - 0.5).abs() < 1e-9);
    assert!((f(k, "mean_ms") - 55.0).abs() < 1e-9);
    let failures: Vec<&str> = k["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        failures,
        [
            "text-aa-same",
            "isoluminant",
            "erasure-flat",
            "erasure-photo",
            "move-leaves",
            "move-retina",
            "move-fur"
        ]
    );
}

#[test]
fn eval_runs_every_method_on_the_fixtures() {
    let v = eval_json(&[&repo_str("tests/fixtures/truth.json"), "--by-tag"]);
    let names: Vec<&str> = v["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    // Every method the library has: the backbone is installed for the tests, so the
    // deep method runs too.
    let all: Vec<&str> = spotdiff::Method::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(names, all);
    assert_eq!(names, ["fused", "pixel", "ssim", "deep"]);
    assert!(names.contains(&"fused") && names.contains(&"pixel") && names.contains(&"ssim"));
    let fused = method(&v, "fused");
    // The fixtures' names say the result: every verdict is right, no box on the
    // change-free pairs, and at least 5 of the 6 truth boxes are found at IoU >= 0.5.
    assert_eq!(f(fused, "verdict_accuracy"), 1.0);
    assert_eq!(fused["tally"]["change_free_boxes"], 0);
    assert!(f(fused, "recall") >= 5.0 / 6.0 - 1e-9, "{fused}");
    // Grayscale SSIM cannot see the isoluminant recolouring.
    assert!(method(&v, "ssim")["failures"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "isoluminant"));
}

#[test]
fn eval_on_real_pairs_finds_the_upstream_changes() {
    let root = realpairs().display().to_string();
    let v = eval_json(&[
        &repo_str("tests/data/eval-realpairs-mini.json"),
        "--methods",
        "fused",
        "--root",
        &root,
    ]);
    let fused = method(&v, "fused");
    assert_eq!(fused["tally"]["truth_boxes"], 11);
    assert_eq!(fused["tally"]["errors"], 0);
    // odiff, PyImageSearch, reg-cli and looks-same boxes: all found but one of
    // odiff's orange patches, whose two measured parts lie 11 px apart (within the
    // 12 px merge distance: one box, matched to the larger part).
    assert!(f(fused, "recall") >= 10.0 / 11.0 - 1e-9, "{fused}");
    // Playwright's single red pixel is flagged, its Chrome noise is not.
    let failures = fused["failures"].as_array().unwrap();
    assert!(!failures
        .iter()
        .any(|n| n.as_str().unwrap().starts_with("playwright")));
}

#[test]
fn eval_refuses_a_bad_manifest_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("m.json");
    std::fs::write(
        &bad,
        r#"[{"a": "x.png", "b": "y.png", "boxes": [[1, 2, 0, 4]]}]"#,
    )
    .unwrap();
    let r = spotdiff(&["eval", bad.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("m.json") && r.stderr.contains("empty"),
        "{}",
        r.stderr
    );
}

/// Two folders: three fixture pairs by name, a corrupt file on both sides, and a file on
/// one side only.
fn batch_folders() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("A"), dir.path().join("B"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    for name in ["text-word-changed", "text-aa-same", "isoluminant"] {
        std::fs::copy(
            fixture(&format!("{name}-a.png")),
            a.join(format!("{name}.png")),
        )
        .unwrap();
        std::fs::copy(
            fixture(&format!("{name}-b.png")),
            b.join(format!("{name}.png")),
        )
        .unwrap();
    }
    let png = std::fs::read(fixture("speck-a.png")).unwrap();
    std::fs::write(a.join("corrupt.png"), &png).unwrap();
    std::fs::write(b.join("corrupt.png"), &png[..png.len() / 3]).unwrap();
    std::fs::copy(fixture("speck-a.png"), a.join("only-in-a.png")).unwrap();
    dir
}

#[test]
fn batch_records_errors_per_pair_and_goes_on() {
    let dir = batch_folders();
    let (a, b) = (dir.path().join("A"), dir.path().join("B"));
    let r = spotdiff(&["batch", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(r.code, 2, "a failed pair gives exit 2: {}", r.stderr);
    let lines: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = lines.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "corrupt.png",
            "isoluminant.png",
            "only-in-a.png",
            "text-aa-same.png",
            "text-word-changed.png"
        ]
    );
    let by = |n: &str| lines.iter().find(|l| l["name"] == n).unwrap();
    let corrupt = by("corrupt.png")["error"].as_str().unwrap();
    assert!(corrupt.contains("B/corrupt.png"), "{corrupt}");
    let missing = by("only-in-a.png")["error"].as_str().unwrap();
    assert!(missing.contains("no such file"), "{missing}");
    assert_eq!(by("isoluminant.png")["report"]["verdict"], "different");
    assert_eq!(by("text-aa-same.png")["report"]["verdict"], "same");
    let words = &by("text-word-changed.png")["report"]["boxes"];
    assert_eq!(words.as_array().unwrap().len(), 1);
    // Without the broken files: exit 1 (differences), and 0 when nothing differs.
    std::fs::remove_file(a.join("corrupt.png")).unwrap();
    std::fs::remove_file(b.join("corrupt.png")).unwrap();
    std::fs::remove_file(a.join("only-in-a.png")).unwrap();
    let r = spotdiff(&["batch", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 3);
    for n in ["isoluminant.png", "text-word-changed.png"] {
        std::fs::remove_file(a.join(n)).unwrap();
        std::fs::remove_file(b.join(n)).unwrap();
    }
    let r = spotdiff(&["batch", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn batch_reads_a_manifest() {
    let r = spotdiff(&[
        "batch",
        "--manifest",
        &repo_str("tests/fixtures/truth.json"),
        "--method",
        "pixel",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["name"], "text-aa-same");
    assert!(lines.iter().all(|l| l["report"]["method"] == "pixel"));
}

#[test]
fn batch_with_a_missing_folder_fails_in_one_line() {
    let r = spotdiff(&["batch", "/nonexistent/A", "/nonexistent/B"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("/nonexistent/A"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

#[test]
fn rank_orders_real_edits_by_severity_and_unrelated_last() {
    // Reference: the demo photo. One edit: A with only the first of B's four edits
    // (the erased mast) copied in. Four edits: examples/after.png. Unrelated: the coffee
    // photo of another size.
    let dir = tempfile::tempdir().unwrap();
    let before = image::open(repo("examples/before.png")).unwrap().to_rgba8();
    let after = image::open(repo("examples/after.png")).unwrap().to_rgba8();
    let mut one = before.clone();
    let (x0, y0, w, h) = (434, 111, 47, 259); // examples/truth.json, edit 1
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            one.put_pixel(x, y, *after.get_pixel(x, y));
        }
    }
    let one_path = dir.path().join("one-edit.png");
    one.save(&one_path).unwrap();
    let four = repo_str("examples/after.png");
    let unrelated = fixture("erasure-photo-a.png").display().to_string();
    let r = spotdiff(&[
        "rank",
        &repo_str("examples/before.png"),
        &unrelated,
        &four,
        one_path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let order: Vec<&str> = v["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(order, [one_path.to_str().unwrap(), &four, &unrelated]);
    let scores: Vec<f64> = v["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["score"].as_f64().unwrap())
        .collect();
    assert!(scores[0] > scores[1] && scores[1] > scores[2], "{scores:?}");
    assert!(
        scores[2] < 0.5,
        "an unrelated photo is not similar: {scores:?}"
    );
    // The same order by the structural score alone, in text form.
    let r = spotdiff(&[
        "rank",
        &repo_str("examples/before.png"),
        &unrelated,
        &four,
        one_path.to_str().unwrap(),
        "--score",
        "structural",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let last = r.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("3 ") && last.ends_with("erasure-photo-a.png"),
        "{}",
        r.stdout
    );
}

#[test]
fn rank_with_an_unreadable_candidate_fails_in_one_line() {
    let r = spotdiff(&[
        "rank",
        &repo_str("examples/before.png"),
        &repo_str("examples/after.png"),
        "/nonexistent.png",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("/nonexistent.png"), "{}", r.stderr);
}

#[test]
fn subcommand_help_explains_formats_and_exit_codes() {
    for (cmd, needle) in [
        ("eval", "\"rankings\""),
        ("batch", "JSON Lines"),
        ("rank", "structural"),
    ] {
        let r = spotdiff(&[cmd, "--help"]);
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("Exit codes"), "{cmd}: {}", r.stdout);
        assert!(r.stdout.contains(needle), "{cmd}: {}", r.stdout);
    }
}
