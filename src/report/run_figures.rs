//! The figures of one `apcsim run`: how the circuit settled, its node voltages, power and
//! energy by component, and how its PC update aligns with BP. They are drawn from the design
//! and the simulation alone (and the run's gradient comparison), so that nothing here depends
//! on how a run is driven.

use super::{
    bar_chart, line_chart, line_chart_with_guides, stacked_area, Axis, Figure, Guide, Series,
};
use crate::analog::energy::{component_total, ByLayer};
use crate::analog::readout::ReadoutBands;
use crate::analog::{Component, Simulation};
use crate::config::Circuit;
use crate::network::Layout;

/// Per-layer cosine similarity of the PC update to BP, for the run's three comparisons.
#[derive(Clone, Copy, Debug)]
pub struct LayerAlignment<'a> {
    /// The ideal circuit (exact weights, equilibrium) against BP: the theory value.
    pub ideal_circuit: &'a [f64],
    /// The hardware's update against BP on the ideal weights.
    pub hardware_vs_bp_ideal: &'a [f64],
    /// The hardware's update against BP on its effective weights and converted inputs.
    pub hardware_vs_bp_effective: &'a [f64],
}

/// The run's figures, in the report's order.
pub fn run_figures(
    circuit: &Circuit,
    sim: &Simulation,
    bands: &ReadoutBands,
    alignment: LayerAlignment,
) -> Vec<Figure> {
    let mut out = Vec::new();
    let t = &sim.traces;
    if !t.samples.is_empty() && !t.time_seconds.is_empty() {
        out.push(settling_figure(circuit, sim, bands));
        out.extend(node_figures(circuit, sim));
    }
    if !t.power_watts.is_empty() {
        out.push(power_figure(sim));
    }
    if let Some(energy) = &sim.energy {
        out.push(energy_figure(sim, energy));
    }
    out.push(alignment_figure(alignment));
    out
}

fn time_us(sim: &Simulation) -> Vec<f64> {
    sim.traces.time_seconds.iter().map(|s| s * 1e6).collect()
}

fn time_axis() -> Axis {
    Axis::linear("time (µs)")
}

/// The value nodes of hidden layer `l` of the first traced sample at trace point `p`.
fn traced_nodes<'a>(circuit: &Circuit, sim: &'a Simulation, l: usize, p: usize) -> &'a [f64] {
    let n = circuit.architecture.widths[l];
    let k = sim.traces.samples.len();
    &sim.traces.z[l - 1][p * k * n..p * k * n + n]
}

/// How far the first traced sample's read-out quantities are from their final values, in units
/// of their readout bands: per hidden layer, the largest |phi(z_i) - phi(z_i final)| over its
/// nodes in units of the activation ADC's band, and per layer, the largest |e_j - e_j final| in
/// units of its error ADC's band, at every trace point. The sample has settled at the readout
/// once every curve stays at or below 1.
fn readout_distance(circuit: &Circuit, sim: &Simulation, bands: &ReadoutBands) -> Vec<Series> {
    let widths = &circuit.architecture.widths;
    let act = circuit.architecture.activation;
    let s = sim.traces.samples[0];
    let k = sim.traces.samples.len();
    let layout = Layout::new(widths, sim.batch);
    let us = time_us(sim);
    let phi = |z: &[f64]| {
        let mut out = vec![0.0; z.len()];
        act.apply(z, &mut out, None);
        out
    };
    let largest = |now: &[f64], last: &[f64], band: f64| {
        now.iter()
            .zip(last)
            .map(|(a, b)| (a - b).abs() / band)
            .fold(0.0, f64::max)
    };
    let mut out: Vec<Series> = (1..widths.len() - 1)
        .map(|l| {
            let n = widths[l];
            let last = phi(&sim.final_z[layout.range(l)][s * n..(s + 1) * n]);
            let y = (0..us.len())
                .map(|p| {
                    largest(
                        &phi(traced_nodes(circuit, sim, l, p)),
                        &last,
                        bands.activation,
                    )
                })
                .collect();
            Series::new(format!("phi(z_{l})"), us.clone(), y)
        })
        .collect();
    for l in 1..widths.len() {
        let n = widths[l];
        let last = &sim.final_e[l - 1][s * n..(s + 1) * n];
        let y = (0..us.len())
            .map(|p| {
                let e = &sim.traces.e[l - 1][p * k * n..p * k * n + n];
                largest(e, last, bands.error[l - 1])
            })
            .collect();
        out.push(Series::new(format!("e_{l}"), us.clone(), y));
    }
    out
}

