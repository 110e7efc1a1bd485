//! The circuit one netlist holds: a mapped design reduced to what the netlist writer needs for
//! one batch sample — every programmed conductance, the TIA gains and their finite-gain
//! factors, time constants, the sample's DAC inputs and target, the initial state.
//!
//! The finite-gain factor of a TIA (docs/circuit-model.md, "Finite gain and offsets") is
//! `c = A / (A + N)` with noise gain `N = 1 + R_f G_sum`, `G_sum` the total programmed device
//! conductance on the TIA's line (both arrays of the pair, every stacked tile). Folding `c` into
//! the effective weights — row `j` of `W^f_{l-1}` times `c^f_{l,j}`, column `i` of `W^b_{l-1}`
//! times `c^b_{l-1,i}` — gives the network whose gradient flow the circuit follows when the error
//! nodes are algebraic ([`SpiceDesign::network`]); the initial state is that network's
//! feedforward pass, so every hidden error starts at zero in the netlist too.

use super::SpiceError;
use crate::analog::{poles, AnalogCircuit, SimOptions};
use crate::config::Circuit;
use crate::design::Built;
use crate::hardware::mapping::LayerMapping;
use crate::hardware::params::Backward;
use crate::measure::sim_options;
use crate::network::{Activation, Architecture, Network};
use nalgebra::DMatrix;

/// The op-amp gain the netlist gives an amplifier that the design calls ideal
/// (`periphery.open_loop_gain = inf`). With it, `1 - c <= N / 10^9`: below 10^-7 for lines of
/// up to 100 devices' worth of full-window conductance, and an integrator's leak
/// (`crate::analog::amplifier`), which the ideal model does not have, is `10^-9` per tau_z.
pub const IDEAL_OPEN_LOOP_GAIN: f64 = 1e9;

/// One differential pair of arrays as the netlist lays it out: rows are driven, columns sensed.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayPair {
    /// G+ (siemens), `rows x cols`.
    pub plus: DMatrix<f64>,
    /// G- (siemens), driven with the inverted row voltage.
    pub minus: DMatrix<f64>,
}

impl ArrayPair {
    /// `G_sum` of every column: the conductance a column's TIA sees from both arrays.
    pub fn column_sums(&self) -> Vec<f64> {
        (0..self.plus.ncols())
            .map(|j| self.plus.column(j).sum() + self.minus.column(j).sum())
            .collect()
    }

    /// `G_sum` of every row: the conductance a row's TIA sees from both arrays.
    pub fn row_sums(&self) -> Vec<f64> {
        (0..self.plus.nrows())
            .map(|i| self.plus.row(i).sum() + self.minus.row(i).sum())
            .collect()
    }

    /// Devices of the pair.
    pub fn devices(&self) -> usize {
        2 * self.plus.len()
    }
}

/// The arrays of one layer's backward read and which of their terminals drive and sense.
#[derive(Clone, Debug, PartialEq)]
pub enum BackwardArrays {
    /// Arrays of their own, `outputs x inputs`, wired as forward arrays are: row `j` driven at
    /// `v_read lambda_l e_{l,j}` from its left end, column `i` summed at its bottom end by the
    /// backward TIA of node `i` of layer l-1.
    Separate(ArrayPair),
    /// The forward devices (`inputs x outputs`: the forward layout, tiles and wires) read in
    /// reverse: column `j` driven at `v_read lambda_l e_{l,j}` from its bottom end, row `i`
    /// summed at its left end by the backward TIA of node `i` of layer l-1. By reciprocity
    /// this applies the transpose of the forward read's effective matrix, as the mapping has it
    /// ([`crate::hardware::mapping`]).
    Shared(ArrayPair),
}

impl BackwardArrays {
    /// The conductances, in the layout of the variant.
    pub fn pair(&self) -> &ArrayPair {
        match self {
            BackwardArrays::Separate(p) | BackwardArrays::Shared(p) => p,
        }
    }

    /// `G_sum` of the line of every backward TIA (per input of the layer).
    pub fn sensed_sums(&self) -> Vec<f64> {
        match self {
            BackwardArrays::Separate(p) => p.column_sums(),
            BackwardArrays::Shared(p) => p.row_sums(),
        }
    }

    /// Devices of the read.
    pub fn devices(&self) -> usize {
        self.pair().devices()
    }
}

