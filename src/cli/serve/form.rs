//! The request: the upload (read into memory, capped) and its form fields. Option
//! fields have the command line's names (`min_area` for `--min-area`) and go through
//! the same parsers ([`FormArgs`]).

use super::errors::ApiError;
use super::limits::Config;
use crate::cli::args::FormArgs;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use spotdiff::{Options, Picture, Style};
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
    pub async fn from_request(req: Request, config: &Config) -> Result<Job, ApiError> {
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
        let mut fields = Vec::new();
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
                    "field `pictures`: `{value}` is not a list of pictures from {}",
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
