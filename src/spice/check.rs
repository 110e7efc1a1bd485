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
use super::netlist::{write_netlist, Netlist, NetlistOptions};
use super::reference::Capability;
use super::trajectory::{
    compare, end_drive, settling_time, NodeKind, Series, SeriesComparison, Trajectory, RANGE_FLOOR,
};
use super::{ngspice, reference, SpiceError};
use crate::numeric::stats::median;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The most crossbar resistors `spice-check` simulates unless told otherwise (`--max-devices`):
/// every device, plus its two wire segments when IR drop is on. ngspice's time grows with them
/// and with the time points, and the wire mesh makes its sparse factorisation fill in. Measured
/// on one core of a shared 2-core machine, 2000 points over 50 tau_z: 1600 devices without
/// wires ~1 s, 1600 devices with wires (4800 resistors) ~20 s, 9472 devices without wires ~17 s,
/// 9472 with wires (28416 resistors) more than 12 minutes.
pub const DEFAULT_MAX_DEVICES: usize = 10_000;

/// How long one ngspice run may take unless told otherwise (`--timeout`, seconds): twenty
/// times the slowest design within the default device limit (1600 devices with wires, 2000
/// points, ~30 s on one core of the shared 2-core machine).
pub const DEFAULT_TIMEOUT_SECONDS: f64 = 600.0;

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
    /// Run ngspice and apcsim this many times each (at least once); wall times are reported as
    /// medians.
    pub repeat: usize,
    /// Keep the netlist and ngspice's files in this directory (created if missing; a fresh
    /// temporary directory otherwise, removed however the check returns).
    pub work_dir: Option<PathBuf>,
    /// Kill an ngspice run that takes longer than this (`None`: no limit).
    pub timeout: Option<Duration>,
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
            timeout: Some(Duration::from_secs_f64(DEFAULT_TIMEOUT_SECONDS)),
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
    /// What apcsim's side is: the analog circuit or the gradient flow.
    pub reference: String,
    /// Why the trajectories were not compared, when they were not.
    pub trajectory_skipped: Option<String>,
    /// The smallest finite-gain factor `c = A / (A + N)` of the TIAs (1 when ideal).
    pub min_gain_factor: f64,
    /// With IR drop on: how far apcsim's equilibrium moves when the wires are made ideal
    /// (largest relative change over the series) — the size of the effect the equilibrium
    /// comparison checks.
    pub ir_drop_shift: Option<f64>,
    /// Notes on what the comparison should be read with: nodes beyond the rails the netlist
    /// leaves out, a window that ends before the circuit settles, layers measured against the
    /// floor of their scale, a coarse reference.
    pub notes: Vec<String>,
    /// Per series of ngspice's nodes (value, error and TIA outputs) that goes beyond the
    /// design's rails: where it first does and how far.
    pub rail_crossings: Vec<RailCrossing>,
    /// `dynamics.steady_tol`: the circuit has settled once max|dz/dt| tau_z is below it.
    pub steady_tol: f64,
    /// max|dz/dt| tau_z at the window's end: apcsim's (the analog run's own measure, or the
    /// gradient flow's right-hand side), and ngspice's (a backward difference over the last
    /// `.tran` step).
    pub end_drive_apcsim: Option<f64>,
    pub end_drive_ngspice: Option<f64>,
    /// Whether the circuit has settled by the window's end by `apcsim run`'s criterion
    /// (apcsim's end drive below `steady_tol`; ngspice's when apcsim has no trajectory), on
    /// the one sample the netlist carries; `apcsim run` judges its whole batch.
    pub settled: bool,
    /// How the analog reference was recorded: every `reference_stride` steps, at most
    /// `reference_spacing_seconds` apart, for a fastest time constant of
    /// `fastest_time_constant_seconds`; its cubic interpolation onto ngspice's times errs by at
    /// most `reference_interpolation_bound` of a mode's amplitude.
    pub reference_stride: Option<usize>,
    pub reference_spacing_seconds: Option<f64>,
    pub fastest_time_constant_seconds: Option<f64>,
    pub reference_interpolation_bound: Option<f64>,
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