/// One weight layer l (it holds `W_{l-1}`).
#[derive(Clone, Debug, PartialEq)]
pub struct SpiceLayer {
    /// 1-based layer number l.
    pub layer: usize,
    pub inputs: usize,
    pub outputs: usize,
    /// `s_l`: layer l adds `z_{l-1}` to its prediction.
    pub skip: bool,
    /// `lambda_l`: the output precision on the last layer, 1 elsewhere.
    pub precision: f64,
    /// The TIA feedback resistance `R_f` of the forward read of this layer (ohms), drift
    /// compensation's gain included.
    pub feedback_resistance_ohms: f64,
    /// The backward read's `R_f` (ohms): the forward one unless a separate backward array has
    /// a drift compensation gain of its own.
    pub backward_feedback_resistance_ohms: f64,
    /// Forward arrays, `inputs x outputs`: row `i` driven at `v_read phi(z_{l-1,i})`, column `j`
    /// summed by the forward TIA of output `j`.
    pub forward: ArrayPair,
    /// Backward arrays (layers 2..L; layer 1's backward read is unused, as `z_0` is clamped):
    /// the errors `v_read lambda_l e_{l,j}` drive them, the backward TIA of node `i` of layer
    /// l-1 sums them. With `backward = "shared"`, the forward devices read in reverse.
    pub backward: Option<BackwardArrays>,
    /// `c^f_{l,j}` per output.
    pub gain_forward: Vec<f64>,
    /// `c^b_{l-1,i}` per input (empty without a backward read).
    pub gain_backward: Vec<f64>,
}

/// Fixed amplifier input offsets (volts, the sign of docs/circuit-model.md: `o = c N V_os /
/// v_read`), per layer and node; all zero when `periphery.offset_sigma = 0`. They are the
/// analog circuit's own draws ([`AnalogCircuit::from_design`]), taken back to volts.
#[derive(Clone, Debug, PartialEq)]
pub struct Offsets {
    /// Forward TIAs of layers 1..L (index l-1), per output.
    pub tia_forward: Vec<Vec<f64>>,
    /// Error amplifiers of layers 1..L, per node.
    pub error: Vec<Vec<f64>>,
    /// Backward TIAs of hidden layers 1..L-1 (index l-1), per node.
    pub tia_backward: Vec<Vec<f64>>,
    /// Integrators of hidden layers 1..L-1, per node.
    pub integrator: Vec<Vec<f64>>,
}

impl Offsets {
    /// Whether every offset is zero.
    pub fn all_zero(&self) -> bool {
        [
            &self.tia_forward,
            &self.error,
            &self.tia_backward,
            &self.integrator,
        ]
        .iter()
        .all(|v| v.iter().flatten().all(|&x| x == 0.0))
    }
}

/// A mapped design for one batch sample, as the netlist writer and the comparison see it.
#[derive(Clone, Debug)]
pub struct SpiceDesign {
    /// The design's name (its file).
    pub name: String,
    /// n_0 .. n_L.
    pub widths: Vec<usize>,
    pub activation: Activation,
    pub v_read_volts: f64,
    pub tau_z_seconds: f64,
    /// 0: algebraic error nodes.
    pub tau_e_seconds: f64,
    /// The integrator capacitor C_z (farads); the integrator's transconductance is
    /// `g_m = C_z / tau_z`.
    pub node_capacitance_farads: f64,
    /// The TIAs' open-loop gain as the netlist uses it (the design's, or
    /// [`IDEAL_OPEN_LOOP_GAIN`]).
    pub tia_gain: f64,
    /// Whether the design's TIAs are ideal (the netlist then uses [`IDEAL_OPEN_LOOP_GAIN`]).
    pub ideal_tias: bool,
    pub tile_rows: usize,
    pub tile_cols: usize,
    pub wire_resistance_ohms: f64,
    /// Capacitance to ground of one wire segment (farads): the lines' RC.
    pub wire_capacitance_farads: f64,
    /// The amplifiers' gain-bandwidth product (hertz; `None`: no poles).
    pub gain_bandwidth_hertz: Option<f64>,
    /// The error amplifiers' closed-loop gain `A / (A + 2)` (1 when ideal).
    pub error_gain: f64,
    /// The amplifiers' outputs at t = 0 (node units), for their poles' initial conditions.
    pub lag0: LagOutputs,
    pub rail_volts: Option<f64>,
    pub layers: Vec<SpiceLayer>,
    /// Which batch sample this is.
    pub sample: usize,
    /// The DAC-converted input `x` (node units).
    pub x: Vec<f64>,
    /// The target `y` (node units, clamped).
    pub y: Vec<f64>,
    /// Initial value nodes `z_1 .. z_{L-1}` (index l-1): the circuit's feedforward pass.
    pub z0: Vec<Vec<f64>>,
    /// Initial errors `e_1 .. e_L`: zero on hidden layers, `y - mu_L` on the output.
    pub e0: Vec<Vec<f64>>,
    /// The simulated window (seconds): `dynamics.t_max`.
    pub window_seconds: f64,
    /// `dynamics.settle_tol`.
    pub settle_tol: f64,
    /// `dynamics.steady_tol`: `apcsim run` calls the circuit settled once max|dz/dt| tau_z is
    /// below it (node units).
    pub steady_tol: f64,
    pub offsets: Offsets,
    /// The effective network the circuit's gradient flow runs on (gains folded in).
    pub network: Network<f64>,
    /// The analog circuit apcsim integrates (docs/circuit-model.md), and how `apcsim run`
    /// integrates it (or why it cannot: adaptive solvers).
    pub analog: AnalogCircuit<f64>,
    pub sim: Result<SimOptions, String>,
}

