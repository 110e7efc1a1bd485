//! Vectorisable elementwise transcendental functions for the activation circuits' hot loop.
//!
//! The C library's `tanh` and `exp` are scalar calls (~15 ns each here) and cost as much as the
//! GEMMs of an inference step. These versions are branch-free, so the compiler vectorises the
//! loops over a layer; on x86-64 the loops are also compiled for AVX2 and chosen at run time.
//! No fused multiply-adds are formed (Rust never contracts `a * b + c`), so both paths give
//! bit-identical results. Accuracy against the C library: a few ulp (tested below).
//!
//! # Reference
//! Cody & Waite, "Software Manual for the Elementary Functions" (1980): exp by reduction
//! x = k ln2 + r with a two-part ln2; S. L. Moshier, Cephes Math Library (`tanh.c`, `tanhf.c`):
//! the rational and polynomial approximations of tanh on |x| < 0.625.

// The constants are quoted as published, digit for digit, so they can be checked against the
// sources; the compiler rounds them to the nearest representable value.
#![allow(clippy::excessive_precision)]

/// exp(y) for y <= 0, f64; 0 below -708 (where the result would be subnormal).
#[inline(always)]
fn exp_nonpositive_f64(y: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    // 1.5 * 2^52: adding it rounds to an integer held in the low mantissa bits.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    let underflow = y < -708.0;
    let y = if underflow { -708.0 } else { y };
    let shifted = y * LOG2E + SHIFT;
    let kf = shifted - SHIFT;
    let r = (y - kf * LN2_HI) - kf * LN2_LO;
    // Taylor series to degree 13: |r| <= ln2/2 leaves a remainder below 1e-17.
    let mut p = 1.0 / 6_227_020_800.0;
    p = p * r + 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2^k from the integer in the low bits of `shifted`; the 2^51 bit shifts out.
    let scale = f64::from_bits(shifted.to_bits().wrapping_add(1023) << 52);
    if underflow {
        0.0
    } else {
        p * scale
    }
}

/// exp(y) for y <= 0, f32; 0 below -87.
#[inline(always)]
fn exp_nonpositive_f32(y: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_375;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23.
    const SHIFT: f32 = 12_582_912.0;
    let underflow = y < -87.0;
    let y = if underflow { -87.0 } else { y };
    let shifted = y * LOG2E + SHIFT;
    let kf = shifted - SHIFT;
    let r = (y - kf * LN2_HI) - kf * LN2_LO;
    // Taylor series to degree 7: remainder below 2e-9 relative for |r| <= ln2/2.
    let mut p = 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let scale = f32::from_bits(shifted.to_bits().wrapping_add(127) << 23);
    if underflow {
        0.0
    } else {
        p * scale
    }
}

#[inline(always)]
fn tanh_f64(x: f64) -> f64 {
    let a = x.abs();
    // Cephes tanh.c on |x| < 0.625: x + x^3 P(x^2) / Q(x^2).
    const P0: f64 = -9.643_991_794_250_522_386_28e-1;
    const P1: f64 = -9.928_772_310_019_185_865_64e1;
    const P2: f64 = -1.614_687_684_417_084_479_52e3;
    const Q0: f64 = 1.128_116_784_916_329_314_02e2;
    const Q1: f64 = 2.235_488_390_601_004_485_83e3;
    const Q2: f64 = 4.844_063_053_251_254_860_48e3;
    let z = a * a;
    let p = (P0 * z + P1) * z + P2;
    let q = ((z + Q0) * z + Q1) * z + Q2;
    // Beyond: (1 - e) / (1 + e) with e = exp(-2|x|). One division serves both branches.
    let e = exp_nonpositive_f64(-2.0 * a);
    let small = a < 0.625;
    let num = if small { a * q + a * z * p } else { 1.0 - e };
    let den = if small { q } else { 1.0 + e };
    (num / den).copysign(x)
}

#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    // Cephes tanhf.c on |x| < 0.625: x + x^3 P(x^2).
    let z = a * a;
    let p = (((-5.704_988_7e-3 * z + 2.063_908_9e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1)
        * z
        - 3.333_328_2e-1;
    let poly = a + a * z * p;
    let e = exp_nonpositive_f32(-2.0 * a);
    let large = (1.0 - e) / (1.0 + e);
    let t = if a < 0.625 { poly } else { large };
    t.copysign(x)
}

/// sigmoid(x) from e = exp(-|x|), never overflowing.
#[inline(always)]
fn sigmoid_from(x_nonneg: bool, e: f64) -> f64 {
    let s = 1.0 / (1.0 + e);
    if x_nonneg {
        s
    } else {
        e * s
    }
}

#[inline(always)]
fn sigmoid_from_f32(x_nonneg: bool, e: f32) -> f32 {
    let s = 1.0 / (1.0 + e);
    if x_nonneg {
        s
    } else {
        e * s
    }
}

/// The activations with a vectorised kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Tanh,
    Sigmoid,
    Silu,
}

/// `(out[i], dout[i]) = f(x[i])`, a block of `BLOCK` elements at a time: the elements of a block
/// are independent and their code adjacent, so the CPU overlaps their long chains of dependent
/// operations (a Horner polynomial, a division) rather than waiting on each in turn. Element by
/// element the arithmetic is that of a plain loop.
#[inline(always)]
fn map_blocks<T: Copy, const BLOCK: usize>(
    x: &[T],
    out: &mut [T],
    dout: &mut [T],
    f: impl Fn(T) -> (T, T),
) {
    let n = x.len();
    let mut xs = x.chunks_exact(BLOCK);
    let mut os = out[..n].chunks_exact_mut(BLOCK);
    let mut ds = dout[..n].chunks_exact_mut(BLOCK);
    for ((xb, ob), db) in (&mut xs).zip(&mut os).zip(&mut ds) {
        for i in 0..BLOCK {
            (ob[i], db[i]) = f(xb[i]);
        }
    }
    let rest = os.into_remainder().iter_mut().zip(ds.into_remainder());
    for (&v, (o, d)) in xs.remainder().iter().zip(rest) {
        (*o, *d) = f(v);
    }
}

