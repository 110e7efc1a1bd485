//! What a run reads out for the update (report.json's `readout`): settling referred to the
//! converters, measured on the noise-free trajectory, and the error ADCs ranged per layer
//! (docs/circuit-model.md, "Settling"). The exact-trajectory oracle of the readout's settling
//! is in tests/analog.rs (`readout_settling_matches_the_exact_trajectory_...`).

use apcsim::config::{load, LoadOptions};
use apcsim::dynamics::{infer, InferenceOptions, Solver, Stop};
use apcsim::measure::{run, RunResult};

mod common;

fn tiny(set: &[&str]) -> RunResult {
    let path = common::repo_path("circuits/tiny.toml");
    let circuit = load(&path, set, &LoadOptions::default()).unwrap();
    run(&circuit, &|_, _| {}).unwrap()
}

/// A noisy run's readout settling is its noise-free first pass's: the very same times as the
/// noise-free run of the design (bit for bit), and its inference window ends there too.
#[test]
fn the_readout_settles_on_the_noise_free_trajectory() {
    let base = [
        "dynamics.solver=exponential",
        "dynamics.dt=1ns",
        "periphery.ktc_noise=true",
        "device.read_noise_thermal=true",
    ];
    let with = |noise: &str| {
        let mut set = base.to_vec();
        set.push(noise);
        tiny(&set)
    };
    let (quiet, noisy) = (with("dynamics.noise=false"), with("dynamics.noise=true"));
    assert!(noisy.report.measurements().unwrap().dynamics.noisy);
    let times = |r: &RunResult| -> Vec<f64> {
        r.sim
            .readout_settling
            .iter()
            .map(|s| s.time_seconds)
            .collect()
    };
    eprintln!(
        "readout settling: noise-free {:?} s, noisy {:?} s; at the value nodes (settle_tol): \
         noise-free {:?}, noisy {:?}",
        times(&quiet),
        times(&noisy),
        quiet
            .sim
            .settling
            .iter()
            .map(|s| s.time_seconds)
            .collect::<Vec<_>>(),
        noisy
            .sim
            .settling
            .iter()
            .map(|s| s.time_seconds)
            .collect::<Vec<_>>()
    );
    assert_eq!(times(&quiet), times(&noisy));
    assert!(times(&quiet).iter().all(|&t| t > 0.0));
    for r in [&quiet, &noisy] {
        let m = r.report.measurements().unwrap();
        assert_eq!(
            m.settling.window_seconds,
            m.readout.settling.times.worst_seconds
        );
        assert_eq!(m.readout.settling.per_sample_seconds, times(r));
    }
}

/// Gain ranging: each layer's full scale is the smallest adc_range / 2^k (k <= 7) holding the
/// largest |e_l| of the batch at the ideal network's equilibrium (recomputed here), and a gain
/// of 2^k adds close to k effective bits to a layer's readout (6.02 dB per bit), at least k - 1
/// for signals of a few codes where the quantisation error is not yet uniform.
#[test]
fn per_layer_ranging_reads_each_layer_at_its_own_full_scale() {
    let plain = tiny(&[]);
    let ranged = tiny(&["periphery.error_ranging=per_layer"]);
    let net = &ranged.built.network;
    let batch = &ranged.built.batch;
    let opts = InferenceOptions::new(
        Solver::Dop853 {
            rtol: 1e-11,
            atol: 1e-13,
        },
        Stop::steady(1e-10, 1_000_000),
    );
    let z = infer(net, batch, &opts).unwrap().z;
    let mut ws = net.workspace(batch.size());
    net.compute_errors(batch.x.as_slice(), batch.y.as_slice(), &z, &mut ws);
    let r = &ranged.report.measurements().unwrap().readout;
    let p = &plain.report.measurements().unwrap().readout;
    assert_eq!(r.error_ranging, "per_layer");
    assert_eq!(p.error_full_scale, vec![1.0; 3]);
    for (l, e) in ws.errors().iter().enumerate() {
        let peak = e.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let fs = r.error_full_scale[l];
        let k = (1.0 / fs).log2();
        eprintln!(
            "layer {}: peak |e| {peak:.4e}, full scale +-{fs} (gain 2^{k}); effective bits {:.2} \
             (at +-1: {:.2})",
            l + 1,
            r.error_effective_bits[l],
            r.error_effective_bits_unranged[l]
        );
        assert_eq!(k, k.round(), "a binary gain");
        assert!(
            peak <= fs && (k == 7.0 || peak > fs / 2.0),
            "layer {}",
            l + 1
        );
        assert_eq!(
            r.error_effective_bits_unranged[l],
            p.error_effective_bits[l]
        );
        if k >= 1.0 {
            let gained = r.error_effective_bits[l] - r.error_effective_bits_unranged[l];
            assert!(gained >= k - 1.0, "layer {}: +{gained} bits", l + 1);
        }
    }
}

/// An ideal ADC (`adc_bits = 0`) is counted at its nominal 8 bits for its readout bands and its
/// price; its effective bits are counted the same way: those of the 8-bit converter, at each
/// layer's full scale, ranged or not (the run is the same: the ADC only reads the settled
/// state). Without this they were NaN (an exact conversion has no error).
#[test]
fn an_ideal_adc_reads_with_the_bits_it_is_counted_at() {
    for ranging in ["none", "per_layer"] {
        let set = |bits: &str| {
            tiny(&[
                &format!("periphery.adc_bits={bits}"),
                &format!("periphery.error_ranging={ranging}"),
            ])
        };
        let (ideal, eight) = (set("0"), set("8"));
        let r = |run: &RunResult| run.report.measurements().unwrap().readout.clone();
        let (ri, r8) = (r(&ideal), r(&eight));
        assert_eq!(ideal.sim.final_e, eight.sim.final_e, "{ranging}");
        assert_eq!(ri.settling, r8.settling, "{ranging}");
        assert_eq!(ri.error_full_scale, r8.error_full_scale, "{ranging}");
        assert!(
            ri.error_effective_bits.iter().all(|b| b.is_finite()),
            "{ranging}: {:?}",
            ri.error_effective_bits
        );
        assert_eq!(
            ri.error_effective_bits, r8.error_effective_bits,
            "{ranging}"
        );
        assert_eq!(
            ri.error_effective_bits_unranged, r8.error_effective_bits_unranged,
            "{ranging}"
        );
    }
}
