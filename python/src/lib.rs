//! `spotdiff._spotdiff`: the native half of the `spotdiff` Python package.
//!
//! Thin on purpose: it turns Python values into the library's types ([`Options`], images,
//! [`Style`]), runs the library with the GIL released, and turns the results back (the
//! report as JSON text, pictures as raw bytes). The Python half (`spotdiff/__init__.py`)
//! gives them their Python shape (dataclasses, numpy arrays) and finds the backbone.

use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::PyByteArray;
use spotdiff::deep::{default_model, Backbone, ModelSpec};
use spotdiff::render::{parse_hex_color, render, Picture};
use spotdiff::{
    AlignMode, ErrorKind, GlobalChange, Hint, Image, LimitKind, Limits, Method,
    Options as LibOptions, Rect, SizePolicy, Style, Threshold,
};
use std::path::{Path, PathBuf};

create_exception!(
    spotdiff,
    SpotdiffError,
    PyValueError,
    "A comparison could not be made. `str(e)` is one line naming the file or option and the problem (the command line's message); `e.kind` names the kind."
);
create_exception!(
    spotdiff,
    FileError,
    SpotdiffError,
    "A file could not be read or written (kind `io`)."
);
create_exception!(
    spotdiff,
    DecodeError,
    SpotdiffError,
    "The bytes are not an image spotdiff can decode (kind `decode`)."
);
create_exception!(
    spotdiff,
    LimitError,
    SpotdiffError,
    "An input is over a limit, e.g. `max_pixels` (kind `limit`)."
);
create_exception!(
    spotdiff,
    SizeError,
    SpotdiffError,
    "The images differ in size and the size policy does not allow it (kind `size`)."
);
create_exception!(
    spotdiff,
    ModelError,
    SpotdiffError,
    "The backbone model is missing or unusable (kind `model`)."
);
create_exception!(
    spotdiff,
    OnnxRuntimeError,
    SpotdiffError,
    "The ONNX Runtime library is missing or unusable (kind `runtime`)."
);
create_exception!(
    spotdiff,
    OptionError,
    SpotdiffError,
    "An option has a value spotdiff cannot work with (kind `option`)."
);

/// The set-up commands the hints name (the project's scripts, as the command line's).
const SETUP_COMMAND: &str = "bash scripts/setup/setup-deep.sh";
const DOWNLOAD_COMMAND: &str = "bash scripts/models/download-model.sh";

/// The library's error as a Python exception: the class of its kind, and its one-line
/// chain with hints in the package's own terms (keyword arguments, not flags).
fn py_err(e: &spotdiff::Error) -> PyErr {
    let mut line = e.chain();
    match (e, e.hint()) {
        (_, Hint::SizePolicy { resize }) => line.push_str(if resize {
            "; pass size_policy=\"resize\" (same aspect ratio) or \"pad\" to compare them anyway"
        } else {
            "; pass size_policy=\"pad\" to compare them anyway"
        }),
        (
            spotdiff::Error::Limit {
                limit: LimitKind::Pixels { .. },
                ..
            },
            _,
        ) => line.push_str(" (raise it with max_pixels=...)"),
        (_, Hint::InstallModel) => line.push_str(&format!(
            "; `{SETUP_COMMAND}` builds efficientnet-lite0, `{DOWNLOAD_COMMAND}` fetches resnet50"
        )),
        (_, Hint::ExposeOutputs) => line.push_str(&format!("; `{DOWNLOAD_COMMAND}` does that")),
        (_, Hint::InstallRuntime) => line.push_str(&format!(
            "; `{SETUP_COMMAND}` installs it, or pass ort_lib= or set ORT_DYLIB_PATH"
        )),
        _ => {}
    }
    match e.kind() {
        ErrorKind::Io => FileError::new_err(line),
        ErrorKind::Decode => DecodeError::new_err(line),
        ErrorKind::Limit => LimitError::new_err(line),
        ErrorKind::Size => SizeError::new_err(line),
        ErrorKind::Model => ModelError::new_err(line),
        ErrorKind::Runtime => OnnxRuntimeError::new_err(line),
        ErrorKind::Option => OptionError::new_err(line),
        _ => SpotdiffError::new_err(line),
    }
}

