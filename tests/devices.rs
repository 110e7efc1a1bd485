//! Device non-idealities against their definitions: quantisation, programming error, stuck-at
//! faults and drift, each alone, over populations large enough that the statistics are sharp.

use apcsim::hardware::device::Stuck;
use apcsim::hardware::mapping::{
    ideal_wires, map_network, relative_frobenius, wire_model, MappedNetwork,
};
use apcsim::hardware::params::{
    Backward, CrossbarParams, DeviceParams, Drift, NuFit, ProgrammingError,
};
use apcsim::network::{Activation, Architecture, Network, Parameterisation};
use nalgebra::DMatrix;

mod common;

const US: f64 = 1e-6;

/// The exact device on a 1-25 uS window.
fn ideal() -> DeviceParams {
    common::exact_device(1.0 * US, 25.0 * US)
}

fn crossbar(rows: usize, cols: usize, backward: Backward) -> CrossbarParams {
    CrossbarParams {
        rows,
        cols,
        v_read_volts: 0.2,
        wire_resistance_ohms: 0.0,
        wire_capacitance_farads: 0.0,
        backward,
        cell: apcsim::hardware::technology::CELLS[0],
    }
}

/// Targets spread evenly over the window (deterministic, so no sampling noise in the targets).
fn spread_targets(n: usize, dev: &DeviceParams) -> DMatrix<f64> {
    let (lo, hi) = (dev.g_min_siemens, dev.g_max_siemens);
    DMatrix::from_fn(n, n, |i, j| {
        let u = ((i * n + j) as f64 * 0.618_033_988_749_894_9).fract();
        lo + (hi - lo) * u
    })
}

/// The exact device with a constant programming error of `fraction` of g_max.
fn programming_error(fraction: f64) -> DeviceParams {
    DeviceParams {
        programming: ProgrammingError::Constant {
            fraction_of_g_max: fraction,
        },
        ..ideal()
    }
}

/// `network` mapped onto `xb`'s tiles of `dev` through ideal wires.
fn mapped(
    network: &Network<f64>,
    dev: &DeviceParams,
    xb: CrossbarParams,
    seed: u64,
) -> MappedNetwork {
    map_network(network, dev, &xb, seed, &ideal_wires).unwrap()
}

fn net(widths: Vec<usize>, seed: u64) -> Network<f64> {
    let arch = Architecture {
        widths,
        activation: Activation::Tanh,
        parameterisation: Parameterisation::Mupc,
        skips: true,
        gamma0: 1.0,
        output_precision: 1.0,
    };
    Network::init(arch, seed).unwrap()
}

#[test]
fn quantised_conductances_are_states_and_err_like_a_uniform_quantiser() {
    for levels in [4u32, 16, 64] {
        let dev = DeviceParams {
            levels: Some(levels),
            ..ideal()
        };
        let t = spread_targets(400, &dev); // 160 000 devices
        let p = dev.program(&t, 1, 0);
        let step = dev.state_spacing_siemens();
        let mut sq = 0.0;
        for (g, tg) in p.read.iter().zip(t.iter()) {
            let k = (g - dev.g_min_siemens) / step;
            assert!((k - k.round()).abs() < 1e-9, "{g} is not a state");
            sq += (g - tg) * (g - tg);
        }
        let rms = (sq / t.len() as f64).sqrt();
        let expect = step / 12f64.sqrt();
        assert!(
            ((rms - expect) / expect).abs() < 0.03,
            "levels {levels}: rms {rms:e} vs {expect:e}"
        );
    }
}

/// The weight error of a quantised layer: a_l W through the differential pair, where only the
/// active device of each pair is off-state, is uniform on [-D/2, D/2] in weight units.
#[test]
fn quantised_layer_weight_error_matches_delta_over_sqrt12() {
    let network = net(vec![300, 300, 300, 10], 3);
    let dev = DeviceParams {
        levels: Some(32),
        ..ideal()
    };
    let m = mapped(&network, &dev, crossbar(128, 128, Backward::Shared), 5);
    let l = &m.layers[1];
    let a = network.scalings()[1];
    let w = &network.weights()[1];
    let delta_w = dev.state_spacing_siemens() / (l.kappa_siemens * a);
    let err = &l.w_forward - w;
    let rms = (err.norm_squared() / err.len() as f64).sqrt();
    let expect = delta_w / 12f64.sqrt();
    assert!(
        ((rms - expect) / expect).abs() < 0.03,
        "rms {rms:e} vs {expect:e}"
    );
}

