//! Running a design: build it (network, batch, mapping), integrate the analog circuit until
//! it settles, measure settling and energy, form the circuit's PC update and check it against
//! BP, and report ([`super::report::RunReport`]). A circuit that diverges is a result too: the
//! error carries the report of what diverged and the traces recorded before.

use super::readout::{error_converters, error_full_scales};
use super::report::{GradientComparison, GradientsReport, ReadoutReport, RunReport};
use crate::analog::feedforward::{
    feedforward_energy, feedforward_pass, feedforward_simulation, FeedforwardPass,
};
use crate::analog::{
    simulate_recorded, AnalogCircuit, EnergyModel, ReadoutBands, Scheme, SimError, SimFailure,
    SimOptions, Simulation, Tolerance, Traces,
};
use crate::config::{Circuit, Precision, RunMode, SolverKind};
use crate::design::build::{build, BuildError, Built};
use crate::dynamics::{infer, Fallback, InferenceError, InferenceOptions, Solver, Stop};
use crate::hardware::latency::StageTimes;
use crate::io::h5::H5Error;
use crate::network::{alignment, Activation, Alignment, Batch, Network, NetworkError};
use crate::numeric::Real;
use nalgebra::DMatrix;
use std::time::Instant;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The simulation was refused (its options); a divergence is [`RunError::Diverged`].
    #[error(transparent)]
    Simulation(#[from] SimError),
    /// The circuit diverged or ran to a rail: what diverged, and what was recorded before.
    #[error("{}", .0.error)]
    Diverged(Box<DivergedRun>),
    #[error("the ideal-circuit reference: {0}")]
    Reference(#[from] InferenceError),
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    H5(#[from] H5Error),
    #[error("writing {path}: {message}")]
    Write { path: String, message: String },
}

/// A run whose circuit diverged (or ran to a rail).
pub struct DivergedRun {
    /// A [`SimError::Diverged`] or [`SimError::Rail`].
    pub error: SimError,
    pub built: Built,
    /// The output points recorded before the divergence.
    pub traces: Traces,
    pub dt_seconds: f64,
    /// Status "diverged", with the error's data.
    pub report: RunReport,
}

impl std::fmt::Debug for DivergedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DivergedRun")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
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

    /// As the report holds it.
    pub fn report(&self) -> GradientComparison {
        GradientComparison {
            cos_sim: self.alignment.overall,
            norm_ratio: self.alignment.norm_ratio,
            cos_sim_per_layer: self.alignment.per_layer.clone(),
            norm_ratio_per_layer: self.norm_ratio_per_layer.clone(),
        }
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
    /// Set when Newton-Krylov left samples of the ideal equilibrium to Dop853, and why.
    pub ideal_fallback: Option<Fallback>,
}

impl GradientCheck {
    /// The three comparisons as the report holds them.
    pub fn report(&self) -> GradientsReport {
        GradientsReport {
            hardware_vs_bp_ideal_weights: self.hardware_vs_bp_ideal.report(),
            hardware_vs_bp_effective_weights: self.hardware_vs_bp_effective.report(),
            ideal_circuit_vs_bp: self.ideal_vs_bp.report(),
        }
    }
}

/// Everything one run produced.
pub struct RunResult {
    pub built: Built,
    pub sim: Simulation,
    pub energy_model: EnergyModel,
    pub gradients: GradientCheck,
    /// The half-LSB bands the readout settling was judged in.
    pub readout_bands: ReadoutBands,
    pub wall_seconds: f64,
    pub report: RunReport,
}

/// The scheme of `kind`; `step_tol` bounds an error-controlled step's local error.
fn scheme(kind: SolverKind, step_tol: f64) -> Result<Scheme, RunError> {
    match kind {
        SolverKind::Euler => Ok(Scheme::Euler),
        SolverKind::Heun => Ok(Scheme::Heun),
        SolverKind::Rk4 => Ok(Scheme::Rk4),
        SolverKind::Exponential => Ok(Scheme::Exponential(Some(Tolerance {
            rtol: step_tol,
            atol: step_tol,
        }))),
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
        scheme: scheme(d.solver, d.step_tol)?,
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
            &circuit.crossbar,
            &circuit.periphery,
            (
                d.tau_z_seconds,
                circuit.device.read_noise.temperature_kelvin,
            ),
        )),
        // The ADC's own range on every layer; a run with gain ranging sets its own.
        readout: Some(ReadoutBands::new(
            &circuit.periphery.adc,
            &vec![circuit.periphery.adc.range; w.len() - 1],
            circuit.periphery.readout_band_lsb,
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
    let mut opts = sim_options(circuit)?;
    let built = build(circuit)?;
    let ideal = ideal_equilibrium(&built)?;
    let full_scale = error_full_scales(circuit, &built.network, &built.batch, &ideal.z);
    let p = &circuit.periphery;
    opts.readout = Some(ReadoutBands::new(&p.adc, &full_scale, p.readout_band_lsb));
    let mut hw_batch = built.batch.clone();
    circuit.periphery.dac.convert_all(hw_batch.x.as_mut_slice());
    let simulated = match circuit.run.precision {
        Precision::F64 => simulate_in::<f64>(circuit, &built, &hw_batch, &opts, progress),
        Precision::F32 => simulate_in::<f32>(circuit, &built, &hw_batch, &opts, progress),
    };
    let (sim, pass) = match simulated {
        Ok(done) => done,
        Err(failure) => {
            let wall_seconds = start.elapsed().as_secs_f64();
            return Err(diverged(circuit, built, *failure, &opts, wall_seconds));
        }
    };
    let gradients = gradient_check(circuit, &built, &hw_batch, &sim, (&ideal, &full_scale))?;
    let energy_model = opts.energy.clone().expect("run options account for energy");
    let wall_seconds = start.elapsed().as_secs_f64();
    let report = RunReport::completed(
        (circuit, &built, &energy_model, &pass),
        &sim,
        (
            gradients.report(),
            ReadoutReport::of(circuit, &sim, &full_scale),
        ),
        wall_seconds,
    );
    Ok(RunResult {
        built,
        sim,
        energy_model,
        gradients,
        readout_bands: opts.readout.expect("a run sets its readout bands"),
        wall_seconds,
        report,
    })
}

/// The design's circuit in precision `T` on the converted batch: its feedforward pass, then
/// (PC) its relaxation integrated, or (feedforward mode) the pass as the run's record. The
/// circuit (its products are the run's largest buffers) is dropped before the gradients are
/// formed.
fn simulate_in<T: Real>(
    circuit: &Circuit,
    built: &Built,
    hw_batch: &Batch<f64>,
    opts: &SimOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(Simulation, FeedforwardPass), Box<SimFailure>> {
    let circ = AnalogCircuit::<T>::from_design(circuit, &built.network, &built.mapped);
    let convert = |m: &DMatrix<f64>| -> Vec<T> { m.iter().map(|&v| T::of_f64(v)).collect() };
    let (x, y) = (convert(&hw_batch.x), convert(&hw_batch.y));
    let b = hw_batch.size();
    let model = opts
        .energy
        .as_ref()
        .expect("run options account for energy");
    let pass = feedforward_pass(&circ, model, &x, &y, b);
    let sim = match circuit.run.mode {
        RunMode::Pc => simulate_recorded(&circ, &x, &y, b, opts, progress)?,
        RunMode::Feedforward => {
            let t = StageTimes::of(&circuit.periphery);
            let energy = feedforward_energy(model, &pass, &t);
            let layers = circuit.architecture.widths.len() - 1;
            let latency = super::ppa::feedforward_phases(&t, layers).total();
            feedforward_simulation(
                &pass,
                (opts.dt_seconds, opts.trace_samples),
                latency,
                energy,
            )
        }
    };
    Ok((sim, pass))
}

/// The error of a failed simulation: a divergence with its report and traces, or the refusal.
fn diverged(
    circuit: &Circuit,
    built: Built,
    failure: SimFailure,
    opts: &SimOptions,
    wall_seconds: f64,
) -> RunError {
    match RunReport::diverged(circuit, &built, &failure.error, wall_seconds) {
        Some(report) => RunError::Diverged(Box::new(DivergedRun {
            error: failure.error,
            built,
            traces: failure.traces,
            dt_seconds: opts.dt_seconds,
            report,
        })),
        None => RunError::Simulation(failure.error),
    }
}

/// The ideal network's equilibrium on the batch: the theory value of the gradient check, and
/// the signal range the error ADCs are ranged to.
struct IdealEquilibrium {
    /// Value nodes, the network's layout.
    z: Vec<f64>,
    /// Set when Newton-Krylov left samples to Dop853, and why.
    fallback: Option<Fallback>,
}

/// The equilibrium by Newton-Krylov to max|dz/dt| < 1e-10, Dop853 at the tolerances it used to
/// run alone where Newton fails (docs/design.md §8), as `check --gradient`.
fn ideal_equilibrium(built: &Built) -> Result<IdealEquilibrium, RunError> {
    let net = &built.network;
    let solver = if net.architecture().activation == Activation::Linear {
        Solver::ClosedForm
    } else {
        Solver::Newton {
            max_iterations: crate::dynamics::NEWTON_MAX_ITERATIONS,
            rtol: 1e-11,
            atol: 1e-13,
        }
    };
    let opts = InferenceOptions::new(solver, Stop::steady(1e-10, 1_000_000));
    let ideal = infer(net, &built.batch, &opts)?;
    Ok(IdealEquilibrium {
        fallback: ideal.newton.and_then(|n| n.fallback),
        z: ideal.z,
    })
}

/// The circuit's PC update from its settled state, read through the ADCs (the errors of layer l
/// at the full scale `full_scale[l-1]`), against BP and against the ideal circuit at its
/// equilibrium `ideal`.
fn gradient_check(
    circuit: &Circuit,
    built: &Built,
    hw_batch: &crate::network::Batch<f64>,
    sim: &Simulation,
    (ideal, full_scale): (&IdealEquilibrium, &[f64]),
) -> Result<GradientCheck, RunError> {
    let net = &built.network;
    let arch = net.architecture();
    let w = &arch.widths;
    let l_out = net.n_layers();
    let b = hw_batch.size();
    let adc = &circuit.periphery.adc;
    let error_adcs = error_converters(adc, full_scale);
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
        error_adcs[l - 1].convert_all(&mut e);
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
        ideal_fallback: ideal.fallback.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::report::Outcome;

    fn tiny() -> Circuit {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("circuits/tiny.toml");
        crate::config::load(&path, &[] as &[&str], &Default::default()).unwrap()
    }

    /// The circuit integrated in f32 reaches the f64 run's equilibrium to f32's rounding: an
    /// error committed in one step decays over tau_z, so the rounding of the tau_z / dt steps
    /// of one relaxation time bounds the difference (relative to the largest value node).
    #[test]
    fn an_f32_run_reaches_the_f64_equilibrium_to_its_rounding() {
        let c64 = tiny();
        let c32 = crate::config::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("circuits/tiny.toml"),
            &["run.precision=f32"],
            &Default::default(),
        )
        .unwrap();
        assert_eq!(c32.run.precision, Precision::F32);
        let (r64, r32) = (
            run(&c64, &|_, _| {}).unwrap(),
            run(&c32, &|_, _| {}).unwrap(),
        );
        let scale = r64.sim.final_z.iter().fold(0.0f64, |m, z| m.max(z.abs()));
        let steps_per_tau = c64.dynamics.tau_z_seconds / c64.dynamics.dt_seconds;
        let bound = 2.0 * steps_per_tau * f32::EPSILON as f64 * scale;
        let worst = r64
            .sim
            .final_z
            .iter()
            .zip(&r32.sim.final_z)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst > 0.0, "the f32 run must really run in f32");
        assert!(worst <= bound, "max |z32 - z64| {worst:e} > {bound:e}");
    }

    /// report.json reads back as the report it was written from; a field missing from it is an
    /// error that names the field (not a NaN); a number written as null reads back as NaN.
    #[test]
    fn the_report_reads_back_and_names_a_missing_field() {
        let res = run(&tiny(), &|_, _| {}).unwrap();
        let text = res.report.to_json_pretty();
        assert_eq!(RunReport::from_json(&text).unwrap(), res.report);
        assert_eq!(res.report.status(), "ok");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["status"], "ok");
        for (section, key) in [
            ("settling", "median_seconds"),
            ("energy", "per_sample_joules"),
            ("dynamics", "steps"),
            ("", "status"),
            ("", "mapping"),
        ] {
            let mut v = value.clone();
            let holder = if section.is_empty() {
                &mut v
            } else {
                &mut v[section]
            };
            holder.as_object_mut().unwrap().remove(key);
            let e = RunReport::from_json(&v.to_string())
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{section}.{key}: {e}");
        }
        let mut v = value.clone();
        v["energy"]["by_component_joules"]
            .as_object_mut()
            .unwrap()
            .remove("tia");
        let e = RunReport::from_json(&v.to_string())
            .unwrap_err()
            .to_string();
        assert!(e.contains("tia"), "{e}");
        let mut v = value;
        v["settling"]["residual"] = serde_json::Value::Null;
        let back = RunReport::from_json(&v.to_string()).unwrap();
        let Outcome::Ok(m) = back.outcome else {
            panic!("not ok")
        };
        assert!(m.settling.residual.is_nan());
    }
}
