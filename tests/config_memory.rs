//! The memory estimate of a design ([`apcsim::config::footprint`]) against what `apcsim run`
//! really allocates: every allocation of this test binary is counted, and the peak of a run
//! (simulation, gradient check, outputs written) must not exceed the estimate, nor fall far
//! below it.

use apcsim::config::{load_str, LoadOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The system allocator, counting the bytes allocated now and at the peak.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// One measurement at a time: the counters are global.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = NOW.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(p, layout) };
        NOW.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A small design that runs to t_max (it is never steady), so that every per-step record
/// reaches the length the estimate counts.
const BASE: &str = r#"
[network]
input = 4
hidden = [64]
output = 2
[data]
source = "teacher"
[dynamics]
solver = "euler"
dt = "1ns"
t_max = "2us"
steady_tol = 1e-300
[run]
batch = 32
trace_points = 100
trace_samples = 4
"#;

/// (estimate, measured peak) of a run of `BASE` with `sets`, outputs written.
fn measure(sets: &[&str]) -> (f64, f64) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let circuit = load_str("m.toml", BASE, sets, &LoadOptions::default()).unwrap();
    let estimate = circuit.footprint().live();
    let dir = tempfile::tempdir().unwrap();
    let before = NOW.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let result = apcsim::measure::run(&circuit, &|_, _| {}).unwrap();
    let steps = circuit.dynamics.t_max_seconds / circuit.dynamics.dt_seconds;
    assert_eq!(
        result.sim.steps as f64,
        steps.round(),
        "{sets:?}: the run must go on to t_max"
    );
    apcsim::report::write_run_report(&circuit, &result, dir.path()).unwrap();
    drop(result);
    (estimate, (PEAK.load(Ordering::SeqCst) - before) as f64)
}

