//! Load test for `spotdiff serve` on loopback, bounded in count and time (stops by
//! itself). Two modes:
//!
//! - mixed (default): N requests from C concurrent clients, a share of them hostile
//!   (not images, truncated files, decompression bombs, bad forms and options, sizes
//!   that differ, junk uploads of several MiB), plus S slow clients that hold
//!   connections the whole time (silent, half a head, a head a byte at a time, a body
//!   that stalls). Every answer is checked: valid requests 200 with the right boxes,
//!   hostile ones their own 4xx. Prints status counts, the valid requests' latency
//!   (p50, p95, p99, max) and what happened to the slow clients; exits 1 on any 5xx,
//!   transport error of a valid request, unexpected status or wrong answer.
//! - burst (`--burst K --burst-mb M`): K uploads of M MiB at once (a valid A, junk B),
//!   for the memory budget: each answer must be 503 with Retry-After (over the budget)
//!   or 422 (admitted, then refused as not an image).
//!
//! `scripts/bench/loadtest.sh` starts the server, runs both and records its memory.
//!
//! cargo run --release --example loadtest -- --url http://127.0.0.1:8080 \
//!     [--requests 1000] [--clients 50] [--slow-clients 20] [--hostile 0.3] \
//!     [--a A.png --b B.png] [--pictures all] [--max-seconds 900] [--burst 30 --burst-mb 63]

#[path = "../tests/support/multipart.rs"]
mod multipart;

use multipart::Form;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    requests: usize,
    clients: usize,
    slow_clients: usize,
    hostile: f64,
    a: String,
    b: String,
    pictures: String,
    max_seconds: u64,
    burst: usize,
    burst_mb: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        requests: 1000,
        clients: 50,
        slow_clients: 20,
        hostile: 0.3,
        a: "examples/before.png".into(),
        b: "examples/after.png".into(),
        pictures: "all".into(),
        max_seconds: 900,
        burst: 0,
        burst_mb: 63,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|_| format!("bad number {v}"));
        match flag.as_str() {
            "--url" => args.url = value()?.trim_end_matches('/').to_string(),
            "--requests" => args.requests = num(value()?)?,
            "--clients" => args.clients = num(value()?)?.max(1),
            "--slow-clients" => args.slow_clients = num(value()?)?,
            "--hostile" => {
                args.hostile = value()?
                    .parse::<f64>()
                    .ok()
                    .filter(|h| (0.0..=1.0).contains(h))
                    .ok_or("--hostile takes a share from 0 to 1")?
            }
            "--a" => args.a = value()?,
            "--b" => args.b = value()?,
            "--pictures" => args.pictures = value()?,
            "--max-seconds" => args.max_seconds = num(value()?)? as u64,
            "--burst" => args.burst = num(value()?)?,
            "--burst-mb" => args.burst_mb = num(value()?)?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if args.url.is_empty() {
        return Err("--url is required".into());
    }
    Ok(args)
}

/// One kind of request and the statuses its answer may have.
struct Kind {
    name: &'static str,
    content_type: String,
    body: Arc<Vec<u8>>,
    expect: &'static [u16],
}

/// A PNG whose header claims `w × h` (8-bit RGBA), with an empty image stream.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn kinds(a: &[u8], b: &[u8], pictures: &str) -> (Kind, Vec<Kind>) {
    let ct = Form::content_type();
    let kind = |name, form: Form, expect| Kind {
        name,
        content_type: ct.clone(),
        body: Arc::new(form.body()),
        expect,
    };
    let with_a = |b_name: &str, b_bytes: Vec<u8>| {
        Form::new()
            .file("a", "a.png", a.to_vec())
            .file("b", b_name, b_bytes)
    };
    let valid = kind(
        "valid",
        with_a("b.png", b.to_vec()).text("pictures", pictures),
        &[200],
    );
    let junk: Vec<u8> = (0..8u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let hostile = vec![
        kind(
            "not an image",
            with_a("notes.txt", b"plain text".to_vec()),
            &[422],
        ),
        kind(
            "truncated",
            with_a("cut.png", b[..b.len() / 2].to_vec()),
            &[422],
        ),
        kind(
            "bomb",
            with_a("bomb.png", png_claiming(100_000, 100_000)),
            &[413],
        ),
        kind(
            "claims another size",
            with_a("big.png", png_claiming(4000, 3000)),
            &[422],
        ),
        kind(
            "bad option",
            with_a("b.png", b.to_vec()).text("threshold", "-4"),
            &[400],
        ),
        kind(
            "unknown field",
            with_a("b.png", b.to_vec()).text("treshold", "4"),
            &[400],
        ),
        kind("empty file", with_a("empty.png", Vec::new()), &[400]),
        kind("junk upload", with_a("junk.png", junk), &[422, 503]),
        Kind {
            name: "not multipart",
            content_type: "application/json".into(),
            body: Arc::new(b"{\"a\": 1}".to_vec()),
            expect: &[400],
        },
        Kind {
            name: "broken multipart",
            content_type: ct.clone(),
            body: Arc::new(b"--nonsense\r\n".to_vec()),
            expect: &[400],
        },
    ];
    (valid, hostile)
}

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<String, usize>,
    valid_latencies: Vec<Duration>,
    wrong: usize,
    unexpected: BTreeMap<String, usize>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(180)))
        .build()
        .into()
}

