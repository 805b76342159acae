//! The ONNX Runtime side: loading the shared library from the path it is given,
//! building one session per model (checked against its manifest once), and running a
//! batch through it. Where the library and the models live is the caller's business
//! (the `spotdiff` binary looks in the environment and the project folder).
//!
//! Without the `deep` feature, [`Backbone`] is an empty type: no value of it exists,
//! so every deep path of the pipeline is statically off.

use super::manifest::ModelSpec;
#[cfg(feature = "deep")]
use crate::error::Hint;
use crate::error::{Error, Result};
#[cfg(feature = "deep")]
use ndarray::{Array2, Array4, ArrayD, ArrayView3, Axis, Ix4};
#[cfg(feature = "deep")]
use ort::session::builder::GraphOptimizationLevel;
#[cfg(feature = "deep")]
use ort::session::Session;
#[cfg(feature = "deep")]
use ort::value::{Tensor, ValueType};
#[cfg(feature = "deep")]
use sha2::{Digest, Sha256};
use std::path::Path;
#[cfg(feature = "deep")]
use std::sync::{Mutex, OnceLock};

/// The default backbone in `models_dir`: ResNet50 when its model file is present,
/// else the offline EfficientNet-Lite0; `None` when neither model file exists.
pub fn default_model(models_dir: &Path) -> Option<ModelSpec> {
    ["resnet50", "efficientnet-lite0"].iter().find_map(|name| {
        let spec = ModelSpec::resolve(name, models_dir).ok()?;
        spec.model_path().is_file().then_some(spec)
    })
}

#[cfg(feature = "deep")]
static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

/// Loads the ONNX Runtime library once per process.
#[cfg(feature = "deep")]
fn environment(runtime: &Path) -> Result<ort::environment::Environment> {
    let err = |problem: String| Error::runtime(runtime, problem, Hint::InstallRuntime);
    if !runtime.is_file() {
        return Err(err("ONNX Runtime library not found".into()));
    }
    let env = ENVIRONMENT.get_or_init(|| {
        let built = std::panic::catch_unwind(|| {
            ort::init_from(runtime)
                .map_err(|e| e.to_string())?
                .with_name("spotdiff")
                .with_telemetry(false)
                .build()
                .map_err(|e| e.to_string())
        });
        match built {
            Ok(r) => r,
            Err(_) => Err("the library could not be initialised".to_string()),
        }
    });
    env.clone().map_err(|e| {
        err(format!(
            "cannot load ONNX Runtime ({e}); spotdiff needs 1.31"
        ))
    })
}

/// One feature-map output for a batch.
#[cfg(feature = "deep")]
#[derive(Debug, Clone)]
pub struct FeatureMap {
    pub stride: u32,
    /// `[n, c, h, w]`.
    pub data: Array4<f32>,
}

#[cfg(feature = "deep")]
impl FeatureMap {
    /// The `[c, h, w]` block of batch item `i`.
    pub fn item(&self, i: usize) -> ArrayView3<'_, f32> {
        self.data.index_axis(Axis(0), i)
    }
}

/// What a batch run yields.
#[cfg(feature = "deep")]
#[derive(Debug, Clone)]
pub struct Outputs {
    /// The pooled embeddings, one row per batch item.
    pub pooled: Array2<f32>,
    /// The manifest's feature maps, in its order.
    pub features: Vec<FeatureMap>,
    /// Class scores, one row per batch item, when the manifest names a logits output.
    pub logits: Option<Array2<f32>>,
}

/// How a backbone's session is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackboneOptions {
    /// Folder for ONNX Runtime's optimized graph, kept between processes (see
    /// [`Backbone::open_with`]); `None`: optimize at every load.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Threads of the session (`None`: one per core).
    pub threads: Option<usize>,
}

/// A pretrained CNN backbone: the checked manifest and one ONNX Runtime session,
/// built once and shared (runs are serialised; the session itself uses every core).
#[cfg(feature = "deep")]
pub struct Backbone {
    spec: ModelSpec,
    session: Mutex<Session>,
}

/// Without the `deep` feature no backbone can exist.
#[cfg(not(feature = "deep"))]
#[derive(Debug)]
pub enum Backbone {}

#[cfg(not(feature = "deep"))]
impl Backbone {
    /// Never succeeds: this build has no ONNX Runtime support.
    pub fn open(spec: ModelSpec, runtime: &Path) -> Result<Backbone> {
        Backbone::open_with(spec, runtime, &BackboneOptions::default())
    }

    /// Never succeeds: this build has no ONNX Runtime support.
    pub fn open_with(
        spec: ModelSpec,
        runtime: &Path,
        options: &BackboneOptions,
    ) -> Result<Backbone> {
        let _ = (runtime, options);
        Err(Error::runtime(
            spec.model_path(),
            "this build of spotdiff has no deep-feature support (the `deep` feature)",
            crate::error::Hint::None,
        ))
    }

    /// The manifest this backbone was built from.
    pub fn spec(&self) -> &ModelSpec {
        match *self {}
    }
}

#[cfg(feature = "deep")]
impl std::fmt::Debug for Backbone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backbone")
            .field("model", &self.spec.name)
            .finish()
    }
}

