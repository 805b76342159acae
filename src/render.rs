//! Pictures of a comparison. Each is built only when asked for.

use crate::compare::Comparison;
use crate::report::ChangeBox;
use image::{GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use imageproc::drawing::draw_filled_rect_mut;
use imageproc::rect::Rect;
use serde::Serialize;

/// How boxes and fills look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Box and fill colour, RGB.
    /// Default: #ff0044.
    pub color: [u8; 3],
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

/// Renders one picture.
pub fn render(cmp: &Comparison, picture: Picture, style: &Style) -> image::DynamicImage {
    let boxes = &cmp.report.boxes;
    match picture {
        Picture::A => with_boxes(&cmp.a, boxes, style).into(),
        Picture::B => {
            let (b, boxes) = b_view(cmp);
            with_boxes(b, &boxes, style).into()
        }
        Picture::Side => side_by_side(cmp, style).into(),
        Picture::Heatmap => heatmap(cmp).into(),
        Picture::Mask => mask(cmp).into(),
        Picture::Filled => filled(cmp, style).into(),
    }
}

/// Draws each box's outline just outside it, so the change itself stays visible: four
/// filled strips `thickness` px wide (imageproc's `draw_filled_rect_mut`, which clips
/// them to the picture).
pub fn draw_boxes(img: &mut RgbaImage, boxes: &[ChangeBox], style: &Style, dx: u32) {
    let t = style.thickness;
    if t == 0 {
        return;
    }
    let c = Rgba([style.color[0], style.color[1], style.color[2], 255]);
    for b in boxes {
        // The outline's outer corner and size.
        let (x0, y0) = (b.x as i64 + dx as i64 - t as i64, b.y as i64 - t as i64);
        let (w, h) = (b.w + 2 * t, b.h + 2 * t);
        let strip = |x: i64, y: i64, w: u32, h: u32| Rect::at(x as i32, y as i32).of_size(w, h);
        for r in [
            strip(x0, y0, w, t),
            strip(x0, y0 + (h - t) as i64, w, t),
            strip(x0, y0, t, h),
            strip(x0 + (w - t) as i64, y0, t, h),
        ] {
            draw_filled_rect_mut(img, r, c);
        }
    }
}

fn opaque(img: &RgbaImage) -> RgbaImage {
    // Pictures show transparent pixels over white.
    let mut out = img.clone();
    for p in out.pixels_mut() {
        if p[3] != 255 {
            let a = p[3] as u32;
            for c in 0..3 {
                p[c] = ((p[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
            }
            p[3] = 255;
        }
    }
    out
}

fn with_boxes(img: &RgbaImage, boxes: &[ChangeBox], style: &Style) -> RgbaImage {
    let mut out = opaque(img);
    draw_boxes(&mut out, boxes, style, 0);
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

fn side_by_side(cmp: &Comparison, style: &Style) -> RgbaImage {
    let (w, h) = cmp.a.dimensions();
    let (b, b_boxes) = b_view(cmp);
    let (bw, bh) = b.dimensions();
    let mut out = RgbaImage::from_pixel(w + GAP + bw, h.max(bh), Rgba([255, 255, 255, 255]));
    image::imageops::replace(&mut out, &opaque(&cmp.a), 0, 0);
    image::imageops::replace(&mut out, &opaque(b), i64::from(w + GAP), 0);
    draw_boxes(&mut out, &cmp.report.boxes, style, 0);
    draw_boxes(&mut out, &b_boxes, style, w + GAP);
    out
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

/// Change in threshold units mapped through inferno (2× the threshold is the top of
/// the scale), laid over a dimmed grayscale B so unchanged areas keep their context.
fn heatmap(cmp: &Comparison) -> RgbImage {
    let (w, h) = cmp.b.dimensions();
    let mut out = RgbImage::new(w, h);
    for (x, y, p) in out.enumerate_pixels_mut() {
        let src = cmp.b.get_pixel(x, y).0;
        let base = f32::from(crate::color::luma_over_white(src)) * 0.35;
        let s = cmp.fields.score(x, y);
        let v = (s / 2.0).clamp(0.0, 1.0).sqrt();
        let c = inferno(v);
        let a = (v * 2.0).min(1.0);
        *p = Rgb([
            (base * (1.0 - a) + c[0] * a) as u8,
            (base * (1.0 - a) + c[1] * a) as u8,
            (base * (1.0 - a) + c[2] * a) as u8,
        ]);
    }
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

fn filled(cmp: &Comparison, style: &Style) -> RgbaImage {
    let mut out = opaque(&cmp.b);
    let a = style.fill_opacity.clamp(0.0, 1.0);
    for b in &cmp.report.boxes {
        for y in b.y..b.y + b.h {
            for x in b.x..b.x + b.w {
                if cmp.fields.marked(x, y, b) {
                    let p = out.get_pixel_mut(x, y);
                    for c in 0..3 {
                        p[c] = (f32::from(p[c]) * (1.0 - a) + f32::from(style.color[c]) * a).round()
                            as u8;
                    }
                }
            }
        }
    }
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

    #[test]
    fn outlines_lie_just_outside_the_box_and_clip() {
        let b = |x, y, w, h| ChangeBox {
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
        };
        let mut img = RgbaImage::new(12, 10);
        let style = Style::default();
        // One box inside, one past the right edge.
        draw_boxes(&mut img, &[b(3, 3, 3, 2), b(10, 0, 4, 4)], &style, 0);
        let on = |x: u32, y: u32| img.get_pixel(x, y)[3] == 255;
        for y in 0..10 {
            for x in 0..12 {
                let ring = |x0: i64, y0: i64, x1: i64, y1: i64| {
                    let (x, y) = (i64::from(x), i64::from(y));
                    let outer = x >= x0 - 2 && x <= x1 + 2 && y >= y0 - 2 && y <= y1 + 2;
                    outer && !(x >= x0 && x <= x1 && y >= y0 && y <= y1)
                };
                let want = ring(3, 3, 5, 4) || ring(10, 0, 13, 3);
                assert_eq!(on(x, y), want, "({x}, {y})");
            }
        }
    }

    #[test]
    fn inferno_ends() {
        assert_eq!(inferno(0.0), [0.0, 0.0, 4.0]);
        assert_eq!(inferno(1.0), [252.0, 255.0, 164.0]);
    }
}