/// The amplifiers' outputs at rest at t = 0 (node units, offsets included): what the
/// capacitors of their poles start at. Empty without poles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LagOutputs {
    /// Forward TIAs `p_l`, per layer l = 1..L.
    pub forward: Vec<Vec<f64>>,
    /// The error amplifiers' stages, per layer l = 1..L.
    pub error: Vec<Vec<f64>>,
    /// Backward TIAs `q_h`, per hidden layer h = 1..L-1.
    pub backward: Vec<Vec<f64>>,
}

/// The pole states of the analog circuit's initial state, by amplifier and layer.
fn lag_outputs(analog: &AnalogCircuit<f64>, x: &[f64], y: &[f64]) -> LagOutputs {
    if analog.poles.is_none() {
        return LagOutputs::default();
    }
    let state = analog.initial_state(x, y, 1);
    let (el, lay) = (analog.error_layout(1), analog.value_layout(1));
    let start = lay.len() + analog.error_state_len(1);
    let g = crate::analog::poles::split(&state[start..], el.len(), lay.len());
    let n = analog.n_layers();
    LagOutputs {
        forward: (1..=n).map(|l| g.p[el.range(l)].to_vec()).collect(),
        error: (1..=n).map(|l| g.a[el.range(l)].to_vec()).collect(),
        backward: (1..n).map(|h| g.q[lay.range(h)].to_vec()).collect(),
    }
}

/// The TIAs' op-amp: its open-loop gain, and whether the design calls it ideal.
#[derive(Clone, Copy)]
struct TiaGain {
    gain: f64,
    ideal: bool,
}

impl TiaGain {
    fn of(circuit: &Circuit) -> Self {
        match circuit.periphery.finite_gain {
            Some(a) => TiaGain {
                gain: a,
                ideal: false,
            },
            None => TiaGain {
                gain: IDEAL_OPEN_LOOP_GAIN,
                ideal: true,
            },
        }
    }

    /// The finite-gain factor `c = A / (A + N)` of a TIA with feedback `r_f` on a line of
    /// conductance `g_sum` (1 when ideal).
    fn factor(self, r_f: f64, g_sum: f64) -> f64 {
        if self.ideal {
            1.0
        } else {
            self.gain / (self.gain + 1.0 + r_f * g_sum)
        }
    }
}

