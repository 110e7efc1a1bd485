//! `apcsim spice-check`: export a design's netlist, run ngspice on it, simulate the same window
//! with apcsim, and measure how they differ — trajectories at ngspice's own output times, the
//! end state against apcsim's equilibrium, settling times from both, and the wall time of each.
//!
//! The analog reference is resampled onto ngspice's times by cubic interpolation of its
//! recorded steps; the gradient flow is evaluated at them. ngspice's own tolerances
//! ([`super::netlist::Tolerances`]) keep its error near 1e-5 of the signal range, so a
//! trajectory difference well above that is apcsim's (e.g. the first-order error of an Euler
//! step), and the equilibrium comparison is limited by the physics the model leaves out
//! (finite gain through wires, at ~1e-6), not by either solver.

use super::design::SpiceDesign;
use super::netlist::{write_netlist, NetlistOptions};
use super::reference::Capability;
use super::trajectory::{compare, settling_time, Series, SeriesComparison, Trajectory};
use super::{ngspice, reference, SpiceError};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The most crossbar resistors `spice-check` simulates unless told otherwise (`--max-devices`):
/// every device, plus its two wire segments when IR drop is on. ngspice's time grows with them
/// and with the time points, and the wire mesh makes its sparse factorisation fill in. Measured
/// on one core of a shared 2-core machine, 2000 points over 50 tau_z: 1600 devices without
/// wires ~1 s, 1600 devices with wires (4800 resistors) ~20 s, 9472 devices without wires ~17 s,
/// 9472 with wires (28416 resistors) more than 12 minutes.
pub const DEFAULT_MAX_DEVICES: usize = 10_000;

/// What apcsim's side of the comparison is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceKind {
    /// The analog circuit of `apcsim run` (src/analog), with the design's scheme and step:
    /// every term of the circuit model (tau_e, offsets, finite gain).
    Analog,
    /// The gradient flow of the effective network by Dop853 (exact for tau_e = 0 without
    /// offsets): an independent, tolerance-controlled reference for the netlist itself.
    Flow,
}

/// What `spice-check` runs.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    pub netlist: NetlistOptions,
    /// Refuse designs with more crossbar resistors (devices and wire segments) than this.
    pub max_devices: usize,
    /// Run ngspice and apcsim this many times each; wall times are reported as medians.
    pub repeat: usize,
    /// Keep the netlist and ngspice's files here (a fresh temporary directory otherwise,
    /// removed afterwards).
    pub work_dir: Option<PathBuf>,
    /// The relative tolerance of the gradient-flow reference.
    pub rtol: f64,
    /// What ngspice is compared with.
    pub reference: ReferenceKind,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            netlist: NetlistOptions::default(),
            max_devices: DEFAULT_MAX_DEVICES,
            repeat: 1,
            work_dir: None,
            rtol: reference::RTOL,
            reference: ReferenceKind::Analog,
        }
    }
}

/// Everything `spice-check` measures.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub design: String,
    pub sample: usize,
    /// Crossbar devices in the netlist, and the resistors written for them (zero-conductance
    /// devices are open circuits and get none).
    pub devices: usize,
    pub device_resistors: usize,
    pub wire_resistors: usize,
    pub window_seconds: f64,
    pub tau_z_seconds: f64,
    /// What apcsim's side is: the gradient flow, or (later) the analog integrator.
    pub reference: String,
    /// Why the trajectories were not compared, when they were not.
    pub trajectory_skipped: Option<String>,
    /// The smallest finite-gain factor `c = A / (A + N)` of the TIAs (1 when ideal).
    pub min_gain_factor: f64,
    /// With IR drop on: how far apcsim's equilibrium moves when the wires are made ideal
    /// (largest relative change over the series) — the size of the effect the equilibrium
    /// comparison checks.
    pub ir_drop_shift: Option<f64>,
    /// Notes on what the netlist leaves out that the run reaches (rails).
    pub notes: Vec<String>,
    /// ngspice's output times.
    pub time_points: usize,
    /// Per series, apcsim's trajectory against ngspice's at ngspice's output times.
    pub trajectory: Vec<SeriesComparison>,
    /// Per series, ngspice's end state against apcsim's equilibrium (`final_*` fields).
    pub equilibrium: Vec<SeriesComparison>,
    /// What the equilibrium is: the gradient flow's steady state (exact for any tau_e without
    /// offsets), or the analog run's end state.
    pub equilibrium_reference: String,
    pub settle_tol: f64,
    pub settling_ngspice_seconds: Option<f64>,
    pub settling_apcsim_seconds: Option<f64>,
    pub wall_ngspice_seconds: Vec<f64>,
    pub wall_apcsim_seconds: Vec<f64>,
    /// Problem lines of ngspice's output (empty when it ran cleanly).
    pub diagnostics: Vec<String>,
    pub netlist_file: Option<PathBuf>,
}