macro_rules! kernels {
    ($t:ty, $block:expr, $tanh:ident, $exp:ident, $sig:ident, $name:ident, $avx:ident) => {
        #[inline(always)]
        fn $name(k: Kernel, x: &[$t], out: &mut [$t], dout: &mut [$t]) {
            const B: usize = $block;
            match k {
                Kernel::Tanh => map_blocks::<$t, B>(x, out, dout, |v| {
                    let t = $tanh(v);
                    (t, 1.0 - t * t)
                }),
                Kernel::Sigmoid => map_blocks::<$t, B>(x, out, dout, |v| {
                    let s = $sig(v >= 0.0, $exp(-v.abs()));
                    (s, s * (1.0 - s))
                }),
                Kernel::Silu => map_blocks::<$t, B>(x, out, dout, |v| {
                    let s = $sig(v >= 0.0, $exp(-v.abs()));
                    (v * s, s * (1.0 + v * (1.0 - s)))
                }),
            }
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        fn $avx(k: Kernel, x: &[$t], out: &mut [$t], dout: &mut [$t]) {
            $name(k, x, out, dout)
        }
    };
}

// Blocks of four AVX registers.
kernels!(
    f64,
    16,
    tanh_f64,
    exp_nonpositive_f64,
    sigmoid_from,
    apply_f64,
    apply_f64_avx2
);
kernels!(
    f32,
    32,
    tanh_f32,
    exp_nonpositive_f32,
    sigmoid_from_f32,
    apply_f32,
    apply_f32_avx2
);

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// phi and phi' of a layer, f64.
pub fn apply_slice_f64(k: Kernel, x: &[f64], out: &mut [f64], dout: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { apply_f64_avx2(k, x, out, dout) };
        return;
    }
    apply_f64(k, x, out, dout)
}

/// phi and phi' of a layer, f32.
pub fn apply_slice_f32(k: Kernel, x: &[f32], out: &mut [f32], dout: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { apply_f32_avx2(k, x, out, dout) };
        return;
    }
    apply_f32(k, x, out, dout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid_f64() -> Vec<f64> {
        let mut v: Vec<f64> = (-400_000..=400_000).map(|i| i as f64 * 5e-5).collect();
        v.extend([
            0.0, -0.0, 1e-300, -1e-300, 0.625, -0.625, 0.624999, 30.0, -30.0, 400.0, -800.0,
        ]);
        v
    }

    #[test]
    fn f64_kernels_match_the_c_library_within_a_few_ulp() {
        let x = grid_f64();
        let mut o = vec![0.0; x.len()];
        let mut d = vec![0.0; x.len()];
        for k in [Kernel::Tanh, Kernel::Sigmoid, Kernel::Silu] {
            apply_slice_f64(k, &x, &mut o, &mut d);
            for i in 0..x.len() {
                let v = x[i];
                let exact = match k {
                    Kernel::Tanh => v.tanh(),
                    Kernel::Sigmoid => 1.0 / (1.0 + (-v).exp()),
                    Kernel::Silu => v / (1.0 + (-v).exp()),
                };
                // 4 ulp of the result; the absolute floor covers results below 1e-300, which
                // the kernel flushes to zero from exp(-708) on.
                let tol = 4.0 * f64::EPSILON * exact.abs() + 1e-300;
                assert!(
                    (o[i] - exact).abs() <= tol,
                    "{k:?}({v}) = {} vs {exact}",
                    o[i]
                );
            }
        }
    }

    #[test]
    fn f32_kernels_match_f64_within_a_few_ulp() {
        let x: Vec<f32> = grid_f64().into_iter().map(|v| v as f32).collect();
        let mut o = vec![0.0f32; x.len()];
        let mut d = vec![0.0f32; x.len()];
        for k in [Kernel::Tanh, Kernel::Sigmoid, Kernel::Silu] {
            apply_slice_f32(k, &x, &mut o, &mut d);
            for i in 0..x.len() {
                let v = x[i] as f64;
                let exact = match k {
                    Kernel::Tanh => v.tanh(),
                    Kernel::Sigmoid => 1.0 / (1.0 + (-v).exp()),
                    Kernel::Silu => v / (1.0 + (-v).exp()),
                };
                // 4 ulp of f32; the absolute floor covers the flush to zero from exp(-87) on.
                let tol = 4.0 * f32::EPSILON as f64 * exact.abs() + 1e-36;
                assert!(
                    (o[i] as f64 - exact).abs() <= tol,
                    "{k:?}({v}) = {} vs {exact}",
                    o[i]
                );
            }
        }
    }

    #[test]
    fn scalar_and_vector_paths_agree_bit_for_bit() {
        let x = grid_f64();
        let (mut o1, mut d1) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let (mut o2, mut d2) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        apply_slice_f64(Kernel::Tanh, &x, &mut o1, &mut d1);
        apply_f64(Kernel::Tanh, &x, &mut o2, &mut d2);
        assert_eq!(o1, o2);
        assert_eq!(d1, d2);
    }
}
