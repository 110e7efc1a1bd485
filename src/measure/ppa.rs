//! Power, performance and area of one run (report.json's `ppa`, the terminal summary's PPA table,
//! report.html), for PC relaxation and for feedforward mode on the same hardware: end-to-end
//! latency by phase, pipelined throughput, supply-side energy per inference by component,
//! silicon area by part and layer, TOPS, TOPS/W, TOPS/mm^2 and the energy-delay product
//! (docs/circuit-model.md, "Latency and throughput").
//!
//! Operations are counted as HERMES counts them (Le Gallo et al., Nature Electronics 2023): 2
//! operations (a multiply and an add) per multiply-accumulate, one multiply-accumulate per
//! weight per read. PC reads every layer forward and every layer but the first backward once;
//! feedforward reads every layer forward once.
//!
//! Latency. PC: the DACs convert the inputs (all in parallel), the layers are read in turn
//! through the analog chain, the circuit relaxes (the settling window of the slowest sample),
//! and the ADCs convert and read out. Feedforward: each layer converts its inputs, is read and
//! converts its outputs. When inputs stream, every stage that holds its result (the DACs'
//! input registers, the ADCs' sample-and-hold) works on another inference: feedforward takes
//! a new input every max(DAC + read, ADC); PC's relaxation holds every layer, so it takes one
//! every max(DAC + reads + relaxation, ADC).

use super::report::{circuit_macs, AreaParts, ByComponent, LatencyPhases, ModePpa, PpaReport};
use crate::analog::energy::{component_total, total, ByLayer};
use crate::analog::feedforward::{
    feedforward_energy, pc_feedforward_phase_energy, FeedforwardPass,
};
use crate::analog::{Component, EnergyModel, Simulation};
use crate::config::{Circuit, RunMode};
use crate::design::Built;
use crate::hardware::area::{layer_area, LayerHardware};
use crate::hardware::latency::StageTimes;

/// What the ops are and what the latency is, as report.json states it.
pub const CONVENTION: &str = "2 ops per multiply-accumulate, one multiply-accumulate per weight \
                              per read (PC: forward and backward reads; feedforward: forward \
                              reads), as HERMES counts; latency end to end (DAC, feedforward \
                              reads, relaxation, ADC conversion and readout); TOPS when inputs \
                              stream (pipelined)";

impl AreaParts {
    fn of(a: [f64; 3]) -> Self {
        AreaParts {
            cells: a[0],
            adc: a[1],
            dac: a[2],
            total: a.iter().sum(),
        }
    }
}

/// Multiply-accumulates of one forward read of every layer per sample.
pub fn forward_macs(widths: &[usize]) -> usize {
    widths.windows(2).map(|p| p[0] * p[1]).sum()
}

/// PC's end-to-end latency on `layers` weight layers that relax for `relaxation_seconds`.
pub fn pc_phases(t: &StageTimes, layers: usize, relaxation_seconds: f64) -> LatencyPhases {
    LatencyPhases {
        dac: t.dac,
        feedforward: layers as f64 * t.read,
        relaxation: relaxation_seconds,
        adc: t.adc,
    }
}

/// The feedforward mode's end-to-end latency on `layers` weight layers: each converts, is
/// read and converts.
pub fn feedforward_phases(t: &StageTimes, layers: usize) -> LatencyPhases {
    let l = layers as f64;
    LatencyPhases {
        dac: l * t.dac,
        feedforward: l * t.read,
        relaxation: 0.0,
        adc: l * t.adc,
    }
}

impl LatencyPhases {
    pub fn total(&self) -> f64 {
        self.dac + self.feedforward + self.relaxation + self.adc
    }
}

/// The PPA of one mode from its latency, pipeline interval, energy of the batch and ops.
fn mode_ppa(
    phases: LatencyPhases,
    interval: f64,
    (energy, batch): (&ByLayer, usize),
    ops: usize,
    area_square_meters: f64,
) -> ModePpa {
    let b = batch as f64;
    let e = total(energy) / b;
    let latency = phases.total();
    let tops = ops as f64 / interval / 1e12;
    ModePpa {
        ops_per_inference: ops,
        latency_seconds: latency,
        latency_by_phase_seconds: phases,
        pipeline_interval_seconds: interval,
        energy_per_inference_joules: e,
        energy_by_component_joules: ByComponent(
            Component::ALL.map(|c| component_total(energy, c) / b),
        ),
        tops,
        tops_per_watt: ops as f64 / e / 1e12,
        tops_per_square_millimeter: tops / (area_square_meters * 1e6),
        energy_delay_product_joule_seconds: e * latency,
    }
}

/// Adds `b` into `a`, layer by layer and component by component.
fn add(a: &ByLayer, b: &ByLayer) -> ByLayer {
    a.iter()
        .zip(b)
        .map(|(x, y)| std::array::from_fn(|i| x[i] + y[i]))
        .collect()
}

