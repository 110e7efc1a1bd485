//! The ngspice netlist of one [`SpiceDesign`]: the circuit of docs/circuit-model.md, element by
//! element, in volts (`V = v_read x node value`) and seconds.
//!
//! # The circuit
//!
//! - **Inputs and targets**: DC voltage sources at `v_read x` (the DAC value) and `v_read y`.
//! - **Forward read of layer l**: row `i` of the G+ array is driven at `v_read phi(z_{l-1,i})`
//!   (a B source; on layer 1 the input source itself), row `i` of the G- array at the inverted
//!   voltage (a VCVS of gain -1), so that both arrays' column currents sum into one TIA per
//!   output: `I_j = sum_i (G+_ij - G-_ij) V_i`. Every device is a resistor `1/G` at its programmed
//!   value (a device of zero conductance is left out: an open circuit).
//! - **Wires** (when `crossbar.wire_resistance > 0`): each array is cut into the mapping's tiles,
//!   and each tile is the nodal network of [`crate::hardware::irdrop`]: row line `i` starts at
//!   its driver with one segment before every cell, column line `j` ends at its TIA with one
//!   segment after every cell, device `(i, j)` joins row node `a(i,j)` to column node `b(i,j)`;
//!   the row lines' far ends and the column lines' tops are open. Tiles along a row share the
//!   driver; tiles stacked in a column end on the same TIA input.
//! - **TIAs** (forward, and backward for hidden nodes): an op-amp macro-model, a VCVS of gain
//!   `A` (`periphery.open_loop_gain`, or [`super::design::IDEAL_OPEN_LOOP_GAIN`] when ideal)
//!   from the inverting input, with `R_f` from output to input. Its output is
//!   `-R_f I A / (A + N)`, `N = 1 + R_f G_sum`: the model's `-v_read c p`.
//! - **Error amplifiers**: a B source forms `eps_l = z_l - s_l z_{l-1} - p_l` (on layer L,
//!   `y - p_L`), plus twice its input offset; with `tau_e > 0` an RC low-pass of time constant
//!   `tau_e` follows (`tau_e de/dt = eps - e`), with `tau_e = 0` the B source's output is `e`.
//! - **Backward read of layer l** (errors of layer l onto hidden layer l-1): the lines of
//!   output `j` driven at `+-lambda_l v_read e_{l,j}` (VCVS), the lines of input `i` into the
//!   backward TIA of node `i`. Separate backward arrays (`outputs x inputs`) are wired as the
//!   forward ones: rows driven, columns sensed. With `backward = "shared"` the backward arrays
//!   are a second instance of the forward arrays — the same devices, tiles and wire segments,
//!   `inputs x outputs` — read in reverse: column line `j` is driven at its bottom end (where
//!   the forward TIA sits) and row line `i` ends on the backward TIA's input at its left end
//!   (where the forward driver sits); tiles stacked in a column share the column's driver,
//!   tiles along a row end on the same backward TIA. A continuous-time netlist cannot
//!   time-share one array between two reads, hence the second instance; by reciprocity it
//!   applies the transpose of the forward read's effective matrix, which is what
//!   [`crate::hardware::mapping`] uses for a shared read.
//! - **Multiplier**: a B source `v_read phi'(z) q`.
//! - **Integrators**: a Miller integrator — input resistor `1/g_m` (`g_m = C_z / tau_z`) into
//!   the inverting input of an op-amp VCVS of gain `A` (as the TIAs'), `C_z` from output to
//!   input — driven by a B source at minus the model's drive `d`, so that
//!   `tau_z (1 + 1/A) dz/dt = d - z / A` with `d = -e_l + s_{l+1} lambda_{l+1} e_{l+1} +
//!   phi'(z_l) q_l + o^z`: the model's leaky integrator ([`crate::analog::amplifier`]).
//! - **Poles** (`periphery.gain_bandwidth`): each TIA's and integrator's op-amp is the VCVS of
//!   gain `A` into a resistor and capacitor of time constant `tau_a = A / (2 pi GBW)`, read
//!   through a unity buffer; the error amplifier's B source (scaled by its closed-loop gain
//!   `A / (A + 2)`) drives an RC of its closed-loop time constant `c_e 2 / (2 pi GBW)`, buffered,
//!   before the `tau_e` low-pass ([`crate::analog::poles`]). Each capacitor starts at its
//!   amplifier's output at rest.
//! - **Wire capacitance** (`crossbar.wire_capacitance`, with wires): a capacitor to ground at
//!   every row and column node of the ladders, starting at the node's voltage at rest (the DC
//!   solution of its tile, [`super::ladder`]), and across each TIA's `R_f` the feedback
//!   capacitor that damps its loop critically ([`crate::analog::poles::TiaLoop`]; none
//!   without a gain-bandwidth), starting at `V_- - V_o` at rest.
//! - **Offsets**: a DC source in series with the non-inverting input of each TIA (sign chosen
//!   so that `p` gains `+o^f`, which the noise gain `N` multiplies); the error amplifier's
//!   (doubled) and the integrator's enter their B sources, as the model writes them. (An
//!   offset source at the integrator op-amp's input would also shift its output by `V_os`,
//!   which the model's `z` does not have, and its virtual ground away from the capacitor's
//!   initial condition, which ngspice's `uic` start does not resolve.)
//! - **Initial conditions**: `IC=` on every capacitor (the feedforward pass: hidden errors zero)
//!   and `uic` on `.tran`, so ngspice starts from that state without an operating point.
//! - **Rails** are not exported (the netlist's amplifiers are linear); a design whose run reaches
//!   them differs from its netlist there. The `.control` block writes the TIA outputs (`fo`,
//!   `bo`) along with every value and error node, so that `spice-check` can tell when a run
//!   would clip any of them.
//!
//! Noise sources are not exported: the netlist is deterministic, one batch sample per netlist.
//!
//! # Reference
//!
//! ngspice User's Manual (version 39): §3.2.4 (`.func`), §4.2.2 (capacitors, `IC=`), §5.2.2
//! (VCVS `E`), §5.1 (B sources, expressions, the ternary operator), §15.1.4 (transient
//! options `RELTOL`, `ABSTOL`, `VNTOL`, `CHGTOL`, `TRTOL`, `METHOD`), §15.3.9 (`.tran ... uic`),
//! §17.5.98 (`wrdata`) and §17.7 (`wr_singlescale`, `wr_vecnames`, `numdgt`).

