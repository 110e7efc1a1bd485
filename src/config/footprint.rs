//! The memory `apcsim run` needs for a design, counted before anything is built so that a
//! design that cannot fit is refused by `check` and `run` alike.
//!
//! The count follows what a run allocates, buffer by buffer (see `analog::sim`, `measure::run`,
//! `hardware::mapping`, `io::h5`, `dynamics::newton`), every buffer at its largest and the run
//! going on to t_max, in the three phases where memory peaks: while the ideal equilibrium is
//! solved by Newton-Krylov (a copy of the network and the Jacobian's packed weights beside the
//! mapping), while the circuit is integrated (every chunk's workspaces, checkpoints and per-step
//! records) and while the outputs are written (what the run keeps, and traces.h5 built in
//! memory). The largest phase, plus what the process holds beside its live buffers, is the
//! estimate: an upper bound of the run's peak resident memory that `tests/config_memory.rs`
//! holds against measured ones (the heap's peak, and the resident peak of a run in a process of
//! its own). Each phase is a sum of terms, one per thing that grows, so that a refusal can say
//! what grew.

use super::circuit::{Circuit, Dynamics, RunParams};
use crate::hardware::params::{Backward, CrossbarParams, DeviceParams};

/// Bytes of an f64.
const WORD: f64 = 8.0;

/// Samples the simulator integrates together in a batch of `batch`: each chunk keeps its own
/// workspaces and its own record of every step.
pub fn samples_per_chunk(batch: f64) -> f64 {
    crate::numeric::chunks::chunk_samples(batch as usize) as f64
}

/// Words (f64) per weight while the circuit is integrated: the network's W and its packed
/// forward and backward products (packed by the ideal equilibrium's feedforward pass, kept with
/// the network); the programmed forward pair, four matrices of G+ and of G- (target,
/// programmed, drift exponent, read) and their stuck-fault maps; the effective forward and
/// backward weights.
const SIMULATION_WORDS_PER_WEIGHT: f64 = 3.0 + 2.0 * (4.0 + 1.0 / 8.0) + 2.0;
/// Words per weight while Newton-Krylov solves the ideal equilibrium, beside the network and
/// the mapping above: the network's copy in f64 and its packed products, and the Jacobian's
/// own packed forward and backward weights.
const NEWTON_WORDS_PER_WEIGHT: f64 = 3.0 + 2.0;
/// Words per node and sample of Newton-Krylov's buffers: its iterate, gradient and step, the
/// Krylov method's vectors (BiCGSTAB's eight), the Jacobian's phi', curvature, de and scratch,
/// and the network's workspace, with room to spare.
const NEWTON_WORDS_PER_NODE: f64 = 24.0;
/// Of the live buffers' bytes, what the allocator may hold on top: freed buffers under glibc's
/// largest mmap threshold (32 MiB) stay in its arenas. Resident peaks measured up to 1.28 times
/// the heap's peak (a width-512 design in f64 with its weights recorded,
/// `tests/config_memory.rs`).
const RETAINED_FRACTION: f64 = 0.3;
/// Bytes of the process itself: the program, its libraries and its threads' stacks (a run of
/// circuits/tiny.toml peaks at 14 MB resident with 7.6 MB of heap).
const PROCESS_BYTES: f64 = (32u64 << 20) as f64;
/// Numbers per weight of the circuit, in its own precision: its forward and backward products,
/// and those packed twice (the run's, and the final errors').
const CIRCUIT_NUMBERS_PER_WEIGHT: f64 = 2.0 + 2.0 * 2.0;
/// Words per weight while the outputs are written: what the run keeps (the network's W and
/// its packed forward and backward products, the programmed forward pair, the effective
/// weights, four gradients).
const WRITING_WORDS_PER_WEIGHT: f64 = 3.0 + 2.0 * (4.0 + 1.0 / 8.0) + 2.0 + 4.0;
/// Words per weight of the effective forward network (its W and packed products), built beside
/// what the run keeps while BP's gradients of the hardware's weights are formed.
const EFFECTIVE_NETWORK_WORDS: f64 = 3.0;
/// Words per weight of traces.h5's conductances and gradients (`run.record_weights`), three
/// times over (its datasets, the file being built, its bytes).
const RECORDED_WEIGHT_WORDS: f64 = 3.0 * (2.0 + 4.0);
/// Words per weight of a separate backward pair of arrays: the pair, and (when recorded) its
/// two conductance matrices written three times over.
const SEPARATE_WORDS_PER_WEIGHT: f64 = 2.0 * (4.0 + 1.0 / 8.0);
const SEPARATE_RECORDED_WORDS: f64 = 6.0;
/// Numbers per weight (in the circuit's precision) of relative read noise while integrating:
/// its density products, packed twice.
const NOISE_NUMBERS_PER_WEIGHT: f64 = 2.0 + 2.0 * 2.0;
/// Bytes of what is written beside traces.h5 whatever the design's size: report.json, the
/// figures and the page (a few hundred kilobytes for the trace lengths of the examples).
const REPORT_BYTES: f64 = (1u64 << 20) as f64;
/// Bytes per node of a tile's nodal IR-drop system (sparse matrix and factor).
const BYTES_PER_TILE_NODE: f64 = 200.0;
/// Bytes per step and chunk of one power record (per layer, one value per energy component;
/// `analog::energy::Component::COUNT`), beside the record's own entry in its growing list.
const RECORD_BYTES_PER_LAYER: f64 = 10.0 * WORD;
const RECORD_ENTRY_BYTES: f64 = 3.0 * 24.0;

