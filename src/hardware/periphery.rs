//! Converters and amplifier imperfections at the edge of the arrays.
//!
//! A converter of `bits` over full scale +-range has the two's-complement codes
//! k = -2^(bits-1) .. 2^(bits-1) - 1 and represents k * range / 2^(bits-1): zero is exact, the
//! largest code is one step short of +range, and values beyond the codes clip.
//!
//! # Reference
//! Kester (ed.), "The Data Conversion Handbook", Analog Devices (2005), ch. 2 (code conventions,
//! quantisation noise step^2/12; effective number of bits, ENOB = (SINAD - 1.76 dB) / 6.02 dB,
//! eq. 2.1 and 2.17).

use super::params::Converter;
use super::technology::NOMINAL_BITS;
use crate::numeric::seeds::stream_seed;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

impl Converter {
    /// The value step of one code (0 for an ideal converter).
    pub fn step(&self) -> f64 {
        match self.bits {
            Some(b) => self.range / 2f64.powi(b as i32 - 1),
            None => 0.0,
        }
    }

    /// The value a conversion of `x` produces.
    pub fn convert(&self, x: f64) -> f64 {
        match self.bits {
            None => x,
            Some(b) => {
                let half = 2f64.powi(b as i32 - 1);
                let k = (x / self.step()).round().clamp(-half, half - 1.0);
                k * self.step()
            }
        }
    }

    /// The step of one code, an ideal converter counted at [`NOMINAL_BITS`] (as it is priced).
    pub fn nominal_step(&self) -> f64 {
        self.range / self.codes_either_side()
    }

    /// Codes either side of zero, 2^(bits-1) ([`NOMINAL_BITS`] for an ideal converter): the
    /// full scale in steps.
    pub fn codes_either_side(&self) -> f64 {
        2f64.powi(self.bits.unwrap_or(NOMINAL_BITS) as i32 - 1)
    }

    /// The converter as it is counted: an ideal one at [`NOMINAL_BITS`] (as its readout band
    /// and its price are), any other as it is.
    pub fn counted(&self) -> Converter {
        Converter {
            bits: Some(self.bits.unwrap_or(NOMINAL_BITS)),
            ..self.clone()
        }
    }

    /// The same converter behind a programmable gain: full scale +-`range`.
    pub fn with_range(&self, range: f64) -> Converter {
        Converter {
            range,
            ..self.clone()
        }
    }

    /// Converts every value of a slice in place.
    pub fn convert_all(&self, xs: &mut [f64]) {
        if self.bits.is_some() {
            for x in xs {
                *x = self.convert(*x);
            }
        }
    }

    /// Converts one layer's values in place behind the programmable gain that
    /// [`gain_ranged_full_scales`] sets from their own largest magnitude (up to 2^`MAX_GAIN_SHIFT`).
    pub fn convert_all_gain_ranged(&self, xs: &mut [f64]) {
        if self.bits.is_none() {
            return;
        }
        let peak = xs.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let full_scale = gain_ranged_full_scales(self.range, &[peak], MAX_GAIN_SHIFT)[0];
        self.with_range(full_scale).convert_all(xs);
    }
}

/// Largest gain of the programmable amplifier ahead of an error ADC, 2^7 = 128 V/V (42 dB): the
/// largest binary gain of a PGA for ADC front ends (TI PGA281 datasheet, gains 1/8 to 128 V/V
/// in binary steps).
pub const MAX_GAIN_SHIFT: u32 = 7;

/// Per layer, an ADC's full scale behind a programmable gain of 2^k (k <= `max_shift`, undone
/// digitally by a shift): the smallest `range / 2^k` that still holds the layer's largest
/// magnitude `peak[l-1]`, so that a layer of small signals is read with the bits the converter
/// has; `range` for a layer without signal.
pub fn gain_ranged_full_scales(range: f64, peak: &[f64], max_shift: u32) -> Vec<f64> {
    peak.iter()
        .map(|&p| {
            let mut scale = range;
            for _ in 0..max_shift {
                if !(p > 0.0 && p <= scale / 2.0) {
                    break;
                }
                scale /= 2.0;
            }
            scale
        })
        .collect()
}

/// The effective number of bits of a readout: `signal` and what the converter made of it,
/// `(20 log10(rms signal / rms error) - 1.76) / 6.02` (Kester eq. 2.17, the SINAD of a
/// full-scale sine at N bits being 6.02 N + 1.76 dB); NaN for an error of zero.
pub fn effective_bits(signal: &[f64], converted: &[f64]) -> f64 {
    let ms = |it: &mut dyn Iterator<Item = f64>| {
        let (mut s, mut n) = (0.0, 0usize);
        for v in it {
            s += v * v;
            n += 1;
        }
        s / n.max(1) as f64
    };
    let sig = ms(&mut signal.iter().copied());
    let err = ms(&mut signal.iter().zip(converted).map(|(a, b)| b - a));
    if err.is_nan() || err <= 0.0 {
        return f64::NAN;
    }
    (10.0 * (sig / err).log10() - 1.76) / 6.02
}

