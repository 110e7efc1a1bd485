//! How long each stage of one inference takes (docs/circuit-model.md, "Latency and
//! throughput"): a DAC conversion of the inputs, the read of one layer's arrays, and an ADC
//! conversion with its readout. The relaxation of PC comes from the simulation.
//!
//! # Reference
//! A read has settled when the TIA outputs are within half an LSB of the ADC of their final
//! value. The TIAs are single-pole amplifiers of bandwidth f_c (time constant
//! tau = 1 / (2 pi f_c)); after a full-scale step the error is e^(-t/tau) of the full scale,
//! and half an LSB of b bits is 2^-(b+1) of it, so the read takes t = tau (b + 1) ln 2
//! (B. Razavi, "Design of Analog CMOS Integrated Circuits", 2nd ed., McGraw-Hill 2017, sec.
//! 8.5: the settling of a single-pole feedback amplifier).

use super::params::PeripheryParams;
use super::technology::NOMINAL_BITS;
use std::f64::consts::{LN_2, PI};

/// Time a single-pole amplifier of bandwidth `bandwidth_hertz` takes to settle within half an
/// LSB of `bits` bits after a full-scale step.
pub fn read_settling_seconds(bandwidth_hertz: f64, bits: u32) -> f64 {
    (bits as f64 + 1.0) * LN_2 / (2.0 * PI * bandwidth_hertz)
}

/// The time of each stage of an inference (seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StageTimes {
    /// One DAC conversion (all inputs in parallel).
    pub dac: f64,
    /// One layer's read: its TIAs settle within half an LSB of the ADC.
    pub read: f64,
    /// One ADC conversion with its readout (one converter per value, all in parallel).
    pub adc: f64,
}

impl StageTimes {
    /// The stages of a design's periphery: the TIAs have the amplifiers' bandwidth and the
    /// read is judged at the ADC's bits (8 when the ADC is ideal).
    pub fn of(p: &PeripheryParams) -> Self {
        StageTimes {
            dac: p.dac_time_seconds,
            read: read_settling_seconds(
                p.error_amp_bandwidth_hertz,
                p.adc.bits.unwrap_or(NOMINAL_BITS),
            ),
            adc: p.adc_time_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At 50 MHz, tau = 3.183 ns; 8 bits ask e^(-t/tau) = 1/512, t = 6.238 tau = 19.86 ns.
    #[test]
    fn a_read_settles_to_half_an_lsb() {
        let t = read_settling_seconds(50e6, 8);
        let tau = 1.0 / (2.0 * PI * 50e6);
        assert!(((-t / tau).exp() - 1.0 / 512.0).abs() < 1e-15);
        assert!((t - 19.86e-9).abs() < 0.01e-9, "{t}");
    }
}
