//! Deep features: a pretrained CNN (ResNet50, or the offline EfficientNet-Lite0) run
//! with ONNX Runtime. It gives a global semantic score (cosine of pooled embeddings)
//! and a change map from per-cell feature distances, which the pipeline fuses with the
//! pixel and SSIM evidence.
//!
//! The library takes explicit paths: a model manifest ([`ModelSpec::resolve`],
//! [`default_model`]) and the ONNX Runtime shared library ([`Backbone::open`]). The
//! runtime itself needs the `deep` feature; without it no [`Backbone`] can be built and
//! comparisons use pixel and SSIM evidence only.

pub mod backbone;
pub mod features;
pub mod manifest;

pub use backbone::{default_model, Backbone, BackboneOptions};
#[cfg(feature = "deep")]
pub use backbone::{FeatureMap, Outputs};
#[cfg(feature = "deep")]
pub use features::classify;
pub use features::{deep_map, DeepMap};
pub use manifest::{known_models, ModelSpec};
