//! `spotdiff serve`: a local web server with one page and a JSON API behind it.
//!
//! Everything an upload touches stays in memory and is dropped when its request ends:
//! the body is read into one buffer (capped, within a budget shared by all uploads in
//! flight), the images' headers are read and checked (limits, sizes) before any pixel
//! is decoded, then they are decoded, compared and rendered on Tokio's blocking pool,
//! and the answer is built from memory. Nothing is written to disk.
//!
//! Load is bounded: at most `max_connections` connections are open (`conn.rs`: own
//! accept loop, header and idle timeouts), uploads in flight share a memory budget, at
//! most `jobs` comparisons run at once and at most `queue` more wait for a slot
//! (beyond either: 503 with `Retry-After`), and each request has a time limit. A
//! request that is abandoned (its time limit, its client gone) cancels its
//! comparison, which frees the slot within a fraction of a second.

mod conn;
mod errors;
mod form;
mod limits;
mod run;

pub use run::run;

use crate::cli::args::FormArgs;
use crate::cli::backbone::BackboneArgs;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use errors::ApiError;
use form::{Job, Upload};
use limits::{Budget, Config, Gate};
use rayon::prelude::*;
use serde_json::{json, Value};
use spotdiff::render::{render, Picture};
use spotdiff::{encode_png, Cancel, Image, Method, Options, Session, Style, Verdict};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

const SERVE_HELP: &str = "\
The page: open the URL printed at start-up, pick or drop two images, press Compare.

The API (described at /api/openapi.json):
  POST /api/compare          multipart fields a, b (files) and options; answers the
                             report of `spotdiff compare --json`, with the pictures
                             named in `pictures` as PNG data URLs
  POST /api/compare/NAME.png the same upload; answers one picture as image/png
                             (a, b, side, heatmap, mask, filled)
  GET  /api/info             methods, defaults and limits

Limits: uploads over --max-upload-mb get 413, images over --max-pixels get 413
(checked from the headers before decoding, as are their sizes), bad input gets
400/422 with {\"error\": \"...\"}. When all --jobs slots are busy, up to --queue
requests wait; more get 503 with Retry-After, as do uploads beyond
--upload-budget-mb. A request's head must arrive within --header-timeout of its first
byte; a connection silent for --idle-timeout is closed (an upload that stalls that
long gets 408); at most --max-connections are open (when all are, idle ones are
closed after a second). A request over --timeout gets 503 (408 while still
uploading), and its comparison is stopped.

Nothing uploaded is written to disk; it is dropped when its request ends.

Examples:
  spotdiff serve                      # http://127.0.0.1:8080/
  spotdiff serve --port 0             # any free port (printed)
  curl -F a=@before.png -F b=@after.png http://127.0.0.1:8080/api/compare
  curl -F a=@before.png -F b=@after.png -o side.png http://127.0.0.1:8080/api/compare/side.png";

/// `spotdiff serve` options.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = SERVE_HELP)]
pub struct ServeArgs {
    /// Port to listen on (0 picks a free one; the URL is printed at start-up).
    #[arg(short, long, default_value_t = 8080)]
    pub port: u16,

    /// Address to listen on. The default serves this machine only; 0.0.0.0 opens the
    /// page to the whole network, without any authentication.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Largest upload (both images and the options together), in MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_upload_mb: u64,

    /// Largest image accepted, in pixels (checked from the header before decoding).
    /// A comparison needs about 25 bytes per pixel of memory and up to half a
    /// microsecond of CPU per pixel per method where everything changed.
    #[arg(long, default_value_t = 25_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pixels: u64,

    /// Comparisons that run at once (0: one per CPU core).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,

    /// Requests that may wait for a free slot; more get 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub queue: usize,

    /// Time limit for one request, in seconds: upload, waiting, comparing, pictures.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Seconds a request's head (request line and headers) may take from its first
    /// byte; a slower client is disconnected.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,

    /// Seconds a connection may stay silent: between requests (it is closed), inside
    /// an upload (408) or while its answer is sent (it is closed).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout: u64,

    /// Connections open at once; more wait to be accepted. When all are open, idle
    /// ones are closed after one second.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_connections: u64,

    /// Memory for all uploads in flight together, in MiB (at least --max-upload-mb);
    /// an upload beyond it gets 503 with Retry-After.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub upload_budget_mb: u64,

    #[command(flatten)]
    pub backbone: BackboneArgs,
}

const INDEX_HTML: &str = include_str!("web/index.html");
const APP_JS: &str = include_str!("web/app.js");
const STYLE_CSS: &str = include_str!("web/style.css");
const OPENAPI_JSON: &str = include_str!("web/openapi.json");

struct AppState {
    config: Config,
    gate: Gate,
    budget: Budget,
    session: Session,
}

/// The whole server: the page, its assets and the API.
pub fn router(config: Config, session: Session) -> Router {
    let state = Arc::new(AppState {
        gate: Gate::new(config.jobs, config.queue),
        budget: Budget::new(config.upload_budget_bytes),
        session,
        config,
    });
    Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", INDEX_HTML)))
        .route(
            "/app.js",
            get(|| asset("text/javascript; charset=utf-8", APP_JS)),
        )
        .route(
            "/style.css",
            get(|| asset("text/css; charset=utf-8", STYLE_CSS)),
        )
        .route(
            "/api/openapi.json",
            get(|| asset("application/json", OPENAPI_JSON)),
        )
        .route("/api/info", get(info))
        .route("/api/compare", post(compare_json))
        .route("/api/compare/{file}", post(compare_picture))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such page").into_response() })
        // The body limit is enforced while reading (see `read_body`), so that an
        // oversized upload still gets a clean 413.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Method names offered by the page, in the library's order.
fn methods() -> Vec<&'static str> {
    Method::ALL.iter().map(|m| m.name()).collect()
}

async fn info(State(state): State<Arc<AppState>>) -> Response {
    let o = Options::default();
    let s = Style::default();
    let c = &state.config;
    let body = json!({
        "name": "spotdiff",
        "version": env!("CARGO_PKG_VERSION"),
        "methods": methods(),
        "pictures": Picture::ALL.iter().map(|p| p.name()).collect::<Vec<_>>(),
        "fields": FormArgs::field_names(),
        "defaults": {
            "method": o.method,
            "threshold": "auto",
            "ssim_threshold": "auto",
            "deep_threshold": "auto",
            "min_area": o.min_area,
            "merge_distance": o.merge_distance,
            "size_policy": o.size_policy,
            "color": format!("#{:02x}{:02x}{:02x}", s.color[0], s.color[1], s.color[2]),
            "thickness": s.thickness,
            "fill_opacity": s.fill_opacity,
        },
        "limits": {
            "max_upload_bytes": c.max_upload_bytes,
            "max_pixels": c.max_pixels,
            "jobs": c.jobs,
            "queue": c.queue,
            "timeout_s": c.timeout.as_secs(),
            "header_timeout_s": c.header_timeout.as_secs(),
            "idle_timeout_s": c.idle_timeout.as_secs(),
            "max_connections": c.max_connections,
            "upload_budget_bytes": c.upload_budget_bytes,
        },
    });
    axum::Json(body).into_response()
}

/// `POST /api/compare`: the report as JSON, pictures as PNG data URLs.
async fn compare_json(State(state): State<Arc<AppState>>, req: Request) -> Response {
    handle(&state, req, |_| Ok(Output::Json)).await
}

/// `POST /api/compare/{name}.png`: one picture as `image/png`.
async fn compare_picture(
    State(state): State<Arc<AppState>>,
    UrlPath(file): UrlPath<String>,
    req: Request,
) -> Response {
    // The upload is read first, so that even a wrong name is answered cleanly.
    handle(&state, req, move |_| {
        let picture = file
            .strip_suffix(".png")
            .and_then(Picture::parse)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("no picture `{file}` (use {}.png)", picture_names("{")),
                )
            })?;
        Ok(Output::Png(picture))
    })
    .await
}

