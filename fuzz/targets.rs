//! The fuzz targets, one function each, shared by `fuzz/fuzz_targets/*.rs` (libFuzzer
//! through cargo-fuzz, on nightly) and `tests/fuzz_corpus.rs` (stable: every committed
//! corpus and crash input replayed as a regular test). Each must return normally on
//! any input: an error is an answer, a panic, a hang or an abort is a bug. Besides not
//! crashing, each checks what must hold of an answer (sizes, ranges, one-line errors).
#![allow(dead_code)]

use spotdiff::render::{render, Picture};
use spotdiff::{
    compare, decode, multipart, probe, AlignMode, ErrorKind, Image, Limits, Method, Options, Rect,
    SizePolicy, Style, Threshold, Verdict,
};
use std::path::Path;

/// The form's option parsing is the binary's (`src/cli/args.rs`, which names nothing
/// of the binary but `clap` and the library): included as it is.
#[cfg(feature = "cli")]
#[allow(dead_code, unused_imports)]
#[path = "../src/cli/args.rs"]
mod args;

/// Limits small enough that one input costs milliseconds.
fn limits() -> Limits {
    Limits {
        max_pixels: 1 << 20,
        max_file_bytes: 1 << 22,
        max_metadata_bytes: 1 << 20,
    }
}

fn one_line(e: &spotdiff::Error) {
    let line = e.chain();
    assert!(!line.is_empty() && !line.contains('\n'), "{line:?}");
}

/// Decoding, every format: the header and the decoded image agree.
pub fn decode_image(data: &[u8]) {
    let path = Path::new("fuzz-input");
    let limits = limits();
    let header = probe(path, data, &limits);
    match decode(path, data, &limits) {
        Ok(img) => {
            let h = header.expect("an image that decodes has a readable header");
            assert_eq!((img.width(), img.height()), (h.width, h.height));
            assert_eq!(img.rgba.as_raw().len() as u64, 4 * h.pixels());
            assert!(h.pixels() <= limits.max_pixels);
            assert_eq!(img.has_alpha, img.rgba.pixels().any(|p| p[3] != 255));
        }
        Err(e) => one_line(&e),
    }
}

/// Reads bytes off the front of an input; zeros once it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
}

