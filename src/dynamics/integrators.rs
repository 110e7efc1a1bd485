//! The fixed-step explicit schemes (Euler, Heun, classical Runge–Kutta), in place and
//! allocation-free after construction. They step every time-stepped system of apcsim: the
//! ideal inference ([`super::infer`]) and the analog circuit ([`crate::analog::sim`]).
//!
//! A scheme only combines evaluations of a [`System`]'s right-hand side. A stochastic system
//! (the analog circuit with noise) holds the noise increment of the step itself and is told by
//! [`Stage`] which evaluation of the step it serves: Euler is then Euler–Maruyama and Heun the
//! stochastic Heun scheme, whose corrector reuses the step's increment; the inner stages of
//! Runge–Kutta are noise-free (it integrates deterministic systems only). After a step, and
//! after Heun's predictor, the state is passed through [`System::constrain`] (the rails of a
//! circuit).
//!
//! # Reference
//! Hairer, Nørsett & Wanner, "Solving Ordinary Differential Equations I", §II.1 (Euler, Heun
//! and the classical fourth-order Runge–Kutta method); Kloeden & Platen, "Numerical Solution
//! of Stochastic Differential Equations", Springer 1992: Euler–Maruyama (§10.2, strong order
//! 1/2) and the stochastic Heun scheme (strong order 1 for additive noise).

use super::system::{Stage, System};
use crate::numeric::{c, Real};

/// A fixed-step scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Euler; Euler–Maruyama with noise.
    Euler,
    /// Heun; stochastic Heun with noise.
    Heun,
    /// Classical Runge–Kutta 4 (deterministic only).
    Rk4,
}

/// One step of a fixed-step scheme.
pub trait Integrator<T: Real> {
    /// Advances `z` from `t` to `t + h` in place.
    fn step<S: System<T>>(&mut self, sys: &mut S, t: T, h: T, z: &mut [T]);
}

/// Forward Euler: z <- z + h f(t, z). With f = -dE_i/dz_i this is the JPC reference update.
pub struct Euler<T> {
    k: Vec<T>,
}

impl<T: Real> Euler<T> {
    pub fn new(dim: usize) -> Self {
        Euler {
            k: vec![T::zero(); dim],
        }
    }
}

impl<T: Real> Integrator<T> for Euler<T> {
    fn step<S: System<T>>(&mut self, sys: &mut S, t: T, h: T, z: &mut [T]) {
        sys.rhs_axpy(t, h, z, &mut self.k);
        sys.constrain(z);
    }
}

/// Heun's method (the explicit trapezoidal rule): an Euler predictor, then the mean of the
/// slopes at both ends.
pub struct Heun<T> {
    k1: Vec<T>,
    k2: Vec<T>,
    tmp: Vec<T>,
}

impl<T: Real> Heun<T> {
    pub fn new(dim: usize) -> Self {
        let z = vec![T::zero(); dim];
        Heun {
            k1: z.clone(),
            k2: z.clone(),
            tmp: z,
        }
    }
}

impl<T: Real> Integrator<T> for Heun<T> {
    fn step<S: System<T>>(&mut self, sys: &mut S, t: T, h: T, z: &mut [T]) {
        sys.rhs_stage(Stage::Start, t, z, &mut self.k1);
        axpy_into(&mut self.tmp, z, h, &self.k1);
        sys.constrain(&mut self.tmp);
        sys.rhs_stage(Stage::Corrector, t + h, &self.tmp, &mut self.k2);
        let half = h * c::<T>(0.5);
        for ((zi, &a), &b) in z.iter_mut().zip(&self.k1).zip(&self.k2) {
            *zi += half * (a + b);
        }
        sys.constrain(z);
    }
}

/// Classical fourth-order Runge–Kutta.
pub struct Rk4<T> {
    k1: Vec<T>,
    k2: Vec<T>,
    k3: Vec<T>,
    k4: Vec<T>,
    tmp: Vec<T>,
}

impl<T: Real> Rk4<T> {
    pub fn new(dim: usize) -> Self {
        let z = vec![T::zero(); dim];
        Rk4 {
            k1: z.clone(),
            k2: z.clone(),
            k3: z.clone(),
            k4: z.clone(),
            tmp: z,
        }
    }
}

impl<T: Real> Integrator<T> for Rk4<T> {
    fn step<S: System<T>>(&mut self, sys: &mut S, t: T, h: T, z: &mut [T]) {
        let half = c::<T>(0.5) * h;
        sys.rhs_stage(Stage::Start, t, z, &mut self.k1);
        axpy_into(&mut self.tmp, z, half, &self.k1);
        sys.rhs_stage(Stage::Inner, t + half, &self.tmp, &mut self.k2);
        axpy_into(&mut self.tmp, z, half, &self.k2);
        sys.rhs_stage(Stage::Inner, t + half, &self.tmp, &mut self.k3);
        axpy_into(&mut self.tmp, z, h, &self.k3);
        sys.rhs_stage(Stage::Inner, t + h, &self.tmp, &mut self.k4);
        let sixth = h / c::<T>(6.0);
        let two = c::<T>(2.0);
        for i in 0..z.len() {
            z[i] += sixth * (self.k1[i] + two * (self.k2[i] + self.k3[i]) + self.k4[i]);
        }
        sys.constrain(z);
    }
}

