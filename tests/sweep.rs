//! `apcsim sweep` and `apcsim merge` end to end on the tiny design (issue 5): a sweep killed with
//! SIGKILL and resumed, and four shards merged, equal an uninterrupted run bit for bit
//! (summary.csv, every dataset of sweep.h5, the order of points.jsonl), whatever --jobs; bad
//! specifications and mismatched folders are refused before anything runs.

use apcsim::io::h5::H5Reader;
use common::sweep::{varying_fields, TIMINGS};
use common::{apcsim, assert_ok, h5py_available, python, repo_path, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;

const GRID: [&str; 6] = [
    "--grid",
    "device.levels=8,16,32,64",
    "--grid",
    "crossbar.wire_resistance=0ohm,1ohm,2ohm",
    "--seeds",
    "2",
];
const POINTS: usize = 24;

fn design() -> String {
    repo_path("circuits/tiny.toml").display().to_string()
}

fn command(args: &[&str], out: &Path) -> Command {
    let mut c = apcsim(["sweep"]);
    c.arg(design()).args(GRID).args(args).arg("--out").arg(out);
    c
}

fn sweep(args: &[&str], out: &Path) -> Output {
    command(args, out).output().expect("apcsim runs")
}

fn merge(dirs: &[&Path], out: &Path) -> Output {
    apcsim(["merge"])
        .args(dirs)
        .arg("--out")
        .arg(out)
        .output()
        .expect("apcsim runs")
}

/// A two-point sweep (`device.levels=8,16`) with `args` into `out`.
fn small_sweep(args: &[&str], out: &Path) -> Output {
    apcsim(["sweep", &design(), "--grid", "device.levels=8,16"])
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("apcsim runs")
}

/// The uninterrupted sweep, on two threads, shared by the tests.
fn baseline() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("all");
        assert_ok(&sweep(&["--jobs", "2"], &out));
        (tmp, out)
    })
    .1
}

/// Every dataset of an HDF5 file, by path, as bits.
fn datasets(path: &Path) -> Vec<(String, Vec<usize>, Vec<u64>)> {
    fn walk(r: &H5Reader, group: &str, out: &mut Vec<(String, Vec<usize>, Vec<u64>)>) {
        let join = |n: &str| {
            if group.is_empty() {
                n.to_string()
            } else {
                format!("{group}/{n}")
            }
        };
        for d in r
            .datasets_in(if group.is_empty() { "/" } else { group })
            .unwrap()
        {
            let a = r.array(&join(&d)).unwrap();
            out.push((
                join(&d),
                a.shape,
                a.data.iter().map(|x| x.to_bits()).collect(),
            ));
        }
        for g in r.groups_in(group) {
            walk(r, &join(&g), out);
        }
    }
    let r = H5Reader::open(path).unwrap();
    let mut out = Vec::new();
    walk(&r, "", &mut out);
    out
}