/// Two small images and options from an input: a header of option bytes, then A's
/// pixels (cycled), then edits that make B from A (or B's own pixels when the sizes
/// differ).
fn pair(data: &[u8]) -> (Image, Image, Options, Style) {
    // The registration mode and the sizes' alignment come from a hash of
    // the whole input, not from its bytes in turn: inputs saved before they were
    // drawn keep the meaning of every other field.
    let variant = data
        .iter()
        .fold(0x81u8, |h, &b| h.wrapping_mul(31).wrapping_add(b));
    let mut r = Bytes(data);
    let method =
        [Method::Pixel, Method::Ssim, Method::Fused, Method::Deep][usize::from(r.u8() % 4)];
    let threshold = |v: u8, scale: f32| match v {
        0..=127 => Threshold::Auto,
        v => Threshold::Fixed(f32::from(v - 127) * scale),
    };
    let pixel_threshold = threshold(r.u8(), 0.5);
    let ssim_threshold = threshold(r.u8(), 1.0 / 64.0);
    let min_area = u32::from(r.u8());
    let merge_distance = u32::from(r.u8());
    let size_policy =
        [SizePolicy::Error, SizePolicy::Resize, SizePolicy::Pad][usize::from(r.u8() % 3)];
    let mut ignore = Vec::new();
    if r.u8() & 1 == 1 {
        let (x, y, w, h) = (r.u8(), r.u8(), r.u8(), r.u8());
        if w > 0 && h > 0 {
            ignore.push(Rect {
                x: x.into(),
                y: y.into(),
                w: w.into(),
                h: h.into(),
            });
        }
    }
    let style = Style {
        color: [r.u8(), r.u8(), r.u8()],
        thickness: 1 + u32::from(r.u8() % 6),
        fill_opacity: f32::from(r.u8()) / 255.0,
        // Not drawn from the input: the corpus keeps its meaning.
        ..Style::default()
    };
    let dims = |r: &mut Bytes| (1 + u32::from(r.u8() % 48), 1 + u32::from(r.u8() % 48));
    let (aw, ah) = dims(&mut r);
    let same = r.u8() % 4 != 0;
    let (bw, bh) = if same { (aw, ah) } else { dims(&mut r) };
    let opaque = r.u8() % 2 == 0;
    let pixels = r.0;
    let px = |i: usize| -> [u8; 4] {
        if pixels.is_empty() {
            return [128, 128, 128, 255];
        }
        let at = |k: usize| pixels[(4 * i + k) % pixels.len()];
        [at(0), at(1), at(2), if opaque { 255 } else { at(3) }]
    };
    let a = image::RgbaImage::from_fn(aw, ah, |x, y| image::Rgba(px((y * aw + x) as usize)));
    let b = if same {
        // B is A with a few rectangles painted: close to what the tool sees.
        let mut b = a.clone();
        let mut e = Bytes(&pixels[pixels.len().min(4 * (aw * ah) as usize)..]);
        for _ in 0..e.u8() % 4 {
            let (x0, y0) = (u32::from(e.u8()) % aw, u32::from(e.u8()) % ah);
            let (w, h) = (1 + u32::from(e.u8()) % aw, 1 + u32::from(e.u8()) % ah);
            let c = [e.u8(), e.u8(), e.u8(), if opaque { 255 } else { e.u8() }];
            for y in y0..(y0 + h).min(ah) {
                for x in x0..(x0 + w).min(aw) {
                    b.put_pixel(x, y, image::Rgba(c));
                }
            }
        }
        b
    } else {
        image::RgbaImage::from_fn(bw, bh, |x, y| image::Rgba(px((y * bw + x) as usize + 7)))
    };
    let options = Options {
        method,
        pixel_threshold,
        ssim_threshold,
        min_area,
        merge_distance,
        ignore,
        size_policy: match (size_policy, (variant >> 4) % 4) {
            (SizePolicy::Error, 0) => SizePolicy::Align,
            (SizePolicy::Error, 1) => SizePolicy::Auto,
            (p, _) => p,
        },
        align: [
            AlignMode::None,
            AlignMode::Auto,
            AlignMode::Shift,
            AlignMode::Affine,
            AlignMode::Homography,
        ][usize::from((variant >> 1) % 5)],
        limits: limits(),
        ..Options::default()
    };
    (
        Image::from_rgba("a", a),
        Image::from_rgba("b", b),
        options,
        style,
    )
}

/// Comparing two decoded images with random options: an error only for what the
/// options or sizes forbid; boxes inside the image; scores in their ranges.
pub fn compare_pair(data: &[u8]) {
    let (a, b, options, _) = pair(data);
    check(&a, &b, &options);
}

fn check(a: &Image, b: &Image, options: &Options) {
    let cmp = match compare(a, b, options) {
        Ok(c) => c,
        Err(e) => {
            one_line(&e);
            assert!(
                matches!(e.kind(), ErrorKind::Option | ErrorKind::Size),
                "{}",
                e.chain()
            );
            return;
        }
    };
    let r = &cmp.report;
    let (w, h) = cmp.a.dimensions();
    assert_eq!(cmp.b.dimensions(), (w, h));
    for bx in &r.boxes {
        assert!(
            bx.w > 0 && bx.h > 0 && bx.x + bx.w <= w && bx.y + bx.h <= h,
            "{bx:?}"
        );
        assert!(bx.changed_pixels <= bx.area, "{bx:?}");
        assert!(
            bx.mean_change.is_finite() && bx.peak_change.is_finite(),
            "{bx:?}"
        );
    }
    let s = &r.scores;
    assert!((-1.0..=1.0).contains(&s.ssim), "{}", s.ssim);
    assert!((0.0..=1.0).contains(&s.changed_pixel_ratio));
    assert!((0.0..=1.0).contains(&s.differing_pixel_ratio));
    assert!(s.max_delta_e.is_finite() && s.max_delta_e >= 0.0);
    if a.rgba == b.rgba {
        assert_eq!(r.verdict, Verdict::Identical);
        assert!(r.boxes.is_empty());
        assert_eq!(s.ssim, 1.0);
    }
    // Boxes make the verdict; without any, only a global change (registration's
    // findings: a tone change, a move) can, as documented.
    if !r.boxes.is_empty() {
        assert_eq!(r.verdict, Verdict::Different);
    } else if r.verdict == Verdict::Different {
        assert!(
            !r.global.is_empty(),
            "different without boxes or a global change"
        );
    }
}

