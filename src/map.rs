//! Change maps (one `f32` per pixel) and the grid of tiles in which the two images
//! differ at all. Work on a map is done only in tiles near a difference: a pair that
//! differs in one corner costs little more than the exact comparison itself.

use image::RgbaImage;
use rayon::prelude::*;

/// Side of a square tile, in pixels.
pub const TILE: u32 = 32;

/// A per-pixel change map, stored by tile: tiles where nothing was computed are 0
/// and take no memory, so memory follows the changed area, not the image size.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    pub width: u32,
    pub height: u32,
    cols: u32,
    tiles: Vec<Option<Box<[f32]>>>,
}

impl Map {
    pub fn zeros(width: u32, height: u32) -> Map {
        let cols = width.div_ceil(TILE);
        let rows = height.div_ceil(TILE);
        Map {
            width,
            height,
            cols,
            tiles: vec![None; (cols * rows) as usize],
        }
    }

    /// A map with every tile, from a row-major plane of `width × height` values.
    pub fn from_plane(width: u32, height: u32, plane: &[f32]) -> Map {
        let mut map = Map::zeros(width, height);
        let rows = height.div_ceil(TILE);
        for ty in 0..rows {
            for tx in 0..map.cols {
                let (x0, y0) = (tx * TILE, ty * TILE);
                let (tw, th) = (TILE.min(width - x0), TILE.min(height - y0));
                let mut v = Vec::with_capacity((tw * th) as usize);
                for y in y0..y0 + th {
                    let row = (y * width) as usize;
                    v.extend_from_slice(&plane[row + x0 as usize..row + (x0 + tw) as usize]);
                }
                map.tiles[(ty * map.cols + tx) as usize] = Some(v.into_boxed_slice());
            }
        }
        map
    }

    #[inline]
    pub fn get(&self, x: u32, y: u32) -> f32 {
        let (tx, ty) = (x / TILE, y / TILE);
        match &self.tiles[(ty * self.cols + tx) as usize] {
            None => 0.0,
            Some(v) => {
                let tw = TILE.min(self.width - tx * TILE);
                v[((y - ty * TILE) * tw + (x - tx * TILE)) as usize]
            }
        }
    }

    /// Largest value (0 for an empty map).
    pub fn max(&self) -> f32 {
        self.tiles
            .iter()
            .flatten()
            .flat_map(|t| t.iter())
            .fold(0.0, |m, v| m.max(*v))
    }

    /// True when the tile holding (x, y) has values.
    #[inline]
    pub fn has_tile_at(&self, x: u32, y: u32) -> bool {
        self.tiles[((y / TILE) * self.cols + x / TILE) as usize].is_some()
    }

    /// One flag per tile (row-major): true where the tile holds a value of at
    /// least `level`.
    pub fn tiles_reaching(&self, level: f32) -> Vec<bool> {
        self.tiles
            .iter()
            .map(|t| t.as_ref().is_some_and(|v| v.iter().any(|x| *x >= level)))
            .collect()
    }

    /// Moves the tiles `other` holds into this map (of the same size).
    pub fn absorb(&mut self, other: Map) {
        debug_assert_eq!((self.width, self.height), (other.width, other.height));
        for (mine, theirs) in self.tiles.iter_mut().zip(other.tiles) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
    }

    /// Stores a tile's values (row-major, `rect` sized; `rect` from [`Tiles`]).
    pub fn put(&mut self, rect: TileRect, values: Vec<f32>) {
        debug_assert_eq!(values.len(), (rect.w * rect.h) as usize);
        let i = ((rect.y / TILE) * self.cols + rect.x / TILE) as usize;
        self.tiles[i] = Some(values.into_boxed_slice());
    }
}

/// A tile's position and size (edge tiles are smaller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// Which tiles hold at least one differing pixel.
#[derive(Debug, Clone)]
pub struct Tiles {
    pub width: u32,
    pub height: u32,
    pub cols: u32,
    pub rows: u32,
    pub dirty: Vec<bool>,
    /// Pixels that differ exactly (after treating fully transparent pixels as equal).
    pub differing_pixels: u64,
}

impl Tiles {
    /// Compares two same-sized images pixel by pixel and marks the tiles that differ.
    pub fn find(a: &RgbaImage, b: &RgbaImage) -> Tiles {
        let (width, height) = a.dimensions();
        let cols = width.div_ceil(TILE);
        let rows = height.div_ceil(TILE);
        let w = width as usize;
        let a_raw: &[u8] = a.as_raw();
        let b_raw: &[u8] = b.as_raw();
        let band_bytes = w * 4 * TILE as usize;
        let per_band: Vec<(Vec<bool>, u64)> = a_raw
            .par_chunks(band_bytes)
            .zip(b_raw.par_chunks(band_bytes))
            .map(|(ba, bb)| {
                let mut flags = vec![false; cols as usize];
                let mut count = 0u64;
                for (ra, rb) in ba.chunks_exact(w * 4).zip(bb.chunks_exact(w * 4)) {
                    if ra == rb {
                        continue;
                    }
                    for (x, (pa, pb)) in ra.chunks_exact(4).zip(rb.chunks_exact(4)).enumerate() {
                        if pa != pb && !(pa[3] == 0 && pb[3] == 0) {
                            flags[x / TILE as usize] = true;
                            count += 1;
                        }
                    }
                }
                (flags, count)
            })
            .collect();
        let differing_pixels = per_band.iter().map(|(_, c)| c).sum();
        let dirty = per_band.into_iter().flat_map(|(f, _)| f).collect();
        Tiles {
            width,
            height,
            cols,
            rows,
            dirty,
            differing_pixels,
        }
    }

