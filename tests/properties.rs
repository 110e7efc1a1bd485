//! Property tests of the PC network of docs/design.md §1 over random architectures, weights and batches:
//! the feedforward pass against BP, analytic gradients against finite differences, Euler as a
//! descent method, the linear closed form against an accurate ODE solver, and f32 against f64.
//!
//! Every tolerance is derived from the numerics of the quantity it bounds (unit roundoff, the
//! truncation and cancellation errors of a difference quotient, a Lipschitz constant); the
//! comment next to it says how.

use apcsim::dynamics::{infer, InferenceOptions, Solver, Stop};
use apcsim::network::{closed_form, Activation, Architecture, Batch, Network, Parameterisation};
use nalgebra::DMatrix;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::FileFailurePersistence;
use std::ops::Range;

/// Failing cases are kept in `proptest-regressions/` at the crate root (cargo runs integration
/// tests there), which proptest's default cannot find for a file under `tests/`.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/properties.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// Unit roundoff of f64 (half the machine epsilon).
const U64: f64 = f64::EPSILON / 2.0;
/// Unit roundoff of f32.
const U32: f64 = f32::EPSILON as f64 / 2.0;

/// One generated problem: an architecture, the seed of its initial weights, a batch, and
/// offsets that move the activities away from the feedforward pass.
#[derive(Clone, Debug)]
struct Case {
    arch: Architecture,
    seed: u64,
    batch: Batch<f64>,
    /// Added to the feedforward activities (flat layout), each in [-1, 1].
    noise: Vec<f64>,
}

impl Case {
    fn network(&self) -> Network<f64> {
        Network::init(self.arch.clone(), self.seed).expect("generated architectures are valid")
    }

    fn b(&self) -> usize {
        self.batch.size()
    }
}

/// What a family of generated cases may contain.
#[derive(Clone, Debug)]
struct Space {
    activations: Vec<Activation>,
    input: Range<usize>,
    hidden: Range<usize>,
    output: Range<usize>,
    /// Number of weight layers L.
    layers: Range<usize>,
    gamma0: Range<f64>,
    precision: Range<f64>,
    /// Targets are drawn from [-target, target].
    target: f64,
}

impl Space {
    fn standard(activations: &[Activation]) -> Self {
        Space {
            activations: activations.to_vec(),
            input: 1..8,
            hidden: 2..10,
            output: 1..8,
            layers: 2..5,
            gamma0: 0.5..2.0,
            precision: 0.5..2.0,
            target: 2.0,
        }
    }
}

fn architectures(space: Space) -> impl Strategy<Value = Architecture> {
    (
        space.input,
        vec(space.hidden, 4),
        space.output,
        space.layers,
        select(space.activations),
        select(Parameterisation::ALL.to_vec()),
        any::<bool>(),
        space.gamma0,
        space.precision,
    )
        .prop_map(
            |(d, hidden, o, l, activation, parameterisation, skips, gamma0, output_precision)| {
                let mut widths = vec![d];
                // Skip layers map a width onto itself, so networks with skips get equal hidden
                // widths.
                widths.extend((0..l - 1).map(|k| if skips { hidden[0] } else { hidden[k] }));
                widths.push(o);
                Architecture {
                    widths,
                    activation,
                    parameterisation,
                    skips,
                    gamma0,
                    output_precision,
                }
            },
        )
}

