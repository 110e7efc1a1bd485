//! Activation functions phi and their derivatives, applied elementwise to value nodes.
//!
//! Derivatives at kinks follow the JPC library (JAX's automatic differentiation): relu'(0) = 0,
//! hard_tanh'(+-1) = 1, so that gradients reproduce the reference files exactly.

use crate::real::{c, Real};
use std::fmt;
use std::str::FromStr;

/// The nonlinearity of the hidden value nodes (the input is never passed through it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    Linear,
    Tanh,
    Sigmoid,
    Relu,
    HardTanh,
    Silu,
}

impl Activation {
    /// Every activation, in the order the documentation lists them.
    pub const ALL: [Activation; 6] = [
        Activation::Linear,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Relu,
        Activation::HardTanh,
        Activation::Silu,
    ];

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
            Activation::HardTanh => "hard_tanh",
            Activation::Silu => "silu",
        }
    }

    /// True when phi is the identity, which makes the energy quadratic in the activities.
    pub fn is_linear(self) -> bool {
        self == Activation::Linear
    }

    /// phi(x).
    #[inline]
    pub fn value<T: Real>(self, x: T) -> T {
        match self {
            Activation::Linear => x,
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => sigmoid(x),
            Activation::Relu => {
                if x > T::zero() {
                    x
                } else {
                    T::zero()
                }
            }
            Activation::HardTanh => x.clamp(-T::one(), T::one()),
            Activation::Silu => x * sigmoid(x),
        }
    }

    /// phi'(x).
    #[inline]
    pub fn derivative<T: Real>(self, x: T) -> T {
        match self {
            Activation::Linear => T::one(),
            Activation::Tanh => {
                let t = x.tanh();
                T::one() - t * t
            }
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s * (T::one() - s)
            }
            Activation::Relu => {
                if x > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::HardTanh => {
                if x >= -T::one() && x <= T::one() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::Silu => {
                let s = sigmoid(x);
                s * (T::one() + x * (T::one() - s))
            }
        }
    }

    /// Writes phi(x) into `out` and, when given, phi'(x) into `dout`.
    pub fn apply<T: Real>(self, x: &[T], out: &mut [T], dout: Option<&mut [T]>) {
        match dout {
            Some(d) => {
                for ((o, d), &v) in out.iter_mut().zip(d.iter_mut()).zip(x) {
                    *o = self.value(v);
                    *d = self.derivative(v);
                }
            }
            None => {
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = self.value(v);
                }
            }
        }
    }
}

#[inline]
fn sigmoid<T: Real>(x: T) -> T {
    // Written so that neither branch overflows exp for large |x|.
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An activation name that apcsim does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown activation '{0}' (expected one of linear, tanh, sigmoid, relu, hard_tanh, silu)")]
pub struct UnknownActivation(pub String);

impl FromStr for Activation {
    type Err = UnknownActivation;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let norm = match lower.as_str() {
            "identity" => "linear",
            "hardtanh" | "hard-tanh" => "hard_tanh",
            "swish" => "silu",
            other => other,
        };
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == norm)
            .ok_or_else(|| UnknownActivation(s.to_string()))
    }
}

/// Central finite difference of phi, used by tests as an independent check of `derivative`.
pub fn finite_difference<T: Real>(act: Activation, x: T, h: T) -> T {
    (act.value(x + h) - act.value(x - h)) / (c::<T>(2.0) * h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences_away_from_kinks() {
        for act in Activation::ALL {
            for &x in &[-2.3f64, -0.7, -0.05, 0.3, 0.9, 1.7, 4.0] {
                let fd = finite_difference(act, x, 1e-6);
                let d = act.derivative(x);
                assert!((fd - d).abs() < 1e-8, "{act} at {x}: {d} vs {fd}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for act in Activation::ALL {
            assert_eq!(act.name().parse::<Activation>().unwrap(), act);
        }
        assert!("softplus".parse::<Activation>().is_err());
    }

    #[test]
    fn sigmoid_is_stable_for_large_inputs() {
        assert_eq!(Activation::Sigmoid.value(-1000.0f64), 0.0);
        assert_eq!(Activation::Sigmoid.value(1000.0f64), 1.0);
        assert!(Activation::Silu.value(-800.0f64).abs() < 1e-300);
    }
}
