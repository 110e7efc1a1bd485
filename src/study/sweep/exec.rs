//! Running a sweep into its folder: the folder's state (a plan, the finished points), resuming,
//! the worker threads, and writing each point as soon as it finishes.
//!
//! A point is finished when its line is in `points.jsonl` and its group in `points/<i>.h5`;
//! the group is written first (atomically), then the line is appended in one write and synced.
//! A SIGKILL at any moment therefore leaves whole files and at most one partial last line,
//! which `--resume` drops (the point then runs again).
//!
//! Parallelism: `--jobs N` is the number of threads that compute. Points are handed out in plan
//! order to `min(N, points to run)` workers; each worker runs its point inside a rayon pool of
//! its own with `N / workers` threads, where the simulation's batch chunks run. Pools never
//! nest into each other's threads, so there are never more than N busy threads, and since a
//! run's results do not depend on how many threads it gets, they are bit-identical whatever N.

use super::plan::{LoadedPlan, PointJob, SweepPlan};
use super::record::{Metrics, Outcome, PointRecord};
use super::{
    summary, SweepError, PLAN_FILE, POINTS_DIR, POINTS_JSONL, REPORT_HTML, SUMMARY_CSV, SWEEP_H5,
};
use crate::io::h5::{H5Reader, H5Writer};
use crate::io::outdir::OutDir;
use crate::measure::{run, RunReport};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How to run.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Threads that compute (at least 1).
    pub jobs: usize,
    /// Finish the sweep already in the folder instead of refusing to touch it.
    pub resume: bool,
    /// Start afresh in a folder that is not empty: the outputs of an earlier sweep or merge
    /// there ([`OUTPUTS`]) are removed first; other files stay.
    pub force: bool,
}

/// What the caller is told while the sweep runs (on the calling thread).
#[derive(Debug)]
pub enum Event<'a> {
    /// Before the first point: how many run now, how many were already done, and how.
    Start {
        todo: usize,
        resumed: usize,
        workers: usize,
        threads_per_point: usize,
    },
    /// A point finished and is on disk.
    Done {
        record: &'a PointRecord,
        wall_seconds: f64,
    },
}

/// How a sweep went.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    /// Points run now.
    pub ran: usize,
    /// Points found finished in the folder.
    pub resumed: usize,
    /// Points whose circuit diverged, and points that failed, among all of this folder's.
    pub diverged: usize,
    pub failed: usize,
}

pub(crate) fn io_err(path: &Path, e: impl std::fmt::Display) -> SweepError {
    SweepError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Reads `DIR/plan.json`; `Ok(None)` when there is none (or `DIR` is not a folder).
pub fn read_plan(dir: &Path) -> Result<Option<SweepPlan>, SweepError> {
    let p = dir.join(PLAN_FILE);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(io_err(&p, e)),
    };
    SweepPlan::from_json(&text)
        .map(Some)
        .map_err(|e| SweepError::Plan(format!("{}: not a sweep plan: {e}", p.display())))
}

/// The per-point file of point `index`.
pub fn point_file(dir: &Path, plan: &SweepPlan, index: usize) -> PathBuf {
    dir.join(POINTS_DIR)
        .join(format!("{}.h5", plan.point_name(index)))
}

/// What a line of `points.jsonl` must hold for its point to count as finished: its place and
/// seed, its status and, for a completed run, its whole report (typed: a report that lacks a
/// field does not read).
#[derive(serde::Deserialize)]
struct LineHead {
    index: usize,
    seed: u64,
    status: String,
    report: Option<RunReport>,
}

