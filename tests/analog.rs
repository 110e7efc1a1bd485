//! The analog circuit against independent oracles: the core's gradient flow (tau_e -> 0),
//! linear-system theory (ringing and divergence thresholds from the eigenvalues, the exact
//! trajectory exp(A t), settling from the eigendecomposition, the stationary covariance from the
//! Lyapunov equation, strong orders of the SDE schemes), closed-form energies, the traces the
//! run writes and thread-count determinism.
//!
//! Every tolerance is derived next to it from the numerics of its case (step size, statistical
//! error, checkpoint spacing, rounding), and every test prints what it measured (run with
//! `--nocapture` to see the figures).
//!
//! # Reference
//! - Kloeden & Platen, "Numerical Solution of Stochastic Differential Equations", Springer 1992:
//!   §10.2 (Euler–Maruyama: strong order 1/2, order 1 for additive noise), §10.3 and §11
//!   (the Milstein term that an order-1/2 scheme misses).
//! - Gardiner, "Stochastic Methods", 4th ed., Springer 2009, §3.8.6 and §4.5.6: the stationary
//!   covariance P of dx = A x dt + B dW solves A P + P A^T + B B^T = 0.
//! - Kokotović, Khalil & O'Reilly, "Singular Perturbation Methods in Control", SIAM 1999, ch. 1:
//!   a fast state with time constant eps moves the slow trajectory by O(eps).

use apcsim::analog::circuit::BOLTZMANN;
use apcsim::analog::energy::{component_total, layer_total, total};
use apcsim::analog::flicker::FlickerCoefficients;
use apcsim::analog::sim::ManualStepper;
use apcsim::analog::{
    simulate, AnalogCircuit, Component, EnergyModel, IdealPeriphery, Scheme, SimError, SimOptions,
    Simulation, Tolerance,
};
use apcsim::dynamics::{infer, InferenceOptions, Solver, Stop};
use apcsim::network::{Activation, Architecture, Batch, Network, Parameterisation};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

mod common;

/// The value-node time constant of every ideal circuit here (times below are in units of it).
const TAU_Z: f64 = 100e-9;

fn case(
    act: Activation,
    widths: Vec<usize>,
    batch: usize,
    seed: u64,
) -> (Network<f64>, Batch<f64>) {
    let d = widths[0];
    let o = *widths.last().unwrap();
    let arch = Architecture {
        widths,
        activation: act,
        parameterisation: Parameterisation::Mupc,
        skips: true,
        gamma0: 1.0,
        output_precision: 1.5,
    };
    let net = Network::init(arch, seed).unwrap();
    (net, inputs(d, o, batch))
}

/// Deterministic inputs and targets of order one.
fn inputs(d: usize, o: usize, batch: usize) -> Batch<f64> {
    let x = DMatrix::from_fn(d, batch, |i, j| ((i * 7 + j * 3) as f64 * 0.37).sin());
    let y = DMatrix::from_fn(o, batch, |i, j| ((i * 5 + j) as f64 * 0.91).cos());
    Batch { x, y }
}

/// A linear muPC network without skips: the circuit is then a linear ODE.
fn linear_net(widths: &[usize], output_precision: f64, seed: u64) -> Network<f64> {
    let arch = Architecture {
        widths: widths.to_vec(),
        activation: Activation::Linear,
        parameterisation: Parameterisation::Mupc,
        skips: false,
        gamma0: 1.0,
        output_precision,
    };
    Network::init(arch, seed).unwrap()
}

fn opts(scheme: Scheme, dt: f64, steps: usize) -> SimOptions {
    // Never steady: run exactly `steps` steps.
    SimOptions {
        seed: 1,
        trace_samples: 2,
        trace_points: 50,
        ..SimOptions::new(scheme, dt, dt * steps as f64)
    }
}

/// The ideal circuit of `net` with tau_e = `rho` tau_z.
fn circuit(net: &Network<f64>, rho: f64) -> AnalogCircuit<f64> {
    AnalogCircuit::ideal(
        net,
        &IdealPeriphery {
            tau_z_seconds: TAU_Z,
            tau_e_seconds: rho * TAU_Z,
            v_read_volts: 0.2,
        },
    )
}

fn run(
    circ: &AnalogCircuit<f64>,
    batch: &Batch<f64>,
    o: &SimOptions,
) -> Result<Simulation, SimError> {
    simulate(
        circ,
        batch.x.as_slice(),
        batch.y.as_slice(),
        batch.size(),
        o,
        &|_, _| {},
    )
}

/// Sample `s`'s value nodes, layer after layer, from a buffer in the circuit's layout (each
/// layer `n_l x batch`, column-major).
fn sample_z(flat: &[f64], widths: &[usize], batch: usize, s: usize) -> DVector<f64> {
    let mut v = Vec::new();
    let mut off = 0;
    for &n in &widths[1..widths.len() - 1] {
        v.extend_from_slice(&flat[off + s * n..off + (s + 1) * n]);
        off += n * batch;
    }
    DVector::from_vec(v)
}

/// Traced sample `k`'s value nodes at output point `p`.
fn traced_z(sim: &Simulation, widths: &[usize], p: usize, k: usize) -> DVector<f64> {
    let kk = sim.traces.samples.len();
    let mut v = Vec::new();
    for l in 1..widths.len() - 1 {
        let n = widths[l];
        let base = p * n * kk + k * n;
        v.extend_from_slice(&sim.traces.z[l - 1][base..base + n]);
    }
    DVector::from_vec(v)
}

fn sci(v: &[f64]) -> String {
    let s: Vec<String> = v.iter().map(|x| format!("{x:.3e}")).collect();
    format!("[{}]", s.join(", "))
}

/// The core's gradient flow after `steps` fixed steps: its activities.
fn core_flow(net: &Network<f64>, batch: &Batch<f64>, solver: Solver, steps: usize) -> Vec<f64> {
    infer(
        net,
        batch,
        &InferenceOptions::new(solver, Stop::steps(steps)),
    )
    .unwrap()
    .z
}

/// max_i |a_i - b_i|.
fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// The least-squares slope of ln(e) against ln(h), and a bound on its standard error from the
/// standard errors `se` of the `e` (taken as fully correlated, the worst case).
fn log_slope(h: &[f64], e: &[f64], se: &[f64]) -> (f64, f64) {
    let lx: Vec<f64> = h.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = e.iter().map(|v| v.ln()).collect();
    let n = h.len() as f64;
    let mx = lx.iter().sum::<f64>() / n;
    let my = ly.iter().sum::<f64>() / n;
    let sxx: f64 = lx.iter().map(|x| (x - mx) * (x - mx)).sum();
    let slope = lx
        .iter()
        .zip(&ly)
        .map(|(x, y)| (x - mx) * (y - my))
        .sum::<f64>()
        / sxx;
    let sd = lx
        .iter()
        .zip(e.iter().zip(se))
        .map(|(x, (e, s))| ((x - mx) / sxx).abs() * s / e)
        .sum();
    (slope, sd)
}

/// The linear circuit of a linear network: eps = M z + c per sample, and the value nodes
/// driven by dz/ds = -N^T Lambda e (N = M with the feedback weights in place of the forward
/// ones; s = t / tau_z). Built from the network's weights, scalings and architecture alone,
/// independently of the circuit's code.
struct Linear {
    widths: Vec<usize>,
    m: DMatrix<f64>,
    n: DMatrix<f64>,
    lam: DVector<f64>,
    /// a_1 W_0: eps_1 = z_1 - a_1 W_0 x.
    first: DMatrix<f64>,
}

impl Linear {
    fn new(net: &Network<f64>) -> Self {
        let arch = net.architecture();
        let w = arch.widths.clone();
        assert_eq!(arch.activation, Activation::Linear);
        let l_out = w.len() - 1;
        let eo: Vec<usize> = std::iter::once(0)
            .chain(w[1..].iter().scan(0, |a, &n| {
                *a += n;
                Some(*a)
            }))
            .collect();
        let (ne, nz) = (eo[l_out], eo[l_out - 1]);
        let mut m = DMatrix::zeros(ne, nz);
        let mut n = DMatrix::zeros(ne, nz);
        for l in 1..=l_out {
            if l < l_out {
                for i in 0..w[l] {
                    m[(eo[l - 1] + i, eo[l - 1] + i)] = 1.0;
                    n[(eo[l - 1] + i, eo[l - 1] + i)] = 1.0;
                }
            }
            if l >= 2 {
                let a = net.scalings()[l - 1];
                let s = if arch.has_skip(l) { 1.0 } else { 0.0 };
                for (dst, wm) in [
                    (&mut m, &net.weights()[l - 1]),
                    (&mut n, &net.feedback_weights()[l - 1]),
                ] {
                    let mut blk = -(wm * a);
                    for i in 0..w[l].min(w[l - 1]) {
                        blk[(i, i)] -= s;
                    }
                    dst.view_mut((eo[l - 1], eo[l - 2]), (w[l], w[l - 1]))
                        .copy_from(&blk);
                }
            }
        }
        let lam = DVector::from_fn(ne, |i, _| {
            if i >= eo[l_out - 1] {
                arch.output_precision
            } else {
                1.0
            }
        });
        Linear {
            first: &net.weights()[0] * net.scalings()[0],
            widths: w,
            m,
            n,
            lam,
        }
    }

    fn nz(&self) -> usize {
        self.m.ncols()
    }

    fn ne(&self) -> usize {
        self.m.nrows()
    }

    /// c of eps = M z + c for inputs `x` and targets `y` of one sample.
    fn offset(&self, x: &[f64], y: &[f64]) -> DVector<f64> {
        let mut c = DVector::zeros(self.ne());
        let n1 = self.widths[1];
        let f = -(&self.first * DVector::from_column_slice(x));
        c.rows_mut(0, n1).copy_from(&f);
        let o = y.len();
        c.rows_mut(self.ne() - o, o).copy_from_slice(y);
        c
    }

    /// N^T Lambda.
    fn drive(&self) -> DMatrix<f64> {
        self.n.transpose() * DMatrix::from_diagonal(&self.lam)
    }

    /// K = N^T Lambda M: dz/ds = -K z - N^T Lambda c with algebraic error nodes (the Hessian
    /// of the energy when N = M).
    fn k(&self) -> DMatrix<f64> {
        self.drive() * &self.m
    }

    fn equilibrium(&self, c: &DVector<f64>) -> DVector<f64> {
        self.k().lu().solve(&(-(self.drive() * c))).unwrap()
    }

    /// The feedforward pass (the circuit's initial value nodes) of one sample.
    fn feedforward(&self, x: &[f64]) -> DVector<f64> {
        // eps_l = 0 layer by layer: z_l = -(block l, l-1 of M) z_{l-1}, z_1 = a_1 W_0 x.
        let mut z = DVector::zeros(self.nz());
        let mut prev = &self.first * DVector::from_column_slice(x);
        let mut off = 0;
        for l in 1..self.widths.len() - 1 {
            let n = self.widths[l];
            if l >= 2 {
                let blk = self
                    .m
                    .view((off, off - self.widths[l - 1]), (n, self.widths[l - 1]));
                prev = -(blk * prev);
            }
            z.rows_mut(off, n).copy_from(&prev);
            off += n;
        }
        z
    }

    /// The system matrix of (z, e) with dynamic error nodes, tau_e = rho tau_z, in s units:
    /// dz/ds = -N^T Lambda e, de/ds = (M z + c - e) / rho.
    fn full(&self, rho: f64) -> DMatrix<f64> {
        let (nz, ne) = (self.nz(), self.ne());
        let mut a = DMatrix::zeros(nz + ne, nz + ne);
        a.view_mut((0, nz), (nz, ne)).copy_from(&(-self.drive()));
        a.view_mut((nz, 0), (ne, nz)).copy_from(&(&self.m / rho));
        for i in 0..ne {
            a[(nz + i, nz + i)] = -1.0 / rho;
        }
        a
    }
}

