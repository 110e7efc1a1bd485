//! The energy model of one inference (docs/design.md §2, docs/circuit-model.md): what every component
//! of every layer draws, as power at a state of the circuit (crossbar Joule heat, static
//! amplifier power, capacitor charging) and as energy per event (DAC and ADC conversions).
//!
//! # Reference
//! Joule heat of a crossbar read with columns at virtual ground: sum_ij G_ij V_i^2 (e.g.
//! NeuroSim, Chen et al., IEEE TCAD 37 (2018), the array read energy); conversion energies per
//! sample as in NeuroSim and ISAAC (Shafiee et al., ISCA 2016).

use super::circuit::AnalogCircuit;
use crate::hardware::params::PeripheryParams;
use crate::network::Activation;
use crate::numeric::Real;
use serde::Serialize;

/// What draws energy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Joule heat of the forward reads (rows driven at v_read phi(z)).
    CrossbarForward,
    /// Joule heat of the backward reads (output lines driven at v_read lambda e).
    CrossbarBackward,
    /// Trans-impedance amplifiers of both directions (static power).
    Tia,
    /// Error amplifiers (static power).
    ErrorAmplifiers,
    /// Value-node integrators (static power).
    Integrators,
    /// Activation, derivative and multiplier circuits (static power).
    Activation,
    /// Charge drawn from the supply by the node capacitors.
    Capacitors,
    /// Input and target conversions.
    Dac,
    /// Read-out conversions for the weight update.
    Adc,
}

impl Component {
    pub const ALL: [Component; 9] = [
        Component::CrossbarForward,
        Component::CrossbarBackward,
        Component::Tia,
        Component::ErrorAmplifiers,
        Component::Integrators,
        Component::Activation,
        Component::Capacitors,
        Component::Dac,
        Component::Adc,
    ];
    pub const COUNT: usize = 9;

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
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Per layer, per component: index `[layer - 1][component]`.
pub type ByLayer = Vec<[f64; Component::COUNT]>;

/// Prices and counts of one design.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergyModel {
    pub v_read_volts: f64,
    pub supply_volts: f64,
    pub node_capacitance_farads: f64,
    pub amplifier_power_watts: f64,
    pub dac_energy_joules: f64,
    pub adc_energy_joules: f64,
    /// Amplifiers per layer: (TIAs, error amplifiers, integrators, activation circuits).
    pub amplifiers: Vec<[usize; 4]>,
    /// Conversions per sample per layer: (DAC, ADC).
    pub conversions: Vec<[usize; 2]>,
}

impl EnergyModel {
    /// Counts every amplifier and conversion of a network of `widths` with `activation`.
    pub fn new(
        widths: &[usize],
        activation: Activation,
        v_read_volts: f64,
        p: &PeripheryParams,
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
        EnergyModel {
            v_read_volts,
            supply_volts: p.supply_volts,
            node_capacitance_farads: p.node_capacitance_farads,
            amplifier_power_watts: p.amplifier_power_watts,
            dac_energy_joules: p.dac.energy_joules,
            adc_energy_joules: p.adc.energy_joules,
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
                p[Component::Tia.index()] = c[0] as f64 * self.amplifier_power_watts;
                p[Component::ErrorAmplifiers.index()] = c[1] as f64 * self.amplifier_power_watts;
                p[Component::Integrators.index()] = c[2] as f64 * self.amplifier_power_watts;
                p[Component::Activation.index()] = c[3] as f64 * self.amplifier_power_watts;
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
                e
            })
            .collect()
    }

    /// Adds the crossbar Joule heat (watts, summed over the `b` samples) of the state whose
    /// activations and error-node outputs are `phi` (hidden layers) and `err` (layers 1..L),
    /// with inputs `x`, into `out`.
    pub fn add_crossbar_power<T: Real>(
        &self,
        circ: &AnalogCircuit<T>,
        x: &[T],
        phi: &[Vec<T>],
        err: &[Vec<T>],
        out: &mut ByLayer,
    ) {
        let v2 = self.v_read_volts * self.v_read_volts;
        for (idx, lc) in circ.layers.iter().enumerate() {
            let input: &[T] = if idx == 0 { x } else { &phi[idx - 1] };
            let mut fwd = 0.0;
            for col in input.chunks_exact(lc.inputs) {
                for (&u, &g) in col.iter().zip(&lc.row_conductance_forward) {
                    let u = u.to_f64();
                    fwd += g * u * u;
                }
            }
            out[idx][Component::CrossbarForward.index()] += v2 * fwd;
            // Layer 1 has no backward read: its inputs are clamped.
            if idx >= 1 {
                let lam = lc.precision.to_f64();
                let mut bwd = 0.0;
                for col in err[idx].chunks_exact(lc.outputs) {
                    for (&e, &g) in col.iter().zip(&lc.line_conductance_backward) {
                        let u = lam * e.to_f64();
                        bwd += g * u * u;
                    }
                }
                out[idx][Component::CrossbarBackward.index()] += v2 * bwd;
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

/// Sum over layers of one component.
pub fn component_total(e: &ByLayer, c: Component) -> f64 {
    e.iter().map(|l| l[c.index()]).sum()
}

/// Sum over components of one layer.
pub fn layer_total(e: &ByLayer, layer: usize) -> f64 {
    e[layer - 1].iter().sum()
}

/// Sum of everything.
pub fn total(e: &ByLayer) -> f64 {
    e.iter().flat_map(|l| l.iter()).sum()
}