use super::design::{ArrayPair, BackwardArrays, SpiceDesign, SpiceLayer};
use super::trajectory::NodeKind;
use crate::analog::poles::TiaLoop;
use crate::network::Activation;
use nalgebra::DMatrix;
use std::fmt::Write as _;

/// ngspice's transient tolerances and step limits.
#[derive(Clone, Debug, PartialEq)]
pub struct Tolerances {
    /// Relative tolerance of voltages, currents and the truncation-error test.
    pub reltol: f64,
    /// Absolute current tolerance (amperes).
    pub abstol: f64,
    /// Absolute voltage tolerance (volts).
    pub vntol: f64,
    /// Charge tolerance of the truncation-error test (coulombs).
    pub chgtol: f64,
    /// Factor by which ngspice's truncation-error estimate is trusted (ngspice default 7).
    pub trtol: f64,
    /// Integration method: `gear` (BDF, order up to 2) or `trap`.
    pub method: &'static str,
}

impl Default for Tolerances {
    /// Tight enough that ngspice's own error is far below what the comparison resolves: node
    /// voltages are ~0.1 V and the comparison looks for 1e-4 relative, i.e. ~1e-5 V, so
    /// `vntol = 1e-10` V and `reltol = 1e-7` leave four decades; the integrator charges are
    /// `C_z V` ~ 1e-14 C, so ngspice's default `chgtol` (1e-14) would let the step-size control
    /// ignore them: 1e-22. `trtol = 1` trusts the truncation estimate as it is.
    fn default() -> Self {
        Tolerances {
            reltol: 1e-7,
            abstol: 1e-16,
            vntol: 1e-10,
            chgtol: 1e-22,
            trtol: 1.0,
            method: "gear",
        }
    }
}

/// How the netlist is written.
#[derive(Clone, Debug, PartialEq)]
pub struct NetlistOptions {
    /// The `.tran` step (and largest internal step) is the window over this many points.
    pub points: usize,
    pub tolerances: Tolerances,
    /// Base name of the data files `wrdata` writes (in ngspice's working directory).
    pub data_file: String,
    /// Vectors per data file (one `wrdata` each).
    pub vectors_per_file: usize,
}

impl Default for NetlistOptions {
    fn default() -> Self {
        NetlistOptions {
            points: 2000,
            tolerances: Tolerances::default(),
            data_file: "apcsim_spice".to_string(),
            vectors_per_file: 64,
        }
    }
}

/// One column of a data file: which node it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub kind: NodeKind,
    /// 1-based layer.
    pub layer: usize,
    pub node: usize,
}

/// A data file and the probes of its columns (after the time column).
#[derive(Clone, Debug, PartialEq)]
pub struct DataFile {
    pub file: String,
    pub probes: Vec<Probe>,
}