fn jsonl_indices(dir: &Path) -> Vec<u64> {
    std::fs::read_to_string(dir.join("points.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// The folders hold the same sweep results, bit for bit.
fn assert_same_sweep(a: &Path, b: &Path) {
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    assert!(
        read(a, "summary.csv") == read(b, "summary.csv"),
        "summary.csv differs"
    );
    let (da, db) = (datasets(&a.join("sweep.h5")), datasets(&b.join("sweep.h5")));
    assert!(da.len() > 24 * 10, "sweep.h5 holds {} datasets", da.len());
    assert_eq!(da.len(), db.len());
    for (x, y) in da.iter().zip(&db) {
        assert!(x == y, "sweep.h5 dataset {} differs from {}", x.0, y.0);
    }
    assert_eq!(jsonl_indices(a), jsonl_indices(b));
    assert_eq!(jsonl_indices(a), (0..POINTS as u64).collect::<Vec<_>>());
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn a_killed_sweep_resumes_to_the_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("killed");
    let mut child = command(&["--jobs", "1"], &out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let jsonl = out.join("points.jsonl");
    let start = Instant::now();
    while lines(&jsonl) < 3 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done = lines(&jsonl);
    assert!(
        (3..POINTS).contains(&done),
        "killed after {done} points: the test needs a sweep still running"
    );
    assert!(!out.join("report.html").exists());
    // As if the kill had also cut a line short, and lost a point file of a finished point.
    let mut jsonl_text = std::fs::read_to_string(&jsonl).unwrap();
    let first: serde_json::Value =
        serde_json::from_str(jsonl_text.lines().next().unwrap()).unwrap();
    jsonl_text.push_str("{\"index\":23,\"seed_index\":1,\"se");
    std::fs::write(&jsonl, jsonl_text).unwrap();
    let lost = first["index"].as_u64().unwrap();
    std::fs::remove_file(out.join(format!("points/{lost:02}.h5"))).unwrap();

    let o = sweep(&["--jobs", "2", "--resume"], &out);
    assert_ok(&o);
    let said = text(&o.stdout);
    assert!(said.contains(&format!("{} resumed", done - 1)), "{said}");
    assert_same_sweep(baseline(), &out);
    // A finished sweep resumed again has nothing to do and writes the same.
    let o = sweep(&["--resume"], &out);
    assert_ok(&o);
    assert!(text(&o.stdout).contains("(0 run now, 24 resumed)"));
    assert_same_sweep(baseline(), &out);
}

#[test]
fn four_shards_merge_into_the_unsharded_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let shards: Vec<PathBuf> = (1..=4).map(|k| tmp.path().join(format!("s{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        assert_ok(&sweep(
            &["--jobs", "1", "--shard", &format!("{}/4", k + 1)],
            dir,
        ));
        assert_eq!(lines(&dir.join("points.jsonl")), POINTS / 4);
    }
    let refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();

    // Refused: a shard missing, a shard twice, a shard of another sweep.
    let out = tmp.path().join("merged");
    let o = merge(&refs[..3], &out);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("6 of 24 points are in none"), "{err}");
    let o = merge(&[refs[0], refs[1], refs[2], refs[3], refs[0]], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("is in both"));
    let other = tmp.path().join("other");
    let o = apcsim([
        "sweep",
        &design(),
        "--grid",
        "device.levels=8,16",
        "--shard",
        "1/4",
    ])
    .arg("--out")
    .arg(&other)
    .output()
    .unwrap();
    assert_ok(&o);
    let o = merge(&[refs[0], refs[1], refs[2], &other], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("not part of the same sweep"));
    assert!(!out.exists(), "a refused merge writes nothing");

    assert_ok(&merge(&refs, &out));
    assert_same_sweep(baseline(), &out);
    assert!(out.join("report.html").exists());
}

#[test]
fn bad_specifications_are_refused_before_any_point_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &[&str]); 12] = [
        (
            &["--grid", "device.levls=8,16"],
            &["device.levls", "did you mean `levels`"],
        ),
        (
            &["--grid", "device.levels="],
            &["device.levels", "empty grid"],
        ),
        // The last point's value fails: nothing may have run before it is seen.
        (
            &["--grid", "device.levels=8,16,32,1"],
            &["device.levels=1", "at least 2"],
        ),
        (
            &["--grid", "crossbar.wire_resistance=1ohm,2uS"],
            &["crossbar.wire_resistance=2uS", "conductance"],
        ),
        (
            &[
                "--zip",
                "dynamics.tau_z=100ns,200ns",
                "--zip",
                "device.levels=8",
            ],
            &["--zip device.levels", "same length"],
        ),
        (
            &["--grid", "device.levels=8,16", "--grid", "device.levels=4"],
            &["device.levels", "already swept"],
        ),
        (&["--grid", "device.levels=8,8"], &["`8`", "twice"]),
        // The same value in two spellings, on a grid axis and on a zip axis.
        (
            &["--grid", "crossbar.wire_resistance=1ohm,1000mohm"],
            &["`1ohm` and `1000mohm` are the same value"],
        ),
        (
            &[
                "--zip",
                "crossbar.wire_resistance=1ohm,2ohm,1000mohm",
                "--zip",
                "dynamics.tau_z=100ns,200ns,0.1us",
            ],
            &["`1ohm / 100ns` and `1000mohm / 0.1us` are the same value"],
        ),
        (&["--shard", "5/4"], &["--shard 5/4"]),
        (&["--set", "run.batchh=3"], &["run.batchh"]),
        // Valid as a value, but unstable with this design's error nodes (tau_e = 3.2 ns):
        // refused with the plan, not when its point runs.
        (
            &["--grid", "dynamics.dt=100ps,50ns"],
            &["dynamics.dt=50ns", "shorten dynamics.dt"],
        ),
    ];
    for (args, needles) in cases {
        let out = tmp.path().join("never");
        let o = apcsim(["sweep", &design()])
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: `{n}` not in: {err}");
        }
        assert!(!out.exists(), "{args:?}: the folder was created");
    }
}

