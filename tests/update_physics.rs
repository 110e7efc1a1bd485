//! The update physics against closed forms: each family's single pulse against aihwkit's
//! update equation, long pulse trains against their analytic trajectories, the statistics of
//! the stochastic pulse-coincidence scheme (binomial counts, the intended outer product on
//! average), the cycle-to-cycle and device-to-device spreads, the refresh of single-sided
//! pairs, and bit-identity across thread counts.

mod common;

use apcsim::hardware::params::ProgrammingError;
use apcsim::hardware::update::scheme::{bit_stream, coincidences, stochastic_scales};
use apcsim::hardware::update::{Family, PulsedPair, Refresh, Scheme, UpdateParams, UpdateSetup};
use apcsim::numeric::stats::MeanStd;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const US: f64 = 1e-6;

/// A window of 0-20 uS with aihwkit's w = 0 in the middle, so that aihwkit's w in [-1, 1]
/// is (G - 10 uS) / 10 uS; dw_min = 0.1 uS (aihwkit's 0.01); no spread, no noise.
fn clean(family: Family) -> UpdateParams {
    UpdateParams {
        family,
        g_min_siemens: 0.0,
        g_max_siemens: 20.0 * US,
        g_zero_siemens: 10.0 * US,
        dw_min_siemens: 0.1 * US,
        ..UpdateParams::ideal(0.0, 20.0 * US, 0.1 * US)
    }
}

fn response(p: &UpdateParams) -> apcsim::hardware::update::DeviceResponse {
    p.device_response([0.0; 6])
}

/// One up and one down pulse of `p` at aihwkit weight `w` (in units of the half window),
/// returned as aihwkit steps (in units of the half window).
fn steps_at(p: &UpdateParams, w: f64) -> (f64, f64) {
    let d = response(p);
    let g = 10.0 * US + w * 10.0 * US;
    let up = (p.pulse(&d, g, true, 0.0) - g) / (10.0 * US);
    let down = (g - p.pulse(&d, g, false, 0.0)) / (10.0 * US);
    (up, down)
}

fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1e-300),
        "{what}: {a:e} vs {b:e}"
    );
}

#[test]
fn single_pulses_follow_aihwkits_update_equations() {
    let dw = 0.01; // aihwkit units: dw_min / half window
    for w in [-0.7, -0.2, 0.0, 0.3, 0.8] {
        // ConstantStep: w +- dw_min.
        let (u, d) = steps_at(&clean(Family::ConstantStep), w);
        assert_close(u, dw, 1e-9, "constant up");
        assert_close(d, dw, 1e-9, "constant down");
        // LinearStep: dw (1 - gamma_up w / w_max), dw (1 - gamma_down w / w_min).
        let ls = clean(Family::LinearStep {
            gamma_up: 0.1153,
            gamma_down: 0.5085,
            gamma_dtod: 0.0,
            mult_noise: true,
        });
        let (u, d) = steps_at(&ls, w);
        assert_close(u, dw * (1.0 - 0.1153 * w / 1.0), 1e-9, "linear up");
        assert_close(d, dw * (1.0 - 0.5085 * w / -1.0), 1e-9, "linear down");
        // SoftBounds: dw (1 - w / b_max), dw (1 - w / b_min).
        let (u, d) = steps_at(&clean(Family::SoftBounds), w);
        assert_close(u, dw * (1.0 - w), 1e-9, "soft up");
        assert_close(d, dw * (1.0 + w), 1e-9, "soft down");
        // ExpStep: z = 2 a w / (b_max - b_min) + b, y = max(1 - A e^{+-gamma z}, 0).
        let (a, b, au, ad, gu, gd) = (0.244, 0.2425, 0.00081, 0.36833, 12.44625, 12.78785);
        let es = clean(Family::ExpStep {
            a,
            b,
            a_up: au,
            a_down: ad,
            gamma_up: gu,
            gamma_down: gd,
        });
        let z = 2.0 * a * w / 2.0 + b;
        let (u, d) = steps_at(&es, w);
        assert_close(u, dw * (1.0 - au * (gu * z).exp()).max(0.0), 1e-9, "exp up");
        let want_down = dw * (1.0 - ad * (-gd * z).exp()).max(0.0);
        assert!(
            (d - want_down).abs() <= 1e-9 * dw,
            "exp down {d} {want_down}"
        );
        // PowStep: dw ((b_max - w)/(b_max - b_min))^gamma, dw ((w - b_min)/range)^gamma.
        let ps = clean(Family::PowStep {
            gamma: 1.7,
            gamma_dtod: 0.0,
            gamma_up_down: 0.0,
            gamma_up_down_dtod: 0.0,
        });
        let (u, d) = steps_at(&ps, w);
        assert_close(u, dw * ((1.0 - w) / 2.0f64).powf(1.7), 1e-9, "pow up");
        assert_close(d, dw * ((w + 1.0) / 2.0f64).powf(1.7), 1e-9, "pow down");
    }
    // PiecewiseStep: nodes at w = -1, 0, 1; at w = 0.5, halfway between nodes 1 and 2.
    let pw = clean(Family::PiecewiseStep {
        up: vec![1.0, 0.5, 0.25],
        down: vec![0.2, 0.6, 1.0],
    });
    let (u, d) = steps_at(&pw, 0.5);
    assert_close(u, dw * 0.375, 1e-9, "piecewise up");
    assert_close(d, dw * 0.8, 1e-9, "piecewise down");
    // up_down = 0.2 > 0: down steps smaller by (1 - 0.2); -0.2: up steps smaller.
    let mut asym = clean(Family::ConstantStep);
    asym.up_down = 0.2;
    let (u, d) = steps_at(&asym, 0.0);
    assert_close(u, dw, 1e-9, "asym up");
    assert_close(d, dw * 0.8, 1e-9, "asym down");
    asym.up_down = -0.2;
    let (u, d) = steps_at(&asym, 0.0);
    assert_close(u, dw * 0.8, 1e-9, "asym up (negative)");
    assert_close(d, dw, 1e-9, "asym down (negative)");
}

