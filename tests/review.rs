//! The visual-review workflow, end to end through the binary: folder batches that
//! pair subfolders, list one-sided files, skip non-images and refuse to compare
//! nothing; pictures and the HTML report of a batch; `approve`; tolerances; numbered,
//! clipped boxes and the tolerated colour in the pictures. Inputs are the committed
//! fixtures and images generated here.

use image::{Rgb, RgbImage};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[path = "support/run.rs"]
mod run;
use run::spotdiff;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Pixel method: no backbone to load, the same boxes on these fixtures.
const PIXEL: [&str; 2] = ["--method", "pixel"];

/// Two folders as a user has them: a changed screenshot in a subfolder, an unchanged
/// one at the top, a file on each side only, and a text file in both.
fn folders() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("before"), dir.path().join("after"));
    let put = |root: &Path, rel: &str, from: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(fixture(from), p).unwrap();
    };
    put(&a, "chrome/login.png", "two-changes-far-a.png");
    put(&b, "chrome/login.png", "two-changes-far-b.png");
    put(&a, "home.png", "text-aa-same-a.png");
    put(&b, "home.png", "text-aa-same-b.png");
    put(&a, "removed.png", "speck-a.png");
    put(&b, "firefox/added.png", "speck-b.png");
    for root in [&a, &b] {
        std::fs::write(root.join("notes.txt"), "not an image").unwrap();
    }
    (dir, a, b)
}

fn records(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn batch_pairs_subfolders_lists_one_sided_files_and_skips_non_images() {
    let (_dir, a, b) = folders();
    let (sa, sb) = (s(&a), s(&b));
    let mut args = vec!["batch", sa.as_str(), sb.as_str()];
    args.extend(PIXEL);
    let r = spotdiff(&args);
    // The changed screenshot in the subfolder is found: exit 1, not 0.
    assert_eq!(r.code, 1, "{}", r.stderr);
    let recs = records(&r.stdout);
    let names: Vec<&str> = recs.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "chrome/login.png",
            "firefox/added.png",
            "home.png",
            "removed.png"
        ]
    );
    assert_eq!(recs[0]["report"]["verdict"], "different");
    assert_eq!(recs[0]["report"]["boxes"].as_array().unwrap().len(), 2);
    assert_eq!(recs[1]["only"], "b");
    assert_eq!(recs[3]["only"], "a");
    assert!(recs[3]["error"].as_str().unwrap().contains("no such file"));
    assert_eq!(recs[2]["report"]["verdict"], "same");
    // The note on the text file and the summary after the progress bar.
    assert!(
        r.stderr.contains("skipped 1 file that is not an image"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("notes.txt"), "{}", r.stderr);
    let summary = r.stderr.lines().last().unwrap();
    for part in [
        "2 pairs compared",
        "1 different",
        "1 same",
        "0 failed",
        "1 only in A",
        "1 only in B",
    ] {
        assert!(summary.contains(part), "{part}: {summary}");
    }
}

