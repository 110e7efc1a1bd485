//! The PPA of a run (report.json's `ppa`) against closed forms written from the cited table
//! values themselves (docs/circuit-model.md, "The periphery table", "Area", "PPA"): the survey
//! ADC's FOM_W and area, ISAAC's DAC, NeuroSim's 48 F^2 1T1R cell, and the ops convention.

use apcsim::analog::Component;
use apcsim::measure::{run, RunReport};

mod common;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// One period of ISAAC's 1.28 GS/s DAC; one period of the 28 nm survey ADC (VLSI 2020 CD1.3,
/// 1 GS/s); a single-pole TIA of 50 MHz settling to half an LSB of 8 bits, (8 + 1) ln 2 tau.
const T_DAC: f64 = 1.0 / 1.28e9;
const T_ADC_28NM: f64 = 1.0 / 1e9;

fn t_read(bandwidth_hertz: f64, bits: u32) -> f64 {
    (bits as f64 + 1.0) * std::f64::consts::LN_2 / (2.0 * std::f64::consts::PI * bandwidth_hertz)
}

/// Bias of an amplifier of bandwidth f_c into C_z by gm/I_D = 15 S/A: V_dd 2 (2 pi f_c C_z) / 15.
fn bias_watts(supply: f64, bandwidth: f64, load: f64) -> f64 {
    supply * 2.0 * (2.0 * std::f64::consts::PI * bandwidth * load) / 15.0
}

fn tiny(set: &[&str]) -> apcsim::config::Circuit {
    let path = common::repo_path("circuits/tiny.toml");
    apcsim::config::load(&path, set, &apcsim::config::LoadOptions::default()).unwrap()
}

/// circuits/tiny.toml at the 28 nm node: widths 4-3-3-2 on 2 x 2 tiles, separate backward
/// arrays, 8-bit converters; both columns of its PPA.
#[test]
fn ppa_of_tiny_matches_the_table_and_the_conventions() {
    let circuit = tiny(&["periphery.technology=28nm"]);
    let res = run(&circuit, &|_, _| {}).unwrap();
    let m = res.report.measurements().unwrap();
    let p = &m.ppa;
    let pc = p
        .relaxation
        .as_ref()
        .expect("a PC run has the relaxation column");
    let ff = &p.feedforward;
    // Murmann's survey, VLSI 2020 CD1.3 (28 nm SAR): 16.64 fJ/conv-step, 0.002 mm^2.
    let adc_energy = 16.64e-15 * 256.0;
    // ISAAC's one-bit DAC (4 mW / (1024 x 1.28 GS/s), 0.00017 mm^2 / 1024 at 32 nm), 2^7 units,
    // scaled by 28/32 (energy) and (28/32)^2 (area).
    let dac_unit = 4e-3 / (1024.0 * 1.28e9);
    let dac_energy = dac_unit * 128.0 * 28.0 / 32.0;
    let dac_area = 0.00017e-6 / 1024.0 * 128.0 * (28.0f64 / 32.0).powi(2);
    // PC reads out e_1 (3); e_2, phi(z_1) (3 + 3); e_3, phi(z_2) (2 + 3): 14 conversions, and
    // converts the inputs (4) and targets (2). Feedforward converts every layer's inputs
    // (4 + 3 + 3) and outputs (3 + 3 + 2).
    let (adcs, dacs) = (14.0, 6.0);
    let e = &pc.energy_by_component_joules;
    assert!(rel(e.get(Component::Adc), adcs * adc_energy) < 1e-12);
    assert!(rel(e.get(Component::Dac), dacs * dac_energy) < 1e-12);
    let e = &ff.energy_by_component_joules;
    assert!(rel(e.get(Component::Adc), 8.0 * adc_energy) < 1e-12);
    assert!(rel(e.get(Component::Dac), 10.0 * dac_energy) < 1e-12);
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
    // Latency: DAC, three reads, the relaxation (the settling window), ADC.
    let read = t_read(50e6, 8);
    let window = m.settling.window_seconds;
    let ph = &pc.latency_by_phase_seconds;
    assert!(rel(ph.dac, T_DAC) < 1e-12 && rel(ph.adc, T_ADC_28NM) < 1e-12);
    assert!(rel(ph.feedforward, 3.0 * read) < 1e-12 && ph.relaxation == window);
    let latency = T_DAC + 3.0 * read + window + T_ADC_28NM;
    assert!(rel(pc.latency_seconds, latency) < 1e-12);
    let interval = (T_DAC + 3.0 * read + window).max(T_ADC_28NM);
    assert!(rel(pc.pipeline_interval_seconds, interval) < 1e-12);
    let ff_latency = 3.0 * (T_DAC + read + T_ADC_28NM);
    assert!(rel(ff.latency_seconds, ff_latency) < 1e-12);
    assert_eq!(ff.latency_by_phase_seconds.relaxation, 0.0);
    let ff_interval = (T_DAC + read).max(T_ADC_28NM);
    assert!(rel(ff.pipeline_interval_seconds, ff_interval) < 1e-12);
    // The error amplifiers (3 + 3 + 2) are biased over the feedforward phase and the
    // relaxation; the activation circuits (phi, phi', the multiplier of 3 + 3 nodes) too. In
    // feedforward mode the activation is digital and only the forward TIAs (3 + 3 + 2) are
    // on, while their layer converts its inputs and reads.
    let bias = bias_watts(1.1, 50e6, circuit.periphery.node_capacitance_farads);
    let on = T_DAC + 3.0 * read + window;
    let e = &pc.energy_by_component_joules;
    assert!(rel(e.get(Component::ErrorAmplifiers), 8.0 * bias * on) < 1e-9);
    assert!(rel(e.get(Component::Activation), 18.0 * bias * on) < 1e-9);
    let e = &ff.energy_by_component_joules;
    assert_eq!(e.get(Component::ErrorAmplifiers), 0.0);
    assert_eq!(e.get(Component::Integrators), 0.0);
    assert_eq!(e.get(Component::Activation), 0.0);
    // The relaxation's energy is the run's plus that of its feedforward phase.
    assert!(pc.energy_per_inference_joules > m.energy.per_sample_joules);
    // Ops: 2 x (forward 12 + 9 + 6, backward 9 + 6) for PC, 2 x 27 for feedforward.
    assert_eq!((pc.ops_per_inference, ff.ops_per_inference), (84, 54));
    for (mode, ops, interval) in [(pc, 84.0, interval), (ff, 54.0, ff_interval)] {
        let energy = mode.energy_per_inference_joules;
        assert!(rel(mode.tops, ops / interval / 1e12) < 1e-12);
        assert!(rel(mode.tops_per_watt, ops / energy / 1e12) < 1e-12);
        assert!(rel(mode.tops_per_square_millimeter, mode.tops / (a.total * 1e6)) < 1e-12);
        let edp = energy * mode.latency_seconds;
        assert!(rel(mode.energy_delay_product_joule_seconds, edp) < 1e-12);
    }
    assert_eq!(p.technology, "28nm");
    assert_eq!(p.cell, "1t1r");
    // report.json reads back to the same report.
    let back = RunReport::from_json(&res.report.to_json_pretty()).unwrap();
    assert_eq!(back.measurements().unwrap().ppa, *p);
}

