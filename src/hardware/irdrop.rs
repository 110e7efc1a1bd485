//! IR drop in one crossbar tile: the effective conductance matrix that the wire resistance turns
//! the programmed conductances into (docs/circuit-model.md, IR drop).
//!
//! With linear devices and ideal virtual grounds a tile is a linear resistor network, so the
//! column currents are exactly linear in the row voltages: `I = G_effᵀ V`. [`effective_matrix`]
//! computes `G_eff` once, by nodal analysis of the whole tile, and the mapping applies it in
//! place of `G`; nothing is iterated or approximated.
//!
//! # Geometry
//!
//! A tile of `rows x cols` devices with conductances `G[i][j]` (siemens); `r` is the resistance
//! of one wire segment (ohms), the same on row and column lines. The convention is
//! badcrossbar's (Joksas & Mehonic 2020): inputs on the left of the row (word) lines, outputs at
//! the bottom of the column (bit) lines, one segment between neighbouring nodes and one between
//! each line's end node and its periphery.
//!
//! ```text
//!              a(0,0)         a(0,1)
//!   V_0 ──r──────●──────r───────●              row line 0: open at the right end
//!                │              │
//!               G00            G01
//!                │     b(0,0)   │     b(0,1)   column lines: open at the top end
//!                └───────●      └───────●
//!                        r              r
//!              a(1,0)    │    a(1,1)    │
//!   V_1 ──r──────●───────┼──r───●───────┼      ┼: row and column lines cross, not connected
//!                │       │      │       │
//!               G10      │     G11      │
//!                │     b(1,0)   │     b(1,1)
//!                └───────●      └───────●
//!                        r              r
//!                        │              │
//!                      TIA_0          TIA_1    virtual ground; I_j flows into TIA_j
//! ```
//!
//! - Row line `i` is driven at its left end by an ideal voltage source `V_i` (the DAC/driver)
//!   and runs to the right with one segment `r` *before* each cell: cell `(i, j)` is reached
//!   through `j + 1` segments from the driver. Its right end is open.
//! - Column line `j` is held at virtual ground by an ideal TIA at its bottom end and runs from
//!   the top with one segment `r` *after* each cell: cell `(i, j)` reaches the TIA through
//!   `rows - i` segments. Its top end is open.
//! - Device `(i, j)` connects row node `a(i,j)` to column node `b(i,j)`.
//! - The output `I_j` is the current flowing into TIA `j`; then `I_j = Σ_i G_eff[i][j] V_i`
//!   exactly, and `G_eff → G` as `r → 0` (`r = 0` returns `G` itself).
//!
//! For a single device, `G_eff = 1 / (1/G + 2r)`: one segment on each side.
//!
//! # Algorithm
//!
//! The `2 rows cols` internal node voltages obey the nodal equations `A x = b V` with `A`
//! sparse, symmetric positive definite (every node reaches a driver or a TIA through wires).
//! Ordered row by row, `[a(0,·), b(0,·), a(1,·), b(1,·), …]`, `A` is block tridiagonal, and it
//! is factorised once, as a block LDLᵀ that follows this order:
//!
//! 1. The nodes of row line `i` form a chain (tridiagonal block) that touches only its own
//!    column nodes; it is eliminated exactly in `O(cols²)`. Its tridiagonal inverse is built from
//!    forward and backward elimination pivots written as sums of positive terms (conductance
//!    to the driver through the eliminated part of the chain), so no digits cancel. What is left
//!    is `Q_i = D_i − D_i T_i⁻¹ D_i` (the admittance of row line `i`'s devices in series with its
//!    wire, seen from the column nodes) and the short-circuit current `f_i V_i` that the
//!    driver pushes into the column nodes (`f_ij = G_ij` times the unit-drive voltage of
//!    `a(i,j)`).
//! 2. The column nodes then form a block tridiagonal system with off-diagonal blocks `−I/r`.
//!    Its pivots, scaled to `Z_i = r M_i`, obey `Z_0 = I + r Q_0`,
//!    `Z_i = 2I + r Q_i − Z_{i−1}⁻¹`. `Z_i` is near the identity and well conditioned, so its
//!    inverse `P_i` is formed explicitly (block Gauss–Jordan on GEMMs, no pivoting needed for
//!    a symmetric positive definite matrix).
//! 3. All `rows` unit excitations are carried together (superposition): `Y_i = P_{i−1} Y_{i−1}
//!    + f_i e_iᵀ`, and the TIA currents are `G_effᵀ = P_{rows−1} Y_{rows−1}`.
//!
//! The cost is `O(rows cols³ + rows² cols²)` flops, almost all in GEMMs. By reciprocity
//! (the nodal matrix is symmetric) the tile can be swept along its other side instead — drive
//! the TIA ends, ground the drivers, read the driver currents: a 180° rotation of `Gᵀ` gives the
//! same network — so the sweep always runs along the longer side, with blocks of the shorter.
//! The same reciprocity makes a shared backward read of the tile (columns driven at their TIA
//! ends, rows sensed at their driver ends) apply `G_eff` itself, transposed: the mapping uses
//! the forward read's matrix for it ([`super::mapping`]).
//!
//! # Reference
//!
//! - D. Joksas and A. Mehonic, "badcrossbar: A Python tool for computing and plotting currents
//!   and voltages in passive crossbar arrays", SoftwareX 12, 100617 (2020): the same nodal
//!   model and segment convention, solved there with a general sparse solver.
//! - G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., §4.5.4 (block tridiagonal
//!   systems) and §3.5 (Gauss–Jordan); N. J. Higham, *Accuracy and Stability of Numerical
//!   Algorithms*, 2nd ed., §14.4 (Gauss–Jordan elimination).