#[test]
fn soft_bounds_approach_the_bound_exponentially() {
    // The closed form g_n = g_max - (g_max - g_0)(1 - delta / (g_max - g_min))^n, with
    // delta = dw_min (g_max - g_min) / (g_max - g_zero) the step at the lower bound.
    let p = clean(Family::SoftBounds);
    let d = response(&p);
    let (g_min, g_max) = (0.0, 20.0 * US);
    let delta = p.dw_min_siemens * (g_max - g_min) / (g_max - p.g_zero_siemens);
    let g0 = 3.0 * US;
    let mut g = g0;
    for n in 1..=2000 {
        g = p.pulse(&d, g, true, 0.0);
        let want = g_max - (g_max - g0) * (1.0 - delta / (g_max - g_min)).powi(n);
        assert!(
            (g - want).abs() <= 1e-12 * g_max,
            "n = {n}: {g:e} vs {want:e}"
        );
    }
}

#[test]
fn constant_steps_are_linear_until_the_bound() {
    let p = clean(Family::ConstantStep);
    let d = response(&p);
    let mut g = 0.0;
    // 200 steps of 0.1 uS fill the 20 uS window: the number of states.
    for n in 1..=250 {
        g = p.pulse(&d, g, true, 0.0);
        let want = (n as f64 * 0.1 * US).min(20.0 * US);
        assert!((g - want).abs() <= 1e-9 * US, "n = {n}: {g:e} vs {want:e}");
    }
}

#[test]
fn alternating_pulses_settle_at_the_symmetry_point() {
    // Soft bounds are affine per pulse: up w -> a+ + (1 - a+/b_max) w, down
    // w -> -a- + (1 + a-/b_min) w. Up-then-down has the fixed point
    // w_lo = (-a- + c a+) / (1 - c (1 - a+/b_max)), c = 1 + a-/b_min, which tends to aihwkit's
    // symmetry point w* = (a+ - a-) / (a+/b_max - a-/b_min) as the steps shrink.
    let mut p = clean(Family::SoftBounds);
    p.up_down = 0.3; // a- = 0.7 a+
    let d = response(&p);
    let (ap, am) = (d.scale_up, d.scale_down);
    let (b_max, b_min) = (10.0 * US, -10.0 * US);
    let c = 1.0 + am / b_min;
    let w_lo = (-am + c * ap) / (1.0 - c * (1.0 - ap / b_max));
    let w_star = (ap - am) / (ap / b_max - am / b_min);
    let mut g = 1.0 * US;
    for _ in 0..20000 {
        g = p.pulse(&d, g, true, 0.0);
        g = p.pulse(&d, g, false, 0.0);
    }
    let w = g - p.g_zero_siemens;
    assert!((w - w_lo).abs() < 1e-9 * b_max, "{w:e} vs {w_lo:e}");
    assert!((w - w_star).abs() < p.dw_min_siemens, "{w:e} vs {w_star:e}");
}