/// Feedforward mode on a linear tiny without wire resistance or rails: the first layer's row
/// drivers draw V_dd v_read |x_i| G_i on each row (G_i the row's device conductance, both
/// polarities, read from the mapped arrays) while the DAC converts and the read settles, and
/// the devices dissipate v_read^2 x_i^2 G_i; the run is the feedforward column of the same
/// design's PC run.
#[test]
fn feedforward_mode_reads_each_layer_once() {
    let set = [
        "network.activation=linear",
        "crossbar.wire_resistance=0ohm",
        "periphery.rail=inf",
        "periphery.technology=28nm",
    ];
    let ff_run = run(
        &tiny(&[&set[..], &["run.mode=feedforward"]].concat()),
        &|_, _| {},
    )
    .unwrap();
    let pc_run = run(&tiny(&set), &|_, _| {}).unwrap();
    let m = ff_run.report.measurements().unwrap();
    assert!(m.ppa.relaxation.is_none());
    assert_eq!(
        m.ppa.feedforward,
        pc_run.report.measurements().unwrap().ppa.feedforward
    );
    let ff = &m.ppa.feedforward;
    assert!(rel(m.energy.per_sample_joules, ff.energy_per_inference_joules) < 1e-12);
    assert_eq!(m.settling.times.worst_seconds, 0.0);
    assert_eq!(m.dynamics.steps, 0);
    assert!(rel(m.settling.window_seconds, ff.latency_seconds) < 1e-12);
    let circuit = tiny(&set);
    let mut x = ff_run.built.batch.x.clone();
    circuit.periphery.dac.convert_all(x.as_mut_slice());
    let layer = &ff_run.built.mapped.layers[0];
    let g = &layer.forward.plus.read + &layer.forward.minus.read;
    let (mut drive, mut heat) = (0.0, 0.0);
    for s in 0..x.ncols() {
        for i in 0..x.nrows() {
            let gi: f64 = g.row(i).sum();
            drive += x[(i, s)].abs() * gi;
            heat += x[(i, s)].powi(2) * gi;
        }
    }
    let (v, t) = (0.2, T_DAC + t_read(50e6, 8));
    let b = x.ncols() as f64;
    let by = &m.energy.by_layer_component_joules[0];
    let expect = 1.1 * v * drive * t;
    let got = by.get(Component::CrossbarForward);
    assert!(rel(got, expect) < 1e-12, "{got:e} vs {expect:e}");
    let got = by.get(Component::DeviceJouleHeat);
    assert!(rel(got, v * v * heat * t) < 1e-12);
    assert!(
        rel(
            ff.energy_by_component_joules
                .get(Component::DeviceJouleHeat)
                * b,
            m.energy.by_component_joules.get(Component::DeviceJouleHeat)
        ) < 1e-12
    );
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
    // An integrating ADC: its power over the input window, 206 uW x 128 ns = 26.4 pJ.
    let c = load(&["periphery.adc_power=206uW", "periphery.dac_time=128ns"]);
    assert!(rel(c.periphery.adc.energy_joules, 206e-6 * 128e-9) < 1e-12);
    assert_eq!(c.periphery.adc_power_watts, Some(206e-6));
    let c = load(&["periphery.technology=65nm", "periphery.supply=1.2V"]);
    assert_eq!(c.periphery.supply_volts, 1.2);
    assert!(rel(c.periphery.adc.energy_joules, 33.89e-15 * 256.0) < 1e-12);
}

