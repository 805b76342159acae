//! Every real pair in `../shared/realpairs` with ground truth asserted by its source
//! project (see SOURCES.md there). Names say the expected result.

mod common;
use common::*;
use spotdiff::{Method, Verdict};

const LS: &str = "looks-same/test/data/src";

#[test]
fn looks_same_different_has_the_upstream_diff_bounds() {
    let r = pair(&format!("{LS}/ref.png"), &format!("{LS}/different.png"));
    assert_eq!(union(&r.boxes), [0, 10, 49, 39]);
}

#[test]
fn looks_same_unnoticeable_difference_gives_no_box() {
    let r = pair(
        &format!("{LS}/ref.png"),
        &format!("{LS}/different-unnoticable.png"),
    );
    assert!(r.boxes.is_empty(), "{:?}", r.boxes);
    assert_ne!(
        r.verdict,
        Verdict::Identical,
        "the files do differ slightly"
    );
}

#[test]
fn looks_same_one_pixel_diff_is_boxed_exactly() {
    let r = pair(&format!("{LS}/no-caret.png"), &format!("{LS}/1px-diff.png"));
    assert_eq!(r.boxes.len(), 1);
    assert_eq!(corners(&r.boxes[0]), [12, 6, 12, 6]);
}

#[test]
fn looks_same_single_channel_changes_are_found() {
    for c in ["red", "green", "blue"] {
        let r = pair(&format!("{LS}/ref.png"), &format!("{LS}/{c}.png"));
        assert!(r.is_different(), "{c}");
    }
}

#[test]
fn looks_same_bounding_box_areas_differ() {
    let r = pair(
        &format!("{LS}/bounding-box-ref-1.png"),
        &format!("{LS}/bounding-box-ref-2.png"),
    );
    let u = union(&r.boxes);
    // Upstream: the (1,1,4,4) and (5,5,8,8) areas differ.
    assert!(u[0] >= 1 && u[1] >= 1 && u[2] <= 8 && u[3] <= 8, "{u:?}");
}

#[test]
fn looks_same_button_colour_change_is_one_box() {
    let r = pair(
        "looks-same/benchmark/fixtures/reference.png",
        "looks-same/benchmark/fixtures/actual.png",
    );
    assert_eq!(r.boxes.len(), 1);
    assert!(
        near(corners(&r.boxes[0]), [48, 568, 847, 639], 2),
        "{:?}",
        r.boxes
    );
}

#[test]
fn resemble_people_boxes_lie_within_upstream_bounds() {
    let r = pair(
        "resemblejs/demoassets/People.jpg",
        "resemblejs/demoassets/People2.jpg",
    );
    let u = union(&r.boxes);
    // Upstream diffBounds: left 22, top 58, right 450, bottom 431.
    assert!(
        u[0] >= 20 && u[1] >= 56 && u[2] <= 452 && u[3] <= 433,
        "{u:?}"
    );
    // The two recoloured clothes are the largest boxes.
    let big = r.boxes.iter().filter(|b| b.area > 5000).count();
    assert!(big >= 2, "{:?}", r.boxes);
}

#[test]
fn resemble_ghost_boxes_match_upstream_bounds() {
    let r = pair(
        "resemblejs/demoassets/ghost1.png",
        "resemblejs/demoassets/ghost2.png",
    );
    // Upstream diffBounds: left 90, top 107, right 157, bottom 138 (eyes and mouth).
    assert!(
        near(union(&r.boxes), [90, 107, 157, 138], 2),
        "{:?}",
        r.boxes
    );
    assert_eq!(r.boxes.len(), 3, "two eyes and a mouth: {:?}", r.boxes);
}

#[test]
fn resemble_antialiased_text_gives_no_box() {
    let r = pair(
        "resemblejs/nodejs-tests/assets/text.png",
        "resemblejs/nodejs-tests/assets/textAa.png",
    );
    assert!(r.boxes.is_empty(), "{:?}", r.boxes);
}

#[test]
fn odiff_orange_boxes_span_the_upstream_rectangle() {
    let r = pair(
        "odiff/test/png/orange.png",
        "odiff/test/png/orange_changed.png",
    );
    // Upstream: x1=28, y1=37, x2=294, y2=191; three measured components.
    assert!(
        near(union(&r.boxes), [28, 37, 294, 191], 6),
        "{:?}",
        r.boxes
    );
    // Two of the components ("Or" and "ange" of one word) lie 11 px apart, within the
    // merge distance: one box or two.
    assert!((2..=3).contains(&r.boxes.len()), "{:?}", r.boxes);
}