/// What sets the memory of a run, as floats: a design can be absurd.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSize {
    pub inputs: f64,
    pub outputs: f64,
    pub weights: f64,
    /// Value nodes: the sum of the hidden widths.
    pub hidden_nodes: f64,
    /// Weight layers.
    pub layers: f64,
    pub batch: f64,
    /// Samples whose every node is traced (at most the batch).
    pub traced_samples: f64,
    /// Most points a trace keeps.
    pub trace_points: f64,
    /// Steps of a fixed-step run to t_max (0 for an adaptive solver, which `run` refuses).
    pub steps: f64,
    /// Whether the error nodes are dynamic (tau_e > 0): part of the integrated state.
    pub dynamic_errors: bool,
    pub noisy: bool,
    pub separate_backward: bool,
    /// Bytes of one number of the circuit (`run.precision`).
    pub circuit_word: f64,
    /// Whether traces.h5 holds the conductances and gradients (`run.record_weights`).
    pub record_weights: bool,
    /// Whether relative read noise is integrated (products of its own).
    pub relative_noise: bool,
    /// Nodes of a tile's IR-drop system (0 without wire resistance).
    pub tile_nodes: f64,
}

/// The memory of a run, in bytes, by what grows.
#[derive(Clone, Debug, PartialEq)]
pub struct Footprint {
    /// Copies of the weights and conductances (grows with the network).
    pub weights: f64,
    /// The nodes of every sample: states, solver stages, workspaces, final values (grows with
    /// nodes x batch).
    pub nodes: f64,
    /// Every value and error node of every sample at each trace point, for the settling times
    /// (grows with trace points x nodes x batch).
    pub checkpoints: f64,
    /// The traced samples' nodes at each trace point, assembled and written (grows with trace
    /// points x traced samples x nodes).
    pub traces: f64,
    /// The power of every step of every chunk (grows with steps x batch).
    pub power_record: f64,
    /// One tile's nodal system for IR drop.
    pub ir_drop: f64,
    /// What the process holds beside the live buffers: freed memory the allocator keeps, the
    /// program and its stacks (`RETAINED_FRACTION` of the rest, and `PROCESS_BYTES`).
    pub retained: f64,
}

impl Footprint {
    /// The estimate of the peak resident memory.
    pub fn total(&self) -> f64 {
        self.live() + self.retained
    }

    /// The live buffers alone: the estimate of the heap's peak.
    pub fn live(&self) -> f64 {
        self.weights
            + self.nodes
            + self.checkpoints
            + self.traces
            + self.power_record
            + self.ir_drop
    }

    /// With what the process holds beside the live buffers.
    fn with_retained(self) -> Footprint {
        Footprint {
            retained: RETAINED_FRACTION * self.live() + PROCESS_BYTES,
            ..self
        }
    }

    /// The terms, named, largest first.
    pub fn terms(&self) -> Vec<(&'static str, f64)> {
        let mut t = vec![
            ("weights", self.weights),
            ("node states", self.nodes),
            ("settling checkpoints", self.checkpoints),
            ("traces", self.traces),
            ("power record", self.power_record),
            ("IR-drop system", self.ir_drop),
            ("allocator and process", self.retained),
        ];
        t.sort_by(|a, b| b.1.total_cmp(&a.1));
        t
    }
}