/// A written netlist.
#[derive(Clone, Debug, PartialEq)]
pub struct Netlist {
    pub text: String,
    /// The files the `.control` block writes, in order.
    pub data_files: Vec<DataFile>,
    /// Resistors standing for crossbar devices (zero-conductance devices are left out).
    pub device_resistors: usize,
    /// Wire-segment resistors.
    pub wire_resistors: usize,
}

/// A number as ngspice reads it, exactly (Rust's shortest round-trip form).
fn num(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else {
        format!("{x:e}")
    }
}

/// The node of value `node` of hidden layer `l`.
pub fn value_node(l: usize, node: usize) -> String {
    format!("z{l}_{node}")
}

/// The node of error `node` of layer `l`.
pub fn error_node(l: usize, node: usize) -> String {
    format!("e{l}_{node}")
}

/// The output of the forward TIA of output `node` of layer `l` (`-v_read p`).
pub fn forward_tia_node(l: usize, node: usize) -> String {
    format!("fo{l}_{node}")
}

/// The output of the backward TIA of node `node` of hidden layer `h` (`-v_read q`).
pub fn backward_tia_node(h: usize, node: usize) -> String {
    format!("bo{h}_{node}")
}

/// The netlist node a probe reads.
pub fn probe_node(p: &Probe) -> String {
    match p.kind {
        NodeKind::Value => value_node(p.layer, p.node),
        NodeKind::Error => error_node(p.layer, p.node),
        NodeKind::ForwardTia => forward_tia_node(p.layer, p.node),
        NodeKind::BackwardTia => backward_tia_node(p.layer, p.node),
    }
}

/// `phi` and `phi'` as ngspice functions of the node value (not the voltage).
fn activation_functions(act: Activation) -> (&'static str, &'static str) {
    match act {
        Activation::Linear => ("u", "1"),
        Activation::Tanh => ("tanh(u)", "1-tanh(u)*tanh(u)"),
        Activation::Sigmoid => ("1/(1+exp(-u))", "exp(-u)/((1+exp(-u))*(1+exp(-u)))"),
        // The derivatives at the kinks follow the core (JAX): relu'(0) = 0, hard_tanh'(+-1) = 1.
        Activation::Relu => ("max(u,0)", "u > 0 ? 1 : 0"),
        Activation::HardTanh => ("max(-1,min(1,u))", "(u >= -1 && u <= 1) ? 1 : 0"),
        Activation::Silu => (
            "u/(1+exp(-u))",
            "1/(1+exp(-u)) + u*exp(-u)/((1+exp(-u))*(1+exp(-u)))",
        ),
    }
}

/// Writes the netlist of `design`.
pub fn write_netlist(design: &SpiceDesign, opts: &NetlistOptions) -> Netlist {
    let mut w = Writer {
        s: String::new(),
        devices: 0,
        wires: 0,
    };
    w.header(design);
    w.sources(design);
    for layer in &design.layers {
        w.layer(design, layer);
    }
    w.integrators(design);
    w.analysis(design, opts);
    let data_files = w.control(design, opts);
    Netlist {
        text: w.s,
        data_files,
        device_resistors: w.devices,
        wire_resistors: w.wires,
    }
}

/// The nodes `wrdata` writes, in order: values, errors, forward TIA outputs (which the rails
/// of a run clip like any node, and the netlist has none), backward TIA outputs.
fn probes(d: &SpiceDesign) -> Vec<Probe> {
    let n_layers = d.n_layers();
    let mut probes = Vec::new();
    let mut probe_layer = |kind: NodeKind, layer: usize| {
        probes.extend((0..d.widths[layer]).map(|node| Probe { kind, layer, node }));
    };
    for h in 1..n_layers {
        probe_layer(NodeKind::Value, h);
    }
    for l in 1..=n_layers {
        probe_layer(NodeKind::Error, l);
    }
    for l in 1..=n_layers {
        probe_layer(NodeKind::ForwardTia, l);
    }
    for h in (1..n_layers).filter(|&h| d.layers[h].backward.is_some()) {
        probe_layer(NodeKind::BackwardTia, h);
    }
    probes
}

/// `" + x"` (or `" - x"` with `minus`) for a non-zero term, nothing for zero.
fn term(minus: bool, x: f64) -> String {
    match (x == 0.0, minus) {
        (true, _) => String::new(),
        (false, false) => format!(" + {}", num(x)),
        (false, true) => format!(" - {}", num(x)),
    }
}

/// The capacitor of a `tau_e > 0` error amplifier's low-pass (its resistor is `tau_e / C`); the
/// node is read only by controlled sources, so the value only sets the resistor's scale.
pub const ERROR_CAPACITANCE_FARADS: f64 = 1e-12;