fn option_err(name: &str, value: impl std::fmt::Display, problem: &str) -> PyErr {
    OptionError::new_err(format!("invalid option {name}={value}: {problem}"))
}

/// `"auto"`, `None` or a positive number.
fn threshold(name: &str, v: Option<&Bound<'_, PyAny>>) -> PyResult<Threshold> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(Threshold::Auto);
    };
    if let Ok(s) = v.extract::<PyBackedStr>() {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Threshold::Auto);
        }
        return match s.trim().parse::<f32>() {
            Ok(t) if t.is_finite() && t > 0.0 => Ok(Threshold::Fixed(t)),
            _ => Err(option_err(
                name,
                format!("{:?}", &*s),
                &format!("`{}` is not `auto` or a positive number", &*s),
            )),
        };
    }
    match v.extract::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 => Ok(Threshold::Fixed(t as f32)),
        Ok(t) => Err(option_err(
            name,
            t,
            &format!("`{t}` is not `auto` or a positive number"),
        )),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{name} must be \"auto\" or a number, not {}",
            v.get_type().name()?
        ))),
    }
}

/// A rectangle: `(x, y, w, h)` or the command line's `"x,y,w,h"`.
fn rect(v: &Bound<'_, PyAny>) -> PyResult<Rect> {
    let bad = |shown: String| {
        option_err(
            "ignore",
            shown,
            "not a rectangle x,y,w,h with w,h > 0 (give (x, y, w, h) or \"x,y,w,h\")",
        )
    };
    if let Ok(s) = v.extract::<PyBackedStr>() {
        return Rect::parse(&s).ok_or_else(|| bad(format!("{:?}", &*s)));
    }
    match v.extract::<(i64, i64, i64, i64)>() {
        Ok((x, y, w, h)) => {
            let ok = |n: i64| u32::try_from(n).ok();
            match (ok(x), ok(y), ok(w), ok(h)) {
                (Some(x), Some(y), Some(w), Some(h)) if w > 0 && h > 0 => Ok(Rect { x, y, w, h }),
                _ => Err(bad(format!("({x}, {y}, {w}, {h})"))),
            }
        }
        Err(_) => Err(bad(v.repr()?.to_string())),
    }
}

fn count(name: &str, v: i64, max: u64) -> PyResult<u64> {
    match u64::try_from(v) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(option_err(
            name,
            v,
            &format!("must be a whole number from 0 to {max}"),
        )),
    }
}

/// Comparison options, validated once (the command line's names and defaults).
#[pyclass(frozen, module = "spotdiff._spotdiff")]
#[derive(Clone)]
struct Options {
    inner: LibOptions,
}