/// The median of a non-empty list (the mean of the middle two for even lengths).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

impl CheckReport {
    /// The largest relative trajectory error over all series (of the signal range).
    pub fn max_trajectory_rel(&self) -> f64 {
        self.trajectory
            .iter()
            .map(|c| c.max_rel_range)
            .fold(0.0, f64::max)
    }

    /// The largest relative equilibrium error over all series.
    pub fn max_equilibrium_rel(&self) -> f64 {
        self.equilibrium
            .iter()
            .map(|c| c.final_rel)
            .fold(0.0, f64::max)
    }

    /// |t_ngspice - t_apcsim| / t_apcsim of the settling times.
    pub fn settling_rel(&self) -> Option<f64> {
        match (self.settling_ngspice_seconds, self.settling_apcsim_seconds) {
            (Some(a), Some(b)) if b > 0.0 => Some((a - b).abs() / b),
            _ => None,
        }
    }

    /// Median ngspice wall time over median apcsim wall time.
    pub fn speedup(&self) -> f64 {
        median(&self.wall_ngspice_seconds) / median(&self.wall_apcsim_seconds)
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: sample {}, {} crossbar devices ({} resistors, {} wire segments), window {:e} s \
             ({:.1} tau_z), {} ngspice time points",
            self.design,
            self.sample,
            self.devices,
            self.device_resistors,
            self.wire_resistors,
            self.window_seconds,
            self.window_seconds / self.tau_z_seconds,
            self.time_points
        );
        let _ = writeln!(s, "apcsim reference: {}", self.reference);
        let _ = writeln!(s, "equilibrium: {}", self.equilibrium_reference);
        if let Some(why) = &self.trajectory_skipped {
            let _ = writeln!(s, "trajectories not compared: {why}");
        }
        let _ = writeln!(
            s,
            "TIA finite-gain factor c >= {:.9}{}",
            self.min_gain_factor,
            self.ir_drop_shift.map_or(String::new(), |x| format!(
                "; IR drop moves the equilibrium by {x:.3e} (relative)"
            ))
        );
        let _ = writeln!(
            s,
            "{:<6} {:>5} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
            "series",
            "nodes",
            "range",
            "traj abs",
            "traj rel",
            "final rel",
            "equil abs",
            "equil rel"
        );
        for e in &self.equilibrium {
            let t = self
                .trajectory
                .iter()
                .find(|t| t.kind == e.kind && t.layer == e.layer);
            let cell = |f: fn(&SeriesComparison) -> f64, w: usize| {
                t.map_or(format!("{:>w$}", "-"), |t| format!("{:>w$.3e}", f(t)))
            };
            let _ = writeln!(
                s,
                "{:<6} {:>5} {} {} {} {} {:>12.3e} {:>12.3e}",
                format!("{}{}", e.kind.symbol(), e.layer),
                e.nodes,
                t.map_or(format!("{:>12}", "-"), |t| format!("{:>12.4e}", t.range)),
                cell(|t| t.max_abs, 12),
                cell(|t| t.max_rel_range, 12),
                cell(|t| t.final_rel, 12),
                e.final_abs,
                e.final_rel
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let show = |t: Option<f64>| t.map_or("n/a".to_string(), |t| format!("{t:.6e} s"));
        let _ = writeln!(
            s,
            "settling (tol {}): ngspice {}, apcsim {}, relative difference {}",
            self.settle_tol,
            show(self.settling_ngspice_seconds),
            show(self.settling_apcsim_seconds),
            self.settling_rel()
                .map_or("n/a".to_string(), |r| format!("{r:.3e}"))
        );
        if self.wall_apcsim_seconds.is_empty() {
            let _ = writeln!(
                s,
                "wall time (median of {}): ngspice {:.4e} s",
                self.wall_ngspice_seconds.len(),
                median(&self.wall_ngspice_seconds)
            );
        } else {
            let _ = writeln!(
                s,
                "wall time (median of {}): ngspice {:.4e} s, apcsim {:.4e} s, ratio {:.1}",
                self.wall_ngspice_seconds.len(),
                median(&self.wall_ngspice_seconds),
                median(&self.wall_apcsim_seconds),
                self.speedup()
            );
        }
        if self.diagnostics.is_empty() {
            let _ = writeln!(s, "ngspice: no warnings");
        } else {
            let _ = writeln!(s, "ngspice reported:");
            for d in &self.diagnostics {
                let _ = writeln!(s, "  {d}");
            }
        }
        if let Some(p) = &self.netlist_file {
            let _ = writeln!(s, "netlist kept in {}", p.display());
        }
        s
    }
}

/// A working directory that removes itself unless it was given.
struct WorkDir {
    path: PathBuf,
    remove: bool,
}

impl WorkDir {
    fn new(given: Option<&Path>) -> Result<Self, SpiceError> {
        match given {
            Some(p) => {
                std::fs::create_dir_all(p)?;
                Ok(WorkDir {
                    path: p.to_path_buf(),
                    remove: false,
                })
            }
            None => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos());
                let path = std::env::temp_dir()
                    .join(format!("apcsim-spice-{}-{nanos}", std::process::id()));
                std::fs::create_dir_all(&path)?;
                Ok(WorkDir { path, remove: true })
            }
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The last row of every series.
fn end_state(t: &Trajectory) -> Vec<Series> {
    t.series
        .iter()
        .map(|s| Series {
            kind: s.kind,
            layer: s.layer,
            values: s.values.rows(s.values.nrows() - 1, 1).clone_owned(),
        })
        .collect()
}

/// Refuses a design whose crossbar resistors (devices and wire segments) exceed the limit.
pub fn check_size(design: &SpiceDesign, max_devices: usize) -> Result<(), SpiceError> {
    let (n, w) = (design.devices(), design.wire_segments());
    if n + w > max_devices {
        // The caller names the design's file.
        return Err(SpiceError::TooLarge(format!(
            "{n} crossbar devices + {w} wire segments exceed the limit of {max_devices} \
             resistors for a SPICE run (--max-devices raises it; ngspice's time grows with \
             them, steeply with the wire mesh, and with the time points)"
        )));
    }
    Ok(())
}

/// Runs the check on `design`. `ideal_wires`, the same design with ideal wires, measures the
/// size of the IR-drop effect when the design has wire resistance.
pub fn spice_check(
    design: &SpiceDesign,
    ideal_wires: Option<&SpiceDesign>,
    opts: &CheckOptions,
) -> Result<CheckReport, SpiceError> {
    check_size(design, opts.max_devices)?;
    // What can be compared: the analog circuit follows every term; the flow only tau_e = 0
    // without offsets (and the equilibrium of any tau_e without offsets).
    let flow = reference::capability(design);
    let trajectory_skipped = match (opts.reference, &flow) {
        (ReferenceKind::Analog, _) => {
            if let Err(why) = &design.sim {
                return Err(SpiceError::Unsupported(why.clone()));
            }
            None
        }
        (ReferenceKind::Flow, Capability::Trajectory) => None,
        (ReferenceKind::Flow, Capability::EquilibriumOnly(why)) => Some(why.clone()),
        (ReferenceKind::Flow, Capability::Nothing(why)) => {
            return Err(SpiceError::Unsupported(why.clone()))
        }
    };
    let exe = ngspice::find_ngspice().ok_or(SpiceError::NoNgspice)?;
    let dir = WorkDir::new(opts.work_dir.as_deref())?;
    let netlist = write_netlist(design, &opts.netlist);
    let file = "apcsim.cir";
    std::fs::write(dir.path.join(file), &netlist.text)?;
    let repeat = opts.repeat.max(1);
    let mut wall_ngspice = Vec::with_capacity(repeat);
    let mut run = None;
    for _ in 0..repeat {
        for d in &netlist.data_files {
            let _ = std::fs::remove_file(dir.path.join(&d.file));
        }
        let r = ngspice::run(&exe, &dir.path, file)?;
        wall_ngspice.push(r.wall_seconds);
        run = Some(r);
    }
    let run = run.ok_or_else(|| SpiceError::Ngspice("ngspice did not run".into()))?;
    let spice = ngspice::read_trajectory(&netlist, &dir.path, design.v_read_volts)?;
    let last = *spice.times_seconds.last().unwrap_or(&0.0);
    if (last - design.window_seconds).abs() > 1e-9 * design.window_seconds {
        return Err(SpiceError::Ngspice(format!(
            "the transient stopped at {last:e} s, before the window's end {:e} s; ngspice \
             reported: {}",
            design.window_seconds,
            run.diagnostics.join(" | ")
        )));
    }

    let mut wall_apcsim = Vec::with_capacity(repeat);
    let mut trajectory = Vec::new();
    let mut settling_apcsim = None;
    let mut apcsim_end = None;
    if trajectory_skipped.is_none() {
        let mut apcsim = None;
        for _ in 0..repeat {
            let start = Instant::now();
            let t = match opts.reference {
                ReferenceKind::Flow => {
                    reference::gradient_flow(design, &spice.times_seconds, opts.rtol)?
                }
                ReferenceKind::Analog => {
                    reference::analog(design)?.resample_cubic(&spice.times_seconds)?
                }
            };
            wall_apcsim.push(start.elapsed().as_secs_f64());
            apcsim = Some(t);
        }
        if let Some(apcsim) = apcsim {
            trajectory = compare(&apcsim, &spice)?;
            settling_apcsim = settling_time(&apcsim, design.settle_tol);
            apcsim_end = Some(end_state(&apcsim));
        }
    }
    let reference_name = match opts.reference {
        ReferenceKind::Flow => format!(
            "gradient flow of the effective network (Dop853, rtol {:e})",
            opts.rtol
        ),
        ReferenceKind::Analog => match &design.sim {
            Ok(s) => format!(
                "analog circuit (src/analog, as apcsim run: {:?}, dt {:e} s, tau_e {:e} s), \
                 noise off, cubic interpolation onto ngspice's times",
                s.scheme, s.dt_seconds, design.tau_e_seconds
            ),
            Err(_) => "analog circuit".into(),
        },
    };

    // ngspice's end state against the equilibrium: the gradient flow's steady state where it
    // is the circuit's (no offsets), else the analog run's end state.
    let at_end = |series: Vec<Series>| Trajectory {
        times_seconds: vec![last],
        series,
    };
    let (eq, equilibrium_reference) = match (&flow, apcsim_end) {
        (Capability::Nothing(_), Some(end)) => (
            end,
            "the analog run's end state (offsets move the equilibrium off the gradient flow's)"
                .to_string(),
        ),
        (Capability::Nothing(why), None) => return Err(SpiceError::Unsupported(why.clone())),
        _ => (
            reference::equilibrium(design)?,
            "the gradient flow's steady state (Dop853 to max|dz/dt| < 1e-12)".to_string(),
        ),
    };
    let equilibrium = compare(&at_end(eq), &at_end(end_state(&spice)))?;
    // The size of the IR-drop effect: the gradient flow's equilibrium with and without wire
    // resistance (without offsets, where that equilibrium is the circuit's).
    let ir_drop_shift = match (ideal_wires, &flow) {
        (Some(ideal), Capability::Trajectory | Capability::EquilibriumOnly(_))
            if design.wire_resistance_ohms > 0.0 =>
        {
            let with = reference::equilibrium(design)?;
            let shifted = compare(&at_end(with), &at_end(reference::equilibrium(ideal)?))?;
            Some(shifted.iter().map(|c| c.final_rel).fold(0.0, f64::max))
        }
        _ => None,
    };
    let mut notes = Vec::new();
    if let Some(rail) = design.rail_volts {
        let peak = spice
            .series
            .iter()
            .map(|s| s.values.amax())
            .fold(0.0, f64::max)
            * design.v_read_volts;
        if peak >= rail {
            notes.push(format!(
                "node voltages reach {peak:e} V, beyond the rails (+-{rail:e} V) that the \
                 netlist does not model: apcsim's run clips there"
            ));
        }
    }
    let min_gain_factor = design
        .layers
        .iter()
        .flat_map(|l| l.gain_forward.iter().chain(&l.gain_backward))
        .copied()
        .fold(1.0, f64::min);

    Ok(CheckReport {
        design: design.name.clone(),
        sample: design.sample,
        devices: design.devices(),
        device_resistors: netlist.device_resistors,
        wire_resistors: netlist.wire_resistors,
        window_seconds: design.window_seconds,
        tau_z_seconds: design.tau_z_seconds,
        reference: reference_name,
        equilibrium_reference,
        trajectory_skipped,
        min_gain_factor,
        ir_drop_shift,
        notes,
        time_points: spice.times_seconds.len(),
        trajectory,
        equilibrium,
        settle_tol: design.settle_tol,
        settling_ngspice_seconds: settling_time(&spice, design.settle_tol),
        settling_apcsim_seconds: settling_apcsim,
        wall_ngspice_seconds: wall_ngspice,
        wall_apcsim_seconds: wall_apcsim,
        diagnostics: run.diagnostics,
        netlist_file: (!dir.remove).then(|| dir.path.join(file)),
    })
}
