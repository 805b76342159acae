//! `spotdiff serve`: a local web server with one page and a JSON API behind it.
//!
//! Everything an upload touches stays in memory and is dropped when its request ends:
//! the body is read into a buffer (capped), the images are decoded with the library's
//! limits (checked from the header before any pixel memory is allocated), compared and
//! rendered on Tokio's blocking pool, and the answer is built from memory. Nothing is
//! written to disk.
//!
//! Load is bounded three ways: at most `jobs` comparisons run at once, at most `queue`
//! more wait for a slot (beyond that: 503 with `Retry-After`), and each request has a
//! time limit.

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
use limits::{Config, Gate};
use rayon::prelude::*;
use serde_json::{json, Value};
use spotdiff::render::{render, Picture};
use spotdiff::{encode_png, Error, Image, Limits, Method, Options, Session, Style, Verdict};
use std::net::IpAddr;
use std::path::Path;
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
(checked before decoding), bad input gets 400/422 with {\"error\": \"...\"}. When all
--jobs slots are busy, up to --queue requests wait; more get 503 with Retry-After.

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
    #[arg(long, default_value_t = 40_000_000, value_parser = clap::value_parser!(u64).range(1..))]
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
    session: Session,
}

/// The whole server: the page, its assets and the API.
pub fn router(config: Config, session: Session) -> Router {
    let state = Arc::new(AppState {
        gate: Gate::new(config.jobs, config.queue),
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
        },
    });
    axum::Json(body).into_response()
}

/// `POST /api/compare`: the report as JSON, pictures as PNG data URLs.
async fn compare_json(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let deadline = Instant::now() + state.config.timeout;
    let work = async {
        let job = Job::from_request(req, &state.config).await?;
        let out = run_job(&state, job, deadline, Output::Json).await?;
        Ok::<_, ApiError>(out)
    };
    respond(tokio::time::timeout_at(deadline.into(), work).await, &state)
}

/// `POST /api/compare/{name}.png`: one picture as `image/png`.
async fn compare_picture(
    State(state): State<Arc<AppState>>,
    UrlPath(file): UrlPath<String>,
    req: Request,
) -> Response {
    let deadline = Instant::now() + state.config.timeout;
    let work = async {
        // The upload is read first, so that even a wrong name is answered cleanly.
        let job = Job::from_request(req, &state.config).await?;
        let picture = file
            .strip_suffix(".png")
            .and_then(Picture::parse)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("no picture `{file}` (use {}.png)", picture_names("{")),
                )
            })?;
        run_job(&state, job, deadline, Output::Png(picture)).await
    };
    respond(tokio::time::timeout_at(deadline.into(), work).await, &state)
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
/// that work really ends: the number of comparisons running never exceeds `jobs`.
async fn run_job(
    state: &Arc<AppState>,
    job: Job,
    deadline: Instant,
    output: Output,
) -> Result<Response, ApiError> {
    let permit = state.gate.enter(deadline).await?;
    let st = Arc::clone(state);
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        compare_job(&st, job, output)
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

fn decode(upload: &Upload, which: &str, limits: &Limits) -> Result<Image, Error> {
    let label = format!("image {which} ({})", upload.name);
    let mut img = spotdiff::decode(Path::new(&label), &upload.bytes, limits)?;
    img.path = upload.name.clone().into();
    Ok(img)
}

fn compare_job(state: &AppState, job: Job, output: Output) -> Result<Response, ApiError> {
    let limits = job.options.limits;
    let (a, b) = rayon::join(
        || decode(&job.a, "A", &limits),
        || decode(&job.b, "B", &limits),
    );
    let (a, b) = (a?, b?);
    drop(job.a.bytes);
    drop(job.b.bytes);
    let cmp = state.session.compare(&a, &b, &job.options)?;
    let png = |p: Picture| -> Result<Vec<u8>, ApiError> {
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
            Ok(resp)
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
            Ok(axum::Json(value).into_response())
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
