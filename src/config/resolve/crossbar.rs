//! [crossbar]: the tiles and their reads.

use super::resolver::{sp, usize_of, Resolver, Result};
use crate::config::raw::RawCrossbar;
use crate::hardware::params::{Backward, CrossbarParams};
use crate::hardware::technology::{CellKind, CELLS};
use serde_json::json;

/// Largest tile side: the largest fabricated crossbars have a few thousand rows.
pub const MAX_TILE_SIDE: u64 = 1 << 16;

/// The tile size and wires.
pub(super) struct Tiles {
    pub rows: u64,
    pub cols: u64,
    pub wire_ohms: f64,
    pub wire_farads: f64,
    pub separate: bool,
}

pub(super) fn tiles(r: &Resolver, c: &RawCrossbar) -> Result<Tiles> {
    let separate = c.backward.get_ref() == "separate";
    let rows = r.at_least(&c.rows, 1, "a tile's rows")?;
    let cols = r.at_least(&c.cols, 1, "a tile's columns")?;
    for (v, what) in [(&c.rows, "rows"), (&c.cols, "columns")] {
        r.ensure(v.get_ref().0 <= MAX_TILE_SIDE, &v.span(), || {
            format!(
                "a tile of {} {what} is not a crossbar (at most {MAX_TILE_SIDE})",
                v.get_ref().0
            )
        })?;
    }
    let wire_ohms = r.non_negative(&c.wire_resistance, "the wire resistance")?;
    let wire_farads = r.non_negative(&c.wire_capacitance, "the wire capacitance")?;
    Ok(Tiles {
        rows,
        cols,
        wire_ohms,
        wire_farads,
        separate,
    })
}

pub(super) fn crossbar(r: &mut Resolver, c: &RawCrossbar, t: &Tiles) -> Result<CrossbarParams> {
    let v_read = r.positive(&c.v_read, "v_read")?;
    r.put_all(
        "crossbar",
        vec![
            ("rows", json!(t.rows), sp(&c.rows)),
            ("cols", json!(t.cols), sp(&c.cols)),
            ("v_read_volts", json!(v_read), sp(&c.v_read)),
            (
                "wire_resistance_ohms",
                json!(t.wire_ohms),
                sp(&c.wire_resistance),
            ),
            (
                "wire_capacitance_farads",
                json!(t.wire_farads),
                sp(&c.wire_capacitance),
            ),
            ("backward", json!(c.backward.get_ref()), sp(&c.backward)),
            ("cell", json!(c.cell.get_ref()), sp(&c.cell)),
        ],
    );
    Ok(CrossbarParams {
        rows: usize_of(t.rows),
        cols: usize_of(t.cols),
        v_read_volts: v_read,
        wire_resistance_ohms: t.wire_ohms,
        wire_capacitance_farads: t.wire_farads,
        backward: if t.separate {
            Backward::Separate
        } else {
            Backward::Shared
        },
        // The schema admits only the table's names (Kind::Choice of CELL_NAMES).
        cell: CellKind::named(c.cell.get_ref()).unwrap_or(CELLS[0]),
    })
}