/// Where a series of ngspice's nodes first goes beyond the rails (which the netlist does not
/// have, and `apcsim run` clips at).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RailCrossing {
    pub kind: NodeKind,
    pub layer: usize,
    /// The node that reaches the rail first, and when.
    pub node: usize,
    pub time_seconds: f64,
    /// The largest |voltage| of the series, and its node.
    pub peak_volts: f64,
    pub peak_node: usize,
}

impl RailCrossing {
    /// The report's note.
    fn note(&self, rail_volts: f64) -> String {
        format!(
            "layer {} {} ({}{}): node {} reaches the rails (+-{rail_volts:e} V) at t = {:.4e} s, \
             peak {:.4e} V on node {}; the netlist has no rails, so from there on ngspice \
             simulates a circuit that apcsim's run clips, and the errors include the difference",
            self.layer,
            self.kind.describe(),
            self.kind.symbol(),
            self.layer,
            self.node,
            self.time_seconds,
            self.peak_volts,
            self.peak_node
        )
    }
}

/// Every series of `spice` that reaches `rail_volts` (|voltage| >= rail).
pub fn rail_crossings(spice: &Trajectory, v_read_volts: f64, rail_volts: f64) -> Vec<RailCrossing> {
    let mut out = Vec::new();
    for s in &spice.series {
        let v = &s.values;
        let volts = |k: usize, c: usize| v[(k, c)].abs() * v_read_volts;
        // (row, node) of the earliest crossing, and (volts, node) of the peak.
        let mut first: Option<(usize, usize)> = None;
        let mut peak = (0.0f64, 0usize);
        for c in 0..v.ncols() {
            if let Some(k) = (0..v.nrows()).find(|&k| volts(k, c) >= rail_volts) {
                if first.is_none_or(|(k0, _)| k < k0) {
                    first = Some((k, c));
                }
            }
            let p = v.column(c).amax() * v_read_volts;
            if p > peak.0 {
                peak = (p, c);
            }
        }
        if let Some((k, c)) = first {
            out.push(RailCrossing {
                kind: s.kind,
                layer: s.layer,
                node: c,
                time_seconds: spice.times_seconds[k],
                peak_volts: peak.0,
                peak_node: peak.1,
            });
        }
    }
    out
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
        self.text_header(&mut s);
        self.text_table(&mut s);
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        self.text_timings(&mut s);
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

    /// What was compared with what: the design, the references, the gain factors.
    fn text_header(&self, s: &mut String) {
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
        if let (Some(k), Some(h), Some(tau), Some(b)) = (
            self.reference_stride,
            self.reference_spacing_seconds,
            self.fastest_time_constant_seconds,
            self.reference_interpolation_bound,
        ) {
            let every = if k == 1 {
                "at every step".to_string()
            } else {
                format!("every {k} steps")
            };
            let _ = writeln!(
                s,
                "recorded {every} ({h:.4e} s apart; fastest time constant {tau:.4e} s): \
                 interpolation error <= {b:.1e} of a mode's amplitude"
            );
        }
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
    }

    /// One row per series: its trajectory and equilibrium errors.
    fn text_table(&self, s: &mut String) {
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
    }

    /// The settling times and the wall times.
    fn text_timings(&self, s: &mut String) {
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
                keep_dir(p)?;
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
                std::fs::create_dir(&path).map_err(|e| SpiceError::File {
                    path: path.clone(),
                    source: e,
                })?;
                Ok(WorkDir { path, remove: true })
            }
        }
    }

    /// `name` in the directory, and the error of an I/O failure on it.
    fn file(&self, name: &str) -> (PathBuf, impl Fn(std::io::Error) -> SpiceError) {
        let path = self.path.join(name);
        let p = path.clone();
        (path, move |e| SpiceError::File {
            path: p.clone(),
            source: e,
        })
    }
}

