//! The memory a design needs, estimated before anything is built, so that a design that cannot
//! fit is refused with the key that drives its size.

use super::crossbar::Tiles;
use super::data::Samples;
use super::network::Shape;
use super::resolver::{Resolver, Result};
use super::run::RunSection;
use crate::config::error::{gib, ErrorKind};
use crate::config::options::LoadOptions;
use crate::config::raw::RawNetwork;
use std::ops::Range;

/// Bytes kept per weight: W, a W, the effective forward and backward matrices, the programmed
/// G+ and G-, and the PC and BP gradients, in f64.
const BYTES_PER_WEIGHT: f64 = 64.0;
/// Extra bytes per weight for a separate backward array (its own G+, G- and effective matrix).
const BYTES_PER_SEPARATE_WEIGHT: f64 = 24.0;
/// Bytes per node and sample: z, e, mu, phi, phi', solver stages, noise and the settling record.
const BYTES_PER_NODE_SAMPLE: f64 = 192.0;
/// Bytes per node of a tile's nodal IR-drop system (sparse matrix and factor).
const BYTES_PER_TILE_NODE: f64 = 200.0;

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

/// Refuses a design whose estimate exceeds the memory limit, naming the value to blame.
pub(super) fn check_memory(
    r: &Resolver,
    n: &RawNetwork,
    shape: &Shape,
    run: &RunSection,
    samples: &Samples,
    tiles: &Tiles,
    opts: &LoadOptions,
) -> Result<()> {
    let (input, output, batch) = (shape.input as f64, shape.output as f64, run.batch as f64);
    let (weights, hidden_nodes) = shape.hidden.size(input, output);
    let nodes = input + hidden_nodes + output;
    let weight_bytes = weights
        * (BYTES_PER_WEIGHT
            + if tiles.separate {
                BYTES_PER_SEPARATE_WEIGHT
            } else {
                0.0
            });
    let activity_bytes =
        nodes * batch * BYTES_PER_NODE_SAMPLE + samples.count as f64 * (input + output) * 8.0;
    let tile_bytes = if tiles.wire_ohms > 0.0 {
        2.0 * tiles.rows as f64 * tiles.cols as f64 * BYTES_PER_TILE_NODE
    } else {
        0.0
    };
    let need = weight_bytes + activity_bytes + tile_bytes;
    let have = opts
        .memory_limit_bytes
        .unwrap_or_else(physical_memory_bytes);
    if need <= have {
        return Ok(());
    }
    // The network is to blame when even one sample would not fit.
    let one_sample = weight_bytes + nodes * BYTES_PER_NODE_SAMPLE;
    let batch_span = &run.batch_span;
    let span: Range<usize> = if tile_bytes >= weight_bytes.max(activity_bytes) {
        r.blame(&tiles.rows_span, &tiles.cols_span).clone()
    } else if weight_bytes >= activity_bytes || one_sample > have {
        shape.size_span(n, r)
    } else if r.ctx.user_given(batch_span) || samples.span.is_none() {
        batch_span.clone()
    } else {
        samples.span.clone().unwrap_or(batch_span.clone())
    };
    Err(r.ctx.error(
        &span,
        ErrorKind::TooLarge {
            needed_bytes: need,
            available_bytes: have,
            detail: format!(
                "weights {}, activities {}, IR-drop system {}",
                gib(weight_bytes),
                gib(activity_bytes),
                gib(tile_bytes)
            ),
        },
    ))
}