/// The finished points of a folder: each complete line of `points.jsonl` (in file order) whose
/// point file reads back as the same point. Lines for other points, unreadable lines (a report
/// that lacks a field among them) and a partial last line are left out.
pub fn finished_points(
    dir: &Path,
    plan: &SweepPlan,
) -> Result<Vec<(String, PointRecord)>, SweepError> {
    let p = dir.join(POINTS_JSONL);
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(&p, e)),
    };
    let keys = plan.keys();
    let mut seen = vec![false; plan.points];
    let mut out = Vec::new();
    let text = String::from_utf8_lossy(&bytes);
    // The text after the last newline is a line cut short (or nothing).
    let complete = text.rsplit_once('\n').map_or("", |(head, _)| head);
    for line in complete.lines() {
        let Ok(head) = serde_json::from_str::<LineHead>(line) else {
            continue;
        };
        let index = head.index;
        if index >= plan.points || !plan.holds(index) || seen[index] {
            continue;
        }
        let Ok(r) = H5Reader::open(&point_file(dir, plan, index)) else {
            continue;
        };
        let Ok(rec) = PointRecord::read(&r, "", &keys) else {
            continue;
        };
        if rec.index != index
            || head.seed != rec.seed
            || head.status != rec.outcome.status()
            || (head.status == "ok") != head.report.is_some()
            || rec.values != plan.values_of(index / plan.seeds)
        {
            continue;
        }
        seen[index] = true;
        out.push((line.to_string(), rec));
    }
    Ok(out)
}

/// The JSON line of a finished point: its place, seed, status and the run's whole report
/// (fields in that order, so that the line reads from its start).
fn json_line(
    job: &PointJob,
    keys: &[String],
    rec: &PointRecord,
    report: Option<&RunReport>,
    wall: f64,
    cpu: Option<f64>,
) -> String {
    let text = |v: &serde_json::Value| serde_json::to_string(v).unwrap_or_default();
    let values: Vec<String> = keys
        .iter()
        .zip(&job.values)
        .map(|(k, v)| format!("{}:{}", text(&json!(k)), text(&json!(v))))
        .collect();
    let head = [
        ("index", json!(job.index)),
        ("seed_index", json!(job.seed_index)),
        ("seed", json!(job.seed)),
        ("values", serde_json::Value::Null),
        ("status", json!(rec.outcome.status())),
        ("wall_seconds", json!(wall)),
        ("cpu_seconds", json!(cpu)),
        match (&rec.outcome, report) {
            (Outcome::Done(_), Some(report)) => ("report", report.to_value()),
            (other, _) => ("error", json!(other.message())),
        },
    ];
    let fields: Vec<String> = head
        .iter()
        .map(|(k, v)| match *k {
            // In plan key order (a JSON map would sort them).
            "values" => format!("\"values\":{{{}}}", values.join(",")),
            _ => format!("\"{k}\":{}", text(v)),
        })
        .collect();
    format!("{{{}}}\n", fields.join(","))
}

/// CPU time of the calling thread in seconds (Linux), for the cost of a point.
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

/// Runs one point on the calling thread's pool (its design loaded there, so that only the
/// points in flight hold one). With `one_thread` (the point has its pool's only thread), the
/// line also tells the CPU time the point took. A design that no longer resolves as the plan's
/// check did (a file it names changed) is an error of the sweep, not a result of the point.
fn run_point(
    loaded: &LoadedPlan,
    job: &PointJob,
    keys: &[String],
    one_thread: bool,
) -> Result<(PointRecord, String, f64), SweepError> {
    let start = Instant::now();
    let cpu0 = thread_cpu_seconds().filter(|_| one_thread);
    let circuit = loaded.circuit(job)?;
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&circuit, &|_, _| {})));
    let (outcome, report) = match result {
        Ok(Ok(res)) => match res.report.measurements() {
            Some(m) => (
                Outcome::Done(Box::new(Metrics::from_report(m, res.report.batch))),
                Some(res.report),
            ),
            None => (
                Outcome::Failed(
                    "internal error (a bug: please report it): a completed run \
                                 has no measurements"
                        .into(),
                ),
                None,
            ),
        },
        Ok(Err(e)) => (Outcome::from_error(&e), None),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            (
                Outcome::Failed(format!("internal error (a bug: please report it): {what}")),
                None,
            )
        }
    };
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu0.and_then(|c0| thread_cpu_seconds().map(|c1| c1 - c0));
    let rec = PointRecord {
        index: job.index,
        seed_index: job.seed_index,
        seed: job.seed,
        values: job.values.clone(),
        outcome,
    };
    let line = json_line(job, keys, &rec, report.as_ref(), wall, cpu);
    Ok((rec, line, wall))
}