/// Words per node and sample while integrating: `(value nodes, error nodes, inputs and
/// outputs)`. This exceeds what the gradient check after it needs (the final values, the
/// ideal circuit's solver stages, the BP activations).
fn words_per_node_sample(s: &RunSize) -> (f64, f64, f64) {
    // The integrated state: value nodes, and error nodes when dynamic; the state, four solver
    // stages and a scratch copy.
    let (state_z, state_e) = (6.0, if s.dynamic_errors { 6.0 } else { 0.0 });
    // Two workspaces: phi, phi' and the backward product per value node; the prediction and
    // error per error node.
    let (ws_z, ws_e) = (2.0 * 3.0, 2.0 * 2.0);
    // The noise sample and its scratch (with its amplitudes); a noisy run keeps its noise-free
    // first pass while the noisy one runs, and a window of four sums per value node.
    let (noise_z, noise_e, again) = if s.noisy {
        (3.0, 3.0, 2.0)
    } else {
        (0.0, 0.0, 1.0)
    };
    let window = if s.noisy { 4.0 } else { 0.0 };
    // The previous and first states, the final values and deviations (per chunk and whole),
    // the settling bands, and the final errors (the values again and a whole-batch workspace).
    let finals_z = 2.0 + 5.0 + 1.0 + 3.0;
    let finals_e = 1.0 + 2.0;
    let z = again * (state_z + ws_z + noise_z) + window + finals_z;
    let e = again * (state_e + ws_e + noise_e) + finals_e;
    // Inputs and targets: the batch, its converted copy, each chunk's copy, the gradient
    // check's.
    (z, e, 4.0)
}

/// The memory of a run of the design `s`: the largest of its three peaks.
pub fn footprint(s: &RunSize) -> Footprint {
    [while_solving(s), while_integrating(s), while_writing(s)]
        .into_iter()
        .max_by(|a, b| a.live().total_cmp(&b.live()))
        .expect("three phases")
        .with_retained()
}

/// While Newton-Krylov solves the ideal equilibrium: the network and the mapping as while
/// integrating, the solver's copy of the network and its packed weights, and its buffers.
fn while_solving(s: &RunSize) -> Footprint {
    let per_weight = words_per_weight(s, SIMULATION_WORDS_PER_WEIGHT + NEWTON_WORDS_PER_WEIGHT);
    let nodes = s.hidden_nodes + s.hidden_nodes + s.outputs;
    Footprint {
        weights: s.weights * per_weight * WORD,
        nodes: s.batch * (nodes * NEWTON_WORDS_PER_NODE + 4.0 * (s.inputs + s.outputs)) * WORD,
        checkpoints: 0.0,
        traces: 0.0,
        power_record: 0.0,
        ir_drop: s.tile_nodes * BYTES_PER_TILE_NODE,
        retained: 0.0,
    }
}

/// Words per weight `base`, and the separate backward pair's when there is one.
fn words_per_weight(s: &RunSize, base: f64) -> f64 {
    if s.separate_backward {
        base + SEPARATE_WORDS_PER_WEIGHT
    } else {
        base
    }
}

fn while_integrating(s: &RunSize) -> Footprint {
    let error_nodes = s.hidden_nodes + s.outputs;
    let noise = if s.relative_noise {
        NOISE_NUMBERS_PER_WEIGHT
    } else {
        0.0
    };
    let circuit_words = (CIRCUIT_NUMBERS_PER_WEIGHT + noise) * s.circuit_word / WORD;
    let per_weight = words_per_weight(s, SIMULATION_WORDS_PER_WEIGHT) + circuit_words;
    let (z, e, io) = words_per_node_sample(s);
    let chunks = (s.batch / samples_per_chunk(s.batch)).ceil();
    // Both records (power per state, capacitor energy per step) of every step of every chunk.
    let record = RECORD_BYTES_PER_LAYER * s.layers + RECORD_ENTRY_BYTES;
    Footprint {
        weights: s.weights * per_weight * WORD,
        nodes: s.batch
            * (s.hidden_nodes * z + error_nodes * e + (s.inputs + s.outputs) * io)
            * WORD,
        // Value and error nodes, for the settling times at the nodes and at the readout.
        checkpoints: s.trace_points * (s.hidden_nodes + error_nodes) * s.batch * WORD,
        // The traced samples' error nodes recorded, then the value and error traces assembled.
        traces: s.trace_points * s.traced_samples * (s.hidden_nodes + 2.0 * error_nodes) * WORD,
        power_record: 2.0 * (s.steps + 1.0) * chunks * record,
        ir_drop: s.tile_nodes * BYTES_PER_TILE_NODE,
        retained: 0.0,
    }
}