#[test]
fn resume_refuses_another_sweep_and_a_plain_run_refuses_a_used_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let run = |args: &[&str]| {
        apcsim(["sweep", &design()])
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    assert_ok(&run(&["--grid", "device.levels=8,16", "--resume"]));
    let before = std::fs::read(out.join("summary.csv")).unwrap();
    for (args, needle) in [
        (&["--grid", "device.levels=8,16,32", "--resume"][..], "axes"),
        (
            &["--grid", "device.levels=8,16", "--seeds", "2", "--resume"][..],
            "seeds",
        ),
        (
            &[
                "--grid",
                "device.levels=8,16",
                "--set",
                "run.batch=3",
                "--resume",
            ][..],
            "run.batch",
        ),
        (
            &["--grid", "device.levels=8,16", "--shard", "1/2", "--resume"][..],
            "shard 1/2",
        ),
        (&["--grid", "device.levels=8,16"][..], "--resume"),
    ] {
        let o = run(args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
    }
    assert_eq!(std::fs::read(out.join("summary.csv")).unwrap(), before);
}

/// A folder is one writer's: a sweep does not write into a folder of other files, and while
/// a sweep or merge holds a folder's lock (as a running one does) another is refused.
#[test]
fn a_sweep_claims_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |out: &Path| small_sweep(&[], out);
    // Another program's folder: refused, its file untouched.
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("report.html"), "mine").unwrap();
    let o = run(&foreign);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("holds no sweep"), "{err}");
    assert_eq!(std::fs::read(foreign.join("report.html")).unwrap(), b"mine");
    assert!(!foreign.join("plan.json").exists());
    // A folder whose lock another writer holds: refused, nothing written.
    let busy = tmp.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    let lock = std::fs::File::create(busy.join(apcsim::study::sweep::LOCK_FILE)).unwrap();
    lock.try_lock().unwrap();
    let o = run(&busy);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("another apcsim command is writing"), "{err}");
    assert!(!busy.join("plan.json").exists());
    let o = merge(&[&busy], &tmp.path().join("unused"));
    assert_ne!(o.status.code(), Some(0));
    // Released (as when the other writer ends, however it ends), the folder is usable.
    drop(lock);
    assert_ok(&run(&busy));
}

/// h5py reads sweep.h5 (CI makes h5py mandatory with `APCSIM_REQUIRE_INTEROP=1`, as in
/// tests/h5_interop.rs): its table, reshaped to the axes and seeds, holds summary.csv's numbers.
#[test]
fn h5py_reads_the_table_and_the_point_groups() {
    if !h5py_available() {
        return;
    }
    let script = r#"
import csv, json, sys, h5py
f = h5py.File(sys.argv[1], "r")
shape = json.loads(f["table"].attrs["shape"])
assert shape == [4, 3, 2], shape
table = {k: f["table"][k][:].reshape(shape) for k in f["table"].keys()}
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == 24
for r in rows:
    i = int(r["index"])
    for k in ("settling_median_seconds", "energy_per_sample_joules", "cos_sim_hardware_vs_bp_ideal"):
        assert float(r[k]) == table[k].flat[i], (k, i)
g = f["points/05"]
print(g.attrs["status"], g.attrs["device.levels"], g.attrs["crossbar.wire_resistance"],
      int(g.attrs["index"]), g["gradients/ideal_circuit_vs_bp/cos_sim_per_layer"].shape)
"#;
    let dir = baseline();
    let o = Command::new(python())
        .args(["-c", script])
        .arg(dir.join("sweep.h5"))
        .arg(dir.join("summary.csv"))
        .output()
        .unwrap();
    assert_ok(&o);
    assert_eq!(text(&o.stdout).trim(), "ok 8 2ohm 5 (3,)");
}

/// An --out that is a file (or a path through one) is bad input: exit 2 and one line naming it,
/// for sweep and merge alike, and the file is left as it was.
#[test]
fn an_out_path_that_is_a_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("results.txt");
    std::fs::write(&file, "mine").unwrap();
    let through = file.join("sweep");
    let run = |out: &Path| small_sweep(&[], out);
    let shard = tmp.path().join("shard");
    assert_ok(&run(&shard));
    for (o, path, what) in [
        (run(&file), &file, "is a file"),
        (run(&through), &through, "a part of the path is a file"),
        (merge(&[&shard], &file), &file, "is a file"),
    ] {
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("--out {}: {what}", path.display())),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
    // A merge input that is a file is not a sweep folder.
    let o = merge(&[&file], &tmp.path().join("merged"));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not a sweep folder"), "{err}");
}

