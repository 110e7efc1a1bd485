//! One point of a study (a width, a depth and a seed): PC and BP trained side by side from
//! the same weights, measured at every step; and the study run over every point.

use super::*;

/// What one step of one point measured.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    pub step: usize,
    /// PC against BP on the PC trajectory (the headline `cos_sim`, per layer, norm ratio).
    pub pc_traj: Alignment,
    /// PC against BP on the BP trajectory.
    pub bp_traj: Alignment,
    /// PC's gradient on the PC trajectory against BP's on the BP trajectory.
    pub cos_sim_cross: f64,
    /// Device runs: the hardware's PC gradient against BP through the hardware's own forward
    /// weights, on the PC trajectory.
    pub cos_sim_hw_bp: Option<f64>,
    /// tr(S)/O - 1 and |S|_2 - 1 on the PC trajectory (linear networks only; with a device, S
    /// of the hardware network).
    pub s_minus_1: Option<f64>,
    pub s_norm_minus_1: Option<f64>,
    /// BP loss on each trajectory.
    pub loss_pc_traj: f64,
    pub loss_bp_traj: f64,
    /// max|dE/dz| at the PC trajectory's equilibrium (how exact it is): every step for the
    /// ODE route, the first and last steps for the closed form.
    pub residual: Option<f64>,
    /// Set when Newton-Krylov left samples of this step's equilibria (either trajectory) to
    /// Dop853: what it said.
    pub fallback: Option<String>,
}

/// Everything measured at one point.
#[derive(Clone, Debug, PartialEq)]
pub struct PointResult {
    pub point: Point,
    /// The expected s - 1 at initialisation ([`theory_s_minus_1`]), linear networks only.
    pub theory: Option<f64>,
    /// Steps 0..=T.
    pub steps: Vec<StepRecord>,
}

/// An equilibrium: the activities, S (linear networks) and the residual when measured.
pub(super) struct Equilibrium {
    z: Vec<f64>,
    rescaling: Option<DMatrix<f64>>,
    residual: Option<f64>,
    /// Newton-Krylov's fallback to Dop853, if it fell back.
    fallback: Option<String>,
}

/// PC's gradient at one set of weights, with what the equilibrium showed.
pub(super) struct PcGradient {
    grads: Vec<DMatrix<f64>>,
    rescaling: Option<DMatrix<f64>>,
    residual: Option<f64>,
    /// Against BP on the hardware's own weights (device runs, when asked for).
    vs_hw_bp: Option<f64>,
    fallback: Option<String>,
}

/// Runs one point from initialisation to step T.
pub(super) struct PointRun<'a> {
    plan: &'a StudyPlan,
    point: Point,
    arch: Architecture,
    seed: u64,
}

