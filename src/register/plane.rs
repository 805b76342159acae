//! Luma planes (f32), pyramid levels and the sparse lattice of A's pixels that the
//! cheap checks read.

use image::{GrayImage, RgbaImage};
use rayon::prelude::*;

/// Luma (Rec. 601 weights, f32 in 0..255) of an RGBA pixel shown over white.
#[inline]
pub(crate) fn luma(p: [u8; 4]) -> f32 {
    let l = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
    if p[3] == 255 {
        return l;
    }
    let a = p[3] as f32 / 255.0;
    l * a + 255.0 * (1.0 - a)
}

/// A single-channel f32 image.
#[derive(Debug, Clone)]
pub(crate) struct Plane {
    pub w: usize,
    pub h: usize,
    pub data: Vec<f32>,
}

impl Plane {
    /// The luma of an RGBA image.
    pub fn from_rgba(img: &RgbaImage) -> Plane {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut data = vec![0f32; w * h];
        let raw = img.as_raw();
        data.par_chunks_mut(w.max(1))
            .enumerate()
            .for_each(|(y, row)| {
                let src = &raw[y * w * 4..(y + 1) * w * 4];
                for (x, v) in row.iter_mut().enumerate() {
                    let p = &src[x * 4..x * 4 + 4];
                    *v = luma([p[0], p[1], p[2], p[3]]);
                }
            });
        Plane { w, h, data }
    }

    /// The value at an integer position.
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.w + x]
    }

    /// Bilinear sample at (x, y) (pixel centres at integers), edges clamped.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let xm = (self.w - 1) as f32;
        let ym = (self.h - 1) as f32;
        let x = x.clamp(0.0, xm);
        let y = y.clamp(0.0, ym);
        // Non-negative here, so truncation is the floor.
        let (x0, y0) = (x as usize, y as usize);
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let x1 = (x0 + 1).min(self.w - 1);
        let y1 = (y0 + 1).min(self.h - 1);
        let r0 = y0 * self.w;
        let r1 = y1 * self.w;
        let top = self.data[r0 + x0] * (1.0 - fx) + self.data[r0 + x1] * fx;
        let bot = self.data[r1 + x0] * (1.0 - fx) + self.data[r1 + x1] * fx;
        top * (1.0 - fy) + bot * fy
    }

    /// True when (x, y) lies within the pixel centres' hull, widened by `m`.
    #[inline]
    pub fn contains(&self, x: f32, y: f32, m: f32) -> bool {
        x >= -m && y >= -m && x <= self.w as f32 - 1.0 + m && y <= self.h as f32 - 1.0 + m
    }

    /// Box average over k×k cells (the last partial cells are dropped).
    pub fn downscale_box(&self, k: usize) -> Plane {
        if k <= 1 {
            return self.clone();
        }
        let (w, h) = ((self.w / k).max(1), (self.h / k).max(1));
        let mut data = vec![0f32; w * h];
        let inv = 1.0 / (k * k) as f32;
        data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            for (x, v) in row.iter_mut().enumerate() {
                let mut s = 0f32;
                for yy in y * k..((y + 1) * k).min(self.h) {
                    let r = &self.data[yy * self.w..];
                    for &p in &r[x * k..((x + 1) * k).min(self.w)] {
                        s += p;
                    }
                }
                *v = s * inv;
            }
        });
        Plane { w, h, data }
    }

    /// Bilinear resize to `w`×`h` (pixel-centre convention).
    pub fn resize(&self, w: usize, h: usize) -> Plane {
        let (sx, sy) = (self.w as f32 / w as f32, self.h as f32 / h as f32);
        let mut data = vec![0f32; w * h];
        data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            let yy = (y as f32 + 0.5) * sy - 0.5;
            for (x, v) in row.iter_mut().enumerate() {
                *v = self.sample((x as f32 + 0.5) * sx - 0.5, yy);
            }
        });
        Plane { w, h, data }
    }

    /// A [1 2 1]/4 binomial blur in both directions (σ ≈ 0.7 px).
    #[cfg(test)]
    pub fn blur3(&self) -> Plane {
        let (w, h) = (self.w, self.h);
        let mut tmp = vec![0f32; w * h];
        for y in 0..h {
            let r = &self.data[y * w..(y + 1) * w];
            for x in 0..w {
                let l = r[x.saturating_sub(1)];
                let c = r[x];
                let rr = r[(x + 1).min(w - 1)];
                tmp[y * w + x] = 0.25 * l + 0.5 * c + 0.25 * rr;
            }
        }
        let mut data = vec![0f32; w * h];
        for y in 0..h {
            let u = &tmp[y.saturating_sub(1) * w..][..w];
            let c = &tmp[y * w..][..w];
            let d = &tmp[(y + 1).min(h - 1) * w..][..w];
            for x in 0..w {
                data[y * w + x] = 0.25 * u[x] + 0.5 * c[x] + 0.25 * d[x];
            }
        }
        Plane { w, h, data }
    }

    /// 8-bit copy (rounded, clamped).
    pub fn to_gray(&self) -> GrayImage {
        let bytes = self
            .data
            .iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect();
        GrayImage::from_raw(self.w as u32, self.h as u32, bytes).expect("sizes agree")
    }
}