#[cfg(feature = "deep")]
impl Backbone {
    /// Loads the model a manifest describes: checks the file and its SHA-256, builds
    /// the session with one thread per core, and checks the input (`[N, 3, H, W]`
    /// float) and that every output the manifest names exists. No cache: see
    /// [`Backbone::open_with`].
    pub fn open(spec: ModelSpec, runtime: &Path) -> Result<Backbone> {
        Backbone::open_with(spec, runtime, &BackboneOptions::default())
    }

    /// [`Backbone::open`] with a cache of ONNX Runtime's optimized graph.
    ///
    /// The first load optimizes the graph (constant folding, fused convolutions, the
    /// CPU's blocked layout) and, with [`BackboneOptions::cache_dir`], saves the result;
    /// later loads read the saved graph with optimization off. The cached file is named
    /// after the manifest's checksum, the model file's size and modification time and
    /// the runtime library's: a rebuilt model or another runtime makes a new entry. A
    /// warm load does not hash the model again (the checksum was checked when the entry
    /// was written, for a file of that size and time). An unreadable or unwritable cache
    /// is no error: the model is then loaded as without one.
    pub fn open_with(
        spec: ModelSpec,
        runtime: &Path,
        options: &BackboneOptions,
    ) -> Result<Backbone> {
        let path = spec.model_path();
        let err = |problem: String| Error::model(&path, problem, Hint::None);
        let meta = std::fs::metadata(&path).map_err(|e| read_error(&path, e))?;
        let env = environment(runtime)?;
        let threads = options
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let unusable =
            |e: &dyn std::fmt::Display| err(format!("not a usable ONNX model: {}", first_line(&e)));
        let builder = |level: GraphOptimizationLevel| {
            Session::builder(&env)
                .map_err(|e| unusable(&e))?
                .with_optimization_level(level)
                .map_err(|e| unusable(&e))?
                .with_intra_threads(threads)
                .map_err(|e| unusable(&e))?
                // Threads that spin between operators waste the cores the rest of the
                // comparison (and, on a shared machine, everyone else) needs: a batch
                // of two at 224 × 384 ran in 84 ms without spinning and 99-150 ms with
                // it on 2 busy cores (first run of a session, BENCHMARKS.md).
                .with_intra_op_spinning(false)
                .map_err(|e| unusable(&e))
        };
        let cached = options
            .cache_dir
            .as_deref()
            .map(|dir| dir.join(cache_name(&spec, &meta, runtime)));
        // A warm load: the saved graph, checked like a fresh one.
        if let Some(file) = cached.as_deref().filter(|f| f.is_file()) {
            let session = builder(GraphOptimizationLevel::Disable)?.commit_from_file(file);
            match session {
                Ok(session) if check_signature(&session, &spec).is_ok() => {
                    return Ok(Backbone {
                        spec,
                        session: Mutex::new(session),
                    })
                }
                // A damaged entry: dropped, and the model loaded afresh below.
                _ => {
                    let _ = std::fs::remove_file(file);
                }
            }
        }
        let bytes = std::fs::read(&path).map_err(|e| read_error(&path, e))?;
        if let Some(want) = &spec.sha256 {
            let have = hex(&Sha256::digest(&bytes));
            if !have.eq_ignore_ascii_case(want) {
                return Err(err(format!(
                    "checksum mismatch: SHA-256 is {have}, the manifest says {want} \
                     (a damaged or different file; rebuild or fetch it again)"
                )));
            }
        }
        // The optimized graph is written under a name of this process's own, then
        // renamed: concurrent first loads never read a half-written entry.
        let pending = cached.as_deref().and_then(|file| {
            std::fs::create_dir_all(file.parent()?).ok()?;
            Some(file.with_extension(format!("{}.tmp", std::process::id())))
        });
        let mut b = builder(GraphOptimizationLevel::Level3)?;
        if let Some(tmp) = &pending {
            b = b.with_optimized_model_path(tmp).map_err(|e| unusable(&e))?;
        }
        let session = b.commit_from_memory(&bytes).map_err(|e| unusable(&e))?;
        check_signature(&session, &spec)
            .map_err(|(problem, hint)| Error::model(&path, problem, hint))?;
        if let (Some(tmp), Some(file)) = (&pending, &cached) {
            if std::fs::rename(tmp, file).is_err() {
                let _ = std::fs::remove_file(tmp);
            }
        }
        Ok(Backbone {
            spec,
            session: Mutex::new(session),
        })
    }

