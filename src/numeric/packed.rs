//! Matrix products whose left factor is packed once and reused: a network's weights, in every
//! step of an inference.
//!
//! [`gemm`](super::real::gemm) hands each product to `matrixmultiply`, which copies both factors into
//! its micro-kernel's panel layout on every call. The weights stay constant through an inference
//! while the activities they multiply change at every step, and with the runner's chunks of 64
//! samples, copying a 256 x 256 weight matrix costs about a sixth of the product itself. A
//! [`PackedMat`] holds a matrix in panel layout, built once; [`gemm_packed`] multiplies it by a
//! matrix whose columns it reads in place: the micro-kernel broadcasts one element of a column
//! at a time, so that factor needs no packing either.
//!
//! Layout: the rows are cut into panels of `MR` rows (16 in f32 and 8 in f64, two AVX
//! registers), the last panel padded with zeros. A panel stores its `MR x k` block column after
//! column, so that step p of the micro-kernel reads `MR` consecutive values, and starts on a
//! cache line.
//!
//! Every output element is one dot product, accumulated in order over the inner dimension in a
//! register, then scaled: `c = alpha * acc + beta * c`. On x86-64 CPUs with AVX2 and FMA
//! (detected at run time) the accumulation uses fused multiply-adds; elsewhere a portable kernel
//! multiplies and adds separately, so the last bits differ between the two kinds of machine. On
//! one machine an element is computed the same way wherever it sits in its tile, so a result
//! depends neither on the number of columns of the product nor on the thread that computes it.
//!
//! # Reference
//! Goto & van de Geijn, "Anatomy of high-performance matrix multiplication", ACM TOMS 34 (2008):
//! packed panels and the register tile; Low, Igual, Smith & Quintana-Ortí, "Analytical modeling
//! is enough for high-performance BLIS", ACM TOMS 43 (2016): the choice of an `MR x NR` tile
//! (here 16 x 6 in f32, 8 x 6 in f64: 12 accumulators of the 16 AVX registers).

use super::real::{extent, MatMut, MatRef, Real};
use super::tile::{Tile, NR};
use std::fmt;

/// Bytes of a cache line, where every panel starts.
const LINE_BYTES: usize = 64;
/// The most rows of a piece handed over by [`gemm_packed_with`]: the rows of one block.
pub const MAX_PIECE: usize = 256;
/// Bytes of the rows of the packed matrix one block covers (`rows x k`): they are read again
/// for every group of columns, and stay in the second-level cache (512 KiB per core on the
/// machines of the benchmark runs) next to the other operands. A 256 x 256 f32 matrix is one
/// block, so that the pieces of consecutive columns are consecutive in memory.
const BLOCK_BYTES: usize = 256 * 1024;

/// A matrix stored once in the panel layout of [`gemm_packed`]'s micro-kernel, for products
/// that reuse the same left factor many times.
///
/// Build it from any strided view, e.g. `PackedMat::new(MatRef::from(&w).t())` for `W^T`.
/// It costs one pass over the matrix and about as much memory again.
///
/// ```
/// use apcsim::numeric::{gemm_packed, MatMut, MatRef, PackedMat};
/// let w = nalgebra::DMatrix::<f32>::from_fn(3, 2, |i, j| (i + 2 * j) as f32);
/// let packed = PackedMat::new(MatRef::from(&w));
/// let x = [1.0f32, 1.0, 2.0, 0.0]; // 2 x 2, column-major
/// let mut y = [0.0f32; 6];
/// gemm_packed(1.0, &packed, MatRef::col_major(&x, 2, 2), 0.0, MatMut::col_major(&mut y, 3, 2));
/// assert_eq!(y, [2.0, 4.0, 6.0, 0.0, 2.0, 4.0]);
/// ```
pub struct PackedMat<T> {
    rows: usize,
    cols: usize,
    /// The panels start at `buf[start]`, on a cache line; `buf` has room for that shift.
    buf: Vec<T>,
    start: usize,
}

impl<T: Real> PackedMat<T> {
    /// Packs `a` (any strides).
    pub fn new(a: MatRef<'_, T>) -> Self {
        let mut out = Self::zeroed(a.rows, a.cols);
        let mr = T::PANEL_ROWS;
        let (m, k) = (a.rows, a.cols);
        if k > 0 {
            for (p, panel) in out.data_mut().chunks_exact_mut(mr * k).enumerate() {
                let i0 = p * mr;
                for i in 0..mr.min(m - i0) {
                    for q in 0..k {
                        panel[q * mr + i] = a.data[(i0 + i) * a.rs + q * a.cs];
                    }
                }
            }
        }
        out
    }

    /// Zeroed panels for a `rows x cols` matrix.
    fn zeroed(rows: usize, cols: usize) -> Self {
        let len = rows.div_ceil(T::PANEL_ROWS) * T::PANEL_ROWS * cols;
        let slack = LINE_BYTES / std::mem::size_of::<T>();
        let buf = vec![T::zero(); len + slack];
        // Alignment only speeds the kernel's loads up; any start inside the slack is correct.
        let start = buf.as_ptr().align_offset(LINE_BYTES).min(slack);
        PackedMat {
            rows,
            cols,
            buf,
            start,
        }
    }

