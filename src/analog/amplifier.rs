//! Finite-gain amplifiers beyond the TIAs' closed-loop factor (docs/circuit-model.md, "Finite
//! gain and offsets"): the integrator's leak.
//!
//! A Miller integrator (input resistor R into the inverting input of an op-amp of open-loop gain
//! A, capacitor C from output to input, `V_out = -A V_-`) whose input resistor is driven at
//! `-V_d` obeys, by Kirchhoff's current law at the inverting input
//! (`(-V_d - V_-) / R = C d(V_- - V_out)/dt`) with `V_- = -V_out / A`,
//!
//! ```text
//! R C (1 + 1/A) dV_out/dt = V_d - V_out / A
//! ```
//!
//! so in node units and `s = t / tau_z` (`tau_z = RC`): `dz/ds = (d - z / A) / (1 + 1 / A) =
//! c d - z / (A + 1)` with `c = A / (A + 1)`. Alone (`d = 0`) the node decays as
//! `exp(-t / ((A + 1) tau_z))`: the leak. `A -> inf` gives back the ideal integrator. The SPICE
//! export's integrator is this circuit with the same A.

use crate::numeric::Real;

/// The integrator's drive factor `c = A / (A + 1)` and leak rate `1 / (A + 1)` (per tau_z).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntegratorLeak {
    pub gain: f64,
    pub rate: f64,
}

impl IntegratorLeak {
    /// The integrator of open-loop gain `a`.
    pub fn of_gain(a: f64) -> Self {
        IntegratorLeak {
            gain: a / (a + 1.0),
            rate: 1.0 / (a + 1.0),
        }
    }

    /// dz/ds of a node at `z` whose ideal integrator would move at `drive`.
    #[inline]
    pub fn drive<T: Real>(self, drive: T, z: T) -> T {
        T::of_f64(self.gain) * drive - T::of_f64(self.rate) * z
    }

    /// The leak's time constant in units of tau_z, `A + 1`.
    pub fn time_constant(self) -> f64 {
        1.0 / self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undriven_integrator_decays_with_time_constant_a_plus_one() {
        // Exact solution of dz/ds = -z / (A + 1): the leak alone, integrated in closed form by
        // tiny Euler steps as an independent check of the rate.
        let leak = IntegratorLeak::of_gain(1e3);
        assert_eq!(leak.time_constant(), 1001.0);
        let (mut z, h) = (1.0f64, 1e-3);
        for _ in 0..100_000 {
            z += h * leak.drive(0.0, z);
        }
        let exact = (-100.0 / 1001.0f64).exp();
        assert!((z - exact).abs() < 1e-6, "{z} vs {exact}");
        assert_eq!(leak.drive(2.0, 0.0), 2.0 * 1e3 / 1001.0);
    }
}