fn while_writing(s: &RunSize) -> Footprint {
    let error_nodes = s.hidden_nodes + s.outputs;
    // After the simulation, beside what the run keeps: the effective network while the
    // gradients are formed, then (if recorded) traces.h5's conductances and gradients.
    let recorded = match (s.record_weights, s.separate_backward) {
        (false, _) => 0.0,
        (true, false) => RECORDED_WEIGHT_WORDS,
        (true, true) => RECORDED_WEIGHT_WORDS + SEPARATE_RECORDED_WORDS,
    };
    let per_weight =
        words_per_weight(s, WRITING_WORDS_PER_WEIGHT) + recorded.max(EFFECTIVE_NETWORK_WORDS);
    Footprint {
        weights: s.weights * per_weight * WORD,
        // The final values, deviations and errors; the batch and its converted copy.
        nodes: s.batch * (2.0 * s.hidden_nodes + error_nodes + 2.0 * (s.inputs + s.outputs)) * WORD,
        checkpoints: 0.0,
        // The traces kept, traces.h5 three times over, and the report and figures.
        traces: 4.0 * s.trace_points * s.traced_samples * (s.hidden_nodes + error_nodes) * WORD
            + REPORT_BYTES,
        power_record: 0.0,
        ir_drop: 0.0,
        retained: 0.0,
    }
}

/// The machine's physical memory, from /proc/meminfo; 64 GiB where that cannot be read.
pub fn physical_memory_bytes() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(64.0 * (1u64 << 30) as f64, |kb| kb * 1024.0)
}

/// The sizes of a network, as floats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetworkSize {
    pub inputs: f64,
    pub outputs: f64,
    pub weights: f64,
    pub hidden_nodes: f64,
    pub layers: f64,
}

impl NetworkSize {
    /// The sizes of a network of layer widths `widths` (input first).
    pub fn of(widths: &[usize]) -> Self {
        let w: Vec<f64> = widths.iter().map(|&x| x as f64).collect();
        NetworkSize {
            inputs: w[0],
            outputs: w[w.len() - 1],
            weights: w.windows(2).map(|p| p[0] * p[1]).sum(),
            hidden_nodes: w[1..w.len() - 1].iter().sum(),
            layers: w.len() as f64 - 1.0,
        }
    }
}

impl RunSize {
    /// The size of a run of a network of size `net` with the resolved parameters.
    pub fn new(
        net: NetworkSize,
        run: &RunParams,
        dynamics: &Dynamics,
        device: &DeviceParams,
        crossbar: &CrossbarParams,
    ) -> Self {
        let batch = run.batch as f64;
        let steps = if dynamics.solver.is_adaptive() {
            0.0
        } else {
            (dynamics.t_max_seconds / dynamics.dt_seconds).ceil()
        };
        // A trace holds at most one point per step and the final state.
        let trace_points = (run.trace_points as f64).max(4.0);
        RunSize {
            inputs: net.inputs,
            outputs: net.outputs,
            weights: net.weights,
            hidden_nodes: net.hidden_nodes,
            layers: net.layers,
            batch,
            traced_samples: (run.trace_samples as f64).min(batch),
            trace_points: if steps > 0.0 {
                trace_points.min(steps + 1.0)
            } else {
                trace_points
            },
            steps,
            dynamic_errors: dynamics.tau_e_seconds > 0.0,
            noisy: dynamics.noisy,
            separate_backward: crossbar.backward == Backward::Separate,
            circuit_word: run.precision.bytes(),
            record_weights: run.record_weights,
            relative_noise: dynamics.noisy && device.read_noise.white_per_root_hertz > 0.0,
            tile_nodes: if crossbar.wire_resistance_ohms > 0.0 {
                2.0 * crossbar.rows as f64 * crossbar.cols as f64
            } else {
                0.0
            },
        }
    }
}

impl Circuit {
    /// The memory a run of this design needs ([`footprint`]).
    pub fn footprint(&self) -> Footprint {
        footprint(&RunSize::new(
            NetworkSize::of(&self.architecture.widths),
            &self.run,
            &self.dynamics,
            &self.device,
            &self.crossbar,
        ))
    }
}
