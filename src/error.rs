//! The one error type of the library: a kind, the file or step it comes from, a
//! problem in words, and (where there is one) the underlying cause as
//! [`std::error::Error::source`]. The library's messages speak of images, models and
//! options, never of a front end's flags or scripts; a front end adds its own hints
//! from the typed fields (see [`Error::kind`], [`Hint`]).

use std::path::PathBuf;

/// A cause carried as [`std::error::Error::source`].
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in spotdiff's library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read, written or listed, or a socket opened.
    #[error("{path}: {problem}")]
    Io {
        path: PathBuf,
        /// What was being done.
        op: IoOp,
        problem: String,
        #[source]
        source: Option<std::io::Error>,
    },

    /// The bytes are not an image spotdiff can decode, or the decoder failed.
    #[error("{path}: {problem}")]
    Decode {
        path: PathBuf,
        problem: String,
        #[source]
        source: Option<image::ImageError>,
    },

    /// The input exceeds a configured limit (checked before any pixel memory is
    /// allocated).
    #[error("{path}: {problem}")]
    Limit {
        path: PathBuf,
        /// Which limit.
        limit: LimitKind,
        problem: String,
    },

    /// The two images (or an image and its mask) differ in size and the size policy
    /// does not allow it.
    #[error("{problem}")]
    Size {
        problem: String,
        /// What would make the comparison possible.
        hint: Hint,
    },

    /// A backbone model is missing, damaged, or not what its manifest says.
    #[error("{path}: {problem}")]
    Model {
        path: PathBuf,
        problem: String,
        hint: Hint,
        #[source]
        source: Option<Cause>,
    },

    /// The ONNX Runtime library is missing or unusable.
    #[error("{path}: {problem}")]
    Runtime {
        path: PathBuf,
        problem: String,
        hint: Hint,
        #[source]
        source: Option<Cause>,
    },

    /// An option has a value the library cannot work with.
    #[error("invalid option: {problem}")]
    Option {
        /// The option's name as in [`crate::Options`] (e.g. `pixel_threshold`).
        name: &'static str,
        problem: String,
    },

    /// The work was stopped through its [`crate::Cancel`] token before it finished.
    #[error("cancelled (during {step})")]
    Cancelled {
        /// The step that noticed: `decode`, `pixel map`, `regions`, ...
        step: &'static str,
    },
}

/// The kind of an [`Error`], for callers that map errors to statuses or exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    Io,
    Decode,
    Limit,
    Size,
    Model,
    Runtime,
    Option,
    Cancelled,
}

/// What an [`Error::Io`] was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoOp {
    Read,
    Write,
    Listen,
}

/// Which limit an [`Error::Limit`] hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// Width × height over this many pixels.
    Pixels { max: u64 },
    /// A file or upload over this many bytes.
    Bytes { max: u64 },
    /// The memory an image needs (this many bytes) could not be allocated.
    Memory { needed: u64 },
    /// The decoder's metadata (ICC profile, text, EXIF chunks) over this many bytes.
    Metadata { max: u64 },
}

/// What would get past an error; a front end words it in its own terms (a flag, a
/// form field, a set-up command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    None,
    /// Sizes differ: a size policy would allow the comparison; `resize` only when
    /// the aspect ratios agree.
    SizePolicy {
        resize: bool,
    },
    /// The model file (or any model) is not installed.
    InstallModel,
    /// The model lacks the inner outputs the manifest names (a Model Zoo file whose
    /// intermediate tensors were not exposed).
    ExposeOutputs,
    /// The ONNX Runtime library is missing or the wrong version.
    InstallRuntime,
}