#[pymethods]
impl Options {
    #[new]
    #[pyo3(signature = (*, method="fused", threshold=None, ssim_threshold=None, deep_threshold=None,
        min_area=12, merge_distance=12, ignore=None, size_policy="auto", align="auto",
        global_change="different", max_pixels=100_000_000,
        max_diff_pixels=None, max_diff_ratio=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        method: &str,
        threshold: Option<&Bound<'_, PyAny>>,
        ssim_threshold: Option<&Bound<'_, PyAny>>,
        deep_threshold: Option<&Bound<'_, PyAny>>,
        min_area: i64,
        merge_distance: i64,
        ignore: Option<&Bound<'_, PyAny>>,
        size_policy: &str,
        align: &str,
        global_change: &str,
        max_pixels: i64,
        max_diff_pixels: Option<i64>,
        max_diff_ratio: Option<f64>,
    ) -> PyResult<Options> {
        let method = Method::parse(method).ok_or_else(|| {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            option_err(
                "method",
                format!("{method:?}"),
                &format!("unknown method (use {})", names.join(", ")),
            )
        })?;
        let size_policy: SizePolicy = size_policy
            .parse()
            .map_err(|e: String| option_err("size_policy", format!("{size_policy:?}"), &e))?;
        let align: AlignMode = align
            .parse()
            .map_err(|e: String| option_err("align", format!("{align:?}"), &e))?;
        let global_change: GlobalChange = global_change
            .parse()
            .map_err(|e: String| option_err("global_change", format!("{global_change:?}"), &e))?;
        let mut rects = Vec::new();
        if let Some(ig) = ignore.filter(|v| !v.is_none()) {
            // One rectangle, or a list of them.
            if ig.extract::<PyBackedStr>().is_ok() || ig.extract::<(i64, i64, i64, i64)>().is_ok() {
                rects.push(rect(ig)?);
            } else {
                for item in ig.try_iter()? {
                    rects.push(rect(&item?)?);
                }
            }
        }
        let inner = LibOptions {
            method,
            pixel_threshold: threshold_arg("threshold", threshold)?,
            ssim_threshold: threshold_arg("ssim_threshold", ssim_threshold)?,
            deep_threshold: threshold_arg("deep_threshold", deep_threshold)?,
            min_area: count("min_area", min_area, u64::from(u32::MAX))? as u32,
            merge_distance: count("merge_distance", merge_distance, u64::from(u32::MAX))? as u32,
            ignore: rects,
            size_policy,
            align,
            global_change,
            tolerance: spotdiff::Tolerance {
                max_diff_pixels: max_diff_pixels
                    .map(|n| count("max_diff_pixels", n, u64::MAX))
                    .transpose()?,
                max_diff_ratio: max_diff_ratio
                    .map(|r| match r {
                        r if (0.0..=1.0).contains(&r) => Ok(r),
                        _ => Err(option_err("max_diff_ratio", r, "must be from 0 to 1")),
                    })
                    .transpose()?,
            },
            limits: Limits {
                max_pixels: count("max_pixels", max_pixels, u64::MAX)?,
                ..Limits::default()
            },
        };
        inner.validate().map_err(|e| py_err(&e))?;
        Ok(Options { inner })
    }

    /// The method's name.
    #[getter]
    fn method(&self) -> &'static str {
        self.inner.method.name()
    }

    fn __repr__(&self) -> String {
        format!("Options({:?})", self.inner)
    }
}

fn threshold_arg(name: &str, v: Option<&Bound<'_, PyAny>>) -> PyResult<Threshold> {
    threshold(name, v)
}

/// Raw pixels handed over by the Python side (numpy arrays, PIL images): rows of
/// `width` pixels, `channels` bytes each (1 gray, 3 RGB/BGR, 4 RGBA/BGRA).
#[pyclass(frozen, module = "spotdiff._spotdiff")]
struct Pixels {
    data: PyBackedBytes,
    width: u32,
    height: u32,
    channels: u8,
    bgr: bool,
}

#[pymethods]
impl Pixels {
    #[new]
    #[pyo3(signature = (data, width, height, channels, order="rgb"))]
    fn new(
        data: PyBackedBytes,
        width: u32,
        height: u32,
        channels: u8,
        order: &str,
    ) -> PyResult<Pixels> {
        let bgr = match order {
            "rgb" => false,
            "bgr" => true,
            other => {
                return Err(option_err(
                    "channels",
                    format!("{other:?}"),
                    "unknown channel order (use \"rgb\" or \"bgr\")",
                ))
            }
        };
        if !matches!(channels, 1 | 3 | 4) {
            return Err(PyValueError::new_err(format!(
                "an image has 1, 3 or 4 channels, not {channels}"
            )));
        }
        let want = u64::from(width) * u64::from(height) * u64::from(channels);
        if data.len() as u64 != want {
            return Err(PyValueError::new_err(format!(
                "{} bytes do not hold {width}x{height} pixels of {channels} channels ({want} bytes)",
                data.len()
            )));
        }
        Ok(Pixels {
            data,
            width,
            height,
            channels,
            bgr,
        })
    }
}

