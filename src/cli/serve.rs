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

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path as UrlPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use rayon::prelude::*;
use serde_json::{json, Value};
use spotdiff::render::{parse_hex_color, render, Picture, Style};
use spotdiff::write::encode_png;
use spotdiff::{
    Comparison, Error, Image, Limits, Method, Options, Rect, SizePolicy, Threshold, Verdict,
};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

    /// Backbone for deep features, loaded once and shared by every request (as for
    /// `spotdiff compare`: a name in models/, a manifest, a model .onnx, or `none`).
    #[arg(long, value_name = "NAME|PATH")]
    pub model: Option<String>,

    /// The ONNX Runtime library (default: $ORT_DYLIB_PATH, then
    /// .deps/onnxruntime/libonnxruntime.so of the project).
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<std::path::PathBuf>,
}

/// The server's settings, as [`router`] uses them.
#[derive(Debug, Clone)]
pub struct Config {
    pub max_upload_bytes: usize,
    pub max_pixels: u64,
    pub jobs: usize,
    pub queue: usize,
    pub timeout: Duration,
}

impl Config {
    fn from_args(args: &ServeArgs) -> Config {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Config {
            max_upload_bytes: usize::try_from(args.max_upload_mb << 20).unwrap_or(usize::MAX),
            max_pixels: args.max_pixels,
            jobs: if args.jobs == 0 { cores } else { args.jobs },
            queue: args.queue,
            timeout: Duration::from_secs(args.timeout),
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            max_pixels: self.max_pixels,
            max_file_bytes: self.max_upload_bytes as u64,
        }
    }
}

/// Runs the server until Ctrl-C (or SIGTERM); requests in flight are finished first.
pub fn run(args: ServeArgs) -> Result<u8, Error> {
    let config = Config::from_args(&args);
    let engine = Engine::new(args.model.as_deref(), args.ort_lib.as_deref())?;
    let addr = SocketAddr::new(args.host, args.port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.jobs.clamp(1, 4))
        .enable_all()
        .build()
        .map_err(|e| listen_error(addr, &e))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| listen_error(addr, &e))?;
        let local = listener.local_addr().map_err(|e| listen_error(addr, &e))?;
        let shown = match local.ip() {
            ip if ip.is_unspecified() => SocketAddr::new([127, 0, 0, 1].into(), local.port()),
            _ => local,
        };
        println!(
            "spotdiff serve: listening on http://{shown}/ (up to {} MiB per upload, {} comparisons at once; Ctrl-C to stop)",
            config.max_upload_bytes >> 20,
            config.jobs
        );
        if !local.ip().is_loopback() {
            println!(
                "spotdiff serve: warning: listening on {} opens the page to other machines, without authentication",
                local.ip()
            );
        }
        match &engine.backbone {
            spotdiff::deep::Selection::Ready(b) => {
                println!("spotdiff serve: deep features with {}", b.spec().name)
            }
            spotdiff::deep::Selection::Missing(reason) => println!(
                "spotdiff serve: note: {reason}; comparing with pixel + SSIM evidence only"
            ),
            spotdiff::deep::Selection::Off => {}
        }
        axum::serve(listener, router(config, engine))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| listen_error(addr, &e))?;
        println!("spotdiff serve: stopped");
        Ok(0)
    })
}

