//! The request: the upload (read into memory within the upload budget, capped, with
//! a limit on silences) and its form fields. The body is split by the library's
//! `multipart` parser into ranges of the one buffer, so no part is copied. Option
//! fields have the command line's names (`min_area` for `--min-area`) and go through
//! the same parsers ([`FormArgs`]).

use super::errors::ApiError;
use super::limits::{Budget, Config, Reservation};
use crate::cli::args::FormArgs;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, StatusCode};
use spotdiff::{multipart, Options, Picture, Style};
use std::time::{Duration, Instant};

/// One uploaded image, still encoded.
pub struct Upload {
    pub name: String,
    pub bytes: Bytes,
}

/// Everything a comparison request carries, checked.
pub struct Job {
    pub a: Upload,
    pub b: Upload,
    pub options: Options,
    pub style: Style,
    pub pictures: Vec<Picture>,
    /// The upload's share of the budget: dropped once the images are decoded.
    pub reservation: Reservation,
}

/// How long a refused upload is still read (and dropped), so that the client, which
/// is still sending, sees the answer instead of a broken connection.
const DRAIN: Duration = Duration::from_secs(5);

/// Reads the body into memory: at most `config.max_upload_bytes`, within the upload
/// budget, and with no silence longer than the idle timeout (408). An announced length
/// is reserved from the budget before anything is read, so that in a burst the uploads
/// that fit are admitted whole and the others are refused at once (rather than all
/// growing together until none can finish); a body without one reserves what has
/// arrived, 64 KiB at a time. A refused upload is read and dropped for a bounded time
/// before the answer, so the client is not cut off mid-send.
async fn read_body(
    body: Body,
    content_length: Option<u64>,
    config: &Config,
    budget: &Budget,
) -> Result<(Bytes, Reservation), ApiError> {
    let cap = config.max_upload_bytes;
    let idle = config.idle_timeout;
    let mut body = body;
    let mut reservation = budget.empty();
    let mut buf: Vec<u8> = Vec::new();
    let refuse = |e: ApiError, body: Body| async move {
        drain(body, idle).await;
        Err(e.closing())
    };
    if let Some(n) = content_length {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n > cap {
            return refuse(ApiError::too_large(cap), body).await;
        }
        if let Err(e) = budget.grow(&mut reservation, n) {
            return refuse(e, body).await;
        }
        if buf.try_reserve_exact(n).is_err() {
            return refuse(out_of_memory(), body).await;
        }
    }
    loop {
        let data = match tokio::time::timeout(idle, next_chunk(&mut body)).await {
            Err(_) => return Err(ApiError::stalled(idle)),
            Ok(None) => break,
            Ok(Some(data)) => {
                data.map_err(|e| ApiError::bad(format!("the upload broke off: {e}")))?
            }
        };
        let len = buf.len() + data.len();
        if len > cap {
            return refuse(ApiError::too_large(cap), body).await;
        }
        if let Err(e) = budget.grow(&mut reservation, len.next_multiple_of(64 << 10)) {
            return refuse(e, body).await;
        }
        if len > buf.capacity() {
            let want = (buf.capacity() * 2).max(len).max(64 << 10).min(cap);
            if buf.try_reserve_exact(want - buf.len()).is_err() {
                return refuse(out_of_memory(), body).await;
            }
        }
        buf.extend_from_slice(&data);
    }
    Ok((Bytes::from(buf), reservation))
}

fn out_of_memory() -> ApiError {
    ApiError::busy("the server has no memory free for this upload; retry shortly")
}

/// The next chunk of data (`None` at the end; frames without data are skipped).
async fn next_chunk(body: &mut Body) -> Option<Result<Bytes, axum::Error>> {
    use axum::body::HttpBody as _;
    loop {
        let frame =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)).await?;
        match frame {
            Err(e) => return Some(Err(e)),
            Ok(f) => {
                if let Ok(data) = f.into_data() {
                    return Some(Ok(data));
                }
            }
        }
    }
}

