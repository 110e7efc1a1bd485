//! traces.h5: what a run recorded at its output points (node values, error outputs, power and
//! energy since t = 0), the conductances it ran on, and for a completed run the gradients and
//! each sample's settling time. A diverged run's file holds the points recorded before the
//! divergence and the conductances.

use super::run::{DivergedRun, GradientCheck, RunResult};
use crate::analog::{Component, Traces};
use crate::config::Circuit;
use crate::design::Built;
use crate::io::h5::{Array, Attr, H5Writer};
use crate::io::reference::from_matrix;

/// traces.h5 of a completed run.
pub fn traces_h5(circuit: &Circuit, res: &RunResult) -> H5Writer {
    let mut h = recorded(circuit, &res.sim.traces, res.sim.dt_seconds, &res.built);
    if circuit.run.record_weights {
        gradients(&mut h, &res.gradients);
    }
    h.dataset(
        "final/settling_seconds",
        Array::vector(res.sim.settling.iter().map(|s| s.time_seconds).collect()),
    );
    h
}

/// The four gradients of every weight matrix.
fn gradients(h: &mut H5Writer, g: &GradientCheck) {
    for (name, set) in [
        ("pc_hardware", &g.pc_hardware),
        ("pc_ideal", &g.pc_ideal),
        ("bp_ideal", &g.bp_ideal),
        ("bp_effective", &g.bp_effective),
    ] {
        for (i, m) in set.iter().enumerate() {
            h.dataset(&format!("grads/{name}/W{i}"), from_matrix(m));
        }
    }
}

/// traces.h5 of a diverged run: the points recorded before the divergence.
pub fn diverged_traces_h5(circuit: &Circuit, run: &DivergedRun) -> H5Writer {
    recorded(circuit, &run.traces, run.dt_seconds, &run.built)
}

/// The recorded output points and the conductances.
fn recorded(circuit: &Circuit, t: &Traces, dt_seconds: f64, built: &Built) -> H5Writer {
    let w = &circuit.architecture.widths;
    let l_out = w.len() - 1;
    let k = t.samples.len();
    let p = t.time_seconds.len();
    let mut h = H5Writer::new();
    h.attr(
        "",
        "apcsim_version",
        Attr::Str(env!("CARGO_PKG_VERSION").into()),
    );
    h.attr("", "design", Attr::Str(circuit.name.clone()));
    h.attr(
        "",
        "tau_z_seconds",
        Attr::F64(circuit.dynamics.tau_z_seconds),
    );
    h.attr("", "dt_seconds", Attr::F64(dt_seconds));
    h.dataset("time_seconds", Array::vector(t.time_seconds.clone()));
    h.dataset(
        "samples",
        Array::vector(t.samples.iter().map(|&s| s as f64).collect()),
    );
    for l in 1..l_out {
        h.dataset(
            &format!("z/layer_{l}"),
            Array {
                shape: vec![p, k, w[l]],
                data: t.z[l - 1].clone(),
            },
        );
    }
    for l in 1..=l_out {
        h.dataset(
            &format!("e/layer_{l}"),
            Array {
                shape: vec![p, k, w[l]],
                data: t.e[l - 1].clone(),
            },
        );
    }
    h.attr(
        "z",
        "units",
        Attr::Str(format!(
            "node units (volts / {} V)",
            circuit.crossbar.v_read_volts
        )),
    );
    if !t.power_watts.is_empty() {
        let data: Vec<f64> = t
            .power_watts
            .iter()
            .flat_map(|r| r.iter().cloned())
            .collect();
        h.dataset(
            "power/by_component_watts",
            Array::matrix(p, Component::COUNT, data),
        );
        let names: Vec<&str> = Component::ALL.iter().map(|c| c.name()).collect();
        h.attr("power", "components", Attr::Str(names.join(",")));
        let data: Vec<f64> = t
            .energy_joules
            .iter()
            .flat_map(|r| r.iter().cloned())
            .collect();
        h.dataset("energy/by_layer_joules", Array::matrix(p, l_out, data));
    }
    if circuit.run.record_weights {
        conductances(&mut h, built);
    }
    h
}

/// The read conductances of every layer's arrays, in siemens.
fn conductances(h: &mut H5Writer, built: &Built) {
    for m in &built.mapped.layers {
        let l = m.layer;
        h.dataset(
            &format!("conductances/layer_{l}/forward_plus_siemens"),
            from_matrix(&m.forward.plus.read),
        );
        h.dataset(
            &format!("conductances/layer_{l}/forward_minus_siemens"),
            from_matrix(&m.forward.minus.read),
        );
        if let Some(bk) = &m.backward {
            h.dataset(
                &format!("conductances/layer_{l}/backward_plus_siemens"),
                from_matrix(&bk.plus.read),
            );
            h.dataset(
                &format!("conductances/layer_{l}/backward_minus_siemens"),
                from_matrix(&bk.minus.read),
            );
        }
    }
}