/// Fixed input offsets of `count` amplifiers (volts), N(0, sigma) each, from their own stream.
pub fn amplifier_offsets(count: usize, sigma_volts: f64, seed: u64, stream: u64) -> Vec<f64> {
    if sigma_volts == 0.0 {
        return vec![0.0; count];
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, stream));
    (0..count)
        .map(|_| {
            sigma_volts * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut rng)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(bits: u32, range: f64) -> Converter {
        Converter {
            bits: Some(bits),
            range,
            energy_joules: 0.0,
        }
    }

    #[test]
    fn codes_are_twos_complement_steps() {
        let c = conv(4, 1.0);
        assert_eq!(c.step(), 0.125);
        assert_eq!(c.convert(0.0), 0.0);
        assert_eq!(c.convert(0.06), 0.0);
        assert_eq!(c.convert(0.07), 0.125);
        assert_eq!(c.convert(5.0), 0.875);
        assert_eq!(c.convert(-5.0), -1.0);
        let ideal = Converter {
            bits: None,
            range: 1.0,
            energy_joules: 0.0,
        };
        assert_eq!(ideal.convert(0.123_456), 0.123_456);
    }

    #[test]
    fn quantisation_error_is_uniform_over_a_step() {
        // Over values spread evenly inside the range the error is uniform on
        // [-step/2, step/2]: rms step / sqrt(12) to well under 1% with 10^5 points.
        let c = conv(6, 2.0);
        let n = 100_000;
        let mut sq = 0.0;
        for i in 0..n {
            let x = -1.9 + 3.8 * (i as f64 + 0.5) / n as f64;
            sq += (c.convert(x) - x).powi(2);
        }
        let rms = (sq / n as f64).sqrt();
        let expect = c.step() / 12f64.sqrt();
        assert!(((rms - expect) / expect).abs() < 0.01, "{rms} vs {expect}");
    }

    /// A full-scale sine read by an N-bit converter has N effective bits (its quantisation
    /// error uniform over a step, Kester eq. 2.17), to the 0.1 bit the rounding of 1.76 and
    /// 6.02 leaves; a sine of 1/64 of the full scale loses 6 bits, and a gain of 64 ahead of
    /// the converter gives them back.
    #[test]
    fn effective_bits_of_a_sine() {
        let n = 100_000;
        let sine = |a: f64| -> Vec<f64> {
            (0..n)
                .map(|i| a * (2.0 * std::f64::consts::PI * 0.123_457 * i as f64).sin())
                .collect()
        };
        let c = conv(8, 1.0);
        let read =
            |c: &Converter, x: &[f64]| -> Vec<f64> { x.iter().map(|&v| c.convert(v)).collect() };
        let full = sine(1.0 - c.step());
        let enob = effective_bits(&full, &read(&c, &full));
        assert!((enob - 8.0).abs() < 0.1, "{enob}");
        let small = sine(1.0 / 64.0);
        let enob_small = effective_bits(&small, &read(&c, &small));
        assert!((enob_small - 2.0).abs() < 0.3, "{enob_small}");
        let scale = gain_ranged_full_scales(1.0, &[1.0 / 64.0], 16)[0];
        assert_eq!(scale, 1.0 / 64.0);
        let ranged = c.with_range(scale * (1.0 + 1.0 / 64.0));
        let enob_ranged = effective_bits(&small, &read(&ranged, &small));
        assert!((enob_ranged - 8.0).abs() < 0.15, "{enob_ranged}");
    }

    /// The full scale halves while the peak still fits: 0.007 fits 1/128 (k = 7), 0.3 fits
    /// 1/2, 0.9 needs all of 1; no signal keeps the range; at most `max_shift` halvings.
    #[test]
    fn gain_ranging_takes_the_smallest_power_of_two_that_holds_the_peak() {
        let peaks = [0.007, 0.3, 0.9, 0.0, 0.5];
        let s = gain_ranged_full_scales(1.0, &peaks, 16);
        assert_eq!(s, vec![1.0 / 128.0, 0.5, 1.0, 1.0, 0.5]);
        assert_eq!(gain_ranged_full_scales(1.0, &[1e-9], 3)[0], 1.0 / 8.0);
        let c = conv(8, 1.0);
        assert_eq!(c.nominal_step(), c.step());
        assert_eq!(c.codes_either_side(), 128.0);
        let ideal = Converter { bits: None, ..c };
        assert_eq!(ideal.nominal_step(), 1.0 / 128.0);
    }

    #[test]
    fn offsets_are_seeded_and_scaled() {
        let a = amplifier_offsets(10_000, 1e-3, 5, 0);
        assert_eq!(a, amplifier_offsets(10_000, 1e-3, 5, 0));
        let sd = (a.iter().map(|v| v * v).sum::<f64>() / a.len() as f64).sqrt();
        // 10^4 normals: the sample rms is within 1.5% (2 sigma) of sigma.
        assert!((sd / 1e-3 - 1.0).abs() < 0.015, "{sd}");
        assert!(amplifier_offsets(3, 0.0, 5, 0).iter().all(|&v| v == 0.0));
    }
}