/// Reads and drops what is left of a body, for at most [`DRAIN`] (and no longer
/// than `idle` without data).
async fn drain(mut body: Body, idle: Duration) {
    let until = Instant::now() + DRAIN;
    while Instant::now() < until {
        match tokio::time::timeout(idle.min(DRAIN), next_chunk(&mut body)).await {
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
}

impl Job {
    pub async fn from_request(
        req: Request,
        config: &Config,
        budget: &Budget,
    ) -> Result<Job, ApiError> {
        let (parts, body) = req.into_parts();
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let boundary = multipart::boundary(&content_type).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("expected a multipart/form-data upload with files `a` and `b` ({e})"),
            )
        });
        let content_length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let boundary = match boundary {
            Ok(b) => b,
            Err(e) => {
                drain(body, config.idle_timeout).await;
                return Err(e.closing());
            }
        };
        let (bytes, reservation) = read_body(body, content_length, config, budget).await?;
        let form = multipart::parse(&bytes, &boundary)
            .map_err(|e| ApiError::bad(format!("the upload is not valid multipart data: {e}")))?;
        let mut a = None;
        let mut b = None;
        let mut fields = Vec::new();
        let mut pictures = Vec::new();
        for part in form {
            let name = part.name;
            if name == "a" || name == "b" {
                let file_name = clean_file_name(part.file_name.as_deref(), &name);
                let slot = if name == "a" { &mut a } else { &mut b };
                if slot.is_some() {
                    return Err(ApiError::bad(format!("field `{name}` was sent twice")));
                }
                *slot = Some(Upload {
                    name: file_name,
                    bytes: bytes.slice(part.data),
                });
                continue;
            }
            let value = std::str::from_utf8(&bytes[part.data]).map_err(|_| {
                ApiError::bad(format!("field `{name}`: the value is not UTF-8 text"))
            })?;
            let value = value.trim();
            if name == "pictures" {
                add_pictures(value, &mut pictures)?;
            } else {
                fields.push((name, value.to_string()));
            }
        }
        let missing = |which: &str| {
            ApiError::bad(format!(
                "image {which} is missing: send two files, in fields `a` and `b`"
            ))
        };
        let a = a.ok_or_else(|| missing("A"))?;
        let b = b.ok_or_else(|| missing("B"))?;
        let (options, style) = options(&fields, config)?;
        pictures.sort();
        pictures.dedup();
        Ok(Job {
            a,
            b,
            options,
            style,
            pictures,
            reservation,
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

/// The options and style the fields give, checked. The upload limit is the server's;
/// a `max_pixels` field may lower the server's pixel limit, never raise it.
fn options(fields: &[(String, String)], config: &Config) -> Result<(Options, Style), ApiError> {
    let form = FormArgs::parse(fields).map_err(|e| {
        if e.starts_with("unknown field") {
            ApiError::bad(format!(
                "{e} (fields: a, b, {}, pictures)",
                FormArgs::field_names().join(", ")
            ))
        } else {
            ApiError::bad(e)
        }
    })?;
    let mut options = form.compare.options()?;
    let given = fields
        .iter()
        .any(|(n, v)| n == "max_pixels" && !v.is_empty());
    options.limits = config.limits();
    if given {
        options.limits.max_pixels = form.compare.max_pixels.min(config.max_pixels);
    }
    Ok((options, form.style.style()))
}

/// Adds the pictures a `pictures` field names (`all`, `none`, or a list).
fn add_pictures(value: &str, pictures: &mut Vec<Picture>) -> Result<(), ApiError> {
    for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match p {
            "all" => pictures.extend(Picture::ALL),
            "none" => {}
            _ => pictures.push(Picture::parse(p).ok_or_else(|| {
                ApiError::bad(format!(
                    "field `pictures`: `{}` is not a list of pictures from {}",
                    value.escape_debug(),
                    super::picture_names("")
                ))
            })?),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            max_upload_bytes: 1 << 20,
            max_pixels: 1000,
            jobs: 1,
            queue: 1,
            timeout: Duration::from_secs(1),
            header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            max_connections: 4,
            upload_budget_bytes: 4 << 20,
        }
    }

    fn fields(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_are_parsed_and_checked() {
        let (o, s) = options(
            &fields(&[
                ("method", "pixel"),
                ("threshold", "5.5"),
                ("ignore", "1,2,3,4"),
                ("color", "#00c8ff"),
            ]),
            &config(),
        )
        .unwrap();
        assert_eq!(o.method, spotdiff::Method::Pixel);
        assert_eq!(o.pixel_threshold, spotdiff::Threshold::Fixed(5.5));
        assert_eq!(o.ignore.len(), 1);
        assert_eq!(o.limits.max_pixels, 1000);
        assert_eq!(s.color, [0, 0xc8, 0xff]);
        let mut p = Vec::new();
        add_pictures("side, mask", &mut p).unwrap();
        assert_eq!(p, vec![Picture::Side, Picture::Mask]);
        for (name, value) in [
            ("method", "magic"),
            ("threshold", "lots"),
            ("min_area", "-3"),
            ("thickness", "0"),
            ("fill_opacity", "2"),
            ("colour", "#fff"),
        ] {
            let e = options(&fields(&[(name, value)]), &config()).expect_err(name);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{name}");
            assert!(e.message.contains(name), "{}", e.message);
        }
        let e = add_pictures("side,poster", &mut p).expect_err("poster");
        assert!(e.message.contains("pictures"), "{}", e.message);
        assert_eq!(
            clean_file_name(Some("../../etc/pa\u{7}sswd"), "a"),
            "passwd"
        );
        assert_eq!(clean_file_name(None, "b"), "upload B");
    }

    #[test]
    fn a_form_may_lower_the_pixel_limit_never_raise_it() {
        let (o, _) = options(&fields(&[("max_pixels", "10")]), &config()).unwrap();
        assert_eq!(o.limits.max_pixels, 10);
        let (o, _) = options(&fields(&[("max_pixels", "99999999")]), &config()).unwrap();
        assert_eq!(o.limits.max_pixels, 1000);
    }
}