use nalgebra::DMatrix;
use std::fmt;

/// Why an effective matrix could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IrDropError {
    /// A device conductance is negative, NaN or infinite (zero is a valid, open device).
    #[error("conductance G[{row}][{col}] = {value} S is not a finite non-negative number")]
    InvalidConductance { row: usize, col: usize, value: f64 },
    /// The wire resistance is negative, NaN or infinite (zero means ideal wires).
    #[error(
        "wire resistance {wire_resistance_ohms} ohm per segment is not a finite non-negative number"
    )]
    InvalidWireResistance { wire_resistance_ohms: f64 },
    /// A pivot block lost positive definiteness or the result overflowed; with valid inputs
    /// this takes products `r G` beyond the floating-point range.
    #[error(
        "the nodal system of the tile is numerically singular at {line} (conductance times wire \
         resistance out of floating-point range)"
    )]
    SingularSystem { line: TileLine },
}

/// One line of a tile, to say where a numerical failure was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileLine {
    Row(usize),
    Column(usize),
}

impl fmt::Display for TileLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TileLine::Row(i) => write!(f, "row line {i}"),
            TileLine::Column(j) => write!(f, "column line {j}"),
        }
    }
}

/// The effective conductance matrix of a tile with conductances `g` (`rows x cols`, siemens)
/// and wire resistance `wire_resistance_ohms` per segment: the TIA currents are
/// `I_j = Σ_i G_eff[i][j] V_i` for row voltages `V`. See the module documentation for the
/// geometry and the algorithm.
///
/// `wire_resistance_ohms = 0` returns `g` unchanged. Conductances may be zero (a broken or
/// stuck-off device); negative or non-finite conductances and negative or non-finite
/// resistances are errors, never panics.
///
/// ```
/// # use apcsim::hardware::irdrop::effective_matrix;
/// # use nalgebra::DMatrix;
/// let g = DMatrix::from_element(1, 1, 25e-6);
/// let g_eff = effective_matrix(&g, 2.0).unwrap();
/// // One device: a segment on the row side and one on the column side, in series with it.
/// assert!((g_eff[(0, 0)] - 1.0 / (1.0 / 25e-6 + 2.0 * 2.0)).abs() < 1e-18);
/// ```
pub fn effective_matrix(
    g: &DMatrix<f64>,
    wire_resistance_ohms: f64,
) -> Result<DMatrix<f64>, IrDropError> {
    let r = wire_resistance_ohms;
    if !(r.is_finite() && r >= 0.0) {
        return Err(IrDropError::InvalidWireResistance {
            wire_resistance_ohms: r,
        });
    }
    check_conductances(g)?;
    let (rows, cols) = g.shape();
    if r == 0.0 || rows == 0 || cols == 0 {
        return Ok(g.clone());
    }
    if cols <= rows {
        sweep(g, r).map_err(|step| IrDropError::SingularSystem {
            line: TileLine::Row(step),
        })
    } else {
        let rotated = rotate(g);
        let eff = sweep(&rotated, r).map_err(|step| IrDropError::SingularSystem {
            line: TileLine::Column(cols - 1 - step),
        })?;
        Ok(rotate(&eff))
    }
}