/// One comparison request: the upload (408 when it is too slow), then the work (503
/// when it is too slow). The comparison's token is cancelled when this future ends or
/// is dropped (the client went away, the time limit passed), which stops the work.
async fn handle(
    state: &Arc<AppState>,
    req: Request,
    output: impl FnOnce(&Job) -> Result<Output, ApiError>,
) -> Response {
    let deadline = Instant::now() + state.config.timeout;
    let cancel = Cancel::new();
    let _stop = cancel.on_drop();
    let upload = Job::from_request(req, &state.config, &state.budget);
    let job = match tokio::time::timeout_at(deadline.into(), upload).await {
        Err(_) => return ApiError::upload_too_slow(state.config.timeout).into_response(),
        Ok(Err(e)) => return e.into_response(),
        Ok(Ok(job)) => job,
    };
    let work = async {
        let output = output(&job)?;
        run_job(state, job, deadline, output, cancel.clone()).await
    };
    respond(tokio::time::timeout_at(deadline.into(), work).await, state)
}

pub(crate) fn picture_names(open: &str) -> String {
    let names: Vec<&str> = Picture::ALL.iter().map(|p| p.name()).collect();
    format!("{open}{}}}", names.join(","))
}

fn respond(
    r: Result<Result<Response, ApiError>, tokio::time::error::Elapsed>,
    state: &AppState,
) -> Response {
    match r {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => e.into_response(),
        Err(_) => ApiError::busy(format!(
            "the request took longer than the server's limit of {} s; try smaller images",
            state.config.timeout.as_secs()
        ))
        .into_response(),
    }
}

enum Output {
    Json,
    Png(Picture),
}

