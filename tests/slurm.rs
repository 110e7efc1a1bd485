//! The Slurm example run for real: `examples/slurm/sweep.sbatch` submitted to Slurm as a job
//! array of shards of a small sweep of the tiny design, the shards merged with `apcsim merge`,
//! and the merge compared with the same sweep run without shards: the same files, byte for
//! byte, but for the timings in points.jsonl that the README names.
//!
//! Slurm is optional on a developer machine: without `sbatch` or a controller that answers, the
//! test prints `skipped: ...` and passes. `.ci/run` starts a single-node Slurm on the CI
//! machine (`.ci/slurm`) and sets `APCSIM_REQUIRE_SLURM=1`, which turns a missing Slurm into a
//! failure. The sweep's folders are made under the build's target folder, which the nodes of a
//! real cluster usually share with the login node.

use common::sweep::assert_same_files_but_timings;
use common::{apcsim, assert_ok, repo_path, runs, text, tool_available};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod common;

/// The design and the sweep options (3 x 2 = 6 points), as the README would write them.
const DESIGN: &str = "circuits/tiny.toml";
const SWEEP: [&str; 4] = ["--grid", "device.levels=8,16,32", "--seeds", "2"];
const SHARDS: usize = 3;

/// Longest the array may take to finish: the sweep takes seconds, Slurm's scheduling a few
/// more; a job that never starts (a node down) fails the test instead of stalling CI.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether Slurm can run a job here: `sbatch` runs and the controller answers `sinfo` with a
/// node. Without it the test is skipped unless CI requires it.
fn slurm_available() -> bool {
    tool_available("Slurm", "APCSIM_REQUIRE_SLURM", slurm_nodes()).is_some()
}

/// The nodes `sinfo` lists with their state, or why there are none. Without a slurm.conf the
/// Slurm commands retry for a minute: a probe that takes over 20 s is taken as no Slurm.
fn slurm_nodes() -> Result<String, String> {
    let mut sinfo = Command::new("sinfo")
        .args(["--noheader", "--format=%n %t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("sinfo: {e}"))?;
    if wait_within(&mut sinfo, Duration::from_secs(20)).is_none() {
        return Err("sinfo did not answer within 20 s".into());
    }
    let o = sinfo.wait_with_output().unwrap();
    let nodes = text(&o.stdout).trim().to_string();
    if !o.status.success() || nodes.is_empty() {
        return Err(format!("sinfo lists no node: {}", text(&o.stderr).trim()));
    }
    runs(Command::new("sbatch").arg("--version"))?;
    Ok(nodes)
}

/// Waits for `child` at most `limit`: its exit status, or `None` (and the child killed) when it
/// is still running then.
fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// PATH with the apcsim under test first, as the script calls `apcsim`.
fn path_with_apcsim() -> std::ffi::OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_apcsim")).parent().unwrap();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&rest)))
        .unwrap()
}

/// Submits the example script as an array of `SHARDS` tasks into `sweep_dir` and waits for
/// them all (`sbatch --wait`); the tasks' output goes to `logs/`. The command line's resources
/// override the script's `#SBATCH` lines, which ask for more than a CI machine has.
fn submit_shards(sweep_dir: &Path, logs: &Path) {
    std::fs::create_dir_all(logs).unwrap();
    let submitted = logs.join("sbatch.out");
    let mut child = Command::new("sbatch")
        .args(["--wait", "--parsable", "--cpus-per-task=1", "--mem=1G"])
        .arg(format!("--array=1-{SHARDS}"))
        .arg("--time=10")
        .arg(format!("--output={}/task-%a.out", logs.display()))
        .arg(format!("--chdir={}", env!("CARGO_MANIFEST_DIR")))
        .arg(repo_path("examples/slurm/sweep.sbatch"))
        .arg(DESIGN)
        .args(SWEEP)
        .env("PATH", path_with_apcsim())
        .env("SWEEP_DIR", sweep_dir)
        .stdout(std::fs::File::create(&submitted).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sbatch starts");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > JOB_TIMEOUT {
            child.kill().unwrap();
            let job = std::fs::read_to_string(&submitted).unwrap_or_default();
            let job = job.trim().split(';').next().unwrap_or("").to_string();
            let _ = Command::new("scancel").arg(&job).status();
            panic!(
                "job {job:?} not done after {JOB_TIMEOUT:?}; logs in {}",
                logs.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = child.wait_with_output().unwrap();
    let task_logs: Vec<PathBuf> = (1..=SHARDS)
        .map(|k| logs.join(format!("task-{k}.out")))
        .collect();
    let said: Vec<String> = task_logs
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect();
    assert!(
        o.status.success(),
        "sbatch --wait: {}: {}\n{}",
        o.status,
        text(&o.stderr),
        said.join("\n")
    );
    // Slurm ran every task: each wrote its output file.
    for f in &task_logs {
        assert!(f.is_file(), "no {}", f.display());
    }
}

#[test]
fn the_slurm_example_merges_into_the_unsharded_sweep() {
    if !slurm_available() {
        return;
    }
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sweep_dir = tmp.path().join("sweep");
    submit_shards(&sweep_dir, &tmp.path().join("logs"));

    let shards: Vec<PathBuf> = (1..=SHARDS)
        .map(|k| sweep_dir.join(format!("shard-{k}")))
        .collect();
    for s in &shards {
        let lines = std::fs::read_to_string(s.join("points.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), 6 / SHARDS, "{}", s.display());
    }
    let merged = sweep_dir.join("merged");
    assert_ok(
        &apcsim(["merge"])
            .args(&shards)
            .arg("--out")
            .arg(&merged)
            .output()
            .unwrap(),
    );
    let whole = tmp.path().join("whole");
    assert_ok(
        &apcsim(["sweep", DESIGN])
            .args(SWEEP)
            .arg("--out")
            .arg(&whole)
            .output()
            .unwrap(),
    );
    assert_same_files_but_timings(&whole, &merged);
}
