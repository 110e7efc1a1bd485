//! The floating-point types apcsim computes in (f32 and f64), and the strided matrix product
//! every hot loop is built on.
//!
//! Activities of a layer are stored column-major with one column per sample (`n x B`), weights
//! column-major (`out x in`). Transposes are free: a [`MatRef`] is a slice with a row and a
//! column stride, and [`gemm`] hands both strides to `matrixmultiply`, whose packing kernels
//! accept any layout. `matrixmultiply` is single-threaded here; parallelism happens above it
//! (batch chunks over rayon), so thread pools never nest. Products that reuse one left factor
//! many times (the weights in every step of an inference) pack it once into a [`PackedMat`](super::packed::PackedMat)
//! and go through [`gemm_packed`](super::packed::gemm_packed) instead (see [`super::packed`]).
//!
//! # Reference
//! Goto & van de Geijn, "Anatomy of high-performance matrix multiplication", ACM TOMS 34 (2008),
//! the blocking scheme `matrixmultiply` implements.

use super::tile::{self, Tile};
use super::vmath::{self, Kernel};
use std::fmt::{Debug, Display, LowerExp};

/// A real scalar apcsim can compute in: `f32` or `f64`.
pub trait Real:
    nalgebra::RealField + Copy + Default + Debug + Display + LowerExp + Send + Sync + 'static
{
    /// Short name used in reports and benchmark ids.
    const NAME: &'static str;

    /// Converts from f64, rounding to the nearest representable value.
    fn of_f64(x: f64) -> Self;

    /// Converts to f64 exactly.
    fn to_f64(self) -> f64;

    /// Whether this is a NaN (nalgebra's `RealField` only offers `is_finite`).
    fn is_nan(self) -> bool;

    /// phi and phi' over a slice with the vectorised kernels of [`super::vmath`].
    fn apply_kernel(k: Kernel, x: &[Self], out: &mut [Self], dout: &mut [Self]);

    /// Rows of one panel of a [`super::packed::PackedMat`] (two AVX registers).
    #[doc(hidden)]
    const PANEL_ROWS: usize;

    /// Computes one register tile of [`super::packed::gemm_packed`] (see [`Tile`]).
    #[doc(hidden)]
    fn panel_tile(tile: Tile<'_, Self>);

    /// `C = alpha * A * B + beta * C` with arbitrary strides.
    ///
    /// # Safety
    /// Every element addressed through the dimensions and strides must lie inside the
    /// allocations behind the pointers, and `c` must not alias `a` or `b`.
    #[doc(hidden)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

/// The `Real` implementation of one precision: its panel height, tile kernel, activation
/// kernels and matrixmultiply's GEMM of that precision.
macro_rules! impl_real {
    ($t:ty, $rows:expr, $tile:path, $apply:path, $gemm:path) => {
        impl Real for $t {
            const NAME: &'static str = stringify!($t);
            const PANEL_ROWS: usize = $rows;
            fn panel_tile(tile: Tile<'_, Self>) {
                $tile(tile)
            }
            fn apply_kernel(k: Kernel, x: &[Self], out: &mut [Self], dout: &mut [Self]) {
                $apply(k, x, out, dout)
            }
            fn of_f64(x: f64) -> Self {
                x as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            unsafe fn gemm_raw(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
                csc: isize,
            ) {
                // SAFETY: forwarded contract of `gemm_raw`.
                unsafe { $gemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
            }
        }
    };
}

impl_real!(
    f64,
    8,
    tile::tile_f64,
    vmath::apply_slice_f64,
    matrixmultiply::dgemm
);
impl_real!(
    f32,
    16,
    tile::tile_f32,
    vmath::apply_slice_f32,
    matrixmultiply::sgemm
);

/// Shorthand for a constant in the working precision.
#[inline]
pub fn c<T: Real>(x: f64) -> T {
    T::of_f64(x)
}

/// A read-only strided matrix view over a slice.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    pub(super) data: &'a [T],
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) rs: usize,
    pub(super) cs: usize,
}

/// A mutable strided matrix view over a slice.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    pub(super) data: &'a mut [T],
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) rs: usize,
    pub(super) cs: usize,
}

pub(super) fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

impl<'a, T> MatRef<'a, T> {
    /// A column-major `rows x cols` matrix stored densely in `data`.
    pub fn col_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix slice length");
        MatRef {
            data,
            rows,
            cols,
            rs: 1,
            cs: rows,
        }
    }

    /// The transpose, without moving data.
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }
}

impl<'a, T: nalgebra::Scalar> From<&'a nalgebra::DMatrix<T>> for MatRef<'a, T> {
    fn from(m: &'a nalgebra::DMatrix<T>) -> Self {
        MatRef::col_major(m.as_slice(), m.nrows(), m.ncols())
    }
}

impl<'a, T> MatMut<'a, T> {
    /// A column-major `rows x cols` matrix stored densely in `data`.
    pub fn col_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix slice length");
        MatMut {
            data,
            rows,
            cols,
            rs: 1,
            cs: rows,
        }
    }
}

/// `C = alpha * A * B + beta * C`. With `beta == 0` the previous contents of `C` are ignored
/// (NaNs in it do not propagate).
///
/// Panics on mismatched dimensions: they are programming errors, never input errors, since
/// every shape is validated when a network is built.
pub fn gemm<T: Real>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: MatMut<'_, T>) {
    assert_eq!(a.cols, b.rows, "gemm inner dimension");
    assert_eq!(a.rows, c.rows, "gemm output rows");
    assert_eq!(b.cols, c.cols, "gemm output columns");
    assert!(extent(a.rows, a.cols, a.rs, a.cs) <= a.data.len());
    assert!(extent(b.rows, b.cols, b.rs, b.cs) <= b.data.len());
    assert!(extent(c.rows, c.cols, c.rs, c.cs) <= c.data.len());
    if c.rows == 0 || c.cols == 0 {
        return;
    }
    // SAFETY: the extents were checked against the slice lengths above; `c` is borrowed
    // mutably, so it cannot alias the shared borrows `a` and `b`.
    unsafe {
        T::gemm_raw(
            a.rows,
            a.cols,
            b.cols,
            alpha,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.data.as_mut_ptr(),
            c.rs as isize,
            c.cs as isize,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    #[test]
    fn gemm_matches_nalgebra_with_transposes() {
        let a = DMatrix::<f64>::from_fn(5, 3, |i, j| (i * 3 + j) as f64 * 0.25 - 1.0);
        let b = DMatrix::<f64>::from_fn(5, 4, |i, j| (i as f64 - j as f64) * 0.5);
        let mut out = vec![7.0; 12];
        gemm(
            2.0,
            MatRef::from(&a).t(),
            MatRef::from(&b),
            0.0,
            MatMut::col_major(&mut out, 3, 4),
        );
        let expect = a.transpose() * &b * 2.0;
        assert_eq!(out.as_slice(), expect.as_slice());
    }

    #[test]
    fn gemm_f32_accumulates_with_beta() {
        let a = DMatrix::<f32>::from_fn(2, 2, |i, j| (i + 2 * j) as f32);
        let b = DMatrix::<f32>::identity(2, 2);
        let mut out = vec![1.0f32; 4];
        gemm(
            1.0,
            MatRef::from(&a),
            MatRef::from(&b),
            1.0,
            MatMut::col_major(&mut out, 2, 2),
        );
        assert_eq!(out, vec![1.0, 2.0, 3.0, 4.0]);
    }
}
