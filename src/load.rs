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
    let never = Cancel::new();
    let opened = open(path, open_file(path, limits)?, limits, &never)?;
    let image = finish(path, opened, limits, &never)?;
    Ok(image)
}

/// An image file opened for a decoder that reads it as it goes: the encoded bytes
/// are never held whole (a PNG of noise is 3 bytes per pixel), except a JPEG's,
/// whose layout is checked first and whose decoder reads it whole anyway.
pub(crate) fn open_file(path: &Path, limits: &Limits) -> Result<FileInput> {
    let io_err = |e: std::io::Error| Error::io(IoOp::Read, path, io_problem(&e), e);
    let len = check_file(path, limits)?;
    let file = std::fs::File::open(path).map_err(io_err)?;
    Ok(FileInput {
        reader: std::io::BufReader::with_capacity(64 << 10, file),
        len,
    })
}

/// An open image file and its length when it was measured.
pub(crate) struct FileInput {
    reader: std::io::BufReader<std::fs::File>,
    len: u64,
}

/// Reads an image file into memory: it must be a regular file, not empty, and within
/// the byte limit.
pub fn read_file(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    let io_err = |e: std::io::Error| Error::io(IoOp::Read, path, io_problem(&e), e);
    check_file(path, limits)?;
    let bytes = std::fs::read(path).map_err(io_err)?;
    // The file may have grown since it was measured.
    check_bytes(path, bytes.len() as u64, limits)?;
    Ok(bytes)
}

/// Checks that `path` is a regular, non-empty file within the byte limit; its length.
fn check_file(path: &Path, limits: &Limits) -> Result<u64> {
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
    Ok(meta.len())
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
    let opened = open(path, Cursor::new(bytes), limits, &never)?;
    Ok(opened.header)
}

/// Opens two image files for a comparison with `options`: both headers read and
/// checked ([`check_pair`]) before either is decoded, then both decoded at once, each
/// read from its file as the decoder goes (the header read again: a decoder cannot
/// move to another thread).
pub(crate) fn load_pair_for(a: &Path, b: &Path, options: &Options) -> Result<(Image, Image)> {
    let (limits, never) = (&options.limits, Cancel::new());
    let header = |path: &Path| -> Result<Header> {
        let opened = open(path, open_file(path, limits)?, limits, &never)?;
        Ok(opened.header)
    };
    check_pair(&header(a)?, &header(b)?, options)?;
    let (ra, rb) = rayon::join(|| load(a, limits), || load(b, limits));
    Ok((ra?, rb?))
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
    finish(
        path,
        open(path, Cursor::new(bytes), limits, cancel)?,
        limits,
        cancel,
    )
}

/// Decodes the pixels of an opened image.
fn finish<D: ImageDecoder>(
    path: &Path,
    opened: Opened<D>,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<Image> {
    let Opened {
        header,
        mut decoder,
        format,
        orientation,
        len,
    } = opened;
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
            .saturating_add(len)
            .saturating_add(limits.max_metadata_bytes),
    );
    decoder.set_limits(decoder_limits).map_err(image_err)?;
    let color = decoder.color_type();
    let rgba_bytes = pixels.saturating_mul(4);
    let supported = matches!(
        color,
        ColorType::L8
            | ColorType::La8
            | ColorType::Rgb8
            | ColorType::Rgba8
            | ColorType::L16
            | ColorType::La16
            | ColorType::Rgb16
            | ColorType::Rgba16
            | ColorType::Rgb32F
            | ColorType::Rgba32F
    );
    if !supported {
        return Err(Error::decode(
            path,
            format!(
                "{} images with {color:?} pixels are not supported",
                format_name(format)
            ),
        ));
    }
    // One buffer, the larger of the decoded and the RGBA size: the decoder fills its
    // start, the samples are converted to RGBA in place, the rest is given back.
    let decoded = usize::try_from(total).unwrap_or(usize::MAX);
    let mut buf = alloc(path, decoded.max(rgba_bytes), (w, h))?;
    decoder.read_image(&mut buf[..decoded]).map_err(image_err)?;
    to_rgba_in_place(&mut buf, pixels, color);
    buf.truncate(rgba_bytes);
    buf.shrink_to_fit();
    let opaque = !color.has_alpha();
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
    /// The encoded file's length.
    len: u64,
}

