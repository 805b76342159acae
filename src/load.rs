//! Loading images: file checks, format sniffing, limits checked against the header
//! before any pixel memory is allocated, decoding to 8-bit RGBA.
//!
//! Alpha is kept. The comparison treats a pixel as the colour it shows over *both*
//! a white and a black background (see `pixel.rs`), so a change of transparency is a
//! change, while fully transparent pixels compare equal whatever colour they store.

use crate::error::{Error, IoOp, LimitKind, Result};
use crate::options::Limits;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbaImage};
use serde::Serialize;
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// A decoded input image.
#[derive(Debug, Clone)]
pub struct Image {
    /// Where it came from (for messages and the report).
    pub path: PathBuf,
    /// Detected file format, lowercase (`png`, `jpeg`, ...).
    pub format: String,
    /// The pixels, 8-bit RGBA.
    pub rgba: RgbaImage,
    /// True when at least one pixel is not fully opaque.
    pub has_alpha: bool,
}

/// What the report says about an input.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    pub path: String,
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub has_alpha: bool,
}

impl Image {
    /// Wraps pixels that did not come from a file (tests, the web page's uploads).
    pub fn from_rgba(path: impl Into<PathBuf>, rgba: RgbaImage) -> Image {
        let has_alpha = rgba.pixels().any(|p| p[3] != 255);
        Image {
            path: path.into(),
            format: "raw".into(),
            rgba,
            has_alpha,
        }
    }

    pub fn width(&self) -> u32 {
        self.rgba.width()
    }

    pub fn height(&self) -> u32 {
        self.rgba.height()
    }

    pub fn info(&self) -> ImageInfo {
        ImageInfo {
            path: self.path.display().to_string(),
            format: self.format.clone(),
            width: self.width(),
            height: self.height(),
            has_alpha: self.has_alpha,
        }
    }
}

