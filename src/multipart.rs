//! `multipart/form-data` (RFC 7578) over a body already in memory: the upload format of
//! the web front end (`spotdiff serve`). Pure (no I/O, no allocation of the parts'
//! contents: a part is a range of the body), so that a server can slice its own buffer
//! without copying, and so that it can be tested and fuzzed on its own.
//!
//! ```
//! let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\npixel\r\n--XyZ--\r\n";
//! let boundary = spotdiff::multipart::boundary("multipart/form-data; boundary=XyZ").unwrap();
//! let parts = spotdiff::multipart::parse(body, &boundary).unwrap();
//! assert_eq!(parts[0].name, "method");
//! assert_eq!(&body[parts[0].data.clone()], b"pixel");
//! ```

use memchr::memmem;
use std::ops::Range;

/// At most this many parts in one body.
pub const MAX_PARTS: usize = 256;
/// At most this many bytes of headers in one part.
pub const MAX_PART_HEADERS: usize = 16 * 1024;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The field name (`name=` of its `Content-Disposition`).
    pub name: String,
    /// The file name a client gave (`filename=`), for file fields.
    pub file_name: Option<String>,
    /// Its `Content-Type`, when given.
    pub content_type: Option<String>,
    /// Where its content lies in the body.
    pub data: Range<usize>,
}

/// Why a body is not a well-formed form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormError(pub String);

fn bad(problem: impl Into<String>) -> FormError {
    FormError(problem.into())
}

/// The boundary a `Content-Type` header names, when it is `multipart/form-data` with a
/// valid boundary (1 to 70 characters).
pub fn boundary(content_type: &str) -> Result<String, FormError> {
    let mut params = content_type.split(';');
    let mime = params.next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return Err(bad(format!(
            "the content type is `{}`, not multipart/form-data",
            mime.chars().take(60).collect::<String>()
        )));
    }
    for p in params {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        if !k.trim().eq_ignore_ascii_case("boundary") {
            continue;
        }
        let v = v.trim();
        let v = match v.strip_prefix('"') {
            Some(q) => q
                .strip_suffix('"')
                .ok_or_else(|| bad("the boundary's quotes are not closed"))?,
            None => v,
        };
        if v.is_empty() || v.len() > 70 {
            return Err(bad("the boundary must be 1 to 70 characters long"));
        }
        return Ok(v.to_string());
    }
    Err(bad("the content type names no boundary"))
}

/// Splits `body` into its parts. Content before the first boundary (a preamble) and
/// after the last (an epilogue) is ignored; a body that ends before its closing
/// boundary, a part without a `Content-Disposition: form-data` name, too many parts or
/// too long headers are errors.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, FormError> {
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(bad("the boundary must be 1 to 70 characters long"));
    }
    let dash = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    let finder = memmem::Finder::new(delimiter.as_bytes());
    // The first boundary: at the very start, or after a preamble ending in CRLF.
    let mut pos = if body.starts_with(dash.as_bytes()) {
        dash.len()
    } else {
        match finder.find(body) {
            Some(i) => i + delimiter.len(),
            None => return Err(bad("the body holds no boundary (it may be cut off)")),
        }
    };
    let mut parts = Vec::new();
    loop {
        // After a boundary: `--` ends the form; otherwise optional blanks and CRLF.
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        let blanks = rest
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count();
        if !rest[blanks..].starts_with(b"\r\n") {
            return Err(bad(if rest.is_empty() {
                "the body ends before its closing boundary (it may be cut off)"
            } else {
                "a boundary is not followed by a line break"
            }));
        }
        pos += blanks + 2;
        if parts.len() == MAX_PARTS {
            return Err(bad(format!("more than {MAX_PARTS} parts")));
        }
        // The part's headers, up to an empty line.
        let window = &body[pos..body.len().min(pos + MAX_PART_HEADERS + 4)];
        let (headers, data_start) = if window.starts_with(b"\r\n") {
            (&body[pos..pos], pos + 2)
        } else {
            match memmem::find(window, b"\r\n\r\n") {
                Some(i) => (&body[pos..pos + i], pos + i + 4),
                None if window.len() > MAX_PART_HEADERS => {
                    return Err(bad(format!(
                        "a part's headers are longer than {} KiB",
                        MAX_PART_HEADERS >> 10
                    )))
                }
                None => {
                    return Err(bad(
                        "the body ends inside a part's headers (it may be cut off)",
                    ))
                }
            }
        };
        let mut part = part_headers(headers)?;
        let Some(len) = finder.find(&body[data_start..]) else {
            return Err(bad(format!(
                "field `{}` has no closing boundary (the body may be cut off)",
                part.name
            )));
        };
        part.data = data_start..data_start + len;
        parts.push(part);
        pos = data_start + len + delimiter.len();
    }
}

