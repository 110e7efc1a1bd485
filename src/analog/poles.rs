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

/// A TIA's loop with the capacitance of the lines it senses (docs/circuit-model.md, "Line
/// RC"): a single-pole op-amp of gain-bandwidth `gbw` (`None`: it responds instantly) and
/// open-loop gain `gain` (`None`: infinite), the feedback resistor `r_f`, a noise gain
/// `noise_gain = 1 + R_f G_sum`, and the capacitance `c_in` (farads) of its sensed lines to
/// ground at its inverting input.
///
/// Kirchhoff at the inverting input with a feedback capacitor `C_f` across `R_f`
/// (`C_T = C_in + C_f`) and the op-amp `(1 + s tau_a) V_o = -A V_-` give
///
/// ```text
/// V_o = -c R_f I / (1 + b s + a s^2),
///   b = (tau_a N + R_f C_in + (1 + A) R_f C_f) / (A + N),   a = tau_a R_f C_T / (A + N)
/// ```
///
/// (`tau_a = A / (2 pi GBW)`; `A -> inf`: `b = N / (2 pi GBW) + R_f C_f`,
/// `a = R_f C_T / (2 pi GBW)`), two real poles when `b^2 >= 4 a`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TiaLoop {
    pub gbw: Option<f64>,
    pub gain: Option<f64>,
    pub noise_gain: f64,
    pub r_f: f64,
    pub c_in: f64,
}

impl TiaLoop {
    /// `(b_0, k, a_0, m)`: the denominator's `b = b_0 + k C_f` and `a = a_0 + m C_f`.
    fn coefficients(&self) -> (f64, f64, f64, f64) {
        let (n, rf, ci) = (self.noise_gain, self.r_f, self.c_in);
        let w = self.gbw.map(|g| 2.0 * std::f64::consts::PI * g);
        match (w, self.gain) {
            (None, None) => (0.0, rf, 0.0, 0.0),
            (None, Some(a)) => (rf * ci / (a + n), (1.0 + a) * rf / (a + n), 0.0, 0.0),
            (Some(w), None) => (n / w, rf, rf * ci / w, rf / w),
            (Some(w), Some(a)) => {
                let tau_a = a / w;
                let d = a + n;
                let b0 = (tau_a * n + rf * ci) / d;
                (b0, (1.0 + a) * rf / d, tau_a * rf * ci / d, tau_a * rf / d)
            }
        }
    }

    /// The smallest feedback capacitor `C_f` (farads) that makes the loop critically damped,
    /// `b^2 = 4 a` (two equal real poles, no overshoot); 0 when the loop is not underdamped
    /// without one (no gain-bandwidth, or no line capacitance).
    pub fn feedback_capacitance(&self) -> f64 {
        let (b0, k, a0, m) = self.coefficients();
        let c = b0 * b0 - 4.0 * a0;
        if c >= 0.0 || k == 0.0 {
            return 0.0;
        }
        // k^2 x^2 + (2 b0 k - 4 m) x + c = 0 with c < 0: one positive root.
        let q = 2.0 * b0 * k - 4.0 * m;
        let disc = q * q - 4.0 * k * k * c;
        (-q + disc.sqrt()) / (2.0 * k * k)
    }

    /// The two time constants (seconds, the larger first; the second 0 for a first-order
    /// loop) of the loop with feedback capacitor `c_f`: `1 + b s + a s^2 = (1 + s tau_1)(1 +
    /// s tau_2)`. A discriminant within rounding of zero (the critically damped `C_f`) is
    /// taken as zero.
    pub fn time_constants(&self, c_f: f64) -> (f64, f64) {
        let (b0, k, a0, m) = self.coefficients();
        let (b, a) = (b0 + k * c_f, a0 + m * c_f);
        if a == 0.0 {
            return (b, 0.0);
        }
        debug_assert!(b * b - 4.0 * a >= -1e-9 * b * b, "an underdamped TIA loop");
        let disc = (b * b - 4.0 * a).max(0.0);
        let tau_1 = 0.5 * (b + disc.sqrt());
        (tau_1, a / tau_1)
    }
}