/// Where an input image comes from.
enum Source {
    Path(PathBuf),
    Encoded(PyBackedBytes),
    Pixels(Py<Pixels>),
}

impl<'py> FromPyObject<'_, 'py> for Source {
    type Error = PyErr;

    fn extract(ob: pyo3::Borrowed<'_, 'py, PyAny>) -> PyResult<Source> {
        if let Ok(p) = ob.cast::<Pixels>() {
            return Ok(Source::Pixels(p.to_owned().unbind()));
        }
        if let Ok(b) = ob.extract::<PyBackedBytes>() {
            return Ok(Source::Encoded(b));
        }
        if let Ok(p) = ob.extract::<PathBuf>() {
            return Ok(Source::Path(p));
        }
        Err(PyTypeError::new_err(format!(
            "an image is a path, bytes of an image file, or spotdiff._spotdiff.Pixels, not {}",
            ob.get_type().name()?
        )))
    }
}

impl Source {
    /// Loads or decodes the image; `which` (`A`, `B`) names an in-memory input.
    fn load(&self, which: &str, limits: &Limits) -> spotdiff::Result<Image> {
        match self {
            Source::Path(p) => spotdiff::load(p, limits),
            Source::Encoded(b) => {
                spotdiff::decode(Path::new(&format!("{which} (bytes)")), b, limits)
            }
            Source::Pixels(p) => p.get().to_image(&format!("{which} (array)"), limits),
        }
    }
}

impl Pixels {
    fn to_image(&self, label: &str, limits: &Limits) -> spotdiff::Result<Image> {
        let (w, h) = (self.width, self.height);
        let pixels = u64::from(w) * u64::from(h);
        if pixels == 0 {
            return Err(spotdiff::Error::decode(
                label,
                format!("image has no pixels ({w}x{h})"),
            ));
        }
        if pixels > limits.max_pixels {
            return Err(spotdiff::Error::Limit {
                path: label.into(),
                limit: LimitKind::Pixels {
                    max: limits.max_pixels,
                },
                problem: format!(
                    "image is {w}x{h} ({pixels} pixels), over the limit of {} pixels",
                    limits.max_pixels
                ),
            });
        }
        let c = usize::from(self.channels);
        let (r, b) = if self.bgr { (2, 0) } else { (0, 2) };
        let mut rgba = Vec::with_capacity(pixels as usize * 4);
        for p in self.data.chunks_exact(c) {
            match c {
                1 => rgba.extend_from_slice(&[p[0], p[0], p[0], 255]),
                3 => rgba.extend_from_slice(&[p[r], p[1], p[b], 255]),
                _ => rgba.extend_from_slice(&[p[r], p[1], p[b], p[3]]),
            }
        }
        let rgba = image::RgbaImage::from_raw(w, h, rgba).expect("buffer sized to the image");
        Ok(Image::from_rgba(label, rgba))
    }
}

/// Loads both inputs at once, each on its own thread (as the library's `load_pair`).
fn load_both(a: &Source, b: &Source, limits: &Limits) -> spotdiff::Result<(Image, Image)> {
    let (ra, rb) = std::thread::scope(|s| {
        let ha = s.spawn(|| a.load("A", limits));
        let rb = b.load("B", limits);
        (ha.join(), rb)
    });
    let ra = ra.unwrap_or_else(|p| std::panic::resume_unwind(p));
    Ok((ra?, rb?))
}

/// The backbone and what the comparisons share; built once, used from any thread.
#[pyclass(frozen, module = "spotdiff._spotdiff")]
struct Session {
    inner: spotdiff::Session,
    note: Option<String>,
}