/// Makes sure `--keep PATH` is a directory, creating it (and its parents) if missing; a path
/// that exists as anything else, or cannot be created, is unusable input.
pub fn keep_dir(path: &Path) -> Result<(), SpiceError> {
    if path.exists() && !path.is_dir() {
        return Err(SpiceError::Input(format!(
            "--keep {}: exists and is not a directory (it names the directory that keeps the \
             netlist and ngspice's data files)",
            path.display()
        )));
    }
    std::fs::create_dir_all(path).map_err(|e| {
        SpiceError::Input(format!(
            "--keep {}: cannot create the directory: {e}",
            path.display()
        ))
    })
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

/// Whether the trajectories can be compared with `opts.reference` (`Some(why)` when not), or
/// the check cannot run at all.
fn trajectory_comparable(
    design: &SpiceDesign,
    opts: &CheckOptions,
    flow: &Capability,
) -> Result<Option<String>, SpiceError> {
    check_size(design, opts.max_devices)?;
    if opts.repeat == 0 {
        return Err(SpiceError::Input(
            "--repeat must be at least 1: the check runs ngspice and apcsim that many times".into(),
        ));
    }
    // What can be compared: the analog circuit follows every term; the flow only tau_e = 0
    // without offsets (and the equilibrium of any tau_e without offsets).
    match (opts.reference, flow) {
        (ReferenceKind::Analog, _) => match &design.sim {
            Err(why) => Err(SpiceError::Unsupported(why.clone())),
            Ok(_) => Ok(None),
        },
        (ReferenceKind::Flow, Capability::Trajectory) => Ok(None),
        (ReferenceKind::Flow, Capability::EquilibriumOnly(why)) => Ok(Some(why.clone())),
        (ReferenceKind::Flow, Capability::Nothing(why)) => {
            Err(SpiceError::Unsupported(why.clone()))
        }
    }
}

/// ngspice's side: the netlist run `opts.repeat` times in `dir`, and the node voltages of the
/// last run, checked to reach the window's end.
struct NgspiceSide {
    run: ngspice::NgspiceRun,
    wall_seconds: Vec<f64>,
    trajectory: Trajectory,
}

fn ngspice_side(
    exe: &Path,
    design: &SpiceDesign,
    opts: &CheckOptions,
    dir: &WorkDir,
    netlist: &Netlist,
    netlist_file: &str,
) -> Result<NgspiceSide, SpiceError> {
    let mut wall_seconds = Vec::with_capacity(opts.repeat);
    let mut run = None;
    for _ in 0..opts.repeat {
        // A kept directory may hold an earlier run's data files: never read those.
        for d in &netlist.data_files {
            let (path, at) = dir.file(&d.file);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(at(e)),
                _ => {}
            }
        }
        let r = ngspice::run(exe, &dir.path, netlist_file, opts.timeout)?;
        wall_seconds.push(r.wall_seconds);
        run = Some(r);
    }
    let run = run.ok_or_else(|| SpiceError::Ngspice("ngspice did not run".into()))?;
    let trajectory = ngspice::read_trajectory(netlist, &dir.path, design.v_read_volts)
        .map_err(|e| ngspice::with_ngspice_report(e, &run))?;
    let first_file = dir.path.join(&netlist.data_files[0].file);
    ngspice::check_window_end(
        &trajectory.times_seconds,
        design.window_seconds,
        &first_file,
        &run,
    )?;
    Ok(NgspiceSide {
        run,
        wall_seconds,
        trajectory,
    })
}

/// How the analog reference was recorded (see [`CheckReport::reference_stride`]).
#[derive(Clone, Copy)]
struct Recording {
    stride: usize,
    spacing_seconds: f64,
    fastest_tau_seconds: f64,
    interpolation_bound: f64,
    thinned_for_memory: bool,
}

