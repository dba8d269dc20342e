//! sRGB transfer functions. Images travel in linear light; files hold sRGB-encoded values.

use std::sync::LazyLock;

/// sRGB-encoded value (0..1) to linear light.
pub fn srgb_to_linear(v: f32) -> f32 {
    if v <= 0.040_45 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
}

/// Linear light to an sRGB-encoded value; negative input gives 0.
pub fn linear_to_srgb(v: f32) -> f32 {
    if v <= 0.003_130_8 { (v * 12.92).max(0.0) } else { 1.055 * v.powf(1.0 / 2.4) - 0.055 }
}

/// Power-basis coefficients of ((v + 0.055) / 1.055)^2.4 on 0.04045..=1, a degree-7
/// Chebyshev fit (error below 6e-6), lowest first.
const DECODE_POLY: [f32; 8] = [
    0.000_886_702_6,
    0.034_203_764,
    0.498_579_23,
    0.785_574_85,
    -0.619_308_23,
    0.489_270_63,
    -0.242_296_31,
    0.053_092_05,
];

/// Coefficients of 1.055 * t^(4/2.4) - 0.055 in t = v^(1/4), on 0.0031308..=1: the fourth
/// root makes the curve smooth enough for a degree-6 fit (error below 5e-6).
const ENCODE_POLY: [f32; 7] =
    [-0.059_777_05, 0.142_215_83, 1.354_238_9, -0.826_462, 0.624_908_5, -0.298_293_74, 0.063_172_09];

#[inline]
fn horner<const N: usize>(c: &[f32; N], x: f32) -> f32 {
    c.iter().rev().fold(0.0, |acc, k| acc * x + k)
}

/// sRGB-encoded 0..1 to linear, clamped, by polynomial (error below 6e-6). Branch-free, so
/// loops over it vectorise; for generators and converters that handle millions of values.
#[inline]
pub fn srgb_unit_to_linear(v: f32) -> f32 {
    let v = v.clamp(0.0, 1.0);
    let low = v * (1.0 / 12.92);
    let high = horner(&DECODE_POLY, v);
    if v <= 0.040_45 { low } else { high }
}

/// Linear 0..1 to sRGB-encoded, clamped, by polynomial (error below 5e-6); branch-free like
/// [`srgb_unit_to_linear`].
#[inline]
pub fn linear_unit_to_srgb(v: f32) -> f32 {
    let v = v.clamp(0.0, 1.0);
    let low = v * 12.92;
    let high = horner(&ENCODE_POLY, v.sqrt().sqrt());
    if v <= 0.003_130_8 { low } else { high }
}

/// 8-bit sRGB code to linear, exact.
pub static DECODE_8: LazyLock<[f32; 256]> = LazyLock::new(|| std::array::from_fn(|i| srgb_to_linear(i as f32 / 255.0)));

/// Linear (quantised to 16 bits) to 8-bit sRGB code. Fine enough that every 8-bit code round-trips.
static ENCODE_8: LazyLock<Vec<u8>> =
    LazyLock::new(|| (0..=u16::MAX).map(|i| (linear_to_srgb(f32::from(i) / 65535.0) * 255.0).round() as u8).collect());

/// Linear light to an 8-bit sRGB code, clamped.
pub fn encode_8(v: f32) -> u8 {
    let i = (v.clamp(0.0, 1.0) * 65535.0).round() as usize;
    ENCODE_8[i]
}

/// A 0..1 value (alpha, masks) to an 8-bit code, clamped.
pub fn unit_8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_encode_matches_the_formula() {
        for i in 0..=100_000 {
            let v = i as f32 / 100_000.0;
            assert!((linear_unit_to_srgb(v) - linear_to_srgb(v)).abs() < 1e-5, "{v}");
        }
        assert_eq!(linear_unit_to_srgb(-1.0), 0.0);
    }

    #[test]
    fn fast_decode_matches_the_formula() {
        for i in 0..=100_000 {
            let v = i as f32 / 100_000.0;
            assert!((srgb_unit_to_linear(v) - srgb_to_linear(v)).abs() < 1e-5, "{v}");
        }
        assert_eq!(srgb_unit_to_linear(-1.0), 0.0);
    }

    #[test]
    fn every_8_bit_code_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(encode_8(DECODE_8[code as usize]), code);
        }
    }
}