/// The Hessian of sample `s`'s energy at `z` (flat circuit layout) by central differences of
/// the core's activity gradient: an independent measure of the flow's rates.
fn core_hessian(net: &Network<f64>, batch: &Batch<f64>, z: &[f64], s: usize) -> DMatrix<f64> {
    let w = net.widths();
    let b = batch.size();
    let lay = net.layout(b);
    let idx: Vec<usize> = (1..w.len() - 1)
        .flat_map(|l| {
            let r = lay.range(l);
            (0..w[l]).map(move |i| r.start + s * w[l] + i)
        })
        .collect();
    let n = idx.len();
    let mut ws = net.workspace(b);
    let mut grad = |z: &[f64]| {
        let mut g = vec![0.0; z.len()];
        net.activity_gradient(batch.x.as_slice(), batch.y.as_slice(), z, &mut ws, &mut g);
        g
    };
    // Central differences: truncation O(d^2 f''') ~ 1e-10, rounding eps/d ~ 1e-11.
    let d = 1e-5;
    let mut h = DMatrix::zeros(n, n);
    for (j, &k) in idx.iter().enumerate() {
        let mut zp = z.to_vec();
        zp[k] += d;
        let gp = grad(&zp);
        zp[k] -= 2.0 * d;
        let gm = grad(&zp);
        for (i, &q) in idx.iter().enumerate() {
            h[(i, j)] = (gp[q] - gm[q]) / (2.0 * d);
        }
    }
    (&h + h.transpose()) * 0.5
}

fn extreme_eigenvalues(h: &DMatrix<f64>) -> (f64, f64) {
    let ev = h.symmetric_eigenvalues();
    (ev.min(), ev.max())
}