/// apcsim's side, at ngspice's times, and what it measures against ngspice's.
#[derive(Default)]
struct ApcsimSide {
    wall_seconds: Vec<f64>,
    trajectory: Vec<SeriesComparison>,
    settling_seconds: Option<f64>,
    end: Option<Vec<Series>>,
    end_drive: Option<f64>,
    recording: Option<Recording>,
}

/// apcsim's trajectory `opts.repeat` times at `spice`'s times, compared with it.
fn apcsim_side(
    design: &SpiceDesign,
    opts: &CheckOptions,
    spice: &Trajectory,
) -> Result<ApcsimSide, SpiceError> {
    let mut side = ApcsimSide::default();
    let mut apcsim = None;
    for _ in 0..opts.repeat {
        let start = Instant::now();
        let t = match opts.reference {
            ReferenceKind::Flow => {
                let t = reference::gradient_flow(design, &spice.times_seconds, opts.rtol)?;
                side.end_drive = reference::flow_end_drive(design, &t);
                t
            }
            ReferenceKind::Analog => {
                let a = reference::analog(design)?;
                let t = a.trajectory.resample_cubic(&spice.times_seconds)?;
                side.end_drive = Some(a.end_drive);
                side.recording = Some(Recording {
                    stride: a.stride,
                    spacing_seconds: a.spacing_seconds,
                    fastest_tau_seconds: a.fastest_tau_seconds,
                    interpolation_bound: a.interpolation_bound,
                    thinned_for_memory: a.thinned_for_memory,
                });
                t
            }
        };
        side.wall_seconds.push(start.elapsed().as_secs_f64());
        apcsim = Some(t);
    }
    if let Some(apcsim) = apcsim {
        side.trajectory = compare(&apcsim, spice)?;
        side.settling_seconds = settling_time(&apcsim, design.settle_tol);
        side.end = Some(end_state(&apcsim));
    }
    Ok(side)
}

/// What apcsim's side is, for the report.
fn reference_name(design: &SpiceDesign, opts: &CheckOptions) -> String {
    match opts.reference {
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
    }
}

/// ngspice's end state against the equilibrium, and the size of the IR-drop effect.
struct EquilibriumSide {
    comparison: Vec<SeriesComparison>,
    reference: String,
    /// The series whose end state is near zero (measured against the floor of the scale).
    quiet_ends: Vec<String>,
    ir_drop_shift: Option<f64>,
}

/// A trajectory of one time, `last`.
fn at_end(series: Vec<Series>, last: f64) -> Trajectory {
    Trajectory {
        times_seconds: vec![last],
        series,
    }
}

/// ngspice's end state against the equilibrium: the gradient flow's steady state where it is
/// the circuit's (no offsets), else the analog run's end state `apcsim_end`.
fn equilibrium_side(
    design: &SpiceDesign,
    ideal_wires: Option<&SpiceDesign>,
    flow: &Capability,
    apcsim_end: Option<Vec<Series>>,
    spice: &Trajectory,
) -> Result<EquilibriumSide, SpiceError> {
    let last = *spice.times_seconds.last().unwrap_or(&0.0);
    let (eq, reference) = match (flow, apcsim_end) {
        (Capability::Nothing(_), Some(end)) => (
            end,
            "the analog run's end state (offsets or the integrators' leak move the equilibrium \
             off the gradient flow's)"
                .to_string(),
        ),
        (Capability::Nothing(why), None) => return Err(SpiceError::Unsupported(why.clone())),
        _ => (
            reference::equilibrium(design)?,
            "the gradient flow's steady state (Dop853 to max|dz/dt| < 1e-12)".to_string(),
        ),
    };
    let largest = eq.iter().map(|s| s.values.amax()).fold(0.0, f64::max);
    let quiet_ends = eq
        .iter()
        .filter(|s| s.values.amax() < RANGE_FLOOR * largest)
        .map(|s| format!("{}{}", s.kind.symbol(), s.layer))
        .collect();
    let comparison = compare(&at_end(eq, last), &at_end(end_state(spice), last))?;
    // The size of the IR-drop effect: the gradient flow's equilibrium with and without wire
    // resistance (without offsets, where that equilibrium is the circuit's).
    let ir_drop_shift = match (ideal_wires, flow) {
        (Some(ideal), Capability::Trajectory | Capability::EquilibriumOnly(_))
            if design.wire_resistance_ohms > 0.0 =>
        {
            let with = at_end(reference::equilibrium(design)?, last);
            let shifted = compare(&with, &at_end(reference::equilibrium(ideal)?, last))?;
            Some(shifted.iter().map(|c| c.final_rel).fold(0.0, f64::max))
        }
        _ => None,
    };
    Ok(EquilibriumSide {
        comparison,
        reference,
        quiet_ends,
        ir_drop_shift,
    })
}