#[test]
fn coincidence_counts_are_binomial() {
    let (p, q, bl, trials) = (0.3, 0.6, 31u32, 40_000usize);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let counts: Vec<f64> = (0..trials)
        .map(|_| {
            let a = bit_stream(p, bl, &mut rng);
            let b = bit_stream(q, bl, &mut rng);
            coincidences(&a, &b) as f64
        })
        .collect();
    let s = MeanStd::of(&counts);
    let pq = p * q;
    let (mean, var) = (bl as f64 * pq, bl as f64 * pq * (1.0 - pq));
    let n = trials as f64;
    assert!(
        (s.mean - mean).abs() < 4.0 * (var / n).sqrt(),
        "{} vs {mean}",
        s.mean
    );
    // Standard error of a sample variance: var sqrt(2 / (n - 1) + kurtosis_excess / n).
    let kurt = (1.0 - 6.0 * pq * (1.0 - pq)) / var;
    let se = var * (2.0 / (n - 1.0) + kurt / n).sqrt();
    let v = s.std.unwrap().powi(2);
    assert!((v - var).abs() < 4.0 * se, "{v} vs {var}");
    // More than 64 slots spill into a second word.
    let long = bit_stream(1.0, 100, &mut rng);
    assert_eq!(coincidences(&long, &long), 100);
}

/// Mean and variance over `trials` stochastic updates of an ideal bidirectional pair.
fn stochastic_trials(
    x: &[f64],
    d: &[f64],
    lr: f64,
    scheme: Scheme,
    trials: u64,
) -> Vec<DMatrix<f64>> {
    let p = UpdateParams::ideal(0.0, 1.0, 1e-3);
    let dev = common::exact_device(0.0, 1.0);
    let start = DMatrix::from_element(x.len(), d.len(), 0.5);
    (0..trials)
        .map(|t| {
            let mut pair = PulsedPair::new(&p, &start, &start, 3, 0);
            let setup = UpdateSetup {
                params: &p,
                scheme,
                device: &dev,
                seed: 3,
            };
            pair.update(&setup, x, d, lr, t);
            pair.difference()
        })
        .collect()
}

#[test]
fn update_management_keeps_the_expected_update_equal_to_the_outer_product() {
    // x of order 1, d of order 1e-3: the two scales differ; the products stay below one.
    let x = [1.0, -0.4, 0.05];
    let d = [2e-3, -7e-4];
    let lr = 2.5;
    let g = 2e-3; // 2 dw_min on a bidirectional pair
    let scheme = Scheme::Stochastic {
        bl: 31,
        bl_management: true,
        update_management: true,
    };
    let (bl, a, b) = stochastic_scales(scheme, 1.0, 2e-3, lr, g);
    assert!(bl as f64 >= lr * 1.0 * 2e-3 / g, "BL {bl}");
    assert!((a * b - lr / (g * bl as f64)).abs() < 1e-12);
    let trials = 20_000;
    let runs = stochastic_trials(&x, &d, lr, scheme, trials);
    for i in 0..x.len() {
        for j in 0..d.len() {
            let dw: Vec<f64> = runs.iter().map(|m| m[(i, j)]).collect();
            let s = MeanStd::of(&dw);
            let want = lr * x[i] * d[j];
            let pq = (b * x[i].abs()).min(1.0) * (a * d[j].abs()).min(1.0);
            let var = g * g * bl as f64 * pq * (1.0 - pq);
            let se = (var / trials as f64).sqrt();
            assert!(
                (s.mean - want).abs() < 4.0 * se,
                "({i},{j}): mean {:e} vs {want:e} (se {se:e})",
                s.mean
            );
            // Standard error of a sample variance, with the binomial's excess kurtosis.
            let kurt = (1.0 - 6.0 * pq * (1.0 - pq)) / (bl as f64 * pq * (1.0 - pq));
            let n = trials as f64;
            let v = s.std.unwrap().powi(2);
            assert!(
                (v - var).abs() < 4.0 * var * (2.0 / (n - 1.0) + kurt / n).sqrt(),
                "({i},{j}): var {v:e} vs {var:e}"
            );
        }
    }
}