/// The capacitance to ground at a TIA's input: the wire nodes of its sensed line in both
/// arrays of the differential pair, `2 cells C` (`cells` along the line, every tile it
/// crosses).
pub fn sensed_line_capacitance(wire_capacitance: f64, cells: usize) -> f64 {
    2.0 * cells as f64 * wire_capacitance
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

/// The poles of a circuit's amplifiers as rates in units of `1 / tau_z`. A TIA has two
/// poles in series (its loop's, [`TiaLoop`]); a second rate of infinity means it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct AmplifierPoles {
    /// Forward TIAs, per layer l = 1..L (index l-1), one per output: the first pole (the line
    /// delay included) and the second.
    pub forward: Vec<Vec<f64>>,
    pub forward2: Vec<Vec<f64>>,
    /// The error amplifiers' stage (every layer).
    pub error: f64,
    /// Backward TIAs, per hidden layer h = 1..L-1 (index h-1), one per node: first and second
    /// pole.
    pub backward: Vec<Vec<f64>>,
    pub backward2: Vec<Vec<f64>>,
    /// The integrators' outputs.
    pub integrator: f64,
}

/// The pole states' rates laid out as the states are, for one batch size: `p`, `p2` and `a`
/// as the error nodes (layers 1..L), `q`, `q2` and the integrator outputs as the value nodes.
#[derive(Clone, Debug)]
pub struct LagRates {
    pub forward: Vec<f64>,
    pub forward2: Vec<f64>,
    pub error: f64,
    pub backward: Vec<f64>,
    pub backward2: Vec<f64>,
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
            forward2: expand(&self.forward2),
            error: self.error,
            backward,
            backward2: expand(&self.backward2),
            integrator: self.integrator,
        }
    }

    /// The finite rates of every pole (per tau_z).
    fn finite_rates(&self) -> impl Iterator<Item = f64> + '_ {
        [
            &self.forward,
            &self.forward2,
            &self.backward,
            &self.backward2,
        ]
        .into_iter()
        .flatten()
        .flatten()
        .chain([&self.error, &self.integrator])
        .copied()
        .filter(|r| r.is_finite())
    }

    /// The largest finite rate of any pole (per tau_z; 0 when none is finite).
    pub fn fastest_rate(&self) -> f64 {
        self.finite_rates().fold(0.0, f64::max)
    }

    /// The smallest rate of any pole (per tau_z; infinite when none is finite).
    pub fn slowest_rate(&self) -> f64 {
        self.finite_rates().fold(f64::INFINITY, f64::min)
    }
}

/// The pole states per amplifier of one kind in each layout: the TIAs' two poles and the
/// error stage (error layout), the backward TIAs' two and the integrators' outputs (value
/// layout).
pub const STATES_PER_NODE: usize = 3;

impl LagRates {
    /// Length of the pole states: p, p2, a (error layout), q, q2, integrator outputs (value
    /// layout).
    pub fn len(&self) -> usize {
        STATES_PER_NODE * (self.n_error + self.n_value)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The blocks of the pole states.
pub struct Lags<S> {
    /// Forward TIA outputs (node units, offsets included), error layout: the first pole's
    /// state and the second's (the TIA's output).
    pub p: S,
    pub p2: S,
    /// The error amplifiers' stage (its output before the tau_e low-pass), error layout.
    pub a: S,
    /// Backward TIA outputs (offsets included), value layout: first and second pole.
    pub q: S,
    pub q2: S,
    /// The integrators' outputs, value layout: what the rest of the circuit reads.
    pub zo: S,
}

/// Splits pole states (or their derivatives) into their blocks.
pub fn split<T>(s: &[T], n_error: usize, n_value: usize) -> Lags<&[T]> {
    let (p, rest) = s.split_at(n_error);
    let (p2, rest) = rest.split_at(n_error);
    let (a, rest) = rest.split_at(n_error);
    let (q, rest) = rest.split_at(n_value);
    let (q2, zo) = rest.split_at(n_value);
    Lags {
        p,
        p2,
        a,
        q,
        q2,
        zo,
    }
}

/// [`split`], mutably.
pub fn split_mut<T>(s: &mut [T], n_error: usize, n_value: usize) -> Lags<&mut [T]> {
    let (p, rest) = s.split_at_mut(n_error);
    let (p2, rest) = rest.split_at_mut(n_error);
    let (a, rest) = rest.split_at_mut(n_error);
    let (q, rest) = rest.split_at_mut(n_value);
    let (q2, zo) = rest.split_at_mut(n_value);
    Lags {
        p,
        p2,
        a,
        q,
        q2,
        zo,
    }
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