#[pymethods]
impl Session {
    /// `model`: a name in `models_dir`, a manifest `.json`, a model `.onnx` with its
    /// manifest beside it, `"none"`, or `None` for the default (ResNet50 when its model
    /// file is present, else EfficientNet-Lite0; when neither is, or no runtime was
    /// found, the session has no backbone and `note` says why). A named model that
    /// cannot be used raises.
    #[new]
    #[pyo3(signature = (model=None, models_dir=None, ort_lib=None))]
    fn new(
        py: Python<'_>,
        model: Option<String>,
        models_dir: Option<PathBuf>,
        ort_lib: Option<PathBuf>,
    ) -> PyResult<Session> {
        if model
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("none"))
        {
            return Ok(Session {
                inner: spotdiff::Session::new(),
                note: None,
            });
        }
        let models_dir = models_dir.unwrap_or_else(|| PathBuf::from("models"));
        let opened = py.detach(|| -> spotdiff::Result<Result<Backbone, String>> {
            let spec = match &model {
                Some(m) => ModelSpec::resolve(m, &models_dir)?,
                None => match default_model(&models_dir) {
                    Some(spec) => spec,
                    None => {
                        return Ok(Err(format!(
                            "no backbone model in {} (`{SETUP_COMMAND}` builds the offline one)",
                            models_dir.display()
                        )))
                    }
                },
            };
            let Some(runtime) = ort_lib else {
                let reason = format!(
                    "ONNX Runtime not found (tried ort_lib=, ORT_DYLIB_PATH and \
                     .deps/onnxruntime/libonnxruntime.so); `{SETUP_COMMAND}` installs it"
                );
                return match model {
                    None => Ok(Err(reason)),
                    Some(_) => Err(spotdiff::Error::runtime(
                        "libonnxruntime.so",
                        reason,
                        Hint::None,
                    )),
                };
            };
            Backbone::open(spec, &runtime).map(Ok)
        });
        match opened.map_err(|e| py_err(&e))? {
            Ok(backbone) => Ok(Session {
                inner: spotdiff::Session::with_backbone(Some(backbone)),
                note: None,
            }),
            Err(note) => Ok(Session {
                inner: spotdiff::Session::new(),
                note: Some(note),
            }),
        }
    }

    /// The backbone's name, `None` without one.
    #[getter]
    fn model(&self) -> Option<String> {
        self.inner.backbone().map(|b| b.spec().name.clone())
    }

    /// Why the default backbone is missing (`None` when one was loaded or none was
    /// asked for).
    #[getter]
    fn note(&self) -> Option<String> {
        self.note.clone()
    }

    /// Compares two images (paths, encoded bytes or `Pixels`) with the GIL released.
    fn compare(
        &self,
        py: Python<'_>,
        a: Source,
        b: Source,
        options: &Options,
    ) -> PyResult<Comparison> {
        let options = &options.inner;
        if options.method == Method::Deep && self.inner.backbone().is_none() {
            let why = self
                .note
                .clone()
                .unwrap_or_else(|| "this comparer was made with model=\"none\"".into());
            return Err(OptionError::new_err(format!(
                "invalid option: method=\"deep\" needs a backbone: {why}"
            )));
        }
        let done = py.detach(|| -> spotdiff::Result<_> {
            let (ia, ib) = load_both(&a, &b, &options.limits)?;
            let cmp = self.inner.compare(&ia, &ib, options)?;
            // Through a Value, as `spotdiff compare --json` prints it (f32 fields widened
            // to f64, keys sorted), so that the dicts compare equal to the CLI's.
            let value = serde_json::to_value(&cmp.report).expect("report serialises");
            let report = serde_json::to_string(&value).expect("report serialises");
            Ok((cmp.into_owned(), report))
        });
        let (cmp, report) = done.map_err(|e| py_err(&e))?;
        Ok(Comparison { cmp, report })
    }
}

/// A finished comparison: the report and what the pictures are drawn from.
#[pyclass(frozen, module = "spotdiff._spotdiff")]
struct Comparison {
    cmp: spotdiff::Comparison<'static>,
    report: String,
}

#[pymethods]
impl Comparison {
    /// The JSON report, as `spotdiff compare --json` prints it (without `pictures`).
    #[getter]
    fn report_json(&self) -> &str {
        &self.report
    }

