//! End-to-end tests of the `spotdiff` binary: exit codes, JSON, pictures, bad input,
//! formats and options. Inputs are small images generated here with the `image`
//! crate (written into a temporary folder), the committed pairs in `tests/fixtures`
//! and the demo pair in `examples/`.

mod common;

use common::{crc32, png_bytes, repo};
use image::{DynamicImage, GenericImageView, Rgba, RgbaImage};
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// What one run of the binary gave back.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `spotdiff` with `args`.
fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_env(args, &[])
}

/// Runs `spotdiff` with `args` and extra environment variables.
fn run_env<I, S>(args: I, env: &[(&str, &OsStr)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(env!("CARGO_BIN_EXE_spotdiff"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .output()
        .expect("spawn spotdiff");
    Run {
        code: out.status.code().expect("spotdiff exited by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `spotdiff compare A B EXTRA...`.
fn compare(a: &Path, b: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<&OsStr> = vec!["compare".as_ref(), a.as_os_str(), b.as_os_str()];
    args.extend(extra.iter().map(OsStr::new));
    run(args)
}

/// `compare ... --json`, checked to have exited 0 or 1, parsed.
fn compare_json(a: &Path, b: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let r = compare(a, b, &args);
    assert!(
        r.code == 0 || r.code == 1,
        "exit {}; stderr: {}",
        r.code,
        r.stderr
    );
    let v: Value = serde_json::from_str(&r.stdout).expect("stdout is JSON");
    (r.code, v)
}

fn tmp() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Sorted names of everything in `dir` (hidden files included); empty if it is absent.
fn entries(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The command failed cleanly: exit 2, one `spotdiff: error:` line naming `what`,
/// no panic.
fn assert_error(r: &Run, what: &str) {
    assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("panicked"), "panic: {}", r.stderr);
    assert_eq!(
        r.stderr.lines().count(),
        1,
        "stderr is not one line: {:?}",
        r.stderr
    );
    assert!(
        r.stderr.starts_with("spotdiff: error:"),
        "stderr: {:?}",
        r.stderr
    );
    assert!(
        r.stderr.contains(what),
        "stderr does not mention {what:?}: {:?}",
        r.stderr
    );
}

/// The bad input at `bad` (compared, as A and as B, against a good image of the same
/// size, 64x64) is refused on its own account, and nothing is written to the `--out`
/// folder given. Returns the run for further checks.
fn assert_input_refused(bad: &Path) -> Run {
    let dir = tmp();
    let good = dir.path().join("good.png");
    save(&picture(64, 64), &good);
    let out = dir.path().join("out");
    let out_s = out.to_str().unwrap();
    for (a, b) in [(good.as_path(), bad), (bad, good.as_path())] {
        let r = compare(a, b, &["--out", out_s]);
        assert_error(&r, bad.to_str().unwrap());
        assert!(!r.stderr.contains("differ in size"), "{}", r.stderr);
        assert_eq!(entries(&out), Vec::<String>::new(), "files left in --out");
    }
    compare(&good, bad, &[])
}

/// A small opaque picture with a handful of flat colours (few enough for an exact GIF
/// palette) and plenty of edges.
fn picture(w: u32, h: u32) -> RgbaImage {
    const PALETTE: [[u8; 3]; 7] = [
        [240, 240, 235],
        [30, 60, 200],
        [220, 40, 40],
        [40, 160, 70],
        [250, 200, 30],
        [90, 90, 90],
        [20, 20, 20],
    ];
    RgbaImage::from_fn(w, h, |x, y| {
        let c = PALETTE[((x / 6 + (y / 5) * 3 + (x + y) / 11) % 7) as usize];
        Rgba([c[0], c[1], c[2], 255])
    })
}

/// Deterministic noise: compresses badly, so a PNG of it has a large IDAT.
fn noise(w: u32, h: u32) -> RgbaImage {
    let mut s: u32 = 0x2545_f491;
    RgbaImage::from_fn(w, h, |_, _| {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        let [r, g, b, _] = s.to_le_bytes();
        Rgba([r, g, b, 255])
    })
}

/// `img` with the rectangle (x, y, w, h) painted `color`.
fn with_patch(img: &RgbaImage, (x, y, w, h): (u32, u32, u32, u32), color: [u8; 4]) -> RgbaImage {
    let mut out = img.clone();
    for yy in y..y + h {
        for xx in x..x + w {
            out.put_pixel(xx, yy, Rgba(color));
        }
    }
    out
}

/// Saves in the format the extension names; opaque images are saved as RGB.
fn save(img: &RgbaImage, path: &Path) {
    let dynamic = if img.pixels().all(|p| p[3] == 255) {
        DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(img.clone()).to_rgb8())
    } else {
        DynamicImage::ImageRgba8(img.clone())
    };
    dynamic.save(path).expect("save test image");
}

/// One PNG chunk with a correct CRC.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&out[4..]).to_be_bytes());
    out
}

/// A PNG file (8-bit RGBA) with the given IHDR size and IDAT payload, every CRC correct.
fn crafted_png(w: u32, h: u32, idat: &[u8]) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(b"IDAT", idat));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

/// The boxes of a JSON report as (x, y, w, h).
fn boxes(report: &Value) -> Vec<(u32, u32, u32, u32)> {
    report["boxes"]
        .as_array()
        .expect("boxes is an array")
        .iter()
        .map(|b| {
            let n = |k: &str| b[k].as_u64().unwrap_or_else(|| panic!("box.{k}")) as u32;
            (n("x"), n("y"), n("w"), n("h"))
        })
        .collect()
}

fn inside(x: u32, y: u32, (bx, by, bw, bh): (u32, u32, u32, u32)) -> bool {
    x >= bx && y >= by && x < bx + bw && y < by + bh
}

/// White pixels of a binary mask inside each box; panics on a white pixel outside
/// every box or a gray pixel.
fn white_per_box(mask: &image::GrayImage, list: &[(u32, u32, u32, u32)]) -> Vec<u64> {
    let mut white_in = vec![0u64; list.len()];
    for (x, y, p) in mask.enumerate_pixels() {
        assert!(p[0] == 0 || p[0] == 255, "mask is not binary at ({x}, {y})");
        if p[0] == 255 {
            match list.iter().position(|&b| inside(x, y, b)) {
                Some(i) => white_in[i] += 1,
                None => panic!("white mask pixel ({x}, {y}) outside every box"),
            }
        }
    }
    white_in
}

/// A 64x48 pair that differs only in the 10x8 patch at (20, 16).
fn patched_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let a = picture(64, 48);
    let b = with_patch(&a, (20, 16, 10, 8), [255, 255, 255, 255]);
    let (pa, pb) = (dir.join("a.png"), dir.join("b.png"));
    save(&a, &pa);
    save(&b, &pb);
    (pa, pb)
}

const ALL_PICTURES: [&str; 6] = [
    "a_boxes.png",
    "b_boxes.png",
    "filled.png",
    "heatmap.png",
    "mask.png",
    "side_by_side.png",
];

// ---------------------------------------------------------------------------------
// 1. Exit codes
// ---------------------------------------------------------------------------------

#[test]
fn identical_files_exit_0_and_say_identical() {
    let p = repo("examples/before.png");
    let r = compare(&p, &p, &[]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert!(r.stdout.starts_with("identical"), "stdout: {}", r.stdout);
    assert_eq!(r.stderr, "");
}

#[test]
fn demo_pair_exits_1_and_says_different() {
    let r = compare(
        &repo("examples/before.png"),
        &repo("examples/after.png"),
        &[],
    );
    assert_eq!(r.code, 1, "stderr: {}", r.stderr);
    assert!(r.stdout.starts_with("different"), "stdout: {}", r.stdout);
}

#[test]
fn below_threshold_changes_exit_0_and_say_same() {
    // `speck`: three single pixels changed by ΔE < 5.
    let r = compare(
        &repo("tests/fixtures/speck-a.png"),
        &repo("tests/fixtures/speck-b.png"),
        &[],
    );
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("same"), "stdout: {}", r.stdout);
}

#[test]
fn fixture_pairs_exit_as_truth_json_expects() {
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("tests/fixtures/truth.json")).unwrap())
            .unwrap();
    for pair in truth.as_array().unwrap() {
        let dir = repo("tests/fixtures");
        let a = dir.join(pair["a"].as_str().unwrap());
        let b = dir.join(pair["b"].as_str().unwrap());
        let want = match pair["expect"].as_str().unwrap() {
            "same" => 0,
            _ => 1,
        };
        let r = compare(&a, &b, &[]);
        assert_eq!(r.code, want, "{}: {}{}", pair["name"], r.stdout, r.stderr);
    }
}