fn check_conductances(g: &DMatrix<f64>) -> Result<(), IrDropError> {
    for i in 0..g.nrows() {
        for j in 0..g.ncols() {
            let value = g[(i, j)];
            if !(value.is_finite() && value >= 0.0) {
                return Err(IrDropError::InvalidConductance {
                    row: i,
                    col: j,
                    value,
                });
            }
        }
    }
    Ok(())
}

/// The tile seen from its other side: `out[p][q] = g[rows−1−q][cols−1−p]` (a 180° rotation of
/// `gᵀ`). Row lines become the old column lines read from their TIA ends, column lines the old
/// row lines read from their open ends, and the segment counts match the convention again.
/// By reciprocity the effective matrix transforms the same way, and the map is an involution.
fn rotate(g: &DMatrix<f64>) -> DMatrix<f64> {
    let (rows, cols) = g.shape();
    DMatrix::from_fn(cols, rows, |p, q| g[(rows - 1 - q, cols - 1 - p)])
}

/// Sweeps the tile row by row (blocks of size `cols`); `Err(i)` if the pivot block of row line
/// `i` is not numerically positive definite or the result is not finite. Needs `r > 0` and a
/// non-empty `g` of finite non-negative entries.
fn sweep(g: &DMatrix<f64>, r: f64) -> Result<DMatrix<f64>, usize> {
    let (rows, cols) = g.shape();
    let mut line = RowLine::new(cols);
    let mut z = DMatrix::<f64>::zeros(cols, cols);
    // P_{i-1} = Z_{i-1}^{-1}, the transfer of column-node currents from one row to the next.
    let mut p = DMatrix::<f64>::zeros(cols, cols);
    // Column k of Y: the Norton currents of excitation V_k seen at the current row's column nodes.
    let mut y = DMatrix::<f64>::zeros(cols, rows);
    let mut y_next = DMatrix::<f64>::zeros(cols, rows);
    let mut inverse = SpdInverse::new(cols);
    for i in 0..rows {
        // Z_i = r Q_i + (I if i = 0, else 2I − P_{i−1}): the top column node has one segment.
        line.eliminate(g.row(i).iter().copied(), r, &mut z);
        if i == 0 {
            for k in 0..cols {
                z[(k, k)] += 1.0;
            }
        } else {
            // On the storage: nalgebra's element-wise operators go through index iterators.
            for (z, p) in z.as_mut_slice().iter_mut().zip(p.as_slice()) {
                *z -= p;
            }
            for k in 0..cols {
                z[(k, k)] += 2.0;
            }
            y_next
                .columns_mut(0, i)
                .gemm(1.0, &p, &y.columns(0, i), 0.0);
            std::mem::swap(&mut y, &mut y_next);
        }
        y.column_mut(i).copy_from_slice(&line.short_circuit);
        // P_i = Z_i⁻¹ in place; the next row's elimination overwrites all of z.
        std::mem::swap(&mut p, &mut z);
        inverse.invert_in_place(&mut p).map_err(|()| i)?;
    }
    // G_effᵀ = P_{rows−1} Y: the current through the last segment into each TIA.
    let mut eff_t = DMatrix::<f64>::zeros(cols, rows);
    eff_t.gemm(1.0, &p, &y, 0.0);
    if eff_t.iter().all(|v| v.is_finite()) {
        Ok(eff_t.transpose())
    } else {
        Err(rows - 1)
    }
}