struct Writer {
    s: String,
    devices: usize,
    wires: usize,
}

impl Writer {
    fn line(&mut self, text: &str) {
        self.s.push_str(text);
        self.s.push('\n');
    }

    /// The title line, the design in comments, and `phi`, `phi'` as functions.
    fn header(&mut self, d: &SpiceDesign) {
        self.line(&format!(
            "apcsim netlist of {} (sample {})",
            sanitize(&d.name),
            d.sample
        ));
        self.line(&format!(
            "* apcsim {} export-spice; widths {:?}, {}, v_read {} V, tau_z {} s, tau_e {} s, C_z {} F",
            env!("CARGO_PKG_VERSION"),
            d.widths,
            d.activation,
            num(d.v_read_volts),
            num(d.tau_z_seconds),
            num(d.tau_e_seconds),
            num(d.node_capacitance_farads)
        ));
        self.line(&format!(
            "* tiles {}x{}, wire {} ohm per segment; TIA open-loop gain {}{}; {} crossbar devices",
            d.tile_rows,
            d.tile_cols,
            num(d.wire_resistance_ohms),
            num(d.tia_gain),
            if d.ideal_tias { " (ideal)" } else { "" },
            d.devices()
        ));
        if let Some(gbw) = d.gain_bandwidth_hertz {
            self.line(&format!(
                "* single-pole amplifiers, gain-bandwidth {} Hz; error-amplifier gain {}",
                num(gbw),
                num(d.error_gain)
            ));
        }
        if d.wire_capacitance_farads > 0.0 {
            self.line(&format!(
                "* wire capacitance {} F per segment",
                num(d.wire_capacitance_farads)
            ));
        }
        if let Some(r) = d.rail_volts {
            self.line(&format!("* rails +-{} V are not exported", num(r)));
        }
        self.line("* node values are voltages V = v_read x value; see docs/circuit-model.md");
        let (phi, dphi) = activation_functions(d.activation);
        self.line(&format!(".func phi(u) {{{phi}}}"));
        self.line(&format!(".func dphi(u) {{{dphi}}}"));
    }

    /// The inputs (DAC values, and their inversions) and the targets.
    fn sources(&mut self, d: &SpiceDesign) {
        let v = d.v_read_volts;
        self.line("* inputs (DAC values) and targets");
        for (i, &x) in d.x.iter().enumerate() {
            self.line(&format!("Vx{i} x{i} 0 DC {}", num(v * x)));
            self.line(&format!("Exn{i} xn{i} 0 x{i} 0 -1"));
        }
        for (j, &y) in d.y.iter().enumerate() {
            self.line(&format!("Vy{j} y{j} 0 DC {}", num(v * y)));
        }
    }

    /// Weight layer l: its forward read and TIAs, its error amplifiers, and the backward read
    /// of its errors.
    fn layer(&mut self, d: &SpiceDesign, layer: &SpiceLayer) {
        let l = layer.layer;
        self.line(&format!(
            "* ---- layer {l}: {} -> {}, R_f {} ohm{}",
            layer.inputs,
            layer.outputs,
            num(layer.feedback_resistance_ohms),
            if layer.skip { ", skip" } else { "" }
        ));
        self.forward_read(d, layer);
        for j in 0..layer.outputs {
            self.error_amplifier(d, layer, j);
        }
        if let Some(back) = &layer.backward {
            self.backward_read(d, layer, back);
        }
    }

    /// The forward drivers of layer l (layer 1 is driven by the inputs themselves), its arrays
    /// and its TIAs.
    fn forward_read(&mut self, d: &SpiceDesign, layer: &SpiceLayer) {
        let (l, v) = (layer.layer, d.v_read_volts);
        if l >= 2 {
            for i in 0..layer.inputs {
                self.line(&format!(
                    "Bfp{l}_{i} fp{l}_{i} 0 V = {}*phi(V({})/{})",
                    num(v),
                    value_node(l - 1, i),
                    num(v)
                ));
                self.line(&format!("Efm{l}_{i} fm{l}_{i} 0 fp{l}_{i} 0 -1"));
            }
        }
        let drive_plus = |i: usize| {
            if l == 1 {
                format!("x{i}")
            } else {
                format!("fp{l}_{i}")
            }
        };
        let drive_minus = |i: usize| {
            if l == 1 {
                format!("xn{i}")
            } else {
                format!("fm{l}_{i}")
            }
        };
        let sum_f = |j: usize| format!("fs{l}_{j}");
        let out0 = |j: usize| d.lag0.forward.get(l - 1).map_or(0.0, |p| -v * p[j]);
        let vos = |j: usize| d.offsets.tia_forward[l - 1][j];
        let sensed_ic = |j: usize| sensed_rest(d, vos(j), out0(j));
        // The rows' voltages at t = 0, for the wires' capacitors.
        let drive_ic = |i: usize| {
            let u = if l == 1 {
                d.x[i]
            } else {
                d.activation.value(d.z0[l - 2][i])
            };
            v * u
        };
        self.array(
            &format!("f{l}"),
            &layer.forward,
            (&drive_plus, &drive_minus, &drive_ic),
            (&sum_f, &sensed_ic),
            Read::Forward,
            d,
        );
        let g_sum = layer.forward.column_sums();
        for j in 0..layer.outputs {
            let r_f = layer.feedback_resistance_ohms;
            let tia = d.tia_loop(r_f, g_sum[j], layer.inputs);
            self.tia(&format!("f{l}_{j}"), (r_f, tia), (d, out0(j)), vos(j));
        }
    }

