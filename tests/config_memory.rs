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
    let estimate = circuit.footprint().total();
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

/// The estimate is an upper bound of the peak: within a phase it counts every buffer at its
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