/// Sends one request; its status (or the transport error) and JSON body.
fn send(agent: &ureq::Agent, url: &str, kind: &Kind) -> Result<(u16, Vec<u8>), String> {
    let mut resp = agent
        .post(url)
        .header("content-type", &kind.content_type)
        .send(&kind.body[..])
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(512 << 20)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    Ok((status, body))
}

fn boxes(body: &[u8]) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v["boxes"].as_array().map(Vec::len)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// What the slow clients saw, by kind.
#[derive(Default)]
struct SlowTally {
    /// Connections made, closed by the server, answered 408.
    by_kind: BTreeMap<&'static str, (usize, usize, usize)>,
    longest_held: Duration,
}

/// Slow client `i`: holds connections in one hostile way, again and again, until
/// `done`; records how each ended.
fn slow_client(i: usize, addr: String, done: Arc<AtomicBool>, tally: Arc<Mutex<SlowTally>>) {
    let kind = ["silent", "half head", "dribbled head", "stalled body"][i % 4];
    while !done.load(Ordering::Relaxed) {
        let Ok(mut c) = TcpStream::connect(&addr) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let t0 = Instant::now();
        let _ = c.set_read_timeout(Some(Duration::from_millis(500)));
        let head = "POST /api/compare HTTP/1.1\r\nHost: x\r\n";
        let mut sent = 0;
        match kind {
            "half head" => {
                let _ = c.write_all(head.as_bytes());
            }
            "stalled body" => {
                let _ = c.write_all(
                    format!(
                        "{head}Content-Type: {}\r\nContent-Length: 100000\r\n\r\n--{}\r\n",
                        Form::content_type(),
                        multipart::BOUNDARY
                    )
                    .as_bytes(),
                );
            }
            _ => {}
        }
        let mut got = Vec::new();
        let mut closed = false;
        while t0.elapsed() < Duration::from_secs(120) {
            if kind == "dribbled head" && sent < head.len() {
                if c.write_all(&head.as_bytes()[sent..sent + 1]).is_err() {
                    closed = true;
                    break;
                }
                sent += 1;
            }
            let mut buf = [0u8; 512];
            match c.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        let held = t0.elapsed();
        let mut t = tally.lock().unwrap();
        let e = t.by_kind.entry(kind).or_default();
        e.0 += 1;
        e.1 += usize::from(closed);
        e.2 += usize::from(got.starts_with(b"HTTP/1.1 408"));
        t.longest_held = t.longest_held.max(held);
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadtest: {e}");
            std::process::exit(2);
        }
    };
    let read = |p: &str| std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let (a, b) = (read(&args.a), read(&args.b));
    let endpoint = format!("{}/api/compare", args.url);
    if args.burst > 0 {
        burst(&args, &endpoint, &a);
        return;
    }
    let (valid, hostile) = kinds(&a, &b, &args.pictures);
    let agent = agent();

    // The expected answer, from one request before the load.
    let expected_boxes = match send(&agent, &endpoint, &valid) {
        Ok((200, body)) => boxes(&body).expect("a report with boxes"),
        other => panic!("first request: {other:?}"),
    };

    let done = Arc::new(AtomicBool::new(false));
    let slow_tally = Arc::new(Mutex::new(SlowTally::default()));
    let addr = args.url.trim_start_matches("http://").to_string();
    let slow: Vec<_> = (0..args.slow_clients)
        .map(|i| {
            let (addr, done, t) = (addr.clone(), Arc::clone(&done), Arc::clone(&slow_tally));
            std::thread::spawn(move || slow_client(i, addr, done, t))
        })
        .collect();

    let kinds = Arc::new((valid, hostile));
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop_at = Instant::now() + Duration::from_secs(args.max_seconds);
    let t0 = Instant::now();
    // Request i is hostile when its position in a cycle of 100 falls in the share.
    let hostile_per_100 = (args.hostile * 100.0).round() as usize;
    let clients: Vec<_> = (0..args.clients)
        .map(|_| {
            let (next, tally, kinds, agent, endpoint) = (
                Arc::clone(&next),
                Arc::clone(&tally),
                Arc::clone(&kinds),
                agent.clone(),
                endpoint.clone(),
            );
            let n = args.requests;
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n || Instant::now() >= stop_at {
                    break;
                }
                let is_hostile = (i * 37) % 100 < hostile_per_100;
                let kind = if is_hostile {
                    &kinds.1[i % kinds.1.len()]
                } else {
                    &kinds.0
                };
                let t = Instant::now();
                let r = send(&agent, &endpoint, kind);
                let took = t.elapsed();
                let mut t2 = tally.lock().unwrap();
                match r {
                    Ok((status, body)) => {
                        *t2.statuses.entry(status.to_string()).or_default() += 1;
                        if !kind.expect.contains(&status) {
                            *t2.unexpected
                                .entry(format!("{}: {status}", kind.name))
                                .or_default() += 1;
                        }
                        if !is_hostile {
                            t2.valid_latencies.push(took);
                            if status == 200 && boxes(&body) != Some(expected_boxes) {
                                t2.wrong += 1;
                            }
                        }
                    }
                    Err(e) => {
                        let key = if is_hostile {
                            format!("transport error (hostile {}): {e}", kind.name)
                        } else {
                            format!("transport error: {e}")
                        };
                        *t2.statuses.entry(key).or_default() += 1;
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let wall = t0.elapsed();
    done.store(true, Ordering::Relaxed);
    for s in slow {
        s.join().unwrap();
    }
    let mut t = tally.lock().unwrap();
    t.valid_latencies.sort();
    let done_n: usize = t.statuses.values().sum();
    println!(
        "requests {done_n} (of {}; {} valid, {} hostile), clients {}, slow clients {}, pictures {}, wall {:.1} s, {:.1} requests/s",
        args.requests,
        t.valid_latencies.len(),
        done_n - t.valid_latencies.len(),
        args.clients,
        args.slow_clients,
        args.pictures,
        wall.as_secs_f64(),
        done_n as f64 / wall.as_secs_f64()
    );
    let l = &t.valid_latencies;
    println!(
        "valid requests' latency: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        pct(l, 0.5),
        pct(l, 0.95),
        pct(l, 0.99),
        pct(l, 1.0)
    );
    for (k, v) in &t.statuses {
        println!("status {k}: {v}");
    }
    for (k, v) in &t.unexpected {
        println!("unexpected status {k}: {v}");
    }
    println!("wrong answers: {}", t.wrong);
    let s = slow_tally.lock().unwrap();
    for (k, (n, closed, timeouts)) in &s.by_kind {
        println!("slow clients, {k}: {n} connections, {closed} closed by the server, {timeouts} answered 408");
    }
    println!(
        "slow clients: longest a connection was held {:.1} s",
        s.longest_held.as_secs_f64()
    );
    let bad = t
        .statuses
        .iter()
        .filter(|(k, _)| k.starts_with('5') || k.starts_with("transport error:"))
        .map(|(_, v)| v)
        .sum::<usize>();
    let unexpected: usize = t.unexpected.values().sum();
    if bad > 0 || t.wrong > 0 || unexpected > 0 || done_n < args.requests {
        eprintln!(
            "loadtest: FAILED ({bad} 5xx or transport errors, {unexpected} unexpected statuses, {} wrong answers, {done_n} done)",
            t.wrong
        );
        std::process::exit(1);
    }
}

/// K uploads of M MiB at once; each must be refused for the budget (503 with
/// Retry-After) or admitted and refused as not an image (422).
fn burst(args: &Args, endpoint: &str, a: &[u8]) {
    let junk: Vec<u8> = (0..(args.burst_mb << 20) - a.len() - 1024)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0])
        .collect();
    let body = Arc::new(
        Form::new()
            .file("a", "a.png", a.to_vec())
            .file("b", "junk.png", junk)
            .body(),
    );
    let barrier = Arc::new(std::sync::Barrier::new(args.burst));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..args.burst)
        .map(|_| {
            let (body, barrier, endpoint) = (
                Arc::clone(&body),
                Arc::clone(&barrier),
                endpoint.to_string(),
            );
            std::thread::spawn(move || {
                let agent = agent();
                barrier.wait();
                let r = agent
                    .post(&endpoint)
                    .header("content-type", Form::content_type())
                    .send(&body[..]);
                match r {
                    Ok(resp) => format!(
                        "{}{}",
                        resp.status().as_u16(),
                        if resp.headers().contains_key("retry-after") {
                            " (with Retry-After)"
                        } else {
                            ""
                        }
                    ),
                    Err(e) => format!("transport error: {e}"),
                }
            })
        })
        .collect();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in threads {
        *counts.entry(t.join().unwrap()).or_default() += 1;
    }
    println!(
        "burst: {} uploads of {} MiB at once, {:.1} s",
        args.burst,
        args.burst_mb,
        t0.elapsed().as_secs_f64()
    );
    for (k, v) in &counts {
        println!("burst status {k}: {v}");
    }
    let bad: usize = counts
        .iter()
        .filter(|(k, _)| !(k.as_str() == "422" || k.as_str() == "503 (with Retry-After)"))
        .map(|(_, v)| v)
        .sum();
    if bad > 0 {
        eprintln!("loadtest: burst FAILED ({bad} answers neither 422 nor 503 with Retry-After)");
        std::process::exit(1);
    }
}