impl PointRun<'_> {
    fn net_error(&self, source: NetworkError) -> StudyError {
        StudyError::Network {
            width: self.point.width,
            depth: self.point.depth,
            seed: self.point.seed,
            source,
        }
    }

    fn diverged(&self, step: usize, trajectory: &'static str, what: &'static str) -> StudyError {
        StudyError::Diverged {
            width: self.point.width,
            depth: self.point.depth,
            seed: self.point.seed,
            step,
            trajectory,
            what,
        }
    }

    /// The exact equilibrium of `net` on `batch`, S for linear networks, and the residual
    /// max|dE/dz| (measured once more when `check`, known already from the ODE route).
    fn equilibrium(
        &self,
        net: &Network<f64>,
        batch: &Batch<f64>,
        step: usize,
        check: bool,
    ) -> Result<Equilibrium, StudyError> {
        let Point { width, depth, seed } = self.point;
        if net.activation().is_linear() {
            let eq = closed_form::equilibrium_output_space(net, batch).map_err(|source| {
                StudyError::ClosedForm {
                    width,
                    depth,
                    seed,
                    step,
                    source,
                }
            })?;
            let residual = check.then(|| net.max_activity_gradient(batch, &eq.z));
            Ok(Equilibrium {
                z: eq.z,
                rescaling: Some(eq.rescaling),
                residual,
                fallback: None,
            })
        } else {
            let o = &self.plan.ode;
            let opts = InferenceOptions::new(
                Solver::Newton {
                    max_iterations: o.newton_iterations,
                    rtol: o.rtol,
                    atol: o.atol,
                },
                Stop::steady(o.steady_tol, o.max_steps),
            );
            let inf = infer(net, batch, &opts).map_err(|source| StudyError::Inference {
                width,
                depth,
                seed,
                step,
                source,
            })?;
            Ok(Equilibrium {
                z: inf.z,
                rescaling: None,
                residual: Some(inf.max_dzdt),
                fallback: inf.newton.and_then(|n| n.fallback).map(|f| f.to_string()),
            })
        }
    }

    /// PC's gradient at `weights`, on the ideal network or on the device.
    fn pc_gradient(
        &self,
        net: &Network<f64>,
        batch: &Batch<f64>,
        step: usize,
        trajectory: u64,
        check: bool,
    ) -> Result<PcGradient, StudyError> {
        let Some(dev) = &self.plan.device else {
            let eq = self.equilibrium(net, batch, step, check)?;
            return Ok(PcGradient {
                grads: net.pc_weight_gradients(batch, &eq.z),
                rescaling: eq.rescaling,
                residual: eq.residual,
                vs_hw_bp: None,
                fallback: eq.fallback,
            });
        };
        let map_seed = stream_seed(
            stream_seed(stream_seed(self.seed, DEVICE_STREAM), trajectory),
            step as u64,
        );
        let mapped = map_compensated(
            net,
            &dev.device,
            &dev.crossbar,
            &dev.compensation,
            map_seed,
            &wire_model(&dev.crossbar),
        )
        .map_err(|source| StudyError::Mapping {
            width: self.point.width,
            depth: self.point.depth,
            seed: self.point.seed,
            step,
            source,
        })?;
        let (hw, hw_batch) =
            hardware_network(net, &mapped, batch, &dev.dac).map_err(|e| self.net_error(e))?;
        let eq = self.equilibrium(&hw, &hw_batch, step, check)?;
        let grads = hardware_pc_update(&hw, &hw_batch, &eq.z, &dev.adc);
        // BP runs the hardware's forward weights only; only the PC trajectory reports it.
        let vs_hw_bp =
            (trajectory == 0).then(|| alignment(&grads, &hw.bp_gradients(&hw_batch).1).overall);
        Ok(PcGradient {
            grads,
            rescaling: eq.rescaling,
            residual: eq.residual,
            vs_hw_bp,
            fallback: eq.fallback,
        })
    }

    fn run(&self) -> Result<PointResult, StudyError> {
        let plan = self.plan;
        let Point { width, depth, .. } = self.point;
        let batch = gaussian_batch(
            plan.input,
            plan.output,
            plan.batch,
            self.point.data_seed(plan.base_seed),
        );
        let init = Network::<f64>::init(self.arch.clone(), stream_seed(self.seed, WEIGHT_STREAM))
            .map_err(|e| self.net_error(e))?;
        let lr = adam_learning_rate(plan.parameterisation, plan.skips, plan.lr, width, depth);
        let mut w_pc = init.into_weights();
        let mut w_bp = w_pc.clone();
        let mut adam_pc = Adam::new(lr, &w_pc);
        let mut adam_bp = Adam::new(lr, &w_bp);
        let mut records = Vec::new();
        for step in 0..=plan.steps {
            let net_pc = self.network(w_pc, step, "PC")?;
            let ends = step == 0 || step == plan.steps;
            let pc = self.pc_gradient(&net_pc, &batch, step, 0, ends)?;
            let (loss_pc, bp_at_pc) = net_pc.bp_gradients(&batch);
            let pc_traj = alignment(&pc.grads, &bp_at_pc);
            // At step 0 both trajectories sit at the same weights.
            let mut fallback = pc.fallback.clone();
            let (bp_traj, loss_bp, bp_grads) = if step == 0 {
                (pc_traj.clone(), loss_pc, None)
            } else {
                let net_bp = self.network(w_bp, step, "BP")?;
                let (loss_bp, bp) = net_bp.bp_gradients(&batch);
                let pc_at_bp = self.pc_gradient(&net_bp, &batch, step, 1, false)?;
                let a = alignment(&pc_at_bp.grads, &bp);
                fallback = fallback.or(pc_at_bp.fallback);
                w_bp = net_bp.into_weights();
                (a, loss_bp, Some(bp))
            };
            let bp_grads = bp_grads.unwrap_or_else(|| bp_at_pc.clone());
            let cross = alignment(&pc.grads, &bp_grads).overall;
            if !(loss_pc.is_finite() && pc_traj.overall.is_finite()) {
                return Err(self.diverged(step, "PC", "the gradient"));
            }
            if !(loss_bp.is_finite() && bp_traj.overall.is_finite()) {
                return Err(self.diverged(step, "BP", "the gradient"));
            }
            let o = plan.output as f64;
            let lam_inv = 1.0;
            records.push(StepRecord {
                step,
                pc_traj,
                bp_traj,
                cos_sim_cross: cross,
                cos_sim_hw_bp: pc.vs_hw_bp,
                s_minus_1: pc.rescaling.as_ref().map(|s| s.trace() / o - lam_inv),
                s_norm_minus_1: pc.rescaling.as_ref().map(|s| spectral_norm(s) - lam_inv),
                loss_pc_traj: loss_pc,
                loss_bp_traj: loss_bp,
                residual: pc.residual,
                fallback,
            });
            w_pc = net_pc.into_weights();
            if step < plan.steps {
                adam_pc.step(&mut w_pc, &pc.grads);
                adam_bp.step(&mut w_bp, &bp_grads);
            }
        }
        Ok(PointResult {
            point: self.point,
            theory: plan.has_theory().then(|| {
                theory_s_minus_1(plan.parameterisation, plan.skips, width, depth, plan.gamma0)
            }),
            steps: records,
        })
    }

    /// The network at `weights`; a non-finite weight means the trajectory diverged.
    fn network(
        &self,
        weights: Vec<DMatrix<f64>>,
        step: usize,
        trajectory: &'static str,
    ) -> Result<Network<f64>, StudyError> {
        Network::new(self.arch.clone(), weights).map_err(|e| match e {
            NetworkError::NonFiniteWeight { .. } => self.diverged(step, trajectory, "a weight"),
            e => self.net_error(e),
        })
    }
}