/// What a writer killed in the middle of an atomic write leaves: `.NAME.tmp-PID` files. The
/// next sweep, resume or merge that claims the folder removes them and never takes one for a
/// result; a folder that is not a sweep's is not touched.
#[test]
fn stale_temporary_files_are_removed_by_the_next_claim() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let run = small_sweep;
    assert_ok(&run(&[], &out));
    let whole = std::fs::read(out.join("summary.csv")).unwrap();
    // Killed while writing point 1's file: its line and file are missing, its temporary is
    // there (a whole HDF5 file under the temporary name), and so is a half-written summary.
    let jsonl = out.join("points.jsonl");
    let jsonl_text = std::fs::read_to_string(&jsonl).unwrap();
    std::fs::write(&jsonl, format!("{}\n", jsonl_text.lines().next().unwrap())).unwrap();
    let pid = 4_000_000; // above Linux's largest pid: no live process has it
    std::fs::rename(
        out.join("points/1.h5"),
        out.join(format!("points/.1.h5.tmp-{pid}")),
    )
    .unwrap();
    let stale = [
        format!("points/.1.h5.tmp-{pid}"),
        format!(".sweep.h5.tmp-{pid}"),
        format!(".points.jsonl.tmp-{pid}"),
    ];
    std::fs::write(out.join(&stale[1]), b"half").unwrap();
    std::fs::write(out.join(&stale[2]), b"{\"index\":1}\n").unwrap();
    let o = run(&["--resume"], &out);
    assert_ok(&o);
    let said = text(&o.stdout);
    assert!(said.contains("(1 run now, 1 resumed)"), "{said}");
    for f in &stale {
        assert!(!out.join(f).exists(), "{f} was left");
    }
    assert_eq!(std::fs::read(out.join("summary.csv")).unwrap(), whole);

    // A merge's folder: a stale temporary there goes too.
    let merged = tmp.path().join("merged");
    std::fs::create_dir_all(merged.join("points")).unwrap();
    std::fs::write(merged.join(format!(".plan.json.tmp-{pid}")), b"{").unwrap();
    std::fs::write(merged.join(format!("points/.0.h5.tmp-{pid}")), b"x").unwrap();
    assert_ok(&merge(&[&out], &merged));
    assert!(!merged.join(format!(".plan.json.tmp-{pid}")).exists());
    assert!(!merged.join(format!("points/.0.h5.tmp-{pid}")).exists());
    assert_eq!(std::fs::read(merged.join("summary.csv")).unwrap(), whole);

    // Another program's folder is refused, and its files, whatever their names, stay.
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    std::fs::write(foreign.join(format!(".notes.txt.tmp-{pid}")), "mine").unwrap();
    assert_eq!(run(&[], &foreign).status.code(), Some(2));
    assert!(foreign.join(format!(".notes.txt.tmp-{pid}")).exists());

    // A folder of hidden files only is accepted for a new sweep, and its files stay, whatever
    // their names: before the sweep's plan is there, only the plan's temporary is the sweep's.
    let hidden = tmp.path().join("hidden");
    std::fs::create_dir_all(&hidden).unwrap();
    let theirs = [".profile".to_string(), format!(".session.tmp-{pid}")];
    for f in &theirs {
        std::fs::write(hidden.join(f), "mine").unwrap();
    }
    std::fs::write(hidden.join(format!(".plan.json.tmp-{pid}")), b"{").unwrap();
    assert_ok(&run(&[], &hidden));
    for f in &theirs {
        assert!(hidden.join(f).exists(), "{f} was removed");
    }
    assert!(!hidden.join(format!(".plan.json.tmp-{pid}")).exists());
}

/// Two runs of one sweep (the plain run and the four shards merged) differ in points.jsonl only
/// in the timings, and the README names every one of them.
#[test]
fn points_jsonl_varies_between_runs_only_in_the_fields_the_readme_names() {
    let tmp = tempfile::tempdir().unwrap();
    let again = tmp.path().join("again");
    assert_ok(&sweep(&["--jobs", "1"], &again));
    let varying = varying_fields(baseline(), &again);
    assert!(
        varying.iter().all(|f| TIMINGS.contains(&f.as_str())),
        "fields that vary between runs: {varying:?}"
    );
    assert!(varying.contains("wall_seconds"), "{varying:?}");
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `points.jsonl` |"))
        .expect("README describes points.jsonl");
    for f in TIMINGS {
        assert!(
            row.contains(&format!("`{f}`")),
            "README's points.jsonl row lacks `{f}`"
        );
    }
}

