//! A minimal multipart/form-data body builder for the web API's tests and load test.
#![allow(dead_code)]

/// One form: files and text fields, in order.
#[derive(Default, Clone)]
pub struct Form {
    parts: Vec<(String, Option<String>, Vec<u8>)>,
}

pub const BOUNDARY: &str = "----spotdiff-test-boundary-7MA4YWxkTrZu0gW";

impl Form {
    pub fn new() -> Form {
        Form::default()
    }

    pub fn file(mut self, name: &str, file_name: &str, bytes: Vec<u8>) -> Form {
        self.parts
            .push((name.to_string(), Some(file_name.to_string()), bytes));
        self
    }

    pub fn text(mut self, name: &str, value: &str) -> Form {
        self.parts
            .push((name.to_string(), None, value.as_bytes().to_vec()));
        self
    }

    pub fn content_type() -> String {
        format!("multipart/form-data; boundary={BOUNDARY}")
    }

    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, file_name, bytes) in &self.parts {
            out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            match file_name {
                Some(f) => out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        out
    }
}