/// One layer of the mapping as the netlist lays it out, and its effective forward and backward
/// matrices (the mapping's, rows and columns scaled by the finite-gain factors).
fn spice_layer(
    circuit: &Circuit,
    m: &LayerMapping,
    arch: &Architecture,
    tia: TiaGain,
) -> Result<(SpiceLayer, DMatrix<f64>, DMatrix<f64>), SpiceError> {
    let l = m.layer;
    let r_f = m.feedback_resistance_ohms;
    let r_b = m.backward_feedback_resistance_ohms;
    let forward = ArrayPair {
        plus: m.forward.plus.read.clone(),
        minus: m.forward.minus.read.clone(),
    };
    let backward = (l >= 2).then(|| match &m.backward {
        Some(b) => BackwardArrays::Separate(ArrayPair {
            plus: b.plus.read.clone(),
            minus: b.minus.read.clone(),
        }),
        None => BackwardArrays::Shared(forward.clone()),
    });
    if circuit.crossbar.backward == Backward::Separate && l >= 2 && m.backward.is_none() {
        return Err(SpiceError::Input(format!(
            "layer {l}: the design has separate backward arrays but the mapping holds none"
        )));
    }
    let gain_forward: Vec<f64> = forward
        .column_sums()
        .iter()
        .map(|&g| tia.factor(r_f, g))
        .collect();
    let gain_backward: Vec<f64> = backward.as_ref().map_or(Vec::new(), |b| {
        b.sensed_sums()
            .iter()
            .map(|&g| tia.factor(r_b, g))
            .collect()
    });
    let mut wf = m.w_forward.clone();
    for (j, c) in gain_forward.iter().enumerate() {
        wf.row_mut(j).scale_mut(*c);
    }
    let mut wb = m.w_backward.clone();
    for (i, c) in gain_backward.iter().enumerate() {
        wb.column_mut(i).scale_mut(*c);
    }
    let layer = SpiceLayer {
        layer: l,
        inputs: m.inputs,
        outputs: m.outputs,
        skip: arch.has_skip(l),
        precision: if l == arch.n_layers() {
            arch.output_precision
        } else {
            1.0
        },
        feedback_resistance_ohms: r_f,
        backward_feedback_resistance_ohms: r_b,
        forward,
        backward,
        gain_forward,
        gain_backward,
    };
    Ok((layer, wf, wb))
}

/// The analog circuit's offsets back in volts: `o^f = c N V_os / v`, `o^e = 2 V_os / v`,
/// `o^z = V_os / v`.
fn offsets_in_volts(analog: &AnalogCircuit<f64>, layers: &[SpiceLayer], v: f64) -> Offsets {
    let n_layers = layers.len();
    let noise_gain = |r_f: f64, sums: Vec<f64>, c: &[f64]| -> Vec<f64> {
        sums.iter()
            .zip(c)
            .map(|(g, c)| c * (1.0 + r_f * g))
            .collect()
    };
    let volts = |o: &[f64], gain: &[f64]| -> Vec<f64> {
        o.iter().zip(gain).map(|(o, n)| o * v / n).collect()
    };
    let mut offsets = Offsets {
        tia_forward: Vec::new(),
        error: Vec::new(),
        tia_backward: Vec::new(),
        integrator: Vec::new(),
    };
    for (lc, sl) in analog.layers.iter().zip(layers) {
        let r_f = sl.feedback_resistance_ohms;
        let n_f = noise_gain(r_f, sl.forward.column_sums(), &sl.gain_forward);
        offsets.tia_forward.push(volts(&lc.offset_forward, &n_f));
        offsets
            .error
            .push(lc.offset_error.iter().map(|o| o * v / 2.0).collect());
        if let Some(b) = &sl.backward {
            let n_b = noise_gain(
                sl.backward_feedback_resistance_ohms,
                b.sensed_sums(),
                &sl.gain_backward,
            );
            offsets.tia_backward.push(volts(&lc.offset_backward, &n_b));
        }
        if sl.layer < n_layers {
            offsets
                .integrator
                .push(lc.offset_integrator.iter().map(|o| o * v).collect());
        }
    }
    offsets
}

/// The initial state of the analog circuit for one sample: its feedforward pass (offsets and
/// finite gain included) as the hidden values `z0`, and the errors `e0` there (the error nodes'
/// state with tau_e > 0; else what the effective network's feedforward pass leaves).
fn initial_state(
    analog: &AnalogCircuit<f64>,
    network: &Network<f64>,
    x: &[f64],
    y: &[f64],
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let n_layers = network.n_layers();
    let state = analog.initial_state(x, y, 1);
    let layout = network.layout(1);
    let z0: Vec<Vec<f64>> = (1..n_layers)
        .map(|l| state[layout.range(l)].to_vec())
        .collect();
    let e0: Vec<Vec<f64>> = if analog.dynamic_errors() {
        let el = analog.error_layout(1);
        let e = &state[layout.len()..];
        (1..=n_layers).map(|l| e[el.range(l)].to_vec()).collect()
    } else {
        // Algebraic error nodes have no state; the feedforward pass makes the hidden ones
        // zero (without offsets) and leaves y - mu_L at the output.
        let (_, yhat) = network.feedforward(x, 1);
        let mut e0: Vec<Vec<f64>> = (1..n_layers)
            .map(|l| vec![0.0; network.widths()[l]])
            .collect();
        e0.push(y.iter().zip(&yhat).map(|(t, m)| t - m).collect());
        e0
    };
    (z0, e0)
}

