//! `apcsim run`: the main job. It builds the design (network, batch, mapping), integrates the
//! analog circuit until it settles, measures settling and energy, forms the circuit's PC update
//! and checks it against BP, and writes the report (report.json, traces.h5, the terminal
//! summary). Plots and the HTML page are drawn from the same figures.

use super::build::{build, BuildError, Built};
use crate::analog::energy::{component_total, layer_total, total, ByLayer};
use crate::analog::{
    simulate, AnalogCircuit, Component, EnergyModel, Scheme, SimError, SimOptions, Simulation,
};
use crate::config::{Circuit, SolverKind};
use crate::dynamics::{infer, InferenceError, InferenceOptions, Solver, Stop};
use crate::hardware::mapping::relative_frobenius;
use crate::io::h5::{Array, Attr, H5Error, H5Writer};
use crate::io::reference::from_matrix;
use crate::network::{alignment, Activation, Alignment, Network, NetworkError};
use crate::plot::{bar_chart, line_chart, stacked_area, Axis, HtmlReport, PlotError, Series};
use nalgebra::DMatrix;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Simulation(#[from] SimError),
    #[error("the ideal-circuit reference: {0}")]
    Reference(#[from] InferenceError),
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    H5(#[from] H5Error),
    #[error("writing {path}: {message}")]
    Write { path: String, message: String },
}

/// Gradient alignment of one comparison, with per-layer norm ratios.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub alignment: Alignment,
    pub norm_ratio_per_layer: Vec<f64>,
}

impl Comparison {
    fn new(a: &[DMatrix<f64>], b: &[DMatrix<f64>]) -> Self {
        Comparison {
            alignment: alignment(a, b),
            norm_ratio_per_layer: a
                .iter()
                .zip(b)
                .map(|(x, y)| {
                    let ny = y.norm();
                    if ny > 0.0 {
                        x.norm() / ny
                    } else {
                        f64::NAN
                    }
                })
                .collect(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "cos_sim": self.alignment.overall,
            "norm_ratio": self.alignment.norm_ratio,
            "cos_sim_per_layer": self.alignment.per_layer,
            "norm_ratio_per_layer": self.norm_ratio_per_layer,
        })
    }
}

/// The gradient check of a run.
#[derive(Clone, Debug)]
pub struct GradientCheck {
    /// The analog update against BP on the ideal weights, and on the effective forward weights
    /// with the DAC inputs.
    pub hardware_vs_bp_ideal: Comparison,
    pub hardware_vs_bp_effective: Comparison,
    /// The ideal circuit (exact weights, equilibrium): the theory value.
    pub ideal_vs_bp: Comparison,
    pub pc_hardware: Vec<DMatrix<f64>>,
    pub pc_ideal: Vec<DMatrix<f64>>,
    pub bp_ideal: Vec<DMatrix<f64>>,
    pub bp_effective: Vec<DMatrix<f64>>,
}

/// Everything one run produced.
pub struct RunResult {
    pub built: Built,
    pub sim: Simulation,
    pub energy_model: EnergyModel,
    pub gradients: GradientCheck,
    pub wall_seconds: f64,
    pub report: Value,
}

fn scheme(kind: SolverKind) -> Result<Scheme, RunError> {
    match kind {
        SolverKind::Euler => Ok(Scheme::Euler),
        SolverKind::Heun => Ok(Scheme::Heun),
        SolverKind::Rk4 => Ok(Scheme::Rk4),
        SolverKind::Dopri5 | SolverKind::Dop853 => Err(RunError::Unsupported(format!(
            "dynamics.solver = \"{}\": `apcsim run` integrates the circuit with the fixed-step \
             schemes euler, heun and rk4 (adaptive solvers serve `apcsim reference` and `check \
             --gradient`); set dynamics.solver = \"rk4\" (with dynamics.dt) for a deterministic \
             run",
            kind.name()
        ))),
    }
}

/// Options of a design's simulation.
pub fn sim_options(circuit: &Circuit) -> Result<SimOptions, RunError> {
    let d = &circuit.dynamics;
    let w = &circuit.architecture.widths;
    let opts = SimOptions {
        scheme: scheme(d.solver)?,
        dt_seconds: d.dt_seconds,
        t_max_seconds: d.t_max_seconds,
        settle_tol: d.settle_tol,
        steady_tol: d.steady_tol,
        settle_window_seconds: d.settle_window_seconds,
        seed: circuit.run.seed,
        noise: d.noisy,
        trace_samples: circuit.run.trace_samples,
        trace_points: circuit.run.trace_points,
        energy: Some(EnergyModel::new(
            w,
            circuit.architecture.activation,
            circuit.crossbar.v_read_volts,
            &circuit.periphery,
        )),
    };
    // Refused here, before anything is built or run (a sweep checks every point with this).
    crate::analog::check_step(&opts, d.tau_e_seconds)?;
    Ok(opts)
}

/// Runs the design. `progress` is told (pass, steps) as the integration advances.
pub fn run(
    circuit: &Circuit,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<RunResult, RunError> {
    let start = Instant::now();
    let opts = sim_options(circuit)?;
    let built = build(circuit)?;
    let net = &built.network;
    let mut hw_batch = built.batch.clone();
    circuit.periphery.dac.convert_all(hw_batch.x.as_mut_slice());
    let circ: AnalogCircuit<f64> = AnalogCircuit::from_design(circuit, net, &built.mapped);
    let b = hw_batch.size();
    let sim = simulate(
        &circ,
        hw_batch.x.as_slice(),
        hw_batch.y.as_slice(),
        b,
        &opts,
        progress,
    )?;
    let gradients = gradient_check(circuit, &built, &hw_batch, &sim)?;
    let energy_model = opts.energy.clone().expect("run options account for energy");
    let wall_seconds = start.elapsed().as_secs_f64();
    let mut res = RunResult {
        built,
        sim,
        energy_model,
        gradients,
        wall_seconds,
        report: Value::Null,
    };
    res.report = report_json(circuit, &res);
    Ok(res)
}

/// The circuit's PC update from its settled state, read through the ADC, against BP.
fn gradient_check(
    circuit: &Circuit,
    built: &Built,
    hw_batch: &crate::network::Batch<f64>,
    sim: &Simulation,
) -> Result<GradientCheck, RunError> {
    let net = &built.network;
    let arch = net.architecture();
    let w = &arch.widths;
    let l_out = net.n_layers();
    let b = hw_batch.size();
    let adc = &circuit.periphery.adc;
    let lay = net.layout(b);
    let mut pc_hardware = Vec::with_capacity(l_out);
    for l in 1..=l_out {
        let a = net.scalings()[l - 1];
        let lam = if l == l_out {
            arch.output_precision
        } else {
            1.0
        };
        let mut e = sim.final_e[l - 1].clone();
        adc.convert_all(&mut e);
        let input: Vec<f64> = if l == 1 {
            hw_batch.x.as_slice().to_vec()
        } else {
            let z = &sim.final_z[lay.range(l - 1)];
            let mut p = vec![0.0; z.len()];
            arch.activation.apply(z, &mut p, None);
            adc.convert_all(&mut p);
            p
        };
        let em = DMatrix::from_column_slice(w[l], b, &e);
        let pm = DMatrix::from_column_slice(w[l - 1], b, &input);
        pc_hardware.push(em * pm.transpose() * (-a * lam / b as f64));
    }
    let batch = &built.batch;
    let solver = if arch.activation == Activation::Linear {
        Solver::ClosedForm
    } else {
        Solver::Dop853 {
            rtol: 1e-11,
            atol: 1e-13,
        }
    };
    let ideal = infer(
        net,
        batch,
        &InferenceOptions::new(solver, Stop::steady(1e-10, 1_000_000)),
    )?;
    let pc_ideal = net.pc_weight_gradients(batch, &ideal.z);
    let (_, bp_ideal) = net.bp_gradients(batch);
    let hw_fwd = Network::new(arch.clone(), built.mapped.forward_weights())?;
    let (_, bp_effective) = hw_fwd.bp_gradients(hw_batch);
    Ok(GradientCheck {
        hardware_vs_bp_ideal: Comparison::new(&pc_hardware, &bp_ideal),
        hardware_vs_bp_effective: Comparison::new(&pc_hardware, &bp_effective),
        ideal_vs_bp: Comparison::new(&pc_ideal, &bp_ideal),
        pc_hardware,
        pc_ideal,
        bp_ideal,
        bp_effective,
    })
}

fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => 0.5 * (s[n / 2 - 1] + s[n / 2]),
    }
}