#[test]
fn batch_of_nothing_is_an_error_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let (sa, sb) = (s(&a), s(&b));
    let r = spotdiff(&["batch", &sa, &sb]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let line = r.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.contains(&sa) && line.contains("--allow-empty"),
        "{line}"
    );
    assert!(r.stdout.is_empty());
    let r = spotdiff(&["batch", &sa, &sb, "--allow-empty"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Only files on one side (e.g. a wrong folder): nothing compared either.
    std::fs::copy(fixture("speck-a.png"), a.join("x.png")).unwrap();
    std::fs::copy(fixture("speck-b.png"), b.join("y.png")).unwrap();
    let r = spotdiff(&["batch", &sa, &sb]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("one side only"), "{}", r.stderr);
    // Text files in both folders are skipped, not a failure.
    std::fs::copy(fixture("speck-b.png"), a.join("y.png")).unwrap();
    std::fs::write(a.join("notes.txt"), "x").unwrap();
    std::fs::write(b.join("notes.txt"), "x").unwrap();
    let r = spotdiff(&["batch", &sa, &sb, "--method", "pixel"]);
    assert_eq!(
        r.code, 1,
        "one-sided x.png counts as a difference: {}",
        r.stderr
    );
}

#[test]
fn batch_takes_the_compare_options_and_writes_pictures_under_the_pair_names() {
    let (dir, a, b) = folders();
    let out = dir.path().join("pictures");
    let (sa, sb, so) = (s(&a), s(&b), s(&out));
    let r = spotdiff(&[
        "batch", &sa, &sb, "--method", "pixel", "--out", &so, "--write", "b,mask",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for rel in [
        "chrome/login/b_boxes.png",
        "chrome/login/mask.png",
        "home/mask.png",
    ] {
        assert!(out.join(rel).is_file(), "{rel}");
    }
    assert!(!out.join("chrome/login/heatmap.png").exists());
    assert!(
        !out.join("removed").exists(),
        "no pictures for a one-sided file"
    );
    // The comparison options reach every pair: ignoring all of the login screenshot
    // leaves no box (and so exit 1 only for the one-sided files).
    let r = spotdiff(&[
        "batch",
        &sa,
        &sb,
        "--method",
        "pixel",
        "--ignore",
        "0,0,10000,10000",
    ]);
    let recs = records(&r.stdout);
    assert_eq!(recs[0]["report"]["boxes"].as_array().unwrap().len(), 0);
    let r = spotdiff(&[
        "batch",
        &sa,
        &sb,
        "--method",
        "pixel",
        "--merge-distance",
        "1000",
    ]);
    let recs = records(&r.stdout);
    assert_eq!(
        recs[0]["report"]["boxes"].as_array().unwrap().len(),
        1,
        "merged"
    );
}

#[test]
fn the_review_report_records_absolute_paths_and_approve_copies_b_over_a() {
    let (dir, a, b) = folders();
    let report = dir.path().join("review");
    let (sa, sb, sr) = (s(&a), s(&b), s(&report));
    let r = spotdiff(&["batch", &sa, &sb, "--method", "pixel", "--report", &sr]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("index.html"), "{}", r.stderr);
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    // Offline: nothing is fetched from anywhere (the SVG namespace is a name, not a
    // fetch; the e2e test checks the requests the page makes).
    for bad in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "<link",
        "src=\"/",
        "fetch(",
        "import ",
    ] {
        assert!(!page.contains(bad), "the page holds {bad}");
    }
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let pairs = doc["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 4);
    let login = &pairs[0];
    assert_eq!(login["status"], "different");
    let abs_a = std::fs::canonicalize(a.join("chrome/login.png")).unwrap();
    assert_eq!(login["a"].as_str().unwrap(), s(&abs_a));
    for k in ["a", "b", "heatmap", "thumb"] {
        let f = login["files"][k].as_str().unwrap();
        let img = image::open(report.join(f)).unwrap();
        assert!(img.width() > 0, "{k}");
    }
    assert_eq!(pairs[1]["status"], "only_b");
    assert_eq!(pairs[3]["status"], "only_a");

    // Approving one pair: B's bytes replace A's, and it says so.
    let before_b = std::fs::read(b.join("chrome/login.png")).unwrap();
    let r = spotdiff(&["approve", &sr, "chrome/login.png"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("approved chrome/login.png"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("replaced"), "{}", r.stdout);
    assert_eq!(std::fs::read(a.join("chrome/login.png")).unwrap(), before_b);
    // An unknown pair: one line naming it, exit 2, nothing copied.
    let r = spotdiff(&["approve", &sr, "nope.png"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("nope.png") && r.stderr.lines().count() == 1,
        "{}",
        r.stderr
    );
    // Without names: every differing pair and every new file of B.
    let r = spotdiff(&["approve", &sr]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("firefox/added.png") && r.stdout.contains("new baseline"),
        "{}",
        r.stdout
    );
    assert!(a.join("firefox/added.png").is_file());
    // After approval the folders agree.
    let r = spotdiff(&["batch", &sa, &sb, "--method", "pixel"]);
    let recs = records(&r.stdout);
    assert_eq!(recs[0]["report"]["verdict"], "identical");
    // A folder without a report: one line, exit 2.
    let r = spotdiff(&["approve", &sa]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("report.json"), "{}", r.stderr);
}

#[test]
fn tolerances_decide_the_verdict_and_keep_the_boxes() {
    let (a, b) = (
        fixture("two-changes-far-a.png"),
        fixture("two-changes-far-b.png"),
    );
    let (sa, sb) = (s(&a), s(&b));
    let json = |extra: &[&str]| -> (i32, Value) {
        let mut args = vec![
            "compare",
            sa.as_str(),
            sb.as_str(),
            "--json",
            "--method",
            "pixel",
        ];
        args.extend(extra);
        let r = spotdiff(&args);
        (
            r.code,
            serde_json::from_str(&r.stdout).unwrap_or(Value::Null),
        )
    };
    let (code, plain) = json(&[]);
    assert_eq!(code, 1);
    assert!(plain["tolerance"].is_null());
    let changed: u64 = plain["boxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["changed_pixels"].as_u64().unwrap())
        .sum();
    assert!(changed > 0);
    let n = changed.to_string();
    let (code, within) = json(&["--max-diff-pixels", &n]);
    assert_eq!(code, 0);
    assert_eq!(within["verdict"], "same");
    assert_eq!(
        within["boxes"], plain["boxes"],
        "the boxes are still listed"
    );
    assert_eq!(within["tolerance"]["tolerated"], true);
    assert_eq!(within["tolerance"]["changed_pixels"], changed);
    let fewer = (changed - 1).to_string();
    let (code, beyond) = json(&["--max-diff-pixels", &fewer]);
    assert_eq!(code, 1);
    assert_eq!(beyond["tolerance"]["tolerated"], false);
    // The ratio, and both together (both must hold).
    let (code, _) = json(&["--max-diff-ratio", "0.5"]);
    assert_eq!(code, 0);
    let (code, _) = json(&["--max-diff-ratio", "0.5", "--max-diff-pixels", &fewer]);
    assert_eq!(code, 1);
    let (code, _) = json(&["--max-diff-ratio", "0"]);
    assert_eq!(code, 1);
    let r = spotdiff(&["compare", &sa, &sb, "--max-diff-ratio", "2"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("max-diff-ratio") && r.stderr.lines().count() == 1,
        "{}",
        r.stderr
    );
    // The text summary says why the pair passed.
    let r = spotdiff(&[
        "compare",
        &sa,
        &sb,
        "--method",
        "pixel",
        "--max-diff-pixels",
        &n,
    ]);
    assert!(
        r.stdout.starts_with("same: 2 changed regions"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("within the tolerance"), "{}", r.stdout);
}

#[test]
fn a_box_covering_the_whole_picture_is_drawn_inside_it_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    RgbImage::from_pixel(120, 80, Rgb([250, 250, 250]))
        .save(&a)
        .unwrap();
    RgbImage::from_pixel(120, 80, Rgb([20, 20, 20]))
        .save(&b)
        .unwrap();
    let out = dir.path().join("out");
    let r = spotdiff(&[
        "compare",
        &s(&a),
        &s(&b),
        "--method",
        "pixel",
        "--out",
        &s(&out),
        "--json",
        "--color",
        "#00ff00",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rep: Value = serde_json::from_str(&r.stdout).unwrap();
    let bx = &rep["boxes"][0];
    assert_eq!(rep["boxes"].as_array().unwrap().len(), 1);
    assert_eq!([&bx["x"], &bx["y"], &bx["w"], &bx["h"]], [0, 0, 120, 80]);
    let pic = image::open(out.join("b_boxes.png")).unwrap().to_rgb8();
    let green = |x: u32, y: u32| pic.get_pixel(x, y).0 == [0, 255, 0];
    // The outline along the inside of every edge.
    for (x, y) in [(0, 40), (1, 40), (119, 40), (118, 40), (60, 0), (60, 79)] {
        assert!(green(x, y), "({x}, {y})");
    }
    // The number's tag (inside the top-left corner: no room above or below) holds
    // white digits; B itself has no white.
    let tag_white = (0..16).any(|y| (0..12).any(|x| pic.get_pixel(x, y).0 == [255, 255, 255]));
    assert!(tag_white);
    let side = image::open(out.join("side_by_side.png")).unwrap().to_rgb8();
    assert_eq!(side.get_pixel(0, 40).0, [0, 255, 0]);
    assert_eq!(side.get_pixel(120 + 12, 40).0, [0, 255, 0]);
}

#[test]
fn the_heatmap_shows_tolerated_differences_in_their_own_colour() {
    // Anti-aliased text rendered twice: it differs, but no box is reported.
    let (a, b) = (fixture("text-aa-same-a.png"), fixture("text-aa-same-b.png"));
    let dir = tempfile::tempdir().unwrap();
    let count = |colour: &str| -> usize {
        let out = dir.path().join(colour.trim_start_matches('#'));
        let r = spotdiff(&[
            "compare",
            &s(&a),
            &s(&b),
            "--method",
            "pixel",
            "--out",
            &s(&out),
            "--write",
            "heatmap",
            "--tolerated-color",
            colour,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let heat = image::open(out.join("heatmap.png")).unwrap().to_rgb8();
        heat.pixels()
            .filter(|p| {
                let [r, g, b] = p.0.map(i32::from);
                g > 2 * r + 30 && g > 2 * b + 30
            })
            .count()
    };
    let green = count("#00ff00");
    assert!(green > 20, "{green} tolerated pixels shown");
    assert_eq!(count("#ff00ff"), 0, "the colour is the one asked for");
}

#[test]
fn help_explains_the_new_options() {
    let r = spotdiff(&["compare", "--help"]);
    for o in [
        "--max-diff-pixels",
        "--max-diff-ratio",
        "--tolerated-color",
        "--report",
    ] {
        assert!(r.stdout.contains(o), "compare --help lacks {o}");
    }
    let r = spotdiff(&["batch", "--help"]);
    for o in [
        "--allow-empty",
        "--out",
        "--report",
        "--ignore",
        "--min-area",
        "--merge-distance",
        "--max-diff-pixels",
    ] {
        assert!(r.stdout.contains(o), "batch --help lacks {o}");
    }
    let r = spotdiff(&["approve", "--help"]);
    assert!(r.stdout.contains("REPORT"), "{}", r.stdout);
}

#[test]
fn rank_puts_text_and_icon_changes_below_jpeg_resaves() {
    // Screenshots of a sign-in page rendered in Chromium: the button's text changed
    // ("Sign in" -> "Log in"), the logo's shape changed, and the reference saved as
    // JPEG at quality 85 and 75 (scripts/data/make-rank-fixtures.sh).
    let rank = |p: &str| fixture(&format!("rank/{p}"));
    let (text, icon, q85, q75) = (
        rank("text.png"),
        rank("icon.png"),
        rank("ref-q85.jpg"),
        rank("ref-q75.jpg"),
    );
    let reference = rank("ref.png");
    let (sr, st, si, s75, s85) = (s(&reference), s(&text), s(&icon), s(&q75), s(&q85));
    // With the backbone (as installed; the fused default) and without one.
    let with_deep = spotdiff(&["rank", &sr, &st, &si, &s75, &s85, "--json"]);
    let r = spotdiff(&[
        "rank", &sr, &st, &si, &s75, &s85, "--json", "--model", "none",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(with_deep.code, 0, "{}", with_deep.stderr);
    let order = |out: &str| -> Vec<String> {
        let v: Value = serde_json::from_str(out).unwrap();
        v["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_string())
            .collect()
    };
    let top2: std::collections::BTreeSet<String> =
        order(&with_deep.stdout)[..2].iter().cloned().collect();
    assert_eq!(
        top2,
        [s75.clone(), s85.clone()].into_iter().collect(),
        "{}",
        with_deep.stdout
    );
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let list = v["ranking"].as_array().unwrap();
    let place = |p: &Path| list.iter().position(|e| e["path"] == s(p)).unwrap();
    for resave in [&q85, &q75] {
        for edit in [&text, &icon] {
            assert!(
                place(resave) < place(edit),
                "{} must rank above {}: {}",
                resave.display(),
                edit.display(),
                r.stdout
            );
        }
    }
    // The global scores alone do not separate them: the changed word's SSIM is not
    // below the re-save's, its changed-pixel share is under 1 %.
    let by = |p: &Path| &list[place(p)];
    assert!(
        by(&text)["structural"].as_f64().unwrap()
            >= by(&q75)["structural"].as_f64().unwrap() - 0.001
    );
    assert!(by(&text)["pixel"].as_f64().unwrap() > 0.99);
    assert!(by(&text)["boxes"].as_u64().unwrap() >= 1);
    assert!(by(&text)["changed_area"].as_f64().unwrap() > 0.0);
}
