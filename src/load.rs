//! Loading images: file checks, format sniffing, the header read first (limits and,
//! for a pair, the size policy checked before any pixel memory is allocated), then
//! decoding to 8-bit RGBA into a buffer allocated fallibly.
//!
//! Alpha is kept. The comparison treats a pixel as the colour it shows over *both*
//! a white and a black background (see `pixel.rs`), so a change of transparency is a
//! change, while fully transparent pixels compare equal whatever colour they store.
//!
//! Memory: the decoded image is one RGBA buffer (4 bytes per pixel), allocated with
//! `try_reserve` so that an image the machine cannot hold is an error, not an abort;
//! 8-bit sources are decoded straight into it and widened in place, 16-bit and float
//! ones go through one buffer of their own size. What the decoders allocate for
//! themselves (ICC profiles, text and EXIF chunks, compressed strips) is bounded by
//! [`Limits::max_metadata_bytes`].

use crate::cancel::Cancel;
use crate::error::{Error, IoOp, LimitKind, Result};
use crate::options::{Limits, Options, SizePolicy};
use image::metadata::Orientation;
use image::{ColorType, ImageDecoder, ImageFormat, ImageReader, RgbaImage};
use serde::Serialize;
use std::io::{BufRead, Cursor, Read, Seek, SeekFrom};
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

/// What an image file's header says, read without decoding any pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Where it came from (for messages).
    pub path: PathBuf,
    /// Detected file format, lowercase (`png`, `jpeg`, ...).
    pub format: String,
    /// Width and height as decoded, after the EXIF orientation (a 90° rotation swaps
    /// them).
    pub width: u32,
    pub height: u32,
}

impl Header {
    /// Width × height.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// Reads and decodes one image file within `limits`.
pub fn load(path: &Path, limits: &Limits) -> Result<Image> {
    let bytes = read_file(path, limits)?;
    decode(path, &bytes, limits)
}

/// Reads an image file into memory: it must be a regular file, not empty, and within
/// the byte limit.
pub fn read_file(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    let read_err = |problem: String| Error::read(path, problem);
    let io_err = |e: std::io::Error| Error::io(IoOp::Read, path, io_problem(&e), e);
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        return Err(read_err("is a directory, not an image file".into()));
    }
    if !meta.is_file() {
        // A FIFO, a socket or a device (/dev/zero, /dev/urandom): reading it may never
        // end, and its length says nothing.
        return Err(read_err(
            "not a regular file (a pipe, socket or device); give an image file".into(),
        ));
    }
    if meta.len() == 0 {
        return Err(read_err("file is empty".into()));
    }
    check_bytes(path, meta.len(), limits)?;
    let bytes = std::fs::read(path).map_err(io_err)?;
    // The file may have grown since it was measured.
    check_bytes(path, bytes.len() as u64, limits)?;
    Ok(bytes)
}

fn check_bytes(path: &Path, len: u64, limits: &Limits) -> Result<()> {
    if len > limits.max_file_bytes {
        return Err(Error::Limit {
            path: path.to_path_buf(),
            limit: LimitKind::Bytes {
                max: limits.max_file_bytes,
            },
            problem: format!(
                "file is {len} bytes, over the limit of {} bytes",
                limits.max_file_bytes
            ),
        });
    }
    Ok(())
}

/// Reads an image's header from memory: format, size (after the EXIF orientation),
/// and the limits, without decoding any pixel. `path` is used for messages only.
pub fn probe(path: &Path, bytes: &[u8], limits: &Limits) -> Result<Header> {
    let never = Cancel::new();
    let opened = open(path, bytes, limits, &never)?;
    Ok(opened.header)
}

/// Checks that two headers can be compared with `options` before either is decoded:
/// the sizes against the size policy (the same errors [`crate::compare`] gives), and,
/// when both are padded to a common size, that size against the pixel limit.
pub fn check_pair(a: &Header, b: &Header, options: &Options) -> Result<()> {
    let (sa, sb) = ((a.width, a.height), (b.width, b.height));
    crate::align::check_sizes((&a.path, sa), (&b.path, sb), options.size_policy)?;
    if sa != sb && options.size_policy == SizePolicy::Pad {
        let (w, h) = (a.width.max(b.width), a.height.max(b.height));
        let pixels = u64::from(w) * u64::from(h);
        let max = options.limits.max_pixels;
        if pixels > max {
            return Err(Error::Limit {
                path: b.path.clone(),
                limit: LimitKind::Pixels { max },
                problem: format!(
                    "padding both images to {w}x{h} ({pixels} pixels) would exceed the limit of {max} pixels"
                ),
            });
        }
    }
    Ok(())
}