/// `out = z + a k`.
fn axpy_into<T: Real>(out: &mut [T], z: &[T], a: T, k: &[T]) {
    for ((o, &zi), &ki) in out.iter_mut().zip(z).zip(k) {
        *o = zi + a * ki;
    }
}

/// The integrator of a scheme chosen at run time: one match per step, the stages inside
/// monomorphised.
pub enum Stepper<T> {
    Euler(Euler<T>),
    Heun(Heun<T>),
    Rk4(Rk4<T>),
}

impl<T: Real> Stepper<T> {
    /// A stepper of `scheme` for states of length `dim`.
    pub fn new(scheme: Scheme, dim: usize) -> Self {
        match scheme {
            Scheme::Euler => Stepper::Euler(Euler::new(dim)),
            Scheme::Heun => Stepper::Heun(Heun::new(dim)),
            Scheme::Rk4 => Stepper::Rk4(Rk4::new(dim)),
        }
    }

    pub fn scheme(&self) -> Scheme {
        match self {
            Stepper::Euler(_) => Scheme::Euler,
            Stepper::Heun(_) => Scheme::Heun,
            Stepper::Rk4(_) => Scheme::Rk4,
        }
    }
}

impl<T: Real> Integrator<T> for Stepper<T> {
    fn step<S: System<T>>(&mut self, sys: &mut S, t: T, h: T, z: &mut [T]) {
        match self {
            Stepper::Euler(i) => i.step(sys, t, h, z),
            Stepper::Heun(i) => i.step(sys, t, h, z),
            Stepper::Rk4(i) => i.step(sys, t, h, z),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dz/dt = -k z, exact solution z0 exp(-k t).
    struct Decay {
        k: f64,
        n: usize,
    }
    impl System<f64> for Decay {
        fn dim(&self) -> usize {
            1
        }
        fn rhs(&mut self, _t: f64, z: &[f64], dz: &mut [f64]) {
            dz[0] = -self.k * z[0];
            self.n += 1;
        }
        fn evaluations(&self) -> usize {
            self.n
        }
    }

    fn global_error(scheme: Scheme, steps: usize) -> f64 {
        let mut sys = Decay { k: 1.3, n: 0 };
        let mut integ = Stepper::new(scheme, 1);
        let dt = 1.0 / steps as f64;
        let mut z = [1.0];
        for s in 0..steps {
            integ.step(&mut sys, s as f64 * dt, dt, &mut z);
        }
        (z[0] - (-1.3f64).exp()).abs()
    }

    // Halving the step divides the global error of an order-p scheme by 2^p (1 + O(k h)); the
    // bound allows the O(k h) term with a factor 2 of margin.
    fn assert_order(scheme: Scheme, p: i32, steps: usize) {
        let ratio = global_error(scheme, steps) / global_error(scheme, 2 * steps);
        let expect = 2f64.powi(p);
        assert!(
            (ratio - expect).abs() < expect * 2.0 * 1.3 / steps as f64,
            "{scheme:?}: ratio {ratio}, expected {expect}"
        );
    }

    #[test]
    fn euler_is_first_order() {
        assert_order(Scheme::Euler, 1, 200);
    }

    #[test]
    fn heun_is_second_order() {
        assert_order(Scheme::Heun, 2, 100);
    }

    #[test]
    fn rk4_is_fourth_order() {
        assert_order(Scheme::Rk4, 4, 40);
    }

    /// dz/dt = 1 from z = 0, kept within [-r, r]: every scheme ends a step at the bound, and
    /// Heun's corrector sees the constrained predictor.
    struct Ramp {
        r: f64,
        seen: Vec<(Stage, f64)>,
    }
    impl System<f64> for Ramp {
        fn dim(&self) -> usize {
            1
        }
        fn rhs(&mut self, _t: f64, _z: &[f64], dz: &mut [f64]) {
            dz[0] = 1.0;
        }
        fn rhs_stage(&mut self, stage: Stage, t: f64, z: &[f64], dz: &mut [f64]) {
            self.seen.push((stage, z[0]));
            self.rhs(t, z, dz);
        }
        fn evaluations(&self) -> usize {
            self.seen.len()
        }
        fn constrain(&self, z: &mut [f64]) {
            z[0] = z[0].clamp(-self.r, self.r);
        }
    }

    #[test]
    fn stages_and_constraints_as_documented() {
        let expect = [
            (Scheme::Euler, vec![Stage::Start]),
            (Scheme::Heun, vec![Stage::Start, Stage::Corrector]),
            (
                Scheme::Rk4,
                vec![Stage::Start, Stage::Inner, Stage::Inner, Stage::Inner],
            ),
        ];
        for (scheme, stages) in expect {
            let mut sys = Ramp {
                r: 0.5,
                seen: Vec::new(),
            };
            let mut z = [0.0];
            Stepper::new(scheme, 1).step(&mut sys, 0.0, 1.0, &mut z);
            assert_eq!(z[0], 0.5, "{scheme:?} ends at the bound");
            let got: Vec<Stage> = sys.seen.iter().map(|s| s.0).collect();
            assert_eq!(got, stages, "{scheme:?}");
            if scheme == Scheme::Heun {
                // The predictor z + h = 1 is clamped to 0.5 before the corrector sees it.
                assert_eq!(sys.seen[1].1, 0.5);
            }
            if scheme == Scheme::Rk4 {
                // The last inner stage is at z + h k3 = 1, not constrained.
                assert_eq!(sys.seen[3].1, 1.0);
            }
        }
    }
}
