//! Mapping a network onto crossbar tiles: each layer's a_l W becomes differential conductance
//! pairs, programmed on devices, read back as the effective weights the circuit really applies.
//!
//! Layer l (weights W_{l-1}, `out x in`) is stored as an `in x out` array: row i is driven by
//! phi(z_{l-1,i}), column j is summed by a trans-impedance amplifier (TIA) into mu_{l,j}. Each
//! weight is a pair of devices, a_l W_ij = R_f (G+_ij - G-_ij): a positive weight programs G+ to
//! g_min + kappa a_l W_ij and leaves G- at g_min, a negative one the reverse. The per-layer scale
//! kappa maps the largest |a_l W| of the layer onto the full window g_max - g_min, and the TIA
//! gain R_f = 1 / kappa restores a_l W. A layer larger than a tile (`rows x cols` pairs) is cut
//! into a grid of tiles; partial column currents of tiles stacked in one column add, so the
//! layer's effective matrix is the block assembly of its tiles' effective matrices.
//!
//! The backward product W^T e reads either the same devices in the transposed direction
//! (`shared`: drivers on the columns, sensing on the rows) or a second pair of arrays
//! programmed with W^T (`separate`), with independent device errors.
//!
//! A shared backward read applies exactly the transpose of the forward read's effective matrix,
//! wires included. It uses the same resistor network with the same terminals — each line's end
//! holds a bidirectional driver/TIA, rows at their left ends, columns at their bottom ends —
//! and every terminal is an ideal voltage node in both reads (a driver or a virtual ground). The
//! nodal matrix of a linear resistor network is symmetric, so its short-circuit transfer
//! admittances are reciprocal: the current into row terminal i per volt on column terminal j
//! equals the current into column terminal j per volt on row terminal i, which is
//! `G_eff[i][j]` of the forward read. Tiles are separate networks: a column's driver reaches
//! every tile stacked in its tile column, and a row's backward TIA sums the partial currents of
//! every tile along its tile row, the same block assembly as the forward read (partial tiles
//! included). So `w_backward = w_forward`, and the shared read costs no second IR-drop solve.
//! (An array of its own holding W^T, as [`Backward::Separate`] has, is a different network with
//! the transposed wire geometry: its IR drop differs from the forward read's.)
//!
//! # Reference
//!
//! - B. D. H. Tellegen, "A general network theorem, with applications", Philips Research
//!   Reports 7, 259-269 (1952): the theorem from which the reciprocity of networks of linear
//!   resistors follows.
//! - C. A. Desoer and E. S. Kuh, *Basic Circuit Theory*, McGraw-Hill (1969): the reciprocity
//!   theorem for short-circuit transfer admittances.

use super::device::ProgrammedArray;
use super::params::{Backward, CrossbarParams, DeviceParams};
use crate::network::Network;
use nalgebra::DMatrix;

/// The effective matrix of one tile's devices (rows driven, columns sensed), e.g. with IR drop.
pub type TileModel<'a> = &'a dyn Fn(&DMatrix<f64>) -> Result<DMatrix<f64>, String>;

/// Why a network could not be mapped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    #[error("tile dimensions must be at least 1x1, got {rows}x{cols}")]
    TileSize { rows: usize, cols: usize },
    #[error("device window must satisfy 0 <= g_min < g_max, got [{g_min:e}, {g_max:e}] S")]
    Window { g_min: f64, g_max: f64 },
    #[error("layer {layer}: {message}")]
    Tile { layer: usize, message: String },
}

/// A pair of programmed arrays holding one signed matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct DifferentialArray {
    pub plus: ProgrammedArray,
    pub minus: ProgrammedArray,
}

/// One array's drift calibration ([`super::drift_compensation`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArrayCalibration {
    /// Summed absolute read-out right after programming (siemens).
    pub reference_siemens: f64,
    /// The same read-out at the read time (siemens).
    pub current_siemens: f64,
    /// reference / current: the gain applied to the array's outputs (1 for an empty array).
    pub alpha: f64,
}

/// The calibrations of one layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerCalibration {
    pub forward: ArrayCalibration,
    /// The separate backward array's (`None`: a shared read takes the forward gain).
    pub backward: Option<ArrayCalibration>,
}