/// Refuses an output folder path that cannot be a folder: an existing file, or a path through
/// one. Checked before a sweep's plan loads, and again when the folder is claimed.
pub fn check_out_path(dir: &Path) -> Result<(), SweepError> {
    Ok(crate::io::outdir::check_path(dir)?)
}

/// What a sweep or a merge writes into its folder (what `--force` replaces).
pub const OUTPUTS: &[&str] = &[
    PLAN_FILE,
    POINTS_JSONL,
    POINTS_DIR,
    SWEEP_H5,
    SUMMARY_CSV,
    REPORT_HTML,
    crate::report::MANIFEST,
    "*.svg",
];

/// Removes the temporary files that writers killed mid-write left in the points folder
/// ([`crate::io::is_atomic_temporary`] names; files only). Holding the folder's lock, no live
/// writer can be using them.
fn remove_stale_points(dir: &Path) -> Result<(), SweepError> {
    let folder = dir.join(POINTS_DIR);
    let entries = match std::fs::read_dir(&folder) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(&folder, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_err(&folder, e))?;
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && crate::io::is_atomic_temporary(&entry.file_name().to_string_lossy()) {
            match std::fs::remove_file(entry.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_err(&entry.path(), e))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Claims `dir` for one writer ([`crate::io::outdir::claim`]: created, locked, the stale
/// temporaries of a sweep's outputs removed; with `force`, the outputs of an earlier sweep
/// removed too) and reads its plan. A folder without a plan must hold nothing but hidden files
/// and an empty points folder: other files are not ours to overwrite.
pub(crate) fn claim_folder(
    dir: &Path,
    force: bool,
) -> Result<(OutDir, Option<SweepPlan>), SweepError> {
    let out = crate::io::outdir::claim(dir, OUTPUTS)?;
    if force {
        out.replace_outputs()?;
    }
    remove_stale_points(dir)?;
    let plan = read_plan(dir)?;
    if plan.is_none() {
        let empty_points = |name: &str| {
            name == POINTS_DIR
                && std::fs::read_dir(dir.join(name)).is_ok_and(|mut d| d.next().is_none())
        };
        if out.entries()?.iter().any(|name| !empty_points(name)) {
            return Err(SweepError::Plan(format!(
                "{} is not empty and holds no sweep (no {PLAN_FILE}): choose another --out, or \
                 pass --force to replace apcsim's outputs in it",
                dir.display()
            )));
        }
    }
    Ok((out, plan))
}

/// The finished points of a folder with their lines in `points.jsonl`.
type FinishedPoints = Vec<(String, PointRecord)>;

/// Removes what a new sweep's start wrote (the points folder while it is empty, points.jsonl,
/// plan.json), so that a sweep that failed before finishing any point leaves the folder as it
/// found it and a later plain sweep may use it; the folder's claim ([`OutDir`]) then removes
/// its lock, and the folder if the claim made it. A resumed sweep's folder stays as it is. Best
/// effort: the error that stopped the sweep is what matters, and whatever cannot be removed is
/// what a rerun with `--resume` takes up.
fn undo_start(dir: &Path, resumed: bool) {
    if resumed || std::fs::remove_dir(dir.join(POINTS_DIR)).is_err() {
        return;
    }
    for file in [POINTS_JSONL, PLAN_FILE] {
        let _ = std::fs::remove_file(dir.join(file));
    }
}

/// Prepares the folder: a new sweep writes its plan; `--resume` checks the folder's plan.
/// Returns the points already finished, with their lines, the folder's claim, and whether the
/// folder held the sweep already.
fn prepare(
    plan: &SweepPlan,
    dir: &Path,
    opts: &SweepOptions,
) -> Result<(FinishedPoints, OutDir, bool), SweepError> {
    let (out, existing) = claim_folder(dir, opts.force)?;
    let resumed = existing.is_some();
    let done = match existing {
        Some(old) => {
            if !opts.resume {
                return Err(SweepError::Plan(format!(
                    "{} already holds a sweep (plan.json): pass --resume to finish it, --force \
                     to start it afresh, or choose another --out",
                    dir.display()
                )));
            }
            if let Some(why) = plan.mismatch(&old, true) {
                return Err(SweepError::Plan(format!(
                    "{} holds another sweep: {why}; refusing to resume",
                    dir.display()
                )));
            }
            finished_points(dir, &old)?
        }
        None => Vec::new(),
    };
    // The plan first: from then on the folder is this sweep's, whatever else is missing.
    let pp = dir.join(PLAN_FILE);
    if !pp.exists() {
        crate::io::write_atomic(&pp, plan.to_json().as_bytes()).map_err(|e| io_err(&pp, e))?;
    }
    let pd = dir.join(POINTS_DIR);
    std::fs::create_dir_all(&pd).map_err(|e| io_err(&pd, e))?;
    // Keep only whole, valid lines, so that appended lines start on a line of their own.
    let jp = dir.join(POINTS_JSONL);
    let kept: String = done.iter().map(|(l, _)| format!("{l}\n")).collect();
    crate::io::write_atomic(&jp, kept.as_bytes()).map_err(|e| io_err(&jp, e))?;
    Ok((done, out, resumed))
}

/// Writes `bytes` at the end of `file` in one write and syncs it.
fn append_line(file: &mut std::fs::File, path: &Path, line: &str) -> Result<(), SweepError> {
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| io_err(path, e))
}

/// A finished point as a worker hands it over: its record, its JSON line and its wall time.
type PointResult = Result<(PointRecord, String, f64), SweepError>;

/// What the calling thread keeps while points finish: every record and line so far, the open
/// `points.jsonl`, and when the summaries were last refreshed (they are refreshed as points
/// finish, but never take more than about a tenth of the time).
struct Collector<'a> {
    dir: &'a Path,
    plan: &'a SweepPlan,
    keys: &'a [String],
    records: Vec<Option<PointRecord>>,
    lines: BTreeMap<usize, String>,
    jsonl: (std::fs::File, PathBuf),
    ran: usize,
    todo: usize,
    last_refresh: Instant,
    refresh_cost: Duration,
}

impl Collector<'_> {
    /// Writes a finished point (its group, then its line) and tells `observe`.
    fn take(
        &mut self,
        (rec, line, wall): (PointRecord, String, f64),
        observe: &mut dyn FnMut(Event),
    ) -> Result<(), SweepError> {
        let index = rec.index;
        let mut w = H5Writer::new();
        rec.write(&mut w, "", self.keys);
        w.write(&point_file(self.dir, self.plan, index))?;
        append_line(&mut self.jsonl.0, &self.jsonl.1, &line)?;
        self.ran += 1;
        self.lines.insert(index, line.trim_end().to_string());
        observe(Event::Done {
            record: &rec,
            wall_seconds: wall,
        });
        self.records[index] = Some(rec);
        if self.last_refresh.elapsed() >= self.refresh_cost * 10 && self.ran < self.todo {
            let t = Instant::now();
            summary::write_data(self.dir, self.plan, &self.records)?;
            self.refresh_cost = t.elapsed();
            self.last_refresh = Instant::now();
        }
        Ok(())
    }
}

