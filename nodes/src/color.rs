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

/// Entries in the table behind [`srgb_unit_to_linear`].
const UNIT_STEPS: usize = 4096;

static UNIT_TO_LINEAR: LazyLock<Vec<f32>> =
    LazyLock::new(|| (0..=UNIT_STEPS).map(|i| srgb_to_linear(i as f32 / UNIT_STEPS as f32)).collect());

/// sRGB-encoded 0..1 to linear by table lookup with interpolation (error below 1e-5); for
/// generators that make millions of values.
pub fn srgb_unit_to_linear(v: f32) -> f32 {
    SrgbTables::get().decode(v)
}

/// Entries in the table behind [`linear_to_srgb_fast`], indexed by the square root of the value.
const ENCODE_STEPS: usize = 8192;

static SQRT_TO_SRGB: LazyLock<Vec<f32>> = LazyLock::new(|| {
    (0..=ENCODE_STEPS)
        .map(|i| {
            let x = i as f32 / ENCODE_STEPS as f32;
            linear_to_srgb(x * x)
        })
        .collect()
});

/// Both conversion tables, fetched once for a loop over many values. The encode table is
/// indexed by the square root of the value, where the curve is nearly straight, so it stays
/// accurate near black (error below 2e-5).
#[derive(Clone, Copy)]
pub struct SrgbTables {
    encode: &'static [f32],
    decode: &'static [f32],
}

impl SrgbTables {
    /// The tables (built on first use).
    pub fn get() -> Self {
        Self { encode: &SQRT_TO_SRGB, decode: &UNIT_TO_LINEAR }
    }

    /// Linear 0..1 to sRGB-encoded by table lookup, clamped.
    #[inline]
    pub fn encode(&self, v: f32) -> f32 {
        lerp_table(self.encode, v.clamp(0.0, 1.0).sqrt() * ENCODE_STEPS as f32)
    }

    /// sRGB-encoded 0..1 to linear, clamped; as [`srgb_unit_to_linear`].
    #[inline]
    pub fn decode(&self, v: f32) -> f32 {
        lerp_table(self.decode, v.clamp(0.0, 1.0) * UNIT_STEPS as f32)
    }
}

#[inline]
fn lerp_table(table: &[f32], x: f32) -> f32 {
    let i = (x as usize).min(table.len() - 2);
    let t = x - i as f32;
    table[i] + (table[i + 1] - table[i]) * t
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
    fn table_encode_matches_the_formula() {
        for i in 0..=10_000 {
            let v = i as f32 / 10_000.0;
            assert!((SrgbTables::get().encode(v) - linear_to_srgb(v)).abs() < 2e-5, "{v}");
        }
    }

    #[test]
    fn table_decode_matches_the_formula() {
        for i in 0..=1000 {
            let v = i as f32 / 1000.0;
            assert!((srgb_unit_to_linear(v) - srgb_to_linear(v)).abs() < 1e-5, "{v}");
        }
    }

    #[test]
    fn every_8_bit_code_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(encode_8(DECODE_8[code as usize]), code);
        }
    }
}
