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
use super::{summary, SweepError, LOCK_FILE, PLAN_FILE, POINTS_DIR, POINTS_JSONL};
use crate::io::h5::{H5Reader, H5Writer};
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
    let not_a_folder =
        |what: &str| SweepError::Spec(format!("--out {}: {what}; choose a folder", dir.display()));
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(not_a_folder("is a file, not a folder")),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(not_a_folder("a part of the path is a file, not a folder"))
        }
        _ => Ok(()),
    }
}

/// The temporary files that writers killed mid-write left in `dir` and its points folder
/// ([`crate::io::is_atomic_temporary`] names; files only).
fn stale_temporaries(dir: &Path) -> Result<Vec<PathBuf>, SweepError> {
    let mut out = Vec::new();
    for folder in [dir.to_path_buf(), dir.join(POINTS_DIR)] {
        let entries = match std::fs::read_dir(&folder) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&folder, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_err(&folder, e))?;
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_file && crate::io::is_atomic_temporary(&entry.file_name().to_string_lossy()) {
                out.push(entry.path());
            }
        }
    }
    Ok(out)
}

/// Claims `dir` for one writer: creates it, takes its lock (a second sweep or merge into the
/// folder is refused while this one runs; the lock goes with the process, however it ends),
/// and reads its plan. A folder without a plan must hold nothing but what an interrupted
/// start leaves (hidden temporary files, an empty points folder): other files are not ours
/// to overwrite. The temporary files that a killed writer of the sweep left are removed
/// (holding the lock, no other writer can be using them): all of them once the folder holds a
/// plan, and before that only the plan's own and those in the points folder.
pub(crate) fn claim_folder(dir: &Path) -> Result<(std::fs::File, Option<SweepPlan>), SweepError> {
    check_out_path(dir)?;
    std::fs::create_dir_all(dir).map_err(|e| match check_out_path(dir) {
        Err(not_a_folder) => not_a_folder,
        Ok(()) => io_err(dir, e),
    })?;
    let lp = dir.join(LOCK_FILE);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lp)
        .map_err(|e| io_err(&lp, e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(SweepError::Plan(format!(
                "{}: another apcsim sweep or merge is writing into this folder",
                dir.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&lp, e)),
    }
    let plan = read_plan(dir)?;
    if plan.is_none() {
        let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_err(dir, e))?;
            let name = entry.file_name();
            let hidden = name.to_string_lossy().starts_with('.');
            let empty_points = name == POINTS_DIR
                && std::fs::read_dir(entry.path()).is_ok_and(|d| {
                    d.flatten()
                        .all(|e| crate::io::is_atomic_temporary(&e.file_name().to_string_lossy()))
                });
            if !hidden && !empty_points {
                return Err(SweepError::Plan(format!(
                    "{} is not empty and holds no sweep (no {PLAN_FILE}): choose another --out",
                    dir.display()
                )));
            }
        }
    }
    // In a folder that holds no plan yet, only the temporaries a sweep's start writes are its
    // own: the plan's, and any in the points folder. Other hidden files are left alone.
    let plan_tmp = format!(".{PLAN_FILE}.tmp-");
    let ours = |p: &PathBuf| {
        plan.is_some()
            || p.parent() != Some(dir)
            || p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&plan_tmp))
    };
    for stale in stale_temporaries(dir)?.into_iter().filter(ours) {
        match std::fs::remove_file(&stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(&stale, e)),
            _ => {}
        }
    }
    Ok((lock, plan))
}

/// The finished points of a folder with their lines in `points.jsonl`.
type FinishedPoints = Vec<(String, PointRecord)>;

/// What a sweep's start made of its folder, to be undone if the sweep fails before any point
/// is finished ([`undo_start`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Started {
    /// The folder held a sweep already (`--resume`): it stays as it is.
    Resumed,
    /// This sweep wrote the plan into a folder that existed before.
    InFolder,
    /// This sweep made the folder.
    MadeFolder,
}

