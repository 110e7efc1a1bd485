//! Calibration against published chips (README, "Calibration against published chips"): the
//! designs of `circuits/chips/` in feedforward mode, held against the figures their papers
//! publish. Each design is a 256-256-256 network, one 256 x 256 MVM per layer, so an MVM costs
//! half an inference and a layer's pipelined throughput is half the design's.

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
/// throughput is within 2x in both modes. Its energy per MVM is not: it prices the reads, the
/// TIAs and each conversion, a part of what the chip draws (README), so it must stay below.
#[test]
fn hermes_throughput_within_2x_and_energy_a_part_of_the_chips() {
    for (set, tops, tops_per_watt) in [
        (&[][..], 63.1, 9.76),
        (&["periphery.dac_time=512ns"][..], 16.1, 2.48),
    ] {
        let ff = feedforward("circuits/chips/hermes.toml", set);
        let core_tops = ff.tops / 2.0;
        let mvm_joules = ff.energy_per_inference_joules / 2.0;
        let published_core = tops / 64.0;
        let published_mvm = MVM_OPS / (tops_per_watt * 1e12);
        eprintln!(
            "HERMES {set:?}: core {core_tops:.3} TOPS (published {published_core:.3}), MVM \
             {mvm_joules:.3e} J (published {published_mvm:.3e})"
        );
        assert!(within(core_tops, published_core, 2.0));
        assert!(mvm_joules < published_mvm);
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