    /// The error amplifier of output `j` of layer l, with its low-pass when `tau_e > 0`.
    fn error_amplifier(&mut self, d: &SpiceDesign, layer: &SpiceLayer, j: usize) {
        let l = layer.layer;
        let target = if l == d.n_layers() {
            format!("V(y{j})")
        } else {
            format!("V({})", value_node(l, j))
        };
        let skip = if layer.skip {
            format!(" - V({})", value_node(l - 1, j))
        } else {
            String::new()
        };
        let os = term(false, 2.0 * d.offsets.error[l - 1][j]);
        let mut expr = format!("{target}{skip} + V({}){os}", forward_tia_node(l, j));
        if d.error_gain != 1.0 {
            // The difference amplifier's closed loop, A / (A + 2).
            expr = format!("{}*({expr})", num(d.error_gain));
        }
        let e = error_node(l, j);
        if let Some(gbw) = d.gain_bandwidth_hertz {
            self.error_stage(d, (l, j), &expr, gbw);
            expr = format!("V(eg{l}_{j})");
            if d.tau_e_seconds == 0.0 {
                self.line(&format!("Ee{l}_{j} {e} 0 eg{l}_{j} 0 1"));
                return;
            }
        }
        if d.tau_e_seconds > 0.0 {
            let c_e = ERROR_CAPACITANCE_FARADS;
            self.line(&format!("Bea{l}_{j} ea{l}_{j} 0 V = {expr}"));
            self.line(&format!(
                "Rea{l}_{j} ea{l}_{j} {e} {}",
                num(d.tau_e_seconds / c_e)
            ));
            self.line(&format!(
                "Cea{l}_{j} {e} 0 {} IC={}",
                num(c_e),
                num(d.v_read_volts * d.e0[l - 1][j])
            ));
        } else {
            self.line(&format!("Be{l}_{j} {e} 0 V = {expr}"));
        }
    }

    /// The error amplifier's stage with its pole (the closed loop's time constant
    /// `c_e 2 / (2 pi GBW)`, [`crate::analog::poles`]): a B source at its closed-loop output
    /// `expr` through an RC low-pass to node `eg{l}_{j}`, read through a unity buffer.
    fn error_stage(&mut self, d: &SpiceDesign, (l, j): (usize, usize), expr: &str, gbw: f64) {
        let gain = (!d.ideal_tias).then_some(d.tia_gain);
        let tau = crate::analog::poles::closed_loop_time_constant(gbw, gain, 2.0);
        let c = ERROR_CAPACITANCE_FARADS;
        let a0 = d.lag0.error.get(l - 1).map_or(0.0, |a| a[j]);
        self.line(&format!("Bga{l}_{j} ga{l}_{j} 0 V = {expr}"));
        self.line(&format!("Rga{l}_{j} ga{l}_{j} gc{l}_{j} {}", num(tau / c)));
        self.line(&format!(
            "Cga{l}_{j} gc{l}_{j} 0 {} IC={}",
            num(c),
            num(d.v_read_volts * a0)
        ));
        self.line(&format!("Ega{l}_{j} eg{l}_{j} 0 gc{l}_{j} 0 1"));
    }