/// The core's digital side (docs/circuit-model.md, "The core's digital side") on tiny at 28 nm
/// (1.1 V), from Horowitz's 45 nm, 0.9 V figures (ISSCC 2014, Fig. 1.1.9) scaled by
/// (28/45)(1.1/0.9)^2 and Dally's 100 fJ/bit/mm: an 8-bit register clocked at 1.28 GHz while its
/// converter converts (one bit 0.03 pJ / 8), a quarter of a 32-bit 8 KB SRAM word (5 pJ) per value
/// in and out, a 16-bit float multiply and add (1.1 + 0.4 pJ) and 8 bits over one core pitch per
/// value out. The pitch is the side of a square holding a 2 x 2 tile's 8 cells of 48 F^2, its 2
/// survey ADCs (0.002 mm^2) and 2 ISAAC DACs of 8 bits.
#[test]
fn the_core_prices_each_conversion_from_horowitz_and_dally() {
    let circuit = tiny(&["periphery.technology=28nm"]);
    let res = run(&circuit, &|_, _| {}).unwrap();
    let p = &res.report.measurements().unwrap().ppa;
    let s = 28.0 / 45.0 * (1.1f64 / 0.9).powi(2);
    let register_watts = 8.0 * 0.03e-12 / 8.0 * s * 1.28e9;
    let buffer = 5e-12 * s * 8.0 / 32.0;
    let dac_area = 0.00017e-6 / 1024.0 * 128.0 * (28.0f64 / 32.0).powi(2);
    let tile = 8.0 * 48.0 * 28e-9 * 28e-9 + 2.0 * 0.002e-6 + 2.0 * dac_area;
    let hop = 8.0 * 100e-15 / 1e-3 * tile.sqrt();
    let per_dac = buffer + register_watts * T_DAC;
    let per_adc = (1.1e-12 + 0.4e-12) * s + buffer + hop + register_watts * T_ADC_28NM;
    // The conversions of ppa_of_tiny_matches_the_table_and_the_conventions: PC 6 in, 14 out;
    // feedforward 10 in, 8 out.
    let pc = p.relaxation.as_ref().unwrap();
    let got = pc.energy_by_component_joules.get(Component::Core);
    let want = 6.0 * per_dac + 14.0 * per_adc;
    assert!(rel(got, want) < 1e-12, "{got:e} vs {want:e}");
    let got = p
        .feedforward
        .energy_by_component_joules
        .get(Component::Core);
    let want = 10.0 * per_dac + 8.0 * per_adc;
    assert!(rel(got, want) < 1e-12, "{got:e} vs {want:e}");
    // A stated register energy wins: at zero, the buffers, the scaling and the network remain.
    let stated = tiny(&["periphery.technology=28nm", "periphery.register_energy=0J"]);
    let res = run(&stated, &|_, _| {}).unwrap();
    let ff = &res.report.measurements().unwrap().ppa.feedforward;
    let got = ff.energy_by_component_joules.get(Component::Core);
    let want = 10.0 * buffer + 8.0 * (per_adc - register_watts * T_ADC_28NM);
    assert!(rel(got, want) < 1e-12, "{got:e} vs {want:e}");
    // An integrating ADC of stated power (200 uW) draws it over the input window (T_DAC): 8
    // conversions of 200 uW x T_DAC; its counter is in that power, so the core keeps the DACs'
    // registers and loses the ADCs'.
    let integrating = tiny(&["periphery.technology=28nm", "periphery.adc_power=200uW"]);
    let res = run(&integrating, &|_, _| {}).unwrap();
    let ff = &res.report.measurements().unwrap().ppa.feedforward;
    let got = ff.energy_by_component_joules.get(Component::Adc);
    let want = 8.0 * 200e-6 * T_DAC;
    assert!(rel(got, want) < 1e-12, "{got:e} vs {want:e}");
    let got = ff.energy_by_component_joules.get(Component::Core);
    let want = 10.0 * per_dac + 8.0 * (per_adc - register_watts * T_ADC_28NM);
    assert!(rel(got, want) < 1e-12, "{got:e} vs {want:e}");
}
