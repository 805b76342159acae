//! The pipeline with registration (issue 11): B translated with padded edges, cropped
//! and rescaled, rotated by 1° and 3°, tilted by 2 %, at half size, brighter, with a
//! vignette — each with one pasted object (`tests/fixtures/registration`, made by
//! `scripts/data/make-registration-pairs.py`). The default finds exactly the pasted
//! object (one box, IoU ≥ 0.5 in A's coordinates) and nothing on the same pair without
//! it; the global change is a finding, not a box, and makes the verdict `different`
//! unless asked to ignore it.

mod common;
use common::*;
use image::RgbaImage;
use serde_json::Value;
use spotdiff::{AlignMode, GlobalChange, Image, Options, Report, Verdict};

/// The default options with registration on every pair.
fn aligned() -> Options {
    Options {
        align: AlignMode::Auto,
        ..Options::default()
    }
}

fn run(a: &Image, b: &Image) -> Report {
    run_with(a, b, &aligned())
}

fn dir() -> std::path::PathBuf {
    repo("tests/fixtures/registration")
}

fn img(name: &str) -> Image {
    open(&dir().join(name))
}

fn truth() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("truth.json")).unwrap()).unwrap()
}

fn rect(v: &Value) -> [u32; 4] {
    let n: Vec<u32> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect();
    [n[0], n[1], n[2], n[3]]
}

fn pasted(b: &Image, patch: &RgbaImage, at: [u32; 4]) -> Image {
    let mut out = b.rgba.clone();
    let patch = if patch.dimensions() == (at[2], at[3]) {
        patch.clone()
    } else {
        image::imageops::resize(patch, at[2], at[3], image::imageops::FilterType::Triangle)
    };
    image::imageops::overlay(&mut out, &patch, i64::from(at[0]), i64::from(at[1]));
    Image::from_rgba("b-pasted", out)
}

/// `None` when the report has exactly one box, on the case's pasted object (IoU ≥ 0.5
/// in A's coordinates); else what went wrong.
fn one_box_on_the_paste(name: &str, case: &Value, r: &Report) -> Option<String> {
    let want = rect(&case["paste_a"]);
    let want = xywh(want[0], want[1], want[2], want[3]);
    match &r.boxes[..] {
        [one] if iou(corners(one), want) >= 0.5 => None,
        other => Some(format!(
            "{name}: want one box on {want:?}, got {:?}",
            other.iter().map(corners).collect::<Vec<_>>()
        )),
    }
}

#[test]
fn every_registered_case_boxes_the_pasted_object_and_nothing_else() {
    let t = truth();
    let patch = img(t["patch"].as_str().unwrap()).rgba;
    let mut failures = Vec::new();
    for (name, c) in t["cases"].as_object().unwrap() {
        let a = img(c["a"].as_str().unwrap());
        let b = img(c["b"].as_str().unwrap());
        let clean = run(&a, &b);
        if !clean.boxes.is_empty() {
            failures.push(format!(
                "{name}: boxes without the paste: {:?}",
                clean.boxes
            ));
        }
        if clean.verdict != Verdict::Different || clean.global.is_empty() {
            failures.push(format!(
                "{name}: the global change is not reported ({:?}, {:?})",
                clean.verdict, clean.global
            ));
        }
        let with = run(&a, &pasted(&b, &patch, rect(&c["paste_b"])));
        failures.extend(one_box_on_the_paste(name, c, &with));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_scrolled_screenshot_boxes_the_changed_word_only() {
    let t = truth();
    let s = &t["scroll"];
    let r = run(
        &img(s["a"].as_str().unwrap()),
        &img(s["b"].as_str().unwrap()),
    );
    let want = rect(&s["edit_a"]);
    let want = xywh(want[0], want[1], want[2], want[3]);
    assert_eq!(r.boxes.len(), 1, "{:?}", r.boxes);
    assert!(iou(corners(&r.boxes[0]), want) >= 0.5, "{:?}", r.boxes);
    let reg = r.registration.as_ref().expect("registered");
    assert_eq!(reg.params.dy, 40.0);
    assert!(
        r.global.iter().any(|g| g.contains("shifted by (0, 40)")),
        "{:?}",
        r.global
    );
}

#[test]
fn a_global_change_can_be_ignored_and_is_never_boxed() {
    let t = truth();
    let c = &t["cases"]["bright"];
    let (a, b) = (img(c["a"].as_str().unwrap()), img(c["b"].as_str().unwrap()));
    let o = Options {
        global_change: GlobalChange::Ignore,
        ..aligned()
    };
    let r = run_with(&a, &b, &o);
    assert_eq!(r.verdict, Verdict::Same, "{:?}", r.global);
    assert!(r.boxes.is_empty());
    assert!(
        r.global.iter().any(|g| g.starts_with("tone changed")),
        "{:?}",
        r.global
    );
}

#[test]
fn unrelated_photos_fall_back_and_never_error() {
    let t = truth();
    let u = &t["unrelated"];
    let r = run(
        &img(u["a"].as_str().unwrap()),
        &img(u["b"].as_str().unwrap()),
    );
    assert_eq!(r.verdict, Verdict::Different);
    assert!(!r.boxes.is_empty());
}

#[test]
fn an_aligned_pair_registers_as_identity_with_nothing_global() {
    // The demo pair: same framing, four local edits.
    let r = run(
        &open(&repo("examples/before.png")),
        &open(&repo("examples/after.png")),
    );
    let reg = r.registration.as_ref().expect("registration ran");
    assert_eq!(
        serde_json::to_value(reg.model).unwrap(),
        Value::from("identity")
    );
    assert!(r.global.is_empty(), "{:?}", r.global);
    assert_eq!(r.boxes.len(), 4);
}

/// The pictures of B show B as given (not resampled onto A), each box mapped onto it:
/// the outline drawn in `b_boxes.png` surrounds the object pasted into B.
#[test]
fn pictures_of_b_show_b_as_given_with_the_boxes_mapped_onto_it() {
    use spotdiff::render::{render, Picture, Style};
    let t = truth();
    let patch = img(t["patch"].as_str().unwrap()).rgba;
    let style = Style::default();
    for name in ["shift", "crop10", "rot3", "scale05"] {
        let c = &t["cases"][name];
        let a = img(c["a"].as_str().unwrap());
        let at = rect(&c["paste_b"]);
        let b = pasted(&img(c["b"].as_str().unwrap()), &patch, at);
        let cmp = spotdiff::compare(&a, &b, &aligned()).unwrap();
        assert_eq!(cmp.report.boxes.len(), 1, "{name}: {:?}", cmp.report.boxes);
        let pic = render(&cmp, Picture::B, &style).to_rgba8();
        assert_eq!(pic.dimensions(), b.rgba.dimensions(), "{name}: B as given");
        // The outline's pixels, in the box colour.
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for (x, y, p) in pic.enumerate_pixels() {
            if p.0[..3] == style.color {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
        assert!(x0 <= x1, "{name}: no outline drawn");
        let want = xywh(at[0], at[1], at[2], at[3]);
        let got = [x0, y0, x1, y1];
        assert!(
            iou(got, want) >= 0.5,
            "{name}: outline {got:?}, pasted at {want:?}"
        );
        let side = render(&cmp, Picture::Side, &style).to_rgba8();
        let (aw, ah) = a.rgba.dimensions();
        let (bw, bh) = b.rgba.dimensions();
        assert_eq!(side.dimensions(), (aw + 12 + bw, ah.max(bh)), "{name}");
    }
}