/// One layer on hardware.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerMapping {
    /// 1-based layer number l (it holds W_{l-1}).
    pub layer: usize,
    pub inputs: usize,
    pub outputs: usize,
    /// Tiles along the inputs (rows) and along the outputs (columns).
    pub tile_grid: (usize, usize),
    /// Conductance per unit of a_l W (siemens).
    pub kappa_siemens: f64,
    /// The forward TIAs' feedback resistance (ohms): 1 / kappa, which restores a_l W, times the
    /// drift compensation's gain when there is one.
    pub feedback_resistance_ohms: f64,
    /// The backward TIAs' feedback resistance (ohms), as the forward one.
    pub backward_feedback_resistance_ohms: f64,
    /// The drift compensation's calibration of this layer's arrays, if the design has one
    /// ([`super::drift_compensation`]).
    pub drift_calibration: Option<LayerCalibration>,
    /// The forward arrays (`in x out`).
    pub forward: DifferentialArray,
    /// The separate backward arrays (`out x in`), if the design has them.
    pub backward: Option<DifferentialArray>,
    /// The weights the forward read applies (`out x in`, the layout of W).
    pub w_forward: DMatrix<f64>,
    /// The weights the backward read applies, W_b with W_b^T e computed (`out x in`): equal to
    /// `w_forward` when the read is shared (reciprocity, see the module documentation).
    pub w_backward: DMatrix<f64>,
}

impl LayerMapping {
    /// Devices used by this layer (two per weight, per direction stored).
    pub fn devices(&self) -> usize {
        let per = 2 * self.inputs * self.outputs;
        per * if self.backward.is_some() { 2 } else { 1 }
    }

    /// Tiles used (both directions when the backward arrays are separate).
    pub fn tiles(&self, crossbar: &CrossbarParams) -> usize {
        let fwd = self.tile_grid.0 * self.tile_grid.1;
        let bwd = if self.backward.is_some() {
            self.outputs.div_ceil(crossbar.rows) * self.inputs.div_ceil(crossbar.cols)
        } else {
            0
        };
        fwd + bwd
    }
}

/// A whole network on hardware.
#[derive(Clone, Debug, PartialEq)]
pub struct MappedNetwork {
    pub layers: Vec<LayerMapping>,
}

impl MappedNetwork {
    /// Effective forward weights of every layer (`out x in`).
    pub fn forward_weights(&self) -> Vec<DMatrix<f64>> {
        self.layers.iter().map(|l| l.w_forward.clone()).collect()
    }

    /// Effective backward weights of every layer (`out x in`).
    pub fn backward_weights(&self) -> Vec<DMatrix<f64>> {
        self.layers.iter().map(|l| l.w_backward.clone()).collect()
    }
}

/// ||a - b||_F / ||b||_F (0 when both vanish).
pub fn relative_frobenius(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let nb = b.norm();
    let d = (a - b).norm();
    if nb == 0.0 {
        if d == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        d / nb
    }
}

/// Applies `model` tile by tile to an array of `rows x cols` tiles and reassembles it.
pub(crate) fn tiled(
    g: &DMatrix<f64>,
    rows: usize,
    cols: usize,
    model: TileModel<'_>,
) -> Result<DMatrix<f64>, String> {
    let (n, m) = g.shape();
    let mut out = DMatrix::zeros(n, m);
    for r0 in (0..n).step_by(rows) {
        for c0 in (0..m).step_by(cols) {
            let (h, w) = ((n - r0).min(rows), (m - c0).min(cols));
            let block = g.view((r0, c0), (h, w)).clone_owned();
            let eff = model(&block)?;
            if eff.shape() != (h, w) {
                return Err(format!(
                    "tile model returned {:?} for a {h}x{w} tile",
                    eff.shape()
                ));
            }
            out.view_mut((r0, c0), (h, w)).copy_from(&eff);
        }
    }
    Ok(out)
}

/// Target conductances (G+, G-) of a signed matrix `m` under scale `kappa`.
fn targets(m: &DMatrix<f64>, kappa: f64, dev: &DeviceParams) -> (DMatrix<f64>, DMatrix<f64>) {
    let g0 = dev.g_min_siemens;
    let plus = m.map(|w| g0 + kappa * w.max(0.0));
    let minus = m.map(|w| g0 + kappa * (-w).max(0.0));
    (plus, minus)
}