/// Peak memory of the plan: no point's design is kept, so a large grid costs under a kilobyte
/// per point. The tiny design's resolved circuit takes about 45 KB, so keeping one per
/// point would need about 450 MB for these 10 000 points; the limit allows 5 KB per point over
/// the process's own 15 MB or so. The plan loads whole, then the claim of a locked folder fails.
#[test]
fn a_large_plan_keeps_no_design_per_point() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc to read peak memory from");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let busy = tmp.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    let lock = std::fs::File::create(busy.join(apcsim::study::sweep::LOCK_FILE)).unwrap();
    lock.try_lock().unwrap();
    let axis = |key: &str, unit: &str, from: usize| {
        let v: Vec<String> = (from..from + 100).map(|i| format!("{i}{unit}")).collect();
        format!("{key}={}", v.join(","))
    };
    let mut child = apcsim(["sweep", &design(), "--jobs", "2", "--grid"])
        .arg(axis("dynamics.tau_z", "ns", 100))
        .arg("--grid")
        .arg(axis("crossbar.wire_resistance", "ohm", 0))
        .arg("--out")
        .arg(&busy)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // VmHWM is the peak so far: every reading is a lower bound of the process' peak, and the
    // readings go on until it exits, enough to catch a plan that grows with the grid.
    let status = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak_kb = 0u64;
    loop {
        if let Some(kb) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            peak_kb = peak_kb.max(kb);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("another apcsim command is writing"), "{err}");
    assert!(peak_kb > 0, "no reading of the peak memory");
    let limit_kb = 15_000 + 10_000 * 5;
    assert!(
        peak_kb < limit_kb,
        "the plan of 10 000 points peaked at {peak_kb} kB (limit {limit_kb} kB)"
    );
}

/// The tiny design on a device preset of its own (a copy of `ideal.toml` in a temporary
/// folder), so that a test can change the preset between a plan's check and its points; a
/// two-point sweep of it, and options to run it on one thread.
struct OwnPreset {
    preset: PathBuf,
    original: String,
    design: PathBuf,
    spec: apcsim::study::sweep::SweepSpec,
    opts: apcsim::study::sweep::SweepOptions,
}

impl OwnPreset {
    fn new(tmp: &Path) -> OwnPreset {
        let ideal = repo_path("circuits/devices/ideal.toml");
        let original = std::fs::read_to_string(ideal).unwrap();
        assert!(
            original.contains("g_max = \"25uS\""),
            "ideal.toml sets g_max"
        );
        let preset = tmp.join("dev.toml");
        std::fs::write(&preset, &original).unwrap();
        let text = std::fs::read_to_string(design())
            .unwrap()
            .replace("preset = \"ideal\"", "preset = \"dev.toml\"");
        assert!(text.contains("dev.toml"), "tiny.toml names its preset");
        let d = tmp.join("d.toml");
        std::fs::write(&d, text).unwrap();
        OwnPreset {
            preset,
            original,
            design: d,
            spec: apcsim::study::sweep::SweepSpec {
                grids: vec!["device.levels=8,16".into()],
                seeds: 1,
                ..Default::default()
            },
            opts: apcsim::study::sweep::SweepOptions {
                jobs: 1,
                resume: false,
                force: false,
            },
        }
    }

    /// Loads the plan, then changes the preset's conductance window (or restores it).
    fn plan_then_edit(&self, edit: bool) -> apcsim::study::sweep::LoadedPlan {
        let loaded = apcsim::study::sweep::load_plan(&self.design, &self.spec).unwrap();
        let text = if edit {
            self.original.replace("g_max = \"25uS\"", "g_max = \"5uS\"")
        } else {
            self.original.clone()
        };
        std::fs::write(&self.preset, text).unwrap();
        loaded
    }
}

