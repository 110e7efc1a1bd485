//! Activation functions phi and their derivatives, applied elementwise to value nodes.
//!
//! Derivatives at kinks follow the JPC library (JAX's automatic differentiation): relu'(0) = 0,
//! hard_tanh'(+-1) = 1, so that gradients reproduce the reference files exactly.

use crate::numeric::vmath::Kernel;
use crate::numeric::{c, Real};
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

    /// The vectorised kernel computing this activation, if it has one.
    fn kernel(self) -> Option<Kernel> {
        match self {
            Activation::Tanh => Some(Kernel::Tanh),
            Activation::Sigmoid => Some(Kernel::Sigmoid),
            Activation::Silu => Some(Kernel::Silu),
            _ => None,
        }
    }

    /// phi(x).
    #[inline]
    pub fn value<T: Real>(self, x: T) -> T {
        self.value_and_derivative(x).0
    }

    /// phi'(x).
    #[inline]
    pub fn derivative<T: Real>(self, x: T) -> T {
        self.value_and_derivative(x).1
    }

    /// phi(x) and phi'(x). The smooth activations go through the same kernels as whole layers
    /// do, so a scalar and a layer evaluation agree bit for bit.
    #[inline]
    pub fn value_and_derivative<T: Real>(self, x: T) -> (T, T) {
        if let Some(k) = self.kernel() {
            let (mut v, mut d) = ([T::zero()], [T::zero()]);
            T::apply_kernel(k, &[x], &mut v, &mut d);
            return (v[0], d[0]);
        }
        match self {
            Activation::Relu => {
                if x > T::zero() {
                    (x, T::one())
                } else {
                    (T::zero(), T::zero())
                }
            }
            Activation::HardTanh => {
                if x >= -T::one() && x <= T::one() {
                    (x, T::one())
                } else {
                    (x.clamp(-T::one(), T::one()), T::zero())
                }
            }
            _ => (x, T::one()),
        }
    }

    /// phi''(x), from phi and phi' (tanh'' = -2 phi phi', sigmoid'' = phi' (1 - 2 phi),
    /// silu'' = s (1 - s) (2 + x (1 - 2 s)) with s the sigmoid); 0 for the piecewise-linear
    /// activations, whose second derivative vanishes wherever it exists.
    #[inline]
    pub fn second_derivative<T: Real>(self, x: T) -> T {
        let two = c::<T>(2.0);
        match self {
            Activation::Tanh => {
                let (v, d) = self.value_and_derivative(x);
                -two * v * d
            }
            Activation::Sigmoid => {
                let (v, d) = self.value_and_derivative(x);
                d * (T::one() - two * v)
            }
            Activation::Silu => {
                let (s, ds) = Activation::Sigmoid.value_and_derivative(x);
                ds * (two + x * (T::one() - two * s))
            }
            Activation::Linear | Activation::Relu | Activation::HardTanh => T::zero(),
        }
    }

    /// Writes phi(x) into `out` and, when given, phi'(x) into `dout`.
    pub fn apply<T: Real>(self, x: &[T], out: &mut [T], dout: Option<&mut [T]>) {
        if let Some(k) = self.kernel() {
            match dout {
                Some(d) => T::apply_kernel(k, x, out, d),
                None => {
                    let mut scratch = vec![T::zero(); x.len()];
                    T::apply_kernel(k, x, out, &mut scratch)
                }
            }
            return;
        }
        match dout {
            Some(d) => {
                for ((o, d), &v) in out.iter_mut().zip(d.iter_mut()).zip(x) {
                    (*o, *d) = self.value_and_derivative(v);
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
    fn second_derivatives_match_finite_differences_of_the_first() {
        for act in Activation::ALL {
            for &x in &[-2.3f64, -0.7, -0.05, 0.3, 0.9, 1.7, 4.0] {
                let h = 1e-5;
                let fd = (act.derivative(x + h) - act.derivative(x - h)) / (2.0 * h);
                let d2 = act.second_derivative(x);
                assert!((fd - d2).abs() < 1e-8, "{act} at {x}: {d2} vs {fd}");
            }
        }
    }

    #[test]
    fn fused_evaluation_matches_separate_ones() {
        for act in Activation::ALL {
            for &x in &[-30.0f64, -2.3, -1.0, -0.05, 0.0, 0.3, 1.0, 1.7, 30.0] {
                let (v, d) = act.value_and_derivative(x);
                assert_eq!(v, act.value(x), "{act} value at {x}");
                assert!(
                    (d - act.derivative(x)).abs() <= 4.0 * f64::EPSILON,
                    "{act} at {x}"
                );
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