/// Exact elimination of one row line's nodes, with its column nodes held as external nodes.
///
/// In units of the wire conductance (`h_j = r G_j`) the row line's nodal matrix `T` is
/// tridiagonal with off-diagonal −1 and diagonal `h_j` + one per wire segment at node `j` (the
/// driver segment included). Its inverse is built from
/// - `sigma_j`: conductance from node `j` to the (grounded) driver through nodes `0..j`, plus `h_j`
///   (forward pivots are `sigma_j + 1`);
/// - `tau_j`: the same through nodes `j..cols`, seen from the open end (backward pivots
///   `tau_j + 1`);
///
/// each a sum of positive terms, so the inverse has full relative accuracy.
struct RowLine {
    g: Vec<f64>,
    h: Vec<f64>,
    sigma: Vec<f64>,
    tau: Vec<f64>,
    tau_recip: Vec<f64>,
    decay: Vec<f64>,
    weighted_decay: Vec<f64>,
    /// `f_j = G_j x (voltage of a(i,j) for a unit drive with the columns grounded)`, siemens.
    short_circuit: Vec<f64>,
}

impl RowLine {
    fn new(cols: usize) -> Self {
        Self {
            g: vec![0.0; cols],
            h: vec![0.0; cols],
            sigma: vec![0.0; cols],
            tau: vec![0.0; cols],
            tau_recip: vec![0.0; cols],
            decay: vec![0.0; cols],
            weighted_decay: vec![0.0; cols],
            short_circuit: vec![0.0; cols],
        }
    }

    /// `sigma` and `tau` (see [`RowLine`]) from `self.h`, and the reciprocal pivots
    /// `1 / (tau_j + 1)`.
    fn pivots(&mut self) {
        let n = self.h.len();
        let h = &self.h;
        for j in 0..n {
            let before = if j == 0 {
                0.0
            } else {
                series_with_segment(self.sigma[j - 1])
            };
            self.sigma[j] = h[j] + driver(j) + before;
        }
        for j in (0..n).rev() {
            let after = if j + 1 == n {
                0.0
            } else {
                series_with_segment(self.tau[j + 1])
            };
            self.tau[j] = h[j] + driver(j) + after;
        }
        // Reciprocal pivots, so that the decay in `eliminate` multiplies instead of dividing.
        for j in 0..n {
            self.tau_recip[j] = 1.0 / (self.tau[j] + 1.0);
        }
    }

    /// The products `decay_j = Π_{m=1..j} 1 / (tau_m + 1)` and `h_j decay_j`; `false` if the last
    /// decay comes near the floating-point underflow, where the chain of `eliminate` must be
    /// followed pivot by pivot (and cut where it underflows) instead.
    fn decays(&mut self) -> bool {
        let mut d = 1.0;
        for ((decay, weighted), (tau_recip, h)) in self
            .decay
            .iter_mut()
            .zip(self.weighted_decay.iter_mut())
            .zip(self.tau_recip.iter().zip(&self.h))
            .skip(1)
        {
            d *= tau_recip;
            *decay = d;
            *weighted = h * d;
        }
        self.decay[0] = 1.0;
        self.weighted_decay[0] = self.h[0];
        d > 1e-250
    }

    /// Writes the lower triangle of `r Q = H − H T⁻¹ H` (`H = diag(h)`) into `out` (the upper
    /// triangle is zero) and the short-circuit currents into `self.short_circuit`.
    fn eliminate(&mut self, g: impl Iterator<Item = f64>, r: f64, out: &mut DMatrix<f64>) {
        let n = self.h.len();
        for ((slot, h), g) in self.g.iter_mut().zip(self.h.iter_mut()).zip(g) {
            *slot = g;
            *h = r * g;
        }
        self.pivots();
        let semiseparable = self.decays();
        let h = &self.h;
        out.as_mut_slice().fill(0.0);
        for (k, col) in out.as_mut_slice().chunks_exact_mut(n).enumerate() {
            // Everything at node k except its own device: the driver, and the chain on each side.
            let other = driver(k)
                + if k > 0 {
                    series_with_segment(self.sigma[k - 1])
                } else {
                    0.0
                }
                + if k + 1 < n {
                    series_with_segment(self.tau[k + 1])
                } else {
                    0.0
                };
            let total = h[k] + other;
            let t_kk = 1.0 / total;
            // (r Q)_kk = h_k − h_k² T⁻¹_kk = h_k in series with the rest of the line.
            col[k] = h[k] * other / total;
            // T⁻¹ e_k decays away from k below it by the pivots: T⁻¹_{jk} = T⁻¹_{j−1,k} /
            // (tau_j + 1), a pivot above 1 (above k it decays by sigma_j + 1: the upper triangle).
            let hk = h[k];
            if k == 0 {
                self.short_circuit.fill(0.0);
                let mut t = t_kk;
                self.short_circuit[0] = t;
                for j in 1..n {
                    t *= self.tau_recip[j];
                    if t < f64::MIN_POSITIVE {
                        break;
                    }
                    self.short_circuit[j] = t;
                }
            }
            if semiseparable {
                // T⁻¹_jk = T⁻¹_kk decay_j / decay_k: a multiple of one column for every k.
                let c = -hk * t_kk / self.decay[k];
                for (out, w) in col[k + 1..].iter_mut().zip(&self.weighted_decay[k + 1..]) {
                    *out = c * w;
                }
                continue;
            }
            let mut t = t_kk;
            for j in k + 1..n {
                t *= self.tau_recip[j];
                if t < f64::MIN_POSITIVE {
                    break;
                }
                col[j] = -h[j] * hk * t;
            }
        }
        // The unit-drive voltages are the first column of T⁻¹ (the drive enters node 0).
        for (f, g) in self.short_circuit.iter_mut().zip(&self.g) {
            *f *= g;
        }
    }
}

