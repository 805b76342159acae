//! The web API of `spotdiff serve`, tested against the real binary listening on an
//! ephemeral loopback port: the page and its assets, reports equal to the CLI's
//! `--json`, pictures, hostile and oversized uploads (always a 4xx with a JSON error,
//! never a 5xx or a crash), the busy answer, the time limit and a clean Ctrl-C.

mod common;

#[path = "support/multipart.rs"]
mod multipart;

use base64::Engine as _;
use common::{crc32, png_bytes, repo};
use image::{GenericImageView, Rgb, RgbImage};
use multipart::Form;
use serde_json::Value;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------

/// A running `spotdiff serve --port 0`; stopped when dropped.
struct Server {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spotdiff"))
            .args(["serve", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn spotdiff serve");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .expect("start-up line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no URL in the start-up line: {line:?}"))
            .trim_end_matches('/')
            .to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Server { child, url, agent }
    }

    fn get(&self, path: &str) -> Reply {
        let resp = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .expect("GET");
        Reply::from(resp)
    }

    fn post(&self, path: &str, form: &Form) -> Reply {
        self.post_raw(path, &Form::content_type(), form.body())
    }

    fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let resp = self
            .agent
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .send(&body[..])
            .expect("POST");
        Reply::from(resp)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    content_type: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn from(mut resp: ureq::http::Response<ureq::Body>) -> Reply {
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        Reply {
            status: resp.status().as_u16(),
            content_type: resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default(),
            headers,
            body: resp
                .body_mut()
                .with_config()
                .limit(256 << 20)
                .read_to_vec()
                .expect("body"),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn pair_form(a: &str, b: &str) -> Form {
    Form::new()
        .file(
            "a",
            Path::new(a).file_name().unwrap().to_str().unwrap(),
            read(a),
        )
        .file(
            "b",
            Path::new(b).file_name().unwrap().to_str().unwrap(),
            read(b),
        )
}

/// `spotdiff compare A B --json EXTRA...`, parsed.
fn cli_json(a: &str, b: &str, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_spotdiff"))
        .arg("compare")
        .arg(repo(a))
        .arg(repo(b))
        .arg("--json")
        .args(extra)
        .output()
        .expect("spawn spotdiff compare");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("CLI JSON")
}

/// The report without what legitimately differs between CLI and web: the input paths
/// (the web has file names only) and the pictures (paths there, data URLs here).
fn comparable(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("pictures");
    for k in ["a", "b"] {
        o.get_mut(k)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("path");
    }
    v
}

fn png_from_data_url(url: &str) -> image::DynamicImage {
    let b64 = url
        .strip_prefix("data:image/png;base64,")
        .unwrap_or_else(|| panic!("not a PNG data URL: {}", &url[..url.len().min(40)]));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).expect("PNG")
}

fn assert_error(reply: &Reply, status: u16, needle: &str) {
    assert_eq!(
        reply.status,
        status,
        "expected {status} mentioning {needle:?}, got {}: {}",
        reply.status,
        reply.text()
    );
    assert!(
        reply.content_type.starts_with("application/json"),
        "{}",
        reply.content_type
    );
    let v = reply.json();
    let msg = v["error"].as_str().expect("error message");
    assert!(msg.contains(needle), "{msg:?} does not mention {needle:?}");
    assert!(!msg.contains('\n'), "one line: {msg:?}");
    assert_eq!(v["status"], status);
}

// ---------------------------------------------------------------------------------
// The page and the API description
// ---------------------------------------------------------------------------------

#[test]
fn page_assets_info_and_openapi_are_served() {
    let s = Server::start(&[]);
    let page = s.get("/");
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    let html = page.text();
    for needle in [
        "id=\"form\"",
        "id=\"file-a\"",
        "id=\"file-b\"",
        "/app.js",
        "/style.css",
    ] {
        assert!(html.contains(needle), "page lacks {needle}");
    }
    let js = s.get("/app.js");
    assert_eq!(js.status, 200);
    assert!(js.content_type.starts_with("text/javascript"));
    assert!(js.text().contains("/api/compare"));
    assert!(s.get("/style.css").content_type.starts_with("text/css"));

    let info = s.get("/api/info").json();
    let methods: Vec<&str> = info["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for m in ["fused", "pixel", "ssim"] {
        assert!(methods.contains(&m), "{methods:?}");
    }
    // Every method offered is one the library accepts.
    for m in &methods {
        assert!(spotdiff::Method::parse(m).is_some(), "{m}");
    }
    assert_eq!(info["defaults"]["color"], "#ff0044");
    assert_eq!(info["limits"]["max_pixels"], 25_000_000);
    assert_eq!(info["limits"]["header_timeout_s"], 10);
    assert_eq!(info["limits"]["idle_timeout_s"], 30);
    assert_eq!(info["limits"]["max_connections"], 512);
    assert_eq!(info["limits"]["upload_budget_bytes"], 256 << 20);

    let doc = s.get("/api/openapi.json");
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/compare",
        "/api/compare/{picture}",
        "/api/info",
        "/api/openapi.json",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lacks {p}");
    }
    // Every GET path described answers; every POST path exists (an empty POST is a
    // 400 about the form, not a 404).
    for (p, ops) in paths {
        if ops.get("get").is_some() {
            assert_eq!(s.get(p).status, 200, "GET {p}");
        }
        if ops.get("post").is_some() {
            let p = p.replace("{picture}", "side.png");
            assert_error(&s.post(&p, &Form::new()), 400, "missing");
        }
    }
    assert_error(&s.get("/nothing-here"), 404, "no such page");
}

// ---------------------------------------------------------------------------------
// Reports and pictures
// ---------------------------------------------------------------------------------

#[test]
fn report_equals_the_cli_json_and_pictures_show_the_boxes() {
    let s = Server::start(&[]);
    for (a, b) in [
        (
            "tests/fixtures/two-changes-far-a.png",
            "tests/fixtures/two-changes-far-b.png",
        ),
        ("examples/before.png", "examples/after.png"),
    ] {
        let reply = s.post("/api/compare", &pair_form(a, b).text("pictures", "all"));
        assert_eq!(reply.status, 200, "{}", reply.text());
        let web = reply.json();
        let cli = cli_json(a, b, &[]);
        assert_eq!(comparable(web.clone()), comparable(cli), "{a}");
        assert_eq!(
            web["a"]["path"],
            Path::new(a).file_name().unwrap().to_str().unwrap()
        );
        let boxes = web["boxes"].as_array().unwrap();
        assert!(boxes.len() >= 2, "{a}: {boxes:?}");

        let (w, h) = (
            web["a"]["width"].as_u64().unwrap() as u32,
            web["a"]["height"].as_u64().unwrap() as u32,
        );
        let pics = web["pictures"].as_object().unwrap();
        assert_eq!(pics.len(), 6);
        for (name, url) in pics {
            let img = png_from_data_url(url.as_str().unwrap());
            let expect_w = if name == "side" { img.width() } else { w };
            assert_eq!(img.dimensions(), (expect_w, h), "{name}");
        }
        let side = png_from_data_url(pics["side"].as_str().unwrap());
        assert!(side.width() > 2 * w, "side by side is A | B");
        // Each box's outline is drawn just outside it, in the default colour, on B
        // and on A.
        for key in ["a", "b"] {
            let img = png_from_data_url(pics[key].as_str().unwrap()).to_rgba8();
            for bx in boxes {
                let (x, y, bh) = (
                    bx["x"].as_u64().unwrap() as u32,
                    bx["y"].as_u64().unwrap() as u32,
                    bx["h"].as_u64().unwrap() as u32,
                );
                if x >= 1 {
                    let p = img.get_pixel(x - 1, y + bh / 2);
                    assert_eq!(&p.0[..3], &[0xff, 0x00, 0x44], "{key} box at {x},{y}");
                }
            }
        }
        // The mask is white inside the changes.
        let mask = png_from_data_url(pics["mask"].as_str().unwrap()).to_luma8();
        let white = mask.pixels().filter(|p| p[0] == 255).count() as u64;
        let changed: u64 = boxes
            .iter()
            .map(|b| b["changed_pixels"].as_u64().unwrap())
            .sum();
        assert_eq!(white, changed, "{a}: mask pixels");
    }
}

#[test]
fn options_reach_the_comparison_and_the_pictures() {
    let s = Server::start(&[]);
    let (a, b) = ("examples/before.png", "examples/after.png");
    let form = pair_form(a, b)
        .text("method", "pixel")
        .text("threshold", "20")
        .text("min_area", "40")
        .text("merge_distance", "4")
        .text("ignore", "0,0,100,100")
        .text("color", "#00c8ff")
        .text("thickness", "3")
        .text("pictures", "b");
    let reply = s.post("/api/compare", &form);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let web = reply.json();
    let cli = cli_json(
        a,
        b,
        &[
            "--method",
            "pixel",
            "--threshold",
            "20",
            "--min-area",
            "40",
            "--merge-distance",
            "4",
            "--ignore",
            "0,0,100,100",
        ],
    );
    assert_eq!(web["method"], "pixel");
    assert_eq!(web["thresholds"]["pixel_delta_e"], 20.0);
    assert_eq!(comparable(web.clone()), comparable(cli));
    let pics = web["pictures"].as_object().unwrap();
    assert_eq!(pics.keys().collect::<Vec<_>>(), ["b"]);
    let img = png_from_data_url(pics["b"].as_str().unwrap()).to_rgba8();
    let bx = &web["boxes"][0];
    let (x, y) = (
        bx["x"].as_u64().unwrap() as u32,
        bx["y"].as_u64().unwrap() as u32,
    );
    // Three pixels of line outside the box, in the colour asked for.
    assert_eq!(&img.get_pixel(x - 3, y).0[..3], &[0x00, 0xc8, 0xff]);

    // Without `pictures`, the answer is the report alone.
    let bare = s.post("/api/compare", &pair_form(a, b)).json();
    assert_eq!(bare["pictures"].as_object().unwrap().len(), 0);
}

#[test]
fn picture_endpoint_answers_a_png_equal_to_the_json_one() {
    let s = Server::start(&[]);
    let (a, b) = (
        "tests/fixtures/two-changes-far-a.png",
        "tests/fixtures/two-changes-far-b.png",
    );
    let png = s.post("/api/compare/side.png", &pair_form(a, b));
    assert_eq!(png.status, 200, "{}", png.text());
    assert_eq!(png.content_type, "image/png");
    assert_eq!(png.header("x-spotdiff-verdict"), Some("different"));
    assert_eq!(png.header("x-spotdiff-boxes"), Some("2"));
    let json = s
        .post("/api/compare", &pair_form(a, b).text("pictures", "side"))
        .json();
    let from_json = png_from_data_url(json["pictures"]["side"].as_str().unwrap());
    let direct = image::load_from_memory(&png.body).unwrap();
    assert_eq!(direct.to_rgba8(), from_json.to_rgba8());
    assert_error(
        &s.post("/api/compare/poster.png", &pair_form(a, b)),
        404,
        "no picture",
    );
}

// ---------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------

/// A PNG whose header claims `w × h` pixels, with a few bytes of pixel data.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    for chunk in [&b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01"[..], b"IEND"] {
        out.extend_from_slice(&(chunk.len() as u32 - 4).to_be_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(&crc32(chunk).to_be_bytes());
    }
    out
}

#[test]
fn bad_input_gets_a_4xx_with_a_json_error_and_the_server_lives_on() {
    let s = Server::start(&["--max-upload-mb", "1", "--max-pixels", "200000"]);
    let good_a = read("tests/fixtures/two-changes-far-a.png");
    let good_b = read("tests/fixtures/two-changes-far-b.png");
    let with_a = |b_name: &str, b: Vec<u8>| {
        Form::new()
            .file("a", "a.png", good_a.clone())
            .file("b", b_name, b)
    };
    let truncated = good_b[..good_b.len() / 2].to_vec();
    let big_noise = {
        // 700x700 of noise: about 1.4 MB as PNG, over the 1 MiB upload cap.
        let mut seed = 12345u32;
        let img = RgbImage::from_fn(700, 700, |_, _| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let v = seed.to_be_bytes();
            Rgb([v[0], v[1], v[2]])
        });
        png_bytes(&img)
    };
    assert!(big_noise.len() > 1 << 20);
    let cases: Vec<(&str, Form, u16, &str)> = vec![
        (
            "B missing",
            Form::new().file("a", "a.png", good_a.clone()),
            400,
            "image B is missing",
        ),
        (
            "A missing",
            Form::new().file("b", "b.png", good_b.clone()),
            400,
            "image A is missing",
        ),
        (
            "not an image",
            with_a("notes.txt", b"just some text, no image".to_vec()),
            422,
            "image B (notes.txt): not an image",
        ),
        (
            "truncated PNG",
            with_a("cut.png", truncated),
            422,
            "corrupt or truncated PNG",
        ),
        ("empty file", with_a("empty.png", Vec::new()), 400, "empty"),
        (
            "sizes differ",
            with_a("small.png", png_bytes(&RgbImage::new(40, 30))),
            422,
            "differ in size",
        ),
        (
            "too many pixels (header checked before decoding)",
            with_a("bomb.png", png_header_only(100_000, 100_000)),
            413,
            "over the limit",
        ),
        (
            "too large an upload",
            with_a("big.png", big_noise),
            413,
            "larger than the server's limit of 1 MiB",
        ),
        (
            "bad threshold",
            with_a("b.png", good_b.clone()).text("threshold", "-4"),
            400,
            "threshold",
        ),
        (
            "unknown method",
            with_a("b.png", good_b.clone()).text("method", "magic"),
            400,
            "field `method`",
        ),
        (
            "typo in a field",
            with_a("b.png", good_b.clone()).text("treshold", "4"),
            400,
            "unknown field `treshold`",
        ),
        (
            "file sent twice",
            with_a("b.png", good_b.clone()).file("a", "again.png", good_a.clone()),
            400,
            "sent twice",
        ),
    ];
    for (what, form, status, needle) in cases {
        let reply = s.post("/api/compare", &form);
        assert!(reply.status < 500, "{what}: {}", reply.status);
        assert_error(&reply, status, needle);
    }
    // Not multipart at all.
    assert_error(
        &s.post_raw("/api/compare", "application/json", b"{}".to_vec()),
        400,
        "multipart/form-data",
    );
    assert_error(
        &s.post_raw(
            "/api/compare",
            &Form::content_type(),
            b"--nonsense\r\n".to_vec(),
        ),
        400,
        "multipart",
    );
    // Still serving.
    let ok = s.post("/api/compare", &with_a("b.png", good_b));
    assert_eq!(ok.status, 200, "{}", ok.text());
}