    /// Every tile dirty: for computing a whole map.
    pub fn all(width: u32, height: u32) -> Tiles {
        let cols = width.div_ceil(TILE);
        let rows = height.div_ceil(TILE);
        Tiles {
            width,
            height,
            cols,
            rows,
            dirty: vec![true; (cols * rows) as usize],
            differing_pixels: u64::from(width) * u64::from(height),
        }
    }

    /// True when no pixel differs.
    pub fn is_clean(&self) -> bool {
        self.differing_pixels == 0
    }

    /// The tiles within one tile of a dirty one: everything a filter of radius up to
    /// `TILE` pixels around a difference can reach.
    pub fn near_dirty(&self) -> Vec<TileRect> {
        let (cols, rows) = (self.cols as i64, self.rows as i64);
        let mut out = Vec::new();
        for ty in 0..rows {
            for tx in 0..cols {
                let near = (-1..=1).any(|dy| {
                    (-1..=1).any(|dx| {
                        let (x, y) = (tx + dx, ty + dy);
                        x >= 0
                            && y >= 0
                            && x < cols
                            && y < rows
                            && self.dirty[(y * cols + x) as usize]
                    })
                });
                if near {
                    out.push(self.rect(tx as u32, ty as u32));
                }
            }
        }
        out
    }

    fn rect(&self, tx: u32, ty: u32) -> TileRect {
        let x = tx * TILE;
        let y = ty * TILE;
        TileRect {
            x,
            y,
            w: TILE.min(self.width - x),
            h: TILE.min(self.height - y),
        }
    }
}

/// Longest run of tiles computed as one segment (load balance and memory).
const SEGMENT_TILES: usize = 16;

/// Groups tiles (row-major, as [`Tiles::near_dirty`] lists them) into runs of
/// neighbours in one tile row, at most `SEGMENT_TILES` long: a filter's margin is
/// then computed once per run instead of once per tile.
pub fn segments(tiles: &[TileRect]) -> Vec<Vec<TileRect>> {
    let mut out: Vec<Vec<TileRect>> = Vec::new();
    for &t in tiles {
        match out.last_mut() {
            Some(s)
                if s.len() < SEGMENT_TILES
                    && s[s.len() - 1].y == t.y
                    && s[s.len() - 1].x + s[s.len() - 1].w == t.x =>
            {
                s.push(t)
            }
            _ => out.push(vec![t]),
        }
    }
    out
}

/// Normalised 1-D Gaussian kernel of radius `int(truncate·σ + 0.5)` (as SciPy builds it).
pub fn gaussian_kernel(sigma: f32, truncate: f32) -> Vec<f32> {
    let radius = (truncate * sigma + 0.5) as i32;
    let mut k: Vec<f32> = (-radius..=radius)
        .map(|i| (-0.5 * (i * i) as f32 / (sigma * sigma)).exp())
        .collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_one_dirty_tile() {
        let a = RgbaImage::from_pixel(100, 70, image::Rgba([10, 20, 30, 255]));
        let mut b = a.clone();
        b.put_pixel(40, 65, image::Rgba([11, 20, 30, 255]));
        let t = Tiles::find(&a, &b);
        assert_eq!(t.differing_pixels, 1);
        assert_eq!((t.cols, t.rows), (4, 3));
        assert_eq!(t.dirty.iter().filter(|d| **d).count(), 1);
        assert!(t.dirty[2 * 4 + 1]);
        // Its neighbourhood: columns 0..=2 of rows 1..=2.
        assert_eq!(t.near_dirty().len(), 6);
        let last = *t.near_dirty().last().unwrap();
        assert_eq!(
            last,
            TileRect {
                x: 64,
                y: 64,
                w: 32,
                h: 6
            }
        );
    }

    #[test]
    fn fully_transparent_pixels_are_equal() {
        let a = RgbaImage::from_pixel(8, 8, image::Rgba([255, 0, 0, 0]));
        let b = RgbaImage::from_pixel(8, 8, image::Rgba([0, 0, 255, 0]));
        assert!(Tiles::find(&a, &b).is_clean());
    }

    #[test]
    fn kernel_matches_scipy_radius() {
        assert_eq!(gaussian_kernel(1.5, 3.5).len(), 11);
        assert_eq!(gaussian_kernel(1.0, 3.0).len(), 7);
        let s: f32 = gaussian_kernel(1.5, 3.5).iter().sum();
        assert!((s - 1.0).abs() < 1e-6);
    }
}