/// The note of a window that ends before the circuit settles.
fn unsettled_note(design: &SpiceDesign, apcsim: Option<f64>, ngspice: Option<f64>) -> String {
    let show = |d: Option<f64>| d.map_or("n/a".to_string(), |d| format!("{d:.3e}"));
    format!(
        "the window ({:e} s, {:.1} tau_z) ends before the circuit settles: max|dz/dt| tau_z \
         at its end is {} (apcsim), {} (ngspice) for the netlist's sample, not below \
         dynamics.steady_tol = {:e}, so `apcsim run` reports NOT SETTLED; the settling times are measured \
         against an end state that is not the equilibrium, and the equilibrium errors \
         include the way still to go (a longer dynamics.t_max settles it)",
        design.window_seconds,
        design.window_seconds / design.tau_z_seconds,
        show(apcsim),
        show(ngspice),
        design.steady_tol
    )
}

/// The notes on series measured against the floor of the scale, and on a coarse recording.
fn scale_and_recording_notes(apcsim: &ApcsimSide, eq: &EquilibriumSide, notes: &mut Vec<String>) {
    let floored: Vec<String> = apcsim
        .trajectory
        .iter()
        .filter(|c| c.scale > c.range)
        .map(|c| format!("{}{}", c.kind.symbol(), c.layer))
        .collect();
    if !floored.is_empty() {
        notes.push(format!(
            "{} barely move: their trajectory errors are relative to {RANGE_FLOOR:e} of the \
             largest signal range of the comparison, not to their own",
            floored.join(", ")
        ));
    }
    if !eq.quiet_ends.is_empty() {
        notes.push(format!(
            "{} end near zero: their final and equilibrium errors are relative to \
             {RANGE_FLOOR:e} of the largest end value of the comparison, not to their own",
            eq.quiet_ends.join(", ")
        ));
    }
    if let Some(r) = apcsim.recording {
        let (h, tau, bound) = (
            r.spacing_seconds,
            r.fastest_tau_seconds,
            r.interpolation_bound,
        );
        if r.thinned_for_memory && bound > reference::INTERPOLATION_TOL {
            notes.push(format!(
                "the analog reference is recorded {h:.3e} s apart ({:.3} of the fastest time \
                 constant {tau:.3e} s) to stay within {} MiB, so its interpolation onto \
                 ngspice's times may err by {bound:.1e} of a mode's amplitude (above the \
                 {:e} aimed for); a shorter window records it more finely",
                h / tau,
                reference::MAX_ANALOG_TRACE_BYTES / (1024.0 * 1024.0),
                reference::INTERPOLATION_TOL
            ));
        }
    }
}

/// The smallest finite-gain factor of the design's TIAs (1 when ideal).
fn min_gain_factor(design: &SpiceDesign) -> f64 {
    design
        .layers
        .iter()
        .flat_map(|l| l.gain_forward.iter().chain(&l.gain_backward))
        .copied()
        .fold(1.0, f64::min)
}