/// Decodes an image held in memory; `path` is used for messages only.
pub fn decode(path: &Path, bytes: &[u8], limits: &Limits) -> Result<Image> {
    decode_cancellable(path, bytes, limits, &Cancel::new())
}

/// [`decode`], stopping with [`Error::Cancelled`] soon after `cancel` is cancelled
/// (PNG, GIF, TIFF, WebP and BMP decoders read as they go and stop at their next
/// read; a JPEG is read whole first and stops after decoding).
pub fn decode_cancellable(
    path: &Path,
    bytes: &[u8],
    limits: &Limits,
    cancel: &Cancel,
) -> Result<Image> {
    let Opened {
        header,
        mut decoder,
        format,
        orientation,
    } = open(path, bytes, limits, cancel)?;
    let image_err = |e: image::ImageError| {
        if cancel.is_cancelled() {
            return Error::Cancelled { step: "decode" };
        }
        let problem = match &e {
            image::ImageError::Limits(_) => format!(
                "{} file: the decoder's own data (metadata such as ICC profiles, text or EXIF, compressed strips) is over the limit of {} MiB",
                format_name(format),
                limits.max_metadata_bytes >> 20
            ),
            _ => decode_problem(format, &e),
        };
        match e {
            image::ImageError::Limits(_) => Error::Limit {
                path: path.to_path_buf(),
                limit: LimitKind::Metadata {
                    max: limits.max_metadata_bytes,
                },
                problem,
            },
            e => Error::Decode {
                path: path.to_path_buf(),
                problem,
                source: Some(e),
            },
        }
    };
    let (w, h) = decoder.dimensions();
    let pixels = usize::try_from(u64::from(w) * u64::from(h)).unwrap_or(usize::MAX);
    let total = decoder.total_bytes();
    // The pixels land in buffers allocated here; the decoder itself may allocate what
    // its format needs on top (a GIF frame, TIFF strips), within the metadata budget.
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(
        total
            .saturating_add(bytes.len() as u64)
            .saturating_add(limits.max_metadata_bytes),
    );
    decoder.set_limits(decoder_limits).map_err(image_err)?;
    let color = decoder.color_type();
    let rgba_bytes = pixels.saturating_mul(4);
    let mut buf = alloc(path, rgba_bytes, (w, h))?;
    let opaque = match color {
        ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8 => {
            // Decoded straight into the RGBA buffer and widened in place: no second
            // full-size copy.
            let c = usize::from(color.channel_count());
            let n = pixels * c;
            decoder.read_image(&mut buf[..n]).map_err(image_err)?;
            widen_in_place(&mut buf, pixels, c);
            !color.has_alpha()
        }
        ColorType::L16
        | ColorType::La16
        | ColorType::Rgb16
        | ColorType::Rgba16
        | ColorType::Rgb32F
        | ColorType::Rgba32F => {
            let n = usize::try_from(total).unwrap_or(usize::MAX);
            let mut wide = alloc(path, n, (w, h))?;
            decoder.read_image(&mut wide).map_err(image_err)?;
            narrow(&wide, color, &mut buf);
            !color.has_alpha()
        }
        other => {
            return Err(Error::decode(
                path,
                format!(
                    "{} images with {other:?} pixels are not supported",
                    format_name(format)
                ),
            ))
        }
    };
    cancel.check("decode")?;
    let rgba = RgbaImage::from_raw(w, h, buf).expect("buffer sized to the image");
    let rgba = orient(path, rgba, orientation)?;
    debug_assert_eq!(rgba.dimensions(), (header.width, header.height));
    let has_alpha = !opaque && rgba.pixels().any(|p| p[3] != 255);
    Ok(Image {
        path: path.to_path_buf(),
        format: header.format,
        rgba,
        has_alpha,
    })
}