/// A plane of one image at a working scale, and how its coordinates relate to the
/// full-resolution image: `x_level = sx (x + 0.5) - 0.5` (same for y).
#[derive(Debug, Clone)]
pub(crate) struct Level {
    pub plane: Plane,
    pub sx: f64,
    pub sy: f64,
}

impl Level {
    /// The plane at scale `s` of `full` (box filter for the integer part of 1/s, then
    /// bilinear to the exact size).
    pub fn at_scale(full: &Plane, s: f64) -> Level {
        if (s - 1.0).abs() < 1e-9 {
            return Level {
                plane: full.clone(),
                sx: 1.0,
                sy: 1.0,
            };
        }
        let k = if s < 1.0 {
            (1.0 / s).floor().max(1.0) as usize
        } else {
            1
        };
        let boxed = full.downscale_box(k);
        let tw = ((full.w as f64 * s).round() as usize).max(8);
        let th = ((full.h as f64 * s).round() as usize).max(8);
        if boxed.w == tw && boxed.h == th {
            let kk = 1.0 / k as f64;
            return Level {
                plane: boxed,
                sx: kk,
                sy: kk,
            };
        }
        let (bx, by) = (
            boxed.w as f64 / full.w as f64,
            boxed.h as f64 / full.h as f64,
        );
        // Box level first: x1 = (x + 0.5)/k - 0.5; then the resize multiplies by tw/bw.
        let plane = boxed.resize(tw, th);
        let (rx, ry) = (tw as f64 / boxed.w as f64, th as f64 / boxed.h as f64);
        let (bx, by) = if k > 1 {
            (1.0 / k as f64, 1.0 / k as f64)
        } else {
            (bx, by)
        };
        Level {
            plane,
            sx: bx * rx,
            sy: by * ry,
        }
    }

    /// The matrix taking full-resolution coordinates to this level's.
    pub fn to_level(&self) -> super::Mat3 {
        [
            [self.sx, 0.0, 0.5 * self.sx - 0.5],
            [0.0, self.sy, 0.5 * self.sy - 0.5],
            [0.0, 0.0, 1.0],
        ]
    }
}

/// One lattice sample of A: position, luma and luma gradient (central differences,
/// levels per pixel), and the block it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub x: u32,
    pub y: u32,
    pub a: f32,
    pub gx: f32,
    pub gy: f32,
    pub block: u32,
}

/// A sparse regular lattice over A (every `step`-th pixel in x and y), grouped into
/// blocks of `BLOCK`×`BLOCK` samples for the agreement test.
#[derive(Debug, Clone)]
pub(crate) struct Lattice {
    pub samples: Vec<Sample>,
    pub blocks: usize,
}

impl Lattice {
    /// Builds the lattice straight from A's pixels (no full luma plane), with `step`
    /// chosen so that the lattice has about `target` samples along the long side.
    pub fn new(a: &RgbaImage, target: usize, block: usize) -> Lattice {
        let (w, h) = (a.width() as usize, a.height() as usize);
        let step = (w.max(h) / target.max(1)).max(1);
        let px = |x: usize, y: usize| luma(a.get_pixel(x as u32, y as u32).0);
        let nx = w.div_ceil(step);
        let bx = nx.div_ceil(block);
        let ny = h.div_ceil(step);
        let by = ny.div_ceil(block);
        let rows: Vec<Vec<Sample>> = (0..ny)
            .into_par_iter()
            .map(|j| {
                let y = j * step;
                let (yu, yd) = (y.saturating_sub(1), (y + 1).min(h - 1));
                let mut row = Vec::with_capacity(nx);
                for i in 0..nx {
                    let x = i * step;
                    let (xl, xr) = (x.saturating_sub(1), (x + 1).min(w - 1));
                    let gx = (px(xr, y) - px(xl, y)) / (xr - xl).max(1) as f32;
                    let gy = (px(x, yd) - px(x, yu)) / (yd - yu).max(1) as f32;
                    row.push(Sample {
                        x: x as u32,
                        y: y as u32,
                        a: px(x, y),
                        gx,
                        gy,
                        block: ((j / block) * bx + i / block) as u32,
                    });
                }
                row
            })
            .collect();
        Lattice {
            samples: rows.into_iter().flatten().collect(),
            blocks: bx * by,
        }
    }
}