/// The estimate of the live buffers ([`apcsim::config::Footprint::live`]) is an upper bound of
/// the heap's peak: within a phase it counts every buffer at its
/// largest at once, where a run's chunks halve their checkpoints as they fill and grow their
/// records by doubling, each at most a factor two. So the peak must not exceed it, nor fall
/// below half of it. Each case makes another term large.
#[test]
fn the_estimate_bounds_the_allocation_of_a_run() {
    let cases: [(&str, &[&str]); 12] = [
        ("small", &[]),
        ("batch", &["run.batch=256"]),
        (
            "checkpoints",
            &["network.hidden=[512]", "run.trace_points=400"],
        ),
        (
            "weights",
            &[
                "network.hidden=[512, 512]",
                "run.batch=1",
                "run.trace_points=4",
            ],
        ),
        (
            "weights in f32",
            &[
                "network.hidden=[512, 512]",
                "run.batch=1",
                "run.trace_points=4",
                "run.precision=f32",
            ],
        ),
        (
            "weights not recorded",
            &[
                "network.hidden=[512, 512]",
                "run.batch=1",
                "run.trace_points=4",
                "run.record_weights=false",
            ],
        ),
        (
            "separate backward",
            &[
                "network.hidden=[300, 700]",
                "run.batch=3",
                "run.trace_points=4",
                "crossbar.backward=separate",
            ],
        ),
        (
            "steps",
            &["dynamics.t_max=20us", "dynamics.settle_window=1us"],
        ),
        ("traces", &["run.trace_samples=32"]),
        ("noise", &["device.read_noise_thermal=true"]),
        (
            "relative noise",
            &[
                "device.read_noise_white=1.4e-6",
                "crossbar.backward=separate",
            ],
        ),
        ("algebraic errors", &["dynamics.tau_e=0", "run.batch=64"]),
    ];
    let mut failures = Vec::new();
    for (name, sets) in cases {
        let (estimate, peak) = measure(sets);
        if !(peak <= estimate && estimate <= 2.0 * peak) {
            failures.push(format!(
                "{name}: estimate {estimate:.4e} bytes, measured peak {peak:.4e} ({:.2}x)",
                estimate / peak
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Set in the environment of the test binary started by itself: the child runs the design
/// (a repository path, then its `--set` overrides, one a line) and prints its peak resident
/// memory.
const CHILD: &str = "APCSIM_MEMORY_CHILD";

/// This process's peak resident memory so far (VmHWM of /proc/self/status), in bytes.
fn resident_peak_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<f64>()
        .ok()?;
    Some(kb * 1024.0)
}

/// The design of a child run: a repository file and its overrides.
fn child_design(spec: &str) -> apcsim::config::Circuit {
    let mut lines = spec.lines();
    let path = repo_path(lines.next().expect("a design path"));
    let sets: Vec<&str> = lines.collect();
    apcsim::config::load(&path, &sets, &LoadOptions::default()).unwrap()
}

/// The child: a whole run as `apcsim run` makes it (the simulation, the gradient check, every
/// output written), then the process's peak resident memory.
fn run_as_child(spec: &str) {
    let circuit = child_design(spec);
    let dir = tempfile::tempdir().unwrap();
    let result = apcsim::measure::run(&circuit, &|_, _| {}).unwrap();
    apcsim::report::write_run_report(&circuit, &result, dir.path()).unwrap();
    drop(result);
    let peak = resident_peak_bytes().expect("VmHWM in /proc/self/status");
    println!("peak resident bytes {peak}");
    println!("peak heap bytes {}", PEAK.load(Ordering::SeqCst));
}

fn repo_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The estimate bounds what the operating system counts, not only the heap: the peak resident
/// memory of a whole run, in a process of its own, with the program, its libraries, its
/// threads' stacks and what the allocator holds beside the live buffers. Width 4096's run
/// peaked at 18.1 GiB (benches/runs/2026-12-05-scaling.md); these are the same design at
/// widths that run in seconds, and designs where other terms lead.
#[test]
fn the_estimate_bounds_the_resident_memory_of_a_run() {
    if let Ok(spec) = std::env::var(CHILD) {
        run_as_child(&spec);
        return;
    }
    if resident_peak_bytes().is_none() {
        eprintln!("skipped: no /proc/self/status to read the peak resident memory from");
        return;
    }
    let wide = "circuits/wide_4096.toml";
    let cases: [(&str, &[&str]); 3] = [
        (
            wide,
            &[
                "network.width=512",
                "crossbar.rows=128",
                "crossbar.cols=128",
                "dynamics.t_max=250ns",
            ],
        ),
        (
            wide,
            &[
                "network.width=512",
                "crossbar.rows=128",
                "crossbar.cols=128",
                "dynamics.t_max=250ns",
                "run.precision=f64",
                "run.record_weights=true",
            ],
        ),
        ("circuits/tiny.toml", &[]),
    ];
    let mut failures = Vec::new();
    // Width 4096's run, measured by /usr/bin/time -v on an idle machine with chunks of 32
    // samples (benches/runs/2026-12-05-scaling.md): a maximum resident set of 19021848 kB, kB
    // of 1024 bytes: 1.948e10 bytes (18.1 GiB; 16.7 GiB with chunks of 16).
    let measured = 19_021_848.0 * 1024.0;
    let no_limit = LoadOptions {
        memory_limit_bytes: Some(f64::INFINITY),
        ..LoadOptions::default()
    };
    let wide4096 = apcsim::config::load(&repo_path(wide), &[] as &[&str], &no_limit)
        .unwrap()
        .footprint()
        .total();
    eprintln!("{wide}: estimate {wide4096:.4e} bytes, measured peak resident {measured:.4e}");
    if wide4096 < measured {
        failures.push(format!(
            "{wide}: estimate {wide4096:.4e} bytes < measured peak resident {measured:.4e}"
        ));
    }
    for (design, sets) in cases {
        let spec = std::iter::once(design)
            .chain(sets.iter().copied())
            .collect::<Vec<_>>()
            .join("\n");
        let estimate = child_design(&spec).footprint().total();
        let o = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "the_estimate_bounds_the_resident_memory_of_a_run",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &spec)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{spec}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let peak: f64 = out
            .lines()
            .find_map(|l| l.split("peak resident bytes ").nth(1))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{spec}: no peak in {out}"));
        let heap: f64 = out
            .lines()
            .find_map(|l| l.split("peak heap bytes ").nth(1))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN);
        eprintln!(
            "{design} {sets:?}: estimate {estimate:.4e} bytes, peak resident {peak:.4e} \
             ({:.2}x), peak heap {heap:.4e}",
            estimate / peak
        );
        if peak > estimate {
            failures.push(format!(
                "{design} {sets:?}: estimate {estimate:.4e} bytes < peak resident {peak:.4e}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