/// Removes what a sweep's start wrote (the points folder while it is empty, points.jsonl,
/// plan.json, the lock, and the folder itself if the sweep made it and it is empty), so that a
/// sweep that failed before finishing any point leaves the folder as it found it and a later
/// plain sweep may use it. Best effort: the error that stopped the sweep is what matters, and
/// whatever cannot be removed is what a rerun with `--resume` takes up.
fn undo_start(dir: &Path, started: Started) {
    if started == Started::Resumed || std::fs::remove_dir(dir.join(POINTS_DIR)).is_err() {
        return;
    }
    for file in [POINTS_JSONL, PLAN_FILE, LOCK_FILE] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    if started == Started::MadeFolder {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Prepares the folder: a new sweep writes its plan; `--resume` checks the folder's plan.
/// Returns the points already finished, with their lines, the folder's lock, and what the
/// start made of the folder.
fn prepare(
    plan: &SweepPlan,
    dir: &Path,
    resume: bool,
) -> Result<(FinishedPoints, std::fs::File, Started), SweepError> {
    let made_folder = !dir.exists();
    let (lock, existing) = claim_folder(dir)?;
    let started = match (&existing, made_folder) {
        (Some(_), _) => Started::Resumed,
        (None, false) => Started::InFolder,
        (None, true) => Started::MadeFolder,
    };
    let done = match existing {
        Some(old) => {
            if !resume {
                return Err(SweepError::Plan(format!(
                    "{} already holds a sweep (plan.json): pass --resume to finish it, or \
                     choose another --out",
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
    Ok((done, lock, started))
}

/// Writes `bytes` at the end of `file` in one write and syncs it.
fn append_line(file: &mut std::fs::File, path: &Path, line: &str) -> Result<(), SweepError> {
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| io_err(path, e))
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
    let (finished, _lock, started) = prepare(plan, dir, opts.resume)?;
    let resumed = finished.len();
    let mut records: Vec<Option<PointRecord>> = vec![None; plan.points];
    let mut done: BTreeMap<usize, String> = BTreeMap::new();
    for (line, rec) in finished {
        done.insert(rec.index, line);
        let i = rec.index;
        records[i] = Some(rec);
    }
    let todo: Vec<&PointJob> = loaded
        .jobs
        .iter()
        .filter(|j| !done.contains_key(&j.index))
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
    let mut jsonl = std::fs::OpenOptions::new()
        .append(true)
        .open(&jp)
        .map_err(|e| io_err(&jp, e))?;

    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut failure: Option<SweepError> = None;
    let mut ran = 0;
    // The summaries are refreshed as points finish, but never take more than about a tenth of
    // the time.
    let mut last_refresh = Instant::now();
    let mut refresh_cost = Duration::ZERO;
    let pools: Vec<rayon::ThreadPool> = (0..workers)
        .map(|w| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads_per_point)
                .thread_name(move |i| format!("sweep-{w}-{i}"))
                .build()
        })
        .collect::<Result<_, _>>()
        .map_err(|e| io_err(dir, format!("cannot start threads: {e}")))?;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Result<(PointRecord, String, f64), SweepError>>();
        for pool in &pools {
            let tx = tx.clone();
            let (next, stop, todo, keys) = (&next, &stop, &todo, &keys);
            scope.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = todo.get(i) else { break };
                let out = pool.install(|| run_point(loaded, job, keys, threads_per_point == 1));
                if tx.send(out).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for out in rx {
            if failure.is_some() {
                continue;
            }
            let (rec, line, wall) = match out {
                Ok(done) => done,
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    failure = Some(e);
                    continue;
                }
            };
            let index = rec.index;
            let pf = point_file(dir, plan, index);
            let mut w = H5Writer::new();
            rec.write(&mut w, "", &keys);
            let written = w
                .write(&pf)
                .map_err(SweepError::from)
                .and_then(|()| append_line(&mut jsonl, &jp, &line));
            if let Err(e) = written {
                stop.store(true, Ordering::Relaxed);
                failure = Some(e);
                continue;
            }
            ran += 1;
            done.insert(index, line.trim_end().to_string());
            observe(Event::Done {
                record: &rec,
                wall_seconds: wall,
            });
            records[index] = Some(rec);
            if last_refresh.elapsed() >= refresh_cost * 10 && ran < todo.len() {
                let t = Instant::now();
                if let Err(e) = summary::write_data(dir, plan, &records) {
                    stop.store(true, Ordering::Relaxed);
                    failure = Some(e);
                }
                refresh_cost = t.elapsed();
                last_refresh = Instant::now();
            }
        }
    });
    if let Some(e) = failure {
        if ran == 0 {
            undo_start(dir, started);
        }
        return Err(e);
    }
    // Finished: the lines in plan order, then every summary from the plan as the folder holds
    // it, so that a resumed, a sharded-and-merged and a plain run write the same bytes.
    let lines: String = done.values().map(|l| format!("{l}\n")).collect();
    crate::io::write_atomic(&jp, lines.as_bytes()).map_err(|e| io_err(&jp, e))?;
    let on_disk = read_plan(dir)?.ok_or_else(|| io_err(&dir.join(PLAN_FILE), "vanished"))?;
    summary::write_all(dir, &on_disk, &records)?;
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
