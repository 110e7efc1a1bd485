//! [periphery]: amplifiers, node capacitors and converters.

use super::resolver::{finite_json, opt_sp, sp, Resolver, Result};
use crate::config::error::ConfigError;
use crate::config::raw::{Count, RawPeriphery, Real};
use crate::config::units::format_number;
use crate::hardware::drift_compensation::DriftCompensation;
use crate::hardware::params::{Converter, PeripheryParams};
use crate::hardware::technology::{integrating_adc_joules, TechnologyNode, NODES};
use serde_json::json;
use toml::Spanned;

/// Widest converter modelled.
pub const MAX_BITS: u64 = 32;

pub(super) fn periphery(r: &mut Resolver, p: &RawPeriphery) -> Result<PeripheryParams> {
    // The schema admits only the table's names (Kind::Choice of NODE_NAMES).
    let node = TechnologyNode::named(p.technology.get_ref()).unwrap_or(NODES[0]);
    let amp_power = match &p.amplifier_power {
        Some(v) => Some(r.non_negative(v, "the amplifier power")?),
        None => None,
    };
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
    let mut dac = converter(r, &p.dac_bits, &p.dac_range, "a DAC")?;
    dac.energy_joules = match &p.dac_energy {
        Some(v) => r.non_negative(v, "the DAC energy")?,
        None => node.dac_energy_joules(dac.bits),
    };
    let dac_time_seconds = match &p.dac_time {
        Some(v) => r.positive(v, "the DAC conversion time")?,
        None => node.dac_time_seconds(),
    };
    let adc_power_watts = adc_power(r, p)?;
    let mut adc = converter(r, &p.adc_bits, &p.adc_range, "an ADC")?;
    adc.energy_joules = match (&p.adc_energy, adc_power_watts) {
        (Some(v), _) => r.non_negative(v, "the ADC energy")?,
        (None, Some(w)) => integrating_adc_joules(w, dac_time_seconds),
        (None, None) => node.adc_energy_joules(adc.bits),
    };
    let adc_time_seconds = match &p.adc_time {
        Some(v) => r.positive(v, "the ADC conversion time")?,
        None => node.adc_time_seconds(),
    };
    let clock_hertz = r.positive(&p.clock, "the converters' clock")?;
    let register_energy_joules = match &p.register_energy {
        Some(v) => Some(r.non_negative(v, "the register energy")?),
        None => None,
    };
    let readout_band_lsb = readout_band(r, p, &adc)?;
    let supply_volts = match &p.supply {
        Some(v) => r.positive(v, "the supply voltage")?,
        None => node.supply_volts,
    };
    let periphery = PeripheryParams {
        technology: node,
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
        supply_volts,
        ktc_noise: *p.ktc_noise.get_ref(),
        amplifier_noise_corner_hertz: match &p.amplifier_noise_corner {
            Some(v) => Some(r.positive(v, "the amplifier noise corner")?),
            None => None,
        },
        feedback_noise: *p.feedback_noise.get_ref(),
        gain_bandwidth_hertz: match &p.gain_bandwidth {
            Some(v) => Some(r.positive(v, "the gain-bandwidth product")?),
            None => None,
        },
        // The loader admits only the schema's choices.
        drift_compensation: DriftCompensation::from_name(p.drift_compensation.get_ref())
            .unwrap_or_default(),
        dac,
        adc,
        adc_power_watts,
        dac_time_seconds,
        adc_time_seconds,
        clock_hertz,
        register_energy_joules,
        error_ranging: p.error_ranging.get_ref() == "per_layer",
        readout_band_lsb,
    };
    put_periphery(r, p, &periphery);
    Ok(periphery)
}

fn converter(
    r: &Resolver,
    bits: &Spanned<Count>,
    range: &Spanned<Real>,
    what: &str,
) -> std::result::Result<Converter, ConfigError> {
    let b = bits.get_ref().0;
    r.ensure(b <= MAX_BITS, &bits.span(), || {
        format!("{what} of {b} bits is beyond any converter (at most {MAX_BITS}; 0 = ideal)")
    })?;
    Ok(Converter {
        bits: (b > 0).then_some(b as u32),
        range: r.positive(range, &format!("the {what} range"))?,
        energy_joules: 0.0,
    })
}