/// Waits for a slot, then decodes, compares and renders on the blocking pool. The slot
/// travels with the blocking work, so a request that times out keeps its slot until
/// that work really ends (soon: its token is cancelled): the number of comparisons
/// running never exceeds `jobs`.
async fn run_job(
    state: &Arc<AppState>,
    job: Job,
    deadline: Instant,
    output: Output,
    cancel: Cancel,
) -> Result<Response, ApiError> {
    let permit = state.gate.enter(deadline).await?;
    let st = Arc::clone(state);
    let work = tokio::task::spawn_blocking(move || {
        let big = job.a.bytes.len() + job.b.bytes.len() >= TRIM_AFTER_BYTES;
        let r = {
            let _permit = permit;
            compare_job(&st, job, output, &cancel)
        };
        if big
            || r.as_ref()
                .is_ok_and(|(_, pixels)| *pixels >= TRIM_AFTER_PIXELS)
        {
            release_memory();
        }
        r.map(|(resp, _)| resp)
    });
    match work.await {
        Ok(r) => r,
        // A panic in the comparison is a bug; the server answers and goes on.
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error in the comparison: {e}"),
        )),
    }
}

/// After a request with this much upload, or this many pixels, freed memory is
/// handed back to the system (see [`release_memory`]).
const TRIM_AFTER_BYTES: usize = 4 << 20;
const TRIM_AFTER_PIXELS: u64 = 4_000_000;

/// Hands freed heap memory back to the system. glibc keeps what large requests
/// freed in its arenas (one per thread that allocated), so after a burst the
/// process would stay at its peak; `malloc_trim` returns the free pages. At most one
/// trim runs at a time; it takes a few milliseconds.
fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        static TRIMMING: AtomicBool = AtomicBool::new(false);
        if !TRIMMING.swap(true, Ordering::AcqRel) {
            // SAFETY: malloc_trim has no preconditions; it only walks the allocator's
            // own free lists.
            unsafe {
                libc::malloc_trim(0);
            }
            TRIMMING.store(false, Ordering::Release);
        }
    }
}

/// The label an upload's messages name: `image A (its file name)`.
fn label(upload: &Upload, which: &str) -> std::path::PathBuf {
    format!("image {which} ({})", upload.name).into()
}

/// Decodes (headers and sizes first), compares and renders; the answer and the
/// number of pixels compared.
fn compare_job(
    state: &AppState,
    job: Job,
    output: Output,
    cancel: &Cancel,
) -> Result<(Response, u64), ApiError> {
    let (label_a, label_b) = (label(&job.a, "A"), label(&job.b, "B"));
    let (mut a, mut b): (Image, Image) = spotdiff::decode_pair(
        (&label_a, &job.a.bytes),
        (&label_b, &job.b.bytes),
        &job.options,
        cancel,
    )?;
    a.path = job.a.name.clone().into();
    b.path = job.b.name.clone().into();
    let pixels = u64::from(a.width()) * u64::from(a.height());
    drop(job.a.bytes);
    drop(job.b.bytes);
    drop(job.reservation);
    let cmp = state
        .session
        .compare_cancellable(&a, &b, &job.options, cancel)?;
    let png = |p: Picture| -> Result<Vec<u8>, ApiError> {
        cancel.check("pictures")?;
        let mut buf = Vec::new();
        encode_png(&render(&cmp, p, &job.style), &mut buf).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("could not encode the {} picture: {e}", p.name()),
            )
        })?;
        Ok(buf)
    };
    let report = &cmp.report;
    match output {
        Output::Png(p) => {
            let body = png(p)?;
            let mut resp = ([(header::CONTENT_TYPE, "image/png")], body).into_response();
            let h = resp.headers_mut();
            let verdict = match report.verdict {
                Verdict::Identical => "identical",
                Verdict::Same => "same",
                Verdict::Different => "different",
            };
            h.insert("x-spotdiff-verdict", HeaderValue::from_static(verdict));
            h.insert("x-spotdiff-boxes", HeaderValue::from(report.boxes.len()));
            Ok((resp, pixels))
        }
        Output::Json => {
            let encoded: Vec<(Picture, Vec<u8>)> = job
                .pictures
                .par_iter()
                .map(|&p| png(p).map(|bytes| (p, bytes)))
                .collect::<Result<_, _>>()?;
            let mut value = serde_json::to_value(report).expect("report serialises");
            value["pictures"] = Value::Object(
                encoded
                    .into_iter()
                    .map(|(p, bytes)| {
                        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                        (
                            p.name().to_string(),
                            format!("data:image/png;base64,{b64}").into(),
                        )
                    })
                    .collect(),
            );
            Ok((axum::Json(value).into_response(), pixels))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_description_lists_every_form_field() {
        let doc: Value = serde_json::from_str(OPENAPI_JSON).expect("openapi.json parses");
        let text = doc.to_string();
        for name in FormArgs::field_names()
            .into_iter()
            .chain(["a", "b", "pictures"].map(String::from))
        {
            assert!(
                text.contains(&format!("\"{name}\":{{")),
                "openapi.json does not describe the form field `{name}`"
            );
        }
        assert!(methods().contains(&"fused"));
    }
}
