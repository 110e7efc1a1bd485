//! Parameterisations: the per-layer scalings a_l of the weights and their initialisation.
//!
//! # Reference
//! Innocenti et al., "muPC: scaling predictive coding to 100+ layer networks" (NeurIPS 2025) and
//! "On the infinite width and depth limits of predictive coding networks" (ICML 2026); the
//! JPC library's `make_skip_model` for which layers carry a skip connection.

use crate::numeric::seeds::stream_seed;
use crate::numeric::Real;
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal, Uniform};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::fmt;
use std::str::FromStr;

/// How weights are scaled in the forward pass and drawn at initialisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Parameterisation {
    /// Standard: a_l = 1, W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    Sp,
    /// muPC: a_1 = 1/sqrt(D), hidden 1/sqrt(N) (1/sqrt(N L) with skips), a_L = 1/(gamma0 N);
    /// W ~ N(0, 1).
    Mupc,
    /// Neural tangent: as muPC but a_L = 1/(gamma0 sqrt(N)); W ~ N(0, 1).
    Ntp,
}

impl Parameterisation {
    pub const ALL: [Parameterisation; 3] = [
        Parameterisation::Sp,
        Parameterisation::Mupc,
        Parameterisation::Ntp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Parameterisation::Sp => "sp",
            Parameterisation::Mupc => "mupc",
            Parameterisation::Ntp => "ntp",
        }
    }

    /// The scalings a_1..a_L for layer widths n_0..n_L (returned 0-indexed: `a[l-1]` is a_l).
    ///
    /// `fan_in` of layer l is n_{l-1}; with equal hidden widths N this is docs/design.md §1 exactly.
    pub fn scalings(self, widths: &[usize], skips: bool, gamma0: f64) -> Vec<f64> {
        let n_layers = widths.len() - 1;
        (1..=n_layers)
            .map(|l| {
                let fan_in = widths[l - 1] as f64;
                let depth = n_layers as f64;
                let output = l == n_layers;
                match self {
                    Parameterisation::Sp => {
                        if output {
                            1.0 / gamma0
                        } else {
                            1.0
                        }
                    }
                    Parameterisation::Mupc | Parameterisation::Ntp => {
                        if output {
                            match self {
                                Parameterisation::Mupc => 1.0 / (gamma0 * fan_in),
                                _ => 1.0 / (gamma0 * fan_in.sqrt()),
                            }
                        } else if l == 1 {
                            1.0 / fan_in.sqrt()
                        } else if skips {
                            1.0 / (fan_in * depth).sqrt()
                        } else {
                            1.0 / fan_in.sqrt()
                        }
                    }
                }
            })
            .collect()
    }

    /// Draws W_0..W_{L-1} (shape out x in) from this parameterisation's initial distribution.
    ///
    /// Each layer has its own stream, seeded from (seed, layer), so a layer's weights do not
    /// depend on the other layers' sizes.
    pub fn init_weights<T: Real>(self, widths: &[usize], seed: u64) -> Vec<DMatrix<T>> {
        (0..widths.len() - 1)
            .map(|l| {
                let (rows, cols) = (widths[l + 1], widths[l]);
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, l as u64));
                let mut draw: Box<dyn FnMut() -> f64> = match self {
                    Parameterisation::Sp => {
                        let bound = 1.0 / (cols as f64).sqrt();
                        let u = Uniform::new_inclusive(-bound, bound)
                            .expect("a finite, ordered interval");
                        Box::new(move || u.sample(&mut rng))
                    }
                    Parameterisation::Mupc | Parameterisation::Ntp => {
                        Box::new(move || rng.sample::<f64, _>(StandardNormal))
                    }
                };
                // Row-major draw order, the order the HDF5 layout stores weights in.
                let mut w = DMatrix::<T>::zeros(rows, cols);
                for i in 0..rows {
                    for j in 0..cols {
                        w[(i, j)] = T::of_f64(draw());
                    }
                }
                w
            })
            .collect()
    }
}

impl fmt::Display for Parameterisation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parameterisation name that apcsim does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown parameterisation '{0}' (expected one of sp, mupc, ntp)")]
pub struct UnknownParameterisation(pub String);

impl FromStr for Parameterisation {
    type Err = UnknownParameterisation;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let norm = match lower.as_str() {
            "standard" => "sp",
            "mup" | "mu_pc" | "μpc" => "mupc",
            "ntk" => "ntp",
            other => other,
        };
        Parameterisation::ALL
            .into_iter()
            .find(|p| p.name() == norm)
            .ok_or_else(|| UnknownParameterisation(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mupc_with_skips_matches_design() {
        // D = 16, N = 32, L = 4, gamma0 = 1: 1/4, 1/sqrt(128) twice, 1/32.
        let a = Parameterisation::Mupc.scalings(&[16, 32, 32, 32, 4], true, 1.0);
        let expect = [0.25, 1.0 / 128f64.sqrt(), 1.0 / 128f64.sqrt(), 1.0 / 32.0];
        for (x, e) in a.iter().zip(expect) {
            assert!((x - e).abs() < 1e-15);
        }
    }

    #[test]
    fn gamma0_divides_the_output_scaling_everywhere() {
        for p in Parameterisation::ALL {
            let a1 = p.scalings(&[8, 16, 16, 3], false, 1.0);
            let a2 = p.scalings(&[8, 16, 16, 3], false, 2.0);
            assert_eq!(a1[..2], a2[..2]);
            assert!((a1[2] / a2[2] - 2.0).abs() < 1e-15, "{p}");
        }
    }

    #[test]
    fn init_is_seeded_and_within_bounds() {
        let w1 = Parameterisation::Sp.init_weights::<f64>(&[9, 5, 2], 3);
        let w2 = Parameterisation::Sp.init_weights::<f64>(&[9, 5, 2], 3);
        assert_eq!(w1, w2);
        assert!(w1[0].iter().all(|v| v.abs() <= 1.0 / 3.0));
        let w3 = Parameterisation::Mupc.init_weights::<f64>(&[9, 5, 2], 4);
        assert_ne!(
            w3[0],
            Parameterisation::Mupc.init_weights::<f64>(&[9, 5, 2], 5)[0]
        );
    }
}