#[test]
fn deterministic_counts_round_the_update_to_whole_steps() {
    let mut p = UpdateParams::ideal(0.0, 1e-4, 1e-7);
    p.pulse_width_seconds = 10e-9;
    p.pulse_energy_joules = 2e-12;
    let dev = common::exact_device(0.0, 1e-4);
    let start = DMatrix::from_element(2, 3, 5e-5);
    let mut pair = PulsedPair::new(&p, &start, &start, 1, 0);
    let (x, d, lr) = ([1.0, -0.35], [1.25e-6, 0.21e-6, -2.0e-6], 1.0);
    let st = pair.update(
        &UpdateSetup {
            params: &p,
            scheme: Scheme::Deterministic,
            device: &dev,
            seed: 1,
        },
        &x,
        &d,
        lr,
        0,
    );
    let g = 2e-7;
    let mut total = 0u64;
    let mut max = 0u64;
    for i in 0..2 {
        for j in 0..3 {
            let want = lr * x[i] * d[j];
            let n = (want.abs() / g).round();
            total += n as u64;
            max = max.max(n as u64);
            let got = pair.difference()[(i, j)];
            assert!(
                (got - n * g * want.signum()).abs() < 1e-18,
                "({i},{j}) {got:e}"
            );
        }
    }
    assert_eq!(st.coincidences, total);
    assert_eq!(st.pulses, 2 * total);
    assert!((st.energy_joules - 2.0 * total as f64 * 2e-12).abs() < 1e-24);
    assert!((st.duration_seconds - max as f64 * 10e-9).abs() < 1e-18);
}

#[test]
fn cycle_to_cycle_noise_has_the_configured_std() {
    let mut p = clean(Family::ConstantStep);
    p.dw_min_std = 0.3;
    p.single_sided = Some(Refresh {
        upper: 1.0,
        lower: 1.0,
    });
    let n = 60_000;
    let dev = common::exact_device(0.0, 20.0 * US);
    let start = DMatrix::from_element(1, n, 10.0 * US);
    let mut pair = PulsedPair::new(&p, &start, &start, 9, 0);
    let d = vec![1.0; n];
    let lr = p.dw_min_siemens; // one pulse per device
    pair.update(
        &UpdateSetup {
            params: &p,
            scheme: Scheme::Deterministic,
            device: &dev,
            seed: 9,
        },
        &[1.0],
        &d,
        lr,
        0,
    );
    let steps: Vec<f64> = pair
        .plus
        .iter()
        .map(|g| (g - 10.0 * US) / p.dw_min_siemens)
        .collect();
    let s = MeanStd::of(&steps);
    let std = s.std.unwrap();
    assert!((std - 0.3).abs() < 0.02 * 0.3, "std {std}");
    assert!(
        (s.mean - 1.0).abs() < 4.0 * 0.3 / (n as f64).sqrt(),
        "mean {}",
        s.mean
    );
    // G- never moved: single-sided pairs potentiate one side.
    assert!(pair.minus.iter().all(|&g| g == 10.0 * US));
}