    /// The manifest this backbone was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Runs a batch (`[n, 3, h, w]`, already normalised) and returns the pooled
    /// embeddings and feature maps, shape-checked against the manifest.
    pub fn run(&self, input: Array4<f32>) -> Result<Outputs> {
        let err = |problem: String| Error::model(self.spec.model_path(), problem, Hint::None);
        let (n, _, h, w) = input.dim();
        let tensor = Tensor::from_array(input)
            .map_err(|e| err(format!("cannot build the input tensor: {}", first_line(&e))))?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session
            .run(ort::inputs![self.spec.input.as_str() => tensor])
            .map_err(|e| err(format!("inference failed: {}", first_line(&e))))?;
        let extract = |name: &str| -> Result<ArrayD<f32>> {
            let value = outputs
                .get(name)
                .ok_or_else(|| err(format!("the model gave no output `{name}`")))?;
            let array = value
                .try_extract_array::<f32>()
                .map_err(|e| err(format!("output `{name}`: {}", first_line(&e))))?;
            Ok(array.to_owned())
        };
        // `[n, ...]` as `n` rows (`None` for a scalar).
        let rows = |a: ArrayD<f32>| -> Option<Array2<f32>> {
            let (&first, rest) = a.shape().split_first()?;
            let dim = rest.iter().product::<usize>();
            a.into_shape_with_order((first, dim)).ok()
        };
        let pooled = extract(&self.spec.pooled)?;
        let pshape = pooled.shape().to_vec();
        let pooled = rows(pooled)
            .filter(|p| p.nrows() == n && p.ncols() > 0)
            .ok_or_else(|| {
                err(format!(
                    "pooled output `{}` has shape {pshape:?}, expected [{n}, D, ...]",
                    self.spec.pooled
                ))
            })?;
        let mut features = Vec::new();
        for f in &self.spec.features {
            let data = extract(&f.name)?;
            let want = [
                n,
                f.channels,
                h.div_ceil(f.stride as usize),
                w.div_ceil(f.stride as usize),
            ];
            if data.shape() != want {
                return Err(err(format!(
                    "feature output `{}` has shape {:?}, expected {want:?} (stride {})",
                    f.name,
                    data.shape(),
                    f.stride
                )));
            }
            features.push(FeatureMap {
                stride: f.stride,
                data: data
                    .into_dimensionality::<Ix4>()
                    .expect("a checked 4-D shape"),
            });
        }
        let logits = match &self.spec.logits {
            Some(name) if outputs.get(name.as_str()).is_some() => rows(extract(name)?),
            _ => None,
        };
        Ok(Outputs {
            pooled,
            features,
            logits,
        })
    }
}

/// The error for a model file that cannot be read.
#[cfg(feature = "deep")]
fn read_error(path: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::model(path, "model file not found", Hint::InstallModel)
        }
        _ => Error::Model {
            path: path.to_path_buf(),
            problem: "cannot read the model".into(),
            hint: Hint::None,
            source: Some(e.into()),
        },
    }
}

/// The cache entry's file name: the model's name and a digest of what identifies the
/// optimized graph (the manifest's checksum, the model file's and the runtime's size
/// and modification time).
#[cfg(feature = "deep")]
fn cache_name(spec: &ModelSpec, meta: &std::fs::Metadata, runtime: &Path) -> String {
    let stamp = |m: &std::fs::Metadata| {
        let time = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("{}:{time}", m.len())
    };
    let runtime_stamp = std::fs::metadata(runtime).map_or_else(|_| String::new(), |m| stamp(&m));
    let key = format!(
        "{}|{}|{}|{}",
        spec.sha256.as_deref().unwrap_or("-"),
        stamp(meta),
        runtime_stamp,
        spec.file
    );
    let digest = hex(&Sha256::digest(key.as_bytes()));
    format!("{}-{}.onnx", spec.name, &digest[..16])
}

/// Checks the session's input and outputs against the manifest.
#[cfg(feature = "deep")]
fn check_signature(session: &Session, spec: &ModelSpec) -> std::result::Result<(), (String, Hint)> {
    check_input(session, spec).map_err(|p| (p, Hint::None))?;
    let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    for want in std::iter::once(&spec.pooled).chain(spec.features.iter().map(|f| &f.name)) {
        if !names.contains(&want.as_str()) {
            return Err((
                format!(
                    "the model has no output `{want}` (outputs: {}); models from the ONNX Model \
                     Zoo need their inner tensors exposed",
                    names.join(", ")
                ),
                Hint::ExposeOutputs,
            ));
        }
    }
    Ok(())
}

#[cfg(feature = "deep")]
fn check_input(session: &Session, spec: &ModelSpec) -> std::result::Result<(), String> {
    let input = session
        .inputs()
        .iter()
        .find(|i| i.name() == spec.input)
        .ok_or_else(|| {
            format!(
                "the model has no input `{}` (inputs: {})",
                spec.input,
                session
                    .inputs()
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    match input.dtype() {
        ValueType::Tensor { ty, shape, .. } => {
            if *ty != ort::value::TensorElementType::Float32 {
                return Err(format!("input `{}` is {ty}, expected float32", spec.input));
            }
            if shape.len() != 4 || !(shape[1] == 3 || shape[1] < 0) {
                return Err(format!(
                    "input `{}` has shape {:?}, expected [N, 3, H, W]",
                    spec.input,
                    &shape[..]
                ));
            }
        }
        other => return Err(format!("input `{}` is {other}, not a tensor", spec.input)),
    }
    Ok(())
}

#[cfg(feature = "deep")]
fn first_line(e: &(impl std::fmt::Display + ?Sized)) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

#[cfg(feature = "deep")]
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
