//! Registration timings (criterion): the identity check on an aligned 4K pair against
//! the pixel method on the same pair, the translation path at 1080p, and the keypoint
//! homography path at 1080p.
//!
//! Pairs are made in memory from a committed fixture photo, upscaled (bilinear) and
//! given a fixed grain (σ ≈ 4 levels) so that every block has texture.
//!
//! Run: `cargo bench --bench registration` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, Criterion};
use image::{imageops, Rgba, RgbaImage};
use imageproc::geometric_transformations::{warp, Interpolation, Projection};
use spotdiff::register::{register, AlignMode, Model, RegisterOptions};
use spotdiff::{compare, Image, Method, Options};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// A textured photo of `w`×`h`: the fixture upscaled, plus a fixed grain.
fn photo(w: u32, h: u32) -> RgbaImage {
    let src = image::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registration/a-china.png"),
    )
    .expect("fixture")
    .to_rgba8();
    let mut img = imageops::resize(&src, w, h, imageops::FilterType::Triangle);
    let mut s = 0x1234_5678u64;
    for p in img.pixels_mut() {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = ((s >> 59) as i32) - 16; // -16..15, σ ≈ 9/2
        let n = n / 2;
        for c in 0..3 {
            p[c] = (p[c] as i32 + n).clamp(0, 255) as u8;
        }
    }
    img
}

/// An edit: a flat rectangle.
fn edit(img: &mut RgbaImage, x: u32, y: u32, w: u32, h: u32) {
    for yy in y..y + h {
        for xx in x..x + w {
            img.put_pixel(xx, yy, Rgba([200, 30, 40, 255]));
        }
    }
}

fn benches(c: &mut Criterion) {
    // Aligned 4K pair with three local edits (as the project's 4K bench pair).
    let a4 = photo(3840, 2160);
    let mut b4 = a4.clone();
    edit(&mut b4, 628, 1384, 405, 303);
    edit(&mut b4, 2127, 261, 270, 168);
    edit(&mut b4, 682, 310, 337, 253);
    let opts = RegisterOptions::default();
    let r = register(&a4, &b4, &opts);
    assert_eq!(r.transform.model, Model::Identity, "{:?}", r.report);
    let mut g = c.benchmark_group("register");
    g.sample_size(20).measurement_time(Duration::from_secs(6));
    g.bench_function("identity_check_4k", |bch| {
        bch.iter(|| black_box(register(black_box(&a4), black_box(&b4), &opts)))
    });
    let (ia, ib) = (
        Image::from_rgba("a", a4.clone()),
        Image::from_rgba("b", b4.clone()),
    );
    let popts = Options {
        method: Method::Pixel,
        ..Options::default()
    };
    g.sample_size(10);
    g.bench_function("pixel_method_4k", |bch| {
        bch.iter(|| black_box(compare(&ia, &ib, &popts).expect("compare")))
    });

    // 1080p: a shifted crop of a larger photo, and a perspective view of it.
    let big = photo(2000, 1160);
    let a2 = imageops::crop_imm(&big, 40, 40, 1920, 1080).to_image();
    let b2 = imageops::crop_imm(&big, 53, 31, 1920, 1080).to_image();
    let shift = RegisterOptions {
        align: AlignMode::Shift,
        ..RegisterOptions::default()
    };
    let r = register(&a2, &b2, &shift);
    assert_eq!(r.transform.matrix[0][2], -13.0, "{:?}", r.report);
    g.bench_function("phase_correlation_1080p", |bch| {
        bch.iter(|| black_box(register(black_box(&a2), black_box(&b2), &shift)))
    });
    // B(q) = A(H⁻¹ q): a 2 % tilt and a small turn.
    let h = Projection::from_matrix([
        0.99, -0.02, 12.0, //
        0.015, 0.985, -6.0, //
        1.0e-5, -4.0e-6, 1.0,
    ])
    .expect("invertible");
    let b3 = warp(&a2, &h, Interpolation::Bilinear, Rgba([0, 0, 0, 255]));
    let homography = RegisterOptions {
        align: AlignMode::Homography,
        ..RegisterOptions::default()
    };
    let r = register(&a2, &b3, &homography);
    assert_eq!(r.transform.model, Model::Homography, "{:?}", r.report);
    g.bench_function("keypoint_homography_1080p", |bch| {
        bch.iter(|| black_box(register(black_box(&a2), black_box(&b3), &homography)))
    });
    g.finish();
}

criterion_group!(registration, benches);
criterion_main!(registration);
