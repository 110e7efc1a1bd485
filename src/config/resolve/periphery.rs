//! [periphery]: amplifiers, node capacitors and converters.

use super::resolver::{finite_json, sp, Resolver, Result};
use crate::config::error::ConfigError;
use crate::config::raw::{Count, RawPeriphery, Real, Si};
use crate::config::units::format_number;
use crate::hardware::drift_compensation::DriftCompensation;
use crate::hardware::params::{Converter, PeripheryParams};
use serde_json::json;
use toml::Spanned;

/// Widest converter modelled.
pub const MAX_BITS: u64 = 32;

pub(super) fn periphery(r: &mut Resolver, p: &RawPeriphery) -> Result<PeripheryParams> {
    let amp_power = r.non_negative(&p.amplifier_power, "the amplifier power")?;
    let bandwidth = r.positive(&p.error_amp_bandwidth, "the error-amplifier bandwidth")?;
    let offset_sigma = r.non_negative(&p.offset_sigma, "the offset sigma")?;
    let rail = p.rail.get_ref().0;
    r.ensure(rail > 0.0, &p.rail.span(), || {
        format!(
            "the rail must be positive (or inf for none), found {}",
            r.show(rail, &p.rail.span())
        )
    })?;
    let gain = p.open_loop_gain.get_ref().0;
    r.ensure(gain >= 1.0, &p.open_loop_gain.span(), || {
        format!(
            "the open-loop gain must be at least 1 (or inf for ideal), found {}",
            format_number(gain)
        )
    })?;
    let periphery = PeripheryParams {
        amplifier_power_watts: amp_power,
        error_amp_bandwidth_hertz: bandwidth,
        offset_sigma_volts: offset_sigma,
        rail_volts: rail.is_finite().then_some(rail),
        finite_gain: gain.is_finite().then_some(gain),
        amplifier_noise_volts_per_root_hertz: r
            .non_negative(&p.amplifier_noise, "the amplifier noise density")?,
        digital_mac_energy_joules: r
            .non_negative(&p.digital_mac_energy, "the digital MAC energy")?,
        node_capacitance_farads: r.positive(&p.node_capacitance, "the node capacitance")?,
        supply_volts: r.positive(&p.supply, "the supply voltage")?,
        ktc_noise: *p.ktc_noise.get_ref(),
        // The loader admits only the schema's choices.
        drift_compensation: DriftCompensation::from_name(p.drift_compensation.get_ref())
            .unwrap_or_default(),
        dac: converter(r, &p.dac_bits, &p.dac_range, &p.dac_energy, "a DAC")?,
        adc: converter(r, &p.adc_bits, &p.adc_range, &p.adc_energy, "an ADC")?,
    };
    put_periphery(r, p, &periphery);
    Ok(periphery)
}

fn converter(
    r: &Resolver,
    bits: &Spanned<Count>,
    range: &Spanned<Real>,
    energy: &Spanned<Si>,
    what: &str,
) -> std::result::Result<Converter, ConfigError> {
    let b = bits.get_ref().0;
    r.ensure(b <= MAX_BITS, &bits.span(), || {
        format!("{what} of {b} bits is beyond any converter (at most {MAX_BITS}; 0 = ideal)")
    })?;
    Ok(Converter {
        bits: (b > 0).then_some(b as u32),
        range: r.positive(range, &format!("the {what} range"))?,
        energy_joules: r.non_negative(energy, &format!("the {what} energy"))?,
    })
}

fn put_periphery(r: &mut Resolver, p: &RawPeriphery, q: &PeripheryParams) {
    r.put_all(
        "periphery",
        vec![
            (
                "amplifier_power_watts",
                json!(q.amplifier_power_watts),
                sp(&p.amplifier_power),
            ),
            (
                "error_amp_bandwidth_hertz",
                json!(q.error_amp_bandwidth_hertz),
                sp(&p.error_amp_bandwidth),
            ),
            (
                "offset_sigma_volts",
                json!(q.offset_sigma_volts),
                sp(&p.offset_sigma),
            ),
            ("rail_volts", finite_json(p.rail.get_ref().0), sp(&p.rail)),
            (
                "open_loop_gain",
                finite_json(p.open_loop_gain.get_ref().0),
                sp(&p.open_loop_gain),
            ),
            (
                "node_capacitance_farads",
                json!(q.node_capacitance_farads),
                sp(&p.node_capacitance),
            ),
            ("supply_volts", json!(q.supply_volts), sp(&p.supply)),
            ("ktc_noise", json!(q.ktc_noise), sp(&p.ktc_noise)),
            (
                "amplifier_noise_volts_per_root_hertz",
                json!(q.amplifier_noise_volts_per_root_hertz),
                sp(&p.amplifier_noise),
            ),
            (
                "digital_mac_energy_joules",
                json!(q.digital_mac_energy_joules),
                sp(&p.digital_mac_energy),
            ),
            (
                "drift_compensation",
                json!(q.drift_compensation.name()),
                sp(&p.drift_compensation),
            ),
            ("dac_bits", json!(p.dac_bits.get_ref().0), sp(&p.dac_bits)),
            ("dac_range", json!(q.dac.range), sp(&p.dac_range)),
            (
                "dac_energy_joules",
                json!(q.dac.energy_joules),
                sp(&p.dac_energy),
            ),
            ("adc_bits", json!(p.adc_bits.get_ref().0), sp(&p.adc_bits)),
            ("adc_range", json!(q.adc.range), sp(&p.adc_range)),
            (
                "adc_energy_joules",
                json!(q.adc.energy_joules),
                sp(&p.adc_energy),
            ),
        ],
    );
}