#[test]
fn odiff_orange_changes_inside_ignore_regions_give_no_box() {
    use spotdiff::{Options, Rect};
    let options = Options {
        ignore: vec![
            Rect {
                x: 150,
                y: 30,
                w: 161,
                h: 76,
            },
            Rect {
                x: 20,
                y: 175,
                w: 86,
                h: 26,
            },
        ],
        ..Options::default()
    };
    let r = pair_with(
        "odiff/test/png/orange.png",
        "odiff/test/png/orange_changed.png",
        &options,
    );
    assert!(r.boxes.is_empty(), "{:?}", r.boxes);
}

#[test]
fn odiff_format_pairs_are_found() {
    for (a, b) in [
        ("odiff/test/jpg/tiger.jpg", "odiff/test/jpg/tiger-2.jpg"),
        ("odiff/test/bmp/clouds.bmp", "odiff/test/bmp/clouds-2.bmp"),
        (
            "odiff/test/tiff/laptops.tiff",
            "odiff/test/tiff/laptops-2.tiff",
        ),
    ] {
        let r = pair(a, b);
        assert_eq!(r.boxes.len(), 1, "{a}: one change, one box: {:?}", r.boxes);
    }
}

#[test]
fn odiff_alpha_encodings_are_equal() {
    let r = pair(
        "odiff/test/png/extreme-alpha.png",
        "odiff/test/png/extreme-alpha-1.png",
    );
    assert!(r.boxes.is_empty());
}

#[test]
fn pyimagesearch_logo_removal_is_one_box() {
    let r = pair(
        "tiepta-check-image/images/original_01.png",
        "pyimagesearch_image_diff/images/modified_01.png",
    );
    assert_eq!(r.boxes.len(), 1);
    // The logo's measured box; the edit also repainted the card's textured print a
    // few pixels around it (changes of 7-20 levels), which the box covers.
    let b = corners(&r.boxes[0]);
    assert!(iou(b, [362, 215, 466, 279]) > 0.85, "{:?}", r.boxes);
    assert!(contains(b, [362, 215, 466, 279], 2), "{:?}", r.boxes);
}

#[test]
fn pyimagesearch_variant_also_finds_the_changed_digit() {
    let r = pair(
        "pyimagesearch_image_diff/images/original_01.png",
        "pyimagesearch_image_diff/images/modified_01.png",
    );
    assert_eq!(r.boxes.len(), 2);
    // Measured (7 px dilation): 218,169,241,192. The edit painted the scanned
    // (textured) background around the digit flat (pixels changed by 7-20 levels),
    // a few pixels beyond the measured box: the box covers the digit and that patch,
    // and stays within twice the measured area.
    let digit = r.boxes.iter().map(corners).find(|c| c[0] < 300).unwrap();
    assert!(contains(digit, [218, 169, 241, 192], 2), "{digit:?}");
    let area = |c: [u32; 4]| (c[2] - c[0] + 1) * (c[3] - c[1] + 1);
    assert!(area(digit) <= 2 * area([218, 169, 241, 192]), "{digit:?}");
}

/// True when box `outer` (inclusive corners) holds `inner` to within `tol` px.
fn contains(outer: [u32; 4], inner: [u32; 4], tol: u32) -> bool {
    outer[0] <= inner[0] + tol
        && outer[1] <= inner[1] + tol
        && outer[2] + tol >= inner[2]
        && outer[3] + tol >= inner[3]
}

/// Every measured component has a box with IoU > 0.5, and there are no other boxes.
fn assert_boxes(r: &spotdiff::Report, truth: &[[u32; 4]]) {
    for t in truth {
        assert!(
            r.boxes.iter().any(|b| iou(corners(b), *t) > 0.5),
            "missing {t:?} in {:?}",
            r.boxes
        );
    }
    assert_eq!(r.boxes.len(), truth.len(), "{:?}", r.boxes);
}

#[test]
fn pyimagesearch_card_chip_and_name_are_boxed() {
    let p = "pyimagesearch_image_diff/images";
    let r = pair(
        &format!("{p}/original_02.png"),
        &format!("{p}/modified_02.png"),
    );
    assert_boxes(
        &r,
        &[[41, 87, 96, 136], [53, 261, 78, 277], [97, 261, 181, 277]],
    );
}