    fn data(&self) -> &[T] {
        let len = self.buf.len() - LINE_BYTES / std::mem::size_of::<T>();
        &self.buf[self.start..self.start + len]
    }

    fn data_mut(&mut self) -> &mut [T] {
        let len = self.buf.len() - LINE_BYTES / std::mem::size_of::<T>();
        &mut self.buf[self.start..self.start + len]
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }
}

impl<T: Real> Clone for PackedMat<T> {
    // A derived clone would copy `start` into a buffer aligned differently.
    fn clone(&self) -> Self {
        let mut out = Self::zeroed(self.rows, self.cols);
        out.data_mut().copy_from_slice(self.data());
        out
    }
}

impl<T> fmt::Debug for PackedMat<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PackedMat")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .finish_non_exhaustive()
    }
}

/// `C = alpha * A * B + beta * C` with `A` packed: the same product and conventions as
/// [`gemm`](super::real::gemm) (with `beta == 0` the previous contents of `C` are ignored), rounded
/// as the [module](self) says.
///
/// `B` is read in place when its columns are contiguous (row stride 1), otherwise copied first.
/// Single-threaded, like `gemm`. Panics on mismatched dimensions.
pub fn gemm_packed<T: Real>(
    alpha: T,
    a: &PackedMat<T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    assert_eq!(a.rows, c.rows, "gemm output rows");
    assert_eq!(b.cols, c.cols, "gemm output columns");
    assert!(extent(c.rows, c.cols, c.rs, c.cs) <= c.data.len());
    gemm_packed_with(a, b, |i, j, acc| {
        let base = i * c.rs + j * c.cs;
        if c.rs == 1 {
            scale_into(alpha, acc, beta, &mut c.data[base..base + acc.len()]);
        } else {
            for (r, &t) in acc.iter().enumerate() {
                let ci = &mut c.data[base + r * c.rs];
                scale_into(alpha, &[t], beta, std::slice::from_mut(ci));
            }
        }
    })
}

/// Computes `A * B` and hands it to `f` piece by piece instead of storing it:
/// `f(i, j, acc)` receives rows `i..i + acc.len()` of column `j` of the product, for a caller
/// to combine with other values while they are still in the first-level cache (an error, a
/// gradient step). Every element is handed over exactly once, rounded as the [module](self)
/// says. `acc` holds at most [`MAX_PIECE`] values.
///
/// Pieces come block by block: the rows are cut into blocks (as many as keep their part of the
/// packed matrix in the second-level cache), and within a block, the columns come from left
/// to right, so that `f` walks down each column of its own operands in order.
///
/// `B` is read in place when its columns are contiguous (row stride 1), otherwise copied first.
/// Panics if `B` does not have `a.cols()` rows or does not fit its slice.
pub fn gemm_packed_with<T: Real>(
    a: &PackedMat<T>,
    b: MatRef<'_, T>,
    mut f: impl FnMut(usize, usize, &[T]),
) {
    assert_eq!(a.cols, b.rows, "gemm inner dimension");
    assert!(extent(b.rows, b.cols, b.rs, b.cs) <= b.data.len());
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    let copy: Vec<T>;
    let (bd, csb) = if b.rs == 1 || k <= 1 {
        (b.data, b.cs)
    } else {
        copy = (0..n)
            .flat_map(|j| (0..k).map(move |q| b.data[q * b.rs + j * b.cs]))
            .collect();
        (&copy[..], k)
    };
    let mr = T::PANEL_ROWS;
    // Rows per block: a whole number of panels, at least one, at most MAX_PIECE.
    let panel_bytes = (mr * k * std::mem::size_of::<T>()).max(1);
    let mc = (BLOCK_BYTES / panel_bytes).clamp(1, MAX_PIECE / mr) * mr;
    // One block of the product, `mc x NR`, column-major.
    let mut block = [T::zero(); MAX_PIECE * NR];
    for i0 in (0..m).step_by(mc) {
        let rows = mc.min(m - i0);
        for (j0, nr) in column_tiles(n) {
            // With k == 0 nothing of `bd` is read, and it may be empty.
            let bj = bd.get(j0 * csb..).unwrap_or(&[]);
            for p in (0..rows).step_by(mr) {
                let panel = &a.data()[(i0 + p) * k..(i0 + p + mr) * k];
                T::panel_tile(Tile {
                    k,
                    panel,
                    b: bj,
                    csb,
                    nr,
                    out: &mut block[p..],
                    ldo: mc,
                });
            }
            for j in 0..nr {
                f(i0, j0 + j, &block[j * mc..j * mc + rows]);
            }
        }
    }
}