/// Runs the check on `design`. `ideal_wires`, the same design with ideal wires, measures the
/// size of the IR-drop effect when the design has wire resistance.
pub fn spice_check(
    design: &SpiceDesign,
    ideal_wires: Option<&SpiceDesign>,
    opts: &CheckOptions,
) -> Result<CheckReport, SpiceError> {
    let flow = reference::capability(design);
    let trajectory_skipped = trajectory_comparable(design, opts, &flow)?;
    let exe = ngspice::find_ngspice().ok_or(SpiceError::NoNgspice)?;
    // From here on every return, error or not, drops `dir`, which removes a temporary one.
    let dir = WorkDir::new(opts.work_dir.as_deref())?;
    let netlist = write_netlist(design, &opts.netlist);
    let file = "apcsim.cir";
    let (netlist_path, at) = dir.file(file);
    crate::io::write_atomic(&netlist_path, netlist.text.as_bytes()).map_err(at)?;
    let ngspice = ngspice_side(&exe, design, opts, &dir, &netlist, file)?;
    let spice = &ngspice.trajectory;
    let mut apcsim = match trajectory_skipped {
        None => apcsim_side(design, opts, spice)?,
        Some(_) => ApcsimSide::default(),
    };
    let eq = equilibrium_side(design, ideal_wires, &flow, apcsim.end.take(), spice)?;
    let crossings = match design.rail_volts {
        Some(rail) => rail_crossings(spice, design.v_read_volts, rail),
        None => Vec::new(),
    };
    let mut notes: Vec<String> = match design.rail_volts {
        Some(rail) => crossings.iter().map(|c| c.note(rail)).collect(),
        None => Vec::new(),
    };
    // Settled as `apcsim run` decides it: max|dz/dt| tau_z below steady_tol at the end.
    let tstep = design.window_seconds / opts.netlist.points.max(1) as f64;
    let end_drive_ngspice = end_drive(spice, design.tau_z_seconds, tstep);
    let settled = apcsim
        .end_drive
        .or(end_drive_ngspice)
        .is_none_or(|d| d < design.steady_tol);
    if !settled {
        notes.push(unsettled_note(design, apcsim.end_drive, end_drive_ngspice));
    }
    scale_and_recording_notes(&apcsim, &eq, &mut notes);
    let recording = apcsim.recording;
    Ok(CheckReport {
        design: design.name.clone(),
        sample: design.sample,
        devices: design.devices(),
        device_resistors: netlist.device_resistors,
        wire_resistors: netlist.wire_resistors,
        window_seconds: design.window_seconds,
        tau_z_seconds: design.tau_z_seconds,
        reference: reference_name(design, opts),
        equilibrium_reference: eq.reference,
        trajectory_skipped,
        min_gain_factor: min_gain_factor(design),
        ir_drop_shift: eq.ir_drop_shift,
        notes,
        rail_crossings: crossings,
        steady_tol: design.steady_tol,
        end_drive_apcsim: apcsim.end_drive,
        end_drive_ngspice,
        settled,
        reference_stride: recording.map(|r| r.stride),
        reference_spacing_seconds: recording.map(|r| r.spacing_seconds),
        fastest_time_constant_seconds: recording.map(|r| r.fastest_tau_seconds),
        reference_interpolation_bound: recording.map(|r| r.interpolation_bound),
        time_points: spice.times_seconds.len(),
        trajectory: apcsim.trajectory,
        equilibrium: eq.comparison,
        settle_tol: design.settle_tol,
        settling_ngspice_seconds: settling_time(spice, design.settle_tol),
        settling_apcsim_seconds: apcsim.settling_seconds,
        wall_ngspice_seconds: ngspice.wall_seconds,
        wall_apcsim_seconds: apcsim.wall_seconds,
        diagnostics: ngspice.run.diagnostics,
        netlist_file: (!dir.remove).then_some(netlist_path),
    })
}