/// A decoder past the header, with what the header said.
struct Opened<D> {
    header: Header,
    decoder: D,
    format: ImageFormat,
    orientation: Orientation,
}

/// Sniffs the format, reads the header and checks the limits: everything up to the
/// first pixel.
fn open<'a>(
    path: &Path,
    bytes: &'a [u8],
    limits: &Limits,
    cancel: &'a Cancel,
) -> Result<Opened<impl ImageDecoder + 'a>> {
    let decode_err = |problem: String| Error::decode(path, problem);
    if bytes.is_empty() {
        return Err(Error::read(path, "file is empty"));
    }
    check_bytes(path, bytes.len() as u64, limits)?;
    let format = image::guess_format(bytes).map_err(|_| {
        decode_err("not an image in a supported format (PNG, JPEG, WebP, BMP, TIFF, GIF)".into())
    })?;
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
    let header_err = |e: image::ImageError| {
        match e {
        image::ImageError::Limits(_) => Error::Limit {
            path: path.to_path_buf(),
            limit: LimitKind::Metadata {
                max: limits.max_metadata_bytes,
            },
            problem: format!(
                "{} file: its metadata (ICC profile, text or EXIF chunks) is over the limit of {} MiB",
                format_name(format),
                limits.max_metadata_bytes >> 20
            ),
        },
        e => Error::Decode {
            path: path.to_path_buf(),
            problem: decode_problem(format, &e),
            source: Some(e),
        },
    }
    };
    let mut reader = ImageReader::with_format(Source::new(bytes, cancel), format);
    // Until the pixels are read, the decoder may allocate only for the header and
    // its metadata (a PNG's ICC profile and text chunks are read, and decompressed,
    // before the first pixel).
    let mut header_limits = image::Limits::default();
    header_limits.max_alloc = Some(limits.max_metadata_bytes);
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(|e| {
        if cancel.is_cancelled() {
            Error::Cancelled { step: "decode" }
        } else {
            header_err(e)
        }
    })?;
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
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let (width, height) = match orientation {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (h, w),
        _ => (w, h),
    };
    Ok(Opened {
        header: Header {
            path: path.to_path_buf(),
            format: format_name(format).to_ascii_lowercase(),
            width,
            height,
        },
        decoder,
        format,
        orientation,
    })
}

/// A zeroed buffer of `n` bytes, or an error when the memory is not there.
fn alloc(path: &Path, n: usize, (w, h): (u32, u32)) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    if n == usize::MAX || v.try_reserve_exact(n).is_err() {
        return Err(Error::Limit {
            path: path.to_path_buf(),
            limit: LimitKind::Memory { needed: n as u64 },
            problem: format!(
                "not enough memory to decode the image: {w}x{h} needs {} MiB",
                (n as u64).div_ceil(1 << 20)
            ),
        });
    }
    v.resize(n, 0);
    Ok(v)
}

/// Widens `pixels` pixels of `c` channels (1 gray, 2 gray + alpha, 3 RGB), packed at
/// the start of `buf`, to RGBA in place. From the end, a block at a time through a
/// small buffer: a widened block lies past its source, but may overlap the part of it
/// not yet read.
fn widen_in_place(buf: &mut [u8], pixels: usize, c: usize) {
    if c == 4 {
        return;
    }
    const BLOCK: usize = 1024;
    let mut tmp = [0u8; BLOCK * 3];
    let mut end = pixels;
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let src = &mut tmp[..(end - start) * c];
        src.copy_from_slice(&buf[start * c..end * c]);
        let dst = buf[start * 4..end * 4].chunks_exact_mut(4);
        match c {
            1 => dst
                .zip(src.iter())
                .for_each(|(d, &v)| d.copy_from_slice(&[v, v, v, 255])),
            2 => dst
                .zip(src.chunks_exact(2))
                .for_each(|(d, s)| d.copy_from_slice(&[s[0], s[0], s[0], s[1]])),
            _ => dst
                .zip(src.chunks_exact(3))
                .for_each(|(d, s)| d.copy_from_slice(&[s[0], s[1], s[2], 255])),
        }
        end = start;
    }
}