fn listen_error(addr: SocketAddr, e: &std::io::Error) -> Error {
    let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
        " (choose another with --port, or --port 0 for any free one)"
    } else {
        ""
    };
    Error::Read {
        path: addr.to_string().into(),
        problem: format!("cannot listen: {e}{hint}"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    println!("spotdiff serve: stopping (finishing requests in flight)");
}

// ---------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------

const INDEX_HTML: &str = include_str!("web/index.html");
const APP_JS: &str = include_str!("web/app.js");
const STYLE_CSS: &str = include_str!("web/style.css");
const OPENAPI_JSON: &str = include_str!("web/openapi.json");

struct AppState {
    config: Config,
    gate: Gate,
    engine: Engine,
}

/// The whole server: the page, its assets and the API.
pub fn router(config: Config, engine: Engine) -> Router {
    let state = Arc::new(AppState {
        gate: Gate::new(config.jobs, config.queue),
        engine,
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
        "defaults": {
            "method": o.method,
            "threshold": "auto",
            "ssim_threshold": "auto",
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

fn picture_names(open: &str) -> String {
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

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// An error answer: a status and one line of text, sent as `{"error": "..."}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    fn busy(message: impl Into<String>) -> ApiError {
        ApiError {
            retry_after: Some(2),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }

    fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload is larger than the server's limit of {} MiB",
                limit >> 20
            ),
        )
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = match &e {
            Error::Read { .. } | Error::InvalidOption(_) => StatusCode::BAD_REQUEST,
            Error::Decode { .. } | Error::SizeMismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Limit { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            // The backbone failed on this input: the server is fine, deep features
            // are not available for it.
            Error::Model { .. } | Error::Runtime { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Write { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // The library's hint names the command-line flag; here it is a form field
        // (on the page: More options, Different sizes).
        let message = e.to_string().replace("--size-policy", "size_policy");
        ApiError::new(status, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            axum::Json(json!({ "error": self.message, "status": self.status.as_u16() })),
        )
            .into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

// ---------------------------------------------------------------------------------
// The request: upload and options
// ---------------------------------------------------------------------------------

/// One uploaded image, still encoded.
struct Upload {
    name: String,
    bytes: Bytes,
}

/// Everything a comparison request carries, checked.
struct Job {
    a: Upload,
    b: Upload,
    options: Options,
    style: Style,
    pictures: Vec<Picture>,
}

/// Reads the body into memory, at most `cap` bytes. Past the cap the rest is read and
/// dropped (for a bounded time), so the client is not cut off mid-send and sees the 413.
async fn read_body(body: Body, cap: usize) -> Result<Bytes, ApiError> {
    use axum::body::HttpBody as _;
    let mut body = body;
    let mut buf = Vec::new();
    let mut over = false;
    let drain_until = Instant::now() + Duration::from_secs(5);
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(|e| ApiError::bad(format!("the upload broke off: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if over || buf.len() + data.len() > cap {
            over = true;
            buf = Vec::new();
            if Instant::now() > drain_until {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if over {
        return Err(ApiError::too_large(cap));
    }
    Ok(Bytes::from(buf))
}

impl Job {
    async fn from_request(req: Request, config: &Config) -> Result<Job, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = read_body(body, config.max_upload_bytes).await?;
        let req = Request::from_parts(parts, Body::from(bytes));
        let mut form = Multipart::from_request(req, &()).await.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "expected a multipart/form-data upload with files `a` and `b` ({})",
                    e.body_text()
                ),
            )
        })?;
        let mut a = None;
        let mut b = None;
        let mut options = Options {
            limits: config.limits(),
            ..Options::default()
        };
        let mut style = Style::default();
        let mut pictures = Vec::new();
        while let Some(field) = form.next_field().await.map_err(|e| {
            ApiError::bad(format!(
                "the upload is not valid multipart data: {}",
                e.body_text()
            ))
        })? {
            let name = field.name().unwrap_or_default().to_string();
            if name == "a" || name == "b" {
                let file_name = clean_file_name(field.file_name(), &name);
                let bytes = field.bytes().await.map_err(|e| {
                    ApiError::bad(format!(
                        "image {}: the upload broke off: {}",
                        name.to_uppercase(),
                        e.body_text()
                    ))
                })?;
                let slot = if name == "a" { &mut a } else { &mut b };
                if slot.is_some() {
                    return Err(ApiError::bad(format!("field `{name}` was sent twice")));
                }
                *slot = Some(Upload {
                    name: file_name,
                    bytes,
                });
                continue;
            }
            let value = field
                .text()
                .await
                .map_err(|e| ApiError::bad(format!("field `{name}`: {}", e.body_text())))?;
            let value = value.trim();
            set_option(&name, value, &mut options, &mut style, &mut pictures)?;
        }
        let missing = |which: &str| {
            ApiError::bad(format!(
                "image {which} is missing: send two files, in fields `a` and `b`"
            ))
        };
        let a = a.ok_or_else(|| missing("A"))?;
        let b = b.ok_or_else(|| missing("B"))?;
        options.validate()?;
        pictures.sort();
        pictures.dedup();
        Ok(Job {
            a,
            b,
            options,
            style,
            pictures,
        })
    }
}

/// The file name a client gave, reduced to a short label (it is never used as a path).
fn clean_file_name(given: Option<&str>, field: &str) -> String {
    let base = given
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    if clean.trim().is_empty() {
        format!("upload {}", field.to_uppercase())
    } else {
        clean
    }
}

/// Applies one text field of the form. Unknown fields are refused, so a typo is not
/// silently ignored.
fn set_option(
    name: &str,
    value: &str,
    o: &mut Options,
    style: &mut Style,
    pictures: &mut Vec<Picture>,
) -> Result<(), ApiError> {
    let bad = |what: &str| ApiError::bad(format!("field `{name}`: `{value}` is not {what}"));
    let number = |what: &str| value.parse::<f32>().map_err(|_| bad(what));
    let threshold = || -> Result<Threshold, ApiError> {
        if value.is_empty() || value.eq_ignore_ascii_case("auto") {
            Ok(Threshold::Auto)
        } else {
            Ok(Threshold::Fixed(number("a number or `auto`")?))
        }
    };
    match name {
        "method" => {
            o.method = Method::parse(value)
                .ok_or_else(|| bad(&format!("a method ({})", methods().join(", "))))?;
        }
        "threshold" => o.pixel_threshold = threshold()?,
        "ssim_threshold" => o.ssim_threshold = threshold()?,
        "min_area" => o.min_area = value.parse().map_err(|_| bad("a whole number of pixels"))?,
        "merge_distance" => {
            o.merge_distance = value.parse().map_err(|_| bad("a whole number of pixels"))?;
        }
        "ignore" => {
            if !value.is_empty() {
                o.ignore
                    .push(Rect::parse(value).ok_or_else(|| bad("a rectangle x,y,w,h"))?);
            }
        }
        "size_policy" => {
            o.size_policy = match value {
                "error" | "" => SizePolicy::Error,
                "resize" => SizePolicy::Resize,
                "pad" => SizePolicy::Pad,
                _ => return Err(bad("a size policy (error, resize or pad)")),
            };
        }
        "color" => {
            style.color = parse_hex_color(value).ok_or_else(|| bad("a hex colour like #ff0044"))?;
        }
        "thickness" => {
            style.thickness = match value.parse::<u32>() {
                Ok(t) if (1..=64).contains(&t) => t,
                _ => return Err(bad("a line width from 1 to 64")),
            };
        }
        "fill_opacity" => {
            style.fill_opacity = match value.parse::<f32>() {
                Ok(v) if (0.0..=1.0).contains(&v) => v,
                _ => return Err(bad("a number from 0 to 1")),
            };
        }
        "pictures" => {
            for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match p {
                    "all" => pictures.extend(Picture::ALL),
                    "none" => {}
                    _ => pictures.push(Picture::parse(p).ok_or_else(|| {
                        bad(&format!("a list of pictures from {}", picture_names("")))
                    })?),
                }
            }
        }
        _ => {
            return Err(ApiError::bad(format!(
            "unknown field `{name}` (fields: a, b, method, threshold, ssim_threshold, min_area, \
                 merge_distance, ignore, size_policy, color, thickness, fill_opacity, pictures)"
        )))
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------------

/// What the comparison is shared with across requests: the deep backbone, loaded
/// once. Every comparison the server makes goes through [`Engine::compare`].
pub struct Engine {
    backbone: spotdiff::deep::Selection,
}

impl Engine {
    fn new(model: Option<&str>, ort_lib: Option<&Path>) -> Result<Engine, Error> {
        Ok(Engine {
            backbone: spotdiff::deep::select(model, ort_lib)?,
        })
    }

    fn compare<'a>(
        &self,
        a: &'a Image,
        b: &'a Image,
        options: &Options,
    ) -> spotdiff::Result<Comparison<'a>> {
        spotdiff::compare_with(a, b, options, self.backbone.backbone())
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
    let mut img = spotdiff::load::decode(Path::new(&label), &upload.bytes, limits)?;
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
    let cmp = state.engine.compare(&a, &b, &job.options)?;
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

// ---------------------------------------------------------------------------------
// Admission: slots and queue
// ---------------------------------------------------------------------------------

/// At most `jobs` comparisons at once; at most `queue` requests waiting for a slot.
struct Gate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
}

impl Gate {
    fn new(jobs: usize, queue: usize) -> Gate {
        Gate {
            slots: Arc::new(Semaphore::new(jobs.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
        }
    }

    /// A slot, waiting for one until `deadline` if the queue has room; otherwise a 503.
    async fn enter(&self, deadline: Instant) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(p) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::busy(
                "the server is busy (all comparison slots and the queue are full); retry shortly",
            ));
        }
        let got =
            tokio::time::timeout_at(deadline.into(), Arc::clone(&self.slots).acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match got {
            Ok(Ok(p)) => Ok(p),
            _ => Err(ApiError::busy(
                "the server is busy: no comparison slot became free in time; retry shortly",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[tokio::test]
    async fn gate_refuses_when_slots_and_queue_are_full() {
        let gate = Arc::new(Gate::new(1, 1));
        let held = gate.enter(later(1000)).await.expect("free slot");
        // One may wait; it gets the slot once the holder is done.
        let g = Arc::clone(&gate);
        let waiter = tokio::spawn(async move { g.enter(later(5000)).await.map(|_| ()) });
        while gate.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // The queue is full: the next one is refused at once, with Retry-After.
        let refused = gate.enter(later(5000)).await.expect_err("queue full");
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.retry_after, Some(2));
        drop(held);
        waiter.await.unwrap().expect("waiter gets the slot");
        assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn gate_gives_up_at_the_deadline() {
        let gate = Gate::new(1, 4);
        let _held = gate.enter(later(1000)).await.expect("free slot");
        let t0 = Instant::now();
        let e = gate.enter(later(50)).await.expect_err("no slot in time");
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(t0.elapsed() >= Duration::from_millis(40));
        assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn library_errors_map_to_client_errors() {
        let cases = [
            (
                Error::Decode {
                    path: "x".into(),
                    problem: "p".into(),
                },
                422,
            ),
            (
                Error::Limit {
                    path: "x".into(),
                    problem: "p".into(),
                },
                413,
            ),
            (Error::SizeMismatch("s".into()), 422),
            (Error::InvalidOption("o".into()), 400),
            (
                Error::Read {
                    path: "x".into(),
                    problem: "empty".into(),
                },
                400,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(ApiError::from(e).status.as_u16(), status);
        }
    }

    #[test]
    fn options_are_parsed_and_checked() {
        let mut o = Options::default();
        let mut s = Style::default();
        let mut p = Vec::new();
        set_option("method", "pixel", &mut o, &mut s, &mut p).unwrap();
        set_option("threshold", "5.5", &mut o, &mut s, &mut p).unwrap();
        set_option("ignore", "1,2,3,4", &mut o, &mut s, &mut p).unwrap();
        set_option("color", "#00c8ff", &mut o, &mut s, &mut p).unwrap();
        set_option("pictures", "side, mask", &mut o, &mut s, &mut p).unwrap();
        assert_eq!(o.method, Method::Pixel);
        assert_eq!(o.pixel_threshold, Threshold::Fixed(5.5));
        assert_eq!(o.ignore.len(), 1);
        assert_eq!(s.color, [0, 0xc8, 0xff]);
        assert_eq!(p, vec![Picture::Side, Picture::Mask]);
        for (name, value) in [
            ("method", "magic"),
            ("threshold", "lots"),
            ("min_area", "-3"),
            ("thickness", "0"),
            ("fill_opacity", "2"),
            ("pictures", "side,poster"),
            ("colour", "#fff"),
        ] {
            let e = set_option(name, value, &mut o, &mut s, &mut p).expect_err(name);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{name}");
            assert!(e.message.contains(name), "{}", e.message);
        }
        assert_eq!(
            clean_file_name(Some("../../etc/pa\u{7}sswd"), "a"),
            "passwd"
        );
        assert_eq!(clean_file_name(None, "b"), "upload B");
        assert!(methods().contains(&"fused"));
    }
}