/// The power of an integrating ADC, when given: not negative, and not beside a stated energy
/// per conversion (which it replaces).
fn adc_power(r: &Resolver, p: &RawPeriphery) -> Result<Option<f64>> {
    let Some(v) = &p.adc_power else {
        return Ok(None);
    };
    r.ensure(p.adc_energy.is_none(), &v.span(), || {
        "give either periphery.adc_power (an integrating ADC, priced over dac_time) or \
         periphery.adc_energy, not both"
            .to_string()
    })?;
    Ok(Some(r.non_negative(v, "the ADC power")?))
}

/// The readout's settling band in LSBs: positive, and no wider than the ADC's full scale.
fn readout_band(r: &Resolver, p: &RawPeriphery, adc: &Converter) -> Result<f64> {
    let band = r.positive(&p.readout_band, "the readout band")?;
    let widest = adc.codes_either_side();
    r.ensure_relation(
        band <= widest,
        &p.readout_band.span(),
        &p.adc_bits.span(),
        || {
            format!(
                "a readout band of {} LSB is wider than the ADC's full scale ({} LSB either side \
             at {} bits)",
                format_number(band),
                format_number(widest),
                adc.bits
                    .unwrap_or(crate::hardware::technology::NOMINAL_BITS)
            )
        },
    )?;
    Ok(band)
}

fn put_periphery(r: &mut Resolver, p: &RawPeriphery, q: &PeripheryParams) {
    r.put_all(
        "periphery",
        vec![
            ("technology", json!(q.technology.name), sp(&p.technology)),
            (
                "amplifier_power_watts",
                json!(q.amplifier_power_watts),
                opt_sp(&p.amplifier_power),
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
            ("supply_volts", json!(q.supply_volts), opt_sp(&p.supply)),
            ("ktc_noise", json!(q.ktc_noise), sp(&p.ktc_noise)),
            (
                "amplifier_noise_volts_per_root_hertz",
                json!(q.amplifier_noise_volts_per_root_hertz),
                sp(&p.amplifier_noise),
            ),
            (
                "amplifier_noise_corner_hertz",
                json!(q.amplifier_noise_corner_hertz),
                opt_sp(&p.amplifier_noise_corner),
            ),
            (
                "feedback_noise",
                json!(q.feedback_noise),
                sp(&p.feedback_noise),
            ),
            (
                "gain_bandwidth_hertz",
                json!(q.gain_bandwidth_hertz),
                opt_sp(&p.gain_bandwidth),
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
                opt_sp(&p.dac_energy),
            ),
            (
                "dac_time_seconds",
                json!(q.dac_time_seconds),
                opt_sp(&p.dac_time),
            ),
            ("adc_bits", json!(p.adc_bits.get_ref().0), sp(&p.adc_bits)),
            ("adc_range", json!(q.adc.range), sp(&p.adc_range)),
            (
                "adc_energy_joules",
                json!(q.adc.energy_joules),
                opt_sp(&p.adc_energy),
            ),
            (
                "adc_power_watts",
                json!(q.adc_power_watts),
                opt_sp(&p.adc_power),
            ),
            (
                "adc_time_seconds",
                json!(q.adc_time_seconds),
                opt_sp(&p.adc_time),
            ),
            ("clock_hertz", json!(q.clock_hertz), sp(&p.clock)),
            (
                "register_energy_joules",
                json!(q.register_energy_joules),
                opt_sp(&p.register_energy),
            ),
            (
                "error_ranging",
                json!(p.error_ranging.get_ref()),
                sp(&p.error_ranging),
            ),
            (
                "readout_band",
                json!(q.readout_band_lsb),
                sp(&p.readout_band),
            ),
        ],
    );
}