/// What an image is read from: bytes in memory or an open file.
pub(crate) trait Input: BufRead + Seek + Send {
    /// The number of bytes.
    fn len(&self) -> u64;
}

impl Input for Cursor<&[u8]> {
    fn len(&self) -> u64 {
        self.get_ref().len() as u64
    }
}

impl Input for FileInput {
    fn len(&self) -> u64 {
        self.len
    }
}

impl Read for FileInput {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

impl BufRead for FileInput {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.reader.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.reader.consume(amt);
    }
}

impl Seek for FileInput {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.reader.seek(pos)
    }
}

/// Sniffs the format, reads the header and checks the limits: everything up to the
/// first pixel.
fn open<'a, I: Input + 'a>(
    path: &Path,
    mut input: I,
    limits: &Limits,
    cancel: &'a Cancel,
) -> Result<Opened<impl ImageDecoder + 'a>> {
    let decode_err = |problem: String| Error::decode(path, problem);
    let io_err = |e: std::io::Error| Error::io(IoOp::Read, path, io_problem(&e), e);
    let len = input.len();
    if len == 0 {
        return Err(Error::read(path, "file is empty"));
    }
    check_bytes(path, len, limits)?;
    let head = input.fill_buf().map_err(io_err)?;
    let format = image::guess_format(head).map_err(|_| {
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
    // The JPEG decoder fills in whatever is missing from a truncated file, without an
    // error; a cut-off JPEG would then be compared as if its lost part were gray.
    if format == ImageFormat::Jpeg {
        let mut bytes = Vec::new();
        (&mut input)
            .take(len)
            .read_to_end(&mut bytes)
            .map_err(io_err)?;
        if let Err(problem) = jpeg_layout(&bytes) {
            return Err(decode_err(format!(
                "corrupt or truncated JPEG file: {problem}"
            )));
        }
        input.seek(SeekFrom::Start(0)).map_err(io_err)?;
    }
    let mut reader = ImageReader::with_format(Source::new(input, cancel), format);
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
        len,
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

/// Converts `pixels` pixels of `color`, packed at the start of `buf` as the decoder
/// left them, to 8-bit RGBA at the start of `buf`. Where a pixel takes fewer than 4
/// bytes, from the end (a converted pixel lies past its source, and past the sources
/// not yet read); otherwise from the start (it lies before them).
fn to_rgba_in_place(buf: &mut [u8], pixels: usize, color: ColorType) {
    let c = usize::from(color.channel_count());
    let bpp = usize::from(color.bytes_per_pixel());
    let float = matches!(color, ColorType::Rgb32F | ColorType::Rgba32F);
    let size = bpp / c;
    // One sample to 8 bits, rounded as the `image` crate converts.
    let sample = |s: &[u8]| -> u8 {
        match size {
            1 => s[0],
            2 => {
                let v = u32::from(u16::from_ne_bytes([s[0], s[1]]));
                ((v + 128) / 257) as u8
            }
            _ => {
                debug_assert!(float);
                let f = f32::from_ne_bytes([s[0], s[1], s[2], s[3]]);
                // NaN and above 1 are 1, below 0 is 0.
                let f = if f.is_nan() || f >= 1.0 {
                    1.0
                } else {
                    f.max(0.0)
                };
                (f * 255.0).round() as u8
            }
        }
    };
    let convert = |buf: &mut [u8], i: usize| {
        let mut v = [0u8; 4];
        for (k, o) in v.iter_mut().enumerate().take(c) {
            *o = sample(&buf[i * bpp + k * size..]);
        }
        let rgba = match c {
            1 => [v[0], v[0], v[0], 255],
            2 => [v[0], v[0], v[0], v[1]],
            3 => [v[0], v[1], v[2], 255],
            _ => v,
        };
        buf[i * 4..i * 4 + 4].copy_from_slice(&rgba);
    };
    match color {
        // The common layouts, without the general path's per-sample dispatch (it
        // cost 64 instructions per pixel of an RGB PNG).
        ColorType::Rgb8 => {
            for i in (0..pixels).rev() {
                let [r, g, b] = [buf[3 * i], buf[3 * i + 1], buf[3 * i + 2]];
                buf[4 * i..4 * i + 4].copy_from_slice(&[r, g, b, 255]);
            }
            return;
        }
        ColorType::L8 => {
            for i in (0..pixels).rev() {
                let v = buf[i];
                buf[4 * i..4 * i + 4].copy_from_slice(&[v, v, v, 255]);
            }
            return;
        }
        _ => {}
    }
    match bpp {
        4 if c == 4 => {}
        0..=3 => (0..pixels).rev().for_each(|i| convert(buf, i)),
        _ => (0..pixels).for_each(|i| convert(buf, i)),
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
struct Source<'a, I> {
    inner: I,
    cancel: &'a Cancel,
}

impl<'a, I: Input> Source<'a, I> {
    fn new(inner: I, cancel: &'a Cancel) -> Source<'a, I> {
        Source { inner, cancel }
    }

    fn live(&self) -> std::io::Result<()> {
        if self.cancel.is_cancelled() {
            Err(std::io::Error::other("cancelled"))
        } else {
            Ok(())
        }
    }
}

impl<I: Input> Read for Source<'_, I> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.live()?;
        self.inner.read(buf)
    }
}

impl<I: Input> BufRead for Source<'_, I> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.live()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
    }
}

