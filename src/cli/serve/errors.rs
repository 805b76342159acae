//! Error answers: a status and one line of text, sent as `{"error": "..."}`, in the
//! page's own words.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use spotdiff::{Error, Hint, IoOp, LimitKind};

/// An error answer: a status and one line of text, sent as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
    /// Close the connection after the answer (the upload was not read to its end).
    pub close: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
            close: false,
        }
    }

    /// The same answer, and the connection closed after it.
    pub fn closing(self) -> ApiError {
        ApiError {
            close: true,
            ..self
        }
    }

    /// 408: nothing of the upload arrived for `idle`.
    pub fn stalled(idle: std::time::Duration) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the upload stalled: nothing arrived for {} s (the server's idle limit)",
                idle.as_secs()
            ),
        )
        .closing()
    }

    /// 408: the upload did not end within the request's time limit.
    pub fn upload_too_slow(limit: std::time::Duration) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the upload did not complete within the server's limit of {} s",
                limit.as_secs()
            ),
        )
        .closing()
    }

    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn busy(message: impl Into<String>) -> ApiError {
        ApiError {
            retry_after: Some(2),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }

    pub fn too_large(limit: usize) -> ApiError {
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
            Error::Io {
                op: IoOp::Write, ..
            } => StatusCode::INTERNAL_SERVER_ERROR,
            Error::Io { .. } | Error::Option { .. } => StatusCode::BAD_REQUEST,
            Error::Decode { .. } | Error::Size { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            // Not the image's fault: the server lacks the memory right now.
            Error::Limit {
                limit: LimitKind::Memory { .. },
                ..
            } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Limit { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            // The backbone failed on this input: the server is fine, deep features
            // are not available for it.
            Error::Model { .. } | Error::Runtime { .. } => StatusCode::SERVICE_UNAVAILABLE,
            // The request was abandoned (time limit, client gone): nobody reads this.
            Error::Cancelled { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut answer = ApiError::new(status, describe(&e));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            answer.retry_after = Some(2);
        }
        answer
    }
}

/// An error in one line, with hints in the page's words (its controls, the form's
/// fields), never the command line's flags.
pub fn describe(e: &Error) -> String {
    let mut line = e.chain();
    match (e, e.hint()) {
        (_, Hint::SizePolicy { resize }) => line.push_str(&format!(
            "; to compare them anyway, set \"Different sizes\" to {}",
            if resize {
                "\"resize B to A\" or \"pad both\""
            } else {
                "\"pad both\""
            }
        )),
        (
            Error::Limit {
                limit: LimitKind::Pixels { .. },
                ..
            },
            _,
        ) => line.push_str(" (the server's limit)"),
        _ => {}
    }
    line
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
        if self.close {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_map_to_client_errors() {
        let cases = [
            (Error::decode("x", "p"), 422),
            (
                Error::Limit {
                    path: "x".into(),
                    limit: LimitKind::Pixels { max: 10 },
                    problem: "p".into(),
                },
                413,
            ),
            (
                Error::Size {
                    problem: "s".into(),
                    hint: Hint::SizePolicy { resize: true },
                },
                422,
            ),
            (Error::option("min_area", "o"), 400),
            (Error::read("x", "empty"), 400),
            (Error::write("x", "disk full"), 500),
        ];
        for (e, status) in cases {
            assert_eq!(ApiError::from(e).status.as_u16(), status);
        }
    }

    #[test]
    fn size_errors_speak_of_the_page_control() {
        let e = Error::Size {
            problem: "images differ in size".into(),
            hint: Hint::SizePolicy { resize: false },
        };
        let m = describe(&e);
        assert!(m.contains("Different sizes") && !m.contains("--"), "{m}");
        assert!(
            m.contains("\"pad both\"") && !m.contains("size_policy"),
            "{m}"
        );
    }
}