#[test]
fn device_to_device_spread_has_the_configured_statistics() {
    // A window away from 0 S, so that no lower bound is cut at zero conductance.
    let mut p = clean(Family::ConstantStep);
    p.g_min_siemens = 20.0 * US;
    p.g_zero_siemens = 30.0 * US;
    p.g_max_siemens = 40.0 * US;
    p.dw_min_dtod = 0.3;
    p.up_down_dtod = 0.05;
    p.g_max_dtod = 0.1;
    p.g_min_dtod = 0.2;
    let n = 50_000;
    let devs = p.draw_devices(n, 4, 0);
    let rel = |f: &dyn Fn(&apcsim::hardware::update::DeviceResponse) -> f64| {
        MeanStd::of(&devs.iter().map(f).collect::<Vec<_>>())
    };
    let se = |sd: f64| 4.0 * sd / (n as f64).sqrt();
    let up = rel(&|d| d.scale_up / p.dw_min_siemens);
    let sd = (0.3f64.powi(2) + 0.05f64.powi(2)).sqrt();
    assert!((up.mean - 1.0).abs() < se(sd), "step mean {}", up.mean);
    assert!(
        (up.std.unwrap() - sd).abs() < 0.02 * sd,
        "step std {:?}",
        up.std
    );
    let hi = rel(&|d| (d.b_max - p.g_zero_siemens) / (10.0 * US));
    assert!((hi.mean - 1.0).abs() < se(0.1) && (hi.std.unwrap() - 0.1).abs() < 0.002);
    let lo = rel(&|d| (p.g_zero_siemens - d.b_min) / (10.0 * US));
    assert!((lo.mean - 1.0).abs() < se(0.2) && (lo.std.unwrap() - 0.2).abs() < 0.004);
    // Up and down steps share the gain: their difference carries only the asymmetry spread.
    let diff = rel(&|d| (d.scale_up - d.scale_down) / p.dw_min_siemens);
    assert!((diff.std.unwrap() - 0.1).abs() < 0.002, "{:?}", diff.std);
    // The same seed draws the same devices; another array draws others.
    assert_eq!(devs, p.draw_devices(n, 4, 0));
    assert_ne!(devs[..10], p.draw_devices(10, 4, 1)[..]);
}

#[test]
fn a_saturating_single_sided_pair_is_refreshed_and_keeps_its_difference() {
    // PCM-like pairs: potentiation only, g_zero = g_min = 0, window 25 uS, aihwkit's PCM
    // programming noise.
    let mut p = UpdateParams {
        family: Family::ConstantStep,
        g_zero_siemens: 0.0,
        ..UpdateParams::ideal(0.0, 25.0 * US, 0.25 * US)
    };
    p.single_sided = Some(Refresh {
        upper: 0.75,
        lower: 0.25,
    });
    let mut dev = common::exact_device(0.0, 25.0 * US);
    dev.programming = ProgrammingError::Polynomial {
        coefficients_siemens: vec![0.26348 * US, 1.9650 * US, -1.1731 * US],
        g_ref_siemens: 25.0 * US,
    };
    // Every pair starts at G+ = 18 uS (w+ = 0.72); even pairs at G- = 8 uS (0.32), odd ones at
    // G- = 4 uS (0.16).
    let n = 400;
    let plus = DMatrix::from_element(1, n, 18.0 * US);
    let minus = DMatrix::from_fn(1, n, |_, j| if j % 2 == 0 { 8.0 * US } else { 4.0 * US });
    let mut pair = PulsedPair::new(&p, &plus, &minus, 2, 0);
    // Four pulses (+1 uS): G+ = 19 uS, w+ = 0.76 > 0.75 everywhere; only even pairs have
    // w- > 0.25.
    let lr = 4.0 * p.dw_min_siemens;
    let setup = UpdateSetup {
        params: &p,
        scheme: Scheme::Deterministic,
        device: &dev,
        seed: 2,
    };
    let ones = vec![1.0; n];
    let st = pair.update(&setup, &[1.0], &ones, lr, 0);
    assert_eq!(st.refreshes, n as u64 / 2);
    // The difference 11 uS lands on G+, within its programming noise; G- is reset to the
    // bottom of the window (clipped there, so within a few sigma above it).
    let want = 19.0 * US - 8.0 * US;
    let (sigma, sigma0) = (dev.programming_sigma(want), dev.programming_sigma(0.0));
    let errors: Vec<f64> = (0..n).step_by(2).map(|k| pair.plus[k] - want).collect();
    let s = MeanStd::of(&errors);
    let m = errors.len() as f64;
    assert!(s.mean.abs() < 4.0 * sigma / m.sqrt(), "bias {:e}", s.mean);
    let sd = s.std.unwrap();
    assert!(
        (sd - sigma).abs() < 4.0 * sigma / (2.0 * m).sqrt(),
        "{sd:e} vs {sigma:e}"
    );
    assert!((0..n).step_by(2).all(|k| pair.minus[k] < 5.0 * sigma0));
    for k in (1..n).step_by(2) {
        assert!((pair.plus[k] - 19.0 * US).abs() < 1e-18 && pair.minus[k] == 4.0 * US);
    }
    // Per refresh: two resets and 11 uS / 0.25 uS = 44 rewrite steps.
    assert_eq!(st.refresh_pulses, (n as u64 / 2) * (2 + 44));
    assert_eq!(st.pulses, 4 * n as u64);
    // Below the threshold nothing is refreshed.
    let mut calm = PulsedPair::new(&p, &minus, &minus, 2, 0);
    let st = calm.update(&setup, &[1.0], &ones, lr, 1);
    assert_eq!(st.refreshes, 0);
}