fn settling_figure(circuit: &Circuit, sim: &Simulation, bands: &ReadoutBands) -> Figure {
    let s = sim.traces.samples[0];
    let mut guides = vec![Guide::Threshold {
        name: "band".into(),
        y: 1.0,
    }];
    let when = match (sim.steady, sim.readout_settling.get(s)) {
        (true, Some(r)) => {
            let old = sim.settling[s].time_seconds;
            guides.push(Guide::Event {
                name: format!("settled at the readout (sample {s})"),
                x: r.time_seconds * 1e6,
            });
            guides.push(Guide::Event {
                name: format!("settle_tol = {} met", circuit.dynamics.settle_tol),
                x: old * 1e6,
            });
            format!(
                "the vertical lines mark when sample {s} settled at the readout ({:.3} µs) and \
                 when its value nodes met dynamics.settle_tol = {} of their range ({:.3} µs)",
                r.time_seconds * 1e6,
                circuit.dynamics.settle_tol,
                old * 1e6
            )
        }
        _ => "the run did not settle within t_max".to_string(),
    };
    let noise = if circuit.dynamics.noisy {
        " The trace is the noisy trajectory, whose curves stay at the noise's level; the \
         settling is judged on the noise-free one."
    } else {
        ""
    };
    Figure::new(
        "convergence.svg",
        format!(
            "Largest distance of the read-out quantities of sample {s} from their final values \
             (phi(z) of each hidden layer at its ADC, the errors e of each layer at theirs), in \
             units of their readout bands ({} LSB of the converter that reads them). A sample \
             has settled at the readout once every curve stays below 1 (the dashed horizontal \
             line); {when}.{noise}",
            circuit.periphery.readout_band_lsb
        ),
        line_chart_with_guides(
            "Settling at the readout: distance from the final value / band",
            &time_axis(),
            &Axis::log("distance / band"),
            &readout_distance(circuit, sim, bands),
            &guides,
        ),
    )
}

/// The voltages of the first few value nodes of every hidden layer, one figure per layer.
fn node_figures(circuit: &Circuit, sim: &Simulation) -> Vec<Figure> {
    let t = &sim.traces;
    let widths = &circuit.architecture.widths;
    let us = time_us(sim);
    let millivolts = circuit.crossbar.v_read_volts * 1e3;
    (1..widths.len() - 1)
        .map(|l| {
            let shown = widths[l].min(4);
            let series: Vec<Series> = (0..shown)
                .map(|i| {
                    let y = (0..us.len())
                        .map(|p| traced_nodes(circuit, sim, l, p)[i] * millivolts)
                        .collect();
                    Series::new(format!("node {i}"), us.clone(), y)
                })
                .collect();
            Figure::new(
                format!("settling_layer_{l}.svg"),
                format!(
                    "Value-node voltages of layer {l} (the first {shown} nodes, sample {}).",
                    t.samples[0]
                ),
                line_chart(
                    &format!("Layer {l}: value nodes"),
                    &time_axis(),
                    &Axis::linear("voltage (mV)"),
                    &series,
                ),
            )
        })
        .collect()
}

fn power_figure(sim: &Simulation) -> Figure {
    let power = &sim.traces.power_watts;
    // Stacked: the supply's components (the device Joule heat is a part of the drivers').
    let comps: Vec<(String, Vec<f64>)> = Component::SUPPLY
        .iter()
        .filter(|c| power.iter().any(|p| p[c.index()] > 0.0))
        .map(|c| {
            let mw = power.iter().map(|p| p[c.index()] * 1e3).collect();
            (c.name().replace('_', " "), mw)
        })
        .collect();
    Figure::new(
        "power.svg",
        format!(
            "Power drawn by the whole batch ({} circuits) over time, by component.",
            sim.batch
        ),
        stacked_area(
            "Power by component",
            &time_axis(),
            &Axis::linear("power (mW)"),
            &time_us(sim),
            &comps,
        ),
    )
}

fn energy_figure(sim: &Simulation, energy: &ByLayer) -> Figure {
    let b = sim.batch as f64;
    let cats: Vec<String> = (1..=energy.len()).map(|l| format!("layer {l}")).collect();
    let groups: Vec<(String, Vec<f64>)> = Component::SUPPLY
        .iter()
        .filter(|c| component_total(energy, **c) > 0.0)
        .map(|c| {
            let nj = energy.iter().map(|l| l[c.index()] / b * 1e9).collect();
            (c.name().replace('_', " "), nj)
        })
        .collect();
    Figure::new(
        "energy.svg",
        format!(
            "Energy per sample over the inference window ({:.3} µs), by layer and component.",
            sim.window_seconds * 1e6
        ),
        bar_chart(
            "Energy per sample",
            &Axis::linear("energy (nJ)"),
            &cats,
            &groups,
            true,
        ),
    )
}

fn alignment_figure(a: LayerAlignment) -> Figure {
    let cats: Vec<String> = (0..a.ideal_circuit.len())
        .map(|l| format!("W{l}"))
        .collect();
    Figure::new(
        "alignment.svg",
        "Cosine similarity of the PC update to BP per layer: the ideal circuit (theory), and the \
         hardware against BP on the ideal and on the effective weights.",
        bar_chart(
            "Gradient alignment per layer",
            &Axis::linear("cosine similarity"),
            &cats,
            &[
                ("ideal circuit".into(), a.ideal_circuit.to_vec()),
                (
                    "hardware vs BP (ideal W)".into(),
                    a.hardware_vs_bp_ideal.to_vec(),
                ),
                (
                    "hardware vs BP (effective W)".into(),
                    a.hardware_vs_bp_effective.to_vec(),
                ),
            ],
            false,
        ),
    )
}