    /// The backward read of layer l's errors onto layer l-1: drivers, arrays, TIAs.
    fn backward_read(&mut self, d: &SpiceDesign, layer: &SpiceLayer, back: &BackwardArrays) {
        let l = layer.layer;
        let h = l - 1;
        let lam = layer.precision;
        for j in 0..layer.outputs {
            let e = error_node(l, j);
            self.line(&format!("Ebp{l}_{j} bp{l}_{j} 0 {e} 0 {}", num(lam)));
            self.line(&format!("Ebm{l}_{j} bm{l}_{j} 0 {e} 0 {}", num(-lam)));
        }
        let dp = |j: usize| format!("bp{l}_{j}");
        let dm = |j: usize| format!("bm{l}_{j}");
        let sum_b = |i: usize| format!("bs{h}_{i}");
        let (pair, read) = match back {
            BackwardArrays::Separate(pair) => (pair, Read::Forward),
            BackwardArrays::Shared(pair) => (pair, Read::Reverse),
        };
        let v = d.v_read_volts;
        let drive_ic = |j: usize| v * lam * d.e0[l - 1][j];
        let out0 = |i: usize| d.lag0.backward.get(h - 1).map_or(0.0, |q| -v * q[i]);
        let vos = |i: usize| d.offsets.tia_backward[h - 1][i];
        let sensed_ic = |i: usize| sensed_rest(d, vos(i), out0(i));
        self.array(
            &format!("b{l}"),
            pair,
            (&dp, &dm, &drive_ic),
            (&sum_b, &sensed_ic),
            read,
            d,
        );
        let g_sum = back.sensed_sums();
        for i in 0..layer.inputs {
            let r_f = layer.backward_feedback_resistance_ohms;
            let tia = d.tia_loop(r_f, g_sum[i], layer.outputs);
            self.tia(&format!("b{h}_{i}"), (r_f, tia), (d, out0(i)), vos(i));
        }
    }

    /// The multipliers and Miller integrators of the hidden layers.
    fn integrators(&mut self, d: &SpiceDesign) {
        let r_in = d.tau_z_seconds / d.node_capacitance_farads;
        for h in 1..d.n_layers() {
            self.line(&format!(
                "* ---- value nodes of layer {h}: Miller integrators, g_m = C_z / tau_z = {} S",
                num(1.0 / r_in)
            ));
            for i in 0..d.widths[h] {
                self.integrator(d, h, i, r_in);
            }
        }
    }

    /// The multiplier and the Miller integrator of node `i` of hidden layer `h`.
    fn integrator(&mut self, d: &SpiceDesign, h: usize, i: usize, r_in: f64) {
        let v = d.v_read_volts;
        let next = &d.layers[h];
        let coupling = if next.skip { next.precision } else { 0.0 };
        let z = value_node(h, i);
        self.line(&format!(
            "Bmq{h}_{i} mq{h}_{i} 0 V = -dphi(V({z})/{})*V({})",
            num(v),
            backward_tia_node(h, i)
        ));
        let skip = if coupling != 0.0 {
            format!(" - {}*V({})", num(coupling), error_node(h + 1, i))
        } else {
            String::new()
        };
        // The integrator's input offset enters its drive, as the model writes it (an offset
        // source at the op-amp's input would also shift the output by V_os).
        let os = term(true, d.offsets.integrator[h - 1][i]);
        self.line(&format!(
            "Bzd{h}_{i} zd{h}_{i} 0 V = V({}){skip} - V(mq{h}_{i}){os}",
            error_node(h, i)
        ));
        self.line(&format!("Rzi{h}_{i} zd{h}_{i} zn{h}_{i} {}", num(r_in)));
        // The capacitor holds V(zn) - V(z) = -v_read z0 (1 + 1/A): the op-amp's input sits at
        // -V(z) / A.
        self.line(&format!(
            "Cz{h}_{i} zn{h}_{i} {z} {} IC={}",
            num(d.node_capacitance_farads),
            num(-v * d.z0[h - 1][i] * (1.0 + 1.0 / d.tia_gain))
        ));
        // The design's open-loop gain: its leak is the model's (crate::analog::amplifier).
        self.opamp(
            d,
            &format!("z{h}_{i}"),
            (&z, "0", &format!("zn{h}_{i}")),
            v * d.z0[h - 1][i],
        );
    }

    /// An op-amp of the design's open-loop gain `A` from `plus - minus` to `out`, named by
    /// `tag`: a VCVS, or with a gain-bandwidth product a VCVS into the RC of its pole
    /// (`tau_a = A / (2 pi GBW)`) read through a unity buffer; `out0` is its output at t = 0.
    fn opamp(
        &mut self,
        d: &SpiceDesign,
        tag: &str,
        (out, plus, minus): (&str, &str, &str),
        out0: f64,
    ) {
        let a = d.tia_gain;
        let Some(gbw) = d.gain_bandwidth_hertz else {
            self.line(&format!("E{tag} {out} 0 {plus} {minus} {}", num(a)));
            return;
        };
        let tau_a = a / (2.0 * std::f64::consts::PI * gbw);
        let r = OPAMP_POLE_OHMS;
        self.line(&format!("E{tag} pa{tag} 0 {plus} {minus} {}", num(a)));
        self.line(&format!("Rp{tag} pa{tag} pc{tag} {}", num(r)));
        self.line(&format!(
            "Cp{tag} pc{tag} 0 {} IC={}",
            num(tau_a / r),
            num(out0)
        ));
        self.line(&format!("Eb{tag} {out} 0 pc{tag} 0 1"));
    }