#[test]
fn same_seed_bit_identical_at_one_and_two_threads() {
    let mut p = clean(Family::SoftBounds);
    p.dw_min_std = 0.3;
    p.dw_min_dtod = 0.3;
    p.g_max_dtod = 0.1;
    p.g_min_dtod = 0.1;
    let dev = common::exact_device(0.0, 20.0 * US);
    let (rows, cols) = (512, 64);
    let start = DMatrix::from_fn(rows, cols, |i, j| (8.0 + ((i * 7 + j) % 5) as f64) * US);
    let x: Vec<f64> = (0..rows).map(|i| ((i as f64) * 0.37).sin()).collect();
    let d: Vec<f64> = (0..cols)
        .map(|j| ((j as f64) * 0.91).cos() * 1e-3)
        .collect();
    let run = |threads: usize, scheme: Scheme| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut pair = PulsedPair::new(&p, &start, &start, 8, 3);
            let mut stats = Vec::new();
            for step in 0..5 {
                stats.push(pair.update(
                    &UpdateSetup {
                        params: &p,
                        scheme,
                        device: &dev,
                        seed: 8,
                    },
                    &x,
                    &d,
                    2e-3,
                    step,
                ));
            }
            (pair.plus, pair.minus, stats)
        })
    };
    for scheme in [
        Scheme::Deterministic,
        Scheme::Stochastic {
            bl: 31,
            bl_management: true,
            update_management: true,
        },
    ] {
        let (p1, m1, s1) = run(1, scheme);
        let (p2, m2, s2) = run(2, scheme);
        let bits = |v: &[f64]| v.iter().map(|g| g.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p1), bits(&p2), "{scheme:?}");
        assert_eq!(bits(&m1), bits(&m2), "{scheme:?}");
        assert_eq!(s1, s2);
        assert!(s1.iter().all(|s| s.pulses > 0), "{s1:?}");
    }
}

/// Every shipped preset resolves an update model, and its numbers are the ones its file cites.
#[test]
fn presets_carry_their_update_models() {
    use apcsim::config::{load_str, LoadOptions};
    let load = |preset: &str| {
        load_str(
            "t.toml",
            &format!("device = \"{preset}\"\n"),
            &[] as &[&str],
            &LoadOptions::default(),
        )
        .unwrap()
        .update
    };
    let ideal = load("ideal");
    assert_eq!(
        (ideal.params.family.clone(), ideal.scheme),
        (Family::Ideal, Scheme::Ideal)
    );
    let ecram = load("ecram");
    // aihwkit EcRamPresetDevice: dw_min 0.002 of a w range of 2, on a 15 uS window.
    assert!((ecram.params.dw_min_siemens - 0.002 / 2.0 * 15.0 * US).abs() < 1e-15);
    assert!(
        matches!(ecram.params.family, Family::LinearStep { gamma_up, .. } if gamma_up == 0.1153)
    );
    let pcm = load("pcm");
    assert!(pcm.params.single_sided.is_some());
    assert_eq!(pcm.params.g_zero_siemens, 0.0);
    assert!(matches!(pcm.scheme, Scheme::Stochastic { bl: 31, .. }));
    for preset in ["rram_hfo2", "pcm_hermes"] {
        assert!(load(preset).params.dw_min_siemens > 0.0);
    }
}

/// Bad update keys: exit-2 errors naming the file, line, column and key.
#[test]
fn bad_update_keys_name_file_line_column_and_key() {
    use apcsim::config::{load_str, LoadOptions};
    for (text, key, line, column) in [
        ("[update]\ndw_min = \"-1uS\"\n", "update.dw_min", 2, 10),
        ("[update]\ndw_min = \"30uS\"\n", "update.dw_min", 2, 10),
        (
            "[update]\nfamily = \"softbounds\"\n",
            "update.family",
            2,
            10,
        ),
        (
            "[update]\nscheme = \"stochastic\"\nbl = 0\n",
            "update.bl",
            3,
            6,
        ),
        ("[update]\nup_down = 1.5\n", "update.up_down", 2, 11),
    ] {
        let e = load_str("t.toml", text, &[] as &[&str], &LoadOptions::default()).unwrap_err();
        assert_eq!(e.key, key, "{text}");
        assert_eq!(
            (e.location.line, e.location.column),
            (line, column),
            "{text}"
        );
        assert!(e.to_string().starts_with("t.toml:"), "{e}");
    }
}