/// Every picture of a comparison, with a random style: the sizes they promise.
pub fn render_pictures(data: &[u8]) {
    let (a, b, options, style) = pair(data);
    let Ok(cmp) = compare(&a, &b, &options) else {
        return;
    };
    // The pictures of B show B as given when registration moved it (its own size).
    let (w, h) = cmp.a.dimensions();
    let (bw, bh) = cmp.b_shown().dimensions();
    for p in Picture::ALL {
        let img = render(&cmp, p, &style);
        let size = (img.width(), img.height());
        match p {
            Picture::Side => assert!(size.0 >= w + bw && size.1 == h.max(bh), "{p:?}"),
            Picture::B => assert_eq!(size, (bw, bh), "{p:?}"),
            _ => assert_eq!(size, (w, h), "{p:?}"),
        }
    }
}

/// The web form: the multipart parser, then the option fields through the command
/// line's parsers. The first byte gives the boundary's length, the next bytes its
/// characters (as letters), the rest is the body.
pub fn parse_form(data: &[u8]) {
    let mut r = Bytes(data);
    let n = 1 + usize::from(r.u8() % 70);
    let boundary: String = (0..n).map(|_| char::from(b'a' + r.u8() % 26)).collect();
    let body = r.0;
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let boundary = multipart::boundary(&content_type).expect("a valid boundary");
    let parts = match multipart::parse(body, &boundary) {
        Ok(p) => p,
        Err(e) => {
            assert!(!e.0.is_empty() && !e.0.contains('\n'));
            return;
        }
    };
    assert!(parts.len() <= multipart::MAX_PARTS);
    let mut fields = Vec::new();
    for p in &parts {
        assert!(
            p.data.start <= p.data.end && p.data.end <= body.len(),
            "{p:?}"
        );
        if p.name != "a" && p.name != "b" && p.name != "pictures" {
            if let Ok(v) = std::str::from_utf8(&body[p.data.clone()]) {
                fields.push((p.name.clone(), v.trim().to_string()));
            }
        }
    }
    #[cfg(feature = "cli")]
    match args::FormArgs::parse(&fields) {
        Ok(form) => {
            if let Ok(o) = form.compare.options() {
                assert!(o.validate().is_ok());
            }
            let _ = form.style.style();
        }
        Err(e) => assert!(!e.contains('\n'), "{e:?}"),
    }
    #[cfg(not(feature = "cli"))]
    let _ = fields;
}

/// The evaluation manifest parser.
pub fn parse_manifest(data: &[u8]) {
    #[cfg(feature = "eval")]
    if let Ok(text) = std::str::from_utf8(data) {
        match spotdiff::eval::Manifest::parse(text, Path::new("fuzz/manifest.json"), None) {
            Ok(m) => {
                for p in &m.pairs {
                    assert!(!p.name.is_empty());
                }
            }
            Err(e) => one_line(&e),
        }
    }
    #[cfg(not(feature = "eval"))]
    let _ = data;
}

/// A target: its name (as `fuzz/corpus/NAME` and `fuzz/crashes/NAME` name it) and
/// its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: [Target; 5] = [
    ("decode", decode_image),
    ("compare", compare_pair),
    ("render", render_pictures),
    ("form", parse_form),
    ("manifest", parse_manifest),
];
