//! Pictures of a comparison. Each is built only when asked for.

use crate::compare::Comparison;
use crate::report::ChangeBox;
use image::{GrayImage, Luma, Rgb, RgbImage, RgbaImage};
use imageproc::drawing::draw_filled_rect_mut;
use imageproc::rect::Rect;
use rayon::prelude::*;
use serde::Serialize;

/// How boxes and fills look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Box and fill colour, RGB.
    /// Default: #ff0044.
    pub color: [u8; 3],
    /// Colour of differences that were measured but tolerated (not part of any box)
    /// in the heatmap, RGB.
    /// Default: #00b4ff.
    pub tolerated_color: [u8; 3],
    /// Box line thickness in px, drawn just outside the box.
    /// Default: 2.
    pub thickness: u32,
    /// Opacity of the fill in the `filled` picture, 0..1.
    /// Default: 0.5.
    pub fill_opacity: f32,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            color: [0xff, 0x00, 0x44],
            tolerated_color: [0x00, 0xb4, 0xff],
            thickness: 2,
            fill_opacity: 0.5,
        }
    }
}

/// Parses a CSS-style hex colour: `#rgb`, `#rrggbb` (the `#` is optional).
pub fn parse_hex_color(s: &str) -> Option<[u8; 3]> {
    let h = s.trim().trim_start_matches('#');
    if !h.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let v = |i: usize, n: usize| u8::from_str_radix(&h[i..i + n], 16).ok();
    match h.len() {
        3 => Some([v(0, 1)? * 17, v(1, 1)? * 17, v(2, 1)? * 17]),
        6 => Some([v(0, 2)?, v(2, 2)?, v(4, 2)?]),
        _ => None,
    }
}

/// The pictures spotdiff can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Picture {
    /// A with boxes.
    A,
    /// B with boxes.
    B,
    /// A | B side by side, boxes on both.
    Side,
    /// The change heatmap (inferno colour map over a dimmed B).
    Heatmap,
    /// The binary mask of changed pixels (white = changed).
    Mask,
    /// B with changed pixels filled in the highlight colour.
    Filled,
}

impl Picture {
    pub const ALL: [Picture; 6] = [
        Picture::A,
        Picture::B,
        Picture::Side,
        Picture::Heatmap,
        Picture::Mask,
        Picture::Filled,
    ];