#[test]
fn pyimagesearch_cheque_edits_are_boxed() {
    let p = "pyimagesearch_image_diff/images";
    let r = pair(
        &format!("{p}/original_03.png"),
        &format!("{p}/modified_03.png"),
    );
    assert_boxes(
        &r,
        &[
            [525, 30, 559, 43],
            [127, 47, 261, 55],
            [548, 70, 553, 85],
            [477, 190, 532, 221],
            [334, 242, 342, 250],
        ],
    );
}

#[test]
fn reg_cli_changed_sample_differs_and_unchanged_is_identical() {
    let r = pair(
        "reg-cli/sample/expected/sample0.png",
        "reg-cli/sample/actual/sample0.png",
    );
    assert!(r.is_different());
    // Measured: header text (181,173,276,235) and the selected day (380,192,456,225).
    assert!(r
        .boxes
        .iter()
        .any(|b| iou(corners(b), [380, 192, 456, 225]) > 0.8));
    let u = union(&r.boxes);
    assert!(near(u, [181, 173, 456, 235], 3), "{u:?}");
    let r = pair(
        "reg-cli/sample/expected/sample1.png",
        "reg-cli/sample/actual/sample1.png",
    );
    assert_eq!(r.verdict, Verdict::Identical);
}

#[test]
fn img_diff_js_text_change_is_found_and_self_compare_is_identical() {
    let r = pair(
        "img-diff-js/test-images/expected.png",
        "img-diff-js/test-images/actual.png",
    );
    assert!(r.is_different());
    let r = pair(
        "img-diff-js/test-images/expected.png",
        "img-diff-js/test-images/expected.png",
    );
    assert_eq!(r.verdict, Verdict::Identical);
    assert_eq!(r.scores.ssim, 1.0);
}

#[test]
fn argos_checkerboards() {
    let a = "argos-image-difference/test/test-files";
    assert!(pair(&format!("{a}/checkerboard.png"), &format!("{a}/white.png")).is_different());
    assert!(pair(
        &format!("{a}/checkerboard.png"),
        &format!("{a}/checkerboard-transparent.png")
    )
    .is_different());
    let same = pair(
        &format!("{a}/checkerboard.png"),
        &format!("{a}/checkerboard.png"),
    );
    assert_eq!(same.verdict, Verdict::Identical);
}

#[test]
fn the_change_model_boxes_each_reshaded_section_even_when_registering() {
    // Two page sections' backgrounds change by up to 16 levels (ΔE 5.6) over their
    // whole width: visible, coherent changes, each its own box. With registration on,
    // a tone correction fitted to the reshaded sections would move the 60 % of the
    // page that agrees to the level (and leave stray parts of the sections boxed):
    // it is refused, nothing is corrected.
    let r = pair(
        "argos-image-difference/test/benchmark/base.png",
        "argos-image-difference/test/benchmark/compare.png",
    );
    let boxes: Vec<[u32; 4]> = r.boxes.iter().map(corners).collect();
    assert_eq!(boxes.len(), 2, "{boxes:?}");
    assert!(near(boxes[0], [0, 522, 1424, 707], 2), "{boxes:?}");
    assert!(near(boxes[1], [0, 894, 1424, 1071], 2), "{boxes:?}");
    assert!(r
        .registration
        .as_ref()
        .is_none_or(|g| !g.photometric.applied));
}

fn playwright_pairs(kind: &str) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
    let root = realpairs()
        .join("playwright-image-tools/tests/image_tools/fixtures")
        .join(kind);
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix("-expected.png") {
                out.push((f.clone(), dir.join(format!("{stem}-actual.png"))));
            }
        }
    }
    out.sort();
    assert!(out.len() >= 7, "found only {} {kind} pairs", out.len());
    out
}

#[test]
fn playwright_should_match_pairs_give_zero_boxes() {
    for (e, a) in playwright_pairs("should-match") {
        for m in [Method::Fused, Method::Pixel, Method::Ssim] {
            let r = run_with(&open(&e), &open(&a), &method(m));
            assert!(r.boxes.is_empty(), "{} ({m:?}): {:?}", e.display(), r.boxes);
        }
    }
}

#[test]
fn playwright_should_fail_pairs_give_at_least_one_box() {
    for (e, a) in playwright_pairs("should-fail") {
        let name = e.display().to_string();
        let r = run(&open(&e), &open(&a));
        if name.contains("julia-ssim-trap") {
            // White against a uniform light grey (ΔE 2.7 everywhere): a tone change,
            // reported as a global finding that makes the pair different, never a box.
            assert!(r.boxes.is_empty(), "{:?}", r.boxes);
            assert!(r.is_different());
            assert!(
                r.global.iter().any(|g| g.starts_with("tone changed")),
                "{:?}",
                r.global
            );
        } else {
            assert!(r.is_different(), "{name}");
        }
    }
}