// ---------------------------------------------------------------------------------
// Load limits
// ---------------------------------------------------------------------------------

/// A pair that takes the comparison a while: a smooth gradient against the same with
/// a fine pattern over most of it (every tile changed, many regions).
fn slow_pair(w: u32, h: u32) -> (Vec<u8>, Vec<u8>) {
    let a = RgbImage::from_fn(w, h, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut b = a.clone();
    for (x, y, p) in b.enumerate_pixels_mut() {
        if (x / 7 + y / 5) % 3 == 0 && x > 8 && y > 8 {
            *p = Rgb([255 - p[0], 255 - p[1], 20]);
        }
    }
    (png_bytes(&a), png_bytes(&b))
}

#[test]
fn a_full_server_answers_503_with_retry_after() {
    let s = Arc::new(Server::start(&["--jobs", "1", "--queue", "0"]));
    let (a, b) = slow_pair(1200, 900);
    let form = Form::new().file("a", "a.png", a).file("b", "b.png", b);
    let n = 4;
    let barrier = Arc::new(Barrier::new(n));
    let replies: Vec<Reply> = (0..n)
        .map(|_| {
            let (s, form, barrier) = (Arc::clone(&s), form.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                s.post("/api/compare", &form)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let busy: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert_eq!(ok + busy.len(), n, "only 200 or 503");
    assert!(ok >= 1, "one request gets the slot");
    assert!(
        !busy.is_empty(),
        "with one slot and no queue, the others are refused"
    );
    for r in busy {
        assert_error(r, 503, "busy");
        assert_eq!(r.header("retry-after"), Some("2"));
    }
}

#[test]
fn a_request_over_the_time_limit_gets_503_and_the_server_goes_on() {
    let s = Server::start(&["--timeout", "2"]);
    // Large enough to take well over 2 s with every picture (1600×1200 took under 2 s
    // once the backbone ran at 224 px).
    let (a, b) = slow_pair(3200, 2400);
    let reply = s.post(
        "/api/compare",
        &Form::new()
            .file("a", "a.png", a)
            .file("b", "b.png", b)
            .text("pictures", "all"),
    );
    assert_error(&reply, 503, "longer than the server's limit of 2 s");
    assert_eq!(reply.header("retry-after"), Some("2"));
    // The server goes on: once the abandoned work has ended (it keeps its slot until
    // then; it is cancelled with its request, so that is soon), a small comparison
    // succeeds. Bounded wait.
    let small = pair_form(
        "tests/fixtures/two-changes-far-a.png",
        "tests/fixtures/two-changes-far-b.png",
    );
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let r = s.post("/api/compare", &small);
        if r.status == 200 {
            assert_eq!(r.json()["boxes"].as_array().unwrap().len(), 2);
            break;
        }
        assert_error(&r, 503, "");
        assert!(
            std::time::Instant::now() < give_up,
            "the server never recovered"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

// ---------------------------------------------------------------------------------
// Hostile clients: silence, slow heads, stalled uploads, memory, abandoned work
// ---------------------------------------------------------------------------------

impl Server {
    fn addr(&self) -> std::net::SocketAddr {
        self.url
            .trim_start_matches("http://")
            .parse()
            .expect("host:port")
    }

    /// A raw connection, with a read timeout.
    fn connect(&self) -> TcpStream {
        let c = TcpStream::connect(self.addr()).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        c
    }
}

/// Reads until the server closes the connection; what it sent, and when it closed
/// (`None`: still open at the read timeout).
fn read_until_closed(mut c: TcpStream) -> (Vec<u8>, Option<Instant>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return (got, Some(Instant::now())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (got, Some(Instant::now())),
            Err(_) => return (got, None),
        }
    }
}

/// A request head for `POST /api/compare` with a multipart body of `len` bytes.
fn post_head(len: usize) -> Vec<u8> {
    format!(
        "POST /api/compare HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nContent-Length: {len}\r\n\r\n",
        Form::content_type()
    )
    .into_bytes()
}

#[test]
fn silent_and_slow_clients_are_disconnected_and_others_are_served() {
    let s = Server::start(&[
        "--header-timeout",
        "2",
        "--idle-timeout",
        "3",
        "--max-connections",
        "16",
    ]);
    let t0 = Instant::now();
    // More silent connections than the server holds, and some that send half a head.
    let silent: Vec<TcpStream> = (0..24).map(|_| s.connect()).collect();
    let mut half: Vec<TcpStream> = (0..4).map(|_| s.connect()).collect();
    for c in &mut half {
        c.write_all(b"POST /api/compare HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
    }
    // A real request still gets through: when every slot is taken, idle connections
    // are closed after a second.
    let small = pair_form(
        "tests/fixtures/two-changes-far-a.png",
        "tests/fixtures/two-changes-far-b.png",
    );
    let r = s.post("/api/compare", &small);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    // Every silent or slow connection is closed, none later than its limit allows
    // (3 s idle, 2 s for a head, plus the watchdog's tick and this machine's load).
    let closed: Vec<(Vec<u8>, Option<Instant>)> = silent
        .into_iter()
        .chain(half)
        .map(read_until_closed)
        .collect();
    for (i, (got, at)) in closed.iter().enumerate() {
        let at = at.unwrap_or_else(|| panic!("connection {i} still open after 30 s"));
        assert!(
            at - t0 < Duration::from_secs(12),
            "connection {i}: {:?}",
            at - t0
        );
        assert!(
            got.is_empty() || got.starts_with(b"HTTP/1.1 408"),
            "{i}: {got:?}"
        );
    }
    // A keep-alive connection left idle after its answer is closed too.
    let mut c = s.connect();
    c.write_all(b"GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let t1 = Instant::now();
    let (got, at) = read_until_closed(c);
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let idle = at.expect("closed") - t1;
    assert!(
        idle >= Duration::from_secs(2) && idle < Duration::from_secs(8),
        "{idle:?}"
    );
    // (A fresh client: the pooled connection of the first request was closed as idle.)
    let fresh: ureq::Agent = ureq::Agent::config_builder().build().into();
    let info = fresh
        .get(format!("{}/api/info", s.url))
        .call()
        .expect("GET");
    assert_eq!(info.status(), 200);
}

#[test]
fn a_stalled_upload_gets_408_and_a_slow_one_408_at_the_time_limit() {
    let s = Server::start(&["--idle-timeout", "2", "--timeout", "4"]);
    let body = pair_form(
        "tests/fixtures/two-changes-far-a.png",
        "tests/fixtures/two-changes-far-b.png",
    )
    .body();
    // Half the body, then nothing.
    let mut c = s.connect();
    c.write_all(&post_head(body.len())).unwrap();
    c.write_all(&body[..body.len() / 2]).unwrap();
    let t0 = Instant::now();
    let (got, at) = read_until_closed(c);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("the upload stalled"), "{text}");
    let took = at.expect("closed after the answer") - t0;
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    // A byte a second never stalls for 2 s, but the whole request has 4 s.
    let mut c = s.connect();
    c.write_all(&post_head(body.len())).unwrap();
    let t0 = Instant::now();
    let mut sent = 0;
    let mut answer = Vec::new();
    c.set_read_timeout(Some(Duration::from_millis(900)))
        .unwrap();
    while t0.elapsed() < Duration::from_secs(10) {
        if c.write_all(&body[sent..sent + 1]).is_err() {
            break;
        }
        sent += 1;
        let mut buf = [0u8; 1024];
        if let Ok(n) = c.read(&mut buf) {
            answer.extend_from_slice(&buf[..n]);
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains("did not complete within the server's limit of 4 s"),
        "{text}"
    );
    assert_eq!(
        s.post(
            "/api/compare",
            &pair_form(
                "tests/fixtures/two-changes-far-a.png",
                "tests/fixtures/two-changes-far-b.png",
            )
        )
        .status,
        200
    );
}

#[test]
fn uploads_beyond_the_memory_budget_get_503_with_retry_after() {
    let s = Server::start(&["--max-upload-mb", "4", "--upload-budget-mb", "4"]);
    // One upload announces 3 MiB and sends 2.5 MiB of it: the 3 MiB are taken from the
    // budget.
    let mut holder = s.connect();
    holder.write_all(&post_head(3 << 20)).unwrap();
    holder.write_all(&vec![b'-'; 5 << 19]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // A 2 MiB upload does not fit beside it ...
    let big =
        Form::new()
            .file("a", "a.png", vec![7u8; 1 << 20])
            .file("b", "b.png", vec![7u8; 1 << 20]);
    let r = s.post("/api/compare", &big);
    assert_error(&r, 503, "memory for uploads");
    assert_eq!(r.header("retry-after"), Some("2"));
    // ... a small one does.
    let small = pair_form(
        "tests/fixtures/two-changes-far-a.png",
        "tests/fixtures/two-changes-far-b.png",
    );
    assert_eq!(s.post("/api/compare", &small).status, 200);
    // The budget comes back when the holder goes; the big one is then answered on
    // its own account (not images: 422).
    drop(holder);
    std::thread::sleep(Duration::from_millis(300));
    assert_error(&s.post("/api/compare", &big), 422, "not an image");
}

/// A pair whose comparison takes many seconds (every pixel changed, fine pattern).
/// A pair that takes well over the test server's 3 s limit even on a quiet machine
/// (4000 × 3000, every picture; 3000 × 2000 once finished in under 3 s).
fn slow_upload() -> Vec<u8> {
    let (a, b) = slow_pair(4000, 3000);
    Form::new()
        .file("a", "a.png", a)
        .file("b", "b.png", b)
        .text("pictures", "all")
        .body()
}

/// The time until the one slot takes a comparison again (polled every 50 ms, at most
/// 30 s), measured with a pair that costs nothing (identical 16 x 16 images).
fn until_the_slot_is_free(s: &Server) -> Duration {
    let tiny = png_bytes(&RgbImage::from_pixel(16, 16, Rgb([10, 20, 30])));
    let small = Form::new()
        .file("a", "a.png", tiny.clone())
        .file("b", "b.png", tiny);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(30) {
        let r = s.post("/api/compare", &small);
        if r.status == 200 {
            return t0.elapsed();
        }
        assert_error(&r, 503, "busy");
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the slot never came free");
}

#[test]
fn a_timed_out_or_abandoned_comparison_frees_its_slot_within_a_second() {
    let s = Server::start(&["--jobs", "1", "--queue", "0", "--timeout", "3"]);
    let body = slow_upload();
    // Over the time limit: 503, and the work stops with it.
    let r = s.post_raw("/api/compare", &Form::content_type(), body.clone());
    assert_error(&r, 503, "longer than the server's limit of 3 s");
    let freed = until_the_slot_is_free(&s);
    assert!(
        freed < Duration::from_millis(1500),
        "slot busy {freed:?} after the time limit"
    );
    // The client goes away mid-comparison: the work stops too.
    let mut c = s.connect();
    c.write_all(&post_head(body.len())).unwrap();
    c.write_all(&body).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    drop(c);
    let freed = until_the_slot_is_free(&s);
    assert!(
        freed < Duration::from_millis(1500),
        "slot busy {freed:?} after the client left"
    );
}

// ---------------------------------------------------------------------------------
// Start and stop
// ---------------------------------------------------------------------------------

#[test]
fn ctrl_c_stops_cleanly_and_a_taken_port_is_one_line_of_error() {
    let mut s = Server::start(&[]);
    let port = s.url.rsplit(':').next().unwrap().to_string();
    // A second server on the same port: exit 2, one line naming the address.
    let out = Command::new(env!("CARGO_BIN_EXE_spotdiff"))
        .args(["serve", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("cannot listen"),
        "{err}"
    );

    assert_eq!(s.get("/api/info").status, 200);
    let status = Command::new("kill")
        .args(["-INT", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = s.child.wait().unwrap().code();
    assert_eq!(code, Some(0), "Ctrl-C is a normal stop");
    let mut rest = String::new();
    std::io::Read::read_to_string(s.child.stdout.as_mut().unwrap(), &mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");
}
