//! Silicon area of the arrays and the converters, per layer (docs/circuit-model.md, "Area"):
//! the cells from F^2 and the kind of cell, the converters from the periphery table
//! ([`super::technology`]). Amplifiers are not counted: the table holds no sourced area for
//! them yet.

use super::params::{CrossbarParams, PeripheryParams};

/// What takes area.
pub const AREA_PARTS: [&str; 3] = ["cells", "adc", "dac"];

/// What one layer holds: whole tiles (each `rows x cols` differential pairs, two cells each),
/// and the converters it reads and drives through.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerHardware {
    pub tiles: usize,
    pub adcs: usize,
    pub dacs: usize,
}

/// Area of one layer per part, in the order of [`AREA_PARTS`] (square meters).
pub fn layer_area(hw: &LayerHardware, c: &CrossbarParams, p: &PeripheryParams) -> [f64; 3] {
    let f = p.technology.feature_meters;
    let cell = c.cell.area_f2 * f * f;
    let cells = (hw.tiles * c.rows * c.cols * 2) as f64 * cell;
    let adc = hw.adcs as f64 * p.technology.adc_area_square_meters();
    let dac = hw.dacs as f64 * p.technology.dac_area_square_meters(p.dac.bits);
    [cells, adc, dac]
}

/// The side of a square holding one tile's cells, an ADC per column and a DAC per row (meters):
/// how far a value read out travels to the next core.
pub fn tile_pitch_meters(c: &CrossbarParams, p: &PeripheryParams) -> f64 {
    let hw = LayerHardware {
        tiles: 1,
        adcs: c.cols,
        dacs: c.rows,
    };
    layer_area(&hw, c, p).iter().sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::params::{Backward, Converter};
    use crate::hardware::technology::{TechnologyNode, CELLS};

    /// One 256 x 256 tile of 1T1R pairs at 14 nm: 2 x 65536 cells of 48 F^2 = 1.233 mm^2 / 1000
    /// (48 x (14 nm)^2 = 9.408e-15 m^2 each); one survey ADC 0.006 mm^2.
    #[test]
    fn cells_are_f_squared_times_the_cell() {
        let c = CrossbarParams {
            rows: 256,
            cols: 256,
            v_read_volts: 0.2,
            wire_resistance_ohms: 0.0,
            wire_capacitance_farads: 0.0,
            backward: Backward::Shared,
            cell: CELLS[0],
        };
        let conv = Converter {
            bits: Some(8),
            range: 1.0,
            energy_joules: 0.0,
        };
        let p = PeripheryParams {
            technology: TechnologyNode::named("14nm").unwrap(),
            amplifier_power_watts: None,
            error_amp_bandwidth_hertz: 5e7,
            offset_sigma_volts: 0.0,
            rail_volts: None,
            finite_gain: None,
            node_capacitance_farads: 1e-13,
            supply_volts: 0.85,
            ktc_noise: false,
            amplifier_noise_volts_per_root_hertz: 0.0,
            amplifier_noise_corner_hertz: None,
            feedback_noise: false,
            gain_bandwidth_hertz: None,
            digital_mac_energy_joules: 0.0,
            drift_compensation: Default::default(),
            dac: conv.clone(),
            adc: conv,
            adc_power_watts: None,
            dac_time_seconds: 1e-9,
            adc_time_seconds: 1e-9,
            clock_hertz: 1e9,
            register_energy_joules: None,
            error_ranging: false,
            readout_band_lsb: 0.5,
        };
        let hw = LayerHardware {
            tiles: 1,
            adcs: 1,
            dacs: 0,
        };
        let a = layer_area(&hw, &c, &p);
        let expect = 2.0 * 65536.0 * 48.0 * 14e-9 * 14e-9;
        assert!((a[0] / expect - 1.0).abs() < 1e-12, "{}", a[0]);
        assert!((a[0] - 1.2331e-9).abs() < 1e-13);
        assert_eq!(a[1], 0.006e-6);
        assert_eq!(a[2], 0.0);
    }
}
