//! The supply-side energy of one inference (docs/circuit-model.md, "Supply-side energy"): every
//! driver and amplifier draws its current from a rail at V_dd, so a component's energy is the
//! integral of V_dd |I| over the inference; the bias of every amplifier; the charge the
//! integrators put on the node capacitors; and every DAC and ADC conversion. The device Joule
//! heat sum G V^2 is reported beside them as the part of the drivers' energy the arrays
//! dissipate, not added to the total.
//!
//! # Reference
//! Joule heat of a crossbar read with columns at virtual ground: sum_ij G_ij V_i^2 (e.g.
//! NeuroSim, Chen et al., IEEE TCAD 37 (2018), the array read energy); a class-AB output stage
//! between +-V_dd draws V_dd |I_out| from its supplies whichever way the current flows (Sansen,
//! "Analog Design Essentials", Springer 2006, ch. 7); conversion energies per sample as in
//! NeuroSim and ISAAC (Shafiee et al., ISCA 2016), priced by the periphery table
//! ([`crate::hardware::technology`]).

use super::circuit::AnalogCircuit;
use crate::hardware::digital::CorePrices;
use crate::hardware::params::{CrossbarParams, PeripheryParams};
use crate::hardware::technology::{AmplifierBias, AmplifierNeeds};
use crate::network::Activation;
use crate::numeric::Real;
use serde::Serialize;

/// What draws energy from the supply, and (last) the part of it the devices dissipate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Row drivers of the forward reads, both polarities (rows of G+ at +v_read phi(z), rows of
    /// G- at -v_read phi(z)): V_dd |V_i| (G+ + G-) on each row.
    CrossbarForward,
    /// Line drivers of the backward reads (output lines at v_read lambda e), both polarities.
    CrossbarBackward,
    /// Trans-impedance amplifiers of both directions: bias, and the output stage sourcing the
    /// line current through R_f, V_dd |I_line|.
    Tia,
    /// Error amplifiers (bias).
    ErrorAmplifiers,
    /// Value-node integrators (bias).
    Integrators,
    /// Activation, derivative and multiplier circuits (bias).
    Activation,
    /// The integrators' output stages charging the node capacitors, V_dd C_z |dV| along the
    /// noise-free trajectory.
    Capacitors,
    /// Input and target conversions.
    Dac,
    /// Read-out conversions for the weight update.
    Adc,
    /// The core's digital side (src/hardware/digital.rs): the converters' registers, clocked
    /// while they convert, and per value the buffer, the local scaling and the network hop.
    Core,
    /// Joule heat of the devices, sum G V^2 of both reads: a part of the drivers' energy, not
    /// a supply term.
    DeviceJouleHeat,
}

impl Component {
    /// Every component: the supply's, then the device Joule heat.
    pub const ALL: [Component; Self::COUNT] = {
        let mut all = [Component::DeviceJouleHeat; Self::COUNT];
        let mut i = 0;
        while i < Self::SUPPLY.len() {
            all[i] = Self::SUPPLY[i];
            i += 1;
        }
        all
    };
    pub const COUNT: usize = 11;
    /// The components that draw from the supply: their sum is the energy.
    pub const SUPPLY: [Component; 10] = [
        Component::CrossbarForward,
        Component::CrossbarBackward,
        Component::Tia,
        Component::ErrorAmplifiers,
        Component::Integrators,
        Component::Activation,
        Component::Capacitors,
        Component::Dac,
        Component::Adc,
        Component::Core,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Component::CrossbarForward => "crossbar_forward",
            Component::CrossbarBackward => "crossbar_backward",
            Component::Tia => "tia",
            Component::ErrorAmplifiers => "error_amplifiers",
            Component::Integrators => "integrators",
            Component::Activation => "activation",
            Component::Capacitors => "capacitors",
            Component::Dac => "dac",
            Component::Adc => "adc",
            Component::Core => "core",
            Component::DeviceJouleHeat => "device_joule_heat",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the component draws from the supply (all but the device Joule heat).
    pub fn is_supply(self) -> bool {
        self != Component::DeviceJouleHeat
    }
}

/// Per layer, per component: index `[layer - 1][component]`.
pub type ByLayer = Vec<[f64; Component::COUNT]>;

/// The supply-side sum of one layer's (or one step's) components.
pub fn supply_sum(e: &[f64; Component::COUNT]) -> f64 {
    Component::SUPPLY.iter().map(|c| e[c.index()]).sum()
}

/// Prices and counts of one design.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergyModel {
    pub v_read_volts: f64,
    pub supply_volts: f64,
    pub node_capacitance_farads: f64,
    /// Bias power of one amplifier of each kind: TIA, error amplifier, integrator, activation.
    pub amplifier_power_watts: [f64; 4],
    pub dac_energy_joules: f64,
    pub adc_energy_joules: f64,
    /// The core's digital side per DAC and per ADC conversion (joules): the register over the
    /// conversion time, the buffer, the scaling and the network hop.
    pub core_joules: [f64; 2],
    /// Amplifiers per layer: (TIAs, error amplifiers, integrators, activation circuits).
    pub amplifiers: Vec<[usize; 4]>,
    /// Conversions per sample per layer: (DAC, ADC).
    pub conversions: Vec<[usize; 2]>,
}