#[test]
fn programming_error_has_the_configured_spread() {
    // Constant sigma, and aihwkit's PCM polynomial; targets mid-window so clipping is rarer
    // than 1e-6 (the window edges are > 4.9 sigma away).
    let constant = programming_error(0.02);
    let poly = DeviceParams {
        programming: ProgrammingError::Polynomial {
            coefficients_siemens: vec![0.26348 * US, 1.9650 * US, -1.1731 * US],
            g_ref_siemens: 25.0 * US,
        },
        ..ideal()
    };
    for dev in [constant, poly] {
        let g_mid = 13.0 * US;
        let t = DMatrix::from_element(400, 400, g_mid);
        let p = dev.program(&t, 9, 3);
        let n = t.len() as f64;
        let mean = p.read.iter().map(|g| g - g_mid).sum::<f64>() / n;
        let var = p
            .read
            .iter()
            .map(|g| (g - g_mid - mean).powi(2))
            .sum::<f64>()
            / (n - 1.0);
        let sigma = dev.programming_sigma(g_mid);
        assert!(
            ((var.sqrt() - sigma) / sigma).abs() < 0.02,
            "{:?}",
            dev.programming
        );
        // The sample std of 1.6e5 normals is within 0.2% (1 sigma) of the truth; the
        // sample mean within 3 standard errors of zero.
        assert!(mean.abs() < 3.0 * sigma / n.sqrt());
    }
}

#[test]
fn stuck_fractions_match_the_binomial() {
    let dev = DeviceParams {
        stuck_off_fraction: 0.013,
        stuck_on_fraction: 0.004,
        ..ideal()
    };
    let t = spread_targets(400, &dev);
    let p = dev.program(&t, 2, 1);
    let n = t.len() as f64;
    for (state, frac, g) in [
        (Stuck::Off, 0.013, dev.g_min_siemens),
        (Stuck::On, 0.004, dev.g_max_siemens),
    ] {
        let count = p.stuck.iter().filter(|s| **s == state).count() as f64;
        let sd = (n * frac * (1.0 - frac)).sqrt();
        assert!(
            (count - n * frac).abs() < 3.0 * sd,
            "{state:?}: {count} vs {}",
            n * frac
        );
        for (s, v) in p.stuck.iter().zip(p.read.iter()) {
            if *s == state {
                assert_eq!(*v, g);
            }
        }
    }
}

#[test]
fn drift_follows_the_power_law_for_each_device() {
    let drift = Drift {
        nu: NuFit::Constant {
            mean: 0.05,
            std: 0.02,
        },
        t0_seconds: 20.0,
        t_read_seconds: 3600.0,
    };
    let dev = DeviceParams {
        drift: Some(drift.clone()),
        ..ideal()
    };
    let t = spread_targets(100, &dev);
    let p = dev.program(&t, 4, 2);
    for ((g0, g), nu) in p.programmed.iter().zip(p.read.iter()).zip(p.nu.iter()) {
        // aihwkit's clock: t = 3600 s after programming is t + t0 on the drift law's.
        let expect = g0 * (3620.0f64 / 20.0).powf(-nu);
        assert!(((g - expect) / expect).abs() <= 2.0 * f64::EPSILON);
    }
    // nu = |N(0.05, 0.02)| (aihwkit folds it at zero): never negative, and its mean is the
    // folded normal's, s sqrt(2/pi) exp(-m^2 / 2 s^2) + m (1 - 2 Phi(-m / s)) = 0.050080.
    assert!(
        p.nu.iter().all(|&nu| nu >= 0.0),
        "a device gains conductance"
    );
    let n = p.nu.len() as f64;
    let mean = p.nu.iter().sum::<f64>() / n;
    assert!((mean - 0.050080).abs() < 3.0 * 0.02 / n.sqrt(), "{mean}");
}

