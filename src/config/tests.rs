//! Tests of the loader as a whole: presets, example designs, the schema against the serde
//! structures and the JSON, overrides, spellings, provenance and options.

use super::*;
use crate::hardware::params::{Backward, ProgrammingError};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn opts() -> LoadOptions {
    LoadOptions::default()
}

fn ok(text: &str, sets: &[&str]) -> Circuit {
    load_str("t.toml", text, sets, &opts()).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str, sets: &[&str]) -> ConfigError {
    match load_str("t.toml", text, sets, &opts()) {
        Ok(_) => panic!("accepted:\n{text}\n{sets:?}"),
        Err(e) => e,
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_shipped_preset_loads_and_is_embedded() {
    for p in presets::PRESETS {
        let c = ok(&format!("device = \"{}\"", p.name), &[]);
        assert_eq!(c.device.name, p.name);
        // The embedded text is the file of the repository.
        let on_disk = std::fs::read_to_string(root().join(p.path)).unwrap();
        assert_eq!(on_disk, p.text, "{} is stale", p.path);
    }
    let rram = ok("device = \"rram_hfo2\"", &[]).device;
    assert_eq!(rram.levels, Some(16));
    assert_eq!((rram.g_min_siemens, rram.g_max_siemens), (1e-6, 40e-6));
    assert!(rram.drift.is_none() && rram.read_noise.thermal);
    let pcm = ok("device = \"pcm\"", &[]).device;
    assert_eq!(
        pcm.programming,
        ProgrammingError::Polynomial {
            coefficients_siemens: vec![0.26348e-6, 1.9650e-6, -1.1731e-6],
            g_ref_siemens: 25e-6
        }
    );
    assert_eq!(pcm.drift.as_ref().map(|d| d.t0_seconds), Some(20.0));
    let ecram = ok("device = \"ecram\"", &[]).device;
    assert_eq!(ecram.levels, Some(1000));
    assert_eq!(ecram.step_dtod, 0.1);
    // aihwkit's ReRAM fit is a quartic: all five coefficients reach the device.
    match &rram.programming {
        ProgrammingError::Polynomial {
            coefficients_siemens: c,
            ..
        } => assert_eq!(c.len(), 5),
        other => panic!("rram_hfo2 programming {other:?}"),
    }
}

#[test]
fn every_preset_file_cites_its_sources_in_comments() {
    for p in presets::PRESETS {
        let comments = p
            .text
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count();
        let keys = p
            .text
            .lines()
            .filter(|l| l.contains('=') && !l.trim_start().starts_with('#'))
            .count();
        assert!(
            comments >= keys,
            "{}: {comments} comment lines for {keys} keys",
            p.path
        );
    }
}

#[test]
fn the_ideal_preset_is_the_schema_defaults() {
    // An empty preset file leaves every device key at its schema default.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "# nothing\n").unwrap();
    let defaults = ok(
        &format!("[device]\npreset = {:?}", empty.display().to_string()),
        &[],
    );
    let ideal = ok("", &[]);
    let mut a = defaults.config.values["device"].clone();
    let mut b = ideal.config.values["device"].clone();
    a.remove("preset");
    b.remove("preset");
    assert_eq!(a, b);
    let mut d = defaults.device.clone();
    d.name = "ideal".into();
    assert_eq!(d, ideal.device);
    // And the ideal device has no non-ideality.
    let dev = &ideal.device;
    assert_eq!(dev.levels, None);
    assert_eq!(dev.programming, ProgrammingError::None);
    assert!(
        dev.drift.is_none()
            && !dev.read_noise.thermal
            && dev.read_noise.white_per_root_hertz == 0.0
    );
    assert_eq!(dev.stuck_off_fraction + dev.stuck_on_fraction, 0.0);
}

#[test]
fn every_example_design_loads() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("circuits")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            load(&path, &[] as &[&str], &opts()).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 3);
    let digits = load(
        &root().join("circuits/digits_rram.toml"),
        &[] as &[&str],
        &opts(),
    )
    .unwrap();
    assert_eq!(digits.architecture.widths, vec![64, 128, 128, 128, 10]);
    assert!(digits.architecture.skips);
    assert_eq!(digits.device.name, "rram_hfo2");
    assert_eq!(digits.data.source, DataSource::Optdigits { offset: 0 });
    assert!(digits.dynamics.noisy);
    let lin = load(
        &root().join("circuits/linear_residual.toml"),
        &[] as &[&str],
        &opts(),
    )
    .unwrap();
    assert_eq!(lin.architecture.widths, [vec![256; 8], vec![1]].concat());
    assert!(lin.architecture.activation.is_linear() && lin.architecture.skips);
    assert_eq!(lin.dynamics.tau_e_seconds, 0.0);
    let tiny = load(&root().join("circuits/tiny.toml"), &[] as &[&str], &opts()).unwrap();
    assert!(tiny.architecture.widths.iter().all(|&w| w <= 4));
    assert_eq!(tiny.crossbar.backward, Backward::Separate);
}