    /// The transient options and the `.tran` line.
    fn analysis(&mut self, d: &SpiceDesign, opts: &NetlistOptions) {
        let t = &opts.tolerances;
        let tstep = d.window_seconds / opts.points.max(1) as f64;
        self.line("* ---- analysis");
        self.line(&format!(
            ".options reltol={} abstol={} vntol={} chgtol={} trtol={} method={}",
            num(t.reltol),
            num(t.abstol),
            num(t.vntol),
            num(t.chgtol),
            num(t.trtol),
            t.method
        ));
        self.line(&format!(
            ".tran {} {} 0 {} uic",
            num(tstep),
            num(d.window_seconds),
            num(tstep)
        ));
    }

    /// The `.control` block: run, then one `wrdata` per data file; returns the data files.
    fn control(&mut self, d: &SpiceDesign, opts: &NetlistOptions) -> Vec<DataFile> {
        let mut data_files = Vec::new();
        self.line(".control");
        self.line("set wr_singlescale");
        self.line("set wr_vecnames");
        self.line("option numdgt=17");
        self.line("run");
        for (k, chunk) in probes(d).chunks(opts.vectors_per_file.max(1)).enumerate() {
            let file = format!("{}.{k}.txt", opts.data_file);
            let mut cmd = format!("wrdata {file}");
            for p in chunk {
                let _ = write!(cmd, " v({})", probe_node(p));
            }
            self.line(&cmd);
            data_files.push(DataFile {
                file,
                probes: chunk.to_vec(),
            });
        }
        self.line("quit 0");
        self.line(".endc");
        self.line(".end");
        data_files
    }

    /// A DC source for an amplifier's input offset, or ground when it is zero; returns the node.
    fn offset_source(&mut self, node: &str, volts: f64) -> String {
        if volts == 0.0 {
            "0".to_string()
        } else {
            self.line(&format!("V{node} {node} 0 DC {}", num(volts)));
            node.to_string()
        }
    }

    /// A TIA: op-amp VCVS of gain `gain` from input `{x}s{id}` to output `{x}o{id}` (`tag` is
    /// `{x}{id}`), `R_f` in feedback, and its input offset `vos` in series with the
    /// non-inverting input, with the sign that adds `+o` to the model's `p` or `q` (the output
    /// is `-v_read p`).
    fn tia(
        &mut self,
        tag: &str,
        (r_f, tia): (f64, TiaLoop),
        (d, out0): (&SpiceDesign, f64),
        vos: f64,
    ) {
        let (x, id) = tag.split_at(1);
        let plus = self.offset_source(&format!("os{tag}"), -vos);
        self.line(&format!("R{x}f{id} {x}s{id} {x}o{id} {}", num(r_f)));
        // The feedback capacitor that damps a loop with line capacitance critically
        // ([`crate::analog::poles::TiaLoop`]), across R_f at rest.
        let c_f = tia.feedback_capacitance();
        if c_f > 0.0 {
            self.line(&format!(
                "C{x}f{id} {x}s{id} {x}o{id} {} IC={}",
                num(c_f),
                num(sensed_rest(d, vos, out0) - out0)
            ));
        }
        let (out, minus) = (format!("{x}o{id}"), format!("{x}s{id}"));
        self.opamp(d, &format!("{x}f{id}"), (&out, &plus, &minus), out0);
    }

    /// Both arrays of a pair: `tag` names them, `plus`/`minus` give the driver node of each of
    /// the driven lines, `sum` the TIA input of each of the sensed lines; `read` says which lines
    /// are which.
    fn array(
        &mut self,
        tag: &str,
        pair: &ArrayPair,
        (plus, minus, ic): DriveLines<'_>,
        (sum, sum_ic): SensedLines<'_>,
        read: Read,
        d: &SpiceDesign,
    ) {
        for (half, g, drive, sign) in [
            ("p", &pair.plus, plus, 1.0),
            ("m", &pair.minus, minus, -1.0),
        ] {
            let tag = format!("{tag}{half}");
            let ic = |k: usize| sign * ic(k);
            match read {
                Read::Forward => self.tiles(&tag, g, (drive, sum), (&ic, sum_ic), d),
                Read::Reverse => self.tiles(&tag, g, (sum, drive), (sum_ic, &ic), d),
            }
        }
    }