/// Reads and decodes one image file within `limits`.
pub fn load(path: &Path, limits: &Limits) -> Result<Image> {
    let read_err = |problem: String| Error::read(path, problem);
    let io_err = |e: std::io::Error| Error::io(IoOp::Read, path, io_problem(&e), e);
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        return Err(read_err("is a directory, not an image file".into()));
    }
    if meta.len() == 0 {
        return Err(read_err("file is empty".into()));
    }
    if meta.len() > limits.max_file_bytes {
        return Err(Error::Limit {
            path: path.to_path_buf(),
            limit: LimitKind::Bytes {
                max: limits.max_file_bytes,
            },
            problem: format!(
                "file is {} bytes, over the limit of {} bytes",
                meta.len(),
                limits.max_file_bytes
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(io_err)?;
    decode(path, &bytes, limits)
}

/// Decodes an image held in memory; `path` is used for messages only.
pub fn decode(path: &Path, bytes: &[u8], limits: &Limits) -> Result<Image> {
    let decode_err = |problem: String| Error::decode(path, problem);
    if bytes.is_empty() {
        return Err(Error::read(path, "file is empty"));
    }
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(Error::Limit {
            path: path.to_path_buf(),
            limit: LimitKind::Bytes {
                max: limits.max_file_bytes,
            },
            problem: format!(
                "file is {} bytes, over the limit of {} bytes",
                bytes.len(),
                limits.max_file_bytes
            ),
        });
    }
    let format = image::guess_format(bytes).map_err(|_| {
        decode_err("not an image in a supported format (PNG, JPEG, WebP, BMP, TIFF, GIF)".into())
    })?;
    let image_err = |e: image::ImageError| Error::Decode {
        path: path.to_path_buf(),
        problem: decode_problem(format, &e),
        source: Some(e),
    };
    if !matches!(
        format,
        ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::WebP
            | ImageFormat::Bmp
            | ImageFormat::Tiff
            | ImageFormat::Gif
    ) {
        return Err(decode_err(format!(
            "{} images are not supported (PNG, JPEG, WebP, BMP, TIFF, GIF are)",
            format_name(format)
        )));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // The decoder's own allocations (metadata chunks, frame buffers) are bounded too.
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(64 << 20));
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(image_err)?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if w == 0 || h == 0 {
        return Err(decode_err(format!("image has no pixels ({w}x{h})")));
    }
    if pixels > limits.max_pixels {
        return Err(Error::Limit {
            path: path.to_path_buf(),
            limit: LimitKind::Pixels {
                max: limits.max_pixels,
            },
            problem: format!(
                "image is {w}x{h} ({pixels} pixels), over the limit of {} pixels",
                limits.max_pixels
            ),
        });
    }
    // The JPEG decoder fills in whatever is missing from a truncated file, without an
    // error; a cut-off JPEG would then be compared as if its lost part were gray.
    if format == ImageFormat::Jpeg && jpeg_is_complete(bytes) == Some(false) {
        return Err(decode_err(
            "corrupt or truncated JPEG file: the image data has no end (EOI marker)".into(),
        ));
    }
    let orientation = decoder.orientation().ok();
    let from_rgb = decoder.color_type() == image::ColorType::Rgb8;
    let mut img = if from_rgb {
        // The common case, decoded straight into the RGBA buffer and widened in
        // place: no second full-size copy.
        let n = (pixels as usize) * 3;
        let mut buf = vec![0u8; pixels as usize * 4];
        decoder.read_image(&mut buf[..n]).map_err(image_err)?;
        // From the end, a block at a time through a small buffer (the widened block
        // lies past its source, but may overlap the part of it not yet read).
        const BLOCK: usize = 1024;
        let mut tmp = [0u8; BLOCK * 3];
        let mut end = pixels as usize;
        while end > 0 {
            let start = end.saturating_sub(BLOCK);
            let src = &mut tmp[..(end - start) * 3];
            src.copy_from_slice(&buf[start * 3..end * 3]);
            for (d, s) in buf[start * 4..end * 4]
                .chunks_exact_mut(4)
                .zip(src.chunks_exact(3))
            {
                d.copy_from_slice(&[s[0], s[1], s[2], 255]);
            }
            end = start;
        }
        DynamicImage::ImageRgba8(RgbaImage::from_raw(w, h, buf).expect("buffer sized to the image"))
    } else {
        DynamicImage::from_decoder(decoder).map_err(image_err)?
    };
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let may_have_alpha = !from_rgb && img.color().has_alpha();
    let rgba = img.into_rgba8();
    let has_alpha = may_have_alpha && rgba.pixels().any(|p| p[3] != 255);
    Ok(Image {
        path: path.to_path_buf(),
        format: format_name(format).to_ascii_lowercase(),
        rgba,
        has_alpha,
    })
}

/// Walks a JPEG's marker segments to the first scan and looks for the end-of-image
/// marker after it (inside entropy-coded data 0xFF is always followed by 0x00 or a
/// restart marker, so FF D9 there is the end). `None` when the layout is not what is
/// expected: then the decoder decides.
fn jpeg_is_complete(b: &[u8]) -> Option<bool> {
    let mut i = 2; // after SOI
    while i + 1 < b.len() {
        if b[i] != 0xFF {
            return None;
        }
        match b[i + 1] {
            0xFF => i += 1,               // fill byte
            0x01 | 0xD0..=0xD7 => i += 2, // markers without a length
            0xDA => return Some(b[i..].windows(2).any(|w| w == [0xFF, 0xD9])),
            _ if i + 3 < b.len() => {
                let len = u16::from_be_bytes([b[i + 2], b[i + 3]]);
                i += 2 + usize::from(len);
            }
            _ => break,
        }
    }
    Some(false)
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Gif => "GIF",
        ImageFormat::Ico => "ICO",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Tga => "TGA",
        ImageFormat::Hdr => "HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Dds => "DDS",
        ImageFormat::Farbfeld => "Farbfeld",
        ImageFormat::Qoi => "QOI",
        _ => "this format's",
    }
}

fn decode_problem(format: ImageFormat, e: &image::ImageError) -> String {
    use image::ImageError as E;
    let detail = match e {
        E::Decoding(d) => d.to_string(),
        E::Limits(l) => format!("over a decoder limit ({l})"),
        E::Unsupported(u) => format!("unsupported variant ({u})"),
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "file is truncated".to_string()
        }
        other => other.to_string(),
    };
    let detail = detail.replace('\n', " ");
    format!(
        "corrupt or truncated {} file: {detail}",
        format_name(format)
    )
}

fn io_problem(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