impl EnergyModel {
    /// Counts every amplifier and conversion of a network of `widths` with `activation` on
    /// tiles of `c`; the amplifiers' bias is the design's, or the periphery table's for value
    /// nodes of time constant `tau_z_seconds` and devices at `temperature_kelvin`.
    pub fn new(
        widths: &[usize],
        activation: Activation,
        c: &CrossbarParams,
        p: &PeripheryParams,
        (tau_z_seconds, temperature_kelvin): (f64, f64),
    ) -> Self {
        let l_out = widths.len() - 1;
        let nonlinear = activation != Activation::Linear;
        let amplifiers = (1..=l_out)
            .map(|l| {
                let tia = widths[l] + if l >= 2 { widths[l - 1] } else { 0 };
                let integ = if l < l_out { widths[l] } else { 0 };
                // phi, phi' and the multiplier phi' q; a linear node needs none of them.
                let act = if l < l_out && nonlinear {
                    3 * widths[l]
                } else {
                    0
                };
                [tia, widths[l], integ, act]
            })
            .collect();
        let conversions = (1..=l_out)
            .map(|l| {
                let dac =
                    if l == 1 { widths[0] } else { 0 } + if l == l_out { widths[l] } else { 0 };
                // e_l and phi(z_{l-1}); the inputs are digital already.
                let adc = widths[l] + if l >= 2 { widths[l - 1] } else { 0 };
                [dac, adc]
            })
            .collect();
        let core = CorePrices::of(p, c).per_conversion([p.dac_time_seconds, p.adc_time_seconds]);
        EnergyModel {
            v_read_volts: c.v_read_volts,
            supply_volts: p.supply_volts,
            node_capacitance_farads: p.node_capacitance_farads,
            amplifier_power_watts: amplifier_bias(p, tau_z_seconds, temperature_kelvin).watts,
            dac_energy_joules: p.dac.energy_joules,
            adc_energy_joules: p.adc.energy_joules,
            core_joules: core,
            amplifiers,
            conversions,
        }
    }

    /// Static power per layer and component of one sample's circuit (watts).
    pub fn static_power(&self) -> ByLayer {
        self.amplifiers
            .iter()
            .map(|c| {
                let mut p = [0.0; Component::COUNT];
                let a = &self.amplifier_power_watts;
                p[Component::Tia.index()] = c[0] as f64 * a[0];
                p[Component::ErrorAmplifiers.index()] = c[1] as f64 * a[1];
                p[Component::Integrators.index()] = c[2] as f64 * a[2];
                p[Component::Activation.index()] = c[3] as f64 * a[3];
                p
            })
            .collect()
    }

    /// Conversion energy per layer and component of `samples` inferences (joules).
    pub fn conversion_energy(&self, samples: usize) -> ByLayer {
        self.conversions
            .iter()
            .map(|c| {
                let mut e = [0.0; Component::COUNT];
                e[Component::Dac.index()] = (c[0] * samples) as f64 * self.dac_energy_joules;
                e[Component::Adc.index()] = (c[1] * samples) as f64 * self.adc_energy_joules;
                e[Component::Core.index()] = self.core_energy((c[0] * samples, c[1] * samples));
                e
            })
            .collect()
    }

