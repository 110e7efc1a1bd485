//! How a batch is cut into chunks of samples that run in parallel.

/// Samples per parallel chunk of every time-stepped run: the fixed-step ideal inference and
/// the analog simulation. Fixed, never derived from the number of threads, so that results do
/// not depend on it. Whole chunks keep both cores of the benchmark machine busy, while the
/// layers of each chunk still go to rayon as separate tasks, so that a core that falls behind
/// (descheduled, or given the larger share of layers) has its work taken over: on the
/// inference benchmark (N = 256, L = 8, B = 64) the 500-step f32 inference takes a median
/// 0.426 s with chunks of 16 or 32 against 0.487 s with one chunk of 64
/// (`benches/runs/2026-11-27-inference-chunks.md`); the analog runs of a batch of 32 (the
/// default design) use both cores with chunks of 16.
pub const CHUNK: usize = 16;

/// The chunks of `chunk` samples (the last one shorter) that a batch of `batch` samples is
/// cut into, in sample order.
pub fn chunk_ranges(batch: usize, chunk: usize) -> Vec<std::ops::Range<usize>> {
    (0..batch)
        .step_by(chunk)
        .map(|s0| s0..(s0 + chunk).min(batch))
        .collect()
}