/// The ideal update writes the exact change of the pair's difference without taking either
/// device below the window's floor: a pair with G- at g_min that must grow its difference moves
/// G+ up instead of G- down (a conductance below 0 S is no device, and the wire solve rejects
/// it).
#[test]
fn the_ideal_update_keeps_both_devices_above_the_floor() {
    let g_min = 1e-6;
    let p = UpdateParams::ideal(g_min, 25e-6, 1e-8);
    let dev = common::exact_device(g_min, 25e-6);
    let plus = DMatrix::from_row_slice(1, 3, &[3e-6, g_min, 8e-6]);
    let minus = DMatrix::from_row_slice(1, 3, &[g_min, 5e-6, 2e-6]);
    let mut pair = PulsedPair::new(&p, &plus, &minus, 1, 0);
    let before = pair.difference();
    let (x, d, lr) = ([1.0], [4e-6, -6e-6, 1e-6], 1.0);
    let setup = UpdateSetup {
        params: &p,
        scheme: Scheme::Ideal,
        device: &dev,
        seed: 1,
    };
    pair.update(&setup, &x, &d, lr, 0);
    let after = pair.difference();
    for j in 0..3 {
        let (gp, gm) = (pair.plus[j], pair.minus[j]);
        assert!(
            gp >= g_min && gm >= g_min,
            "column {j}: G+ {gp:e}, G- {gm:e}"
        );
        // The difference moved by exactly lr x d (to the rounding of a few additions).
        let want = before[(0, j)] + lr * x[0] * d[j];
        assert!(
            (after[(0, j)] - want).abs() < 4.0 * f64::EPSILON * 25e-6,
            "column {j}"
        );
    }
}

/// The same, exactly: many updates of random size on pairs at and near a floor of 0 S never
/// leave a conductance below it, not even by a rounding error.
#[test]
fn the_ideal_update_never_rounds_below_the_floor() {
    use rand::RngExt;
    let p = UpdateParams::ideal(0.0, 25e-6, 1e-8);
    let dev = common::exact_device(0.0, 25e-6);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let n = 64;
    let start = DMatrix::from_fn(1, n, |_, _| rng.random_range(0.0..2e-6));
    let mut pair = PulsedPair::new(&p, &start, &DMatrix::zeros(1, n), 1, 0);
    let setup = UpdateSetup {
        params: &p,
        scheme: Scheme::Ideal,
        device: &dev,
        seed: 1,
    };
    for step in 0..200 {
        let d: Vec<f64> = (0..n).map(|_| rng.random_range(-1e-6..1e-6)).collect();
        pair.update(&setup, &[1.0], &d, 1.0, step);
        for (k, (&gp, &gm)) in pair.plus.iter().zip(&pair.minus).enumerate() {
            assert!(
                gp >= 0.0 && gm >= 0.0,
                "step {step}, device {k}: {gp:e}, {gm:e}"
            );
        }
    }
}

/// A pulse of the `ideal` family never takes a device below the window's floor: depressing a
/// device at g_min leaves it there (a conductance below 0 S is no device; `rram_hfo2` with
/// `update.family = "ideal"` stopped a training run at step 2 on G = -9.6e-7 S).
#[test]
fn ideal_pulses_stop_at_the_floor() {
    let g_min = 1e-6;
    let p = UpdateParams::ideal(g_min, 40e-6, 9e-6);
    let dev = p.draw_devices(1, 1, 0).remove(0);
    assert_eq!(p.pulse(&dev, g_min + 4e-6, false, 0.0), g_min);
    assert_eq!(p.pulse(&dev, g_min, false, 0.0), g_min);
    // Above the floor, and upwards, a pulse is exactly dw_min.
    assert_eq!(p.pulse(&dev, 20e-6, false, 0.0), 20e-6 - 9e-6);
    assert_eq!(p.pulse(&dev, 20e-6, true, 0.0), 20e-6 + 9e-6);
}