#[test]
fn the_schema_text_is_a_design_with_every_default() {
    let text = schema_text();
    let from_schema = ok(&text, &[]);
    let empty = ok("", &[]);
    assert_eq!(from_schema.config.values, empty.config.values);
    // Every key is documented in it, in both spellings for quantities.
    for k in schema::KEYS {
        assert!(
            text.contains(&format!("\n{} = ", k.name))
                || text.contains(&format!("# {} = <default", k.name)),
            "{}",
            k.path()
        );
        if let Some(si) = k.si_name() {
            assert!(text.contains(&si), "{si}");
        }
    }
}

/// The field names a serde structure accepts, read from its unknown-field error.
fn serde_fields<T: for<'de> serde::Deserialize<'de> + std::fmt::Debug>() -> BTreeSet<String> {
    let e = toml::from_str::<T>("zz_not_a_key = 1").unwrap_err();
    let msg = e.message().to_string();
    let list = msg
        .split("expected")
        .nth(1)
        .unwrap_or_else(|| panic!("{msg}"));
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_schema_and_the_serde_structures_accept_the_same_keys() {
    use super::raw::*;
    let cases = [
        ("network", serde_fields::<RawNetwork>()),
        ("device", serde_fields::<RawDevice>()),
        ("crossbar", serde_fields::<RawCrossbar>()),
        ("periphery", serde_fields::<RawPeriphery>()),
        ("dynamics", serde_fields::<RawDynamics>()),
        ("data", serde_fields::<RawData>()),
        ("run", serde_fields::<RawRun>()),
    ];
    for (section, fields) in cases {
        let keys: BTreeSet<String> = schema::section_keys(section)
            .map(|k| k.name.to_string())
            .collect();
        assert_eq!(fields, keys, "[{section}]");
    }
    let sections: BTreeSet<String> = schema::SECTIONS.iter().map(|s| s.0.to_string()).collect();
    assert_eq!(serde_fields::<RawDesign>(), sections);
}

#[test]
fn the_resolved_configuration_holds_every_key_in_its_si_spelling() {
    let c = ok("", &[]);
    for (section, _) in schema::SECTIONS {
        let want: BTreeSet<String> = schema::section_keys(section)
            .map(|k| k.si_name().unwrap_or_else(|| k.name.to_string()))
            .collect();
        let got: BTreeSet<String> = c.config.values[section].keys().cloned().collect();
        assert_eq!(got, want, "[{section}]");
        for k in &want {
            assert!(
                c.config.origins.contains_key(&format!("{section}.{k}")),
                "{section}.{k}"
            );
        }
    }
    let json = serde_json::to_string(&c.config).unwrap();
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back["values"]["periphery"]["rail_volts"], "inf");
    assert_eq!(back["values"]["device"]["g_max_siemens"], 25e-6);
}

#[test]
fn defaults_are_documented_values() {
    let c = ok("", &[]);
    assert_eq!(c.architecture.widths, vec![64, 128, 128, 128, 10]);
    assert_eq!(c.crossbar.rows, 256);
    assert_eq!(c.dynamics.tau_z_seconds, 100e-9);
    let tau_e = 1.0 / (2.0 * std::f64::consts::PI * 50e6);
    assert_eq!(c.dynamics.tau_e_seconds, tau_e);
    // The exponential scheme (the default) advances the error nodes exactly: tau_z / 20.
    assert_eq!(c.dynamics.solver, SolverKind::Exponential);
    assert_eq!(c.dynamics.dt_seconds, 100e-9 / 20.0);
    let heun = ok("[dynamics]\nsolver = \"heun\"", &[]);
    assert_eq!(heun.dynamics.dt_seconds, (tau_e / 4.0).min(100e-9 / 100.0));
    assert_eq!(c.run.batch, 32);
    assert_eq!(c.data.samples, 32);
    assert_eq!(c.periphery.rail_volts, None);
    assert_eq!(c.periphery.finite_gain, None);
    assert_eq!(c.periphery.adc.bits, None);
    assert!(!c.dynamics.noisy);
    assert_eq!(c.config.origins["dynamics.tau_e_seconds"], "derived");
    assert_eq!(c.config.origins["run.batch"], "default");
    // Algebraic error nodes: the step follows tau_z.
    let a = ok("[dynamics]\nsolver = \"heun\"\ntau_e = 0", &[]);
    assert_eq!(a.dynamics.tau_e_seconds, 0.0);
    assert_eq!(a.dynamics.dt_seconds, 100e-9 / 100.0);
}