/// 16-bit or float samples (native byte order, as decoders give them) to 8-bit RGBA,
/// rounded as the `image` crate converts them.
fn narrow(wide: &[u8], color: ColorType, out: &mut [u8]) {
    let c = usize::from(color.channel_count());
    let float = matches!(color, ColorType::Rgb32F | ColorType::Rgba32F);
    let size = if float { 4 } else { 2 };
    let sample = |s: &[u8]| -> u8 {
        if float {
            let f = f32::from_ne_bytes([s[0], s[1], s[2], s[3]]);
            // As `image` normalises: NaN and above 1 are 1, below 0 is 0.
            let f = if f.is_nan() || f >= 1.0 {
                1.0
            } else {
                f.max(0.0)
            };
            (f * 255.0).round() as u8
        } else {
            let v = u32::from(u16::from_ne_bytes([s[0], s[1]]));
            ((v + 128) / 257) as u8
        }
    };
    for (d, px) in out.chunks_exact_mut(4).zip(wide.chunks_exact(c * size)) {
        let mut v = [0u8; 4];
        for (o, s) in v.iter_mut().zip(px.chunks_exact(size)) {
            *o = sample(s);
        }
        let rgba = match c {
            1 => [v[0], v[0], v[0], 255],
            2 => [v[0], v[0], v[0], v[1]],
            3 => [v[0], v[1], v[2], 255],
            _ => [v[0], v[1], v[2], v[3]],
        };
        d.copy_from_slice(&rgba);
    }
}

/// Applies the EXIF orientation; a quarter turn goes through a second buffer,
/// allocated fallibly.
fn orient(path: &Path, mut img: RgbaImage, o: Orientation) -> Result<RgbaImage> {
    use image::imageops;
    let (w, h) = img.dimensions();
    let turned = |img: &RgbaImage, quarter: fn(&RgbaImage, &mut RgbaImage)| -> Result<RgbaImage> {
        let buf = alloc(path, img.as_raw().len(), (w, h))?;
        let mut out = RgbaImage::from_raw(h, w, buf).expect("buffer sized to the image");
        quarter(img, &mut out);
        Ok(out)
    };
    let cw = |i: &RgbaImage, o: &mut RgbaImage| {
        imageops::rotate90_in(i, o).expect("sizes match");
    };
    let ccw = |i: &RgbaImage, o: &mut RgbaImage| {
        imageops::rotate270_in(i, o).expect("sizes match");
    };
    Ok(match o {
        Orientation::NoTransforms => img,
        Orientation::Rotate180 => {
            imageops::rotate180_in_place(&mut img);
            img
        }
        Orientation::FlipHorizontal => {
            imageops::flip_horizontal_in_place(&mut img);
            img
        }
        Orientation::FlipVertical => {
            imageops::flip_vertical_in_place(&mut img);
            img
        }
        Orientation::Rotate90 => turned(&img, cw)?,
        Orientation::Rotate270 => turned(&img, ccw)?,
        Orientation::Rotate90FlipH => {
            let mut out = turned(&img, cw)?;
            imageops::flip_horizontal_in_place(&mut out);
            out
        }
        Orientation::Rotate270FlipH => {
            let mut out = turned(&img, ccw)?;
            imageops::flip_horizontal_in_place(&mut out);
            out
        }
    })
}

/// The bytes of an image, read by a decoder; every read first checks the
/// cancellation token, so a decoder that reads as it goes stops at its next read.
struct Source<'a> {
    inner: Cursor<&'a [u8]>,
    cancel: &'a Cancel,
}

impl<'a> Source<'a> {
    fn new(bytes: &'a [u8], cancel: &'a Cancel) -> Source<'a> {
        Source {
            inner: Cursor::new(bytes),
            cancel,
        }
    }

    fn live(&self) -> std::io::Result<()> {
        if self.cancel.is_cancelled() {
            Err(std::io::Error::other("cancelled"))
        } else {
            Ok(())
        }
    }
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.live()?;
        self.inner.read(buf)
    }
}

impl BufRead for Source<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.live()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
    }
}

impl Seek for Source<'_> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
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