    /// The core's digital side of `dacs` DAC and `adcs` ADC conversions (joules).
    pub fn core_energy(&self, (dacs, adcs): (usize, usize)) -> f64 {
        dacs as f64 * self.core_joules[0] + adcs as f64 * self.core_joules[1]
    }

    /// Adds the supply power of the reads (watts, summed over the `b` samples) of the state
    /// whose activations and error-node outputs are `phi` (hidden layers) and `err` (layers
    /// 1..L), with inputs `x`, TIA outputs `pred` (layers 1..L) and backward products `back`
    /// (hidden layers), into `out`: the drivers' V_dd |I|, the TIAs' output stages V_dd |I_line|
    /// and the devices' Joule heat G V^2.
    pub fn add_read_power<T: Real>(
        &self,
        circ: &AnalogCircuit<T>,
        s: ReadState<'_, T>,
        out: &mut ByLayer,
    ) {
        let (vdd, v) = (self.supply_volts, self.v_read_volts);
        for (idx, lc) in circ.layers.iter().enumerate() {
            let input: &[T] = if idx == 0 { s.x } else { &s.phi[idx - 1] };
            let fwd = line_sums(input, &lc.row_conductance_forward, 1.0);
            let o = &mut out[idx];
            o[Component::CrossbarForward.index()] += vdd * v * fwd.abs_sum;
            o[Component::DeviceJouleHeat.index()] += v * v * fwd.square_sum;
            // The TIA's output sources the line current I = v_read p / R_f through R_f.
            let g_f = 1.0 / lc.feedback_resistance_ohms;
            o[Component::Tia.index()] += vdd * v * g_f * abs_sum(&s.pred[idx]);
            // Layer 1 has no backward read: its inputs are clamped.
            if idx >= 1 {
                let lam = lc.precision.to_f64();
                let bwd = line_sums(&s.err[idx], &lc.line_conductance_backward, lam);
                o[Component::CrossbarBackward.index()] += vdd * v * bwd.abs_sum;
                o[Component::DeviceJouleHeat.index()] += v * v * bwd.square_sum;
                o[Component::Tia.index()] += vdd * v * g_f * abs_sum(&s.back[idx - 1]);
            }
        }
    }

    /// Charge drawn by the node capacitors over a step from `z0` to `z1` (joules, summed over
    /// the samples), per layer, into `out`: V_dd C_z |dV| per node.
    pub fn add_capacitor_energy<T: Real>(
        &self,
        ranges: &[std::ops::Range<usize>],
        z0: &[T],
        z1: &[T],
        out: &mut ByLayer,
    ) {
        let k = self.supply_volts * self.node_capacitance_farads * self.v_read_volts;
        for (idx, r) in ranges.iter().enumerate() {
            let tv: f64 = z0[r.clone()]
                .iter()
                .zip(&z1[r.clone()])
                .map(|(&a, &b)| (b.to_f64() - a.to_f64()).abs())
                .sum();
            out[idx][Component::Capacitors.index()] += k * tv;
        }
    }
}

/// The capacitor charge of a noise-free pass, `charge[i]` drawn over the step from `times[i]`
/// to `times[i + 1]` (steps of any length), moved onto `n_end` steps of `dt` from t = 0 (a noisy
/// pass's grid): each step's charge spread over the grid steps it overlaps, in proportion to
/// the overlap; what lies beyond the grid goes to its last step, and the grid's steps after the
/// pass (steady) draw none.
pub fn charge_on_grid(charge: &[ByLayer], times: &[f64], dt: f64, n_end: usize) -> Vec<ByLayer> {
    let Some(first) = charge.first() else {
        return Vec::new();
    };
    let mut out = vec![vec![[0.0; Component::COUNT]; first.len()]; n_end.max(1)];
    let last = out.len() - 1;
    for (i, q) in charge.iter().enumerate() {
        let (a, b) = (times[i], times[i + 1]);
        let k0 = ((a / dt) as usize).min(last);
        let k1 = (((b / dt).ceil() as usize).max(k0 + 1)).min(last + 1);
        for (k, slot) in out.iter_mut().enumerate().take(k1).skip(k0) {
            let (lo, hi) = (a.max(k as f64 * dt), b.min((k + 1) as f64 * dt));
            let share = match (k, b > a) {
                (_, false) => 1.0 / (k1 - k0) as f64,
                (k, true) if k == last => (b - lo) / (b - a),
                _ => ((hi - lo) / (b - a)).max(0.0),
            };
            for (o, v) in slot.iter_mut().zip(q) {
                for (oc, vc) in o.iter_mut().zip(v) {
                    *oc += share * vc;
                }
            }
        }
    }
    out
}