#[test]
fn backstop_services_capture_barely_changes() {
    let b = "backstopjs/compare/output";
    let f = "backstop_default_BackstopJS_Services_0_services_0_tablet.png";
    let r = pair(
        &format!("{b}/bitmaps_reference/{f}"),
        &format!("{b}/bitmaps_test/20170924-181906/{f}"),
    );
    // Upstream: 0.08 % mismatch, a pass under its 0.1 % threshold. Measured: one box,
    // 0.102 % (the count includes the faint rim that SSIM supports).
    assert_eq!(r.boxes.len(), 1, "{:?}", r.boxes);
    assert!(
        r.scores.changed_pixel_ratio < 0.0011,
        "{}",
        r.scores.changed_pixel_ratio
    );
}

/// DeepPCB: defect boxes (x1 y1 x2 y2 type) of 22 template/test pairs. DeepPCB's
/// annotations are loose (several pixels of margin around each defect), so a truth
/// box counts as found when a predicted box has IoU ≥ 0.33 with it (DeepPCB's own
/// criterion) or lies at least half inside it.
fn deeppcb_scores(m: Method) -> (f64, f64) {
    deeppcb_scores_with(&method(m), &format!("{m:?}"))
}

fn deeppcb_scores_with(options: &spotdiff::Options, name: &str) -> (f64, f64) {
    let root = realpairs().join("deeppcb/PCBData");
    let (mut found, mut truths, mut good, mut preds) = (0, 0, 0, 0);
    let mut temps = Vec::new();
    for g in std::fs::read_dir(&root).unwrap() {
        let g = g.unwrap().path();
        for sub in std::fs::read_dir(&g).unwrap() {
            let sub = sub.unwrap().path();
            if sub.is_dir() && !sub.to_string_lossy().ends_with("_not") {
                for f in std::fs::read_dir(&sub).unwrap() {
                    let f = f.unwrap().path();
                    if f.to_string_lossy().ends_with("_temp.jpg") {
                        temps.push(f);
                    }
                }
            }
        }
    }
    temps.sort();
    assert_eq!(temps.len(), 22);
    let matches = |p: [u32; 4], t: [u32; 4]| {
        let ix = (p[2].min(t[2]) as i64 - p[0].max(t[0]) as i64 + 1).max(0);
        let iy = (p[3].min(t[3]) as i64 - p[1].max(t[1]) as i64 + 1).max(0);
        let parea = ((p[2] - p[0] + 1) * (p[3] - p[1] + 1)) as i64;
        iou(p, t) >= 0.33 || 2 * ix * iy >= parea
    };
    for temp in temps {
        let test = temp.to_string_lossy().replace("_temp.jpg", "_test.jpg");
        let id = temp
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("_temp.jpg", "");
        let dir = temp.parent().unwrap();
        let ann = dir.with_file_name(format!(
            "{}_not",
            dir.file_name().unwrap().to_string_lossy()
        ));
        let truth: Vec<[u32; 4]> = std::fs::read_to_string(ann.join(format!("{id}.txt")))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Vec<u32> = l
                    .split_whitespace()
                    .take(4)
                    .map(|n| n.parse().unwrap())
                    .collect();
                [v[0], v[1], v[2], v[3]]
            })
            .collect();
        let r = run_with(&open(&temp), &open(std::path::Path::new(&test)), options);
        let pred: Vec<[u32; 4]> = r.boxes.iter().map(corners).collect();
        found += truth
            .iter()
            .filter(|t| pred.iter().any(|p| matches(*p, **t)))
            .count();
        good += pred
            .iter()
            .filter(|p| truth.iter().any(|t| matches(**p, *t)))
            .count();
        truths += truth.len();
        preds += pred.len();
    }
    let recall = found as f64 / truths as f64;
    let precision = good as f64 / preds.max(1) as f64;
    println!("DeepPCB {name}: recall {recall:.3}, precision {precision:.3} ({truths} defects, {preds} boxes)");
    (recall, precision)
}