    /// Name used on the command line and in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Picture::A => "a",
            Picture::B => "b",
            Picture::Side => "side",
            Picture::Heatmap => "heatmap",
            Picture::Mask => "mask",
            Picture::Filled => "filled",
        }
    }

    /// File name inside the output folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Picture::A => "a_boxes.png",
            Picture::B => "b_boxes.png",
            Picture::Side => "side_by_side.png",
            Picture::Heatmap => "heatmap.png",
            Picture::Mask => "mask.png",
            Picture::Filled => "filled.png",
        }
    }

    pub fn parse(s: &str) -> Option<Picture> {
        Picture::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// Renders one picture. To render several pictures of one comparison, a
/// [`Renderer`] shares the work they have in common.
pub fn render(cmp: &Comparison, picture: Picture, style: &Style) -> image::DynamicImage {
    Renderer::new(cmp, *style).render(picture)
}

/// Renders the pictures of one comparison, sharing what they have in common (A and
/// B over white, the mask of the boxed change), each part built once when first
/// needed. `Sync`: the pictures can be rendered on several threads at once.
pub struct Renderer<'c, 'i> {
    cmp: &'c Comparison<'i>,
    style: Style,
    a: std::sync::OnceLock<RgbImage>,
    b: std::sync::OnceLock<RgbImage>,
    b_given: std::sync::OnceLock<RgbImage>,
    boxed: std::sync::OnceLock<GrayImage>,
}

impl<'c, 'i> Renderer<'c, 'i> {
    pub fn new(cmp: &'c Comparison<'i>, style: Style) -> Renderer<'c, 'i> {
        Renderer {
            cmp,
            style,
            a: Default::default(),
            b: Default::default(),
            b_given: Default::default(),
            boxed: Default::default(),
        }
    }

    /// Renders one picture.
    pub fn render(&self, picture: Picture) -> image::DynamicImage {
        let (cmp, style) = (self.cmp, &self.style);
        match picture {
            Picture::A => self.with_boxes(self.a().clone(), &cmp.report.boxes).into(),
            Picture::B => {
                let (_, boxes) = b_view(cmp);
                self.with_boxes(self.b_given().clone(), &boxes).into()
            }
            Picture::Side => self.side_by_side().into(),
            Picture::Heatmap => heatmap(cmp, style, self.boxed()).into(),
            Picture::Mask => self.boxed().clone().into(),
            Picture::Filled => filled(self.b().clone(), style, self.boxed()).into(),
        }
    }

    fn a(&self) -> &RgbImage {
        self.a.get_or_init(|| opaque(&self.cmp.a))
    }

    fn b(&self) -> &RgbImage {
        self.b.get_or_init(|| opaque(&self.cmp.b))
    }

    /// B as the pictures of B show it (see [`b_view`]).
    fn b_given(&self) -> &RgbImage {
        match &self.cmp.b_given {
            None => self.b(),
            Some((b, _)) => self.b_given.get_or_init(|| opaque(b)),
        }
    }

    fn boxed(&self) -> &GrayImage {
        self.boxed.get_or_init(|| mask(self.cmp))
    }

    fn with_boxes(&self, mut img: RgbImage, boxes: &[ChangeBox]) -> RgbImage {
        let w = img.width();
        draw_boxes(&mut img, boxes, &self.style, 0, w);
        img
    }

    fn side_by_side(&self) -> RgbImage {
        let (a, b) = (self.a(), self.b_given());
        let (w, h) = a.dimensions();
        let (bw, bh) = b.dimensions();
        let out_w = w + GAP + bw;
        let mut out = RgbImage::from_pixel(out_w, h.max(bh), Rgb([255, 255, 255]));
        let row = 3 * out_w as usize;
        let (ra, rb) = (3 * w as usize, 3 * bw as usize);
        let off_b = 3 * (w + GAP) as usize;
        out.as_mut()
            .par_chunks_mut(row)
            .enumerate()
            .for_each(|(y, line)| {
                if y < h as usize {
                    line[..ra].copy_from_slice(&a.as_raw()[y * ra..(y + 1) * ra]);
                }
                if y < bh as usize {
                    line[off_b..off_b + rb].copy_from_slice(&b.as_raw()[y * rb..(y + 1) * rb]);
                }
            });
        let (_, b_boxes) = b_view(self.cmp);
        draw_boxes(&mut out, &self.cmp.report.boxes, &self.style, 0, w);
        draw_boxes(&mut out, &b_boxes, &self.style, w + GAP, bw);
        out
    }
}

/// Draws each box's outline just outside it, so the change itself stays visible, and
/// its number (1-based, the report's order) beside it. The outline is `thickness` px
/// wide, kept inside the part of the picture the box belongs to (`x` from `dx` to
/// `dx + width`): a box along an edge, or one covering the whole image, is drawn
/// along the inside of that edge instead of off the canvas.
pub fn draw_boxes(img: &mut RgbImage, boxes: &[ChangeBox], style: &Style, dx: u32, width: u32) {
    let t = i64::from(style.thickness);
    if t == 0 {
        return;
    }
    let c = Rgb(style.color);
    let (x_lo, x_hi) = (
        i64::from(dx),
        i64::from(dx + width).min(i64::from(img.width())),
    );
    let (y_lo, y_hi) = (0, i64::from(img.height()));
    let scale = label_scale(width, img.height(), style.thickness);
    for (i, b) in boxes.iter().enumerate() {
        // The outline's outer edges (exclusive right and bottom), clipped.
        let x0 = (i64::from(b.x) + i64::from(dx) - t).max(x_lo);
        let y0 = (i64::from(b.y) - t).max(y_lo);
        let x1 = (i64::from(b.x) + i64::from(dx) + i64::from(b.w) + t).min(x_hi);
        let y1 = (i64::from(b.y) + i64::from(b.h) + t).min(y_hi);
        if x1 <= x0 || y1 <= y0 {
            continue;
        }
        let (w, h) = ((x1 - x0) as u32, (y1 - y0) as u32);
        let (tw, th) = (t.min(x1 - x0) as u32, t.min(y1 - y0) as u32);
        let strip = |x: i64, y: i64, w: u32, h: u32| Rect::at(x as i32, y as i32).of_size(w, h);
        for r in [
            strip(x0, y0, w, th),
            strip(x0, y1 - i64::from(th), w, th),
            strip(x0, y0, tw, h),
            strip(x1 - i64::from(tw), y0, tw, h),
        ] {
            draw_filled_rect_mut(img, r, c);
        }
        draw_label(img, i + 1, (x0, y0, y1), (x_lo, x_hi), scale, style.color);
    }
}

/// Digits 0-9 in a 3×5 bitmap font, one row per entry, bit 2 the left column.
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// Size of one font pixel: the tag grows with the picture (3.5 % of its short side,
/// at least 14 px tall) and with the line width.
fn label_scale(w: u32, h: u32, thickness: u32) -> u32 {
    (w.min(h) / 200).clamp(2, 8).max(thickness.div_ceil(2))
}

/// A box's number on a tag in the box colour, above the outline's top-left corner
/// (below it when there is no room above, inside it when neither fits).
fn draw_label(
    img: &mut RgbImage,
    number: usize,
    (x0, y0, y1): (i64, i64, i64),
    (x_lo, x_hi): (i64, i64),
    s: u32,
    color: [u8; 3],
) {
    let digits: Vec<usize> = number
        .to_string()
        .bytes()
        .map(|d| usize::from(d - b'0'))
        .collect();
    let s = i64::from(s);
    let (lw, lh) = ((1 + 4 * digits.len() as i64) * s, 7 * s);
    let img_h = i64::from(img.height());
    let ly = if y0 - lh >= 0 {
        y0 - lh
    } else if y1 + lh <= img_h {
        y1
    } else {
        y0
    };
    let lx = x0.min(x_hi - lw).max(x_lo);
    draw_filled_rect_mut(
        img,
        Rect::at(lx as i32, ly as i32).of_size(lw as u32, lh as u32),
        Rgb(color),
    );
    // White text on a dark tag, black on a light one.
    let luma =
        0.299 * f32::from(color[0]) + 0.587 * f32::from(color[1]) + 0.114 * f32::from(color[2]);
    let ink = if luma > 150.0 {
        Rgb([0, 0, 0])
    } else {
        Rgb([255, 255, 255])
    };
    for (k, &d) in digits.iter().enumerate() {
        for (row, bits) in DIGITS[d].iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) != 0 {
                    let x = lx + (1 + 4 * k as i64 + col) * s;
                    let y = ly + (1 + row as i64) * s;
                    draw_filled_rect_mut(
                        img,
                        Rect::at(x as i32, y as i32).of_size(s as u32, s as u32),
                        ink,
                    );
                }
            }
        }
    }
}