/// One rayon pool of `threads` threads per worker.
fn worker_pools(
    workers: usize,
    threads: usize,
    dir: &Path,
) -> Result<Vec<rayon::ThreadPool>, SweepError> {
    (0..workers)
        .map(|w| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(move |i| format!("sweep-{w}-{i}"))
                .build()
        })
        .collect::<Result<_, _>>()
        .map_err(|e| io_err(dir, format!("cannot start threads: {e}")))
}

/// Runs `todo` on `pools` (each worker takes the next point in plan order) and hands each
/// finished point to `collect` on this thread; the first error stops the workers and is
/// returned.
fn run_points(
    (loaded, todo, keys): (&LoadedPlan, &[&PointJob], &[String]),
    pools: &[rayon::ThreadPool],
    collect: &mut dyn FnMut(PointResult) -> Result<(), SweepError>,
) -> Result<(), SweepError> {
    let exclusive = pools.first().is_some_and(|p| p.current_num_threads() == 1);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut failure: Option<SweepError> = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<PointResult>();
        for pool in pools {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = todo.get(i) else { break };
                let out = pool.install(|| run_point(loaded, job, keys, exclusive));
                if tx.send(out).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for out in rx {
            if failure.is_none() {
                if let Err(e) = collect(out) {
                    stop.store(true, Ordering::Relaxed);
                    failure = Some(e);
                }
            }
        }
    });
    failure.map_or(Ok(()), Err)
}

