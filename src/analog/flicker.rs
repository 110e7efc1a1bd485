//! Amplifier 1/f noise (docs/circuit-model.md, "Noise"): an amplifier whose input noise density
//! is `e_n^2 (1 + f_c / f)` (the op-amp noise model of Analog Devices tutorial MT-048) has, besides
//! its white part, a 1/f part of one-sided density `c / f` with `c = e_n^2 f_c`. Over a band
//! `[f_lo, f_hi]` it is a sum of independent Ornstein–Uhlenbeck sources `x_k` of rates
//! `gamma_k` spaced evenly in `ln gamma`, `POLES_PER_DECADE` to a decade: a source of variance
//! `sigma_k^2` has the one-sided density `4 sigma_k^2 gamma_k / (gamma_k^2 + (2 pi f)^2)`, and
//! with `sigma_k^2 = c Delta` (`Delta` the spacing of `ln gamma`) the sum is
//! `c integral 4 / (gamma^2 + w^2) dgamma = c / f` between the end poles.
//!
//! Each source is advanced exactly over a step `dt`: `x <- E x + sigma sqrt(1 - E^2) xi`,
//! `E = exp(-gamma dt)`, so the scheme does not bound the step; a step holds the sum at its
//! start as a slowly moving input offset of the amplifier. The band is the run's:
//! `f_lo = 1 / t_max` (slower noise is an offset over the run) to the step's Nyquist frequency
//! `f_hi = 1 / (2 dt)`.

use crate::numeric::seeds::stream_seed;
use crate::numeric::Real;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Sources per decade of rate: the ripple of Lorentzians two to a decade is under 0.3%; near
/// the band's ends the missing poles take about `(2 / pi) (f_lo' / f + f / f_hi')` of the
/// density (`f_lo'`, `f_hi'` the ends widened by half a spacing), under 1% from a hundredth of
/// the band's width inside it.
pub const POLES_PER_DECADE: f64 = 2.0;

/// The poles of a 1/f band and their variances per unit of `c`.
#[derive(Clone, Debug, PartialEq)]
pub struct FlickerBand {
    /// Rates gamma_k (1/s), ascending.
    pub rates: Vec<f64>,
    /// sigma_k^2 / c: the spacing of ln gamma.
    pub weight: f64,
}

impl FlickerBand {
    /// The poles covering `[f_lo, f_hi]` (hertz, `0 < f_lo < f_hi`).
    pub fn new(f_lo: f64, f_hi: f64) -> Self {
        let decades = (f_hi / f_lo).log10().max(0.0);
        let n = (decades * POLES_PER_DECADE).ceil().max(1.0) as usize + 1;
        let spacing = (f_hi / f_lo).ln().max(0.0) / (n - 1).max(1) as f64;
        let rates = (0..n)
            .map(|k| 2.0 * std::f64::consts::PI * f_lo * (spacing * k as f64).exp())
            .collect();
        FlickerBand {
            rates,
            weight: if spacing > 0.0 {
                spacing
            } else {
                std::f64::consts::LN_10 / POLES_PER_DECADE
            },
        }
    }

    /// The band of a run of `t_max` seconds in steps of `dt`.
    pub fn of_run(dt_seconds: f64, t_max_seconds: f64) -> Self {
        let f_hi = 0.5 / dt_seconds;
        Self::new((1.0 / t_max_seconds).min(f_hi / 10.0), f_hi)
    }

    /// The one-sided density of the sum at `f` per unit of `c` (1 / f inside the band).
    pub fn density(&self, f: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * f;
        self.rates
            .iter()
            .map(|&g| 4.0 * self.weight * g / (g * g + w * w))
            .sum()
    }
}

/// Independent 1/f sources of one (sample, layer) stream, each the sum of a band's poles.
#[derive(Clone, Debug)]
pub struct FlickerSources {
    /// Per pole: exp(-gamma dt) and sqrt(weight (1 - E^2)).
    decay: Vec<f64>,
    innovation: Vec<f64>,
    /// sqrt(c) of each source (node units).
    amplitude: Vec<f64>,
    /// Pole states per unit amplitude, `sources x poles`.
    state: Vec<f64>,
    rng: Xoshiro256PlusPlus,
}

impl FlickerSources {
    /// Sources of coefficients `c` (`S = c / f`, node units^2) over `band` in steps of `dt`,
    /// drawn from their stationary distribution on stream `stream` of `seed`.
    pub fn new(c: &[f64], band: &FlickerBand, dt_seconds: f64, seed: u64, stream: u64) -> Self {
        let decay: Vec<f64> = band.rates.iter().map(|g| (-g * dt_seconds).exp()).collect();
        let innovation = decay
            .iter()
            .map(|e| (band.weight * (1.0 - e * e)).sqrt())
            .collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, stream));
        let sd = band.weight.sqrt();
        let state = (0..c.len() * decay.len())
            .map(|_| sd * normal(&mut rng))
            .collect();
        FlickerSources {
            decay,
            innovation,
            amplitude: c.iter().map(|v| v.sqrt()).collect(),
            state,
            rng,
        }
    }

    pub fn len(&self) -> usize {
        self.amplitude.len()
    }

    pub fn is_empty(&self) -> bool {
        self.amplitude.is_empty()
    }

    /// Writes each source's present value into `out` and advances every pole by one step.
    pub fn emit_and_advance<T: Real>(&mut self, out: &mut [T]) {
        let k = self.decay.len();
        for (i, o) in out.iter_mut().enumerate().take(self.amplitude.len()) {
            let poles = &mut self.state[i * k..(i + 1) * k];
            let sum: f64 = poles.iter().sum();
            *o = T::of_f64(self.amplitude[i] * sum);
            for ((x, &e), &s) in poles.iter_mut().zip(&self.decay).zip(&self.innovation) {
                *x = e * *x + s * normal(&mut self.rng);
            }
        }
    }
}