/// The picture as RGB, transparent pixels shown over white.
fn opaque(img: &RgbaImage) -> RgbImage {
    let mut out = RgbImage::new(img.width(), img.height());
    out.as_mut()
        .par_chunks_mut(3 * img.width().max(1) as usize)
        .zip(img.as_raw().par_chunks(4 * img.width().max(1) as usize))
        .for_each(|(o, i)| {
            for (o, p) in o.chunks_exact_mut(3).zip(i.chunks_exact(4)) {
                let a = u32::from(p[3]);
                if a == 255 {
                    o.copy_from_slice(&p[..3]);
                } else {
                    for c in 0..3 {
                        o[c] = ((u32::from(p[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
                    }
                }
            }
        });
    out
}

/// Gap between the two halves of the side-by-side picture.
const GAP: u32 = 12;

/// B as the pictures show it, with the boxes in its coordinates: B as given when
/// registration moved it (each box mapped onto B; boxes that fall outside B are not
/// drawn), else B as compared.
fn b_view<'c>(cmp: &'c Comparison) -> (&'c RgbaImage, Vec<ChangeBox>) {
    match &cmp.b_given {
        None => (&cmp.b, cmp.report.boxes.clone()),
        Some((b, t)) => {
            let boxes = cmp
                .report
                .boxes
                .iter()
                .filter_map(|bx| {
                    let r = crate::options::Rect {
                        x: bx.x,
                        y: bx.y,
                        w: bx.w,
                        h: bx.h,
                    };
                    let m = t.map_rect(r, b.dimensions())?;
                    Some(ChangeBox {
                        x: m.x,
                        y: m.y,
                        w: m.w,
                        h: m.h,
                        area: u64::from(m.w) * u64::from(m.h),
                        ..bx.clone()
                    })
                })
                .collect();
            (b, boxes)
        }
    }
}

/// Inferno (colorous, matplotlib's colour map) sampled at nine points, i/8.
fn inferno_knots() -> &'static [[f32; 3]; 9] {
    static KNOTS: std::sync::OnceLock<[[f32; 3]; 9]> = std::sync::OnceLock::new();
    KNOTS.get_or_init(|| {
        std::array::from_fn(|i| {
            let (r, g, b) = colorous::INFERNO.eval_rational(i, 9).as_tuple();
            [f32::from(r), f32::from(g), f32::from(b)]
        })
    })
}

/// Inferno at `v` (0..1), linear between the nine knots.
fn inferno(v: f32) -> [f32; 3] {
    let knots = inferno_knots();
    let v = v.clamp(0.0, 1.0) * 8.0;
    let i = (v.floor() as usize).min(7);
    let f = v - i as f32;
    let (a, b) = (knots[i], knots[i + 1]);
    [
        a[0] + (b[0] - a[0]) * f,
        a[1] + (b[1] - a[1]) * f,
        a[2] + (b[2] - a[2]) * f,
    ]
}

/// Share of the threshold from which a difference that no box holds is shown in the
/// tolerated colour (below it the heatmap shows B's dimmed context only).
pub const TOLERATED_LEVEL: f32 = 0.1;

/// The change inside the boxes in threshold units mapped through inferno (2× the
/// threshold is the top of the scale); differences that were measured but tolerated
/// (no box holds them: noise, anti-aliasing, a small shift, below the thresholds) in
/// the tolerated colour, stronger the closer they came to the threshold; both laid
/// over a dimmed grayscale B so unchanged areas keep their context.
fn heatmap(cmp: &Comparison, style: &Style, boxed: &GrayImage) -> RgbImage {
    let (w, _) = cmp.b.dimensions();
    let tol = style.tolerated_color.map(f32::from);
    let mut out = RgbImage::new(w, cmp.b.height());
    let row_bytes = 3 * w.max(1) as usize;
    out.as_mut()
        .par_chunks_mut(row_bytes)
        .zip(cmp.b.as_raw().par_chunks(4 * w.max(1) as usize))
        .enumerate()
        .for_each_init(
            || vec![0.0; w as usize],
            |scores, (y, (row, src_row))| {
                let marks = mask_row(boxed, y);
                cmp.fields.score_row(y as u32, scores);
                for (x, ((p, src), &s)) in row
                    .chunks_exact_mut(3)
                    .zip(src_row.chunks_exact(4))
                    .zip(scores.iter())
                    .enumerate()
                {
                    let in_box = marks.get(x).is_some_and(|&m| m != 0);
                    let src = [src[0], src[1], src[2], src[3]];
                    let base = f32::from(crate::color::luma_over_white(src)) * 0.35;
                    let (c, a) = if in_box {
                        let v = (s / 2.0).clamp(0.0, 1.0).sqrt();
                        (inferno(v), (v * 2.0).min(1.0))
                    } else if s >= TOLERATED_LEVEL {
                        (tol, 0.4 + 0.6 * s.min(1.0))
                    } else {
                        // Most pixels: the dimmed context alone.
                        p.fill(base as u8);
                        continue;
                    };
                    for k in 0..3 {
                        p[k] = (base * (1.0 - a) + c[k] * a) as u8;
                    }
                }
            },
        );
    out
}

/// White where a pixel is over the threshold inside a reported box.
pub fn mask(cmp: &Comparison) -> GrayImage {
    let (w, h) = cmp.a.dimensions();
    let mut out = GrayImage::new(w, h);
    let boxes = &cmp.report.boxes;
    for b in boxes {
        for y in b.y..b.y + b.h {
            for x in b.x..b.x + b.w {
                if cmp.fields.marked(x, y, b) {
                    out.put_pixel(x, y, Luma([255]));
                }
            }
        }
    }
    out
}

/// Row `y` of a mask (empty below it): the mask has A's size, which is B's after the
/// size policy; a picture of another size reads only what the mask covers.
fn mask_row(mask: &GrayImage, y: usize) -> &[u8] {
    let w = mask.width() as usize;
    mask.as_raw().get(y * w..(y + 1) * w).unwrap_or(&[])
}

/// B with the pixels of the mask `boxed` filled in the highlight colour.
fn filled(mut out: RgbImage, style: &Style, boxed: &GrayImage) -> RgbImage {
    let a = style.fill_opacity.clamp(0.0, 1.0);
    let c = style.color.map(|c| f32::from(c) * a);
    let (w, _) = out.dimensions();
    out.as_mut()
        .par_chunks_mut(3 * w.max(1) as usize)
        .enumerate()
        .for_each(|(y, row)| {
            for (p, &m) in row.chunks_exact_mut(3).zip(mask_row(boxed, y)) {
                if m != 0 {
                    for k in 0..3 {
                        p[k] = (f32::from(p[k]) * (1.0 - a) + c[k]).round() as u8;
                    }
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_colours() {
        assert_eq!(parse_hex_color("#ff0044"), Some([255, 0, 68]));
        assert_eq!(parse_hex_color("0f0"), Some([0, 255, 0]));
        assert_eq!(parse_hex_color("#12345"), None);
        assert_eq!(parse_hex_color("#gg0000"), None);
    }

    fn cbox(x: u32, y: u32, w: u32, h: u32) -> ChangeBox {
        ChangeBox {
            x,
            y,
            w,
            h,
            area: u64::from(w * h),
            changed_pixels: 0,
            mean_change: 0.0,
            peak_change: 0.0,
            deep_change: None,
            significance: None,
            evidence: vec![],
            kind: crate::report::BoxKind::Visual,
        }
    }

    /// The pixels in the box colour, as a set.
    fn coloured(img: &RgbImage, c: [u8; 3]) -> Vec<(u32, u32)> {
        img.enumerate_pixels()
            .filter(|(_, _, p)| p.0 == c)
            .map(|(x, y, _)| (x, y))
            .collect()
    }

    #[test]
    fn outlines_lie_just_outside_the_box_and_clip_into_the_canvas() {
        let style = Style {
            color: [255, 0, 68],
            ..Style::default()
        };
        let mut img = RgbImage::new(300, 200);
        // One box inside: the ring two pixels outside it is drawn, the box is not.
        draw_boxes(&mut img, &[cbox(100, 100, 30, 20)], &style, 0, 300);
        let on = |img: &RgbImage, x: u32, y: u32| img.get_pixel(x, y).0 == style.color;
        for (x, y) in [(98, 110), (99, 110), (131, 110), (115, 121), (115, 98)] {
            assert!(on(&img, x, y), "({x}, {y}) is on the ring");
        }
        for (x, y) in [(100, 110), (97, 110), (115, 110), (132, 110), (115, 122)] {
            assert!(!on(&img, x, y), "({x}, {y}) is off the ring");
        }
        // A box covering the whole picture is drawn along the inside of its edges.
        let mut full = RgbImage::new(300, 200);
        draw_boxes(&mut full, &[cbox(0, 0, 300, 200)], &style, 0, 300);
        for (x, y) in [
            (0, 100),
            (1, 100),
            (299, 100),
            (298, 100),
            (150, 0),
            (150, 199),
        ] {
            assert!(on(&full, x, y), "({x}, {y}) of the full box");
        }
        assert!(!on(&full, 2, 100) && !on(&full, 150, 100));
        // In a side-by-side picture, A's boxes stay in A's half.
        let mut side = RgbImage::new(612, 200);
        draw_boxes(&mut side, &[cbox(0, 0, 300, 200)], &style, 0, 300);
        assert!(coloured(&side, style.color).iter().all(|&(x, _)| x < 300));
        draw_boxes(&mut side, &[cbox(0, 0, 300, 200)], &style, 312, 300);
        assert!(on(&side, 312, 100) && on(&side, 611, 100) && !on(&side, 305, 100));
    }

    #[test]
    fn boxes_carry_their_numbers() {
        let style = Style::default();
        let mut img = RgbImage::from_pixel(400, 300, Rgb([0, 0, 0]));
        let boxes = [cbox(50, 50, 40, 40), cbox(200, 100, 60, 30)];
        draw_boxes(&mut img, &boxes, &style, 0, 400);
        // A tag in the box colour above each outline, with white digits in it.
        let scale = label_scale(400, 300, style.thickness) as i64;
        for (i, b) in boxes.iter().enumerate() {
            let digits = (i + 1).to_string().len() as i64;
            let (lx, ly) = (i64::from(b.x) - 2, i64::from(b.y) - 2 - 7 * scale);
            let (lw, lh) = ((1 + 4 * digits) * scale, 7 * scale);
            let mut white = 0;
            for y in ly..ly + lh {
                for x in lx..lx + lw {
                    let p = img.get_pixel(x as u32, y as u32).0;
                    assert!(p == style.color || p == [255, 255, 255], "({x}, {y}) {p:?}");
                    white += usize::from(p == [255, 255, 255]);
                }
            }
            assert!(white > 0, "box {} has no number", i + 1);
        }
        // The digits differ: "1" and "2" are different shapes.
        let glyph = |b: &ChangeBox| -> Vec<bool> {
            let (lx, ly) = (i64::from(b.x) - 2, i64::from(b.y) - 2 - 7 * scale);
            (0..7 * scale)
                .flat_map(|y| (0..5 * scale).map(move |x| (x, y)))
                .map(|(x, y)| img.get_pixel((lx + x) as u32, (ly + y) as u32).0 == [255, 255, 255])
                .collect()
        };
        assert_ne!(glyph(&boxes[0]), glyph(&boxes[1]));
        // No room above a box at the top: the tag goes below its outline.
        let mut top = RgbImage::from_pixel(400, 300, Rgb([0, 0, 0]));
        draw_boxes(&mut top, &[cbox(100, 0, 40, 20)], &style, 0, 400);
        let below = (22..22 + 7 * scale as u32).any(|y| top.get_pixel(99, y).0 == style.color);
        assert!(below);
    }

    #[test]
    fn inferno_ends() {
        assert_eq!(inferno(0.0), [0.0, 0.0, 4.0]);
        assert_eq!(inferno(1.0), [252.0, 255.0, 164.0]);
    }
}
