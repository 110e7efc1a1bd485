//! Single-pole amplifiers and the lines' RC delay (docs/circuit-model.md, "Amplifier poles" and
//! "Line RC"): every amplifier's output lags its ideal value.
//!
//! An op-amp of open-loop gain `A(s) = A / (1 + s tau_a)`, `tau_a = A / (2 pi GBW)` (one pole,
//! gain-bandwidth product GBW), in a loop of noise gain `N` (feedback factor `1 / N`) obeys
//! `tau_a dV_o/dt = A V_d - V_o` with `V_d` its differential input. Kirchhoff at the inverting
//! input of a TIA whose line sources the short-circuit current `I` gives
//! `V_- = (R_f I + V_o) / N`, `N = 1 + R_f G_sum`, so
//!
//! ```text
//! tau_a N / (A + N) dV_o/dt = -c R_f I - V_o,      c = A / (A + N)
//! ```
//!
//! a first-order lag of the closed-loop output `-c R_f I` with time constant
//! `tau = c N / (2 pi GBW)` (`N / (2 pi GBW)`, the closed-loop bandwidth `GBW / N`, for
//! `A -> inf`). The error amplifier, a difference amplifier of four equal resistors (noise
//! gain 2), lags its closed-loop output `A / (A + 2) eps` with `tau = c_e 2 / (2 pi GBW)`,
//! `c_e = A / (A + 2)`. The Miller integrator's op-amp (`V_o = -A V_-` at DC) with the input
//! resistor R and the capacitor C (charge state `z*`, the voltage across C over `-v_read`):
//! `RC dz*/dt = c_z d + c_z z - z*` with `c_z = A / (A + 1)` and its output `z` lagging `z*`
//! with `tau = c_z / (2 pi GBW)` (noise gain 1); at rest `z = z*` and this is the leaky
//! integrator of [`super::amplifier`].
//!
//! A line of `n` cells driven at one end through a segment of resistance R before each cell,
//! each cell's node with a capacitance C to ground, delays the drive of its k-th cell by the
//! Elmore delay `R C (k (n + 1) - k (k + 1) / 2)` (the first moment of its step response). A
//! TIA collects cells at one position along the lines that drive it, so its input current lags
//! by that delay; in series with its amplifier's pole, the two lags add to first order (Elmore
//! again): `tau = c N / (2 pi GBW) + tau_line`. The sensed lines sit at the virtual ground and
//! move by their IR drop only; their capacitance is neglected.
//!
//! # Reference
//! Sansen, "Analog Design Essentials" (Springer 2006), ch. 4 (the single-pole op-amp, GBW and
//! the closed-loop bandwidth `GBW / N`); Elmore, J. Appl. Phys. 19 (1948) 55 (the delay of an
//! RC network as the first moment of its impulse response).

/// The time constant (seconds) of a single-pole op-amp of gain-bandwidth `gbw` (hertz) and
/// open-loop gain `gain` (`None`: infinite) in a loop of noise gain `noise_gain`:
/// `c N / (2 pi GBW)`, `c = A / (A + N)`.
pub fn closed_loop_time_constant(gbw: f64, gain: Option<f64>, noise_gain: f64) -> f64 {
    let c = gain.map_or(1.0, |a| a / (a + noise_gain));
    c * noise_gain / (2.0 * std::f64::consts::PI * gbw)
}

/// The closed-loop gain `A / (A + 2)` of the error amplifier (a difference amplifier of noise
/// gain 2; 1 when ideal).
pub fn error_amplifier_gain(gain: Option<f64>) -> f64 {
    gain.map_or(1.0, |a| a / (a + 2.0))
}

/// The Elmore delay (seconds) of the `k`-th cell (1-based) of a line of `n` cells driven at
/// one end, `r` ohms before each cell and `c` farads at each: `r c (k (n + 1) - k (k + 1) / 2)`.
pub fn elmore_delay(r: f64, c: f64, n: usize, k: usize) -> f64 {
    let (n, k) = (n as f64, k as f64);
    r * c * (k * (n + 1.0) - k * (k + 1.0) / 2.0)
}

/// The line delay of each of `sensed` TIAs whose cells sit across driven lines cut into tiles
/// of `tile` cells along them (a TIA's cells are at one position of each line). `from_end`:
/// the lines are driven from their far end (a reverse read: the cell nearest the driver is
/// the tile's last).
pub fn line_delays(sensed: usize, tile: usize, (r, c): (f64, f64), from_end: bool) -> Vec<f64> {
    if r == 0.0 || c == 0.0 {
        return vec![0.0; sensed];
    }
    let tile = tile.max(1);
    (0..sensed)
        .map(|j| {
            let start = j / tile * tile;
            let n = tile.min(sensed - start);
            let k = if from_end {
                start + n - j
            } else {
                j - start + 1
            };
            elmore_delay(r, c, n, k)
        })
        .collect()
}