/// A conductance `s` (in units of the wire conductance) in series with one wire segment.
fn series_with_segment(s: f64) -> f64 {
    s / (1.0 + s)
}

/// The conductance to the driver at node `j` of a row line, in units of the wire conductance:
/// one segment ties node 0 to the driver.
fn driver(j: usize) -> f64 {
    if j == 0 {
        1.0
    } else {
        0.0
    }
}

/// In-place inverse of a symmetric positive definite matrix by block Gauss–Jordan elimination
/// (the principal pivot transform applied block by block), so that almost all the work is a
/// rank-`BLOCK` GEMM update. Positive definiteness makes every pivot block a Schur complement
/// that is itself positive definite: no pivoting is needed, and a non-positive pivot means the
/// matrix was not numerically positive definite.
///
/// Symmetry halves the work. After the blocks in a set `D` have been pivoted, the transformed
/// matrix is symmetric within `D` and within the rest `U`, and antisymmetric between them
/// (`A_du = −A_udᵀ`): a pivot step keeps this, as its rules below show. So only the lower
/// triangle is stored and updated; the other half of any block is the stored half, transposed,
/// with the sign of its pair of sets.
struct SpdInverse {
    /// The pivot block, column-major, `b x b` in its first `b²` entries.
    block: Vec<f64>,
    column: Vec<f64>,
    /// `A_ok`, the pivot block's column outside it (rows of the pivot block unused).
    col_panel: DMatrix<f64>,
    /// `A_ko`, its row, read from the stored half with the sign of `o`'s set.
    row_panel: DMatrix<f64>,
    scaled: DMatrix<f64>,
}

const BLOCK: usize = 16;

impl SpdInverse {
    fn new(n: usize) -> Self {
        let b = BLOCK.min(n);
        Self {
            block: vec![0.0; b * b],
            column: vec![0.0; b],
            col_panel: DMatrix::zeros(n, b),
            row_panel: DMatrix::zeros(b, n),
            scaled: DMatrix::zeros(n, b),
        }
    }

    /// Reads the lower triangle of `a` and leaves the whole inverse in `a`. With `k` the pivot
    /// block and `o` the rest: `A_kk ← A_kk⁻¹`, `A_ok ← A_ok A_kk⁻¹`, `A_ko ← −A_kk⁻¹ A_ko`,
    /// `A_oo ← A_oo − A_ok A_kk⁻¹ A_ko`; after every block has been pivoted once, `A` holds its
    /// inverse.
    fn invert_in_place(&mut self, a: &mut DMatrix<f64>) -> Result<(), ()> {
        let n = a.nrows();
        let mut start = 0;
        while start < n {
            let b = BLOCK.min(n - start);
            self.pivot_block(a, start, b)?;
            let block = nalgebra::DMatrixView::from_slice(&self.block[..b * b], b, b);
            // A_ok A_kk⁻¹, for every o; the pivot block's own rows are stale and unused.
            self.scaled
                .columns_mut(0, b)
                .gemm(1.0, &self.col_panel.columns(0, b), &block, 0.0);
            // The lower triangle of A_oo − (A_ok A_kk⁻¹) A_ko, a block column at a time. Rows
            // of the pivot block take part in the products and are overwritten below.
            for (c0, cn) in block_columns_outside(start, b, n) {
                a.view_mut((c0, c0), (n - c0, cn)).gemm(
                    -1.0,
                    &self.scaled.view((c0, 0), (n - c0, b)),
                    &self.row_panel.view((0, c0), (b, cn)),
                    1.0,
                );
            }
            // The new A_ok below the pivot block, and A_ko = (A_ok A_kk⁻¹)ᵀ left of it (in
            // pivoted lines the antisymmetry flips the sign of −A_kk⁻¹ A_ko).
            let after = start + b;
            copy_block(&self.scaled, (after, 0), a, (after, start), (n - after, b));
            for c in 0..start {
                for k in 0..b {
                    a[(start + k, c)] = self.scaled[(c, k)];
                }
            }
            for (c, column) in self.block[..b * b].chunks_exact(b).enumerate() {
                a.column_mut(start + c).as_mut_slice()[start..start + b].copy_from_slice(column);
            }
            start += b;
        }
        a.fill_upper_triangle_with_lower_triangle();
        Ok(())
    }