    /// Milliseconds spent in each step.
    #[getter]
    fn timings(&self) -> [(&'static str, f64); 5] {
        let t = &self.cmp.timings;
        [
            ("maps_ms", t.maps_ms),
            ("deep_preprocess_ms", t.deep_preprocess_ms),
            ("deep_inference_ms", t.deep_inference_ms),
            ("deep_map_ms", t.deep_map_ms),
            ("boxes_ms", t.boxes_ms),
        ]
    }

    /// Draws one picture (`a`, `b`, `side`, `heatmap`, `mask`, `filled`): returns
    /// `(pixels, height, width, channels)`, 3 channels (RGB, or BGR with `bgr`) or 1
    /// (the mask).
    #[pyo3(signature = (picture, color=None, thickness=2, fill_opacity=0.5, bgr=false))]
    fn render<'py>(
        &self,
        py: Python<'py>,
        picture: &str,
        color: Option<&Bound<'py, PyAny>>,
        thickness: i64,
        fill_opacity: f64,
        bgr: bool,
    ) -> PyResult<(Bound<'py, PyByteArray>, u32, u32, u32)> {
        let Some(picture) = Picture::parse(picture) else {
            return Err(option_err(
                "picture",
                format!("{picture:?}"),
                "unknown picture (use a, b, side, heatmap, mask or filled)",
            ));
        };
        let mut style = Style::default();
        if let Some(c) = color.filter(|c| !c.is_none()) {
            style.color = if let Ok(s) = c.extract::<PyBackedStr>() {
                parse_hex_color(&s).ok_or_else(|| {
                    option_err(
                        "color",
                        format!("{:?}", &*s),
                        "not a hex colour like #ff0044 or #f04",
                    )
                })?
            } else {
                c.extract::<[u8; 3]>().map_err(|_| {
                    option_err(
                        "color",
                        c.repr().map(|r| r.to_string()).unwrap_or_default(),
                        "give a hex colour like \"#ff0044\" or an (r, g, b) tuple of 0..255",
                    )
                })?
            };
        }
        if !(1..=64).contains(&thickness) {
            return Err(option_err("thickness", thickness, "must be from 1 to 64"));
        }
        style.thickness = thickness as u32;
        if !(0.0..=1.0).contains(&fill_opacity) {
            return Err(option_err(
                "fill_opacity",
                fill_opacity,
                "must be a number from 0 to 1",
            ));
        }
        style.fill_opacity = fill_opacity as f32;
        let (data, h, w, c) = py.detach(|| {
            let img = render(&self.cmp, picture, &style);
            let (w, h) = (img.width(), img.height());
            if picture == Picture::Mask {
                (img.into_luma8().into_raw(), h, w, 1)
            } else {
                let mut rgb = img.into_rgb8().into_raw();
                if bgr {
                    for p in rgb.chunks_exact_mut(3) {
                        p.swap(0, 2);
                    }
                }
                (rgb, h, w, 3)
            }
        });
        Ok((PyByteArray::new(py, &data), h, w, c))
    }
}

/// Native half of the spotdiff package; use `spotdiff`, not this module.
#[pymodule]
fn _spotdiff(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Options>()?;
    m.add_class::<Pixels>()?;
    m.add_class::<Session>()?;
    m.add_class::<Comparison>()?;
    for (name, ty, kind) in [
        ("SpotdiffError", py.get_type::<SpotdiffError>(), None),
        ("FileError", py.get_type::<FileError>(), Some("io")),
        ("DecodeError", py.get_type::<DecodeError>(), Some("decode")),
        ("LimitError", py.get_type::<LimitError>(), Some("limit")),
        ("SizeError", py.get_type::<SizeError>(), Some("size")),
        ("ModelError", py.get_type::<ModelError>(), Some("model")),
        (
            "OnnxRuntimeError",
            py.get_type::<OnnxRuntimeError>(),
            Some("runtime"),
        ),
        ("OptionError", py.get_type::<OptionError>(), Some("option")),
    ] {
        ty.setattr("kind", kind)?;
        m.add(name, ty)?;
    }
    m.add("REPORT_SCHEMA", spotdiff::report::REPORT_SCHEMA)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
