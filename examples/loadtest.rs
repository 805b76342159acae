//! Load test for `spotdiff serve`: N comparisons from C concurrent clients on loopback.
//! Bounded in count and time; stops by itself. Prints the status counts and latencies;
//! exits 1 on any 5xx, transport error or wrong answer. `scripts/bench/loadtest.sh` starts
//! the server, runs this and records the server's peak memory.
//!
//! cargo run --release --example loadtest -- --url http://127.0.0.1:8080 \
//!     [--requests 1000] [--clients 50] [--a A.png --b B.png] [--pictures all] [--max-seconds 900]

#[path = "../tests/support/multipart.rs"]
mod multipart;

use multipart::Form;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    requests: usize,
    clients: usize,
    a: String,
    b: String,
    pictures: String,
    max_seconds: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        requests: 1000,
        clients: 50,
        a: "examples/before.png".into(),
        b: "examples/after.png".into(),
        pictures: "all".into(),
        max_seconds: 900,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|_| format!("bad number {v}"));
        match flag.as_str() {
            "--url" => args.url = value()?.trim_end_matches('/').to_string(),
            "--requests" => args.requests = num(value()?)?,
            "--clients" => args.clients = num(value()?)?.max(1),
            "--a" => args.a = value()?,
            "--b" => args.b = value()?,
            "--pictures" => args.pictures = value()?,
            "--max-seconds" => args.max_seconds = num(value()?)? as u64,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if args.url.is_empty() {
        return Err("--url is required".into());
    }
    Ok(args)
}

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<String, usize>,
    latencies: Vec<Duration>,
    wrong: usize,
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
    let form = Form::new()
        .file("a", "a.png", read(&args.a))
        .file("b", "b.png", read(&args.b))
        .text("pictures", &args.pictures);
    let body = Arc::new(form.body());
    let endpoint = format!("{}/api/compare", args.url);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(180)))
        .build()
        .into();

    // The expected answer, from one request before the load.
    let expected_boxes = {
        let mut r = agent
            .post(&endpoint)
            .header("content-type", Form::content_type())
            .send(&body[..])
            .expect("first request");
        assert_eq!(r.status(), 200, "first request");
        let v: serde_json::Value = serde_json::from_slice(
            &r.body_mut()
                .with_config()
                .limit(512 << 20)
                .read_to_vec()
                .unwrap(),
        )
        .unwrap();
        v["boxes"].as_array().unwrap().len()
    };

    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop_at = Instant::now() + Duration::from_secs(args.max_seconds);
    let t0 = Instant::now();
    let threads: Vec<_> = (0..args.clients)
        .map(|_| {
            let (next, tally, body, agent, endpoint) = (
                Arc::clone(&next),
                Arc::clone(&tally),
                Arc::clone(&body),
                agent.clone(),
                endpoint.clone(),
            );
            let n = args.requests;
            std::thread::spawn(move || {
                while next.fetch_add(1, Ordering::SeqCst) < n && Instant::now() < stop_at {
                    let t = Instant::now();
                    let r = agent
                        .post(&endpoint)
                        .header("content-type", Form::content_type())
                        .send(&body[..]);
                    let (key, ok) = match r {
                        Ok(mut resp) => {
                            let status = resp.status().as_u16();
                            let bytes =
                                resp.body_mut().with_config().limit(512 << 20).read_to_vec();
                            let right = status != 200
                                || bytes
                                    .ok()
                                    .and_then(|b| {
                                        serde_json::from_slice::<serde_json::Value>(&b).ok()
                                    })
                                    .is_some_and(|v| {
                                        v["boxes"].as_array().map(Vec::len) == Some(expected_boxes)
                                    });
                            (status.to_string(), right)
                        }
                        Err(e) => (format!("transport error: {e}"), true),
                    };
                    let mut t2 = tally.lock().unwrap();
                    *t2.statuses.entry(key).or_default() += 1;
                    t2.latencies.push(t.elapsed());
                    t2.wrong += usize::from(!ok);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let wall = t0.elapsed();
    let mut t = tally.lock().unwrap();
    t.latencies.sort();
    let pct = |p: f64| {
        let i = ((t.latencies.len() as f64 - 1.0) * p).round() as usize;
        t.latencies.get(i).copied().unwrap_or_default()
    };
    let done: usize = t.statuses.values().sum();
    println!(
        "requests {done} (of {}), clients {}, pictures {}, wall {:.1} s, {:.1} comparisons/s",
        args.requests,
        args.clients,
        args.pictures,
        wall.as_secs_f64(),
        done as f64 / wall.as_secs_f64()
    );
    println!(
        "latency p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.95).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3
    );
    for (k, v) in &t.statuses {
        println!("status {k}: {v}");
    }
    println!("wrong answers: {}", t.wrong);
    let bad = t
        .statuses
        .iter()
        .filter(|(k, _)| k.starts_with('5') || k.starts_with("transport"))
        .map(|(_, v)| v)
        .sum::<usize>();
    if bad > 0 || t.wrong > 0 || done < args.requests {
        eprintln!(
            "loadtest: FAILED ({bad} 5xx or transport errors, {} wrong answers, {done} done)",
            t.wrong
        );
        std::process::exit(1);
    }
}
