//! The voltages of a tile's wire nodes at rest: the initial conditions of the netlist's wire
//! capacitors (docs/circuit-model.md, "Line RC").
//!
//! The netlist starts from the circuit at rest without an operating point (`.tran ... uic`),
//! so every capacitor must start at its node's DC voltage. A wire node's capacitor that starts
//! elsewhere is charged through the wires at t = 0, and one on a sensed line sits at a TIA's
//! input, where the op-amp multiplies the difference by its open-loop gain: a column started
//! at 0 V instead of the virtual ground's `-V_o / A` (plus its IR drop) pulls the TIA's output
//! to 0 for the input pole's time and kicks every error node behind it.
//!
//! A tile's wire nodes obey the nodal equations of [`crate::hardware::irdrop`]'s geometry with
//! both line ends held: row line `i` at `left[i]` (its driver, or a sensed row's TIA input),
//! column line `j` at `bottom[j]`. Each line alone, with the lines across it held, is a chain
//! (a tridiagonal system, solved exactly); alternating the rows and the columns (block
//! Gauss–Seidel) converges by the factor of a device's conductance against its wire's, `r G`,
//! per sweep (Golub & Van Loan, *Matrix Computations*, 4th ed., §11.2: block relaxation).

use nalgebra::DMatrix;

/// The most sweeps over the rows and columns; each gains the digits of `1 / (r G_line)`.
const MAX_SWEEPS: usize = 200;

/// Solves the chain `-x_{k-1} + d_k x_k - x_{k+1} = rhs_k` (Thomas' algorithm; `d_k > 1`
/// wherever a chain ends, so no pivot vanishes).
fn solve_chain(diag: &[f64], rhs: &mut [f64]) {
    let n = diag.len();
    let mut c = vec![0.0; n];
    let mut pivot = diag[0];
    c[0] = -1.0 / pivot;
    rhs[0] /= pivot;
    for k in 1..n {
        pivot = diag[k] + c[k - 1];
        c[k] = -1.0 / pivot;
        rhs[k] = (rhs[k] + rhs[k - 1]) / pivot;
    }
    for k in (0..n.saturating_sub(1)).rev() {
        rhs[k] -= c[k] * rhs[k + 1];
    }
}

/// The row nodes `a` and column nodes `b` (both `rows x cols`) of a tile of conductances `g`
/// with wire segments of `r` ohms, row line `i` held at `left[i]` at its left end and column
/// line `j` at `bottom[j]` at its bottom end (the geometry of [`crate::hardware::irdrop`]: one
/// segment before every cell along a row, one after every cell down a column).
pub fn rest_voltages(
    g: &DMatrix<f64>,
    r: f64,
    left: &[f64],
    bottom: &[f64],
) -> (DMatrix<f64>, DMatrix<f64>) {
    let (n, m) = g.shape();
    let mut a = DMatrix::from_fn(n, m, |i, _| left[i]);
    let mut b = DMatrix::from_fn(n, m, |_, j| bottom[j]);
    for _ in 0..MAX_SWEEPS {
        let mut change = 0.0f64;
        // Rows: node j joins j-1 (or the left end) and j+1 (none at the open right end).
        for i in 0..n {
            let diag: Vec<f64> = (0..m)
                .map(|j| if j + 1 < m { 2.0 } else { 1.0 } + r * g[(i, j)])
                .collect();
            let mut x: Vec<f64> = (0..m).map(|j| r * g[(i, j)] * b[(i, j)]).collect();
            x[0] += left[i];
            solve_chain(&diag, &mut x);
            for (j, v) in x.into_iter().enumerate() {
                change = change.max((v - a[(i, j)]).abs());
                a[(i, j)] = v;
            }
        }
        // Columns: node i joins i+1 (or the bottom end) and i-1 (none at the open top).
        for j in 0..m {
            let diag: Vec<f64> = (0..n)
                .map(|i| if i > 0 { 2.0 } else { 1.0 } + r * g[(i, j)])
                .collect();
            let mut x: Vec<f64> = (0..n).map(|i| r * g[(i, j)] * a[(i, j)]).collect();
            x[n - 1] += bottom[j];
            solve_chain(&diag, &mut x);
            for (i, v) in x.into_iter().enumerate() {
                change = change.max((v - b[(i, j)]).abs());
                b[(i, j)] = v;
            }
        }
        let scale = left
            .iter()
            .chain(bottom)
            .fold(0.0f64, |s, v| s.max(v.abs()));
        if change <= 1e-15 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One device between one row segment and one column segment: the current
    /// `(V_left - V_bottom) / (1/G + 2r)` flows through both segments.
    #[test]
    fn a_single_device_divides_the_voltage_over_its_segments() {
        let g = DMatrix::from_element(1, 1, 1e-3);
        let (a, b) = rest_voltages(&g, 10.0, &[1.0], &[0.0]);
        let i = 1.0 / (1e3 + 20.0);
        assert!((a[(0, 0)] - (1.0 - 10.0 * i)).abs() < 1e-15, "{a}");
        assert!((b[(0, 0)] - 10.0 * i).abs() < 1e-15, "{b}");
    }

    /// Kirchhoff's current law holds at every node of a 3 x 4 tile with strong IR drop.
    #[test]
    fn every_node_balances_its_currents() {
        let g = DMatrix::from_fn(3, 4, |i, j| 1e-3 * (1.0 + i as f64 + 0.5 * j as f64));
        let r = 20.0;
        let (left, bottom) = ([0.3, -0.2, 0.1], [0.0, 1e-3, -2e-3, 0.0]);
        let (a, b) = rest_voltages(&g, r, &left, &bottom);
        for i in 0..3 {
            for j in 0..4 {
                let before = if j == 0 { left[i] } else { a[(i, j - 1)] };
                let mut sum = (before - a[(i, j)]) / r + g[(i, j)] * (b[(i, j)] - a[(i, j)]);
                if j + 1 < 4 {
                    sum += (a[(i, j + 1)] - a[(i, j)]) / r;
                }
                assert!(sum.abs() < 1e-12, "row node {i},{j}: {sum}");
                let below = if i + 1 == 3 { bottom[j] } else { b[(i + 1, j)] };
                let mut sum = (below - b[(i, j)]) / r + g[(i, j)] * (a[(i, j)] - b[(i, j)]);
                if i > 0 {
                    sum += (b[(i - 1, j)] - b[(i, j)]) / r;
                }
                assert!(sum.abs() < 1e-12, "column node {i},{j}: {sum}");
            }
        }
    }
}
