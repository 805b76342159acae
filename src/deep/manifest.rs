//! Backbone manifests (`models/NAME.json`): which ONNX file, its checksum, how to feed
//! it and which outputs hold the pooled embedding and the feature maps.

use crate::error::{Error, Hint, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One feature-map output of a backbone.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FeatureSpec {
    /// Output tensor name, shaped `[N, channels, H/stride, W/stride]`.
    pub name: String,
    /// Input pixels per feature cell.
    pub stride: u32,
    /// Channels (checked against the model's output).
    pub channels: usize,
}

/// A backbone manifest, as stored in `models/NAME.json`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ModelSpec {
    /// Short name (`resnet50`, `efficientnet-lite0`).
    pub name: String,
    /// ONNX file, relative to the manifest's folder.
    pub file: String,
    /// SHA-256 of the ONNX file (lower-case hex); `null` when the file is derived
    /// locally and cannot be pinned.
    pub sha256: Option<String>,
    /// Input tensor name, `[N, 3, H, W]`, float RGB.
    pub input: String,
    /// Per-channel mean and standard deviation applied to 0..1 RGB.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Short side of the working resolution (the aspect ratio is kept).
    pub working_short_side: u32,
    /// Cap on the long side of the working resolution.
    pub max_long_side: u32,
    /// H and W are padded to a multiple of this.
    pub pad_multiple: u32,
    /// Output holding the pooled embedding, `[N, D]` or `[N, D, 1, 1]`.
    pub pooled: String,
    /// Output holding the class scores, if any (not used for change maps).
    #[serde(default)]
    pub logits: Option<String>,
    /// Feature-map outputs (stride 8 and 16 recommended).
    pub features: Vec<FeatureSpec>,
    /// Folder the manifest was read from (not part of the JSON).
    #[serde(skip)]
    pub dir: PathBuf,
}

impl ModelSpec {
    /// Reads and checks a manifest file.
    pub fn read(path: &Path) -> Result<ModelSpec> {
        let err = |problem: String| Error::model(path, problem, Hint::None);
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot read the model manifest: {e}")))?;
        let mut spec: ModelSpec = serde_json::from_str(&text)
            .map_err(|e| err(format!("not a valid model manifest: {e}")))?;
        spec.dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        if spec.features.is_empty() {
            return Err(err("the manifest names no feature outputs".into()));
        }
        if spec.pad_multiple == 0
            || spec.working_short_side < 32
            || spec.max_long_side < spec.working_short_side
            || spec
                .features
                .iter()
                .any(|f| f.stride == 0 || f.channels == 0)
            || spec.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err(err(
                "the manifest has an impossible size, stride, channel count or std".into(),
            ));
        }
        Ok(spec)
    }

    /// The ONNX file this manifest describes.
    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.file)
    }

    /// Finds a manifest from what a user typed: a manifest path (`x.json`), a model path
    /// (`x.onnx`, with `x.json` beside it), or a name looked up in `models_dir`.
    pub fn resolve(what: &str, models_dir: &Path) -> Result<ModelSpec> {
        let p = Path::new(what);
        let manifest = match p.extension().and_then(|e| e.to_str()) {
            Some("json") => p.to_path_buf(),
            Some("onnx") => {
                let m = p.with_extension("json");
                if !m.is_file() {
                    return Err(Error::model(
                        p,
                        format!(
                            "no manifest {} beside the model (copy one from models/ and set \"file\")",
                            m.display()
                        ),
                        Hint::None,
                    ));
                }
                m
            }
            _ => models_dir.join(format!("{what}.json")),
        };
        if !manifest.is_file() {
            let known = known_models(models_dir).join(", ");
            return Err(Error::model(
                manifest,
                format!(
                    "no such model manifest (known models: {})",
                    if known.is_empty() { "none" } else { &known }
                ),
                Hint::None,
            ));
        }
        let mut spec = ModelSpec::read(&manifest)?;
        if p.extension().and_then(|e| e.to_str()) == Some("onnx") {
            // The model the user named wins over the manifest's "file".
            spec.dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
            spec.file = p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        Ok(spec)
    }
}

/// Names of the manifests in `models_dir`, sorted.
pub fn known_models(models_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(models_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            if p.extension()? != "json" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_manifests_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        for name in ["resnet50", "efficientnet-lite0"] {
            let spec = ModelSpec::resolve(name, &dir).unwrap();
            assert_eq!(spec.name, name);
            assert_eq!(spec.features.len(), 2);
            assert_eq!(spec.features[0].stride, 8);
            assert_eq!(spec.features[1].stride, 16);
        }
        assert_eq!(known_models(&dir), ["efficientnet-lite0", "resnet50"]);
    }

    #[test]
    fn unknown_model_names_the_known_ones() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let e = ModelSpec::resolve("vgg", &dir).unwrap_err().to_string();
        assert!(
            e.contains("vgg.json") && e.contains("efficientnet-lite0, resnet50"),
            "{e}"
        );
    }
}