impl<I: Input> Seek for Source<'_, I> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Walks a JPEG's marker segments to the first scan and checks the image data after
/// it: it must end (the end-of-image marker: inside entropy-coded data 0xFF is always
/// followed by 0x00 or a restart marker, so FF D9 there is the end), and, for a
/// baseline or extended sequential Huffman frame, it must be long enough for the frame
/// (every 8×8 block of every component takes at least 2 bits: a DC code and an
/// end-of-block code). A 1 KB file whose header claims millions of pixels would
/// otherwise decode, the decoder filling in what is missing, and be compared as if it
/// were a picture. `Ok` too when the layout is not what is expected: then the decoder
/// decides.
fn jpeg_layout(b: &[u8]) -> std::result::Result<(), String> {
    let mut i = 2; // after SOI
    let mut least: Option<(u64, u16, u16)> = None;
    while i + 1 < b.len() {
        if b[i] != 0xFF {
            return Ok(());
        }
        match b[i + 1] {
            0xFF => i += 1,               // fill byte
            0x01 | 0xD0..=0xD7 => i += 2, // markers without a length
            0xDA => {
                let Some(end) = b[i..].windows(2).position(|w| w == [0xFF, 0xD9]) else {
                    return Err("the image data has no end (EOI marker)".into());
                };
                if let Some((bytes, w, h)) = least {
                    if (end as u64) < bytes {
                        return Err(format!(
                            "its image data ({end} bytes) is too short for a {w}x{h} image (at least {bytes} bytes)"
                        ));
                    }
                }
                return Ok(());
            }
            m if i + 3 < b.len() => {
                let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
                if matches!(m, 0xC0 | 0xC1) {
                    least = b.get(i + 4..i + 2 + len).and_then(baseline_least_bytes);
                }
                i += 2 + len;
            }
            _ => break,
        }
    }
    Err("the image data has no end (EOI marker)".into())
}

