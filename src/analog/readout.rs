//! Settling referred to the readout (docs/circuit-model.md, "Settling"): a sample has settled
//! at the first time after which every quantity the chip converts for the weight update stays
//! within a band of its final value, the band a number of LSBs of the converter that reads it:
//! phi(z_l) of every hidden layer at the ADC, and e_l of every layer (error nodes included) at
//! its ADC, whose full scale may be set per layer
//! ([`crate::hardware::periphery::gain_ranged_full_scales`]). It is measured on the
//! noise-free trajectory (a noisy run's first pass): the noise is not a signal that settles.

use crate::hardware::params::Converter;
use crate::network::Activation;

/// The half-widths of the readout bands, in node units.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadoutBands {
    /// phi(z_l) of the hidden layers, at the ADC of the update's inputs.
    pub activation: f64,
    /// e_l of layers 1..L (index l-1), at each layer's error ADC.
    pub error: Vec<f64>,
}

impl ReadoutBands {
    /// `band_lsb` steps of `adc` for the activations, and of the same converter at the full
    /// scale `error_full_scale[l-1]` for the errors of layer l (an ideal converter counted at
    /// its nominal bits, [`Converter::nominal_step`]).
    pub fn new(adc: &Converter, error_full_scale: &[f64], band_lsb: f64) -> Self {
        ReadoutBands {
            activation: band_lsb * adc.nominal_step(),
            error: error_full_scale
                .iter()
                .map(|&r| band_lsb * adc.with_range(r).nominal_step())
                .collect(),
        }
    }
}

/// How one sample settled at the readout.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadoutSettling {
    /// When every read-out quantity stayed in its band (the later of the two below).
    pub time_seconds: f64,
    /// When every phi(z_l) stayed in its band.
    pub activation_seconds: f64,
    /// When every e_l stayed in its band.
    pub error_seconds: f64,
}

/// A chunk's noise-free trajectory at its checkpoints: `times[c]`, every value node `z[c]` (the
/// chunk's value layout) and every error output `e[c][l-1]` (`n_l x b`, node fastest), the
/// last checkpoint being the final state.
pub(super) struct Checkpoints<'a> {
    pub times: Vec<f64>,
    pub z: &'a [Vec<f64>],
    pub e: &'a [Vec<Vec<f64>>],
}

/// Each of the chunk's `b` samples' readout settling.
pub(super) fn readout_settling(
    widths: &[usize],
    activation: Activation,
    b: usize,
    cp: &Checkpoints<'_>,
    bands: &ReadoutBands,
) -> Vec<ReadoutSettling> {
    let hidden: usize = widths[1..widths.len() - 1].iter().sum::<usize>() * b;
    let read = |c: usize| -> Vec<f64> {
        let mut v = vec![0.0; hidden];
        activation.apply(&cp.z[c][..hidden], &mut v, None);
        v.extend(cp.e[c].iter().flatten());
        v
    };
    // Per read-out quantity (the activations of the hidden layers, then every layer's
    // errors): its sample and band.
    let l_out = widths.len() - 1;
    let mut sample = Vec::new();
    let mut band = Vec::new();
    for &n in &widths[1..l_out] {
        sample.extend((0..n * b).map(|k| k / n));
        band.extend(std::iter::repeat_n(bands.activation, n * b));
    }
    for l in 1..=l_out {
        let n = widths[l];
        sample.extend((0..n * b).map(|k| k / n));
        band.extend(std::iter::repeat_n(bands.error[l - 1], n * b));
    }
    let is_error = |k: usize| k >= hidden;
    let q = Quantities {
        sample: &sample,
        band: &band,
        read: &read,
        times: &cp.times,
    };
    let act = q.last_exit(b, &|k| !is_error(k));
    let err = q.last_exit(b, &is_error);
    act.into_iter()
        .zip(err)
        .map(|(a, e)| ReadoutSettling {
            time_seconds: a.max(e),
            activation_seconds: a,
            error_seconds: e,
        })
        .collect()
}

/// Read-out quantities along the checkpoints.
struct Quantities<'a> {
    sample: &'a [usize],
    band: &'a [f64],
    /// Every quantity at a checkpoint (formed one checkpoint at a time: the trajectory of all
    /// of them would double the checkpoints' memory); the last one holds the final values.
    read: &'a dyn Fn(usize) -> Vec<f64>,
    times: &'a [f64],
}

impl Quantities<'_> {
    /// Per sample, the time the quantities `which` last re-entered their bands: the last
    /// checkpoint where one is outside, refined by linear interpolation to where it re-enters.
    fn last_exit(&self, b: usize, which: &dyn Fn(usize) -> bool) -> Vec<f64> {
        let n = self.times.len();
        if n == 0 {
            return vec![0.0; b];
        }
        let last = (self.read)(n - 1);
        let outside = |v: &[f64], k: usize| (v[k] - last[k]).abs() - self.band[k];
        let mut exit: Vec<Option<usize>> = vec![None; b];
        for c in 0..n {
            let v = (self.read)(c);
            for k in (0..self.band.len()).filter(|&k| which(k)) {
                if outside(&v, k) > 0.0 {
                    exit[self.sample[k]] = Some(c);
                }
            }
        }
        let mut frac = vec![0.0f64; b];
        let mut at: Vec<usize> = exit
            .iter()
            .flatten()
            .copied()
            .filter(|&c| c + 1 < n)
            .collect();
        at.sort_unstable();
        at.dedup();
        for c in at {
            let (v0, v1) = ((self.read)(c), (self.read)(c + 1));
            for k in (0..self.band.len()).filter(|&k| which(k) && exit[self.sample[k]] == Some(c)) {
                let (d0, d1) = (outside(&v0, k), outside(&v1, k));
                if d0 > 0.0 {
                    let f = if d1 < 0.0 { d0 / (d0 - d1) } else { 1.0 };
                    let s = self.sample[k];
                    frac[s] = frac[s].max(f);
                }
            }
        }
        (0..b)
            .map(|s| match exit[s] {
                None => 0.0,
                Some(c) => {
                    let t1 = self.times.get(c + 1).copied().unwrap_or(self.times[c]);
                    self.times[c] + frac[s] * (t1 - self.times[c])
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An 8-bit converter of +-1 has codes of 2 / 2^8; half an LSB is 1/256.
    #[test]
    fn half_an_lsb_of_an_8_bit_converter() {
        let adc = Converter {
            bits: Some(8),
            range: 1.0,
            energy_joules: 0.0,
        };
        let b = ReadoutBands::new(&adc, &[1.0, 0.25], 0.5);
        assert_eq!(b.activation, 1.0 / 256.0);
        assert_eq!(b.error, vec![1.0 / 256.0, 0.25 / 256.0]);
    }
}