/// The 1/f coefficients `c` (`S = c / f`, node units^2) of one layer's amplifiers, laid out as
/// their white densities in [`super::circuit::LayerCircuit`]: the forward TIA and error
/// amplifier of each output (`outputs`), the backward TIA of each input (l >= 2), the integrator
/// of each output (l < L).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlickerCoefficients {
    pub error: Vec<f64>,
    pub backward: Vec<f64>,
    pub integrator: Vec<f64>,
}

/// The 1/f inputs of one chunk's amplifiers at the present step, and their sources.
#[derive(Clone, Debug)]
pub struct FlickerInputs<T: Real> {
    /// Per (sample, layer l = 1..L), `s * L + l - 1`: the sources of eps_l, then (l < L) of the
    /// backward TIAs onto z_l and of z_l's integrators.
    sources: Vec<FlickerSources>,
    widths: Vec<usize>,
    /// Per layer l (index l-1), `n_l x batch`: added to eps_l.
    pub e: Vec<Vec<T>>,
    /// Per hidden layer l: added to the backward TIA outputs q_l.
    pub q: Vec<Vec<T>>,
    /// Per hidden layer l: added to the integrators' drive.
    pub z: Vec<Vec<T>>,
    scratch: Vec<T>,
}

/// Stream tag of the 1/f sources, apart from the white noise's and the devices'.
const FLICKER_STREAM: u64 = 0x0f1c << 48;

impl<T: Real> FlickerInputs<T> {
    /// The inputs of samples `s0..s0 + batch` of a circuit of widths `w` whose layer l has the
    /// coefficients `layers[l - 1]` (none when no amplifier has 1/f noise), over the band of a
    /// run of `t_max` in steps of `dt`.
    pub fn new(
        w: &[usize],
        layers: &[Option<&FlickerCoefficients>],
        (s0, batch): (usize, usize),
        (dt_seconds, t_max_seconds): (f64, f64),
        seed: u64,
    ) -> Option<Self> {
        if layers.iter().all(Option::is_none) {
            return None;
        }
        let band = FlickerBand::of_run(dt_seconds, t_max_seconds);
        let l_out = layers.len();
        let none = FlickerCoefficients::default();
        let coef = |l: usize| layers[l - 1].unwrap_or(&none);
        let sources = (s0..s0 + batch)
            .flat_map(|s| (1..=l_out).map(move |l| (s, l)))
            .map(|(s, l)| {
                let mut c = padded(&coef(l).error, w[l]);
                if l < l_out {
                    c.extend(padded(&coef(l + 1).backward, w[l]));
                    c.extend(padded(&coef(l).integrator, w[l]));
                }
                let stream = FLICKER_STREAM | (s as u64) << 8 | l as u64;
                FlickerSources::new(&c, &band, dt_seconds, seed, stream)
            })
            .collect();
        let per_layer = |ls: std::ops::Range<usize>| -> Vec<Vec<T>> {
            ls.map(|l| vec![T::zero(); w[l] * batch]).collect()
        };
        Some(FlickerInputs {
            sources,
            widths: w.to_vec(),
            e: per_layer(1..l_out + 1),
            q: per_layer(1..l_out),
            z: per_layer(1..l_out),
            scratch: vec![T::zero(); 3 * w.iter().max().copied().unwrap_or(0)],
        })
    }

    /// Sets the inputs to the sources' present values and advances the sources by one step.
    pub fn advance(&mut self) {
        let l_out = self.widths.len() - 1;
        let batch = self.sources.len() / l_out;
        for s in 0..batch {
            for l in 1..=l_out {
                let n = self.widths[l];
                let src = &mut self.sources[s * l_out + l - 1];
                let out = &mut self.scratch[..src.len()];
                src.emit_and_advance(out);
                let cols = s * n..(s + 1) * n;
                self.e[l - 1][cols.clone()].copy_from_slice(&out[..n]);
                if l < l_out {
                    self.q[l - 1][cols.clone()].copy_from_slice(&out[n..2 * n]);
                    self.z[l - 1][cols].copy_from_slice(&out[2 * n..3 * n]);
                }
            }
        }
    }

    /// Adds the 1/f inputs of layer `l`'s error nodes to its eps.
    pub fn add_to_errors(&self, eps: &mut [T], l: usize) {
        for (v, &x) in eps.iter_mut().zip(&self.e[l - 1]) {
            *v += x;
        }
    }

    /// Adds the 1/f inputs of every layer's error nodes to eps (`eps[l - 1]` per layer).
    pub fn add_to_all_errors(&self, eps: &mut [Vec<T>]) {
        for (l, e) in eps.iter_mut().enumerate() {
            self.add_to_errors(e, l + 1);
        }
    }
}

/// `c`, or zeros when a layer has none of these amplifiers' 1/f noise.
fn padded(c: &[f64], n: usize) -> Vec<f64> {
    if c.len() == n {
        c.to_vec()
    } else {
        vec![0.0; n]
    }
}

fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    <StandardNormal as Distribution<f64>>::sample(&StandardNormal, rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_poles_sum_to_one_over_f_inside_the_band() {
        // The closed form of the sum of Lorentzians against 1/f, two decades inside each end.
        let band = FlickerBand::new(1e2, 1e8);
        for k in 0..=20 {
            let f = 1e4 * 10f64.powf(k as f64 / 10.0);
            let ratio = band.density(f) * f;
            assert!((ratio - 1.0).abs() < 0.01, "f = {f}: f S(f) = {ratio}");
        }
    }
}