/// DeepPCB under the change model (registered: several test scans lie 2-10 px off
/// their templates). Etched edges wander by a pixel or two, both ways along one edge
/// (the move test's reach follows the measured edge jitter); the scans are almost all
/// black or white, and pixels clipped in both images are left out of the noise
/// estimate (clipping hides the JPEG noise the rest carries). Measured: recall 0.964,
/// precision 0.789 (the aim: 0.95 at 0.9; the former rule-based detector,
/// with its ±3 px tolerance: 0.921 / 0.806).
#[test]
fn deeppcb_defects_are_found_by_the_pixel_method() {
    let (recall, precision) = deeppcb_scores(Method::Pixel);
    assert!(recall >= 0.95, "recall {recall:.3}");
    assert!(precision >= 0.75, "precision {precision:.3}");
}

#[test]
fn deeppcb_defects_are_found_by_the_fused_default() {
    let (recall, precision) = deeppcb_scores(Method::Fused);
    assert!(recall >= 0.95, "recall {recall:.3}");
    assert!(precision >= 0.75, "precision {precision:.3}");
}

#[test]
fn the_change_model_boxes_whole_painted_patches_but_not_the_faint_dust_around_them() {
    // The card edits painted patches over the scanned background: measured here, the
    // pixels changed by more than 6 levels span these boxes (a darker patch behind
    // the new digit is visible in A), but for a 5 px speck beside the logo's patch.
    // The threshold-32 boxes are inside them.
    let card = |a: &str| {
        pair_with(
            a,
            "pyimagesearch_image_diff/images/modified_01.png",
            &spotdiff::Options::default(),
        )
    };
    let r = card("pyimagesearch_image_diff/images/original_01.png");
    let boxes: Vec<[u32; 4]> = r.boxes.iter().map(corners).collect();
    assert_eq!(boxes.len(), 2, "{boxes:?}");
    assert!(
        boxes.iter().any(|b| near(*b, [218, 165, 247, 200], 2)),
        "{boxes:?}"
    );
    assert!(
        boxes.iter().any(|b| near(*b, [360, 211, 471, 279], 3)),
        "{boxes:?}"
    );
    // The logo's removal leaves the card a few levels lighter around it (ΔE under
    // 2.3 on average): part of no box.
    let r = card("tiepta-check-image/images/original_01.png");
    assert_eq!(r.boxes.len(), 1, "{:?}", r.boxes);
    assert!(
        near(corners(&r.boxes[0]), [360, 211, 471, 279], 3),
        "{:?}",
        r.boxes
    );
    // JPEG block errors of 1-3 levels on the gradient behind the people: no box
    // reaches the picture's sides (upstream bounds 22..450).
    let r = pair_with(
        "resemblejs/demoassets/People.jpg",
        "resemblejs/demoassets/People2.jpg",
        &spotdiff::Options::default(),
    );
    let u = union(&r.boxes);
    assert!(
        u[0] >= 20 && u[1] >= 56 && u[2] <= 452 && u[3] <= 433,
        "{u:?}"
    );
}

#[test]
fn the_change_model_passes_webkit_grid_artifacts_and_fails_every_should_fail_pair() {
    // WebKit darkens grid-line crossings by 25 levels (ΔE 9.4, 1 or 4 px): under the
    // 4.5 × JND a change smaller than the minimum area must reach.
    for (e, a) in playwright_pairs("should-match") {
        let r = run_with(&open(&e), &open(&a), &spotdiff::Options::default());
        assert!(r.boxes.is_empty(), "{}: {:?}", e.display(), r.boxes);
    }
    for (e, a) in playwright_pairs("should-fail") {
        let r = run_with(&open(&e), &open(&a), &spotdiff::Options::default());
        assert!(r.is_different(), "{}", e.display());
    }
}

#[test]
fn the_change_model_finds_changes_over_half_of_a_small_picture() {
    // looks-same's single-channel changes recolour 52 % of a 50×50 picture: the first
    // noise estimate leaves out what changed coherently, or the change passes for
    // noise and raises the floor above itself.
    let model = spotdiff::Options::default();
    for c in ["red", "green", "blue"] {
        let r = pair_with(&format!("{LS}/ref.png"), &format!("{LS}/{c}.png"), &model);
        assert_eq!(r.boxes.len(), 1, "{c}: {:?}", r.boxes);
        assert_eq!(corners(&r.boxes[0]), [0, 0, 49, 49], "{c}");
    }
    let r = pair_with(
        &format!("{LS}/bounding-box-ref-1.png"),
        &format!("{LS}/bounding-box-ref-2.png"),
        &model,
    );
    // Upstream: the (1,1,4,4) and (5,5,8,8) areas differ.
    assert_eq!(union(&r.boxes), [1, 1, 8, 8], "{:?}", r.boxes);
}