#[test]
fn missing_file_exits_2() {
    let r = compare(
        &repo("examples/before.png"),
        Path::new("no/such/file.png"),
        &[],
    );
    assert_error(&r, "no/such/file.png");
}

#[test]
fn closed_stdout_does_not_panic() {
    // `spotdiff compare ... | head -0`: the reader is gone before anything is printed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_spotdiff"))
        .arg("compare")
        .arg(repo("examples/before.png"))
        .arg(repo("examples/after.png"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
}

// ---------------------------------------------------------------------------------
// 2. JSON
// ---------------------------------------------------------------------------------

#[test]
fn json_report_has_the_documented_fields() {
    let (code, v) = compare_json(
        &repo("examples/before.png"),
        &repo("examples/after.png"),
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(v["schema"], 1);
    assert_eq!(v["verdict"], "different");
    let ssim = v["scores"]["ssim"].as_f64().expect("scores.ssim");
    assert!(ssim > 0.0 && ssim < 1.0, "ssim {ssim}");
    let ratio = v["scores"]["changed_pixel_ratio"]
        .as_f64()
        .expect("scores.changed_pixel_ratio");
    assert!(ratio > 0.0 && ratio < 1.0, "ratio {ratio}");
    let list = v["boxes"].as_array().unwrap();
    assert!(!list.is_empty());
    for b in list {
        let n = |k: &str| b[k].as_u64().unwrap_or_else(|| panic!("box.{k} in {b}"));
        assert!(n("w") > 0 && n("h") > 0);
        assert!(n("x") + n("w") <= 640 && n("y") + n("h") <= 427, "{b}");
        assert_eq!(n("area"), n("w") * n("h"));
        assert!(n("changed_pixels") > 0);
        let mean = b["mean_change"].as_f64().expect("mean_change");
        let peak = b["peak_change"].as_f64().expect("peak_change");
        assert!(mean > 0.0 && mean <= peak, "{b}");
        let evidence = b["evidence"].as_array().expect("evidence");
        assert!(!evidence.is_empty());
        assert!(
            evidence
                .iter()
                .all(|e| e == "pixel" || e == "ssim" || e == "deep"),
            "{b}"
        );
        assert!(b["kind"] == "visual" || b["kind"] == "semantic", "{b}");
        let deep = b["deep_change"].as_f64().expect("deep_change");
        assert!((0.0..=4.0).contains(&deep), "{b}");
    }
    // The default backbone ran: semantic scores are in range and the model is named.
    assert!(
        v["model"] == "efficientnet-lite0" || v["model"] == "resnet50",
        "{v}"
    );
    let semantic = v["scores"]["semantic"].as_f64().expect("scores.semantic");
    assert!(semantic > 0.5 && semantic < 1.0, "semantic {semantic}");
    let patch = v["scores"]["patch_similarity"].as_f64().expect("patch");
    assert!(patch > 0.5 && patch < 1.0, "patch {patch}");
    assert!(v["thresholds"]["deep_distance"].as_f64().is_some());
}

#[test]
fn json_for_identical_inputs_has_no_boxes_and_ssim_exactly_1() {
    let p = repo("tests/fixtures/speck-a.png");
    let (code, v) = compare_json(&p, &p, &[]);
    assert_eq!(code, 0);
    assert_eq!(v["verdict"], "identical");
    assert_eq!(v["boxes"].as_array().unwrap().len(), 0);
    assert_eq!(v["scores"]["ssim"].as_f64(), Some(1.0));
    assert_eq!(v["scores"]["changed_pixel_ratio"].as_f64(), Some(0.0));
}

#[test]
fn json_lists_the_pictures_written() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    let out = dir.path().join("out");
    let (_, v) = compare_json(&a, &b, &["--out", out.to_str().unwrap()]);
    let pictures = v["pictures"].as_object().expect("pictures");
    assert_eq!(pictures.len(), 6);
    for (name, file) in [
        ("a", "a_boxes.png"),
        ("mask", "mask.png"),
        ("side", "side_by_side.png"),
    ] {
        assert_eq!(
            Path::new(pictures[name].as_str().unwrap()),
            out.join(file),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------
// 3. Pictures
// ---------------------------------------------------------------------------------

#[test]
fn out_writes_exactly_the_six_pictures_at_the_right_sizes() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    let out = dir.path().join("new/out");
    let r = compare(&a, &b, &["--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 1, "stderr: {}", r.stderr);
    assert_eq!(
        entries(&out),
        ALL_PICTURES,
        "only the six pictures, no temp files"
    );
    for name in ALL_PICTURES {
        let img = image::open(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = if name == "side_by_side.png" {
            (2 * 64 + 12, 48)
        } else {
            (64, 48)
        };
        assert_eq!(img.dimensions(), want, "{name}");
    }
}

#[test]
fn write_mask_writes_only_mask_png() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    let out = dir.path().join("out");
    let r = compare(&a, &b, &["--out", out.to_str().unwrap(), "--write", "mask"]);
    assert_eq!(r.code, 1, "stderr: {}", r.stderr);
    assert_eq!(entries(&out), ["mask.png"]);
}

#[test]
fn write_without_out_exits_2() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    let r = compare(&a, &b, &["--write", "mask"]);
    assert_error(&r, "--out");
}

#[test]
fn mask_is_white_inside_every_box_and_black_outside() {
    let dir = tmp();
    let out = dir.path().join("out");
    let (code, v) = compare_json(
        &repo("examples/before.png"),
        &repo("examples/after.png"),
        &["--out", out.to_str().unwrap(), "--write", "mask"],
    );
    assert_eq!(code, 1);
    let list = boxes(&v);
    let mask = image::open(out.join("mask.png")).unwrap().to_luma8();
    assert_eq!(mask.dimensions(), (640, 427));
    let white_in = white_per_box(&mask, &list);
    for (b, white) in list.iter().zip(&white_in) {
        assert!(*white > 0, "box {b:?} has no white mask pixel");
    }
}

#[test]
fn box_changed_pixels_fit_in_the_box_and_are_all_in_the_mask() {
    // `changed_pixels` is documented as "pixels inside the box that exceed the
    // threshold", and the mask is white exactly there. On the demo pair box #3 reports
    // changed_pixels 1075 for a 59x17 (1003 px) box.
    let dir = tmp();
    let out = dir.path().join("out");
    let (_, v) = compare_json(
        &repo("examples/before.png"),
        &repo("examples/after.png"),
        &["--out", out.to_str().unwrap(), "--write", "mask"],
    );
    let list = boxes(&v);
    let mask = image::open(out.join("mask.png")).unwrap().to_luma8();
    let white_in = white_per_box(&mask, &list);
    for (i, b) in v["boxes"].as_array().unwrap().iter().enumerate() {
        let changed = b["changed_pixels"].as_u64().unwrap();
        assert!(changed <= b["area"].as_u64().unwrap(), "box {b}");
        assert_eq!(white_in[i], changed, "box {b}: white mask pixels");
    }
}

#[test]
fn color_option_paints_the_box_outline_just_outside_the_box() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    let out = dir.path().join("out");
    let (_, v) = compare_json(
        &a,
        &b,
        &[
            "--out",
            out.to_str().unwrap(),
            "--write",
            "a",
            "--color",
            "#00ff00",
        ],
    );
    let (x, y, w, h) = boxes(&v)[0];
    assert!(x >= 2 && y >= 2, "box too close to the edge for this test");
    let img = image::open(out.join("a_boxes.png")).unwrap().to_rgb8();
    // Default thickness 2: the two columns left of the box are the outline.
    assert_eq!(img.get_pixel(x - 1, y + h / 2).0, [0, 255, 0]);
    assert_eq!(img.get_pixel(x - 2, y + h / 2).0, [0, 255, 0]);
    assert_eq!(img.get_pixel(x + w / 2, y - 1).0, [0, 255, 0]);
    // The box itself is not painted over: it shows A.
    let a_img = image::open(&a).unwrap().to_rgb8();
    assert_eq!(
        img.get_pixel(x + w / 2, y + h / 2),
        a_img.get_pixel(x + w / 2, y + h / 2)
    );
}

// ---------------------------------------------------------------------------------
// 4. Bad input
// ---------------------------------------------------------------------------------

#[test]
fn directory_instead_of_file_exits_2() {
    let dir = tmp();
    let sub = dir.path().join("folder.png");
    std::fs::create_dir(&sub).unwrap();
    assert_input_refused(&sub);
}

#[test]
fn missing_file_exits_2_and_writes_nothing() {
    let dir = tmp();
    assert_input_refused(&dir.path().join("absent.png"));
}

#[test]
fn empty_file_exits_2() {
    let dir = tmp();
    let p = dir.path().join("empty.png");
    std::fs::write(&p, b"").unwrap();
    let r = assert_input_refused(&p);
    assert!(r.stderr.contains("empty"), "{}", r.stderr);
}

#[test]
fn truncated_png_exits_2() {
    let dir = tmp();
    let bytes = png_bytes(&noise(64, 64));
    let p = dir.path().join("truncated.png");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    assert_input_refused(&p);
}

#[test]
fn png_with_garbage_image_data_exits_2() {
    let dir = tmp();
    let garbage: Vec<u8> = (0..400u32).map(|i| (i * 37 % 251) as u8).collect();
    let p = dir.path().join("corrupt.png");
    std::fs::write(&p, crafted_png(64, 64, &garbage)).unwrap();
    assert_input_refused(&p);
}

#[test]
fn truncated_jpeg_exits_2() {
    let dir = tmp();
    let full = dir.path().join("full.jpg");
    save(&noise(64, 64), &full);
    let bytes = std::fs::read(&full).unwrap();
    let p = dir.path().join("truncated.jpg");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    assert_input_refused(&p);
}

#[test]
fn truncated_bmp_tiff_webp_gif_exit_2() {
    for ext in ["bmp", "tiff", "webp", "gif"] {
        let dir = tmp();
        let full = dir.path().join(format!("full.{ext}"));
        // GIF: few colours (exact palette); the others: noise, so the data is large.
        save(
            &if ext == "gif" {
                picture(64, 64)
            } else {
                noise(64, 64)
            },
            &full,
        );
        let bytes = std::fs::read(&full).unwrap();
        let p = dir.path().join(format!("truncated.{ext}"));
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        assert_input_refused(&p);
    }
}

#[test]
fn text_file_named_png_exits_2() {
    let dir = tmp();
    let p = dir.path().join("notes.png");
    std::fs::write(&p, "this is not a picture\n").unwrap();
    assert_input_refused(&p);
}

#[test]
fn unsupported_format_pnm_exits_2() {
    let dir = tmp();
    let p = dir.path().join("tiny.ppm");
    let mut bytes = b"P6\n2 2\n255\n".to_vec();
    bytes.extend_from_slice(&[255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
    std::fs::write(&p, bytes).unwrap();
    let r = assert_input_refused(&p);
    assert!(r.stderr.contains("PNM"), "{}", r.stderr);
}

#[test]
fn decompression_bomb_is_refused_by_the_pixel_limit() {
    // 100000 x 100000 RGBA would need 40 GB; the header alone must be enough to refuse it.
    let dir = tmp();
    let p = dir.path().join("bomb.png");
    let empty_zlib = [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01];
    std::fs::write(&p, crafted_png(100_000, 100_000, &empty_zlib)).unwrap();
    let r = assert_input_refused(&p);
    assert!(r.stderr.contains("100000x100000"), "{}", r.stderr);
    assert!(r.stderr.contains("limit"), "{}", r.stderr);
    assert!(r.stderr.contains("--max-pixels"), "{}", r.stderr);
}

/// Runs `spotdiff ARGS` under `ulimit -v KIB` (address space), as a machine without
/// the memory would.
fn run_limited(kib: u64, args: &[&OsStr]) -> Run {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_spotdiff"))
        .args(args);
    let out = cmd.output().expect("spawn sh");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A small baseline JPEG whose frame header (SOF0) is rewritten to claim `w × h`;
/// with `progressive`, also marked progressive (SOF2), for which the length of the
/// image data says nothing about the frame's size.
fn jpeg_claiming(dir: &Path, w: u16, h: u16, progressive: bool) -> PathBuf {
    let p = dir.join("small.jpg");
    save(&noise(16, 16), &p);
    let mut bytes = std::fs::read(&p).unwrap();
    let mut i = 2;
    loop {
        assert_eq!(bytes[i], 0xFF, "JPEG marker");
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if bytes[i + 1] == 0xC0 {
            bytes[i + 5..i + 7].copy_from_slice(&h.to_be_bytes());
            bytes[i + 7..i + 9].copy_from_slice(&w.to_be_bytes());
            if progressive {
                bytes[i + 1] = 0xC2;
            }
            break;
        }
        i += 2 + len;
    }
    let out = dir.join(format!("claims-{w}x{h}-{progressive}.jpg"));
    std::fs::write(&out, bytes).unwrap();
    out
}

#[test]
fn pipes_and_devices_are_not_regular_files() {
    let dir = tmp();
    let fifo = dir.path().join("fifo.png");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    // Nothing writes to the FIFO: reading it would block forever.
    for bad in [
        fifo.as_path(),
        Path::new("/dev/zero"),
        Path::new("/dev/urandom"),
    ] {
        let r = assert_input_refused(bad);
        assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
        assert!(!r.stderr.contains("empty"), "{}", r.stderr);
    }
}

#[test]
fn sizes_are_compared_from_the_headers_before_decoding() {
    // A 1 KB file claiming 10000 x 10000 against a 64 x 64 PNG: decoding it would take
    // 400 MB; the headers alone say the sizes differ. Under a 250 MB address-space
    // limit, only the header check can answer "differ in size".
    let dir = tmp();
    let claim = jpeg_claiming(dir.path(), 10_000, 10_000, true);
    let good = dir.path().join("good.png");
    save(&picture(64, 64), &good);
    for (a, b) in [(&claim, &good), (&good, &claim)] {
        let r = run_limited(
            250_000,
            &[
                "compare".as_ref(),
                a.as_os_str(),
                b.as_os_str(),
                "--method".as_ref(),
                "pixel".as_ref(),
            ],
        );
        assert_error(&r, "differ in size");
        assert!(r.stderr.contains("10000x10000"), "{}", r.stderr);
    }
    // With padding, the padded size is checked against the pixel limit first.
    let r = compare(
        &claim,
        &good,
        &[
            "--size-policy",
            "pad",
            "--max-pixels",
            "50000000",
            "--method",
            "pixel",
        ],
    );
    assert_error(&r, "10000x10000");
    let wide = dir.path().join("wide.png");
    let tall = dir.path().join("tall.png");
    std::fs::write(
        &wide,
        crafted_png(9000, 1, &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
    )
    .unwrap();
    std::fs::write(
        &tall,
        crafted_png(1, 9000, &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
    )
    .unwrap();
    let r = compare(
        &wide,
        &tall,
        &["--size-policy", "pad", "--max-pixels", "1000000"],
    );
    assert_error(&r, "padding both images to 9000x9000");
}

#[test]
fn a_baseline_jpeg_too_short_for_its_frame_is_corrupt() {
    // 1 KB of JPEG whose frame claims 255 x 32832 (8.4 million pixels): the decoder
    // would fill in all it lacks, and comparing the result costs seconds. A sequential
    // JPEG needs at least 2 bits per 8 x 8 block, so the header alone says it is cut.
    let dir = tmp();
    let tall = jpeg_claiming(dir.path(), 255, 32_832, false);
    let r = assert_input_refused(&tall);
    assert!(
        r.stderr.contains("too short for a 255x32832 image"),
        "{}",
        r.stderr
    );
    // A real JPEG passes.
    let real = dir.path().join("real.jpg");
    save(&noise(300, 200), &real);
    assert_eq!(compare(&real, &real, &[]).code, 0);
}

#[test]
fn a_bomb_with_a_huge_max_pixels_is_one_line_not_an_abort() {
    // The pixel limit raised as its error suggests, on a machine (here: an address
    // space of 1 GB) without the 40 GB the image needs: one line, exit 2, no abort.
    let dir = tmp();
    let bomb = dir.path().join("bomb.png");
    let empty_zlib = [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01];
    std::fs::write(&bomb, crafted_png(100_000, 100_000, &empty_zlib)).unwrap();
    let claim = jpeg_claiming(dir.path(), 60_000, 60_000, true);
    for bad in [&bomb, &claim] {
        let r = run_limited(
            1_000_000,
            &[
                "compare".as_ref(),
                bad.as_os_str(),
                bad.as_os_str(),
                "--max-pixels".as_ref(),
                "100000000000".as_ref(),
                "--method".as_ref(),
                "pixel".as_ref(),
            ],
        );
        assert_error(&r, "not enough memory to decode");
        assert!(r.stderr.contains(bad.to_str().unwrap()), "{}", r.stderr);
    }
}

#[test]
fn a_huge_icc_profile_costs_at_most_the_metadata_budget() {
    // A 3.4 MB PNG whose iCCP chunk inflates to 512 MiB. The profile is never used:
    // the decoder stops inflating it at the metadata budget (16 MiB), drops it and
    // decodes the image, within an address space far smaller than the profile.
    let dir = tmp();
    let base = png_bytes(&picture(16, 16));
    let mut iccp = b"icc\0\0".to_vec();
    iccp.extend(zlib_of_zeros(512 << 20));
    let mut png = base[..33].to_vec(); // signature and IHDR
    png.extend(png_chunk(b"iCCP", &iccp));
    png.extend_from_slice(&base[33..]);
    let p = dir.path().join("icc.png");
    std::fs::write(&p, &png).unwrap();
    assert!(png.len() < 4_000_000, "{}", png.len());
    let r = run_limited(
        300_000,
        &[
            "compare".as_ref(),
            p.as_os_str(),
            p.as_os_str(),
            "--method".as_ref(),
            "pixel".as_ref(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("identical"), "{}", r.stdout);
}

/// A zlib stream of `n` zero bytes: one fixed-Huffman block of a literal 0,
/// length-258 distance-1 copies (13 bits per 258 bytes) and literals for the rest.
fn zlib_of_zeros(n: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        len: u32,
    }
    impl Bits {
        fn put(&mut self, value: u64, bits: u32) {
            self.acc |= value << self.len;
            self.len += bits;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u64, bits: u32) {
            let rev = (0..bits).fold(0, |r, i| r | (((code >> i) & 1) << (bits - 1 - i)));
            self.put(rev, bits);
        }
    }
    let mut w = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        len: 0,
    };
    w.put(1, 1); // final block
    w.put(1, 2); // fixed Huffman
    w.code(0b0011_0000, 8); // literal 0
    let mut left = n - 1;
    while left >= 258 {
        w.code(0b1100_0101, 8); // length 258 (code 285)
        w.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        w.code(0b0011_0000, 8);
    }
    w.code(0, 7); // end of block (256)
    if w.len > 0 {
        w.put(0, 8 - w.len);
    }
    let adler = (((n % 65521) as u32) << 16) | 1;
    w.out.extend_from_slice(&adler.to_be_bytes());
    w.out
}

#[test]
fn the_zlib_helper_makes_valid_streams() {
    // Guards the ICC test: the stream inflates to exactly n zeros, in a real PNG.
    for n in [1usize, 2, 259, 260, 261, 1000, 70_000] {
        let raw_len = 5; // filter byte + one RGBA pixel per row
        let rows = n / raw_len;
        if rows == 0 || n % raw_len != 0 {
            continue;
        }
        let img = image::load_from_memory(&crafted_png(1, rows as u32, &zlib_of_zeros(n)))
            .unwrap_or_else(|e| panic!("{n}: {e}"));
        assert!(img.to_rgba8().pixels().all(|p| p.0 == [0; 4]));
    }
}

#[test]
fn crafted_png_helper_makes_valid_pngs() {
    // Guards the bomb and garbage tests: with a real zlib stream the crafted file decodes.
    let raw: Vec<u8> = vec![0, 1, 2, 3, 4]; // filter byte 0, one RGBA pixel
    let mut zlib = vec![0x78, 0x01, 0x01, 0x05, 0x00, 0xfa, 0xff];
    zlib.extend_from_slice(&raw);
    let adler = {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in &raw {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    };
    zlib.extend_from_slice(&adler.to_be_bytes());
    let img = image::load_from_memory(&crafted_png(1, 1, &zlib)).expect("valid PNG");
    assert_eq!(img.to_rgba8().get_pixel(0, 0).0, [1, 2, 3, 4]);
}

#[test]
fn max_pixels_below_the_image_size_exits_2() {
    let dir = tmp();
    let p = dir.path().join("small.png");
    save(&picture(20, 20), &p);
    let r = compare(&p, &p, &["--max-pixels", "100"]);
    assert_error(&r, p.to_str().unwrap());
    assert!(r.stderr.contains("400 pixels"), "{}", r.stderr);
    assert!(r.stderr.contains("limit of 100 pixels"), "{}", r.stderr);
}

#[test]
fn unwritable_out_exits_2() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("sub");
    let r = compare(&a, &b, &["--out", out.to_str().unwrap()]);
    assert_error(&r, out.to_str().unwrap());
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn out_that_is_a_file_exits_2() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let r = compare(&a, &b, &["--out", file.to_str().unwrap()]);
    assert_error(&r, file.to_str().unwrap());
}

#[test]
fn size_mismatch_exits_2_and_suggests_size_policy() {
    let dir = tmp();
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    save(&picture(40, 30), &a);
    save(&picture(50, 30), &b);
    let out = dir.path().join("out");
    let r = compare(&a, &b, &["--out", out.to_str().unwrap()]);
    assert_error(&r, "--size-policy");
    assert!(
        r.stderr.contains("40x30") && r.stderr.contains("50x30"),
        "{}",
        r.stderr
    );
    assert_eq!(entries(&out), Vec::<String>::new());
}

#[test]
fn size_policy_pad_boxes_the_padded_area() {
    let dir = tmp();
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    let small = picture(40, 30);
    let mut big = picture(40, 40);
    image::imageops::replace(&mut big, &small, 0, 0);
    save(&small, &a);
    save(&big, &b);
    let (code, v) = compare_json(&a, &b, &["--size-policy", "pad"]);
    assert_eq!(code, 1);
    let list = boxes(&v);
    for y in 30..40 {
        for x in 0..40 {
            assert!(
                list.iter().any(|&bx| inside(x, y, bx)),
                "padded pixel ({x}, {y}) is in no box: {list:?}"
            );
        }
    }
}

#[test]
fn size_policy_resize_compares_same_aspect_sizes() {
    let dir = tmp();
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    let big = picture(80, 60);
    let small = image::imageops::resize(&big, 40, 30, image::imageops::FilterType::Triangle);
    save(&big, &a);
    save(&small, &b);
    let r = compare(&a, &b, &["--size-policy", "resize"]);
    assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
    assert_eq!(r.stderr, "");
    assert!(
        r.stdout.contains("resized from 40x30 to 80x60"),
        "{}",
        r.stdout
    );
}

#[test]
fn size_policy_resize_refuses_a_different_aspect_and_suggests_pad() {
    let dir = tmp();
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    save(&picture(40, 30), &a);
    save(&picture(40, 40), &b);
    let r = compare(&a, &b, &["--size-policy", "resize"]);
    assert_error(&r, "pad");
}

// ---------------------------------------------------------------------------------
// 5. Formats
// ---------------------------------------------------------------------------------

/// The picture saved as `ext` compares as identical to the same picture as PNG.
fn assert_format_identical_to_png(ext: &str) {
    let dir = tmp();
    let img = picture(48, 36);
    let png = dir.path().join("ref.png");
    let other = dir.path().join(format!("same.{ext}"));
    save(&img, &png);
    save(&img, &other);
    let (code, v) = compare_json(&png, &other, &[]);
    assert_eq!(code, 0, "{ext}: {v}");
    assert_eq!(v["verdict"], "identical", "{ext}");
}

#[test]
fn bmp_is_identical_to_png() {
    assert_format_identical_to_png("bmp");
}

#[test]
fn tiff_is_identical_to_png() {
    assert_format_identical_to_png("tiff");
}

#[test]
fn lossless_webp_is_identical_to_png() {
    assert_format_identical_to_png("webp");
}

#[test]
fn gif_is_identical_to_png() {
    assert_format_identical_to_png("gif");
}

#[test]
fn jpeg_loads_and_equals_itself() {
    let dir = tmp();
    let p = dir.path().join("photo.jpg");
    save(&picture(48, 36), &p);
    let r = compare(&p, &p, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("identical"));
}

#[test]
fn multi_frame_gif_uses_the_first_frame() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame};
    let dir = tmp();
    let first = picture(48, 36);
    let second = with_patch(&first, (8, 8, 16, 12), [0, 0, 0, 255]);
    let gif = dir.path().join("anim.gif");
    {
        let file = std::fs::File::create(&gif).unwrap();
        let mut enc = GifEncoder::new(file);
        let delay = Delay::from_numer_denom_ms(100, 1);
        enc.encode_frames([
            Frame::from_parts(first.clone(), 0, 0, delay),
            Frame::from_parts(second.clone(), 0, 0, delay),
        ])
        .unwrap();
    }
    let (p1, p2) = (dir.path().join("first.png"), dir.path().join("second.png"));
    save(&first, &p1);
    save(&second, &p2);
    let r = compare(&p1, &gif, &[]);
    assert_eq!(r.code, 0, "vs first frame: {}{}", r.stdout, r.stderr);
    let r = compare(&p2, &gif, &[]);
    assert_eq!(r.code, 1, "vs second frame: {}{}", r.stdout, r.stderr);
}

#[test]
fn hidden_rgb_under_full_transparency_is_not_a_change() {
    let dir = tmp();
    let base = picture(48, 36);
    let hide = |rgb: [u8; 3]| {
        let mut img = base.clone();
        for (x, _, p) in img.enumerate_pixels_mut() {
            if x < 24 {
                *p = Rgba([rgb[0], rgb[1], rgb[2], 0]);
            }
        }
        img
    };
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    save(&hide([255, 0, 0]), &a);
    save(&hide([0, 0, 255]), &b);
    let r = compare(&a, &b, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn alpha_only_change_is_a_change() {
    let dir = tmp();
    let a_img = picture(48, 36);
    let mut b_img = a_img.clone();
    for y in 10..22 {
        for x in 12..30 {
            b_img.get_pixel_mut(x, y)[3] = 128;
        }
    }
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    save(&a_img, &a);
    save(&b_img, &b);
    let (code, v) = compare_json(&a, &b, &[]);
    assert_eq!(code, 1, "{v}");
    assert!(boxes(&v).iter().any(|&bx| inside(20, 15, bx)), "{v}");
}

// ---------------------------------------------------------------------------------
// 6. Options
// ---------------------------------------------------------------------------------

#[test]
fn compare_help_exits_0_and_shows_exit_codes_and_defaults() {
    let r = run(["compare", "--help"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let help = &r.stdout;
    for line in ["0  no difference", "1  differences found", "2  error"] {
        assert!(help.contains(line), "help lacks exit code line {line:?}");
    }
    // Each option's help paragraph, keyed by its long name.
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        if t.starts_with('-') && line.starts_with("  ") {
            let long = t
                .split_whitespace()
                .find(|w| w.starts_with("--"))
                .unwrap_or("")
                .to_string();
            entries.push((long, String::new()));
        } else if line.trim().is_empty() || !line.starts_with(' ') {
            entries.push((String::new(), String::new()));
        }
        if let Some(e) = entries.last_mut() {
            e.1.push_str(line);
            e.1.push(' ');
        }
    }
    let entry = |long: &str| {
        let e = entries.iter().find(|e| e.0 == long);
        e.unwrap_or_else(|| panic!("help has no {long}")).1.clone()
    };
    for (long, default) in [
        ("--method", "fused"),
        ("--threshold", "auto"),
        ("--ssim-threshold", "auto"),
        ("--min-area", "12"),
        ("--merge-distance", "12"),
        ("--size-policy", "auto"),
        ("--align", "auto"),
        ("--global-change", "different"),
        ("--color", "#ff0044"),
        ("--thickness", "2"),
        ("--fill-opacity", "0.5"),
        ("--max-pixels", "100000000"),
    ] {
        let text = entry(long);
        assert!(
            text.contains(&format!("[default: {default}]")),
            "{long} does not show its default {default}: {text}"
        );
    }
    // Options without a value default say what happens without them.
    assert!(entry("--ignore").contains("--ignore"));
    assert!(help.contains("all six unless --write picks some"));
}

#[test]
fn ignore_covering_the_only_change_exits_0() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    assert_eq!(compare(&a, &b, &[]).code, 1);
    let r = compare(&a, &b, &["--ignore", "15,10,25,20"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn bad_color_exits_2_with_one_line() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    let r = compare(&a, &b, &["--color", "nope"]);
    assert_error(&r, "nope");
}

#[test]
fn negative_threshold_exits_2_with_one_line() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    let r = compare(&a, &b, &["--threshold", "-3"]);
    assert_error(&r, "-3");
    assert!(r.stderr.contains("--threshold"), "{}", r.stderr);
}

#[test]
fn three_number_ignore_exits_2_with_one_line() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    let r = compare(&a, &b, &["--ignore", "1,2,3"]);
    assert_error(&r, "1,2,3");
}

#[test]
fn unknown_option_exits_2_with_one_line() {
    let dir = tmp();
    let (a, b) = patched_pair(dir.path());
    let r = compare(&a, &b, &["--bogus"]);
    assert_error(&r, "--bogus");
}

#[test]
fn missing_second_image_exits_2_with_one_line() {
    let r = run([
        OsStr::new("compare"),
        repo("examples/before.png").as_os_str(),
    ]);
    assert_error(&r, "<B>");
}

// ---------------------------------------------------------------------------------
// Deep features from the command line
// ---------------------------------------------------------------------------------

fn demo_args(extra: &[&str]) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = vec![
        "compare".into(),
        repo("examples/before.png").into(),
        repo("examples/after.png").into(),
    ];
    v.extend(extra.iter().map(Into::into));
    v
}

#[test]
fn deep_method_reports_the_backbone_and_semantic_scores() {
    let (code, v) = compare_json(
        &repo("examples/before.png"),
        &repo("examples/after.png"),
        &["--method", "deep", "--model", "efficientnet-lite0"],
    );
    assert_eq!(code, 1);
    assert_eq!(v["method"], "deep");
    assert_eq!(v["model"], "efficientnet-lite0");
    let sem = v["scores"]["semantic"].as_f64().unwrap();
    assert!(sem > 0.9 && sem < 1.0, "{sem}");
    // The pasted patch and the label, at the 224 px working size (the erased mast
    // needs 448 px: tests/deep.rs).
    assert_eq!(boxes(&v).len(), 2, "{v}");
    // The automatic deep threshold: the floor, or higher when the pair's unchanged
    // cells sit higher.
    assert!(v["thresholds"]["deep_distance"].as_f64().unwrap() >= 0.75);
}

#[test]
fn fused_without_a_backbone_says_so_in_one_line_and_still_compares() {
    let empty = tmp();
    let args = demo_args(&["--json"]);
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let r = run_env(&args, &[("SPOTDIFF_MODELS", empty.path().as_os_str())]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(
        lines[0].starts_with("spotdiff: note: no backbone model")
            && lines[0].contains("scripts/setup/setup-deep.sh")
            && lines[0].contains("pixel + SSIM"),
        "{}",
        lines[0]
    );
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["model"], Value::Null);
    assert_eq!(v["scores"]["semantic"], Value::Null);
    assert_eq!(boxes(&v).len(), 4);
    // --model none turns deep features off without a note.
    let r = compare(
        &repo("examples/before.png"),
        &repo("examples/after.png"),
        &["--model", "none"],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn deep_method_without_a_backbone_is_an_error() {
    let empty = tmp();
    let args = demo_args(&["--method", "deep"]);
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let r = run_env(&args, &[("SPOTDIFF_MODELS", empty.path().as_os_str())]);
    assert_eq!(r.code, 2);
    assert_error(&r, "scripts/setup/setup-deep.sh");
}

#[test]
fn bad_runtime_libraries_and_models_exit_2_with_one_line() {
    let dir = tmp();
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not a shared library").unwrap();
    let fake = fake.to_str().unwrap().to_string();
    // A library that loads but is not ONNX Runtime.
    let libz = [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
    ]
    .into_iter()
    .find(|p| Path::new(p).is_file())
    .expect("libz.so.1");
    // A real ONNX Runtime of the wrong version (scripts/test.sh fetches it from PyPI).
    let old = repo(".deps/fixtures/libonnxruntime.so.1.20.1");
    assert!(
        old.is_file(),
        "{} missing: run scripts/test.sh",
        old.display()
    );
    let old = old.to_str().unwrap().to_string();
    let missing = dir.path().join("nowhere/libonnxruntime.so");
    let missing = missing.to_str().unwrap().to_string();
    for (extra, want) in [
        (vec!["--ort-lib", fake.as_str()], "cannot load ONNX Runtime"),
        (vec!["--ort-lib", libz], "cannot load ONNX Runtime"),
        (
            vec!["--ort-lib", old.as_str()],
            "expected version >= '1.31.x', but got '1.20.1'",
        ),
        (vec!["--ort-lib", missing.as_str()], "not found"),
        (
            vec!["--model", "vgg19"],
            "known models: efficientnet-lite0, resnet50",
        ),
        (
            vec!["--model", "tests/fixtures/models/gray-input.onnx"],
            "no manifest",
        ),
    ] {
        let mut args = extra.clone();
        args.extend(["--method", "deep"]);
        let r = compare(
            &repo("examples/before.png"),
            &repo("examples/after.png"),
            &args,
        );
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stderr);
        assert_error(&r, want);
    }
}

#[test]
fn timings_are_printed_on_request() {
    let r = compare(
        &repo("examples/before.png"),
        &repo("examples/after.png"),
        &["--timings"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("deep inference") && r.stderr.contains("decode"),
        "{}",
        r.stderr
    );
}
