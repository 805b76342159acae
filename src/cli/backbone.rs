//! Where the deep-feature backbone comes from: the `--model` and `--ort-lib` options,
//! the environment (`ORT_DYLIB_PATH`, `SPOTDIFF_MODELS`) and the project folder. The
//! library takes explicit paths; finding them is the command line's business.

use spotdiff::deep::{default_model, Backbone, BackboneOptions, ModelSpec};
use spotdiff::{Error, Hint};
use std::path::{Path, PathBuf};

/// The command that installs the runtime and the offline backbone.
pub const SETUP_COMMAND: &str = "bash scripts/setup/setup-deep.sh";
/// The command that fetches the reference ResNet50.
pub const DOWNLOAD_COMMAND: &str = "bash scripts/models/download-model.sh";
/// File name of the ONNX Runtime library the set-up script installs.
pub const RUNTIME_FILE: &str = "libonnxruntime.so";
/// Folder, under the project root, where the set-up script puts it.
pub const RUNTIME_DIR: &str = ".deps/onnxruntime";

/// Where the deep-feature backbone comes from.
#[derive(clap::Args, Debug, Clone)]
pub struct BackboneArgs {
    /// Backbone for deep features, loaded once and shared by every pair: a name in
    /// models/ (resnet50, efficientnet-lite0), a manifest .json, a model .onnx with its
    /// manifest beside it, or `none`. Default: resnet50 when installed, else
    /// efficientnet-lite0; without either, the fused method uses pixel + SSIM and says
    /// so.
    #[arg(long, value_name = "NAME|PATH")]
    pub model: Option<String>,

    /// The ONNX Runtime library (default: $ORT_DYLIB_PATH, then
    /// .deps/onnxruntime/libonnxruntime.so of the project).
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
}

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

    /// Says on stderr, in one line, that a default backbone is missing.
    pub fn note_missing(&self) {
        if let Selection::Missing(reason) = self {
            eprintln!("spotdiff: note: {reason}; comparing with pixel + SSIM evidence only");
        }
    }
}

impl BackboneArgs {
    /// Finds and loads the backbone these arguments name. A model that was named but
    /// cannot be used is an error; a default that is not installed is
    /// [`Selection::Missing`].
    pub fn select(&self) -> Result<Selection, Error> {
        let model = self.model.as_deref();
        if model.is_some_and(|m| m.eq_ignore_ascii_case("none")) {
            return Ok(Selection::Off);
        }
        let loc = Locations::discover(self.ort_lib.as_deref());
        let spec = match model {
            Some(m) => ModelSpec::resolve(m, &loc.models_dir)?,
            None => match default_model(&loc.models_dir) {
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
                "ONNX Runtime not found (tried ORT_DYLIB_PATH and {RUNTIME_DIR}/{RUNTIME_FILE}); \
                 `{SETUP_COMMAND}` installs it"
            );
            return match model {
                None => Ok(Selection::Missing(reason)),
                Some(_) => Err(Error::runtime(RUNTIME_FILE, reason, Hint::None)),
            };
        };
        let options = BackboneOptions {
            cache_dir: cache_dir(),
            threads: None,
        };
        Backbone::open_with(spec, &runtime, &options).map(|b| Selection::Ready(Box::new(b)))
    }

    /// A session holding the backbone these arguments name; a missing default backbone
    /// is said on stderr in one line, not an error.
    pub fn session(&self) -> Result<spotdiff::Session, Error> {
        let selection = self.select()?;
        selection.note_missing();
        Ok(spotdiff::Session::with_backbone(selection.into_backbone()))
    }
}

/// Where models and the runtime are looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Locations {
    /// Folder of model manifests (`NAME.json`) and model files.
    models_dir: PathBuf,
    /// The ONNX Runtime shared library, if one was found.
    runtime: Option<PathBuf>,
}

impl Locations {
    /// The runtime: `explicit`, then `ORT_DYLIB_PATH`, then `.deps/onnxruntime/` of the
    /// project. The models folder: `SPOTDIFF_MODELS`, then `models/` of the project.
    /// The project is the current folder or a folder above the executable (e.g.
    /// `target/release/../..`).
    fn discover(explicit_runtime: Option<&Path>) -> Locations {
        let roots = project_roots();
        let models_dir = std::env::var_os("SPOTDIFF_MODELS")
            .map(PathBuf::from)
            .or_else(|| {
                roots
                    .iter()
                    .map(|r| r.join("models"))
                    .find(|d| d.join("efficientnet-lite0.json").is_file())
            })
            .unwrap_or_else(|| PathBuf::from("models"));
        let runtime = match explicit_runtime {
            Some(p) => Some(p.to_path_buf()),
            None => std::env::var_os("ORT_DYLIB_PATH")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| {
                    roots
                        .iter()
                        .map(|r| r.join(RUNTIME_DIR).join(RUNTIME_FILE))
                        .find(|p| p.is_file())
                }),
        };
        Locations {
            models_dir,
            runtime,
        }
    }
}

/// Where ONNX Runtime's optimized graphs are kept between runs: `$SPOTDIFF_CACHE`
/// (empty or `none`: no cache), else `$XDG_CACHE_HOME/spotdiff`, else
/// `~/.cache/spotdiff`.
fn cache_dir() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os("SPOTDIFF_CACHE") {
        return (!v.is_empty() && v != "none").then(|| PathBuf::from(v));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("spotdiff"))
}

fn project_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).take(4).map(Path::to_path_buf));
    }
    roots
}

/// The command line's hint for a model or runtime error, in its own words.
pub fn hint_text(hint: Hint) -> Option<String> {
    match hint {
        Hint::InstallModel => Some(format!(
            "`{SETUP_COMMAND}` builds efficientnet-lite0, `{DOWNLOAD_COMMAND}` fetches resnet50"
        )),
        Hint::ExposeOutputs => Some(format!("`{DOWNLOAD_COMMAND}` does that")),
        Hint::InstallRuntime => Some(format!(
            "`{SETUP_COMMAND}` installs it, or set ORT_DYLIB_PATH"
        )),
        _ => None,
    }
}
