//! Converters and amplifier imperfections at the edge of the arrays.
//!
//! A converter of `bits` over full scale +-range has the two's-complement codes
//! k = -2^(bits-1) .. 2^(bits-1) - 1 and represents k * range / 2^(bits-1): zero is exact, the
//! largest code is one step short of +range, and values beyond the codes clip.
//!
//! # Reference
//! Kester (ed.), "The Data Conversion Handbook", Analog Devices (2005), ch. 2 (code conventions,
//! quantisation noise step^2/12).

use super::params::Converter;
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

    /// Converts every value of a slice in place.
    pub fn convert_all(&self, xs: &mut [f64]) {
        if self.bits.is_some() {
            for x in xs {
                *x = self.convert(*x);
            }
        }
    }
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