/// The name, file name and content type from one part's header lines.
fn part_headers(raw: &[u8]) -> Result<Part, FormError> {
    let text = std::str::from_utf8(raw).map_err(|_| bad("a part's headers are not UTF-8"))?;
    // Header lines end only in CRLF: a lone CR or LF (or another control character)
    // inside one would end up in a field name.
    if text
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\r' && c != '\n')
        || text.split("\r\n").any(|l| l.contains(['\r', '\n']))
    {
        return Err(bad("a part's headers hold a control character"));
    }
    let mut name = None;
    let mut file_name = None;
    let mut content_type = None;
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let Some((key, value)) = line.split_once(':') else {
            return Err(bad("a part's header line has no `:`"));
        };
        let key = key.trim();
        if key.eq_ignore_ascii_case("content-disposition") {
            let mut params = split_params(value);
            let kind = params.next().unwrap_or_default();
            if !kind.trim().eq_ignore_ascii_case("form-data") {
                return Err(bad("a part is not form-data"));
            }
            for p in params {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                let v = unquote(v.trim());
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => name = Some(v),
                    "filename" => file_name = Some(v),
                    _ => {}
                }
            }
        } else if key.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    let name = name.ok_or_else(|| bad("a part has no field name (Content-Disposition name)"))?;
    Ok(Part {
        name,
        file_name,
        content_type,
        data: 0..0,
    })
}

/// `;`-separated parameters, ignoring `;` inside quotes.
fn split_params(value: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    value.split(move |c: char| {
        if escaped {
            escaped = false;
            return false;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => return true,
            _ => {}
        }
        false
    })
}

/// A parameter value without its quotes, `\x` read as `x`.
fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"') else {
        return v.to_string();
    };
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut out = b"preamble to ignore\r\n".to_vec();
        for (name, file, data) in parts {
            out.extend_from_slice(b"--B0undary\r\n");
            match file {
                Some(f) => out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/png\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("content-disposition: form-data; name={name}\r\n\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--B0undary--\r\nepilogue");
        out
    }

    #[test]
    fn parts_are_ranges_of_the_body() {
        let body = form(&[
            ("a", Some("x; \"y\".png"), b"\x89PNG\r\n--B0undar not quite"),
            ("method", None, b"pixel"),
            ("empty", None, b""),
        ]);
        let parts = parse(&body, "B0undary").unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].name, "a");
        assert_eq!(parts[0].file_name.as_deref(), Some("x; \"y\".png"));
        assert_eq!(parts[0].content_type.as_deref(), Some("image/png"));
        assert_eq!(
            &body[parts[0].data.clone()],
            b"\x89PNG\r\n--B0undar not quite"
        );
        assert_eq!(parts[1].name, "method");
        assert_eq!(&body[parts[1].data.clone()], b"pixel");
        assert!(parts[2].data.is_empty());
    }

    #[test]
    fn boundaries_come_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").unwrap(),
            "abc"
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"").unwrap(),
            "a b"
        );
        assert!(boundary("application/json").is_err());
        assert!(boundary("multipart/form-data").is_err());
        assert!(boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))).is_err());
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        let good = form(&[("a", Some("a.png"), b"data")]);
        for cut in 0..good.len() - b"--\r\nepilogue".len() {
            let r = parse(&good[..cut], "B0undary");
            assert!(r.is_err(), "cut at {cut}: {r:?}");
        }
        assert!(parse(&good, "B0undary").is_ok());
        assert!(parse(
            b"--B0undary\r\nX-Nothing: 1\r\n\r\nv\r\n--B0undary--",
            "B0undary"
        )
        .is_err());
        assert!(parse(
            b"--B0undary\r\nno colon\r\n\r\nv\r\n--B0undary--",
            "B0undary"
        )
        .is_err());
        // (Found by fuzzing: a lone LF inside a header line put a line break in a name.)
        let lf =
            b"--B0undary\r\nContent-Disposition: form-data; name=\"a\nb\"\r\n\r\nv\r\n--B0undary--";
        assert!(parse(lf, "B0undary").unwrap_err().0.contains("control"));
        let many: Vec<(&str, Option<&str>, &[u8])> = vec![("f", None, b"1"); MAX_PARTS + 1];
        assert!(parse(&form(&many), "B0undary")
            .unwrap_err()
            .0
            .contains("parts"));
        let mut long = b"--B0undary\r\nContent-Disposition: form-data; name=\"".to_vec();
        long.extend(std::iter::repeat_n(b'n', MAX_PART_HEADERS + 10));
        assert!(parse(&long, "B0undary").unwrap_err().0.contains("KiB"));
        assert_eq!(parse(b"--B0undary--\r\n", "B0undary").unwrap(), vec![]);
    }
}