/// Runs (or finishes, with `resume`) the sweep of `loaded` into `dir`, then writes its
/// summaries. `observe` is called on this thread.
pub fn run_sweep(
    loaded: &LoadedPlan,
    dir: &Path,
    opts: &SweepOptions,
    observe: &mut dyn FnMut(Event),
) -> Result<SweepOutcome, SweepError> {
    let plan = &loaded.plan;
    let keys = plan.keys();
    let (finished, folder, held_a_sweep) = prepare(plan, dir, opts)?;
    let resumed = finished.len();
    let mut records: Vec<Option<PointRecord>> = vec![None; plan.points];
    let mut lines: BTreeMap<usize, String> = BTreeMap::new();
    for (line, rec) in finished {
        lines.insert(rec.index, line);
        let i = rec.index;
        records[i] = Some(rec);
    }
    let todo: Vec<&PointJob> = loaded
        .jobs
        .iter()
        .filter(|j| !lines.contains_key(&j.index))
        .collect();
    let jobs = opts.jobs.max(1);
    let workers = jobs.min(todo.len()).max(1);
    let threads_per_point = (jobs / workers).max(1);
    observe(Event::Start {
        todo: todo.len(),
        resumed,
        workers,
        threads_per_point,
    });
    let jp = dir.join(POINTS_JSONL);
    let jsonl = std::fs::OpenOptions::new()
        .append(true)
        .open(&jp)
        .map_err(|e| io_err(&jp, e))?;
    let pools = worker_pools(workers, threads_per_point, dir)?;
    let mut c = Collector {
        dir,
        plan,
        keys: &keys,
        records,
        lines,
        jsonl: (jsonl, jp),
        ran: 0,
        todo: todo.len(),
        last_refresh: Instant::now(),
        refresh_cost: Duration::ZERO,
    };
    let ran = run_points((loaded, &todo, &keys), &pools, &mut |out| {
        c.take(out?, observe)
    });
    if let Err(e) = ran {
        if c.ran == 0 {
            undo_start(dir, held_a_sweep);
        }
        return Err(e);
    }
    let outcome = finish(dir, &c.records, &c.lines, (c.ran, resumed))?;
    // Done with the folder: its lock file goes (removed while still held).
    drop(folder);
    Ok(outcome)
}

/// The finished sweep's files: the lines in plan order, then every summary from the plan as
/// the folder holds it, so that a resumed, a sharded-and-merged and a plain run write the same
/// bytes.
fn finish(
    dir: &Path,
    records: &[Option<PointRecord>],
    lines: &BTreeMap<usize, String>,
    (ran, resumed): (usize, usize),
) -> Result<SweepOutcome, SweepError> {
    let jp = dir.join(POINTS_JSONL);
    let text: String = lines.values().map(|l| format!("{l}\n")).collect();
    crate::io::write_atomic(&jp, text.as_bytes()).map_err(|e| io_err(&jp, e))?;
    let on_disk = read_plan(dir)?.ok_or_else(|| io_err(&dir.join(PLAN_FILE), "vanished"))?;
    summary::write_all(dir, &on_disk, records)?;
    let count = |s: &str| {
        records
            .iter()
            .flatten()
            .filter(|r| r.outcome.status() == s)
            .count()
    };
    Ok(SweepOutcome {
        ran,
        resumed,
        diverged: count("diverged"),
        failed: count("failed"),
    })
}