/// The poles of a circuit's amplifiers as rates in units of `1 / tau_z`.
#[derive(Clone, Debug, PartialEq)]
pub struct AmplifierPoles {
    /// Forward TIAs, per layer l = 1..L (index l-1), one per output.
    pub forward: Vec<Vec<f64>>,
    /// The error amplifiers' stage (every layer).
    pub error: f64,
    /// Backward TIAs, per hidden layer h = 1..L-1 (index h-1), one per node.
    pub backward: Vec<Vec<f64>>,
    /// The integrators' outputs.
    pub integrator: f64,
}

/// The pole states' rates laid out as the states are, for one batch size: `p` and `a` as the
/// error nodes (layers 1..L), `q` and the integrator outputs as the value nodes.
#[derive(Clone, Debug)]
pub struct LagRates {
    pub forward: Vec<f64>,
    pub error: f64,
    pub backward: Vec<f64>,
    pub integrator: f64,
    /// Lengths of the error-node and value-node layouts.
    pub n_error: usize,
    pub n_value: usize,
}

impl AmplifierPoles {
    /// The rates laid out for `batch` samples.
    pub fn laid_out(&self, batch: usize) -> LagRates {
        let expand = |per_layer: &[Vec<f64>]| -> Vec<f64> {
            per_layer
                .iter()
                .flat_map(|r| (0..batch).flat_map(move |_| r.iter().copied()))
                .collect()
        };
        let forward = expand(&self.forward);
        let backward = expand(&self.backward);
        LagRates {
            n_error: forward.len(),
            n_value: backward.len(),
            forward,
            error: self.error,
            backward,
            integrator: self.integrator,
        }
    }
}

impl AmplifierPoles {
    /// The largest finite rate of any pole (per tau_z; 0 when none is finite).
    pub fn fastest_rate(&self) -> f64 {
        self.forward
            .iter()
            .chain(&self.backward)
            .flatten()
            .chain([&self.error, &self.integrator])
            .filter(|r| r.is_finite())
            .fold(0.0, |m, &r| m.max(r))
    }
}

impl LagRates {
    /// Length of the pole states: p, a (error layout), q, integrator outputs (value layout).
    pub fn len(&self) -> usize {
        2 * (self.n_error + self.n_value)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The four blocks of the pole states.
pub struct Lags<S> {
    /// Forward TIA outputs (node units, offsets included), error layout.
    pub p: S,
    /// The error amplifiers' stage (its output before the tau_e low-pass), error layout.
    pub a: S,
    /// Backward TIA outputs (offsets included), value layout.
    pub q: S,
    /// The integrators' outputs, value layout: what the rest of the circuit reads.
    pub zo: S,
}

/// Splits pole states (or their derivatives) into their blocks.
pub fn split<T>(s: &[T], n_error: usize, n_value: usize) -> Lags<&[T]> {
    let (p, rest) = s.split_at(n_error);
    let (a, rest) = rest.split_at(n_error);
    let (q, zo) = rest.split_at(n_value);
    Lags { p, a, q, zo }
}

/// [`split`], mutably.
pub fn split_mut<T>(s: &mut [T], n_error: usize, n_value: usize) -> Lags<&mut [T]> {
    let (p, rest) = s.split_at_mut(n_error);
    let (a, rest) = rest.split_at_mut(n_error);
    let (q, zo) = rest.split_at_mut(n_value);
    Lags { p, a, q, zo }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closed_loop_pole_is_the_gbw_over_the_noise_gain() {
        let tau = closed_loop_time_constant(1e9, None, 4.0);
        assert!((tau - 4.0 / (2.0 * std::f64::consts::PI * 1e9)).abs() < 1e-24);
        // Finite gain: the loop gain A / N sets the bandwidth, (A + N) / (2 pi tau_a N).
        let (a, n, gbw) = (100.0, 4.0, 1e9);
        let tau_a = a / (2.0 * std::f64::consts::PI * gbw);
        let expect = tau_a * n / (a + n);
        assert!((closed_loop_time_constant(gbw, Some(a), n) - expect).abs() < 1e-24);
        assert_eq!(error_amplifier_gain(Some(98.0)), 0.98);
    }

    #[test]
    fn the_elmore_delay_sums_the_downstream_capacitance_of_each_segment() {
        // k = 2 of n = 3: segment 1 charges 3 C, segment 2 charges 2 C.
        assert!((elmore_delay(2.0, 1.0, 3, 2) - 2.0 * 5.0).abs() < 1e-12);
        // Tiles of 2 along lines of 3 cells: positions 1, 2 | 1 (a partial tile of 1).
        let d = line_delays(3, 2, (1.0, 1.0), false);
        assert_eq!(d, vec![2.0, 3.0, 1.0]);
        // Driven from the far end: the tile's last cell is the nearest.
        let r = line_delays(3, 2, (1.0, 1.0), true);
        assert_eq!(r, vec![3.0, 2.0, 1.0]);
    }
}
