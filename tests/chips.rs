//! Calibration against published chips (README, "Calibration against published chips"): the
//! designs of `circuits/chips/` in feedforward mode, held against the figures their papers
//! publish. Each design is a 256-256-256 network, one 256 x 256 MVM per layer, so an MVM costs
//! half an inference and a layer's pipelined throughput is half the design's.

use apcsim::analog::Component;
use apcsim::measure::{run, ModePpa};

mod common;

/// Ops of one 256 x 256 MVM, 2 per multiply-accumulate (as both papers count).
const MVM_OPS: f64 = 2.0 * 256.0 * 256.0;

fn feedforward(design: &str, set: &[&str]) -> ModePpa {
    let path = common::repo_path(design);
    let circuit =
        apcsim::config::load(&path, set, &apcsim::config::LoadOptions::default()).unwrap();
    let res = run(&circuit, &|_, _| {}).unwrap();
    let m = res.report.measurements().unwrap();
    assert!(
        m.ppa.relaxation.is_none(),
        "{design} runs in feedforward mode"
    );
    assert_eq!(m.ppa.feedforward.ops_per_inference as f64, 2.0 * MVM_OPS);
    m.ppa.feedforward.clone()
}

/// `a` within a factor `k` of `b`.
fn within(a: f64, b: f64, k: f64) -> bool {
    a <= k * b && b <= k * a
}

/// IBM HERMES (Le Gallo et al., Nature Electronics 6, 2023, abstract): 63.1 TOPS at 9.76 TOPS/W
/// in one-phase mode, 16.1 TOPS at 2.48 TOPS/W in four-phase mode, over 64 cores. A core's
/// throughput is 1/64 of the chip's; an MVM's energy is its ops over the TOPS/W. apcsim's
/// throughput and its energy per MVM are within 2x in both modes, with and without the core's
/// digital side (the published MVM energy "includes the PCM crossbar array, ADCs, and PWMs",
/// not the local digital units: Methods, "Power measurements").
/// The CCO ADCs draw the design's 206 uW (0.55 x 96.0 mW / 256: the HERMES core's measured
/// power, Khaddam-Aljameh et al., IEEE JSSC 2022, times the ADCs' 50-60% share of it, Singh et
/// al., Nature Electronics 2025) over the pulse width: 256 x 206 uW x 128 ns (one-phase) or
/// 512 ns (four-phase) per MVM. The core's digital side is the closed form of
/// docs/circuit-model.md at 14 nm, 0.85 V and the chip's 1 GHz clock: per MVM, 256 input
/// registers of 8 bits clocked over the pulse width (the ADCs' counters are in their power),
/// 256 buffer reads, 256 buffer writes, scalings and network hops.
#[test]
fn hermes_throughput_and_energy_within_2x() {
    let scale = 14.0 / 45.0 * (0.85f64 / 0.9).powi(2);
    let register_watts = 8.0 * 0.03e-12 / 8.0 * scale * 1e9;
    let buffer = 5e-12 * scale / 4.0;
    // One tile: 2 x 256 x 256 cells of 48 F^2, 256 survey ADCs (0.006 mm^2) and 256 ISAAC DACs
    // of 8 bits at 14 nm.
    let dac_area = 0.00017e-6 / 1024.0 * 128.0 * (14.0f64 / 32.0).powi(2);
    let tile = 2.0 * 65536.0 * 48.0 * 14e-9 * 14e-9 + 256.0 * (0.006e-6 + dac_area);
    let hop = 8.0 * 100e-15 / 1e-3 * tile.sqrt();
    let per_output = 1.5e-12 * scale + buffer + hop;
    for (set, pulse, tops, tops_per_watt) in [
        (&[][..], 128e-9, 63.1, 9.76),
        (&["periphery.dac_time=512ns"][..], 512e-9, 16.1, 2.48),
    ] {
        let ff = feedforward("circuits/chips/hermes.toml", set);
        let core_tops = ff.tops / 2.0;
        let mvm_joules = ff.energy_per_inference_joules / 2.0;
        let core = ff.energy_by_component_joules.get(Component::Core) / 2.0;
        let published_core = tops / 64.0;
        let published_mvm = MVM_OPS / (tops_per_watt * 1e12);
        eprintln!(
            "HERMES {set:?}: core {core_tops:.3} TOPS (published {published_core:.3}, ratio \
             {:.2}), MVM {mvm_joules:.3e} J (published {published_mvm:.3e}, ratio {:.2}; \
             {:.2} without the core's digital side)",
            core_tops / published_core,
            mvm_joules / published_mvm,
            (mvm_joules - core) / published_mvm
        );
        assert!(within(core_tops, published_core, 2.0));
        assert!(within(mvm_joules, published_mvm, 2.0));
        assert!(within(mvm_joules - core, published_mvm, 2.0));
        let adc = ff.energy_by_component_joules.get(Component::Adc) / 2.0;
        let want = 256.0 * 206e-6 * pulse;
        assert!((adc / want - 1.0).abs() < 1e-12, "{adc:e} vs {want:e}");
        let want = 256.0 * (buffer + register_watts * pulse + per_output);
        assert!((core / want - 1.0).abs() < 1e-12, "{core:e} vs {want:e}");
    }
}

/// The 22 nm 8-Mb ReRAM macro (IEEE JSSC 58(1), 2023, abstract): 14.4 ns per MVM and 21.6
/// TOPS/W at 8-bit precision. apcsim's energy per operation and its latency of one MVM (DAC,
/// read, ADC) are within 2x.
#[test]
fn rram_macro_energy_and_latency_within_2x() {
    let ff = feedforward("circuits/chips/rram_22nm.toml", &[]);
    let mvm_seconds = ff.latency_seconds / 2.0;
    eprintln!(
        "RRAM macro: {:.2} TOPS/W (published 21.6), MVM {mvm_seconds:.3e} s (published 14.4 ns)",
        ff.tops_per_watt
    );
    assert!(within(ff.tops_per_watt, 21.6, 2.0));
    assert!(within(mvm_seconds, 14.4e-9, 2.0));
}
