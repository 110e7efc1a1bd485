//! One register tile of the packed GEMM ([`super::packed`]): the portable kernel and the
//! AVX2 + FMA kernels of each precision, chosen at run time. It uses nothing else of the crate,
//! so that both the `Real` trait (which names each precision's kernel) and the packed products
//! build on it.

/// Columns of one register tile.
pub const NR: usize = 6;
/// Steps of the inner dimension per trip of the tile kernels' loop.
const UNROLL: usize = 4;

/// The operands of one register tile: `out[j * ldo + i]` = sum over `q < k` of
/// `panel[q * MR + i] * b[j * csb + q]`, for the `MR` rows of a panel and `nr` (1 to 6)
/// columns `j`. The kernels check that every slice is long enough for that.
#[doc(hidden)]
pub struct Tile<'a, T> {
    pub k: usize,
    pub panel: &'a [T],
    pub b: &'a [T],
    pub csb: usize,
    pub nr: usize,
    pub out: &'a mut [T],
    pub ldo: usize,
}

impl<T> Tile<'_, T>
where
    T: Copy + Default + std::ops::AddAssign + std::ops::Mul<Output = T>,
{
    /// Checks the contract for panels of `mr` rows; returns false when there is nothing to
    /// accumulate (then the tile is zeroed).
    fn check(&mut self, mr: usize) -> bool {
        let (k, nr, ldo) = (self.k, self.nr, self.ldo);
        assert!((1..=NR).contains(&nr), "tile columns");
        assert!(self.panel.len() >= k * mr, "panel length");
        assert!(
            ldo >= mr && self.out.len() >= (nr - 1) * ldo + mr,
            "tile length"
        );
        if k == 0 {
            for j in 0..nr {
                self.out[j * ldo..j * ldo + mr].fill(T::default());
            }
            return false;
        }
        assert!(self.b.len() >= (nr - 1) * self.csb + k, "tile columns of b");
        true
    }

    /// The kernel without SIMD intrinsics, for panels of `MR` rows: separate multiplies and
    /// adds, in order.
    pub(crate) fn portable<const MR: usize>(self) {
        let Tile {
            k,
            panel,
            b,
            csb,
            nr,
            out,
            ldo,
        } = self;
        for j in 0..nr {
            let mut acc = [T::default(); MR];
            for (a, &bv) in panel[..k * MR]
                .chunks_exact(MR)
                .zip(&b[j * csb..j * csb + k])
            {
                for i in 0..MR {
                    acc[i] += a[i] * bv;
                }
            }
            out[j * ldo..j * ldo + MR].copy_from_slice(&acc);
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// The AVX2 + FMA tile kernel for one precision: a `2 * LANES x N` block of accumulators
/// (`N <= 6`, so at most 12 registers), one broadcast of b per column and step.
macro_rules! avx2_tile {
    ($name:ident, $t:ty, $lanes:expr, $zero:ident, $load:ident, $set1:ident, $fmadd:ident, $store:ident) => {
        /// # Safety
        /// The CPU supports AVX2 and FMA; `a` points to `k * 2 * LANES` readable values, `b` to
        /// `(N - 1) * csb + k`, and `out` to `(N - 1) * ldo + 2 * LANES` writable ones.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $name<const N: usize>(
            k: usize,
            a: *const $t,
            b: *const $t,
            csb: usize,
            out: *mut $t,
            ldo: usize,
        ) {
            use std::arch::x86_64::*;
            const L: usize = $lanes;
            // SAFETY: the features are enabled on this function and every offset stays inside
            // the extents of the contract above (q < k, j < N).
            unsafe {
                let mut acc = [[$zero(); 2]; N];
                // One pointer per column keeps the broadcasts' addresses out of the loop.
                let cols: [*const $t; N] = std::array::from_fn(|j| b.add(j * csb));
                // One step of the inner dimension: the same operations in the same order
                // whether it runs in the unrolled loop or in the remainder.
                let step = |q: usize, acc: &mut [[_; 2]; N]| {
                    let a0 = $load(a.add(q * 2 * L));
                    let a1 = $load(a.add(q * 2 * L + L));
                    for j in 0..N {
                        let bj = $set1(*cols[j].add(q));
                        acc[j][0] = $fmadd(a0, bj, acc[j][0]);
                        acc[j][1] = $fmadd(a1, bj, acc[j][1]);
                    }
                };
                let mut q = 0;
                while q + UNROLL <= k {
                    for u in 0..UNROLL {
                        step(q + u, &mut acc);
                    }
                    q += UNROLL;
                }
                while q < k {
                    step(q, &mut acc);
                    q += 1;
                }
                for j in 0..N {
                    $store(out.add(j * ldo), acc[j][0]);
                    $store(out.add(j * ldo + L), acc[j][1]);
                }
            }
        }
    };
}

avx2_tile!(
    avx2_tile_f32,
    f32,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps
);
avx2_tile!(
    avx2_tile_f64,
    f64,
    4,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_set1_pd,
    _mm256_fmadd_pd,
    _mm256_storeu_pd
);

/// One register tile (see [`Tile`]) for a precision, with the kernel chosen at run time.
macro_rules! tile_entry {
    ($name:ident, $t:ty, $mr:expr, $avx:ident) => {
        pub(crate) fn $name(mut t: Tile<'_, $t>) {
            if !t.check($mr) {
                return;
            }
            #[cfg(target_arch = "x86_64")]
            if has_avx2_fma() {
                let (k, a, b, csb) = (t.k, t.panel.as_ptr(), t.b.as_ptr(), t.csb);
                let (o, ldo) = (t.out.as_mut_ptr(), t.ldo);
                // SAFETY: the CPU has AVX2 and FMA (checked just above) and `check` made sure
                // that the slices hold everything the kernel reads and writes.
                unsafe {
                    match t.nr {
                        1 => $avx::<1>(k, a, b, csb, o, ldo),
                        2 => $avx::<2>(k, a, b, csb, o, ldo),
                        3 => $avx::<3>(k, a, b, csb, o, ldo),
                        4 => $avx::<4>(k, a, b, csb, o, ldo),
                        5 => $avx::<5>(k, a, b, csb, o, ldo),
                        _ => $avx::<NR>(k, a, b, csb, o, ldo),
                    }
                }
                return;
            }
            t.portable::<$mr>()
        }
    };
}

tile_entry!(tile_f32, f32, 16, avx2_tile_f32);
tile_entry!(tile_f64, f64, 8, avx2_tile_f64);
