//! Read noise is a property of the device: its white density does not depend on the
//! amplifiers, and the 1/f noise accumulated since programming is one draw per device that a
//! shared backward read sees as the forward read does.

use apcsim::analog::AnalogCircuit;
use apcsim::config::{load, Circuit, LoadOptions};
use apcsim::design::build::{build, Built};

mod common;

fn design(sets: &[&str]) -> (Circuit, Built) {
    let circuit = load(
        &common::repo_path("circuits/tiny.toml"),
        sets,
        &LoadOptions::default(),
    )
    .unwrap();
    let built = build(&circuit).unwrap();
    (circuit, built)
}

/// The relative-noise density of every TIA line is R_f^2 w^2 sum (G+^2 + G-^2) per unit of
/// drive squared (docs/circuit-model.md), whatever the error amplifiers' bandwidth: raising
/// it 10x changes nothing (it used to lower the density 10x, the node noise sqrt(10)x).
#[test]
fn white_read_noise_is_a_device_density_independent_of_the_amplifier_bandwidth() {
    let w = 2e-5;
    let white = format!("device.read_noise_white={w}");
    let densities = |bandwidth: &str| {
        let bw = format!("periphery.error_amp_bandwidth={bandwidth}");
        let (circuit, built) = design(&[&white, &bw]);
        let circ: AnalogCircuit<f64> =
            AnalogCircuit::from_design(&circuit, &built.network, &built.mapped);
        (circ, built)
    };
    let (slow, built) = densities("5MHz");
    let (fast, _) = densities("50MHz");
    for (l, (a, b)) in slow.layers.iter().zip(&fast.layers).enumerate() {
        let (ra, rb) = (
            a.relative_forward.as_ref().unwrap(),
            b.relative_forward.as_ref().unwrap(),
        );
        assert_eq!(ra, rb, "layer {}", l + 1);
        let m = &built.mapped.layers[l];
        let r_f = m.feedback_resistance_ohms;
        let (p, n) = (&m.forward.plus.read, &m.forward.minus.read);
        for j in 0..m.outputs {
            for i in 0..m.inputs {
                let g2 = p[(i, j)].powi(2) + n[(i, j)].powi(2);
                let expect = r_f * r_f * w * w * g2;
                assert!(
                    (ra[(j, i)] - expect).abs() <= 1e-12 * expect,
                    "layer {} ({j}, {i}): {} vs {expect}",
                    l + 1,
                    ra[(j, i)]
                );
            }
        }
    }
}

/// With `pcm` (drift and accumulated 1/f noise), a shared backward read is the forward read
/// of the same devices, noise draw included; a separate array draws its own.
#[test]
fn a_shared_backward_read_sees_the_forward_reads_noise_draw() {
    let pcm = [
        "device.preset=pcm",
        "device.read_noise_thermal=false",
        "device.read_noise_white=0",
    ];
    let (_, shared) = design(&[&pcm[..], &["crossbar.backward=shared"]].concat());
    let (_, separate) = design(&[&pcm[..], &["crossbar.backward=separate"]].concat());
    let dev = &shared.mapped;
    for m in &dev.layers {
        // Every read of a device that conducts carries a 1/f draw beyond the drift (one at 0
        // stays at 0: the noise is relative).
        for f in [&m.forward.plus, &m.forward.minus] {
            for ((r, g), nu) in f.read.iter().zip(f.programmed.iter()).zip(f.nu.iter()) {
                let drifted = g * (3620.0f64 / 20.0).powf(-nu);
                assert_eq!(*g > 0.0, (r - drifted).abs() > 1e-15, "{r} vs {drifted}");
            }
        }
        assert_eq!(m.w_backward, m.w_forward);
    }
    for m in &separate.mapped.layers {
        assert_ne!(m.w_backward, m.w_forward);
    }
}