    /// Reads the pivot block at `start` (`b` lines) and its column and row outside it from the
    /// lower triangle of `a`, and inverts the block into `self.block`.
    fn pivot_block(&mut self, a: &DMatrix<f64>, start: usize, b: usize) -> Result<(), ()> {
        let n = a.nrows();
        let block = &mut self.block[..b * b];
        for c in 0..b {
            for k in c..b {
                let v = a[(start + k, start + c)];
                block[c * b + k] = v;
                block[k * b + c] = v;
            }
        }
        invert_small_in_place(block, b, &mut self.column[..b])?;
        // Lines not yet pivoted (after the block): A_ko = A_okᵀ, both from the column below.
        for k in 0..b {
            for o in start + b..n {
                let v = a[(o, start + k)];
                self.col_panel[(o, k)] = v;
                self.row_panel[(k, o)] = v;
            }
        }
        // Lines already pivoted (before it): the stored A_ko, and A_ok = −A_koᵀ.
        for o in 0..start {
            for k in 0..b {
                let v = a[(start + k, o)];
                self.row_panel[(k, o)] = v;
                self.col_panel[(o, k)] = -v;
            }
        }
        Ok(())
    }
}

/// Copies the `rows x cols` block of `src` at `from` into `dst` at `to`, column by column.
fn copy_block(
    src: &DMatrix<f64>,
    (sr, sc): (usize, usize),
    dst: &mut DMatrix<f64>,
    (dr, dc): (usize, usize),
    (rows, cols): (usize, usize),
) {
    for j in 0..cols {
        dst.column_mut(dc + j).as_mut_slice()[dr..dr + rows]
            .copy_from_slice(&src.column(sc + j).as_slice()[sr..sr + rows]);
    }
}

/// The column ranges `(first, len)` of `0..n` outside the pivot block `start..start + b`, in
/// pieces of at most `BLOCK` columns: the block columns of the lower-triangle update.
fn block_columns_outside(start: usize, b: usize, n: usize) -> impl Iterator<Item = (usize, usize)> {
    let pieces = |from: usize, to: usize| {
        (from..to)
            .step_by(BLOCK)
            .map(move |c0| (c0, BLOCK.min(to - c0)))
    };
    pieces(0, start).chain(pieces(start + b, n))
}