#[test]
fn both_spellings_of_a_quantity_give_the_same_value() {
    let pairs = [
        ("[device]\ng_max = \"25uS\"", "[device]\ng_max_siemens = 2.5e-5"),
        ("[dynamics]\ntau_z = \"100ns\"", "[dynamics]\ntau_z_seconds = 1e-7"),
        ("[crossbar]\nwire_resistance = \"1.5kohm\"", "[crossbar]\nwire_resistance_ohms = 1500"),
        ("[periphery]\nerror_amp_bandwidth = \"50MHz\"", "[periphery]\nerror_amp_bandwidth_hertz = 5e7"),
        ("[periphery]\nadc_energy = \"2pJ\"", "[periphery]\nadc_energy_joules = 2e-12"),
        ("[periphery]\nnode_capacitance = \"10fF\"", "[periphery]\nnode_capacitance_farads = 1e-14"),
        ("[device]\ntemperature = \"300K\"", "[device]\ntemperature_kelvin = 300"),
        ("[periphery]\namplifier_power = \"20uW\"", "[periphery]\namplifier_power_watts = 2e-5"),
        ("[periphery]\nrail = \"0.8V\"", "[periphery]\nrail_volts = 0.8"),
        (
            "[device]\nprogramming = \"polynomial\"\nprogramming_coefficients = [\"1uS\", \"0uS\", \"-0.5uS\"]",
            "[device]\nprogramming = \"polynomial\"\nprogramming_coefficients_siemens = [1e-6, 0, -5e-7]",
        ),
    ];
    for (a, b) in pairs {
        assert_eq!(
            ok(a, &[]).config.values,
            ok(b, &[]).config.values,
            "{a} vs {b}"
        );
    }
    // Bare 0 needs no unit, and inf means no limit where the key allows it.
    assert_eq!(
        ok("[crossbar]\nwire_resistance = 0", &[])
            .crossbar
            .wire_resistance_ohms,
        0.0
    );
    assert_eq!(
        ok("[periphery]\nrail = inf", &[]).periphery.rail_volts,
        None
    );
    assert_eq!(
        ok("[periphery]\nrail_volts = inf", &[])
            .periphery
            .rail_volts,
        None
    );
    assert_eq!(
        ok("[periphery]\nrail = \"0.8V\"", &[]).periphery.rail_volts,
        Some(0.8)
    );
    assert!(matches!(
        *err("[dynamics]\ntau_z = inf", &[]).kind,
        ErrorKind::Invalid { .. }
    ));
}

#[test]
fn overrides_set_any_key_with_the_same_checks() {
    let c = ok(
        "device = \"pcm\"",
        &[
            "device.levels=16",
            "dynamics.tau_z=200ns",
            "network.hidden=[8, 8]",
            "network.skips=true",
            "run.batch=4",
        ],
    );
    assert_eq!(c.device.name, "pcm");
    assert_eq!(c.device.levels, Some(16));
    assert_eq!(c.dynamics.tau_z_seconds, 200e-9);
    assert_eq!(c.architecture.widths, vec![64, 8, 8, 10]);
    assert!(c.architecture.skips);
    assert_eq!(c.run.batch, 4);
    assert_eq!(c.config.origins["device.levels"], "--set device.levels=16");
    assert_eq!(
        c.config.origins["device.g_max_siemens"],
        "preset circuits/devices/pcm.toml"
    );
    // Strings need no quotes; `device=NAME` names the preset; the last override wins.
    assert_eq!(ok("", &["device.preset=ecram"]).device.name, "ecram");
    assert_eq!(ok("", &["device = rram_hfo2"]).device.name, "rram_hfo2");
    assert_eq!(ok("", &["run.seed=1", "run.seed=2"]).run.seed, 2);
    assert_eq!(ok("", &["device.preset=\"pcm\""]).device.name, "pcm");
    // An override replaces the key whichever spelling the file used.
    let c = ok("[device]\ng_max = \"25uS\"", &["device.g_max_siemens=3e-5"]);
    assert_eq!(c.device.g_max_siemens, 3e-5);
    let c = ok("[device]\ng_max_siemens = 2.5e-5", &["device.g_max=30uS"]);
    assert_eq!(c.device.g_max_siemens, 30e-6);
    // It can create a section the file lacks, and spaces around the parts are allowed.
    assert_eq!(ok("", &[" crossbar.rows = 64 "]).crossbar.rows, 64);
}

