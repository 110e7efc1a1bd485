//! The PPA of a run (report.json's `ppa`) against closed forms written from the cited table
//! values themselves (docs/circuit-model.md, "The periphery table", "Area", "PPA"): the survey
//! ADC's FOM_W and area, ISAAC's DAC, NeuroSim's 48 F^2 1T1R cell, and the ops convention.

use apcsim::analog::Component;
use apcsim::measure::{run, RunReport};

mod common;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// circuits/tiny.toml at the 28 nm node: widths 4-3-3-2 on 2 x 2 tiles, separate backward
/// arrays, 8-bit converters.
#[test]
fn ppa_of_tiny_matches_the_table_and_the_conventions() {
    let path = common::repo_path("circuits/tiny.toml");
    let circuit = apcsim::config::load(
        &path,
        &["periphery.technology=28nm"],
        &apcsim::config::LoadOptions::default(),
    )
    .unwrap();
    let res = run(&circuit, &|_, _| {}).unwrap();
    let m = res.report.measurements().unwrap();
    let p = &m.ppa;
    // Murmann's survey, VLSI 2020 CD1.3 (28 nm SAR): 16.64 fJ/conv-step, 0.002 mm^2.
    let adc_energy = 16.64e-15 * 256.0;
    // ISAAC's one-bit DAC (4 mW / (1024 x 1.28 GS/s), 0.00017 mm^2 / 1024 at 32 nm), 2^7 units,
    // scaled by 28/32 (energy) and (28/32)^2 (area).
    let dac_unit = 4e-3 / (1024.0 * 1.28e9);
    let dac_energy = dac_unit * 128.0 * 28.0 / 32.0;
    let dac_area = 0.00017e-6 / 1024.0 * 128.0 * (28.0f64 / 32.0).powi(2);
    // One ADC per value read out: e_1 (3); e_2, phi(z_1) (3 + 3); e_3, phi(z_2) (2 + 3).
    let adcs = 14.0;
    // One DAC per input (4) and per target (2).
    let dacs = 6.0;
    let e = &p.energy_by_component_joules;
    eprintln!(
        "adc {:.6e} J (expect {:.6e}), dac {:.6e} J (expect {:.6e})",
        e.get(Component::Adc),
        adcs * adc_energy,
        e.get(Component::Dac),
        dacs * dac_energy
    );
    assert!(rel(e.get(Component::Adc), adcs * adc_energy) < 1e-12);
    assert!(rel(e.get(Component::Dac), dacs * dac_energy) < 1e-12);
    // Tiles of 2 x 2: every layer holds its forward arrays and (backward = "separate") a
    // transposed copy: layer 1 (4 x 3) 4 + 4, layer 2 (3 x 3) 4 + 4, layer 3 (3 x 2) 2 + 2,
    // 20 tiles of 2 x 2 pairs of 48 F^2 cells at F = 28 nm.
    let tiles: usize = res
        .built
        .mapped
        .layers
        .iter()
        .map(|m| m.tiles(&circuit.crossbar))
        .sum();
    assert_eq!(tiles, 20);
    let cells = 20.0 * 4.0 * 2.0 * 48.0 * 28e-9 * 28e-9;
    let a = &p.area_square_meters;
    assert!(rel(a.cells, cells) < 1e-12, "{} vs {cells}", a.cells);
    assert!(rel(a.adc, adcs * 0.002e-6) < 1e-12);
    assert!(rel(a.dac, dacs * dac_area) < 1e-12);
    assert!(rel(a.total, cells + adcs * 0.002e-6 + dacs * dac_area) < 1e-12);
    let layers: f64 = p.area_by_layer_square_meters.iter().map(|l| l.total).sum();
    assert!(rel(layers, a.total) < 1e-12);
    // Ops: 2 x (forward 12 + 9 + 6, backward 9 + 6) per inference.
    assert_eq!(p.ops_per_inference, 84);
    let latency = m.settling.window_seconds;
    assert_eq!(p.latency_seconds, latency);
    let energy = m.energy.per_sample_joules;
    assert_eq!(p.energy_per_inference_joules, energy);
    assert!(rel(p.tops, 84.0 / latency / 1e12) < 1e-12);
    assert!(rel(p.tops_per_watt, 84.0 / energy / 1e12) < 1e-12);
    assert!(rel(p.tops_per_square_millimeter, p.tops / (a.total * 1e6)) < 1e-12);
    assert!(rel(p.energy_delay_product_joule_seconds, energy * latency) < 1e-12);
    assert_eq!(p.technology, "28nm");
    assert_eq!(p.cell, "1t1r");
    // report.json reads back to the same report.
    let back = RunReport::from_json(&res.report.to_json_pretty()).unwrap();
    assert_eq!(back.measurements().unwrap().ppa, *p);
}

/// The node changes what the table prices: at 14 nm (VLSI 2017 21.1: 12.78 fJ/conv-step,
/// 0.85 V) the ADC energy per conversion is 12.78 fJ x 2^8 and the supply 0.85 V; a design that
/// states its converter energy keeps it.
#[test]
fn the_node_sets_the_defaults_and_a_stated_value_wins() {
    let path = common::repo_path("circuits/tiny.toml");
    let load = |set: &[&str]| {
        apcsim::config::load(&path, set, &apcsim::config::LoadOptions::default()).unwrap()
    };
    let c = load(&["periphery.technology=14nm"]);
    assert_eq!(c.periphery.supply_volts, 0.85);
    assert!(rel(c.periphery.adc.energy_joules, 12.78e-15 * 256.0) < 1e-12);
    let c = load(&["periphery.technology=14nm", "periphery.adc_energy=78fJ"]);
    assert_eq!(c.periphery.adc.energy_joules, 78e-15);
    let c = load(&["periphery.technology=65nm", "periphery.supply=1.2V"]);
    assert_eq!(c.periphery.supply_volts, 1.2);
    assert!(rel(c.periphery.adc.energy_joules, 33.89e-15 * 256.0) < 1e-12);
}
