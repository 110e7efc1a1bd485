//! The refresh of single-sided pairs (aihwkit's `OneSidedUnitCell`): a pair whose devices have
//! both climbed (one past `upper` of its range, the other past `lower`) is reset and its
//! difference reprogrammed onto one device, so that potentiation-only devices keep room to
//! move.

use super::scheme::PulsedPair;
use super::{Refresh, UpdateParams};
use crate::hardware::params::DeviceParams;
use nalgebra::DMatrix;

impl PulsedPair {
    /// Whether pair k meets aihwkit's refresh criterion (`rpu_onesided_device.cpp`
    /// `refreshCriterion`), with each device's position w = (G - g_zero) / (b_max - g_zero)
    /// in its own range.
    pub fn needs_refresh(&self, params: &UpdateParams, r: Refresh, k: usize) -> bool {
        let zero = params.g_zero_siemens;
        let position = |g: f64, b_max: f64| {
            if b_max > zero {
                (g - zero) / (b_max - zero)
            } else {
                0.0
            }
        };
        let wp = position(self.plus[k], self.devices.response_plus[k].b_max);
        let wm = position(self.minus[k], self.devices.response_minus[k].b_max);
        let (gp, gm) = (self.plus[k], self.minus[k]);
        (gp > gm && wp > r.upper && wm > r.lower) || (gm >= gp && wp > r.lower && wm > r.upper)
    }

    /// Refreshes every pair that needs it: both devices programmed back to the window's g_min
    /// and |G+ - G-| programmed onto the larger side, by the device's programming model
    /// (quantisation and programming error, seeded by `seed`; the array's own stuck devices
    /// are left alone). Returns (pairs refreshed, pulses: two resets plus the rewrite's
    /// round(|G+ - G-| / dw_min) steps per pair).
    pub fn refresh(
        &mut self,
        params: &UpdateParams,
        r: Refresh,
        device: &DeviceParams,
        seed: u64,
    ) -> (u64, u64) {
        let due: Vec<usize> = (0..self.plus.len())
            .filter(|&k| self.needs_refresh(params, r, k))
            .collect();
        if due.is_empty() {
            return (0, 0);
        }
        let g0 = device.g_min_siemens;
        let diff: Vec<f64> = due.iter().map(|&k| self.plus[k] - self.minus[k]).collect();
        let target = |side: f64| {
            DMatrix::from_iterator(1, due.len(), diff.iter().map(|d| g0 + (side * d).max(0.0)))
        };
        // Faults belong to the array: the rewrite draws only programming error.
        let mut writer = device.clone();
        writer.stuck_off_fraction = 0.0;
        writer.stuck_on_fraction = 0.0;
        let plus = writer.program(&target(1.0), seed, 0).programmed;
        let minus = writer.program(&target(-1.0), seed, 1).programmed;
        let mut pulses = 0;
        for (n, &k) in due.iter().enumerate() {
            if !self.devices.stuck_plus[k] {
                self.plus[k] = plus[(0, n)];
            }
            if !self.devices.stuck_minus[k] {
                self.minus[k] = minus[(0, n)];
            }
            pulses += 2 + (diff[n].abs() / params.dw_min_siemens).round() as u64;
        }
        (due.len() as u64, pulses)
    }
}