#[test]
fn bad_overrides_are_named_in_the_error() {
    let e = err("", &["device.levls=4"]);
    assert_eq!(
        e.to_string(),
        "<--set device.levls=4>:1:8: device.levls: unknown key `levls` in [device]; did you mean `levels`?"
    );
    let e = err("", &["devcie.levels=4"]);
    assert!(
        e.to_string()
            .contains("unknown section `devcie`; did you mean `device`?"),
        "{e}"
    );
    let e = err("", &["device.levels=1"]);
    assert_eq!(
        e.location.origin,
        Origin::Override("device.levels=1".into())
    );
    assert_eq!(e.key, "device.levels");
    let e = err("", &["dynamics.tau_z=25uS"]);
    assert!(matches!(*e.kind, ErrorKind::Unit(_)), "{e}");
    assert_eq!(e.location.column, 16);
    let e = err("", &["network.hidden=[8,"]);
    assert!(matches!(*e.kind, ErrorKind::Syntax { .. }), "{e}");
    for bad in [
        "device.levels",
        "levels=3",
        "a.b.c=1",
        "=3",
        "device.levels=",
        ".x=1",
    ] {
        let e = err("", &[bad]);
        assert!(
            e.to_string().starts_with(&format!("<--set {bad}>:1:")),
            "{e}"
        );
        assert_eq!(e.to_string().lines().count(), 1);
    }
    let e = err("", &["run.batch=many"]);
    assert_eq!(e.key, "run.batch");
    assert!(
        e.to_string()
            .contains("expected a non-negative integer, found a string"),
        "{e}"
    );
}

#[test]
fn apply_override_works_on_a_parsed_document() {
    let text = "[device]\npreset = \"pcm\"\nlevels = 8\n";
    let mut doc = Document::parse("d.toml", text).unwrap();
    apply_override(&mut doc, "device.levels=64").unwrap();
    assert!(apply_override(&mut doc, "device.nope=1").is_err());
    let c = doc.resolve(&opts()).unwrap();
    assert_eq!(c.device.levels, Some(64));
    assert_eq!(c.name, "d.toml");
}

#[test]
fn parameters_of_an_unselected_mode_are_errors() {
    let e = err("[device]\nprogramming_fraction = 0.02", &[]);
    assert_eq!(e.key, "device.programming_fraction");
    let e = err("device = \"pcm\"", &["device.programming_fraction=0.02"]);
    assert!(
        e.to_string()
            .contains("has no effect unless device.programming = \"constant\""),
        "{e}"
    );
    // Switching the mode makes it count.
    let c = ok(
        "device = \"pcm\"",
        &[
            "device.programming=constant",
            "device.programming_fraction=0.02",
        ],
    );
    assert_eq!(
        c.device.programming,
        ProgrammingError::Constant {
            fraction_of_g_max: 0.02
        }
    );
    assert_eq!(
        err("[device]\ndrift_nu_mean = 0.05", &[]).key,
        "device.drift_nu_mean"
    );
    assert_eq!(
        err("[data]\nsource = \"optdigits\"\ntarget_noise = 0.1", &[]).key,
        "data.target_noise"
    );
}

#[test]
fn noise_and_solvers_must_agree() {
    // A noisy device needs an SDE solver, unless noise is switched off.
    assert_eq!(
        err("device = \"pcm\"\n[dynamics]\nsolver = \"rk4\"", &[]).key,
        "dynamics.solver"
    );
    let c = ok(
        "device = \"pcm\"\n[dynamics]\nsolver = \"dop853\"\nnoise = false",
        &[],
    );
    assert!(!c.dynamics.noisy);
    assert!(ok("device = \"pcm\"", &[]).dynamics.noisy);
    assert!(!ok("[dynamics]\nsolver = \"dopri5\"", &[]).dynamics.noisy);
    assert_eq!(
        err(
            "[periphery]\nktc_noise = true\n[dynamics]\nsolver = \"dopri5\"",
            &[]
        )
        .key,
        "dynamics.solver"
    );
}

