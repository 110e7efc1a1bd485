//! Fixed-step explicit integrators, in place, allocation-free after construction.
//!
//! Each step evaluates f at the current state first, so the caller gets max|dz/dt| at the state
//! before the step at no extra cost (the steady-state test of the runner).
//!
//! # Reference
//! Hairer, Nørsett & Wanner, "Solving Ordinary Differential Equations I", §II.1 (Euler and the
//! classical fourth-order Runge–Kutta method).

use super::system::System;
use crate::network::model::max_abs;
use crate::numeric::{c, Real};

/// One step of a fixed-step scheme.
pub trait Integrator<T: Real> {
    /// Advances `z` from `t` to `t + dt` in place. Returns max|f(t, z)| at the state before
    /// the step.
    fn step<S: System<T>>(&mut self, sys: &mut S, t: T, dt: T, z: &mut [T]) -> T;
}

/// Forward Euler: z <- z + dt f(t, z). With f = -dE_i/dz_i this is the JPC reference update.
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
    fn step<S: System<T>>(&mut self, sys: &mut S, t: T, dt: T, z: &mut [T]) -> T {
        sys.rhs_axpy(t, dt, z, &mut self.k)
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
    fn step<S: System<T>>(&mut self, sys: &mut S, t: T, dt: T, z: &mut [T]) -> T {
        let half = c::<T>(0.5) * dt;
        sys.rhs(t, z, &mut self.k1);
        for ((w, &zi), &k) in self.tmp.iter_mut().zip(z.iter()).zip(&self.k1) {
            *w = zi + half * k;
        }
        sys.rhs(t + half, &self.tmp, &mut self.k2);
        for ((w, &zi), &k) in self.tmp.iter_mut().zip(z.iter()).zip(&self.k2) {
            *w = zi + half * k;
        }
        sys.rhs(t + half, &self.tmp, &mut self.k3);
        for ((w, &zi), &k) in self.tmp.iter_mut().zip(z.iter()).zip(&self.k3) {
            *w = zi + dt * k;
        }
        sys.rhs(t + dt, &self.tmp, &mut self.k4);
        let sixth = dt / c::<T>(6.0);
        let two = c::<T>(2.0);
        for i in 0..z.len() {
            z[i] += sixth * (self.k1[i] + two * (self.k2[i] + self.k3[i]) + self.k4[i]);
        }
        max_abs(&self.k1)
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

    fn global_error<I: Integrator<f64>>(mut integ: I, steps: usize) -> f64 {
        let mut sys = Decay { k: 1.3, n: 0 };
        let dt = 1.0 / steps as f64;
        let mut z = [1.0];
        for s in 0..steps {
            integ.step(&mut sys, s as f64 * dt, dt, &mut z);
        }
        (z[0] - (-1.3f64).exp()).abs()
    }

    // Halving the step divides the global error of an order-p scheme by 2^p (1 + O(k h)); the
    // bound allows the O(k h) term with a factor 2 of margin.
    #[test]
    fn euler_is_first_order() {
        let ratio = global_error(Euler::new(1), 200) / global_error(Euler::new(1), 400);
        assert!(
            (ratio - 2.0).abs() < 2.0 * 2.0 * 1.3 / 200.0,
            "ratio {ratio}"
        );
    }

    #[test]
    fn rk4_is_fourth_order() {
        let ratio = global_error(Rk4::new(1), 40) / global_error(Rk4::new(1), 80);
        assert!(
            (ratio - 16.0).abs() < 16.0 * 2.0 * 1.3 / 40.0,
            "ratio {ratio}"
        );
    }
}
