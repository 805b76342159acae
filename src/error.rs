//! The one error type of the library. Every variant names the file or the step it
//! comes from, so a caller can print it as a single line.

use std::path::PathBuf;

/// Everything that can go wrong in spotdiff's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read (missing, a directory, no permission, ...).
    #[error("{path}: {problem}")]
    Read { path: PathBuf, problem: String },

    /// The bytes are not an image spotdiff can decode, or the decoder failed.
    #[error("{path}: {problem}")]
    Decode { path: PathBuf, problem: String },

    /// The image exceeds a configured limit (checked before any pixel memory is allocated).
    #[error("{path}: {problem}")]
    Limit { path: PathBuf, problem: String },

    /// The two images differ in size and the size policy does not allow it.
    #[error("{0}")]
    SizeMismatch(String),

    /// An option has a value the library cannot work with.
    #[error("invalid option: {0}")]
    InvalidOption(String),

    /// A backbone model is missing, damaged, or not what its manifest says.
    #[error("{path}: {problem}")]
    Model { path: PathBuf, problem: String },

    /// The ONNX Runtime library is missing or unusable.
    #[error("{path}: {problem}")]
    Runtime { path: PathBuf, problem: String },

    /// An output file or folder could not be written.
    #[error("{path}: {problem}")]
    Write { path: PathBuf, problem: String },
}

/// Shorthand used across the crate.
pub type Result<T> = std::result::Result<T, Error>;
