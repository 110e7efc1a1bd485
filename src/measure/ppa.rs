//! Power, performance and area of one run (report.json's `ppa`, the terminal summary's PPA table,
//! report.html): supply-side energy per inference by component, silicon area by part and layer,
//! throughput, TOPS/W, TOPS/mm^2 and the energy-delay product.
//!
//! Operations are counted as HERMES counts them (Le Gallo et al., Nature Electronics 2023): 2
//! operations (a multiply and an add) per multiply-accumulate, one multiply-accumulate per
//! weight per read; an inference reads every layer forward and every layer but the first
//! backward once. The latency is the settling time of the batch's slowest sample (the inference
//! window), as apcsim measures it today: not an end-to-end figure (no conversion, readout or
//! feedforward time), and one inference at a time (no pipelining).

use super::report::{circuit_macs, AreaParts, ByComponent, PpaReport};
use crate::analog::energy::{component_total, total, ByLayer};
use crate::analog::{Component, EnergyModel, Simulation};
use crate::config::Circuit;
use crate::design::Built;
use crate::hardware::area::{layer_area, LayerHardware};

/// What the ops are and what the latency is, as report.json states it.
pub const CONVENTION: &str = "2 ops per multiply-accumulate, one multiply-accumulate per weight \
                              per read (forward and backward reads), as HERMES counts; latency \
                              = settling time of the slowest sample, one inference at a time";

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

impl PpaReport {
    /// The PPA of `sim` on the design `circuit` as `built`, with the counts of `model`.
    pub fn of(circuit: &Circuit, built: &Built, sim: &Simulation, model: &EnergyModel) -> Self {
        let empty = ByLayer::new();
        let energy = sim.energy.as_ref().unwrap_or(&empty);
        let b = sim.batch as f64;
        let e = total(energy) / b;
        let ops = 2 * circuit_macs(&circuit.architecture.widths);
        let by_layer: Vec<AreaParts> = built
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
            .collect();
        let sum = |f: fn(&AreaParts) -> f64| by_layer.iter().map(f).sum::<f64>();
        let area = AreaParts::of([sum(|a| a.cells), sum(|a| a.adc), sum(|a| a.dac)]);
        let latency = sim.window_seconds;
        let tops = ops as f64 / latency / 1e12;
        PpaReport {
            convention: CONVENTION.into(),
            technology: circuit.periphery.technology.name.into(),
            cell: circuit.crossbar.cell.name.into(),
            ops_per_inference: ops,
            latency_seconds: latency,
            energy_per_inference_joules: e,
            energy_by_component_joules: ByComponent(
                Component::ALL.map(|c| component_total(energy, c) / b),
            ),
            area_square_meters: area,
            area_by_layer_square_meters: by_layer,
            tops,
            tops_per_watt: ops as f64 / e / 1e12,
            tops_per_square_millimeter: tops / (area.total * 1e6),
            energy_delay_product_joule_seconds: e * latency,
        }
    }

    /// The PPA table of the terminal summary and report.html: (quantity, value) rows, with the
    /// energy by component or without.
    pub fn rows(&self, with_components: bool) -> Vec<[String; 2]> {
        use crate::numeric::format::si;
        let mut rows = vec![
            ["latency (settling)".into(), si(self.latency_seconds, "s")],
            [
                "energy / inference".into(),
                si(self.energy_per_inference_joules, "J"),
            ],
        ];
        for c in Component::ALL {
            let v = self.energy_by_component_joules.get(c);
            if with_components && v != 0.0 {
                let name = if c.is_supply() {
                    format!("  {}", c.name())
                } else {
                    format!("  ({}, part of the drivers')", c.name())
                };
                rows.push([name, si(v, "J")]);
            }
        }
        let a = &self.area_square_meters;
        rows.extend([
            ["area".into(), format!("{:.4} mm2", a.total * 1e6)],
            ["  cells".into(), format!("{:.4} mm2", a.cells * 1e6)],
            ["  adc".into(), format!("{:.4} mm2", a.adc * 1e6)],
            ["  dac".into(), format!("{:.4} mm2", a.dac * 1e6)],
            ["ops / inference".into(), self.ops_per_inference.to_string()],
            ["TOPS".into(), format!("{:.4}", self.tops)],
            ["TOPS/W".into(), format!("{:.4}", self.tops_per_watt)],
            [
                "TOPS/mm2".into(),
                format!("{:.4}", self.tops_per_square_millimeter),
            ],
            [
                "EDP".into(),
                si(self.energy_delay_product_joule_seconds, "Js"),
            ],
        ]);
        rows
    }
}