impl SpiceDesign {
    /// Extracts sample `sample` of `built` (the mapping of `circuit`).
    pub fn new(circuit: &Circuit, built: &Built, sample: usize) -> Result<Self, SpiceError> {
        let batch = built.batch.size();
        if sample >= batch {
            return Err(SpiceError::Input(format!(
                "sample {sample} is out of range: the batch has {batch} samples (0..{})",
                batch.saturating_sub(1)
            )));
        }
        let arch = built.network.architecture().clone();
        let tia = TiaGain::of(circuit);
        let mut layers = Vec::with_capacity(arch.n_layers());
        let mut w_forward = Vec::with_capacity(arch.n_layers());
        let mut w_backward = Vec::with_capacity(arch.n_layers());
        for m in &built.mapped.layers {
            let (layer, wf, wb) = spice_layer(circuit, m, &arch, tia)?;
            layers.push(layer);
            w_forward.push(wf);
            w_backward.push(wb);
        }
        let network = Network::new(arch.clone(), w_forward)
            .and_then(|n| n.with_feedback(w_backward))
            .map_err(|e| SpiceError::Input(format!("the effective network: {e}")))?;
        let p = &circuit.periphery;
        let mut x: Vec<f64> = built.batch.x.column(sample).iter().copied().collect();
        p.dac.convert_all(&mut x);
        let y: Vec<f64> = built.batch.y.column(sample).iter().copied().collect();
        let analog = AnalogCircuit::from_design(circuit, &built.network, &built.mapped);
        let offsets = offsets_in_volts(&analog, &layers, circuit.crossbar.v_read_volts);
        let (z0, e0) = initial_state(&analog, &network, &x, &y);
        let lag0 = lag_outputs(&analog, &x, &y);
        let sim = sim_options(circuit).map_err(|e| e.to_string());
        Ok(SpiceDesign {
            name: circuit.name.clone(),
            widths: arch.widths.clone(),
            activation: arch.activation,
            v_read_volts: circuit.crossbar.v_read_volts,
            tau_z_seconds: circuit.dynamics.tau_z_seconds,
            tau_e_seconds: circuit.dynamics.tau_e_seconds,
            node_capacitance_farads: p.node_capacitance_farads,
            tia_gain: tia.gain,
            ideal_tias: tia.ideal,
            tile_rows: circuit.crossbar.rows,
            tile_cols: circuit.crossbar.cols,
            wire_resistance_ohms: circuit.crossbar.wire_resistance_ohms,
            wire_capacitance_farads: circuit.crossbar.wire_capacitance_farads,
            gain_bandwidth_hertz: p.gain_bandwidth_hertz,
            error_gain: analog.error_gain,
            lag0,
            rail_volts: p.rail_volts,
            layers,
            sample,
            x,
            y,
            z0,
            e0,
            window_seconds: circuit.dynamics.t_max_seconds,
            settle_tol: circuit.dynamics.settle_tol,
            steady_tol: circuit.dynamics.steady_tol,
            offsets,
            network,
            analog,
            sim,
        })
    }

    /// The loop of a TIA of feedback resistance `r_f` on lines of device conductance `g_sum`
    /// that hold `cells` cells each (the capacitance at its input, [`poles::TiaLoop`]), with
    /// the netlist's op-amp.
    pub fn tia_loop(&self, r_f: f64, g_sum: f64, cells: usize) -> poles::TiaLoop {
        let c_in = if self.wire_resistance_ohms > 0.0 {
            poles::sensed_line_capacitance(self.wire_capacitance_farads, cells)
        } else {
            0.0
        };
        poles::TiaLoop {
            gbw: self.gain_bandwidth_hertz,
            gain: (!self.ideal_tias).then_some(self.tia_gain),
            noise_gain: 1.0 + r_f * g_sum,
            r_f,
            c_in,
        }
    }

    /// The number of weight layers L.
    pub fn n_layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// Crossbar devices in the netlist: every G+ and G- of the forward arrays and of the
    /// backward arrays that are read (a shared backward read is a second instance of the
    /// forward devices, see the module documentation of [`super::netlist`]).
    pub fn devices(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.forward.devices() + l.backward.as_ref().map_or(0, BackwardArrays::devices))
            .sum()
    }

    /// Wire-segment resistors in the netlist: two per device (one on its row line, one on its
    /// column line) when the wire resistance is non-zero.
    pub fn wire_segments(&self) -> usize {
        if self.wire_resistance_ohms > 0.0 {
            2 * self.devices()
        } else {
            0
        }
    }
}