fn cases(space: Space) -> impl Strategy<Value = Case> {
    let target = space.target;
    (architectures(space), any::<u64>(), 1usize..6)
        .prop_flat_map(move |(arch, seed, b)| {
            let d = arch.widths[0];
            let o = arch.widths[arch.widths.len() - 1];
            let free: usize = arch.widths[1..arch.widths.len() - 1].iter().sum();
            (
                Just(arch),
                Just(seed),
                Just(b),
                vec(-2.0f64..2.0, d * b),
                vec(-target..target, o * b),
                vec(-1.0f64..1.0, free * b),
            )
        })
        .prop_map(|(arch, seed, b, x, y, noise)| {
            let d = arch.widths[0];
            let o = arch.widths[arch.widths.len() - 1];
            Case {
                arch,
                seed,
                batch: Batch {
                    x: DMatrix::from_vec(d, b, x),
                    y: DMatrix::from_vec(o, b, y),
                },
                noise,
            }
        })
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// The feedforward activities plus the case's noise: a generic point, away from equilibrium.
fn noisy_activities(net: &Network<f64>, case: &Case) -> Vec<f64> {
    let (z, _) = net.feedforward(case.batch.x.as_slice(), case.b());
    z.iter().zip(&case.noise).map(|(a, n)| a + n).collect()
}

/// Moves every activity at least `margin` away from the kinks of relu (0) and hard_tanh (+-1),
/// so that a difference quotient with a step below `margin` never straddles one: there the
/// one-sided derivatives differ and no finite difference approximates the gradient.
fn away_from_kinks(act: Activation, z: &mut [f64], margin: f64) {
    let kinks: &[f64] = match act {
        Activation::Relu => &[0.0],
        Activation::HardTanh => &[-1.0, 1.0],
        _ => &[],
    };
    for v in z.iter_mut() {
        for &k in kinks {
            if (*v - k).abs() < margin {
                *v = if *v >= k { k + margin } else { k - margin };
            }
        }
    }
}

/// Which side of each kink every hidden pre-activation lies on (empty for smooth activations).
/// Two networks with the same pattern compute, along the segment between their weights, the
/// same smooth (polynomial or analytic) function of one weight, as long as no pre-activation
/// crosses a kink and comes back within the step — impossible at the steps used here.
fn kink_pattern(act: Activation, z: &[f64]) -> Vec<(i8, i8)> {
    let side = |v: f64| (v > 0.0) as i8 - (v < 0.0) as i8;
    match act {
        Activation::Relu => z.iter().map(|&v| (side(v), 0)).collect(),
        Activation::HardTanh => z.iter().map(|&v| (side(v + 1.0), side(v - 1.0))).collect(),
        _ => Vec::new(),
    }
}

/// The network with `delta` added to entry (i, j) of W_layer.
fn perturbed(net: &Network<f64>, layer: usize, i: usize, j: usize, delta: f64) -> Network<f64> {
    let mut w = net.weights().to_vec();
    w[layer][(i, j)] += delta;
    Network::new(net.architecture().clone(), w).expect("a finite perturbation keeps W valid")
}

fn spectral_norm(w: &DMatrix<f64>) -> f64 {
    w.clone().svd(false, false).singular_values.max()
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: at the feedforward pass PC is BP.

/// F at the feedforward pass against the BP loss and against 0.5 lambda mean |y - yhat|^2
/// computed here from `feedforward`'s output.
fn check_feedforward_energy_is_bp_loss(case: &Case) -> Result<(), TestCaseError> {
    let net = case.network();
    let b = case.b();
    let lam = case.arch.output_precision;
    let (z, yhat) = net.feedforward(case.batch.x.as_slice(), b);
    let f = net.energy(&case.batch, &z);
    let (loss, _) = net.bp_gradients(&case.batch);

    let mut reference = 0.0;
    let mut scale = 0.0;
    for (&y, &yh) in case.batch.y.iter().zip(&yhat) {
        reference += (y - yh).powi(2);
        scale += (y.abs() + yh.abs()).powi(2);
    }
    reference *= 0.5 * lam / b as f64;
    scale *= 0.5 * lam / b as f64;
    // Each output error is y - yhat to within a few ulps of |y| + |yhat| (the prediction may
    // be rounded once more when fused into the error, and the reference's subtraction rounds),
    // so each squared error is off by ~4u (|y| + |yhat|)^2; summing n = O B + L non-negative
    // terms adds at most n u relative. Hidden errors at the feedforward pass are rounding
    // residues of size u |z|, whose squares (u^2 |z|^2) are far below this bound.
    let n = yhat.len() + case.arch.widths.len();
    let tol = 4.0 * (n as f64 + 4.0) * U64 * scale;
    prop_assert!(
        (f - reference).abs() <= tol,
        "F(ff) = {f:e}, reference {reference:e}, tol {tol:e}"
    );
    prop_assert!(
        (loss - reference).abs() <= tol,
        "BP loss = {loss:e}, reference {reference:e}, tol {tol:e}"
    );
    Ok(())
}

/// At the feedforward pass the last layer's PC gradient is its BP gradient, and the hidden
/// layers' PC gradients vanish (their errors are zero up to the rounding of one prediction).
/// Checked against rounding bounds rather than for exact zeros, which the fused GEMM kernels
/// do not produce (see below).
fn check_feedforward_pc_gradients_are_bp(case: &Case) -> Result<(), TestCaseError> {
    let net = case.network();
    let arch = &case.arch;
    let b = case.b();
    let l_out = net.n_layers();
    let lay = net.layout(b);
    let (z, yhat) = net.feedforward(case.batch.x.as_slice(), b);
    let pc = net.pc_weight_gradients(&case.batch, &z);
    let (_, bp) = net.bp_gradients(&case.batch);
    prop_assert_eq!(pc.len(), l_out);
    prop_assert_eq!(bp.len(), l_out);

    // phi(z_l) as n_l x B matrices, l = 0..L-1 (phi is the identity on the input).
    let mut phi = vec![case.batch.x.clone()];
    for l in 1..l_out {
        let zl = DMatrix::from_column_slice(lay.width(l), b, &z[lay.range(l)]);
        phi.push(zl.map(|v| arch.activation.value(v)));
    }

    // Last layer: both are -(a_L lambda / B) e_L phi(z_{L-1})^T, accumulated in different
    // orders; a dot product of length B is exact to within (B + 3) u of sum |e| |phi| (the +3
    // for the scaling factors' products), so that bounds each entry's difference.
    let a_l = net.scalings()[l_out - 1];
    let o = arch.widths[l_out];
    let e_out = DMatrix::from_column_slice(o, b, &yhat).map(|v| -v) + &case.batch.y;
    let mag =
        e_out.abs() * phi[l_out - 1].abs().transpose() * (a_l * arch.output_precision / b as f64);
    let gamma = 2.0 * (b as f64 + 3.0) * U64;
    for ((p, q), m) in pc[l_out - 1]
        .iter()
        .zip(bp[l_out - 1].iter())
        .zip(mag.iter())
    {
        prop_assert!(
            (p - q).abs() <= gamma * m,
            "last layer: PC {p:e} vs BP {q:e}, bound {:e}",
            gamma * m
        );
    }

    // Hidden layers: mathematically e_l = 0, so dF/dW_{l-1} = 0. In floating point e_l is the
    // rounding residue of recomputing the prediction, not always exactly 0: on CPUs with FMA,
    // matrixmultiply's full 8x4 f64 tiles compute e = fma(-a_l, W phi, z_l), the exact
    // rounding error of z_l = fl(a_l (W phi)) (non-zero whenever a_l is not a power of two;
    // e.g. mupc, widths [3, 8, 1], B = 4: every e_1 entry is ~1e-17), below u |z_l|. On skip
    // layers (z_l - z_{l-1}) - a_l W phi rounds twice more, below 2u (|z_l| + |z_{l-1}|). The
    // gradient entry is then below (a_l / B) sum_i |e_l| |phi(z_{l-1})|; 3u per term is used.
    for l in 1..l_out {
        let zl = DMatrix::from_column_slice(lay.width(l), b, &z[lay.range(l)]);
        let mut e_bound = zl.abs() * (3.0 * U64);
        if arch.has_skip(l) {
            let prev = DMatrix::from_column_slice(lay.width(l - 1), b, &z[lay.range(l - 1)]);
            e_bound += prev.abs() * (3.0 * U64);
        }
        let bound = e_bound
            * phi[l - 1].abs().transpose()
            * (net.scalings()[l - 1] / b as f64 * (1.0 + gamma));
        for (g, m) in pc[l - 1].iter().zip(bound.iter()) {
            prop_assert!(g.abs() <= *m, "hidden layer {l}: PC gradient {g:e} > {m:e}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3 and 4: analytic gradients against central finite differences.

/// `activity_gradient` (of the per-sample energies E_i) against central differences of the
/// batch energy F = (1/B) sum_i E_i. z_{l,i} enters E_i only, so dE_i/dz_{l,i} = B dF/dz_{l,i}.
fn check_activity_gradient(case: &Case) -> Result<(), TestCaseError> {
    let net = case.network();
    let b = case.b();
    let (x, y) = (case.batch.x.as_slice(), case.batch.y.as_slice());
    // Step 1e-5: the truncation error h^2/6 |E'''| is ~1e-11 for the O(1) third derivatives of
    // these energies, the cancellation error ~ B u |F| / h ~ 1e-10 for |F| ~ 10; both far below
    // 1e-6 of a gradient whose largest entry is O(0.1) (the noise puts every hidden error at
    // O(1)). Activities are moved 1e-3 away from kinks, a hundred steps.
    let h = 1e-5;
    let mut z = noisy_activities(&net, case);
    away_from_kinks(case.arch.activation, &mut z, 1e-3);
    let mut ws = net.workspace(b);
    let mut g = vec![0.0; z.len()];
    net.activity_gradient(x, y, &z, &mut ws, &mut g);
    let g_max = max_abs(&g);
    prop_assert!(g_max > 0.0, "a generic point has a non-zero gradient");
    for k in 0..z.len() {
        let mut zp = z.clone();
        let mut zm = z.clone();
        zp[k] += h;
        zm[k] -= h;
        // Divide by the step actually represented, not by 2h.
        let fd = (net.energy(&case.batch, &zp) - net.energy(&case.batch, &zm)) / (zp[k] - zm[k])
            * b as f64;
        prop_assert!(
            (fd - g[k]).abs() <= 1e-6 * g_max,
            "dE/dz[{k}]: analytic {:e}, finite difference {fd:e}, max |g| {g_max:e}",
            g[k]
        );
    }
    Ok(())
}

/// PC weight gradients at an arbitrary point z against central differences of F in each weight,
/// with z held fixed.
fn check_pc_weight_gradients(case: &Case) -> Result<(), TestCaseError> {
    let net = case.network();
    let z = noisy_activities(&net, case);
    let pc = net.pc_weight_gradients(&case.batch, &z);
    let g_max = pc.iter().map(|g| max_abs(g.as_slice())).fold(0.0, f64::max);
    prop_assert!(
        g_max > 0.0,
        "a generic point has a non-zero weight gradient"
    );
    // At fixed activities e_l is affine in every entry of W_{l-1}, so F is quadratic in it and
    // the central difference is exact: only cancellation, ~ u |F| / h ~ 1e-14 for h = 1e-3, is
    // left, far below 1e-6 of the largest gradient entry.
    let h = 1e-3;
    for (layer, grad) in pc.iter().enumerate() {
        for i in 0..grad.nrows() {
            for j in 0..grad.ncols() {
                let fp = perturbed(&net, layer, i, j, h).energy(&case.batch, &z);
                let fm = perturbed(&net, layer, i, j, -h).energy(&case.batch, &z);
                let fd = (fp - fm) / (2.0 * h);
                prop_assert!(
                    (fd - grad[(i, j)]).abs() <= 1e-6 * g_max,
                    "dF/dW{layer}[{i},{j}]: analytic {:e}, finite difference {fd:e}",
                    grad[(i, j)]
                );
            }
        }
    }
    Ok(())
}

/// BP gradients against central differences of the BP loss, through the whole feedforward pass.
/// Entries whose perturbation moves a pre-activation across a kink of relu or hard_tanh are
/// skipped (the loss is not differentiable along that direction there).
fn check_bp_gradients(case: &Case) -> Result<(), TestCaseError> {
    let net = case.network();
    let act = case.arch.activation;
    let b = case.b();
    let x = case.batch.x.as_slice();
    let (_, bp) = net.bp_gradients(&case.batch);
    let g_max = bp.iter().map(|g| max_abs(g.as_slice())).fold(0.0, f64::max);
    let pattern = kink_pattern(act, &net.feedforward(x, b).0);
    // Step 1e-5 on O(1) weights: truncation h^2/6 |loss'''| ~ 1e-10 and cancellation
    // ~ u |loss| / h ~ 1e-10, far below 1e-6 of the largest gradient entry (O(0.1)).
    let h = 1e-5;
    let (mut checked, mut total) = (0usize, 0usize);
    for (layer, grad) in bp.iter().enumerate() {
        for i in 0..grad.nrows() {
            for j in 0..grad.ncols() {
                total += 1;
                let np = perturbed(&net, layer, i, j, h);
                let nm = perturbed(&net, layer, i, j, -h);
                if kink_pattern(act, &np.feedforward(x, b).0) != pattern
                    || kink_pattern(act, &nm.feedforward(x, b).0) != pattern
                {
                    continue;
                }
                checked += 1;
                let wp = np.weights()[layer][(i, j)];
                let wm = nm.weights()[layer][(i, j)];
                let fd =
                    (np.bp_gradients(&case.batch).0 - nm.bp_gradients(&case.batch).0) / (wp - wm);
                prop_assert!(
                    (fd - grad[(i, j)]).abs() <= 1e-6 * g_max,
                    "dLoss/dW{layer}[{i},{j}]: analytic {:e}, finite difference {fd:e}, \
                     max |g| {g_max:e}",
                    grad[(i, j)]
                );
            }
        }
    }
    // A step of 1e-5 crosses a kink only for pre-activations within ~1e-5 of it: rare.
    prop_assert!(
        2 * checked >= total,
        "only {checked} of {total} entries were checked"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 5: Euler is a descent method on the energy.

/// max |tanh''| = 4 / (3 sqrt 3), reached at tanh(x) = 1/sqrt 3.
const TANH_SECOND_DERIVATIVE_MAX: f64 = 0.769_800_358_919_501;

/// An upper bound K on the Lipschitz constant of grad E_i (the norm of its Hessian) over the
/// sublevel set {E_i <= e_max}, for a tanh network.
///
/// With residuals r_l = sqrt(lambda_l) e_l, the Hessian is J^T J + sum_l lambda_l sum_j
/// e_{l,j} grad^2 e_{l,j}. J = P - Q, P the identity on the free layers (norm 1) and Q the
/// block-diagonal (up to a permutation) map z_{l-1} -> sqrt(lambda_l) (s_l + a_l W_{l-1}
/// diag phi'(z_{l-1})), so |J| <= 1 + max_l sqrt(lambda_l) (s_l + a_l |W_{l-1}|) with
/// |phi'| <= 1. The second-order term is block diagonal with blocks -lambda_l a_l
/// diag(phi''(z_{l-1}) (W_{l-1}^T e_l)), and |e_l| <= sqrt(2 e_max / lambda_l).
fn tanh_lipschitz_bound(net: &Network<f64>, e_max: f64) -> f64 {
    let arch = net.architecture();
    let l_out = net.n_layers();
    let lam = |l: usize| {
        if l == l_out {
            arch.output_precision
        } else {
            1.0
        }
    };
    let (mut q, mut second) = (0.0f64, 0.0f64);
    for l in 2..=l_out {
        let a = net.scalings()[l - 1];
        let w = spectral_norm(&net.weights()[l - 1]);
        let s = if arch.has_skip(l) { 1.0 } else { 0.0 };
        q = q.max(lam(l).sqrt() * (s + a * w));
        second = second.max(a * w * TANH_SECOND_DERIVATIVE_MAX * (2.0 * lam(l) * e_max).sqrt());
    }
    (1.0 + q).powi(2) + second
}

/// A bound on the rounding error of any computed F at a state with E_i <= e_max for every
/// sample (tanh network): F sums at most n squared errors, each e = z - s z_prev - a W phi
/// computed to within (fan_in + 3) u of its magnitude m = |z| + s |z_prev| + a |W| |phi|, so
/// E_i is off by at most sum_l lambda_l (fan_in + n + 3) u (|e_l| + m_l)^2. Activities are
/// bounded through the errors: |z_l| <= |e_l| + s_l |z_{l-1}| + a_l |W| |phi(z_{l-1})| with
/// |tanh| <= 1, norms 2-norms over one sample.
fn energy_rounding_bound(net: &Network<f64>, batch: &Batch<f64>, e_max: f64) -> f64 {
    let arch = net.architecture();
    let l_out = net.n_layers();
    let w = &arch.widths;
    let n_terms: usize = w[1..].iter().sum();
    let fan_max = *w[..l_out].iter().max().unwrap_or(&1);
    let gamma = (fan_max + n_terms + 3) as f64 * U64;
    let mut worst = 0.0f64;
    for i in 0..batch.size() {
        let x_norm = batch.x.column(i).norm();
        let y_norm = batch.y.column(i).norm();
        let (mut z_prev, mut phi_prev) = (0.0, x_norm);
        let mut total = 0.0;
        for l in 1..=l_out {
            let lam = if l == l_out {
                arch.output_precision
            } else {
                1.0
            };
            let r = (2.0 * e_max / lam).sqrt();
            let s = if arch.has_skip(l) { 1.0 } else { 0.0 };
            let pred = s * z_prev + net.scalings()[l - 1] * net.weights()[l - 1].norm() * phi_prev;
            let z = if l == l_out { y_norm } else { r + pred };
            total += lam * (r + z + pred).powi(2);
            z_prev = z;
            phi_prev = z.min((w[l] as f64).sqrt());
        }
        worst = worst.max(total);
    }
    gamma * worst
}

fn check_euler_descends(case: &Case, dt: f64, steps: usize) -> Result<(), TestCaseError> {
    let net = case.network();
    let b = case.b();
    let (x, y) = (case.batch.x.as_slice(), case.batch.y.as_slice());
    let (z0, _) = net.feedforward(x, b);
    let mut ws = net.workspace(b);
    let mut g0 = vec![0.0; z0.len()];
    net.activity_gradient(x, y, &z0, &mut ws, &mut g0);
    let e_max = net.sample_energies(&ws).into_iter().fold(0.0, f64::max);

    // Descent lemma: if grad E_i is K-Lipschitz on {E_i <= E_i(0)}, the Euler step
    // z - dt grad E_i lowers E_i by at least dt (1 - K dt / 2) |grad E_i|^2 >= 0 for dt < 2/K,
    // and by continuity the segment never leaves the sublevel set, so by induction neither
    // does the trajectory. The generated networks (tanh, output precision <= 1, gamma0 >= 1,
    // targets in [-1, 1], O <= 4, hidden widths 4..10) keep K below 2 / 0.1 = 20 in all but
    // ~1 in 40000 draws (Gaussian weights have no hard bound on |W|); those few are rejected.
    // Hidden widths from 2 do not suffice: 2 -> 9 without skips under mupc/ntp gives
    // a |W| ~ (3 + sqrt 2) / sqrt 2 and K up to ~30. And dt = 0.1 is really not a descent step
    // in general: ntp with gamma0 ~ 0.5 and lambda ~ 1.5 makes a_L = 1/(gamma0 sqrt N) large,
    // and F rises (see `euler_can_raise_the_energy_when_dt_exceeds_two_over_k`).
    let k = tanh_lipschitz_bound(&net, e_max);
    prop_assume!(dt * k < 2.0, "outside the descent regime: dt K >= 2");

    let mut opts = InferenceOptions::new(Solver::Euler { dt }, Stop::steps(steps));
    opts.record_every = Some(1);
    let run = infer(&net, &case.batch, &opts).expect("Euler in its descent regime stays finite");
    let trace = &run.energy_trace;
    prop_assert_eq!(trace.len(), steps + 1, "F at steps 0..=n");
    // Each recorded F carries at most `slack` of rounding (see energy_rounding_bound), so two
    // of them may appear to rise by up to twice that.
    let slack = 2.0 * energy_rounding_bound(&net, &case.batch, e_max);
    for (s, pair) in trace.windows(2).enumerate() {
        prop_assert!(
            pair[1] <= pair[0] + slack,
            "F rose at step {s}: {:e} -> {:e} (slack {slack:e})",
            pair[0],
            pair[1]
        );
    }
    // The first step's decrease is at least what the descent lemma promises: the trace is
    // not merely flat, and K is a real bound.
    let f0 = net.energy(&case.batch, &z0);
    prop_assert!((trace[0] - f0).abs() <= slack, "trace starts at F(ff)");
    let g_sq: f64 = g0.iter().map(|v| v * v).sum::<f64>() / b as f64;
    let promised = dt * (1.0 - k * dt / 2.0) * g_sq;
    prop_assert!(
        trace[1] <= trace[0] - promised + slack,
        "first step lowered F by {:e}, the descent lemma promises {promised:e}",
        trace[0] - trace[1]
    );
    Ok(())
}

/// The bound matters: one tanh unit between scalars, ntp with gamma0 = 0.5 (a_2 = 2) and
/// lambda = 2, W_1 = 2. At z = 0 the Hessian is 1 + lambda a_2^2 W_1^2 = 33 > 2 / 0.1, and one
/// Euler step of 0.1 from the feedforward pass (x = 0, y = 1, so z = 0 and F = lambda / 2 = 1)
/// overshoots to z = 0.8 where F = 0.32 + (1 - 4 tanh 0.8)^2 ~ 3.06.
#[test]
fn euler_can_raise_the_energy_when_dt_exceeds_two_over_k() {
    let arch = Architecture {
        widths: vec![1, 1, 1],
        activation: Activation::Tanh,
        parameterisation: Parameterisation::Ntp,
        skips: false,
        gamma0: 0.5,
        output_precision: 2.0,
    };
    let weights = vec![
        DMatrix::from_element(1, 1, 1.0),
        DMatrix::from_element(1, 1, 2.0),
    ];
    let net = Network::<f64>::new(arch, weights).expect("a valid network");
    let batch = Batch {
        x: DMatrix::zeros(1, 1),
        y: DMatrix::from_element(1, 1, 1.0),
    };
    assert!(0.1 * tanh_lipschitz_bound(&net, 1.0) > 2.0);
    let mut opts = InferenceOptions::new(Solver::Euler { dt: 0.1 }, Stop::steps(1));
    opts.record_every = Some(1);
    let trace = infer(&net, &batch, &opts).expect("one step").energy_trace;
    let expect = 0.32 + (1.0 - 4.0 * 0.8f64.tanh()).powi(2);
    assert_eq!(trace.len(), 2);
    assert!((trace[0] - 1.0).abs() < 1e-15, "F(ff) = {}", trace[0]);
    // Two roundings of z and a handful in F: 1e-12 is generous for O(1) values.
    assert!(
        (trace[1] - expect).abs() < 1e-12,
        "F after one step = {}",
        trace[1]
    );
    assert!(trace[1] > 3.0 * trace[0]);
}

// ---------------------------------------------------------------------------------------------
// 6: the linear closed form against an accurate ODE solver.

fn check_closed_form(case: &Case) -> Result<(), TestCaseError> {
    let net = case.network();
    let z_cf = closed_form::equilibrium(&net, &case.batch).expect("linear networks");
    let opts = InferenceOptions::new(
        Solver::Dop853 {
            rtol: 1e-13,
            atol: 1e-15,
        },
        Stop::steady(1e-12, 1_000_000),
    );
    let run = infer(&net, &case.batch, &opts).expect("Dop853 on a linear network");
    prop_assert!(run.converged, "Dop853 reached max |dz/dt| < 1e-12");
    // E is quadratic with Hessian H = J^T Lambda J, so |z - z*| <= |grad E| / mu_min(H), and
    // mu_min(H) >= 1 / |J^-1|^2 with J unit block-triangular over <= 3 free layers with blocks
    // of norm <~ 3: |J^-1| <= 1 + 3 + 9, mu_min >~ 6e-3. The steady-state tolerance 1e-12 per
    // entry (sqrt(n) <= 7 in norm) then leaves z within ~1.2e-9, below 1e-8 of the largest
    // entry, which is O(1) for O(1) inputs and targets.
    let scale = max_abs(&z_cf);
    let err = z_cf
        .iter()
        .zip(&run.z)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    prop_assert!(
        err <= 1e-8 * scale,
        "closed form vs Dop853: max diff {err:e}, largest entry {scale:e}"
    );

    // F* in output space against F at z*: both are O(1) sums computed through solves with
    // condition numbers <~ 1e3 (and F is stationary at z*, so the error of z* enters at second
    // order), hence they agree to ~1e3 n u ~ 1e-11 of the problem's energy scale F(ff).
    let f_star = closed_form::equilibrium_energy(&net, &case.batch).expect("linear");
    let f_at = net.energy(&case.batch, &z_cf);
    let (z_ff, _) = net.feedforward(case.batch.x.as_slice(), case.b());
    let f_ff = net.energy(&case.batch, &z_ff);
    prop_assert!(f_star <= f_ff * (1.0 + 1e-12), "the equilibrium lowers F");
    prop_assert!(
        (f_star - f_at).abs() <= 1e-9 * f_ff,
        "F* = {f_star:e}, F(z*) = {f_at:e}, F(ff) = {f_ff:e}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 7: f32 against f64.

/// Lipschitz constant of each activation (silu' peaks at ~1.0998).
fn lipschitz(act: Activation) -> f64 {
    match act {
        Activation::Sigmoid => 0.25,
        Activation::Silu => 1.1,
        _ => 1.0,
    }
}

/// Ulps of error of one f32 evaluation of the activation, relative to |phi|: exact for the
/// piecewise-linear ones, a few roundings (exp or tanh, an add, a divide, a multiply) otherwise.
fn evaluation_ulps(act: Activation) -> f64 {
    match act {
        Activation::Linear | Activation::Relu | Activation::HardTanh => 0.0,
        _ => 6.0,
    }
}

fn check_f32_matches_f64(case: &Case) -> Result<(), TestCaseError> {
    let net = case.network();
    let arch = &case.arch;
    let act = arch.activation;
    let b = case.b();
    let l_out = net.n_layers();
    let lay = net.layout(b);
    let (z64, y64) = net.feedforward(case.batch.x.as_slice(), b);
    let net32 = net.cast::<f32>();
    let batch32 = case.batch.cast::<f32>();
    let (z32, y32) = net32.feedforward(batch32.x.as_slice(), b);

    // Running first-order error bound, entry by entry, with the f64 values as the exact ones
    // (their own error is 2^29 times smaller). Casting x, W and a_l to f32 rounds each once;
    // a dot product of length k in f32 is exact to (k + 1) u32 of sum |W| |phi|, and
    // multiplying by a_l rounds once more: (k + 3) u32 in all. phi propagates an input error
    // through its Lipschitz constant and adds its own evaluation error; a skip adds one more
    // rounding of |q| + |z_{l-1}|. The check allows twice the bound for the O(u^2) terms.
    let mut phi = case.batch.x.clone();
    let mut d_phi = case.batch.x.abs() * U32;
    let mut z_prev = DMatrix::<f64>::zeros(0, 0);
    let mut d_prev = DMatrix::<f64>::zeros(0, 0);
    for l in 1..=l_out {
        let a = net.scalings()[l - 1];
        let w_abs = net.weights()[l - 1].abs();
        let k = arch.widths[l - 1] as f64;
        let q_mag = &w_abs * phi.abs() * a;
        let mut bound = &w_abs * &d_phi * a + &q_mag * ((k + 3.0) * U32);
        if arch.has_skip(l) {
            bound += &d_prev + (&q_mag + z_prev.abs()) * U32;
        }
        let (got, want) = if l == l_out {
            (y32.as_slice(), y64.as_slice())
        } else {
            (&z32[lay.range(l)], &z64[lay.range(l)])
        };
        for (s, (&g, &w)) in got.iter().zip(want).enumerate() {
            let tol = 2.0 * bound[s];
            prop_assert!(
                (g as f64 - w).abs() <= tol,
                "layer {l} entry {s}: f32 {g:e} vs f64 {w:e}, bound {tol:e}"
            );
        }
        if l < l_out {
            let zl = DMatrix::from_column_slice(lay.width(l), b, want);
            let phi_l = zl.map(|v| act.value(v));
            d_phi = &bound * lipschitz(act) + phi_l.abs() * (evaluation_ulps(act) * U32);
            phi = phi_l;
            z_prev = zl;
            d_prev = bound;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn feedforward_energy_is_bp_loss(case in cases(Space::standard(&Activation::ALL))) {
        check_feedforward_energy_is_bp_loss(&case)?;
    }

    #[test]
    fn feedforward_pc_gradients_are_bp(case in cases(Space::standard(&Activation::ALL))) {
        check_feedforward_pc_gradients_are_bp(&case)?;
    }

    #[test]
    fn f32_feedforward_matches_f64(case in cases(Space::standard(&Activation::ALL))) {
        check_f32_matches_f64(&case)?;
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn activity_gradient_matches_finite_differences(
        case in cases(Space::standard(&Activation::ALL))
    ) {
        check_activity_gradient(&case)?;
    }

    #[test]
    fn pc_weight_gradients_match_finite_differences(
        case in cases(Space::standard(&Activation::ALL))
    ) {
        check_pc_weight_gradients(&case)?;
    }

    #[test]
    fn bp_gradients_match_finite_differences(case in cases(Space::standard(&Activation::ALL))) {
        check_bp_gradients(&case)?;
    }

    #[test]
    fn euler_never_raises_the_energy(
        case in cases(Space {
            hidden: 4..10,
            output: 1..5,
            gamma0: 1.0..2.0,
            precision: 0.5..1.0,
            target: 1.0,
            ..Space::standard(&[Activation::Tanh])
        }),
        dt in prop_oneof![Just(0.1), 0.01f64..0.1],
        steps in 20usize..200,
    ) {
        check_euler_descends(&case, dt, steps)?;
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn closed_form_matches_dop853(case in cases(Space::standard(&[Activation::Linear]))) {
        check_closed_form(&case)?;
    }
}