#[test]
fn two_devices_per_weight_sum_two_independent_devices() {
    // Each of the two devices holds G / 2 with its own error: sigma = sqrt(2) sigma(G / 2).
    let dev = DeviceParams {
        programming: ProgrammingError::Polynomial {
            coefficients_siemens: vec![0.26348 * US, 1.9650 * US, -1.1731 * US],
            g_ref_siemens: 25.0 * US,
        },
        devices_per_weight: 2,
        ..ideal()
    };
    let g = 20.0 * US;
    let t = DMatrix::from_element(300, 300, g);
    let p = dev.program(&t, 5, 1);
    let n = t.len() as f64;
    let mean = p.programmed.mean();
    let sd = (p.programmed.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let expect = 2f64.sqrt() * dev.programming_sigma(g / 2.0);
    // The sample std of 9e4 normals is within 0.24% (1 sigma) of the truth.
    assert!(
        ((sd - expect) / expect).abs() < 0.01,
        "{sd:e} vs {expect:e}"
    );
    assert!((mean - g).abs() < 4.0 * expect / n.sqrt());
}

#[test]
fn ecram_step_spread_scales_with_the_distance_from_g_min() {
    // G = g_min + (G_t - g_min)(1 + s z): sigma = s (G_t - g_min) and nothing at g_min.
    let dev = DeviceParams {
        step_dtod: 0.1,
        ..ideal()
    };
    for g in [dev.g_min_siemens, 13.0 * US, 25.0 * US] {
        let p = dev.program(&DMatrix::from_element(200, 200, g), 6, 0);
        let n = p.programmed.len() as f64;
        let mean = p.programmed.mean();
        let sd = (p.programmed.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let expect = 0.1 * (g - dev.g_min_siemens);
        assert!(
            (sd - expect).abs() <= 0.015 * expect + 1e-18,
            "{sd:e} vs {expect:e}"
        );
    }
}

#[test]
fn programming_clamps_at_zero_only() {
    // aihwkit clamps a programmed conductance at 0, not at g_max: at g_max the mean stays at
    // g_max and the spread is the full sigma.
    let dev = programming_error(0.04);
    let g = dev.g_max_siemens;
    let p = dev.program(&DMatrix::from_element(300, 300, g), 7, 0);
    let n = p.programmed.len() as f64;
    let mean = p.programmed.mean();
    let sd = (p.programmed.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let sigma = 0.04 * g;
    assert!((mean - g).abs() < 4.0 * sigma / n.sqrt(), "mean {mean:e}");
    assert!(((sd - sigma) / sigma).abs() < 0.01, "sd {sd:e}");
    assert!(p.programmed.iter().all(|&x| x >= 0.0));
}

#[test]
fn ideal_device_round_trips_the_weights() {
    let network = net(vec![20, 33, 33, 7], 8);
    for backward in [Backward::Shared, Backward::Separate] {
        let m = mapped(&network, &ideal(), crossbar(16, 8, backward), 1);
        for (l, w) in m.layers.iter().zip(network.weights()) {
            // Only rounding of g_min + kappa w - g_min: a few ulp of g_max in weight units.
            assert!(relative_frobenius(&l.w_forward, w) < 1e-14);
            assert!(relative_frobenius(&l.w_backward, w) < 1e-14);
        }
        let tiles: usize = m
            .layers
            .iter()
            .map(|l| l.tiles(&crossbar(16, 8, backward)))
            .sum();
        // 20x33: 2x5 tiles, 33x33: 3x5, 33x7: 3x1 (forward); separate adds the transposes.
        let fwd = 10 + 15 + 3;
        let bwd = 3 * 3 + 3 * 5 + 5;
        let expect = if backward == Backward::Separate {
            fwd + bwd
        } else {
            fwd
        };
        assert_eq!(tiles, expect);
    }
}

#[test]
fn separate_backward_arrays_have_their_own_errors() {
    let network = net(vec![40, 40, 40, 5], 2);
    let noisy = programming_error(0.03);
    let shared = mapped(&network, &noisy, crossbar(64, 64, Backward::Shared), 7);
    let separate = mapped(&network, &noisy, crossbar(64, 64, Backward::Separate), 7);
    for (s, p) in shared.layers.iter().zip(&separate.layers) {
        // Same seed, same forward devices; shared backward reads them, separate does not.
        assert_eq!(s.w_forward, p.w_forward);
        assert_eq!(s.w_backward, s.w_forward);
        assert!(relative_frobenius(&p.w_backward, &p.w_forward) > 1e-3);
    }
}

/// IR drop through the mapping: the weight error grows with the wire resistance, roughly in
/// proportion for small resistances (first order in r), and vanishes with it.
#[test]
fn ir_drop_weight_error_scales_with_wire_resistance() {
    let network = net(vec![24, 24, 24, 6], 4);
    let err = |r: f64| {
        let mut xb = crossbar(16, 16, Backward::Shared);
        xb.wire_resistance_ohms = r;
        let m = map_network(&network, &ideal(), &xb, 1, &wire_model(&xb)).unwrap();
        relative_frobenius(&m.layers[1].w_forward, &network.weights()[1])
    };
    assert!(err(0.0) < 1e-14);
    let (e1, e2) = (err(0.1), err(0.01));
    assert!(e1 > 1e-6, "{e1}");
    // First order in r: a tenth of the resistance, a tenth of the error (to 5%).
    assert!((e1 / e2 - 10.0).abs() < 0.5, "{e1} / {e2}");
}

mod gradient_check {
    use super::*;
    use apcsim::design::hardware::gradient_check;
    use apcsim::dynamics::{InferenceOptions, Solver, Stop};
    use apcsim::hardware::params::Converter;
    use apcsim::io::data::gaussian_batch;

    fn ideal_converter() -> Converter {
        Converter {
            bits: None,
            range: 1.0,
            energy_joules: 0.0,
        }
    }

    fn opts() -> InferenceOptions {
        InferenceOptions::new(
            Solver::Dop853 {
                rtol: 1e-13,
                atol: 1e-15,
            },
            Stop::steady(1e-12, 1_000_000),
        )
    }

    /// The ideal device reproduces the ideal network: the mapping round-trips W to 1e-14, so the
    /// hardware run starts a few ulp away from the ideal one, takes the same adaptive steps, and
    /// both end within the steady-state tolerance (max|dz/dt| < 1e-12) of one equilibrium.
    #[test]
    fn ideal_device_equals_the_core_results() {
        let network = net(vec![16, 32, 32, 4], 5);
        let batch = gaussian_batch(16, 4, 8, 3);
        for backward in [Backward::Shared, Backward::Separate] {
            let xb = crossbar(16, 16, backward);
            let m = mapped(&network, &ideal(), xb, 1);
            let c = gradient_check(
                &network,
                &m,
                &batch,
                &ideal_converter(),
                &ideal_converter(),
                &opts(),
            )
            .unwrap();
            assert!((c.vs_bp_ideal.overall - c.ideal.overall).abs() < 1e-12);
            assert!((c.vs_bp_effective.overall - c.ideal.overall).abs() < 1e-12);
            for (a, b) in c.ideal_inference.z.iter().zip(&c.hardware_inference.z) {
                assert!((a - b).abs() < 1e-12, "{a} vs {b}");
            }
        }
    }

    /// Separate backward arrays with programming error feed back through W_b != W, which
    /// measurably lowers the alignment with BP compared with a shared (exactly transposed) read
    /// of the same forward devices; with no programming error the two are the same.
    #[test]
    fn separate_backward_arrays_lower_the_alignment() {
        let network = net(vec![32, 64, 64, 64, 8], 6);
        let batch = gaussian_batch(32, 8, 16, 2);
        let noisy = programming_error(0.05);
        let check = |dev: &DeviceParams, backward| {
            let xb = crossbar(64, 64, backward);
            let m = mapped(&network, dev, xb, 3);
            gradient_check(
                &network,
                &m,
                &batch,
                &ideal_converter(),
                &ideal_converter(),
                &opts(),
            )
            .unwrap()
        };
        let shared = check(&noisy, Backward::Shared);
        let separate = check(&noisy, Backward::Separate);
        let gap = shared.vs_bp_effective.overall - separate.vs_bp_effective.overall;
        eprintln!(
            "cos(PC_hw, BP_eff): shared {:.6}, separate {:.6}; ideal circuit {:.6}",
            shared.vs_bp_effective.overall, separate.vs_bp_effective.overall, shared.ideal.overall
        );
        assert!(
            gap > 1e-3,
            "shared {} separate {}",
            shared.vs_bp_effective.overall,
            separate.vs_bp_effective.overall
        );
        let s0 = check(&ideal(), Backward::Shared);
        let p0 = check(&ideal(), Backward::Separate);
        assert!((s0.vs_bp_effective.overall - p0.vs_bp_effective.overall).abs() < 1e-12);
    }

    /// On the effective network of separate, mis-programmed backward arrays (a Jacobian that
    /// is not symmetric), Newton-Krylov (BiCGSTAB) lands on Dop853's equilibrium without
    /// falling back: both within max|dz/dt| < 1e-12 of it.
    #[test]
    fn newton_finds_the_equilibrium_of_a_mapped_network() {
        let network = net(vec![32, 64, 64, 64, 8], 6);
        let batch = gaussian_batch(32, 8, 16, 2);
        let noisy = programming_error(0.05);
        let m = mapped(&network, &noisy, crossbar(64, 64, Backward::Separate), 3);
        let newton = InferenceOptions::new(
            Solver::Newton {
                max_iterations: 50,
                rtol: 1e-13,
                atol: 1e-15,
            },
            Stop::steady(1e-12, 1_000_000),
        );
        let conv = ideal_converter();
        let a = gradient_check(&network, &m, &batch, &conv, &conv, &opts()).unwrap();
        let b = gradient_check(&network, &m, &batch, &conv, &conv, &newton).unwrap();
        let stats = b
            .hardware_inference
            .newton
            .clone()
            .expect("newton statistics");
        assert_eq!(stats.krylov, "bicgstab");
        assert_eq!(stats.fallback, None);
        assert!(b.hardware_inference.max_dzdt < 1e-12);
        for (x, y) in a.hardware_inference.z.iter().zip(&b.hardware_inference.z) {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        }
    }
}