#[test]
fn widths_come_from_the_data_source() {
    let c = ok(
        "[network]\ninput = 5\nhidden = [7]\noutput = 3\n[data]\nsource = \"teacher\"",
        &[],
    );
    assert_eq!(c.architecture.widths, vec![5, 7, 3]);
    assert_eq!(
        c.data.source,
        DataSource::Teacher {
            seed: 0,
            input_std: 1.0,
            target_noise: 0.0
        }
    );
    let c = ok("[network]\ninput = 5\noutput = 3\n[data]\nsource = \"gaussian\"\nseed = 9\n[run]\nseed = 4", &[]);
    assert_eq!(
        c.data.source,
        DataSource::Gaussian {
            seed: 9,
            input_std: 1.0,
            target_std: 1.0
        }
    );
    assert_eq!(
        err("[network]\noutput = 3\n[data]\nsource = \"teacher\"", &[]).key,
        "network.input"
    );
    assert_eq!(err("[network]\noutput = 9", &[]).key, "network.output");
}

#[test]
fn an_hdf5_source_supplies_the_network() {
    let design = "[data]\nsource = \"hdf5:circuits/reference/tanh_mupc_skips.h5\"\n";
    let c = load_with_base("h.toml", design, Some(root()), &[] as &[&str], &opts()).unwrap();
    assert_eq!(c.architecture.widths, vec![16, 32, 32, 32, 4]);
    assert!(c.architecture.skips);
    assert_eq!(c.run.batch, 8);
    assert_eq!(c.data.samples, 8);
    assert_eq!(
        c.data.source,
        DataSource::Hdf5 {
            path: root().join("circuits/reference/tanh_mupc_skips.h5")
        }
    );
    let e = load_with_base(
        "h.toml",
        &format!("{design}[network]\nactivation = \"relu\"\n"),
        Some(root()),
        &[] as &[&str],
        &opts(),
    )
    .unwrap_err();
    assert_eq!(e.key, "network.activation");
    assert!(
        e.to_string()
            .contains("the weights file says activation tanh"),
        "{e}"
    );
    let e = load_with_base("h.toml", design, Some(root()), &["run.batch=16"], &opts()).unwrap_err();
    assert_eq!(e.key, "run.batch");
    // Without file access (fuzzing) the source is rejected, not read.
    let no_files = LoadOptions {
        read_files: false,
        ..opts()
    };
    let e = load_with_base("h.toml", design, Some(root()), &[] as &[&str], &no_files).unwrap_err();
    assert!(e.to_string().contains("reading files is disabled"), "{e}");
}

#[test]
fn the_memory_estimate_uses_the_given_limit() {
    let small = LoadOptions {
        memory_limit_bytes: Some((64u64 << 20) as f64),
        ..opts()
    };
    let e = load_str("m.toml", "[network]\nwidth = 256", &[] as &[&str], &small).unwrap_err();
    assert!(matches!(*e.kind, ErrorKind::TooLarge { .. }), "{e}");
    assert_eq!(e.key, "network.width");
    assert!(load_str(
        "m.toml",
        "[network]\nwidth = 8\ndepth = 2",
        &[] as &[&str],
        &small
    )
    .is_ok());
    // A depth far too large is rejected before any width vector is built.
    let e = err("[network]\nwidth = 1\ndepth = 9223372036854775807", &[]);
    assert_eq!(e.key, "network.width");
}