/// Sum over layers of one component.
pub fn component_total(e: &ByLayer, c: Component) -> f64 {
    e.iter().map(|l| l[c.index()]).sum()
}

/// Supply-side sum over components of one layer.
pub fn layer_total(e: &ByLayer, layer: usize) -> f64 {
    supply_sum(&e[layer - 1])
}

/// The supply-side energy of everything (the device Joule heat is a part of it, not added).
pub fn total(e: &ByLayer) -> f64 {
    e.iter().map(supply_sum).sum()
}

/// The state a read's power is evaluated at: inputs, activations (hidden layers), error-node
/// outputs and TIA outputs (layers 1..L), backward products (hidden layers).
#[derive(Clone, Copy)]
pub struct ReadState<'a, T: Real> {
    pub x: &'a [T],
    pub phi: &'a [Vec<T>],
    pub err: &'a [Vec<T>],
    pub pred: &'a [Vec<T>],
    pub back: &'a [Vec<T>],
}

/// sum |u| G and sum u^2 G over the columns of `values` (lines fastest), u = `gain` x value.
struct LineSums {
    abs_sum: f64,
    square_sum: f64,
}

fn line_sums<T: Real>(values: &[T], conductance: &[f64], gain: f64) -> LineSums {
    let (mut abs_sum, mut square_sum) = (0.0, 0.0);
    for col in values.chunks_exact(conductance.len().max(1)) {
        for (&u, &g) in col.iter().zip(conductance) {
            let u = gain * u.to_f64();
            abs_sum += g * u.abs();
            square_sum += g * u * u;
        }
    }
    LineSums {
        abs_sum,
        square_sum,
    }
}

fn abs_sum<T: Real>(v: &[T]) -> f64 {
    v.iter().map(|u| u.to_f64().abs()).sum()
}

/// Bias power per amplifier kind: the design's, or the periphery table's gm/I_D model with the
/// node capacitance as the load.
fn amplifier_bias(
    p: &PeripheryParams,
    tau_z_seconds: f64,
    temperature_kelvin: f64,
) -> AmplifierBias {
    match p.amplifier_power_watts {
        Some(w) => AmplifierBias::uniform(w),
        None => AmplifierBias::from_needs(&AmplifierNeeds {
            supply_volts: p.supply_volts,
            load_farads: p.node_capacitance_farads,
            bandwidth_hertz: p.error_amp_bandwidth_hertz,
            tau_z_seconds,
            noise_volts_per_root_hertz: p.amplifier_noise_volts_per_root_hertz,
            temperature_kelvin,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steps [0, 0.3], [0.3, 1], [1, 2.5] drawing 1, 2 and 3 onto a grid of 1: the first two
    /// fall in grid step 0; the third spreads 2/3 and 1/3 over steps 1 and 2; nothing after.
    /// A grid that ends at 2 takes the part beyond into its last step.
    #[test]
    fn charge_moves_onto_the_grid_by_time() {
        let c = Component::Capacitors.index();
        let step = |q: f64| {
            let mut e = [0.0; Component::COUNT];
            e[c] = q;
            vec![e]
        };
        let charge = [step(1.0), step(2.0), step(3.0)];
        let times = [0.0, 0.3, 1.0, 2.5];
        let got: Vec<f64> = charge_on_grid(&charge, &times, 1.0, 4)
            .iter()
            .map(|s| s[0][c])
            .collect();
        let want = [3.0, 2.0, 1.0, 0.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        let short: Vec<f64> = charge_on_grid(&charge, &times, 1.0, 2)
            .iter()
            .map(|s| s[0][c])
            .collect();
        assert!((short[0] - 3.0).abs() < 1e-12 && (short[1] - 3.0).abs() < 1e-12);
    }
}