/// With algebraic error nodes the circuit is the core's gradient flow in time t / tau_z: the
/// same Euler steps give the same activities up to rounding of a reassociated sum.
#[test]
fn algebraic_error_nodes_are_the_core_gradient_flow() {
    let (net, batch) = case(Activation::Tanh, vec![6, 9, 9, 9, 4], 37, 3);
    let tau_z = 100e-9;
    let circ: AnalogCircuit<f64> = AnalogCircuit::ideal(
        &net,
        &IdealPeriphery {
            tau_z_seconds: tau_z,
            tau_e_seconds: 0.0,
            v_read_volts: 0.2,
        },
    );
    let h = 0.05;
    let steps = 200;
    let sim = simulate(
        &circ,
        batch.x.as_slice(),
        batch.y.as_slice(),
        37,
        &opts(Scheme::Euler, h * tau_z, steps),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(sim.steps, steps);
    let core = core_flow(&net, &batch, Solver::Euler { dt: h }, steps);
    let diff = max_diff(&sim.final_z, &core);
    let scale = core.iter().map(|v| v.abs()).fold(0.0, f64::max);
    // 200 steps of O(10) flops per node each in f64: rounding stays below 1e-13 of the scale.
    assert!(diff <= 1e-12 * scale.max(1.0), "max diff {diff:e}");
}

/// tau_e -> 0: on a small tanh network with a skip layer, the trajectory with dynamic error
/// nodes approaches the gradient flow (the tau_e = 0 circuit, itself the core's flow) at the
/// same times with an error proportional to tau_e / tau_z, and every stable tau_e reaches the
/// same equilibrium.
#[test]
fn error_nodes_converge_linearly_to_the_gradient_flow() {
    let (net, batch) = case(Activation::Tanh, vec![3, 5, 5, 2], 4, 11);
    let w = net.widths().to_vec();
    let t_end = 3.0;
    let traj = |rho: f64, h: f64| -> Simulation {
        let steps = (t_end / h).round() as usize;
        let o = SimOptions {
            trace_samples: 4,
            trace_points: 64,
            ..opts(Scheme::Rk4, h * TAU_Z, steps)
        };
        run(&circuit(&net, rho), &batch, &o).unwrap()
    };
    let dist = |a: &Simulation, b: &Simulation| -> f64 {
        assert_eq!(a.traces.time_seconds.len(), b.traces.time_seconds.len());
        for (ta, tb) in a.traces.time_seconds.iter().zip(&b.traces.time_seconds) {
            assert!((ta - tb).abs() <= 1e-9 * TAU_Z, "output times differ");
        }
        max_diff(&a.traces.z.concat(), &b.traces.z.concat())
    };
    // h r <= 0.05 at the smallest tau_e (r = tau_z / tau_e = 200): RK4's error there is of
    // order (h r)^4 / 120 per unit of r t, far below the O(tau_e) effect; step halving checks it.
    let h = 2.5e-4;
    let base = traj(0.0, h);
    let base_half = traj(0.0, h / 2.0);
    // The tau_e = 0 circuit is the core's flow: the same RK4 steps of the core agree to rounding.
    let steps = (t_end / h).round() as usize;
    let core = core_flow(&net, &batch, Solver::Rk4 { dt: h }, steps);
    let d_core = max_diff(&base.final_z, &core);
    // 12000 RK4 steps of O(10) flops per node: rounding ~ 1e-16 * sqrt(12000 * 40) ~ 1e-13.
    assert!(d_core <= 1e-11, "tau_e = 0 circuit vs core RK4: {d_core:e}");

    let ratios = [0.02, 0.01, 0.005];
    let mut errs = Vec::new();
    for &rho in &ratios {
        let e = dist(&traj(rho, h), &base);
        let e_half = dist(&traj(rho, h / 2.0), &base_half);
        // Time stepping must not be what is measured: halving h changes the error by less
        // than 0.1 % of it.
        assert!(
            (e - e_half).abs() <= 1e-3 * e,
            "tau_e/tau_z = {rho}: error {e:e} at h, {e_half:e} at h/2"
        );
        errs.push(e);
    }
    let (slope, _) = log_slope(&ratios, &errs, &[0.0; 3]);
    // The next term: per mode the slow root of mu^2 + r mu + r h = 0 is mu = -h - h^2 tau -
    // 2 h^3 tau^2 - ... (tau = tau_e / tau_z), so the displacement c e^{-h t}(e^{-(h^2 tau +
    // 2 h^3 tau^2) t} - 1) has a second-order part of relative size h tau (h t / 2 + 2),
    // about 2.5 h tau where the first-order part peaks (h t = 1). With err = C tau (1 + k tau),
    // the least-squares slope over tau = 0.02, 0.01, 0.005 is 1 + 0.54 k tau_max; k <= 2.5
    // h_max gives |slope - 1| <= 1.35 h_max tau_max: allow 2 h_max tau_max, with h_max the
    // largest Hessian eigenvalue at the start and at the end of the trajectory.
    let lay = net.layout(4);
    let z0 = &base.traces.z; // the first output point is the feedforward state
    let mut zflat = vec![0.0; lay.len()];
    for l in 1..w.len() - 1 {
        let n = w[l];
        let r = lay.range(l);
        zflat[r.clone()].copy_from_slice(&z0[l - 1][..n * 4]);
    }
    let h_max = (0..4)
        .flat_map(|s| {
            [
                extreme_eigenvalues(&core_hessian(&net, &batch, &zflat, s)).1,
                extreme_eigenvalues(&core_hessian(&net, &batch, &core, s)).1,
            ]
        })
        .fold(0.0, f64::max);
    let tol = 2.0 * h_max * ratios[0];
    eprintln!(
        "tau_e -> 0: max|z - z_flow| = {} at tau_e/tau_z = {ratios:?}; log-log slope {slope:.4} \
         (allowed 1 +- {tol:.3}, h_max = {h_max:.3})",
        sci(&errs)
    );
    assert!((slope - 1.0).abs() <= tol, "slope {slope}");
    // And the error itself is proportional to tau_e: err / tau_e constant within the same bound.
    let c: Vec<f64> = errs.iter().zip(&ratios).map(|(e, r)| e / r).collect();
    assert!(rel(c[0], c[2]) <= tol, "err / tau_e: {c:?}");

    // The equilibrium does not depend on tau_e. A run stops once max|dz/ds| < steady_tol; the
    // distance to the equilibrium is then at most |grad E| / h_min <= sqrt(n) steady_tol
    // (1 + lag) / h_min, where the lag of the error nodes behind eps adds at most a fraction
    // rho h_max of the drive. Two runs are compared: twice that.
    let steady_tol = 1e-10;
    let run_to_rest = |rho: f64| -> Simulation {
        let h = if rho == 0.0 {
            0.02
        } else {
            (rho / 10.0).min(0.02)
        };
        let o = SimOptions {
            steady_tol,
            t_max_seconds: 400.0 * TAU_Z,
            ..opts(Scheme::Rk4, h * TAU_Z, 1)
        };
        let sim = run(&circuit(&net, rho), &batch, &o).unwrap();
        assert!(sim.steady, "tau_e/tau_z = {rho} did not come to rest");
        sim
    };
    let rest = run_to_rest(0.0);
    let h_min = (0..4)
        .map(|s| extreme_eigenvalues(&core_hessian(&net, &batch, &rest.final_z, s)).0)
        .fold(f64::INFINITY, f64::min);
    let n_per_sample = (w[1] + w[2]) as f64;
    for rho in [0.05, 0.25, 1.0] {
        let other = run_to_rest(rho);
        let d = max_diff(&other.final_z, &rest.final_z);
        let tol = 2.0 * n_per_sample.sqrt() * steady_tol * (1.0 + rho * h_max) / h_min;
        eprintln!(
            "equilibrium at tau_e/tau_z = {rho}: max diff {d:.2e} (allowed {tol:.2e}), {:.1} \
             tau_z to rest",
            other.t_end_seconds / TAU_Z
        );
        assert!(d <= tol, "tau_e/tau_z = {rho}: {d:e} > {tol:e}");
    }
}

/// Smallest x in [lo, hi] (log scale) where `pred` turns true (false at lo, true at hi).
fn bisect_log(mut lo: f64, mut hi: f64, pred: impl Fn(f64) -> bool) -> f64 {
    assert!(!pred(lo) && pred(hi), "no crossing in [{lo}, {hi}]");
    for _ in 0..80 {
        let mid = (lo * hi).sqrt();
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (lo * hi).sqrt()
}

/// The exact state (z, e) at s = `t` of the linear circuit from `x0`: x* + exp(A t)(x0 - x*).
fn exact(a: &DMatrix<f64>, x0: &DVector<f64>, xs: &DVector<f64>, t: f64) -> DVector<f64> {
    xs + (a * t).exp() * (x0 - xs)
}

/// Ringing: with dynamic error nodes and reciprocal weights, the coordinate c = u . (z - z*)
/// of each Hessian mode (H u = h u, H = M^T Lambda M) of the linear circuit obeys
/// c'' + r c' + r h c = 0 (r = tau_z / tau_e), so it rings once tau_e / tau_z > 1 / (4 h),
/// and never diverges: r, h > 0 put both roots in the left half plane (the remaining n_L
/// eigenvalues of the (z, e) system are -r).
///
/// Below the threshold the approach is monotone: the error nodes start at eps, so
/// c'(0) = -h c(0); the roots satisfy mu2 <= mu1 < -h (as r >= 4h), c(t) = A e^{mu1 t} +
/// B e^{mu2 t} with A = c0 (-h - mu2) / (mu1 - mu2), B = c0 (mu1 + h) / (mu1 - mu2), and a zero
/// would need e^{(mu1 - mu2) t} = |mu1 + h| / |mu2 + h| < 1, i.e. t < 0.
///
/// The thresholds are found from the eigenvalues of the full (z, e) system (the first complex
/// pair; every mode complex), checked against 1 / (4 h_max) and 1 / (4 h_min); simulations at
/// 0.8 and 1.25 times each follow exp(A t), with no overshoot in any overdamped mode (the
/// slowest one included below the second threshold) and the predicted overshoot of the target
/// mode (stiffest, then slowest) above.
#[test]
fn error_node_lag_rings_where_the_eigenvalues_turn_complex() {
    let widths = [3, 4, 4, 2];
    let net = linear_net(&widths, 1.5, 5);
    let lin = Linear::new(&net);
    let nz = lin.nz();
    let hess = lin.k().symmetric_eigen();
    let (h_min, h_max) = (hess.eigenvalues.min(), hess.eigenvalues.max());
    let complex = |rho: f64| -> usize {
        let ev = lin.full(rho).complex_eigenvalues();
        let scale = ev.iter().map(|m| m.norm()).fold(0.0, f64::max);
        // A double real root splits by O(sqrt(eps) |A|) ~ 1e-8 |A| under rounding; a true
        // pair grows as sqrt(distance to the threshold), so 1e-6 |A| places the threshold to
        // ~1e-12 relative.
        ev.iter().filter(|m| m.im.abs() > 1e-6 * scale).count()
    };
    let onset = bisect_log(1e-4, 1e2, |rho| complex(rho) > 0);
    let all = bisect_log(1e-4, 1e2, |rho| complex(rho) == 2 * nz);
    eprintln!(
        "ringing: Hessian spectrum [{h_min:.4}, {h_max:.4}]; first complex pair at tau_e/tau_z \
         = {onset:.6} (1/(4 h_max) = {:.6}), every mode complex from {all:.6} (1/(4 h_min) = \
         {:.6})",
        0.25 / h_max,
        0.25 / h_min
    );
    assert!(rel(onset, 0.25 / h_max) < 1e-6);
    assert!(rel(all, 0.25 / h_min) < 1e-6);
    // Never diverges: Re mu < 0 over six decades of tau_e / tau_z (mu^2 + r mu + r h = 0 with
    // r, h > 0 has roots of negative real part; the other n_L roots are -r).
    for k in 0..=60 {
        let rho = 10f64.powf(-3.0 + 0.1 * k as f64);
        let re = lin
            .full(rho)
            .complex_eigenvalues()
            .iter()
            .map(|m| m.re)
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(re < 0.0, "tau_e/tau_z = {rho}: Re mu = {re}");
    }

    let b = 2;
    let batch = inputs(widths[0], widths[3], b);
    let modes = &hess.eigenvectors;
    let k_fast = hess.eigenvalues.imax();
    let k_slow = hess.eigenvalues.imin();
    for (rho, target, rings) in [
        (0.8 * onset, k_fast, false),
        (1.25 * onset, k_fast, true),
        (0.8 * all, k_slow, false),
        (1.25 * all, k_slow, true),
    ] {
        let a = lin.full(rho);
        // RK4's global error on a linear system is about t |mu| (h mu)^4 / 120 of the initial
        // displacement (its local error is (h mu)^5 / 120); with h = rho / 200 that stays
        // below 1e-7 here (checked below), so 1e-6 of the displacement bounds it.
        let h = rho / 200.0;
        let r = 1.0 / rho;
        // Both runs of a pair last two periods of the target mode's ringing at 1.25 times its
        // threshold, r = 3.2 h_t: omega = sqrt(4 r h_t - r^2) / 2 = 0.8 h_t.
        let t_end = 2.0 * 2.0 * std::f64::consts::PI / (0.8 * hess.eigenvalues[target]);
        let mu_max = a
            .complex_eigenvalues()
            .iter()
            .map(|m| m.norm())
            .fold(0.0, f64::max);
        let rk4_error = t_end * mu_max * (h * mu_max).powi(4) / 120.0;
        assert!(rk4_error <= 1e-7, "step too long: {rk4_error:e}");
        let steps = (t_end / h).ceil() as usize;
        let o = SimOptions {
            trace_samples: b,
            trace_points: 2000,
            ..opts(Scheme::Rk4, h * TAU_Z, steps)
        };
        let sim = run(&circuit(&net, rho), &batch, &o).unwrap();
        for s in 0..b {
            let c = lin.offset(batch.x.column(s).as_slice(), batch.y.column(s).as_slice());
            let zs = lin.equilibrium(&c);
            let es = &lin.m * &zs + &c;
            let z0 = lin.feedforward(batch.x.column(s).as_slice());
            let e0 = &lin.m * &z0 + &c;
            let x0 = DVector::from_iterator(nz + lin.ne(), z0.iter().chain(e0.iter()).cloned());
            let xs = DVector::from_iterator(nz + lin.ne(), zs.iter().chain(es.iter()).cloned());
            let scale = (&z0 - &zs).amax();
            let tol = 1e-6 * scale;
            let mut dev: f64 = 0.0;
            let mut over_sim = vec![0.0f64; nz];
            let mut over_exact = vec![0.0f64; nz];
            let c0: Vec<f64> = (0..nz).map(|k| modes.column(k).dot(&(&z0 - &zs))).collect();
            for (p, &t) in sim.traces.time_seconds.iter().enumerate() {
                let zt = traced_z(&sim, &widths, p, s);
                let xe = exact(&a, &x0, &xs, t / TAU_Z);
                let ze = xe.rows(0, nz).into_owned();
                dev = dev.max((&zt - &ze).amax());
                for k in 0..nz {
                    let sign = c0[k].signum();
                    over_sim[k] = over_sim[k].max(-sign * modes.column(k).dot(&(&zt - &zs)));
                    over_exact[k] = over_exact[k].max(-sign * modes.column(k).dot(&(&ze - &zs)));
                }
            }
            assert!(dev <= tol, "rho {rho}: trajectory off exp(A t) by {dev:e}");
            for k in 0..nz {
                let underdamped = r < 4.0 * hess.eigenvalues[k];
                if !underdamped {
                    // An overdamped mode started with the gradient flow's velocity never
                    // crosses zero (see the test's docs), neither in the closed form nor in
                    // the simulation.
                    assert!(
                        over_exact[k] <= 1e-12 * scale,
                        "exact overdamped mode overshoots"
                    );
                    assert!(
                        over_sim[k] <= tol,
                        "rho {rho}, mode {k}: overshoot {}",
                        over_sim[k]
                    );
                }
                assert!((over_sim[k] - over_exact[k]).abs() <= tol);
            }
            let ov = over_sim[target] / c0[target].abs();
            eprintln!(
                "rho = {rho:.5} (r = {r:.3}), sample {s}: mode h = {:.4} overshoot {ov:.3e} of \
                 its amplitude (exact {:.3e}); trajectory within {dev:.1e} of exp(A t)",
                hess.eigenvalues[target],
                over_exact[target] / c0[target].abs()
            );
            if rings {
                // Visible: a hundred times the numerical error bound.
                assert!(
                    over_exact[target] >= 100.0 * tol,
                    "ringing too small to see"
                );
                assert!(over_sim[target] >= 99.0 * tol);
            }
        }
    }
}

/// Divergence: with non-reciprocal backward weights (here layer 2's backward array holds -W,
/// a sign fault) the gradient structure is lost. For each eigenvalue k = a + ib of
/// K = N^T Lambda M the circuit has the roots of mu^2 + r mu + r k = 0, which cross the
/// imaginary axis at r = b^2 / a: above tau_e / tau_z = a / b^2 the circuit diverges although
/// the algebraic (tau_e = 0) circuit is stable. The threshold from the eigenvalues of the full
/// system matches a / b^2, a run below it settles on the equilibrium, a run above it stops with
/// `SimError::Diverged` at the time and node the exact trajectory crosses the bound.
#[test]
fn non_reciprocal_feedback_diverges_above_the_eigenvalue_threshold() {
    let arch = Architecture {
        widths: vec![1, 1, 1, 1],
        activation: Activation::Linear,
        parameterisation: Parameterisation::Sp,
        skips: false,
        gamma0: 1.0,
        output_precision: 1.0,
    };
    let m = |v: f64| DMatrix::from_element(1, 1, v);
    let net = Network::new(arch, vec![m(0.8), m(1.2), m(0.5)])
        .unwrap()
        .with_feedback(vec![m(0.8), m(-1.2), m(0.5)])
        .unwrap();
    let lin = Linear::new(&net);
    let nz = lin.nz();
    let kev = lin.k().complex_eigenvalues();
    assert!(kev.iter().all(|k| k.re > 0.0), "tau_e = 0 must be stable");
    let formula = kev
        .iter()
        .filter(|k| k.im.abs() > 0.0)
        .map(|k| k.re / (k.im * k.im))
        .fold(f64::INFINITY, f64::min);
    let growth = |rho: f64| -> f64 {
        lin.full(rho)
            .complex_eigenvalues()
            .iter()
            .map(|m| m.re)
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let threshold = bisect_log(1e-3, 1e3, |rho| growth(rho) > 0.0);
    eprintln!(
        "divergence: K eigenvalues {:?}; Re mu crosses 0 at tau_e/tau_z = {threshold:.6} (a / b^2 \
         = {formula:.6})",
        kev.iter().map(|k| (k.re, k.im)).collect::<Vec<_>>()
    );
    assert!(rel(threshold, formula) < 1e-9);

    let batch = inputs(1, 1, 1);
    let c = lin.offset(batch.x.as_slice(), batch.y.as_slice());
    let zs = lin.equilibrium(&c);
    let es = &lin.m * &zs + &c;
    let z0 = lin.feedforward(batch.x.as_slice());
    let e0 = &lin.m * &z0 + &c;
    let x0 = DVector::from_iterator(nz + lin.ne(), z0.iter().chain(e0.iter()).cloned());
    let xs = DVector::from_iterator(nz + lin.ne(), zs.iter().chain(es.iter()).cloned());

    // Below: it settles on z*. The decay rate is -growth; a run to steady_tol 1e-9 takes about
    // ln(1e9) / rate.
    let rho = 0.8 * threshold;
    let h = rho / 100.0;
    let rate = -growth(rho);
    let o = SimOptions {
        steady_tol: 1e-9,
        t_max_seconds: 60.0 / rate * TAU_Z,
        ..opts(Scheme::Rk4, h * TAU_Z, 1)
    };
    let sim = run(&circuit(&net, rho), &batch, &o).unwrap();
    assert!(sim.steady);
    let zf = DVector::from_column_slice(&sim.final_z);
    let t_stop = sim.t_end_seconds / TAU_Z;
    let ze = exact(&lin.full(rho), &x0, &xs, t_stop)
        .rows(0, nz)
        .into_owned();
    // RK4 at h |mu| <= 0.01: 1e-6 of the displacement bounds the error (as above).
    let tol = 1e-6 * (&z0 - &zs).amax();
    eprintln!(
        "  tau_e/tau_z = {rho:.4}: steady after {t_stop:.1} tau_z, |z - z*| = {:.2e}, off exact \
         by {:.2e}",
        (&zf - &zs).amax(),
        (&zf - &ze).amax()
    );
    assert!((&zf - &ze).amax() <= tol);
    assert!((&zf - &zs).amax() <= 1e-6);

    // Above: it diverges. The run checks |z| against the bound before every step, so it
    // stops within one step after the exact trajectory first crosses it.
    let rho = 1.25 * threshold;
    let h = rho / 100.0;
    let a = lin.full(rho);
    let g = growth(rho);
    let bound = apcsim::analog::sim::DIVERGENCE_BOUND;
    let t_max = (bound.ln() + 20.0) / g;
    let o = SimOptions {
        t_max_seconds: t_max * TAU_Z,
        ..opts(Scheme::Rk4, h * TAU_Z, 1)
    };
    let err = run(&circuit(&net, rho), &batch, &o).unwrap_err();
    let SimError::Diverged {
        layer,
        node,
        time_seconds,
        ..
    } = err.clone()
    else {
        panic!("expected divergence, got {err}");
    };
    // The exact crossing, by bisection on the step grid's neighbourhood.
    let beyond = |t: f64| exact(&a, &x0, &xs, t).rows(0, nz).amax() > bound;
    let mut t = 0.0;
    while !beyond(t) {
        t += h;
    }
    let t_cross = bisect_lin(t - h, t, beyond);
    let first = exact(&a, &x0, &xs, t).rows(0, nz).iamax();
    let t_sim = time_seconds / TAU_Z;
    eprintln!(
        "  tau_e/tau_z = {rho:.4}: growth {g:.4} / tau_z; diverged at {t_sim:.3} tau_z (exact \
         crossing {t_cross:.3}), layer {layer}, node {node}: {err}"
    );
    assert_eq!((layer, node), (first + 1, 0));
    // The check precedes each step: the step after the crossing reports it, and RK4's relative
    // error of the amplitude (< 1e-6) moves the crossing by < 1e-6 / g.
    assert!(t_sim >= t_cross - 1e-6 / g && t_sim <= t_cross + h + 1e-6 / g);
}

fn bisect_lin(mut lo: f64, mut hi: f64, pred: impl Fn(f64) -> bool) -> f64 {
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    0.5 * (lo + hi)
}

/// A linear network with additive white noise only: kT/C-like densities on the integrators
/// and amplifier-like densities on the error nodes, set directly on the ideal circuit
/// (tau_e = `rho` tau_z).
fn noisy_linear(rho: f64) -> Case {
    let net = linear_net(&[3, 3, 3, 2], 1.5, 21);
    let mut circ = circuit(&net, rho);
    // kT/C of a 100 fF node at 300 K read at 0.2 V: S = 4 tau_z k T / (C v^2)
    // (docs/circuit-model.md), 1e-3 rms in node units on an isolated node.
    let ktc = 4.0 * TAU_Z * BOLTZMANN * 300.0 / (100e-15 * 0.04);
    for (l, lc) in circ.layers.iter_mut().enumerate() {
        for (i, s) in lc.noise_integrator.iter_mut().enumerate() {
            *s = ktc * (1.0 + 0.5 * i as f64);
        }
        for (j, s) in lc.noise_error.iter_mut().enumerate() {
            *s = ktc * (0.5 + 0.25 * (l + j) as f64);
        }
    }
    circ.noisy = true;
    (net, circ)
}

/// Drift A and diffusion Q (both in s = t / tau_z) of the linear circuit with additive noise:
/// a step h adds h sqrt(S / (2 dt)) N to a node driven by a source of density S, a variance
/// h S / (2 tau_z) per step, so Q = S / (2 tau_z) per source, mapped to the state it drives
/// (docs/circuit-model.md). Algebraic error nodes pass their noise to the value nodes through
/// -N^T Lambda; dynamic ones integrate it with gain 1 / rho.
fn ornstein_uhlenbeck(
    lin: &Linear,
    circ: &AnalogCircuit<f64>,
    rho: f64,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let s_z: Vec<f64> = circ
        .layers
        .iter()
        .flat_map(|lc| lc.noise_integrator.iter().cloned())
        .collect();
    let s_e: Vec<f64> = circ
        .layers
        .iter()
        .flat_map(|lc| lc.noise_error.iter().cloned())
        .collect();
    let dz = DMatrix::from_diagonal(&DVector::from_vec(s_z)) / (2.0 * TAU_Z);
    let de = DMatrix::from_diagonal(&DVector::from_vec(s_e)) / (2.0 * TAU_Z);
    if rho == 0.0 {
        let g = lin.drive();
        (-lin.k(), &g * de * g.transpose() + dz)
    } else {
        let (nz, ne) = (lin.nz(), lin.ne());
        let mut q = DMatrix::zeros(nz + ne, nz + ne);
        q.view_mut((0, 0), (nz, nz)).copy_from(&dz);
        q.view_mut((nz, nz), (ne, ne))
            .copy_from(&(de / (rho * rho)));
        (lin.full(rho), q)
    }
}

/// P with A P + P A^T + Q = 0, by the vectorised (Kronecker) solve.
fn lyapunov(a: &DMatrix<f64>, q: &DMatrix<f64>) -> DMatrix<f64> {
    let n = a.nrows();
    let id = DMatrix::<f64>::identity(n, n);
    let op = id.kronecker(a) + a.kronecker(&id);
    let rhs = -DVector::from_column_slice(q.as_slice());
    let v = op.lu().solve(&rhs).unwrap();
    DMatrix::from_column_slice(n, n, v.as_slice())
}

/// The stationary covariance of the stochastic Heun recursion on dx = A x ds + dW (Cov Q):
/// x' = R x + G sqrt(h) xi with R = I + h A + (h A)^2 / 2, G = I + h A / 2 (the same noise in
/// both stages), so P_h = R P_h R^T + h G Q G^T.
fn heun_stationary(a: &DMatrix<f64>, q: &DMatrix<f64>, h: f64) -> DMatrix<f64> {
    let n = a.nrows();
    let id = DMatrix::<f64>::identity(n, n);
    let r = &id + a * h + a * a * (0.5 * h * h);
    let g = &id + a * (0.5 * h);
    let op = DMatrix::<f64>::identity(n * n, n * n) - r.kronecker(&r);
    let src = (&g * q * g.transpose()) * h;
    let v = op
        .lu()
        .solve(&DVector::from_column_slice(src.as_slice()))
        .unwrap();
    DMatrix::from_column_slice(n, n, v.as_slice())
}

/// max_ij |a_ij| / sqrt(p_ii p_jj): the size of `a` relative to the scale of each entry of
/// the covariance `p`.
fn scaled(a: &DMatrix<f64>, p: &DMatrix<f64>) -> f64 {
    let mut m: f64 = 0.0;
    for i in 0..p.nrows() {
        for j in 0..p.ncols() {
            m = m.max(a[(i, j)].abs() / (p[(i, i)] * p[(j, j)]).sqrt());
        }
    }
    m
}

/// max_ij |a_ij - p_ij| / sqrt(p_ii p_jj).
fn normalised(a: &DMatrix<f64>, p: &DMatrix<f64>) -> f64 {
    scaled(&(a - p), p)
}

/// The stationary covariance of the value nodes, measured over `batch` independent samples
/// and a trailing window of `window` tau_z of `scheme` at steps `h`, against the Lyapunov
/// solution.
fn check_stationary_covariance(scheme: Scheme, rho: f64, h: f64, batch_size: usize, window: f64) {
    check_stationary_covariance_of(noisy_linear(rho), scheme, rho, h, (batch_size, window));
}

/// [`check_stationary_covariance`] of a given linear case.
fn check_stationary_covariance_of(
    (net, circ): Case,
    scheme: Scheme,
    rho: f64,
    h: f64,
    (batch_size, window): (usize, f64),
) {
    let lin = Linear::new(&net);
    let w = circ.widths.clone();
    let nz = lin.nz();
    let batch = inputs(w[0], w[w.len() - 1], batch_size);
    let (a, q) = ornstein_uhlenbeck(&lin, &circ, rho);
    let p = lyapunov(&a, &q).view((0, 0), (nz, nz)).into_owned();
    let rates = a.complex_eigenvalues();
    let slowest = rates.iter().map(|m| -m.re).fold(f64::INFINITY, f64::min);
    let fastest = rates.iter().map(|m| m.norm()).fold(0.0, f64::max);
    // The scheme's own stationary covariance differs from P by O(h^2) for additive noise
    // (by -(h lambda)^2 / 4 on a mode of rate lambda; Euler–Maruyama's would be +h lambda / 2):
    // computed exactly for Heun, it must sit well inside the 5 % tolerance. The exponential
    // scheme is exact on the error nodes (rate 1 / rho) and Heun's on the slow modes (rates
    // below 1 / (2 rho)), so Heun's bound on those stands for it.
    let bias = if scheme == Scheme::Heun {
        let p_h = heun_stationary(&a, &q, h)
            .view((0, 0), (nz, nz))
            .into_owned();
        normalised(&p_h, &p)
    } else {
        let slow = rates
            .iter()
            .map(|m| m.norm())
            .filter(|&r| r < 0.5 / rho)
            .fold(0.0, f64::max);
        (h * slow).powi(2) / 4.0
    };
    assert!(bias <= 0.01, "stationary bias {bias} at h = {h}");
    let o = SimOptions {
        scheme,
        noise: true,
        // The noise-free pass stops at max|dz/ds| < 1e-8: the transient is then below 1e-8 of
        // the initial displacement, 1e-5 of the noise's rms, when the trailing window starts.
        steady_tol: 1e-8,
        t_max_seconds: 1e5 * TAU_Z,
        settle_window_seconds: window * TAU_Z,
        trace_samples: batch_size,
        trace_points: 4096,
        seed: 17,
        ..opts(scheme, h * TAU_Z, 1)
    };
    let start = std::time::Instant::now();
    let sim = run(&circ, &batch, &o).unwrap();
    let wall = start.elapsed().as_secs_f64();
    let t0 = sim.t_end_seconds - window * TAU_Z;
    let mut per_sample = Vec::with_capacity(batch_size);
    let mut points = 0;
    for s in 0..batch_size {
        let c = lin.offset(batch.x.column(s).as_slice(), batch.y.column(s).as_slice());
        let zs = lin.equilibrium(&c);
        let mut acc = DMatrix::zeros(nz, nz);
        points = 0;
        for (pt, &t) in sim.traces.time_seconds.iter().enumerate() {
            if t < t0 {
                continue;
            }
            let d = traced_z(&sim, &w, pt, s) - &zs;
            acc += &d * d.transpose();
            points += 1;
        }
        per_sample.push(acc / points as f64);
    }
    let bn = batch_size as f64;
    let mean = per_sample.iter().fold(DMatrix::zeros(nz, nz), |a, m| a + m) / bn;
    // The samples are independent (own noise streams), so the spread of their estimates gives
    // the standard error of the mean, autocorrelation within each window included.
    let var = per_sample.iter().fold(DMatrix::zeros(nz, nz), |a, m| {
        let d = m - &mean;
        a + d.component_mul(&d)
    }) / (bn - 1.0);
    let se = var.map(|v| (v / bn).sqrt());
    let se_norm = scaled(&se, &p);
    let dev = normalised(&mean, &p);
    // Effective independent samples: a variance estimated from N independent draws has a
    // relative standard error sqrt(2 / N).
    let n_eff = (0..nz)
        .map(|i| 2.0 * (p[(i, i)] / se[(i, i)]).powi(2))
        .fold(f64::INFINITY, f64::min);
    eprintln!(
        "covariance, tau_e/tau_z = {rho}, {scheme:?} h = {h}: {batch_size} samples x {points} \
         points over {window} tau_z (rates {slowest:.3} to {fastest:.3} /tau_z), {:.1} s; max \
         normalised deviation {dev:.4}, standard error {se_norm:.4}, N_eff {n_eff:.0}, scheme \
         bias {bias:.1e}",
        wall
    );
    assert!(n_eff >= 1e4, "only {n_eff} effective samples");
    // 5 % must be several standard errors, so that the test can tell.
    assert!(
        0.05 >= 4.0 * se_norm,
        "standard error {se_norm} too large for 5 %"
    );
    assert!(
        dev <= 0.05,
        "deviation {dev}\nmeasured {mean}\nLyapunov {p}"
    );
}

/// Stationary covariance with algebraic error nodes (their noise reaches the value nodes
/// through -N^T Lambda, so Q is not diagonal).
#[test]
fn stationary_covariance_matches_lyapunov_algebraic_errors() {
    check_stationary_covariance(Scheme::Heun, 0.0, 0.02, 64, 800.0);
}

/// Stationary covariance with dynamic error nodes (tau_e = 0.1 tau_z): the state is (z, e).
#[test]
fn stationary_covariance_matches_lyapunov_dynamic_errors() {
    check_stationary_covariance(Scheme::Heun, 0.1, 0.02, 64, 800.0);
}

/// Stationary covariance of the exponential scheme with steps of several tau_e (tau_e =
/// 0.005 tau_z, steps of 6 tau_e): the error nodes' Ornstein–Uhlenbeck noise, drawn exactly over
/// each step, must reach the value nodes with its full variance.
#[test]
fn stationary_covariance_matches_lyapunov_exponential_scheme() {
    let tol = Tolerance {
        rtol: 1e-5,
        atol: 1e-5,
    };
    check_stationary_covariance(Scheme::Exponential(Some(tol)), 0.005, 0.03, 64, 800.0);
}

/// The TIAs' feedback resistors: a design with `periphery.feedback_noise` as its only noise
/// gives every forward TIA's error node the density 4 k T R_f / v_read^2 and every backward
/// TIA 4 k T R_b / v_read^2 (the resistor's current density 4 k T / R through R), nothing
/// else; a linear circuit driven by exactly these densities (the backward TIAs' reach the
/// value nodes with gain phi' = 1) has the Lyapunov equation's stationary covariance.
#[test]
fn feedback_resistor_noise_is_4kt_r_f_and_matches_lyapunov() {
    use apcsim::config::{load_str, LoadOptions};
    let over = [
        "periphery.feedback_noise=true",
        "dynamics.noise=true",
        "dynamics.solver=heun",
    ];
    let circuit = load_str("fb.toml", ENERGY_DESIGN, &over, &LoadOptions::default()).unwrap();
    assert!(circuit.dynamics.noisy);
    let built = apcsim::design::build::build(&circuit).unwrap();
    let design: AnalogCircuit<f64> =
        AnalogCircuit::from_design(&circuit, &built.network, &built.mapped);
    let kt = BOLTZMANN * circuit.device.read_noise.temperature_kelvin;
    let v2 = circuit.crossbar.v_read_volts.powi(2);
    let (mut s_f, mut s_b) = (0.0, 0.0);
    for (lc, m) in design.layers.iter().zip(&built.mapped.layers) {
        s_f = 4.0 * kt * m.feedback_resistance_ohms / v2;
        s_b = 4.0 * kt * m.backward_feedback_resistance_ohms / v2;
        assert!(
            lc.noise_error.iter().all(|&s| rel(s, s_f) < 1e-12),
            "{lc:?}"
        );
        assert!(lc.noise_backward.iter().all(|&s| rel(s, s_b) < 1e-12));
        assert!(lc.noise_integrator.iter().all(|&s| s == 0.0));
        assert!(lc.relative_forward.is_none() && lc.flicker.is_none());
    }
    assert!(design.noisy && s_f > 0.0 && s_b > 0.0);
    let (net, mut circ) = noisy_linear(0.0);
    let l_out = circ.n_layers();
    for (l, lc) in circ.layers.iter_mut().enumerate() {
        lc.noise_error.iter_mut().for_each(|s| *s = s_f);
        // Every hidden node has a backward TIA (the next layer's).
        let back = if l + 1 < l_out { s_b } else { 0.0 };
        lc.noise_integrator.iter_mut().for_each(|s| *s = back);
    }
    check_stationary_covariance_of((net, circ), Scheme::Heun, 0.0, 0.02, (64, 800.0));
}

/// Standard normals of one step: per layer the error nodes', per hidden layer the value nodes'.
type Normals = (Vec<Vec<f64>>, Vec<Vec<f64>>);

/// A network and its circuit.
type Case = (Network<f64>, AnalogCircuit<f64>);

/// Strong errors E|z_h(T) - z_ref(T)| (Euclidean over the value nodes, averaged over the
/// batch's independent paths) of each scheme at steps `h_fine * factor`, against the same
/// scheme at `h_fine` on the same Brownian path: the standard normal of a coarse step is the sum
/// of those of the fine steps it spans over sqrt(factor). With `noisy` false every normal is
/// zero: the deterministic part of the error. Returns (mean, standard error) per scheme and
/// factor.
#[allow(clippy::too_many_arguments)]
fn strong_errors(
    circ: &AnalogCircuit<f64>,
    batch: &Batch<f64>,
    schemes: &[Scheme],
    h_fine: f64,
    factors: &[usize],
    t_end: f64,
    seed: u64,
    noisy: bool,
) -> Vec<Vec<(f64, f64)>> {
    let b = batch.size();
    let (x, y) = (batch.x.as_slice(), batch.y.as_slice());
    let w = &circ.widths;
    let l_out = w.len() - 1;
    let stepper = |h: f64| ManualStepper::new(circ, x, y, b, h * TAU_Z);
    let mut fine: Vec<_> = schemes.iter().map(|_| stepper(h_fine)).collect();
    let mut coarse: Vec<Vec<_>> = schemes
        .iter()
        .map(|_| {
            factors
                .iter()
                .map(|&m| stepper(h_fine * m as f64))
                .collect()
        })
        .collect();
    let zeros_e: Vec<Vec<f64>> = (1..=l_out).map(|l| vec![0.0; w[l] * b]).collect();
    let zeros_z: Vec<Vec<f64>> = (1..l_out).map(|l| vec![0.0; w[l] * b]).collect();
    let (mut ge, mut gz) = (zeros_e.clone(), zeros_z.clone());
    let mut acc: Vec<Normals> = factors
        .iter()
        .map(|_| (zeros_e.clone(), zeros_z.clone()))
        .collect();
    let n_fine = (t_end / h_fine).round() as usize;
    assert!(factors.iter().all(|&m| n_fine.is_multiple_of(m)));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for j in 0..n_fine {
        if noisy {
            for v in ge.iter_mut().chain(gz.iter_mut()).flatten() {
                *v = StandardNormal.sample(&mut rng);
            }
        }
        for f in fine.iter_mut() {
            let ns = f.normals_mut().expect("a noisy circuit");
            ns.e.clone_from_slice(&ge);
            ns.z.clone_from_slice(&gz);
        }
        for (k, &m) in factors.iter().enumerate() {
            let (ae, az) = &mut acc[k];
            for (a, g) in ae.iter_mut().chain(az.iter_mut()).zip(ge.iter().chain(&gz)) {
                for (a, g) in a.iter_mut().zip(g) {
                    *a += g;
                }
            }
            if (j + 1) % m == 0 {
                let scale = 1.0 / (m as f64).sqrt();
                for (si, &scheme) in schemes.iter().enumerate() {
                    let st = &mut coarse[si][k];
                    let ns = st.normals_mut().expect("a noisy circuit");
                    for (dst, src) in
                        ns.e.iter_mut()
                            .chain(ns.z.iter_mut())
                            .zip(ae.iter().chain(az.iter()))
                    {
                        for (d, s) in dst.iter_mut().zip(src) {
                            *d = s * scale;
                        }
                    }
                    st.step(scheme);
                }
                for v in ae.iter_mut().chain(az.iter_mut()).flatten() {
                    *v = 0.0;
                }
            }
        }
        for (f, &scheme) in fine.iter_mut().zip(schemes) {
            f.step(scheme);
        }
    }
    let nzl = circ.value_layout(b).len();
    schemes
        .iter()
        .enumerate()
        .map(|(si, _)| {
            let zf = &fine[si].state()[..nzl];
            coarse[si]
                .iter()
                .map(|c| {
                    let d: Vec<f64> = c.state()[..nzl]
                        .iter()
                        .zip(zf)
                        .map(|(a, b)| a - b)
                        .collect();
                    let errs: Vec<f64> = (0..b).map(|s| sample_z(&d, w, b, s).norm()).collect();
                    let mean = errs.iter().sum::<f64>() / b as f64;
                    let var = errs.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (b - 1) as f64;
                    (mean, (var / b as f64).sqrt())
                })
                .collect()
        })
        .collect()
}

/// Noise `scale` times the kT/C-like densities of [`noisy_linear`] (algebraic error nodes):
/// with an rms of order one node unit the noise, not the transient, dominates the strong error.
fn additive_case(scale: f64) -> Case {
    let (net, mut circ) = noisy_linear(0.0);
    for lc in circ.layers.iter_mut() {
        for s in lc
            .noise_integrator
            .iter_mut()
            .chain(lc.noise_error.iter_mut())
        {
            *s *= scale;
        }
    }
    (net, circ)
}

/// Multiplicative noise: relative read noise on the forward reads of layers 2..L, whose
/// density S_j = sum_i R_ji phi(z_i)^2 = 2 tau_z sigma^2 mean_i phi(z_i)^2 gives each error node
/// a noise of rms sigma |phi(z)|_rms per sqrt(tau_z) (sigma = 1 here). Nothing else is noisy.
fn multiplicative_case() -> Case {
    let net = linear_net(&[2, 3, 3, 2], 1.0, 8);
    let mut circ = circuit(&net, 0.0);
    let sigma2 = 1.0;
    for lc in circ.layers.iter_mut().skip(1) {
        let r = 2.0 * TAU_Z * sigma2 / lc.inputs as f64;
        lc.relative_forward = Some(DMatrix::from_element(lc.outputs, lc.inputs, r));
    }
    circ.noisy = true;
    (net, circ)
}

/// Strong orders, measured with the production step (`ManualStepper`) on one Brownian path
/// per sample at four step sizes h = 2^-5..2^-8 tau_z against h = 2^-12 tau_z, T = 1 tau_z,
/// 512 paths.
///
/// What is true, and measured: for ADDITIVE noise Euler–Maruyama has strong order 1, not 1/2
/// (its missing Milstein term g g' vanishes when g is constant; Kloeden & Platen §10.2), and
/// so does this stochastic Heun (the integral of W over a step, which neither scheme samples,
/// limits both to order 1); Heun's error constant is smaller. The order 1/2 of Euler–Maruyama
/// shows with MULTIPLICATIVE noise (relative read noise); there the circuit's Heun is of order
/// 1/2 too, because it scales its noise at the state where the step starts
/// (docs/circuit-model.md), which makes it an Itô scheme with Euler–Maruyama's noise term (a
/// Stratonovich Heun would converge to a different solution).
///
/// Tolerance on a slope of expected order p, from three sources:
/// - Monte Carlo: 4 x the standard error of the fitted slope (bounded as if the four levels'
///   errors were fully correlated, the worst case);
/// - the next term of the error's expansion, relatively of order h lambda_max (lambda_max the
///   fastest rate of the flow), which bends the slope by up to kappa = h_max lambda_max;
/// - upwards only: the deterministic part of the error, of order q > p (q = 1 for Euler,
///   2 for Heun), measured with zero normals; if it is a fraction f of the error it lifts the
///   slope by (q - p) f;
/// - the reference's own error, (h_ref / h)^p of the level's: nested in the level's error it
///   changes the measured mean-square error by a factor 1 -+ (h_ref / h)^(2p), most at the
///   finest level, which moves the slope by at most ref_bias either way.
#[test]
fn strong_orders_of_euler_maruyama_and_heun() {
    let schemes = [Scheme::Euler, Scheme::Heun];
    let factors = [128, 64, 32, 16];
    let h_fine = 1.0 / 4096.0;
    let hs: Vec<f64> = factors.iter().map(|&m| m as f64 * h_fine).collect();
    let b = 512;
    let cases: [(&str, Case, f64); 2] = [
        ("additive", additive_case(1e6), 1.0),
        ("multiplicative", multiplicative_case(), 0.5),
    ];
    for (name, (net, circ), p) in cases {
        let w = net.widths();
        let batch = inputs(w[0], w[w.len() - 1], b);
        let lambda_max = Linear::new(&net)
            .k()
            .complex_eigenvalues()
            .iter()
            .map(|m| m.norm())
            .fold(0.0, f64::max);
        let kappa = hs[0] * lambda_max;
        let ref_bias = ((1.0 - (h_fine / hs[0]).powf(2.0 * p)).sqrt()
            / (1.0 - (h_fine / hs[3]).powf(2.0 * p)).sqrt())
        .ln()
            / (hs[0] / hs[3]).ln();
        let start = std::time::Instant::now();
        let errs = strong_errors(&circ, &batch, &schemes, h_fine, &factors, 1.0, 99, true);
        let det = strong_errors(&circ, &batch, &schemes, h_fine, &factors, 1.0, 99, false);
        let wall = start.elapsed().as_secs_f64();
        for (((scheme, e), d), q) in schemes.iter().zip(&errs).zip(&det).zip([1.0, 2.0]) {
            let mean: Vec<f64> = e.iter().map(|v| v.0).collect();
            let se: Vec<f64> = e.iter().map(|v| v.1).collect();
            let f = d
                .iter()
                .zip(&mean)
                .map(|(d, e)| d.0 / e)
                .fold(0.0, f64::max);
            let (slope, sd) = log_slope(&hs, &mean, &se);
            let lower = p - 4.0 * sd - kappa - ref_bias;
            let upper = p + 4.0 * sd + kappa + (q - p).max(0.0) * f + ref_bias;
            eprintln!(
                "strong order, {name} noise, {scheme:?}: errors {} at h = 2^-5..2^-8 (standard \
                 errors {}), deterministic part up to {f:.3} of it; slope {slope:.3} +- {sd:.3} \
                 (expected {p}, allowed [{lower:.3}, {upper:.3}]); {wall:.1} s",
                sci(&mean),
                sci(&se)
            );
            assert!(
                slope >= lower && slope <= upper,
                "{name} {scheme:?}: slope {slope}"
            );
        }
    }
}

/// Settling on a linear network (ideal circuit, tau_e = 0, deterministic): z(t) - z* =
/// V exp(-Lambda t) V^T (z0 - z*) with H = V Lambda V^T, the (symmetric) Hessian. Each sample's
/// settling time by the docs' definition (last exit of any value node from settle_tol x its
/// layer's range around the final value) is found on that closed form by bisection, and also
/// estimated from the slowest eigenvalue alone, ln(amplitude / (tol range)) / lambda_min.
#[test]
fn settling_time_matches_the_eigendecomposition() {
    let widths = [3, 4, 4, 2];
    let net = linear_net(&widths, 1.0, 9);
    let lin = Linear::new(&net);
    let hess = lin.k().symmetric_eigen();
    let nz = lin.nz();
    let lam = &hess.eigenvalues;
    let v = &hess.eigenvectors;
    let k_slow = lam.imin();
    let b = 8;
    let batch = inputs(widths[0], widths[3], b);
    let tol = 1e-3;
    // RK4 at h lambda_max <= 0.05: trajectory error ~ t lambda (h lambda)^4 / 120 < 1e-7 of
    // the range, a time error below 1e-4 of the settling time.
    let h = 0.01;
    assert!(h * lam.max() <= 0.05);
    let o = SimOptions {
        settle_tol: tol,
        // The final state is within sqrt(n) 1e-11 / lambda_min of z*: 1e-8 of the band.
        steady_tol: 1e-11,
        t_max_seconds: 1e4 * TAU_Z,
        trace_samples: b,
        trace_points: 4096,
        ..opts(Scheme::Rk4, h * TAU_Z, 1)
    };
    let sim = run(&circuit(&net, 0.0), &batch, &o).unwrap();
    assert!(sim.steady);
    // The settling time is interpolated between the recorder's checkpoints (also the traces'
    // output points): the true last exit lies in the same checkpoint interval, so the
    // interpolated time is within one spacing of it.
    let spacing = sim
        .traces
        .time_seconds
        .windows(2)
        .map(|p| (p[1] - p[0]) / TAU_Z)
        .fold(0.0, f64::max);
    let layer_of: Vec<usize> = (1..widths.len() - 1)
        .flat_map(|l| std::iter::repeat_n(l, widths[l]))
        .collect();
    let mut worst_exact: f64 = 0.0;
    let mut worst_simple: f64 = 0.0;
    for s in 0..b {
        let c = lin.offset(batch.x.column(s).as_slice(), batch.y.column(s).as_slice());
        let zs = lin.equilibrium(&c);
        let d0 = lin.feedforward(batch.x.column(s).as_slice()) - &zs;
        let coef = v.transpose() * &d0;
        let mut range = [0.0f64; 4];
        for i in 0..nz {
            range[layer_of[i]] = range[layer_of[i]].max(d0[i].abs());
        }
        let band: Vec<f64> = (0..nz).map(|i| tol * range[layer_of[i]]).collect();
        let dev = |i: usize, t: f64| -> f64 {
            (0..nz)
                .map(|k| v[(i, k)] * coef[k] * (-lam[k] * t).exp())
                .sum::<f64>()
                .abs()
                - band[i]
        };
        let mut predicted: f64 = 0.0;
        for i in 0..nz {
            // After t_safe even the sum of the modes' magnitudes is inside the band.
            let envelope = |t: f64| {
                (0..nz)
                    .map(|k| (v[(i, k)] * coef[k]).abs() * (-lam[k] * t).exp())
                    .sum::<f64>()
                    <= band[i]
            };
            let t_safe = bisect_lin(0.0, 100.0 / lam.min(), envelope);
            let n = 100_000;
            let step = t_safe / n as f64;
            if let Some(j) = (0..=n).rev().find(|&j| dev(i, j as f64 * step) > 0.0) {
                let t0 = j as f64 * step;
                predicted = predicted.max(bisect_lin(t0, t0 + step, |t| dev(i, t) <= 0.0));
            }
        }
        let simple = (0..nz)
            .map(|i| (v[(i, k_slow)] * coef[k_slow]).abs() / band[i])
            .filter(|&ratio| ratio > 1.0)
            .map(|ratio| ratio.ln() / lam[k_slow])
            .fold(0.0, f64::max);
        let measured = sim.settling[s].time_seconds / TAU_Z;
        eprintln!(
            "settling, sample {s}: measured {measured:.4} tau_z, closed form {predicted:.4} \
             ({:+.2e}), slowest eigenvalue {simple:.4} ({:+.2e}); checkpoint spacing {spacing:.4}",
            measured / predicted - 1.0,
            measured / simple - 1.0
        );
        assert!(
            (measured - predicted).abs() <= spacing + h,
            "sample {s}: {measured} vs {predicted}"
        );
        assert!(
            rel(measured, simple) <= 0.05,
            "sample {s}: {measured} vs {simple}"
        );
        worst_exact = worst_exact.max(rel(measured, predicted));
        worst_simple = worst_simple.max(rel(measured, simple));
    }
    eprintln!(
        "settling: lambda = {:?}; worst relative difference {worst_exact:.2e} (closed form), \
         {worst_simple:.2e} (slowest eigenvalue)",
        lam.as_slice()
    );
}

/// The time a linear circuit's readout enters its bands for good, from its exact trajectory:
/// `x(t)` is every read-out quantity of one sample at s = t (its value nodes, phi = identity,
/// then its errors), `xs` their final values, `band` their half-widths and `which` the
/// quantities counted. The last exit is found on a grid of `n` points over [0, `t_end`] (with
/// x on the grid given by `grid`) and refined by bisection in its interval.
fn exact_readout_settling(
    grid: &[DVector<f64>],
    x: &dyn Fn(f64) -> DVector<f64>,
    xs: &DVector<f64>,
    band: &[f64],
    which: &dyn Fn(usize) -> bool,
    t_end: f64,
) -> f64 {
    let dev = |v: &DVector<f64>| -> f64 {
        (0..band.len())
            .filter(|&i| which(i))
            .map(|i| (v[i] - xs[i]).abs() - band[i])
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let step = t_end / (grid.len() - 1) as f64;
    match (0..grid.len()).rev().find(|&j| dev(&grid[j]) > 0.0) {
        None => 0.0,
        Some(j) => {
            let t0 = j as f64 * step;
            bisect_lin(t0, t0 + step, |t| dev(&x(t)) <= 0.0)
        }
    }
}

/// Settling referred to the readout on a linear network: a sample has settled when its value
/// nodes (phi = identity) and every layer's error nodes, output included, stay within half an
/// LSB of an 8-bit ADC (at a full scale of its own per error layer) of their final values. The
/// measured time matches the exact one within 2% (the acceptance): for algebraic error nodes
/// from the eigendecomposition of the Hessian, z(t) - z* = V exp(-Lambda t) V^T (z0 - z*) and
/// e = M z + c; for dynamic ones (tau_e = tau_z / 10) from exp(A t) of the (z, e) system.
#[test]
fn readout_settling_matches_the_exact_trajectory_entering_the_half_lsb_band() {
    use apcsim::analog::ReadoutBands;
    use apcsim::hardware::params::Converter;
    let widths = [3, 4, 4, 2];
    let net = linear_net(&widths, 1.0, 9);
    let lin = Linear::new(&net);
    let (nz, ne) = (lin.nz(), lin.ne());
    let hess = lin.k().symmetric_eigen();
    let (lam, v) = (&hess.eigenvalues, &hess.eigenvectors);
    let b = 8;
    let batch = inputs(widths[0], widths[3], b);
    let samples: Vec<_> = (0..b)
        .map(|s| {
            let c = lin.offset(batch.x.column(s).as_slice(), batch.y.column(s).as_slice());
            let zs = lin.equilibrium(&c);
            let z0 = lin.feedforward(batch.x.column(s).as_slice());
            (c, zs, z0)
        })
        .collect();
    // Full scales: 4 x the largest displacement of a value node for the activations, and a
    // quarter of that again for each error layer deeper; half an LSB of 8 bits is 1/256 of it.
    let scale = samples
        .iter()
        .map(|(_, zs, z0)| (z0 - zs).amax())
        .fold(0.0, f64::max);
    let adc = Converter {
        bits: Some(8),
        range: 4.0 * scale,
        energy_joules: 0.0,
    };
    let full_scale = [4.0 * scale, scale, 0.25 * scale];
    let bands = ReadoutBands::new(&adc, &full_scale, 0.5);
    let mut band = vec![bands.activation; nz];
    for l in 1..widths.len() {
        band.extend(std::iter::repeat_n(bands.error[l - 1], widths[l]));
    }
    for rho in [0.0, 0.1] {
        // RK4 at h |mu|_max <= 0.05: a relative trajectory error below 1e-7, far inside 2%.
        let h = if rho > 0.0 { rho / 200.0 } else { 0.01 };
        let o = SimOptions {
            steady_tol: 1e-11,
            t_max_seconds: 1e4 * TAU_Z,
            trace_samples: b,
            trace_points: 4096,
            readout: Some(bands.clone()),
            ..opts(Scheme::Rk4, h * TAU_Z, 1)
        };
        let sim = run(&circuit(&net, rho), &batch, &o).unwrap();
        assert!(sim.steady);
        let t_end = sim.t_end_seconds / TAU_Z;
        let n = 20_000;
        let a = lin.full(rho.max(1e-3));
        let mut worst: f64 = 0.0;
        for (s, (c, zs, z0)) in samples.iter().enumerate() {
            let stack = |z: &DVector<f64>, e: &DVector<f64>| {
                DVector::from_iterator(nz + ne, z.iter().chain(e.iter()).cloned())
            };
            let es = &lin.m * zs + c;
            let xs = stack(zs, &es);
            // The exact readout at s = t.
            let x = |t: f64| -> DVector<f64> {
                if rho == 0.0 {
                    let decay = DVector::from_fn(nz, |k, _| (-lam[k] * t).exp());
                    let coef = v.transpose() * (z0 - zs);
                    let z = zs + v * coef.component_mul(&decay);
                    let e = &lin.m * &z + c;
                    stack(&z, &e)
                } else {
                    exact(&a, &stack(z0, &(&lin.m * z0 + c)), &xs, t)
                }
            };
            let grid: Vec<DVector<f64>> = (0..=n).map(|j| x(t_end * j as f64 / n as f64)).collect();
            let exact_time = |which: &dyn Fn(usize) -> bool| {
                exact_readout_settling(&grid, &x, &xs, &band, which, t_end)
            };
            let predicted = [
                exact_time(&|i| i < nz),
                exact_time(&|i| i >= nz),
                exact_time(&|_| true),
            ];
            let r = &sim.readout_settling[s];
            let measured =
                [r.activation_seconds, r.error_seconds, r.time_seconds].map(|t| t / TAU_Z);
            eprintln!(
                "readout settling, tau_e/tau_z = {rho}, sample {s}: phi(z) {:.4} vs exact {:.4}, \
                 errors {:.4} vs {:.4}, both {:.4} vs {:.4} tau_z",
                measured[0], predicted[0], measured[1], predicted[1], measured[2], predicted[2]
            );
            for k in 0..3 {
                assert!(
                    rel(measured[k], predicted[k]) <= 0.02,
                    "tau_e/tau_z = {rho}, sample {s}: {measured:?} vs {predicted:?}"
                );
                worst = worst.max(rel(measured[k], predicted[k]));
            }
        }
        eprintln!("readout settling, tau_e/tau_z = {rho}: worst relative difference {worst:.2e}");
    }
}

/// A design whose layers each fit one tile, read at 0.2 V through quantised ideal devices.
const ENERGY_DESIGN: &str = r#"
[network]
input = 3
hidden = [4]
output = 2
activation = "tanh"
parameterisation = "sp"
skips = false

[device]
preset = "ideal"
levels = 16

[crossbar]
rows = 8
cols = 8
v_read = "0.2V"
wire_resistance = "0ohm"

[dynamics]
tau_z = "100ns"
tau_e = 0
solver = "rk4"
dt = "1ns"
t_max = "100ns"
settle_window = "50ns"
noise = false

[data]
source = "gaussian"
seed = 3

[run]
batch = 5
seed = 2
"#;

/// The fixed-input design of [`ENERGY_DESIGN`], run to its t_max with targets at the circuit's
/// own feedforward output (every error zero, nothing moves): the design, its mapping, the
/// inputs of each layer's forward read (x, tanh(z_1)) and the run.
struct FixedInputs {
    circuit: apcsim::config::Circuit,
    built: apcsim::design::Built,
    inputs: [DMatrix<f64>; 2],
    sim: Simulation,
}

fn fixed_inputs(overrides: &[&str]) -> FixedInputs {
    use apcsim::config::{load_str, LoadOptions};
    let circuit = load_str(
        "energy.toml",
        ENERGY_DESIGN,
        overrides,
        &LoadOptions::default(),
    )
    .unwrap();
    let built = apcsim::design::build::build(&circuit).unwrap();
    let net = &built.network;
    let circ: AnalogCircuit<f64> = AnalogCircuit::from_design(&circuit, net, &built.mapped);
    let x = built.batch.x.clone();
    let b = x.ncols();
    let fwd = |l: usize| &built.mapped.layers[l - 1].w_forward * net.scalings()[l - 1];
    let u1 = (fwd(1) * &x).map(f64::tanh);
    let y = fwd(2) * &u1;
    let mut o = apcsim::measure::sim_options(&circuit).unwrap();
    o.steady_tol = 0.0;
    let sim = simulate(&circ, x.as_slice(), y.as_slice(), b, &o, &|_, _| {}).unwrap();
    assert!(!sim.steady);
    assert_eq!(sim.window_seconds, sim.t_end_seconds);
    FixedInputs {
        circuit,
        built,
        inputs: [x, u1],
        sim,
    }
}

/// Per element of one fixed read (layer `l`, all samples), from the programmed conductances
/// alone: each row driver's current |I_i| = |V_i| (G+_i. + G-_i.) (the G- rows driven
/// inverted), each device's heat G V^2, each column's current I_j = sum_i (G+_ij - G-_ij) V_i
/// (Kirchhoff at the virtual ground).
struct ReadElements {
    driver_currents: Vec<f64>,
    row_voltages: Vec<f64>,
    device_heat: f64,
    column_currents: Vec<f64>,
}

fn read_elements(f: &FixedInputs, l: usize) -> ReadElements {
    let m = &f.built.mapped.layers[l - 1];
    assert_eq!(m.tile_grid, (1, 1));
    let (gp, gm) = (&m.forward.plus.programmed, &m.forward.minus.programmed);
    assert_eq!(gp, &m.forward.plus.read);
    assert_eq!(gm, &m.forward.minus.read);
    let v = f.circuit.crossbar.v_read_volts;
    let u = &f.inputs[l - 1];
    let mut e = ReadElements {
        driver_currents: Vec::new(),
        row_voltages: Vec::new(),
        device_heat: 0.0,
        column_currents: Vec::new(),
    };
    for s in 0..u.ncols() {
        for i in 0..m.inputs {
            let vi = v * u[(i, s)];
            let mut g_row = 0.0;
            for j in 0..m.outputs {
                g_row += gp[(i, j)] + gm[(i, j)];
                e.device_heat += (gp[(i, j)] + gm[(i, j)]) * vi * vi;
            }
            e.driver_currents.push(vi.abs() * g_row);
            e.row_voltages.push(vi);
        }
        for j in 0..m.outputs {
            e.column_currents.push(
                (0..m.inputs)
                    .map(|i| (gp[(i, j)] - gm[(i, j)]) * v * u[(i, s)])
                    .sum(),
            );
        }
    }
    e
}

/// Supply-side energy with a closed form: with every error zero and nothing moving, each row
/// driver draws V_dd |I_i| for the whole window t, both polarities (V_dd |V_i| (G+ + G-) t),
/// the devices dissipate sum (G+ + G-) V_i^2 t of it, and the backward drivers, at zero, draw
/// nothing.
#[test]
fn supply_energy_of_fixed_inputs_is_v_dd_i_t_and_joule_heat_g_v_squared_t() {
    let f = fixed_inputs(&[]);
    let window = f.sim.window_seconds;
    let energy = f.sim.energy.as_ref().unwrap();
    let vdd = f.circuit.periphery.supply_volts;
    for l in [1, 2] {
        let e = read_elements(&f, l);
        let supply = vdd * e.driver_currents.iter().sum::<f64>() * window;
        let heat = e.device_heat * window;
        let got = energy[l - 1][Component::CrossbarForward.index()];
        let got_heat = energy[l - 1][Component::DeviceJouleHeat.index()];
        // A trapezoid sum over 100 steps of a constant power: rounding ~1e-14 relative; the
        // nodes move by rounding only (errors ~1e-16), 1e-16 relative.
        eprintln!(
            "layer {l}: drivers {got:.6e} J, V_dd sum |I| t = {supply:.6e} J ({:.1e}); Joule heat \
             {got_heat:.6e} J, sum (G+ + G-) V^2 t = {heat:.6e} J ({:.1e})",
            rel(got, supply),
            rel(got_heat, heat)
        );
        assert!(rel(got, supply) <= 1e-9);
        assert!(rel(got_heat, heat) <= 1e-9);
        assert!(got_heat < got, "the heat is a part of the drivers' energy");
        let back = energy[l - 1][Component::CrossbarBackward.index()];
        // The errors are rounding, ~1e-16 of the signals, and the drivers' current is linear
        // in them.
        assert!(
            back <= 1e-12 * supply,
            "backward read with zero errors: {back:e}"
        );
    }
}

/// Conservation on the fixed-input run: what the supply delivers to the reads and the
/// amplifiers equals, element by element, the devices' Joule heat, the drivers' output stages
/// ((V_dd - |V_i|) |I_i|), the TIAs' feedback resistors (R_f I_j^2) and output stages
/// ((V_dd - R_f |I_j|) |I_j|), and the amplifiers' bias, all over the window; the column
/// currents I_j come from Kirchhoff's law on the programmed conductances, not from the circuit.
#[test]
fn supply_energy_is_conserved_element_by_element() {
    let f = fixed_inputs(&[]);
    let window = f.sim.window_seconds;
    let energy = f.sim.energy.as_ref().unwrap();
    let vdd = f.circuit.periphery.supply_volts;
    let model = apcsim::measure::sim_options(&f.circuit)
        .unwrap()
        .energy
        .unwrap();
    let bias = model.static_power();
    for l in [1, 2] {
        let e = read_elements(&f, l);
        let r_f = f.built.mapped.layers[l - 1].feedback_resistance_ohms;
        let drivers: f64 = e
            .driver_currents
            .iter()
            .zip(&e.row_voltages)
            .map(|(i, v)| (vdd - v.abs()) * i)
            .sum();
        let tias: f64 = e
            .column_currents
            .iter()
            .map(|i| r_f * i * i + (vdd - r_f * i.abs()) * i.abs())
            .sum();
        let biases: f64 = Component::SUPPLY
            .iter()
            .map(|c| bias[l - 1][c.index()])
            .sum();
        let b = f.inputs[0].ncols() as f64;
        let dissipated = (e.device_heat + drivers + tias + biases * b) * window;
        let row = &energy[l - 1];
        // Everything but the node capacitors (which do not move) and the conversions (events,
        // with the core's digital side of each).
        let events = [
            Component::Capacitors,
            Component::Dac,
            Component::Adc,
            Component::Core,
        ];
        let supplied: f64 = Component::SUPPLY
            .iter()
            .filter(|c| !events.contains(c))
            .map(|c| row[c.index()])
            .sum();
        eprintln!(
            "layer {l}: supplied {supplied:.9e} J, dissipated {dissipated:.9e} J ({:.1e})",
            rel(supplied, dissipated)
        );
        assert!(rel(supplied, dissipated) <= 1e-9);
        assert!(tias > 0.0 && drivers > 0.0);
    }
}

/// tiny.toml's capacitor energy with `solver`, step `dt` and noise on or off.
fn capacitor_energy(solver: &str, dt: &str, noise: bool) -> f64 {
    use apcsim::config::{load, LoadOptions};
    let path = common::repo_path("circuits/tiny.toml");
    let set = [
        &format!("dynamics.noise={noise}"),
        "periphery.ktc_noise=true",
        "device.read_noise_thermal=true",
        &format!("dynamics.solver={solver}"),
        &format!("dynamics.dt={dt}"),
    ];
    let circuit = load(&path, &set, &LoadOptions::default()).unwrap();
    let res = apcsim::measure::run(&circuit, &|_, _| {}).unwrap();
    assert_eq!(res.report.measurements().unwrap().dynamics.noisy, noise);
    component_total(res.sim.energy.as_ref().unwrap(), Component::Capacitors)
}

/// The capacitor charge of a noisy run is counted on the noise-free trajectory: dividing dt by
/// 10 changes it by the integrator's error only (it grew by 37% when the Brownian path's total
/// variation was counted; with the exponential scheme it moved by 2.4% while the window ended at
/// the noisy settling time, whose last 5-sigma excursion comes later the more steps there are).
#[test]
fn noisy_capacitor_energy_does_not_grow_as_dt_shrinks() {
    for (solver, coarse_dt, fine_dt) in [
        ("heun", "0.1ns", "0.01ns"),
        ("exponential", "0.1ns", "0.01ns"),
    ] {
        let coarse = capacitor_energy(solver, coarse_dt, true);
        let fine = capacitor_energy(solver, fine_dt, true);
        eprintln!(
            "capacitor energy of a noisy {solver} run: dt = {coarse_dt} {coarse:.6e} J, dt = \
             {fine_dt} {fine:.6e} J ({:+.2e})",
            fine / coarse - 1.0
        );
        assert!(rel(fine, coarse) <= 0.01, "{solver}");
    }
}

/// A noisy exponential run's first pass takes error-controlled steps and its second steps of dt:
/// the first pass's capacitor charge is placed on the second's grid by time, so the noisy run
/// draws what the noise-free run draws over the same window (the readout's settling, measured
/// on the same noise-free pass in both). They differ only where the window's last step is split
/// pro rata on the other grid: the charge of one step with the nodes inside half an LSB, below
/// 1e-4 of the total.
#[test]
fn noisy_capacitor_energy_is_the_noise_free_runs() {
    for dt in ["5ns", "0.5ns"] {
        let quiet = capacitor_energy("exponential", dt, false);
        let noisy = capacitor_energy("exponential", dt, true);
        eprintln!(
            "capacitor energy at dt = {dt}: noise-free run {quiet:.6e} J, noisy run {noisy:.6e} \
             J ({:+.2e})",
            noisy / quiet - 1.0
        );
        assert!(rel(noisy, quiet) <= 1e-4, "dt = {dt}");
    }
}

/// The energy in report.json equals the power recorded in traces.h5 integrated with the
/// trapezoid rule over the settling window (the DAC and ADC conversions are events, not
/// power, and are left out); and every energy total is the sum of its parts.
#[test]
fn reported_energy_is_the_integral_of_the_traced_power_and_adds_up() {
    use apcsim::io::h5::{Attr, H5Reader};
    use apcsim::measure as run;
    let path = common::repo_path("circuits/tiny.toml");
    let circuit = apcsim::config::load(
        &path,
        &["run.trace_points=4000"],
        &apcsim::config::LoadOptions::default(),
    )
    .unwrap();
    let res = run::run(&circuit, &|_, _| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    run::write_measurements(&circuit, &res, dir.path()).unwrap();
    let h5 = H5Reader::open(&dir.path().join("traces.h5")).unwrap();
    let t = h5.array("time_seconds").unwrap().data;
    let pw = h5.array("power/by_component_watts").unwrap();
    let Some(Attr::Str(names)) = h5.attr("power", "components").unwrap() else {
        panic!("no component names");
    };
    let names: Vec<&str> = names.split(',').collect();
    assert_eq!(pw.shape, vec![t.len(), names.len()]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let window = report["settling"]["window_seconds"].as_f64().unwrap();
    let energy = &report["energy"];
    // Trapezoid rule over the output points up to the window (the last interval cut at the
    // window, the power interpolated linearly there).
    let integrate = |c: usize, stride: usize| -> f64 {
        let idx: Vec<usize> = (0..t.len()).step_by(stride).collect();
        let p = |k: usize| pw.data[k * names.len() + c];
        let mut e = 0.0;
        for w in idx.windows(2) {
            let (a, b) = (w[0], w[1]);
            if t[a] >= window {
                break;
            }
            if t[b] <= window {
                e += 0.5 * (t[b] - t[a]) * (p(a) + p(b));
            } else {
                let f = (window - t[a]) / (t[b] - t[a]);
                let pe = p(a) + f * (p(b) - p(a));
                e += 0.5 * (window - t[a]) * (p(a) + pe);
            }
        }
        e
    };
    let (mut sum_traced, mut sum_reported, mut sum_coarse) = (0.0, 0.0, 0.0);
    for (c, name) in names.iter().enumerate() {
        if ["dac", "adc", "core"].contains(name) {
            continue;
        }
        let traced = integrate(c, 1);
        let coarse = integrate(c, 2);
        let reported = energy["by_component_joules"][name].as_f64().unwrap();
        eprintln!(
            "  {name:<18} reported {reported:.5e} J, traced power integrated {traced:.5e} J \
             ({:+.2e})",
            if reported > 0.0 {
                traced / reported - 1.0
            } else {
                0.0
            }
        );
        sum_traced += traced;
        sum_reported += reported;
        sum_coarse += coarse;
    }
    // The output points are every k-th step; between them the trapezoid rule errs by
    // O(spacing^2 P''), which Richardson's estimate (coarse - fine) / 3 measures.
    let richardson = (sum_coarse - sum_traced).abs() / 3.0 / sum_traced;
    eprintln!(
        "energy over the {window:.3e} s window, {} output points: reported {sum_reported:.6e} J, \
         traced {sum_traced:.6e} J ({:+.2e}); trapezoid error estimate {richardson:.1e}",
        t.len(),
        sum_traced / sum_reported - 1.0
    );
    assert!(rel(sum_traced, sum_reported) <= 0.005);

    // Additivity: exact up to the rounding of sums of at most 27 terms (< 1e-14 relative).
    let by_lc = energy["by_layer_component_joules"].as_array().unwrap();
    let by_layer = energy["by_layer_joules"].as_array().unwrap();
    let total_e = energy["per_inference_joules"].as_f64().unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1e-300);
    let mut all = 0.0;
    for (l, row) in by_lc.iter().enumerate() {
        let s: f64 = Component::SUPPLY
            .iter()
            .map(|c| row[c.name()].as_f64().unwrap())
            .sum();
        assert!(close(s, by_layer[l].as_f64().unwrap()), "layer {}", l + 1);
        all += s;
    }
    for c in Component::ALL {
        let s: f64 = by_lc.iter().map(|r| r[c.name()].as_f64().unwrap()).sum();
        let rep = energy["by_component_joules"][c.name()].as_f64().unwrap();
        assert!(close(s, rep), "{}: {s} vs {rep}", c.name());
    }
    let s_layers: f64 = by_layer.iter().map(|v| v.as_f64().unwrap()).sum();
    assert!(close(all, total_e) && close(s_layers, total_e));
    let e = res.sim.energy.as_ref().unwrap();
    assert!(close(total(e), total_e));
    assert!(close(
        (1..=e.len()).map(|l| layer_total(e, l)).sum::<f64>(),
        total_e
    ));
    assert!(close(
        Component::SUPPLY
            .iter()
            .map(|&c| component_total(e, c))
            .sum::<f64>(),
        total_e
    ));
}

/// `simulate` with noise gives bit-identical results on one and on two threads, over a batch
/// of three chunks (16 + 16 + 5 samples), with both SDE schemes.
#[test]
fn noisy_simulation_is_identical_on_one_and_two_threads() {
    let (net, batch) = case(Activation::Tanh, vec![4, 6, 6, 3], 37, 13);
    let mut circ = circuit(&net, 0.05);
    for lc in circ.layers.iter_mut() {
        lc.noise_integrator.iter_mut().for_each(|s| *s = 1e-13);
        lc.noise_error.iter_mut().for_each(|s| *s = 2e-13);
        lc.noise_backward.iter_mut().for_each(|s| *s = 5e-14);
        // 1/f noise with a 100 kHz corner on every amplifier (its own streams).
        lc.flicker = Some(FlickerCoefficients {
            error: vec![2e-8; lc.noise_error.len()],
            backward: vec![5e-9; lc.noise_backward.len()],
            integrator: vec![1e-8; lc.noise_integrator.len()],
        });
        lc.relative_forward = Some(DMatrix::from_element(lc.outputs, lc.inputs, 1e-14));
        lc.relative_backward = lc
            .backward
            .as_ref()
            .map(|_| DMatrix::from_element(lc.outputs, lc.inputs, 1e-14));
        lc.row_conductance_forward
            .iter_mut()
            .for_each(|g| *g = 1e-4);
        lc.line_conductance_backward
            .iter_mut()
            .for_each(|g| *g = 1e-4);
    }
    circ.noisy = true;
    let w = &circ.widths;
    let energy = EnergyModel {
        v_read_volts: 0.2,
        supply_volts: 1.0,
        node_capacitance_farads: 1e-13,
        amplifier_power_watts: [2e-5; 4],
        dac_energy_joules: 1e-13,
        adc_energy_joules: 1e-13,
        core_joules: [1e-14, 2e-14],
        amplifiers: (1..w.len()).map(|l| [w[l], w[l], w[l], w[l]]).collect(),
        conversions: (1..w.len()).map(|l| [w[l], w[l]]).collect(),
    };
    for scheme in [Scheme::Euler, Scheme::Heun] {
        let o = SimOptions {
            noise: true,
            steady_tol: 1e-4,
            t_max_seconds: 20.0 * TAU_Z,
            settle_window_seconds: 2.0 * TAU_Z,
            trace_samples: 37,
            trace_points: 200,
            energy: Some(energy.clone()),
            readout: None,
            seed: 5,
            ..opts(scheme, 0.01 * TAU_Z, 1)
        };
        let on = |threads: usize| -> Simulation {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| run(&circ, &batch, &o).unwrap())
        };
        let (a, b) = (on(1), on(2));
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert!(a.final_z_std.iter().all(|&s| s > 0.0), "the noise must act");
        assert_eq!(a.steps, b.steps);
        assert_eq!(a.evaluations, b.evaluations);
        assert_eq!(bits(&a.final_z), bits(&b.final_z));
        assert_eq!(bits(&a.final_z_std), bits(&b.final_z_std));
        for (x, y) in a.final_e.iter().zip(&b.final_e) {
            assert_eq!(bits(x), bits(y));
        }
        let times =
            |s: &Simulation| -> Vec<f64> { s.settling.iter().map(|v| v.time_seconds).collect() };
        assert_eq!(bits(&times(&a)), bits(&times(&b)));
        let flat = |e: &Option<Vec<[f64; Component::COUNT]>>| -> Vec<f64> {
            e.as_ref().unwrap().iter().flatten().cloned().collect()
        };
        assert_eq!(bits(&flat(&a.energy)), bits(&flat(&b.energy)));
        for (x, y) in a.traces.z.iter().zip(&b.traces.z) {
            assert_eq!(bits(x), bits(y));
        }
        let power = |s: &Simulation| -> Vec<f64> {
            s.traces.power_watts.iter().flatten().cloned().collect()
        };
        assert_eq!(bits(&power(&a)), bits(&power(&b)));
        eprintln!(
            "determinism, {scheme:?}: {} steps, 37 samples in 3 chunks, bit-identical on 1 and 2 \
             threads",
            a.steps
        );
    }
}

/// Regression (found by these tests): `simulate` ran floor(t_max / dt) steps, and t_max = N dt
/// divided back by dt can round to just below N (12000 steps of 2.5e-11 s give
/// 11999.999999999998), so a run asked for N steps took N - 1.
#[test]
fn a_run_of_n_steps_takes_n_steps() {
    let (net, batch) = case(Activation::Tanh, vec![3, 5, 5, 2], 4, 11);
    let dt = 2.5e-4 * TAU_Z;
    for n in [29, 45, 12000] {
        assert!(
            (dt * n as f64) / dt < n as f64,
            "this n does not round down"
        );
        let sim = run(&circuit(&net, 0.0), &batch, &opts(Scheme::Euler, dt, n)).unwrap();
        assert_eq!(sim.steps, n);
    }
}