/// Largest singular value of a small matrix.
pub(super) fn spectral_norm(s: &DMatrix<f64>) -> f64 {
    s.clone()
        .svd(false, false)
        .singular_values
        .iter()
        .fold(0.0, |m: f64, &v| m.max(v))
}

/// Runs one point of a plan (the unit the study parallelises over).
pub fn run_point(plan: &StudyPlan, point: Point) -> Result<PointResult, StudyError> {
    PointRun {
        plan,
        point,
        arch: plan.architecture(point.width, point.depth),
        seed: point.seed_of(plan.base_seed),
    }
    .run()
}

/// Runs the study: validates the plan, then every point on the current rayon pool, largest
/// first (so that the slowest points do not start last); `on_point` is told of each finished
/// point (a progress bar). Stops at the first failure and returns it.
pub fn run(
    plan: &StudyPlan,
    on_point: &(dyn Fn(&PointResult) + Sync),
) -> Result<StudyResults, StudyError> {
    plan.validate()?;
    let points = plan.points();
    let mut order: Vec<usize> = (0..points.len()).collect();
    let cost = |p: &Point| (p.depth as f64) * (p.width as f64).powi(2);
    order.sort_by(|&a, &b| cost(&points[b]).total_cmp(&cost(&points[a])));
    let slots: Vec<Mutex<Option<Result<PointResult, StudyError>>>> =
        points.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = rayon::current_num_threads().min(points.len()).max(1);
    // A shared queue rather than rayon's halving splits: each worker takes the next largest
    // point when it is free. Which worker runs a point never changes what the point computes.
    (0..workers).into_par_iter().for_each(|_| loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= order.len() || failed.load(Ordering::Relaxed) {
            break;
        }
        let i = order[k];
        let r = run_point(plan, points[i]);
        match &r {
            Ok(p) => on_point(p),
            Err(_) => failed.store(true, Ordering::Relaxed),
        }
        if let Ok(mut slot) = slots[i].lock() {
            *slot = Some(r);
        }
    });
    let mut out = Vec::with_capacity(points.len());
    let mut first_error = None;
    for slot in slots {
        match slot.into_inner().ok().flatten() {
            Some(Ok(p)) => out.push(p),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {}
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(StudyResults {
        plan: plan.clone(),
        points: out,
    })
}