/// Multiply-accumulates of one BP step per sample: the forward pass, the backward pass (no
/// delta for the input) and the weight gradients.
pub fn bp_step_macs(widths: &[usize]) -> usize {
    let per: Vec<usize> = widths.windows(2).map(|p| p[0] * p[1]).collect();
    let all: usize = per.iter().sum();
    all + (all - per[0]) + all
}

/// Multiply-accumulates of one forward and one backward product of the whole network per
/// sample (the backward product of layer 1 is not formed).
pub fn circuit_macs(widths: &[usize]) -> usize {
    let per: Vec<usize> = widths.windows(2).map(|p| p[0] * p[1]).collect();
    let all: usize = per.iter().sum();
    all + (all - per[0])
}

fn by_layer_json(e: &ByLayer) -> Value {
    Value::Array(
        e.iter()
            .map(|l| {
                let mut m = serde_json::Map::new();
                for c in Component::ALL {
                    m.insert(c.name().into(), json!(l[c.index()]));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

fn report_json(circuit: &Circuit, res: &RunResult) -> Value {
    let sim = &res.sim;
    let tau_z = circuit.dynamics.tau_z_seconds;
    let times: Vec<f64> = sim.settling.iter().map(|s| s.time_seconds).collect();
    let worst = times.iter().cloned().fold(0.0, f64::max);
    let med = median(&times);
    let b = sim.batch;
    let w = &circuit.architecture.widths;
    let energy = sim.energy.as_ref().expect("run accounts for energy");
    let e_total = total(energy);
    let e_sample = e_total / b as f64;
    let l_out = w.len() - 1;
    let mut by_component = serde_json::Map::new();
    for c in Component::ALL {
        by_component.insert(c.name().into(), json!(component_total(energy, c)));
    }
    let macs_bp = bp_step_macs(w);
    let digital = macs_bp as f64 * circuit.periphery.digital_mac_energy_joules;
    let ops = 2 * circuit_macs(w);
    let mapping: Vec<Value> = res
        .built
        .mapped
        .layers
        .iter()
        .zip(res.built.network.weights())
        .map(|(m, wt)| {
            json!({
                "layer": m.layer,
                "inputs": m.inputs,
                "outputs": m.outputs,
                "tile_grid": [m.tile_grid.0, m.tile_grid.1],
                "tiles": m.tiles(&circuit.crossbar),
                "devices": m.devices(),
                "kappa_siemens": m.kappa_siemens,
                "feedback_resistance_ohms": m.feedback_resistance_ohms,
                "weight_error_forward": relative_frobenius(&m.w_forward, wt),
                "weight_error_backward": relative_frobenius(&m.w_backward, wt),
            })
        })
        .collect();
    let g = &res.gradients;
    json!({
        "apcsim_version": env!("CARGO_PKG_VERSION"),
        "design": circuit.name,
        "batch": b,
        "wall_seconds": res.wall_seconds,
        "mapping": mapping,
        "dynamics": {
            "solver": circuit.dynamics.solver.name(),
            "noisy": circuit.dynamics.noisy,
            "dt_seconds": sim.dt_seconds,
            "steps": sim.steps,
            "evaluations": sim.evaluations,
            "t_end_seconds": sim.t_end_seconds,
            "tau_z_seconds": tau_z,
            "tau_e_seconds": circuit.dynamics.tau_e_seconds,
        },
        "settling": {
            "settled": sim.steady,
            "residual": sim.residual,
            "median_seconds": med,
            "worst_seconds": worst,
            "median_tau_z": med / tau_z,
            "worst_tau_z": worst / tau_z,
            "worst_steps": sim.settling.iter().map(|s| s.steps).max().unwrap_or(0),
            "per_sample_seconds": times,
            "window_seconds": sim.window_seconds,
        },
        "energy": {
            "per_inference_joules": e_total,
            "per_sample_joules": e_sample,
            "by_component_joules": Value::Object(by_component),
            "by_layer_joules": (1..=l_out).map(|l| layer_total(energy, l)).collect::<Vec<_>>(),
            "by_layer_component_joules": by_layer_json(energy),
            "energy_delay_product_joule_seconds": e_sample * sim.window_seconds,
            "ops_equivalent_per_sample": ops,
            "ops_per_joule": ops as f64 / e_sample,
            "digital_reference": {
                "mac_energy_joules": circuit.periphery.digital_mac_energy_joules,
                "bp_step_macs_per_sample": macs_bp,
                "per_sample_joules": digital,
                "analog_over_digital": e_sample / digital,
            },
        },
        "gradients": {
            "hardware_vs_bp_ideal_weights": g.hardware_vs_bp_ideal.to_json(),
            "hardware_vs_bp_effective_weights": g.hardware_vs_bp_effective.to_json(),
            "ideal_circuit_vs_bp": g.ideal_vs_bp.to_json(),
        },
        "config": circuit.config.to_json(),
    })
}

pub use crate::numeric::format::si;

/// The compact terminal summary.
pub fn summary(circuit: &Circuit, res: &RunResult) -> String {
    let r = &res.report;
    let mut s = String::new();
    let st = &r["settling"];
    let tau_z = circuit.dynamics.tau_z_seconds;
    let _ = writeln!(
        s,
        "{}: {} samples, {} ({}), {} steps of {}, {:.2} s wall",
        circuit.name,
        res.sim.batch,
        circuit.dynamics.solver.name(),
        if circuit.dynamics.noisy {
            "noisy SDE"
        } else {
            "deterministic"
        },
        res.sim.steps,
        si(res.sim.dt_seconds, "s"),
        res.wall_seconds
    );
    let settled = st["settled"].as_bool().unwrap_or(false);
    let med = st["median_seconds"].as_f64().unwrap_or(f64::NAN);
    let worst = st["worst_seconds"].as_f64().unwrap_or(f64::NAN);
    if settled {
        let _ = writeln!(
            s,
            "settling   median {} ({:.1} tau_z), worst {} ({:.1} tau_z)",
            si(med, "s"),
            med / tau_z,
            si(worst, "s"),
            worst / tau_z
        );
    } else {
        let _ = writeln!(
            s,
            "settling   NOT SETTLED within t_max = {}: residual {:.3e} (steady below {:e}); \
             latest band exit at {}",
            si(circuit.dynamics.t_max_seconds, "s"),
            res.sim.residual,
            circuit.dynamics.steady_tol,
            si(worst, "s")
        );
    }
    let e = &r["energy"];
    let per = e["per_sample_joules"].as_f64().unwrap_or(f64::NAN);
    let _ = writeln!(
        s,
        "energy     {} per sample ({} per batch), EDP {}s, {:.3} TOPS/W; digital BP step {} \
         ({:.3}x)",
        si(per, "J"),
        si(e["per_inference_joules"].as_f64().unwrap_or(f64::NAN), "J"),
        si(
            e["energy_delay_product_joule_seconds"]
                .as_f64()
                .unwrap_or(f64::NAN),
            "J"
        ),
        e["ops_per_joule"].as_f64().unwrap_or(f64::NAN) / 1e12,
        si(
            e["digital_reference"]["per_sample_joules"]
                .as_f64()
                .unwrap_or(f64::NAN),
            "J"
        ),
        e["digital_reference"]["analog_over_digital"]
            .as_f64()
            .unwrap_or(f64::NAN)
    );
    let energy = res.sim.energy.as_ref().expect("run accounts for energy");
    let b = res.sim.batch as f64;
    let _ = write!(s, "  {:<18}", "per sample");
    let l_out = energy.len();
    for l in 1..=l_out {
        let _ = write!(s, "{:>11}", format!("layer {l}"));
    }
    let _ = writeln!(s, "{:>11}", "total");
    for c in Component::ALL {
        let t = component_total(energy, c);
        if t == 0.0 {
            continue;
        }
        let _ = write!(s, "  {:<18}", c.name());
        for l in 0..l_out {
            let _ = write!(s, "{:>11}", si(energy[l][c.index()] / b, "J"));
        }
        let _ = writeln!(s, "{:>11}", si(t / b, "J"));
    }
    let g = &res.gradients;
    let _ = writeln!(s, "gradients  cos sim (norm ratio) of the PC update to BP");
    let row = |s: &mut String, name: &str, c: &Comparison| {
        let per: Vec<String> = c
            .alignment
            .per_layer
            .iter()
            .map(|v| format!("{v:.4}"))
            .collect();
        let _ = writeln!(
            s,
            "  {name:<30} {:.6} ({:.4})  per layer [{}]",
            c.alignment.overall,
            c.alignment.norm_ratio,
            per.join(", ")
        );
    };
    row(&mut s, "ideal circuit (theory)", &g.ideal_vs_bp);
    row(&mut s, "hardware vs BP, ideal W", &g.hardware_vs_bp_ideal);
    row(
        &mut s,
        "hardware vs BP, effective W",
        &g.hardware_vs_bp_effective,
    );
    s
}

/// Writes report.json, traces.h5, the SVG figures and report.html into `dir` (created if
/// needed); every file is written whole or not at all.
pub fn write_outputs(circuit: &Circuit, res: &RunResult, dir: &Path) -> Result<(), RunError> {
    let werr = |p: &Path, e: &dyn std::fmt::Display| RunError::Write {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| werr(dir, &e))?;
    let traces = traces_h5(circuit, res);
    let tp = dir.join("traces.h5");
    traces.write(&tp)?;
    let rp = dir.join("report.json");
    let text = serde_json::to_string_pretty(&res.report).map_err(|e| werr(&rp, &e))?;
    crate::io::write_atomic(&rp, format!("{text}\n").as_bytes()).map_err(|e| werr(&rp, &e))?;
    let figures = figures(circuit, res);
    let mut html = HtmlReport::new(&format!("apcsim run: {}", circuit.name));
    html.paragraph(&format!(
        "apcsim {} — design {}, {} samples. Every figure is also in report.json; the traces \
         are in traces.h5.",
        env!("CARGO_PKG_VERSION"),
        circuit.name,
        res.sim.batch
    ));
    html.heading(2, "Summary");
    html.preformatted(&summary(circuit, res));
    html.heading(2, "Design");
    html.preformatted(&circuit.summary());
    html.heading(2, "Figures");
    for (file, caption, svg) in &figures {
        match svg {
            Ok(svg) => {
                let p = dir.join(file);
                crate::io::write_atomic(&p, svg.as_bytes()).map_err(|e| werr(&p, &e))?;
                html.figure(caption, svg);
            }
            Err(e) => {
                html.paragraph(&format!("{caption}: not drawn ({e})."));
            }
        }
    }
    let hp = dir.join("report.html");
    crate::io::write_atomic(&hp, html.to_html().as_bytes()).map_err(|e| werr(&hp, &e))?;
    Ok(())
}

type Figure = (String, String, Result<String, PlotError>);

/// The run's figures: (file name, caption, SVG).
fn figures(circuit: &Circuit, res: &RunResult) -> Vec<Figure> {
    let mut out: Vec<Figure> = Vec::new();
    let t = &res.sim.traces;
    let w = &circuit.architecture.widths;
    let l_out = w.len() - 1;
    let us: Vec<f64> = t.time_seconds.iter().map(|s| s * 1e6).collect();
    let time_axis = Axis::linear("time (µs)");
    let k = t.samples.len();
    if k > 0 && !us.is_empty() {
        // Distance of each layer from its final value, for the first traced sample.
        let lay = res.built.network.layout(res.sim.batch);
        let series: Vec<Series> = (1..l_out)
            .map(|l| {
                let n = w[l];
                let zf = &res.sim.final_z[lay.range(l)][..n];
                let range = t.z[l - 1][..n]
                    .iter()
                    .zip(zf)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                let y = (0..us.len())
                    .map(|p| {
                        let z = &t.z[l - 1][p * k * n..p * k * n + n];
                        let d = z
                            .iter()
                            .zip(zf)
                            .map(|(a, b)| (a - b).abs())
                            .fold(0.0, f64::max);
                        if range > 0.0 {
                            d / range
                        } else {
                            f64::NAN
                        }
                    })
                    .collect();
                Series::new(format!("layer {l}"), us.clone(), y)
            })
            .collect();
        out.push((
            "convergence.svg".into(),
            format!(
                "Largest distance of a layer's value nodes from their final values, relative to \
                 the layer's range (sample {}); settled below settle_tol = {}.",
                t.samples[0], circuit.dynamics.settle_tol
            ),
            line_chart(
                "Settling: max |z − z_final| / range",
                &time_axis,
                &Axis::log("relative distance"),
                &series,
            ),
        ));
        for l in 1..l_out {
            let n = w[l];
            let shown = n.min(4);
            let series: Vec<Series> = (0..shown)
                .map(|i| {
                    let y = (0..us.len())
                        .map(|p| t.z[l - 1][p * k * n + i] * circuit.crossbar.v_read_volts * 1e3)
                        .collect();
                    Series::new(format!("node {i}"), us.clone(), y)
                })
                .collect();
            out.push((
                format!("settling_layer_{l}.svg"),
                format!(
                    "Value-node voltages of layer {l} (the first {shown} nodes, sample {}).",
                    t.samples[0]
                ),
                line_chart(
                    &format!("Layer {l}: value nodes"),
                    &time_axis,
                    &Axis::linear("voltage (mV)"),
                    &series,
                ),
            ));
        }
    }
    if !t.power_watts.is_empty() {
        let comps: Vec<(String, Vec<f64>)> = Component::ALL
            .iter()
            .filter(|c| t.power_watts.iter().any(|p| p[c.index()] > 0.0))
            .map(|c| {
                (
                    c.name().replace('_', " "),
                    t.power_watts.iter().map(|p| p[c.index()] * 1e3).collect(),
                )
            })
            .collect();
        out.push((
            "power.svg".into(),
            format!(
                "Power drawn by the whole batch ({} circuits) over time, by component.",
                res.sim.batch
            ),
            stacked_area(
                "Power by component",
                &time_axis,
                &Axis::linear("power (mW)"),
                &us,
                &comps,
            ),
        ));
    }
    if let Some(energy) = res.sim.energy.as_ref() {
        let b = res.sim.batch as f64;
        let cats: Vec<String> = (1..=l_out).map(|l| format!("layer {l}")).collect();
        let groups: Vec<(String, Vec<f64>)> = Component::ALL
            .iter()
            .filter(|c| component_total(energy, **c) > 0.0)
            .map(|c| {
                (
                    c.name().replace('_', " "),
                    energy.iter().map(|l| l[c.index()] / b * 1e9).collect(),
                )
            })
            .collect();
        out.push((
            "energy.svg".into(),
            format!(
                "Energy per sample over the inference window ({}), by layer and component.",
                si(res.sim.window_seconds, "s")
            ),
            bar_chart(
                "Energy per sample",
                &Axis::linear("energy (nJ)"),
                &cats,
                &groups,
                true,
            ),
        ));
    }
    let g = &res.gradients;
    let cats: Vec<String> = (1..=l_out).map(|l| format!("W{}", l - 1)).collect();
    out.push((
        "alignment.svg".into(),
        "Cosine similarity of the PC update to BP per layer: the ideal circuit (theory), and \
         the hardware against BP on the ideal and on the effective weights."
            .into(),
        bar_chart(
            "Gradient alignment per layer",
            &Axis::linear("cosine similarity"),
            &cats,
            &[
                (
                    "ideal circuit".into(),
                    g.ideal_vs_bp.alignment.per_layer.clone(),
                ),
                (
                    "hardware vs BP (ideal W)".into(),
                    g.hardware_vs_bp_ideal.alignment.per_layer.clone(),
                ),
                (
                    "hardware vs BP (effective W)".into(),
                    g.hardware_vs_bp_effective.alignment.per_layer.clone(),
                ),
            ],
            false,
        ),
    ));
    out
}

fn traces_h5(circuit: &Circuit, res: &RunResult) -> H5Writer {
    let t = &res.sim.traces;
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
    h.attr("", "dt_seconds", Attr::F64(res.sim.dt_seconds));
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
    for m in &res.built.mapped.layers {
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
    let g = &res.gradients;
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
    h.dataset(
        "final/settling_seconds",
        Array::vector(res.sim.settling.iter().map(|s| s.time_seconds).collect()),
    );
    h
}