/// The column tiles of an `n`-column product, as (first column, width): width 6 where
/// possible, and where 6 does not divide `n`, a few tiles of 5 rather than one narrow tile at
/// the end (64 = 9 x 6 + 2 x 5): 5 columns still keep 10 independent accumulators, enough to
/// hide the latency of a fused multiply-add, 4 or fewer do not.
fn column_tiles(n: usize) -> impl Iterator<Item = (usize, usize)> {
    let fives = (NR - n % NR) % NR;
    let fives = if fives * (NR - 1) <= n { fives } else { 0 };
    let sixes_end = n - fives * (NR - 1);
    (0..sixes_end)
        .step_by(NR)
        .map(move |j0| (j0, NR.min(sixes_end - j0)))
        .chain((sixes_end..n).step_by(NR - 1).map(|j0| (j0, NR - 1)))
}

/// `dst = alpha * acc + beta * dst`, with the previous `dst` ignored when `beta == 0`.
#[inline(always)]
fn scale_into<T: Real>(alpha: T, acc: &[T], beta: T, dst: &mut [T]) {
    if beta == T::zero() {
        for (d, &t) in dst.iter_mut().zip(acc) {
            *d = alpha * t;
        }
    } else {
        for (d, &t) in dst.iter_mut().zip(acc) {
            *d = alpha * t + beta * *d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::real::gemm;
    use crate::numeric::tile::tile_f64;
    use nalgebra::DMatrix;

    fn filled<T: Real>(r: usize, c: usize, seed: usize) -> DMatrix<T> {
        DMatrix::from_fn(r, c, |i, j| {
            T::of_f64((((i * 31 + j * 17 + seed * 7) % 23) as f64 - 11.0) / 8.0)
        })
    }

    /// Every shape class (partial panels, partial tiles, k = 0 and 1) against matrixmultiply,
    /// with B transposed or not and both betas. The inputs are multiples of 1/8 with small
    /// sums, so every product and partial sum is exact and the results agree bit for bit.
    fn matches_gemm<T: Real>() {
        // 300 rows make two row blocks.
        for (m, k, n) in [
            (1, 1, 1),
            (5, 3, 4),
            (17, 9, 13),
            (16, 0, 6),
            (40, 33, 64),
            (300, 40, 7),
        ] {
            let a = filled::<T>(m, k, 1);
            let b = filled::<T>(k, n, 2);
            let bt = b.transpose();
            let packed = PackedMat::new(MatRef::from(&a));
            for (beta, b_view) in [
                (0.0, MatRef::from(&b)),
                (1.0, MatRef::from(&bt).t()),
                (0.5, MatRef::from(&b)),
            ] {
                let start = filled::<T>(m, n, 3);
                let mut want = start.clone();
                let mut got = start.clone();
                let (alpha, beta) = (T::of_f64(-0.25), T::of_f64(beta));
                gemm(
                    alpha,
                    MatRef::from(&a),
                    b_view,
                    beta,
                    MatMut::col_major(want.as_mut_slice(), m, n),
                );
                gemm_packed(
                    alpha,
                    &packed,
                    b_view,
                    beta,
                    MatMut::col_major(got.as_mut_slice(), m, n),
                );
                assert_eq!(got, want, "{} {m}x{k}x{n} beta {beta}", T::NAME);
            }
        }
    }

    #[test]
    fn packed_product_matches_gemm_f32() {
        matches_gemm::<f32>();
    }

    #[test]
    fn packed_product_matches_gemm_f64() {
        matches_gemm::<f64>();
    }

    #[test]
    fn column_tiles_cover_every_column_once() {
        for n in 1..80 {
            let tiles: Vec<_> = column_tiles(n).collect();
            let mut next = 0;
            for &(j0, w) in &tiles {
                assert!(j0 == next && (1..=NR).contains(&w), "n = {n}: {tiles:?}");
                next += w;
            }
            assert_eq!(next, n);
        }
        assert_eq!(column_tiles(64).filter(|t| t.1 == 5).count(), 2);
    }

    #[test]
    fn transposed_packing_and_clone_keep_the_matrix() {
        let w = filled::<f64>(7, 20, 4);
        let x = filled::<f64>(7, 3, 5);
        let packed = PackedMat::new(MatRef::from(&w).t()).clone();
        assert_eq!((packed.rows(), packed.cols()), (20, 7));
        let mut got = vec![f64::NAN; 60];
        gemm_packed(
            1.0,
            &packed,
            MatRef::from(&x),
            0.0,
            MatMut::col_major(&mut got, 20, 3),
        );
        assert_eq!(got.as_slice(), (w.transpose() * &x).as_slice());
    }

    /// The portable kernel (what a CPU without AVX2 and FMA runs) agrees with the one this
    /// machine picks to rounding, on values whose products are not exact.
    #[test]
    fn portable_and_dispatched_kernels_agree() {
        let k = 300;
        let panel: Vec<f64> = (0..k * 8).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * 6).map(|i| (i as f64 * 0.11).cos()).collect();
        let (mut fast, mut slow) = ([0.0; 48], [0.0; 48]);
        let tile = |out| Tile {
            k,
            panel: &panel,
            b: &b,
            csb: k,
            nr: 6,
            out,
            ldo: 8,
        };
        tile_f64(tile(&mut fast));
        tile(&mut slow).portable::<8>();
        for (f, s) in fast.iter().zip(&slow) {
            assert!((f - s).abs() <= 1e-12 * k as f64, "{f} vs {s}");
        }
    }
}
