//! What the digital side of a core costs beside its arrays, amplifiers and converters
//! (docs/circuit-model.md, "The core's digital side"): the registers of the converters, clocked
//! for as long as they convert (a power drawn over the conversion time, so a longer pulse-width
//! input or a slower conversion costs in proportion), and per value read out the local digital
//! processing, a buffer write and a hop on the on-chip network; per value converted in, a buffer
//! read. As in HERMES's cores (Khaddam-Aljameh et al., IEEE JSSC 57(4), 2022: a local digital
//! processing unit applies an affine scaling and a ReLU to each column's count; Le Gallo et al.,
//! Nature Electronics 6, 2023: 64 such cores on an on-chip network).
//!
//! # Sources
//! - Operations: M. Horowitz, "Computing's energy problem (and what we can do about it)",
//!   ISSCC 2014, Fig. 1.1.9, "Rough energy costs for various operations in 45nm 0.9V": 8-bit
//!   integer add 0.03 pJ, 16-bit floating-point multiply 1.1 pJ and add 0.4 pJ, 32-bit read of
//!   an 8 KB SRAM 5 pJ. Moved to a node of feature size F and supply V_dd as the C V^2 of a
//!   switched capacitance proportional to F: x (F / 45 nm) (V_dd / 0.9 V)^2.
//! - A register bit clocked once is priced as one bit of that 8-bit add, 0.03 pJ / 8 (a
//!   flip-flop's clocking and a full adder's switching are both a few gate capacitances; the
//!   figure holds no flip-flop of its own). A DAC holds one register of its bits, an ADC one of
//!   its bits (its counter or successive-approximation register).
//! - The affine scaling of a value: one 16-bit floating-point multiply and one add. A value of
//!   b bits moves through the buffer as b / 32 of a 32-bit word.
//! - Network: W. J. Dally, Y. Turakhia and S. Han, "Domain-specific hardware accelerators",
//!   CACM 63(7), 2020: on-chip communication "costs 100fJ/bit-mm" (no node given, so not
//!   rescaled). A value read out travels one core pitch, the side of a square holding one
//!   tile's cells and converters ([`super::area::tile_pitch_meters`]).

use super::area::tile_pitch_meters;
use super::params::{CrossbarParams, PeripheryParams};
use super::technology::{TechnologyNode, NOMINAL_BITS};

/// Horowitz's node and supply.
const HOROWITZ_FEATURE_METERS: f64 = 45e-9;
const HOROWITZ_VOLTS: f64 = 0.9;
/// Horowitz, Fig. 1.1.9: 8-bit integer add.
const ADD8_JOULES: f64 = 0.03e-12;
/// Horowitz, Fig. 1.1.9: 16-bit floating-point multiply and add.
const FP16_MULTIPLY_JOULES: f64 = 1.1e-12;
const FP16_ADD_JOULES: f64 = 0.4e-12;
/// Horowitz, Fig. 1.1.9: 32-bit read of an 8 KB SRAM.
const SRAM_WORD_JOULES: f64 = 5e-12;
const SRAM_WORD_BITS: f64 = 32.0;
/// Dally, Turakhia and Han, CACM 2020: 100 fJ per bit per mm.
const WIRE_JOULES_PER_BIT_METER: f64 = 100e-15 / 1e-3;

/// The core's digital side per converter (joules; the registers' power in watts).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CorePrices {
    /// Power of a DAC's register and of an ADC's, while it converts.
    pub register_watts: [f64; 2],
    /// Per value converted in: the buffer read.
    pub input_joules: f64,
    /// Per value read out: the affine scaling, the buffer write and the network hop.
    pub output_joules: f64,
}

impl CorePrices {
    /// The prices of a design's periphery on tiles of `c`: the table's node at the design's
    /// supply, the registers clocked at `periphery.clock` (or priced per bit by
    /// `periphery.register_energy`); an ADC of stated power (`periphery.adc_power`) holds its
    /// counter, so its register is not priced again.
    pub fn of(p: &PeripheryParams, c: &CrossbarParams) -> Self {
        let scale = horowitz_scale(&p.technology, p.supply_volts);
        let bit = p
            .register_energy_joules
            .unwrap_or_else(|| register_bit_joules(&p.technology, p.supply_volts));
        let bits = |b: Option<u32>| b.unwrap_or(NOMINAL_BITS) as f64;
        let (dac_bits, adc_bits) = (bits(p.dac.bits), bits(p.adc.bits));
        let buffer = |b: f64| SRAM_WORD_JOULES * scale * b / SRAM_WORD_BITS;
        let hop = adc_bits * WIRE_JOULES_PER_BIT_METER * tile_pitch_meters(c, p);
        // An integrating ADC's stated power holds its counter.
        let adc_register = match p.adc_power_watts {
            Some(_) => 0.0,
            None => adc_bits * bit * p.clock_hertz,
        };
        CorePrices {
            register_watts: [dac_bits * bit * p.clock_hertz, adc_register],
            input_joules: buffer(dac_bits),
            output_joules: (FP16_MULTIPLY_JOULES + FP16_ADD_JOULES) * scale
                + buffer(adc_bits)
                + hop,
        }
    }

    /// Energy of one DAC and of one ADC conversion taking `seconds` each: the register over
    /// the conversion, and the buffer read or the digital work on the value read out.
    pub fn per_conversion(&self, seconds: [f64; 2]) -> [f64; 2] {
        [
            self.input_joules + self.register_watts[0] * seconds[0],
            self.output_joules + self.register_watts[1] * seconds[1],
        ]
    }
}

/// Horowitz's 45 nm, 0.9 V energies at `node` and `supply_volts`: (F / 45 nm) (V / 0.9 V)^2.
pub fn horowitz_scale(node: &TechnologyNode, supply_volts: f64) -> f64 {
    node.feature_meters / HOROWITZ_FEATURE_METERS * (supply_volts / HOROWITZ_VOLTS).powi(2)
}

/// The energy of a register bit clocked once at `node` and `supply_volts`.
pub fn register_bit_joules(node: &TechnologyNode, supply_volts: f64) -> f64 {
    ADD8_JOULES / 8.0 * horowitz_scale(node, supply_volts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At 45 nm and 0.9 V the figure's own values come back: a register bit 3.75 fJ; at
    /// 14 nm and 0.85 V the scale is (14/45)(0.85/0.9)^2 = 0.27750.
    #[test]
    fn horowitz_scales_as_c_v_squared() {
        let at45 = TechnologyNode {
            feature_meters: 45e-9,
            ..TechnologyNode::named("14nm").unwrap()
        };
        assert_eq!(horowitz_scale(&at45, 0.9), 1.0);
        assert!((register_bit_joules(&at45, 0.9) - 3.75e-15).abs() < 1e-27);
        let n14 = TechnologyNode::named("14nm").unwrap();
        let s = horowitz_scale(&n14, 0.85);
        assert!((s - 0.277_50).abs() < 1e-5, "{s}");
    }
}
