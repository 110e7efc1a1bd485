//! What the chip reads out for the update: when it has settled at its converters
//! ([`crate::analog::readout`]), the error ADCs' full scale per layer (gain ranging, calibrated on
//! the ideal network's equilibrium), and how many effective bits each layer's error readout has
//! (report.json's `readout`).

use super::report::{ReadoutReport, ReadoutSettlingReport, SettlingTimes};
use crate::analog::Simulation;
use crate::config::Circuit;
use crate::hardware::params::Converter;
use crate::hardware::periphery::{effective_bits, gain_ranged_full_scales, MAX_GAIN_SHIFT};
use crate::network::{Batch, Network};
use crate::numeric::format::si;
use std::fmt::Write as _;

/// Per layer, the error ADCs' full scale: the ADC's range, or with `periphery.error_ranging =
/// "per_layer"` the gain-ranged one that holds the layer's largest |e_l| at the ideal network's
/// equilibrium `z_ideal` on `batch`.
pub fn error_full_scales(
    circuit: &Circuit,
    net: &Network<f64>,
    batch: &Batch<f64>,
    z_ideal: &[f64],
) -> Vec<f64> {
    let adc = &circuit.periphery.adc;
    let l_out = net.n_layers();
    if !circuit.periphery.error_ranging {
        return vec![adc.range; l_out];
    }
    let mut ws = net.workspace(batch.size());
    net.compute_errors(batch.x.as_slice(), batch.y.as_slice(), z_ideal, &mut ws);
    let peaks: Vec<f64> = ws
        .errors()
        .iter()
        .map(|e| e.iter().fold(0.0f64, |m, v| m.max(v.abs())))
        .collect();
    gain_ranged_full_scales(adc.range, &peaks, MAX_GAIN_SHIFT)
}

/// The error readout's converters: the ADC at each layer's full scale.
pub fn error_converters(adc: &Converter, full_scale: &[f64]) -> Vec<Converter> {
    full_scale.iter().map(|&r| adc.with_range(r)).collect()
}

impl ReadoutReport {
    pub fn of(circuit: &Circuit, sim: &Simulation, full_scale: &[f64]) -> Self {
        let tau_z = circuit.dynamics.tau_z_seconds;
        let r = &sim.readout_settling;
        let times: Vec<f64> = r.iter().map(|s| s.time_seconds).collect();
        let worst = |f: &dyn Fn(&crate::analog::ReadoutSettling) -> f64| {
            r.iter().map(f).fold(0.0, f64::max)
        };
        let adc = &circuit.periphery.adc;
        // An ideal converter counted at its nominal bits, as its band is: its exact conversion
        // would have no error, and no effective bits (NaN).
        let bits = |c: &Converter, e: &[f64]| {
            let mut read = e.to_vec();
            c.counted().convert_all(&mut read);
            effective_bits(e, &read)
        };
        let convs = error_converters(adc, full_scale);
        ReadoutReport {
            band_lsb: circuit.periphery.readout_band_lsb,
            settling: ReadoutSettlingReport {
                times: SettlingTimes::of(&times, tau_z),
                activation_worst_seconds: worst(&|s| s.activation_seconds),
                error_worst_seconds: worst(&|s| s.error_seconds),
                per_sample_seconds: times,
            },
            error_ranging: if circuit.periphery.error_ranging {
                "per_layer".into()
            } else {
                "none".into()
            },
            error_full_scale: full_scale.to_vec(),
            error_effective_bits: convs
                .iter()
                .zip(&sim.final_e)
                .map(|(c, e)| bits(c, e))
                .collect(),
            error_effective_bits_unranged: sim.final_e.iter().map(|e| bits(adc, e)).collect(),
        }
    }

    /// The terminal summary's lines.
    pub fn summary_lines(&self, s: &mut String) {
        let st = &self.settling;
        let _ = writeln!(
            s,
            "  at the readout ({} LSB): {}; phi(z) {}, errors {}",
            self.band_lsb,
            st.times.summary(),
            si(st.activation_worst_seconds, "s"),
            si(st.error_worst_seconds, "s"),
        );
        let per: Vec<String> = self
            .error_full_scale
            .iter()
            .zip(&self.error_effective_bits)
            .zip(&self.error_effective_bits_unranged)
            .map(|((fs, b), u)| {
                format!(
                    "+-{} {b:.1} ({u:.1})",
                    crate::config::units::format_number(*fs)
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "readout    error ADCs (ranging: {}), per layer full scale, effective bits (at the \
             ADC's range): {}",
            self.error_ranging,
            per.join(", ")
        );
    }
}