/// A sweep runs every point on the design as its plan was checked: when a device preset file the
/// design names changes between the check and a point's run, the sweep stops with an error
/// naming the point instead of recording results of another device (or failures that a resume
/// would take as finished).
#[test]
fn a_preset_file_changed_after_the_check_stops_the_sweep() {
    use apcsim::study::sweep::run_sweep;
    let tmp = tempfile::tempdir().unwrap();
    let own = OwnPreset::new(tmp.path());

    // Unchanged files: the points run.
    let loaded = own.plan_then_edit(false);
    let same = tmp.path().join("same");
    assert_eq!(
        run_sweep(&loaded, &same, &own.opts, &mut |_| {})
            .unwrap()
            .ran,
        2
    );

    // The preset's window changes after the check: no point runs on it.
    let loaded = own.plan_then_edit(true);
    let dir = tmp.path().join("changed");
    let e = run_sweep(&loaded, &dir, &own.opts, &mut |_| {})
        .expect_err("a changed preset stops the sweep")
        .to_string();
    assert!(e.contains("sweep point 0") && e.contains("changed"), "{e}");
    let recorded = std::fs::read_to_string(dir.join("points.jsonl")).unwrap_or_default();
    assert!(recorded.trim().is_empty(), "points recorded: {recorded}");
}

/// A sweep that stops before any point is finished leaves its folder as it found it: the
/// folder it made is gone, a folder that existed is empty again, and a plain sweep (no
/// `--resume`) may then use either.
#[test]
fn a_sweep_that_fails_before_any_point_leaves_no_half_made_folder() {
    use apcsim::study::sweep::run_sweep;
    let tmp = tempfile::tempdir().unwrap();
    let own = OwnPreset::new(tmp.path());
    let made = tmp.path().join("made");
    let existing = tmp.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    for dir in [&made, &existing] {
        let loaded = own.plan_then_edit(true);
        let e = run_sweep(&loaded, dir, &own.opts, &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("changed"), "{e}");
        let left: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{}: left {left:?}", dir.display());
        assert_eq!(dir.exists(), *dir == existing, "{}", dir.display());
        // With the files as they are now, a plain sweep into the folder runs.
        let loaded = own.plan_then_edit(true);
        assert_eq!(
            run_sweep(&loaded, dir, &own.opts, &mut |_| {}).unwrap().ran,
            2
        );
        own.plan_then_edit(false);
    }
}

/// A sweep of a design whose `data.seed` follows `run.seed` (every optdigits design): each
/// point derives its own `run.seed`, and so its own `data.seed`, which the check of the design
/// files must not take for a changed file. The README's example, on two points of 8 samples.
#[test]
fn a_sweep_of_an_optdigits_design_runs_every_point() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("t");
    let digits = repo_path("circuits/digits_small.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_apcsim"))
        .arg("sweep")
        .arg(&digits)
        .args(["--grid", "device.levels=8,16", "--set", "run.batch=8"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_ok(&o);
    assert_eq!(jsonl_indices(&out), [0, 1]);
    for line in std::fs::read_to_string(out.join("points.jsonl"))
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["status"], "ok", "{line}");
        assert_eq!(v["report"]["batch"], 8, "{line}");
        let seeds = &v["report"]["config"]["values"];
        assert_eq!(seeds["data"]["seed"], seeds["run"]["seed"], "{line}");
        assert_eq!(seeds["data"]["seed"], v["seed"], "{line}");
    }
    assert_eq!(lines(&out.join("summary.csv")), 3);
}

/// A finished point's line must hold its whole report: a line whose report lacks a field is not
/// taken for a finished point (with a NaN for the field), and `--resume` runs the point again.
#[test]
fn a_report_missing_a_field_is_not_a_finished_point() {
    use apcsim::study::sweep::{load_plan, run_sweep, SweepOptions, SweepSpec};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let spec = SweepSpec {
        grids: vec!["device.levels=8,16".into()],
        seeds: 1,
        ..SweepSpec::default()
    };
    let plan = load_plan(Path::new(&design()), &spec).unwrap();
    let mut opts = SweepOptions {
        jobs: 1,
        resume: false,
        force: false,
    };
    assert_eq!(run_sweep(&plan, &dir, &opts, &mut |_| {}).unwrap().ran, 2);
    let jp = dir.join("points.jsonl");
    let text = std::fs::read_to_string(&jp).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let settling = lines[1]["report"]["settling"].as_object_mut().unwrap();
    assert!(settling.remove("median_seconds").is_some());
    let cut: String = lines.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(&jp, cut).unwrap();
    opts.resume = true;
    let again = run_sweep(&plan, &dir, &opts, &mut |_| {}).unwrap();
    assert_eq!((again.resumed, again.ran), (1, 1));
    assert_eq!(std::fs::read_to_string(&jp).unwrap().lines().count(), 2);
    assert_eq!(jsonl_indices(&dir), [0, 1]);
}
