//! Deep features: a pretrained CNN (ResNet50, or the offline EfficientNet-Lite0) run
//! with ONNX Runtime. It gives a global semantic score (cosine of pooled embeddings)
//! and a change map from per-cell feature distances, which the pipeline fuses with the
//! pixel and SSIM evidence.

pub mod backbone;
pub mod features;
pub mod manifest;

pub use backbone::{Backbone, Locations, SETUP_COMMAND};
pub use features::{classify, deep_map, DeepMap};
pub use manifest::ModelSpec;

use crate::error::Result;
use std::path::Path;

/// The outcome of looking for a backbone.
#[derive(Debug)]
pub enum Selection {
    /// A backbone, loaded and checked.
    Ready(Box<Backbone>),
    /// No backbone was asked for (`--model none`).
    Off,
    /// None was named and none is installed; the reason says how to install one.
    Missing(String),
}

impl Selection {
    /// The backbone, if one is ready.
    pub fn backbone(&self) -> Option<&Backbone> {
        match self {
            Selection::Ready(b) => Some(b.as_ref()),
            _ => None,
        }
    }

    /// The backbone, if one is ready, by value.
    pub fn into_backbone(self) -> Option<Backbone> {
        match self {
            Selection::Ready(b) => Some(*b),
            _ => None,
        }
    }
}

/// Finds and loads a backbone. `model` is a name from the models folder, a manifest
/// (`.json`) or a model (`.onnx` with its manifest beside it), `none`, or `None` for
/// the default (ResNet50 when installed, else EfficientNet-Lite0). A model that was
/// named but cannot be used is an error; a default that is not installed is
/// [`Selection::Missing`]. `runtime` overrides where ONNX Runtime is looked for.
pub fn select(model: Option<&str>, runtime: Option<&Path>) -> Result<Selection> {
    if model.is_some_and(|m| m.eq_ignore_ascii_case("none")) {
        return Ok(Selection::Off);
    }
    let loc = Locations::discover(runtime);
    let spec = match model {
        Some(m) => ModelSpec::resolve(m, &loc.models_dir)?,
        None => match loc.default_model() {
            Some(spec) => spec,
            None => {
                return Ok(Selection::Missing(format!(
                    "no backbone model in {} (`{SETUP_COMMAND}` builds the offline one)",
                    loc.models_dir.display()
                )))
            }
        },
    };
    let Some(runtime) = loc.runtime else {
        let reason = format!(
            "ONNX Runtime not found (tried ORT_DYLIB_PATH and {}/{}); `{SETUP_COMMAND}` installs it",
            backbone::RUNTIME_DIR,
            backbone::RUNTIME_FILE
        );
        return match model {
            None => Ok(Selection::Missing(reason)),
            Some(_) => Err(crate::Error::Runtime {
                path: backbone::RUNTIME_FILE.into(),
                problem: reason,
            }),
        };
    };
    Backbone::open(spec, &runtime).map(|b| Selection::Ready(Box::new(b)))
}