/// Maps every layer of `net` onto tiles of `device`s. `model` turns a tile's device
/// conductances into its effective matrix (the identity without IR drop). Array ids for the
/// random streams: 4 per layer (forward +/-, backward +/-).
pub fn map_network(
    net: &Network<f64>,
    device: &DeviceParams,
    crossbar: &CrossbarParams,
    seed: u64,
    model: TileModel<'_>,
) -> Result<MappedNetwork, MappingError> {
    if crossbar.rows == 0 || crossbar.cols == 0 {
        return Err(MappingError::TileSize {
            rows: crossbar.rows,
            cols: crossbar.cols,
        });
    }
    let (g_min, g_max) = (device.g_min_siemens, device.g_max_siemens);
    if !(g_min >= 0.0 && g_max > g_min && g_max.is_finite()) {
        return Err(MappingError::Window { g_min, g_max });
    }
    let mut layers = Vec::with_capacity(net.n_layers());
    for (idx, w) in net.weights().iter().enumerate() {
        let l = idx + 1;
        let a = net.scalings()[idx];
        let scaled = w * a; // out x in
        let w_max = scaled.amax();
        let kappa = if w_max > 0.0 {
            (g_max - g_min) / w_max
        } else {
            1.0
        };
        let tile_err = |message: String| MappingError::Tile { layer: l, message };
        let arr = scaled.transpose(); // in x out: rows are inputs
        let (tp, tm) = targets(&arr, kappa, device);
        let id = 4 * idx as u64;
        let forward = DifferentialArray {
            plus: device.program(&tp, seed, id),
            minus: device.program(&tm, seed, id + 1),
        };
        // The effective matrix of a pair read with its rows driven and its columns summed.
        let read = |d: &DifferentialArray| -> Result<DMatrix<f64>, MappingError> {
            let ep = tiled(&d.plus.read, crossbar.rows, crossbar.cols, model).map_err(tile_err)?;
            let em = tiled(&d.minus.read, crossbar.rows, crossbar.cols, model).map_err(tile_err)?;
            Ok((ep - em) / (kappa * a))
        };
        let w_forward = read(&forward)?.transpose(); // out x in
        let (backward, w_backward) = match crossbar.backward {
            // The same network driven from the column terminals and sensed at the row
            // terminals: by reciprocity the transpose of the forward read (module docs), which
            // in the `out x in` layout of W is the same matrix.
            Backward::Shared => (None, w_forward.clone()),
            Backward::Separate => {
                let (bp, bm) = targets(&scaled, kappa, device); // out x in: rows are outputs
                let b = DifferentialArray {
                    plus: device.program(&bp, seed, id + 2),
                    minus: device.program(&bm, seed, id + 3),
                };
                let eff = read(&b)?; // out x in, rows (outputs) driven
                (Some(b), eff)
            }
        };
        layers.push(LayerMapping {
            layer: l,
            inputs: arr.nrows(),
            outputs: arr.ncols(),
            tile_grid: (
                arr.nrows().div_ceil(crossbar.rows),
                arr.ncols().div_ceil(crossbar.cols),
            ),
            kappa_siemens: kappa,
            feedback_resistance_ohms: 1.0 / kappa,
            backward_feedback_resistance_ohms: 1.0 / kappa,
            drift_calibration: None,
            forward,
            backward,
            w_forward,
            w_backward,
        });
    }
    Ok(MappedNetwork { layers })
}

/// The tile model of a crossbar's wires: IR drop by nodal analysis when the wire resistance is
/// non-zero (see [`super::irdrop`]), the devices themselves otherwise.
pub fn wire_model(
    crossbar: &CrossbarParams,
) -> impl Fn(&DMatrix<f64>) -> Result<DMatrix<f64>, String> {
    let r = crossbar.wire_resistance_ohms;
    move |g: &DMatrix<f64>| {
        if r == 0.0 {
            Ok(g.clone())
        } else {
            super::irdrop::effective_matrix(g, r).map_err(|e| e.to_string())
        }
    }
}

/// The tile model of ideal wires: the devices themselves.
pub fn ideal_wires(g: &DMatrix<f64>) -> Result<DMatrix<f64>, String> {
    Ok(g.clone())
}