impl PpaReport {
    /// The PPA of `sim` on the design `circuit` as `built`, with the counts of `model` and the
    /// feedforward pass `pass`.
    pub fn of(
        circuit: &Circuit,
        built: &Built,
        sim: &Simulation,
        (model, pass): (&EnergyModel, &FeedforwardPass),
    ) -> Self {
        let widths = &circuit.architecture.widths;
        let layers = widths.len() - 1;
        let by_layer = area_by_layer(circuit, built, model);
        let sum = |f: fn(&AreaParts) -> f64| by_layer.iter().map(f).sum::<f64>();
        let area = AreaParts::of([sum(|a| a.cells), sum(|a| a.adc), sum(|a| a.dac)]);
        let t = StageTimes::of(&circuit.periphery);
        let ff_energy = feedforward_energy(model, pass, &t);
        let feedforward = mode_ppa(
            feedforward_phases(&t, layers),
            (t.dac + t.read).max(t.adc),
            (&ff_energy, pass.batch),
            2 * forward_macs(widths),
            area.total,
        );
        let relaxation = (circuit.run.mode == RunMode::Pc).then(|| {
            let empty = ByLayer::new();
            let relaxed = sim.energy.as_ref().unwrap_or(&empty);
            let energy = add(relaxed, &pc_feedforward_phase_energy(model, pass, &t));
            let phases = pc_phases(&t, layers, sim.window_seconds);
            let interval = (phases.dac + phases.feedforward + phases.relaxation).max(t.adc);
            let ops = 2 * circuit_macs(widths);
            mode_ppa(phases, interval, (&energy, sim.batch), ops, area.total)
        });
        PpaReport {
            convention: CONVENTION.into(),
            technology: circuit.periphery.technology.name.into(),
            cell: circuit.crossbar.cell.name.into(),
            area_square_meters: area,
            area_by_layer_square_meters: by_layer,
            relaxation,
            feedforward,
        }
    }

    /// The PPA table of the terminal summary and report.html: (quantity, PC relaxation,
    /// feedforward) rows, with the energy by component or without.
    pub fn rows(&self, with_components: bool) -> Vec<[String; 3]> {
        use crate::numeric::format::si;
        let modes = [self.relaxation.as_ref(), Some(&self.feedforward)];
        let row = |name: &str, f: &dyn Fn(&ModePpa) -> String| -> [String; 3] {
            let cell = |m: Option<&ModePpa>| m.map_or_else(|| "-".to_string(), f);
            [name.to_string(), cell(modes[0]), cell(modes[1])]
        };
        let mut rows = vec![
            row("latency", &|m| si(m.latency_seconds, "s")),
            row("  dac", &|m| si(m.latency_by_phase_seconds.dac, "s")),
            row("  feedforward", &|m| {
                si(m.latency_by_phase_seconds.feedforward, "s")
            }),
            row("  relaxation", &|m| {
                si(m.latency_by_phase_seconds.relaxation, "s")
            }),
            row("  adc + readout", &|m| {
                si(m.latency_by_phase_seconds.adc, "s")
            }),
            row("pipeline interval", &|m| {
                si(m.pipeline_interval_seconds, "s")
            }),
            row("energy / inference", &|m| {
                si(m.energy_per_inference_joules, "J")
            }),
        ];
        for c in Component::ALL {
            let any = modes
                .iter()
                .flatten()
                .any(|m| m.energy_by_component_joules.get(c) != 0.0);
            if with_components && any {
                let name = if c.is_supply() {
                    format!("  {}", c.name())
                } else {
                    format!("  ({}, part of the drivers')", c.name())
                };
                rows.push(row(&name, &|m| {
                    si(m.energy_by_component_joules.get(c), "J")
                }));
            }
        }
        let a = &self.area_square_meters;
        let same = |v: String| -> [String; 3] { [String::new(), v.clone(), v] };
        for (name, v) in [
            ("area", a.total),
            ("  cells", a.cells),
            ("  adc", a.adc),
            ("  dac", a.dac),
        ] {
            let mut r = same(format!("{:.4} mm2", v * 1e6));
            r[0] = name.into();
            rows.push(r);
        }
        rows.extend([
            row("ops / inference", &|m| m.ops_per_inference.to_string()),
            row("TOPS", &|m| format!("{:.4}", m.tops)),
            row("TOPS/W", &|m| format!("{:.4}", m.tops_per_watt)),
            row("TOPS/mm2", &|m| {
                format!("{:.4}", m.tops_per_square_millimeter)
            }),
            row("EDP", &|m| si(m.energy_delay_product_joule_seconds, "Js")),
        ]);
        rows
    }
}

/// Area of each layer by part: its tiles, and one converter per conversion it makes.
fn area_by_layer(circuit: &Circuit, built: &Built, model: &EnergyModel) -> Vec<AreaParts> {
    built
        .mapped
        .layers
        .iter()
        .zip(&model.conversions)
        .map(|(m, c)| {
            let hw = LayerHardware {
                tiles: m.tiles(&circuit.crossbar),
                adcs: c[1],
                dacs: c[0],
            };
            AreaParts::of(layer_area(&hw, &circuit.crossbar, &circuit.periphery))
        })
        .collect()
}