    /// One array, tile by tile, with the wire geometry of [`crate::hardware::irdrop`]: row line
    /// `i` starts at node `row_end(i)` (its left end), column line `j` ends at node
    /// `col_end(j)` (its bottom end), whichever of the two drives; `row_ic`, `col_ic` are
    /// those ends' voltages at t = 0.
    fn tiles(
        &mut self,
        tag: &str,
        g: &DMatrix<f64>,
        (row_end, col_end): (&dyn Fn(usize) -> String, &dyn Fn(usize) -> String),
        (row_ic, col_ic): (&dyn Fn(usize) -> f64, &dyn Fn(usize) -> f64),
        d: &SpiceDesign,
    ) {
        let r = d.wire_resistance_ohms;
        let c = d.wire_capacitance_farads;
        // Each wire node's capacitor starts at the node's voltage at rest ([`super::ladder`]).
        let cap = |w: &mut Self, node: String, volts: f64| {
            if c > 0.0 {
                w.line(&format!("C{node} {node} 0 {} IC={}", num(c), num(volts)));
            }
        };
        let (n, m) = g.shape();
        let a = |i: usize, j: usize| format!("{tag}r{i}_{j}");
        let b = |i: usize, j: usize| format!("{tag}c{i}_{j}");
        for r0 in (0..n).step_by(d.tile_rows.max(1)) {
            let r1 = (r0 + d.tile_rows).min(n);
            for c0 in (0..m).step_by(d.tile_cols.max(1)) {
                let c1 = (c0 + d.tile_cols).min(m);
                let (va, vb) = if r > 0.0 && c > 0.0 {
                    let tile = g.view((r0, c0), (r1 - r0, c1 - c0)).clone_owned();
                    let left: Vec<f64> = (r0..r1).map(row_ic).collect();
                    let bottom: Vec<f64> = (c0..c1).map(col_ic).collect();
                    super::ladder::rest_voltages(&tile, r, &left, &bottom)
                } else {
                    (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0))
                };
                for i in r0..r1 {
                    for j in c0..c1 {
                        let gij = g[(i, j)];
                        if r == 0.0 {
                            if gij > 0.0 {
                                self.line(&format!(
                                    "R{tag}d{i}_{j} {} {} {}",
                                    row_end(i),
                                    col_end(j),
                                    num(1.0 / gij)
                                ));
                                self.devices += 1;
                            }
                            continue;
                        }
                        let before = if j == c0 { row_end(i) } else { a(i, j - 1) };
                        let after = if i + 1 == r1 { col_end(j) } else { b(i + 1, j) };
                        self.line(&format!("R{tag}r{i}_{j} {before} {} {}", a(i, j), num(r)));
                        self.line(&format!("R{tag}c{i}_{j} {} {after} {}", b(i, j), num(r)));
                        self.wires += 2;
                        if c > 0.0 {
                            cap(self, a(i, j), va[(i - r0, j - c0)]);
                            cap(self, b(i, j), vb[(i - r0, j - c0)]);
                        }
                        if gij > 0.0 {
                            self.line(&format!(
                                "R{tag}d{i}_{j} {} {} {}",
                                a(i, j),
                                b(i, j),
                                num(1.0 / gij)
                            ));
                            self.devices += 1;
                        }
                    }
                }
            }
        }
    }
}

/// The resistance of an op-amp macro-model's pole (its capacitor is `tau_a / R`).
const OPAMP_POLE_OHMS: f64 = 1e3;

/// The driven lines of a pair: each line's driver node for the G+ and the G- array, and the
/// G+ line's voltage at t = 0 (the G- line's is its negative).
type DriveLines<'a> = (
    &'a dyn Fn(usize) -> String,
    &'a dyn Fn(usize) -> String,
    &'a dyn Fn(usize) -> f64,
);

/// The sensed lines of a pair: each line's TIA input node, and its voltage at rest.
type SensedLines<'a> = (&'a dyn Fn(usize) -> String, &'a dyn Fn(usize) -> f64);

/// The voltage at rest of the inverting input of a TIA of input offset `vos` whose output
/// sits at `out0`: `V_+ - V_o / A`, with `V_+ = -vos` (the offset source).
fn sensed_rest(d: &SpiceDesign, vos: f64, out0: f64) -> f64 {
    -vos - out0 / d.tia_gain
}

/// Which lines of an array a read drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Read {
    /// Rows driven at their left ends, columns sensed at their bottom ends.
    Forward,
    /// Columns driven at their bottom ends, rows sensed at their left ends.
    Reverse,
}

/// A design name safe for the title line (no line breaks or control characters).
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