/// The traces, the settling checkpoints and the per-step records of a run count: designs whose
/// run needed tens of gigabytes passed `check`. With a limit of 16 GiB, each is refused at the
/// key that was changed.
#[test]
fn the_memory_estimate_counts_what_a_run_records() {
    let tiny = std::fs::read_to_string(root().join("circuits/tiny.toml")).unwrap();
    let limit = LoadOptions {
        memory_limit_bytes: Some((16u64 << 30) as f64),
        ..opts()
    };
    let load = |sets: &[&str]| load_with_base("tiny.toml", &tiny, Some(root()), sets, &limit);
    for (sets, key, term) in [
        (
            &["network.hidden=[1000000]"][..],
            "network.hidden",
            "traces",
        ),
        (
            &["run.batch=20000", "network.hidden=[1000]"][..],
            "run.batch",
            "settling checkpoints",
        ),
        (
            &["dynamics.t_max=100ms"][..],
            "dynamics.t_max",
            "power record",
        ),
    ] {
        let e = load(sets).unwrap_err();
        assert!(matches!(*e.kind, ErrorKind::TooLarge { .. }), "{e}");
        assert_eq!(e.key, key, "{e}");
        assert!(matches!(e.location.origin, Origin::Override(_)), "{e}");
        let message = e.to_string();
        let detail = message.split_once("GiB (").map_or("", |(_, d)| d);
        assert!(
            detail.starts_with(term),
            "{sets:?}: the largest part is not {term}: {e}"
        );
    }
    // The terms in closed form for tiny.toml itself: 4 inputs, hidden 3 and 3, 2 outputs, a
    // batch of 4 all traced, 1000 trace points, 5us in steps of 0.1ns.
    let f = load(&[]).unwrap().footprint();
    let (points, hidden, errors, batch) = (1000.0, 6.0, 8.0, 4.0);
    assert_eq!(f.checkpoints, points * (hidden + errors) * batch * 8.0);
    assert_eq!(f.traces, points * batch * (hidden + 2.0 * errors) * 8.0);
    let steps = (5e-6_f64 / 0.1e-9).ceil();
    // Per step and record: 3 layers of 10 energy components (8 bytes each), and the entry.
    assert_eq!(f.power_record, 2.0 * (steps + 1.0) * (3.0 * 80.0 + 72.0));
}

#[test]
fn errors_prefer_the_value_the_user_wrote() {
    // The preset's g_min is fine on its own; the user's g_max is what breaks the window.
    let e = err("device = \"rram_hfo2\"", &["device.g_max=0.5uS"]);
    assert_eq!(e.key, "device.g_max");
    assert!(
        e.to_string()
            .contains("g_min (1uS) must be below g_max (500nS)"),
        "{e}"
    );
    let e = err("[device]\ng_min = \"30uS\"", &[]);
    assert_eq!(e.key, "device.g_min");
    assert_eq!((e.location.line, e.location.column), (2, 9));
    // Of two values the user wrote, the override is the more recent change; the message says
    // where the other is set.
    let e = err("[device]\ng_min = \"5uS\"\n", &["device.g_max=1uS"]);
    assert_eq!(e.key, "device.g_max");
    assert!(
        e.to_string()
            .ends_with("; device.g_min is set at t.toml:2:9"),
        "{e}"
    );
    // A relation that a derived value breaks names the key it was derived from: the settle
    // window is 10 tau_z.
    let e = err("[dynamics]\ntau_z = \"50ms\"\nt_max = \"5us\"\n", &[]);
    assert_eq!(e.key, "dynamics.tau_z");
    assert!(
        e.to_string()
            .contains("dynamics.t_max is set at t.toml:3:9"),
        "{e}"
    );
}

#[test]
fn a_step_too_long_for_a_time_constant_is_refused() {
    let design = "[dynamics]\nsolver = \"euler\"\ndt = \"0.1ns\"\nt_max = \"5us\"\n";
    // 2 tau_e: the bandwidth that sets tau_e is the value changed.
    let e = err(design, &["periphery.error_amp_bandwidth=10GHz"]);
    assert_eq!(e.key, "periphery.error_amp_bandwidth");
    assert!(
        e.to_string().contains("dynamics.dt is set at t.toml:3:6"),
        "{e}"
    );
    // At the limit itself the step is accepted.
    let tau_e = 0.05e-9;
    let c = ok(design, &[&format!("dynamics.tau_e_seconds={tau_e:e}")]);
    assert_eq!(c.dynamics.dt_seconds, max_stable_step(tau_e));
    // 2 tau_z, with algebraic error nodes.
    let e = err(design, &["dynamics.tau_e=0", "dynamics.tau_z=40ps"]);
    assert_eq!(e.key, "dynamics.tau_z");
    assert!(
        e.to_string()
            .contains("the explicit step of the value nodes"),
        "{e}"
    );
    assert!(
        ok(design, &["dynamics.tau_e=0", "dynamics.tau_z=50ps"])
            .dynamics
            .tau_e_seconds
            == 0.0
    );
}

#[test]
fn circuits_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Circuit>();
    send_sync::<ConfigError>();
}