/// The fewest bytes of entropy-coded data a sequential Huffman frame can have (2 bits
/// per block), with the frame's size; from the SOF0/SOF1 segment after its length.
/// `None` if the segment is malformed.
fn baseline_least_bytes(sof: &[u8]) -> Option<(u64, u16, u16)> {
    let h = u16::from_be_bytes([*sof.get(1)?, *sof.get(2)?]);
    let w = u16::from_be_bytes([*sof.get(3)?, *sof.get(4)?]);
    let n = usize::from(*sof.get(5)?);
    let comps = sof.get(6..6 + 3 * n)?;
    let factors: Vec<(u64, u64)> = comps
        .chunks_exact(3)
        .map(|c| (u64::from(c[1] >> 4), u64::from(c[1] & 15)))
        .collect();
    let hmax = factors.iter().map(|f| f.0).max()?.max(1);
    let vmax = factors.iter().map(|f| f.1).max()?.max(1);
    let (w64, h64) = (u64::from(w), u64::from(h));
    let blocks: u64 = factors
        .iter()
        .map(|&(hf, vf)| {
            let cw = (w64 * hf).div_ceil(hmax);
            let ch = (h64 * vf).div_ceil(vmax);
            cw.div_ceil(8) * ch.div_ceil(8)
        })
        .sum();
    Some((blocks / 4, w, h))
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

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, ImageBuffer};

    /// A small picture with every channel varying, in `color`'s layout.
    fn sample(color: ColorType) -> DynamicImage {
        let rgba = RgbaImage::from_fn(7, 5, |x, y| {
            image::Rgba([
                (x * 37) as u8,
                (y * 51) as u8,
                (x * y * 13) as u8,
                (255 - x * 20) as u8,
            ])
        });
        let img = DynamicImage::ImageRgba8(rgba);
        match color {
            ColorType::L8 => img.to_luma8().into(),
            ColorType::La8 => img.to_luma_alpha8().into(),
            ColorType::Rgb8 => img.to_rgb8().into(),
            ColorType::L16 => img.to_luma16().into(),
            ColorType::La16 => img.to_luma_alpha16().into(),
            ColorType::Rgb16 => img.to_rgb16().into(),
            ColorType::Rgba16 => img.to_rgba16().into(),
            ColorType::Rgb32F => {
                // Out-of-range and NaN samples too: they clamp as `image` clamps them.
                let mut f = img.to_rgb32f();
                f.put_pixel(0, 0, image::Rgb([-0.5, 1.5, f32::NAN]));
                f.into()
            }
            ColorType::Rgba32F => img.to_rgba32f().into(),
            _ => img,
        }
    }

    #[test]
    fn every_layout_is_converted_in_place_as_image_converts_it() {
        for color in [
            ColorType::L8,
            ColorType::La8,
            ColorType::Rgb8,
            ColorType::Rgba8,
            ColorType::L16,
            ColorType::La16,
            ColorType::Rgb16,
            ColorType::Rgba16,
            ColorType::Rgb32F,
            ColorType::Rgba32F,
        ] {
            let img = sample(color);
            assert_eq!(img.color(), color);
            let raw = img.as_bytes();
            let pixels = (img.width() * img.height()) as usize;
            let mut buf = vec![0u8; raw.len().max(pixels * 4)];
            buf[..raw.len()].copy_from_slice(raw);
            to_rgba_in_place(&mut buf, pixels, color);
            let expect: ImageBuffer<image::Rgba<u8>, Vec<u8>> = img.to_rgba8();
            assert_eq!(&buf[..pixels * 4], expect.as_raw().as_slice(), "{color:?}");
        }
    }

    #[test]
    fn sixteen_bit_files_decode_to_what_image_gives() {
        for color in [
            ColorType::L16,
            ColorType::Rgb16,
            ColorType::Rgba16,
            ColorType::La16,
        ] {
            let img = sample(color);
            let mut png = Vec::new();
            img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
                .unwrap();
            let ours = decode(Path::new("x.png"), &png, &Limits::default()).unwrap();
            let theirs = image::load_from_memory(&png).unwrap().to_rgba8();
            assert_eq!(ours.rgba, theirs, "{color:?}");
            assert_eq!(ours.has_alpha, color.has_alpha(), "{color:?}");
        }
    }

    #[test]
    fn a_file_read_as_it_is_decoded_gives_what_its_bytes_give() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits::default();
        let img = sample(ColorType::Rgb8);
        for format in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Bmp,
            ImageFormat::Tiff,
        ] {
            let mut bytes = Vec::new();
            img.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
            let path = dir.path().join(format!("x.{}", format.extensions_str()[0]));
            std::fs::write(&path, &bytes).unwrap();
            let (from_file, from_bytes) = (
                load(&path, &limits).unwrap(),
                decode(&path, &bytes, &limits).unwrap(),
            );
            assert_eq!(from_file.rgba, from_bytes.rgba, "{format:?}");
            assert_eq!(from_file.format, from_bytes.format);
            // Cut off: the same one-line error both ways.
            let cut = &bytes[..bytes.len() * 2 / 3];
            std::fs::write(&path, cut).unwrap();
            let (e_file, e_bytes) = (
                load(&path, &limits).unwrap_err(),
                decode(&path, cut, &limits).unwrap_err(),
            );
            assert_eq!(e_file.to_string(), e_bytes.to_string(), "{format:?}");
        }
    }
}