impl Error {
    /// This error's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Io,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::Limit { .. } => ErrorKind::Limit,
            Error::Size { .. } => ErrorKind::Size,
            Error::Model { .. } => ErrorKind::Model,
            Error::Runtime { .. } => ErrorKind::Runtime,
            Error::Option { .. } => ErrorKind::Option,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
        }
    }

    /// The hint of the error, [`Hint::None`] when it has none.
    pub fn hint(&self) -> Hint {
        match self {
            Error::Size { hint, .. } | Error::Model { hint, .. } | Error::Runtime { hint, .. } => {
                *hint
            }
            _ => Hint::None,
        }
    }

    /// A read error on `path`.
    pub fn read(path: impl Into<PathBuf>, problem: impl Into<String>) -> Error {
        Error::Io {
            path: path.into(),
            op: IoOp::Read,
            problem: problem.into(),
            source: None,
        }
    }

    /// A write error on `path`.
    pub fn write(path: impl Into<PathBuf>, problem: impl Into<String>) -> Error {
        Error::Io {
            path: path.into(),
            op: IoOp::Write,
            problem: problem.into(),
            source: None,
        }
    }

    /// An I/O error with its cause.
    pub fn io(
        op: IoOp,
        path: impl Into<PathBuf>,
        problem: impl Into<String>,
        source: std::io::Error,
    ) -> Error {
        Error::Io {
            path: path.into(),
            op,
            problem: problem.into(),
            source: Some(source),
        }
    }

    /// A decode error on `path`.
    pub fn decode(path: impl Into<PathBuf>, problem: impl Into<String>) -> Error {
        Error::Decode {
            path: path.into(),
            problem: problem.into(),
            source: None,
        }
    }

    /// A bad value for the option `name`.
    pub fn option(name: &'static str, problem: impl Into<String>) -> Error {
        Error::Option {
            name,
            problem: problem.into(),
        }
    }

    /// A model error on `path`, with a hint.
    pub fn model(path: impl Into<PathBuf>, problem: impl Into<String>, hint: Hint) -> Error {
        Error::Model {
            path: path.into(),
            problem: problem.into(),
            hint,
            source: None,
        }
    }

    /// A runtime error on `path`, with a hint.
    pub fn runtime(path: impl Into<PathBuf>, problem: impl Into<String>, hint: Hint) -> Error {
        Error::Runtime {
            path: path.into(),
            problem: problem.into(),
            hint,
            source: None,
        }
    }

    /// The error and its causes on one line: each cause is added after `: `, unless
    /// the message already says it (ignoring case and an `(os error N)` suffix). A
    /// decode error's message already words its cause (the decoder's own text,
    /// shortened), so only the message is given.
    pub fn chain(&self) -> String {
        let mut line = self.to_string();
        let mut cause = match self {
            Error::Decode { .. } => None,
            _ => std::error::Error::source(self),
        };
        while let Some(c) = cause {
            let text = c.to_string();
            let text = text.lines().next().unwrap_or_default();
            let bare = match text.find(" (os error ") {
                Some(i) => &text[..i],
                None => text,
            };
            if !bare.is_empty() && !line.to_lowercase().contains(&bare.to_lowercase()) {
                line.push_str(": ");
                line.push_str(text);
            }
            cause = c.source();
        }
        line
    }
}

/// Shorthand used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_adds_causes_not_already_said() {
        let cause = std::io::Error::other("disk on fire");
        let e = Error::io(IoOp::Read, "x.png", "cannot read", cause);
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(e.chain(), "x.png: cannot read: disk on fire");
        assert!(std::error::Error::source(&e).is_some());
        let cause = std::io::Error::other("disk on fire");
        let e = Error::io(IoOp::Read, "x.png", "cannot read: Disk on fire", cause);
        assert_eq!(e.chain(), "x.png: cannot read: Disk on fire");
        let cause = std::io::Error::from_raw_os_error(13);
        let e = Error::io(IoOp::Write, "out", "permission denied", cause);
        assert_eq!(e.chain(), "out: permission denied");
        assert_eq!(
            Error::option("min_area", "too small").to_string(),
            "invalid option: too small"
        );
    }
}
