//! How a batch is cut into chunks of samples that run in parallel.

/// Samples per parallel chunk of every fixed-step run of a batch of `batch` samples: the ideal
/// inference and the analog simulation. A function of the batch alone, never of the number of
/// threads, so that results do not depend on it (and a fixed-step result does not depend on the
/// chunk either: `tests/determinism.rs`). Each chunk streams every matrix once per evaluation,
/// so a longer chunk does more arithmetic per byte read; the layers of each chunk still go to
/// rayon as separate tasks, so that a core that falls behind has its work taken over. Measured
/// on the scaling benchmark (f32, width 1024, depth 8 unless said; real-time priority;
/// `benches/runs/2026-12-05-scaling.md`), one simulated tau_z:
/// - batch 64 and more, chunks of 32 against 16: width 2048 2.37 s against 3.26 s, depth 32
///   3.10 s against 4.30 s, batch 256 1.65 s against 1.88 s (f64, width 2048: 4.57 s against
///   6.47 s); width 256 no slower (33.8 ms against 34.5 ms);
/// - batch 32 (the default design), chunks of 16 against 8: 0.297 s against 0.367 s;
/// - batch 16, chunks of 8 against one chunk of 16 on one core: 0.217 s against 0.344 s.
pub fn chunk_samples(batch: usize) -> usize {
    match batch {
        b if b >= 64 => 32,
        b if b >= 32 => 16,
        _ => 8,
    }
}

/// The chunks of `chunk` samples (the last one shorter) that a batch of `batch` samples is
/// cut into, in sample order.
pub fn chunk_ranges(batch: usize, chunk: usize) -> Vec<std::ops::Range<usize>> {
    (0..batch)
        .step_by(chunk)
        .map(|s0| s0..(s0 + chunk).min(batch))
        .collect()
}