/// The same transform, one pivot at a time, for a diagonal block stored column-major in `a`
/// (`n x n`); `column` is scratch of length `n`.
fn invert_small_in_place(a: &mut [f64], n: usize, column: &mut [f64]) -> Result<(), ()> {
    debug_assert!(a.len() == n * n && column.len() == n);
    for k in 0..n {
        let pivot = a[k * n + k];
        if !(pivot > 0.0 && pivot.is_finite()) {
            return Err(());
        }
        let inv = 1.0 / pivot;
        // A_oo −= A_ok A_kk⁻¹ A_ko, column by column; the zero at row k leaves row k alone.
        column.copy_from_slice(&a[k * n..(k + 1) * n]);
        column[k] = 0.0;
        for (c, target) in a.chunks_exact_mut(n).enumerate() {
            let a_kc = target[k] * inv;
            if c != k && a_kc != 0.0 {
                for (t, v) in target.iter_mut().zip(column.iter()) {
                    *t -= v * a_kc;
                }
            }
        }
        for (c, target) in a.chunks_exact_mut(n).enumerate() {
            if c == k {
                for v in target.iter_mut() {
                    *v *= inv;
                }
                target[k] = inv;
            } else {
                target[k] *= -inv;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn random(rows: usize, cols: usize, lo: f64, hi: f64, seed: u64) -> DMatrix<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        DMatrix::from_fn(rows, cols, |_, _| rng.random_range(lo..hi))
    }

    fn max_abs_diff(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
        (a - b).abs().max()
    }

    #[test]
    fn block_gauss_jordan_inverts_spd_matrices() {
        // Sizes below, at and across the block size; condition numbers up to ~1e3.
        for (n, seed) in [(1, 1), (5, 2), (48, 3), (49, 4), (130, 5)] {
            let m = random(n, n, -1.0, 1.0, seed);
            let a = &m * m.transpose() + DMatrix::identity(n, n) * (n as f64 * 0.01);
            let mut inv = a.clone();
            SpdInverse::new(n).invert_in_place(&mut inv).unwrap();
            let reference = a.clone().cholesky().unwrap().inverse();
            // Both are backward stable: they agree to eps x cond x n.
            let scale = reference.abs().max();
            assert!(max_abs_diff(&inv, &reference) <= 1e-10 * scale, "n = {n}");
        }
    }

    #[test]
    fn block_gauss_jordan_rejects_indefinite_matrices() {
        let mut a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        assert!(SpdInverse::new(2).invert_in_place(&mut a).is_err());
        let mut nan = DMatrix::from_element(3, 3, f64::NAN);
        assert!(SpdInverse::new(3).invert_in_place(&mut nan).is_err());
    }

    #[test]
    fn row_line_elimination_matches_a_dense_inverse() {
        for (n, seed) in [(1usize, 1u64), (2, 2), (7, 3), (40, 4)] {
            let r = 1.7;
            let g = random(1, n, 0.0, 0.2, seed);
            let mut line = RowLine::new(n);
            let mut rq = DMatrix::zeros(n, n);
            line.eliminate(g.iter().copied(), r, &mut rq);
            rq.fill_upper_triangle_with_lower_triangle();
            // Dense reference: T = chain Laplacian with the driver segment at node 0, plus H.
            let h = DMatrix::from_diagonal(&(g.row(0).transpose() * r));
            let mut t = h.clone();
            for j in 0..n {
                if j == 0 {
                    t[(0, 0)] += 1.0;
                }
                if j + 1 < n {
                    t[(j, j)] += 1.0;
                    t[(j + 1, j + 1)] += 1.0;
                    t[(j, j + 1)] -= 1.0;
                    t[(j + 1, j)] -= 1.0;
                }
            }
            let t_inv = t.clone().cholesky().unwrap().inverse();
            let rq_ref = &h - &h * &t_inv * &h;
            assert!(max_abs_diff(&rq, &rq_ref) <= 1e-14, "n = {n}");
            for j in 0..n {
                let f_ref = g[(0, j)] * t_inv[(j, 0)];
                assert!(
                    (line.short_circuit[j] - f_ref).abs() <= 1e-14 * f_ref,
                    "n = {n}"
                );
            }
        }
    }

    #[test]
    fn both_sweep_directions_agree() {
        // The rotation is exact by reciprocity; the two sweeps round differently.
        for (rows, cols, seed) in [(1, 1, 1), (1, 6, 2), (6, 1, 3), (5, 9, 4), (12, 7, 5)] {
            let g = random(rows, cols, 0.1e-6, 25e-6, seed);
            let r = 2.5;
            let direct = sweep(&g, r).unwrap();
            let via_rotation = rotate(&sweep(&rotate(&g), r).unwrap());
            let rel = max_abs_diff(&direct, &via_rotation) / g.max();
            assert!(rel <= 1e-13, "{rows}x{cols}: {rel:e}");
        }
    }

    #[test]
    fn rotation_is_an_involution() {
        let g = random(3, 5, 0.0, 1.0, 9);
        assert_eq!(rotate(&rotate(&g)), g);
        assert_eq!(rotate(&g)[(0, 0)], g[(2, 4)]);
    }
}
