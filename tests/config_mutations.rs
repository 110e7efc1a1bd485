//! The loader never panics on mutated designs: a property test over random edits of the shipped
//! example designs and presets (deletions, insertions of format tokens, swapped and duplicated
//! lines) and random `--set` overrides. It complements the cargo-fuzz target in `fuzz/`, which
//! needs a nightly toolchain; this one runs with every `cargo test`.

use apcsim::config::{load_str, presets, LoadOptions};
use proptest::prelude::*;
use std::path::Path;

const TOKENS: &[&str] = &[
    "[network]",
    "[device]",
    "[crossbar]",
    "[periphery]",
    "[dynamics]",
    "[data]",
    "[run]",
    "[[run]]",
    "[device.x]",
    "device = ",
    "preset = ",
    "levels",
    "g_max",
    "g_max_siemens",
    "tau_z",
    "tau_z_seconds",
    "hidden",
    "width",
    "depth",
    "batch",
    "source",
    "\"hdf5:x.h5\"",
    "\"continuous\"",
    "\"25uS\"",
    "\"25us\"",
    "\"1e400V\"",
    "\"-3ns\"",
    "\"0.2 V\"",
    "\"µs\"",
    "\"pcm\"",
    "\"nope\"",
    "inf",
    "-inf",
    "nan",
    "0",
    "-1",
    "1e999",
    "9223372036854775807",
    "18446744073709551616",
    "[]",
    "[1, 0]",
    "[1e9, 1e9]",
    "{a = 1}",
    "true",
    "\"",
    "'",
    "=",
    "\n",
    ".",
    ",",
    "#",
    "1979-05-27",
    "\u{0}",
    "é",
    "Ω",
    " ",
    "\t",
    "\\u00",
];

fn designs() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("circuits");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    out.sort();
    out.extend(presets::PRESETS.iter().map(|p| p.text.to_string()));
    out.push(String::new());
    out
}

#[derive(Clone, Debug)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, token: usize },
    SwapLines { a: usize, b: usize },
    DuplicateLine { a: usize },
    DropLine { a: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..12).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), any::<usize>()).prop_map(|(at, token)| Edit::Insert { at, token }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
        any::<usize>().prop_map(|a| Edit::DuplicateLine { a }),
        any::<usize>().prop_map(|a| Edit::DropLine { a }),
    ]
}

fn apply(text: &str, e: &Edit) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    match *e {
        Edit::Delete { at, len } => {
            if !chars.is_empty() {
                let at = at % chars.len();
                let end = (at + len).min(chars.len());
                chars.drain(at..end);
            }
            chars.into_iter().collect()
        }
        Edit::Insert { at, token } => {
            let at = at % (chars.len() + 1);
            let t: Vec<char> = TOKENS[token % TOKENS.len()].chars().collect();
            chars.splice(at..at, t);
            chars.into_iter().collect()
        }
        Edit::SwapLines { a, b } if !lines.is_empty() => {
            let n = lines.len();
            lines.swap(a % n, b % n);
            lines.join("\n")
        }
        Edit::DuplicateLine { a } if !lines.is_empty() => {
            let n = lines.len();
            let l = lines[a % n].clone();
            lines.insert(a % n, l);
            lines.join("\n")
        }
        Edit::DropLine { a } if !lines.is_empty() => {
            let n = lines.len();
            lines.remove(a % n);
            lines.join("\n")
        }
        _ => text.to_string(),
    }
}

fn override_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "device",
            "network",
            "dynamics",
            "run",
            "data",
            "crossbar",
            "periphery",
            "devce",
            "",
        ]),
        prop::sample::select(vec![
            "levels",
            "preset",
            "g_max",
            "g_max_siemens",
            "tau_z",
            "hidden",
            "batch",
            "source",
            "rows",
            "rail",
            "x",
            "",
            "levels.x",
        ]),
        prop::sample::select(vec![
            "16",
            "1",
            "-4",
            "pcm",
            "25uS",
            "100ns",
            "[8, 8]",
            "[8,",
            "\"a",
            "inf",
            "nan",
            "",
            "true",
            "hdf5:x.h5",
            "1e400",
            "{}",
        ]),
        any::<bool>(),
    )
        .prop_map(|(s, k, v, eq)| {
            if eq {
                format!("{s}.{k}={v}")
            } else {
                format!("{s}.{k}{v}")
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn mutated_designs_load_or_fail_cleanly(
        which in any::<usize>(),
        edits in prop::collection::vec(edit(), 1..6),
        overrides in prop::collection::vec(override_text(), 0..3),
    ) {
        let all = designs();
        let mut text = all[which % all.len()].clone();
        for e in &edits {
            text = apply(&text, e);
        }
        let opts = LoadOptions { memory_limit_bytes: Some((1u64 << 30) as f64), read_files: false };
        match load_str("mutant.toml", &text, &overrides, &opts) {
            Ok(c) => {
                prop_assert!(c.architecture.validate().is_ok());
                prop_assert!(c.run.batch >= 1 && c.run.batch <= c.data.samples);
                let _ = c.summary();
            }
            Err(e) => {
                let line = e.to_string();
                prop_assert!(!line.contains('\n'), "{}", line);
                prop_assert!(
                    line.starts_with("mutant.toml:")
                        || line.starts_with("<--set ")
                        || line.starts_with("circuits/devices/"),
                    "{}", line
                );
            }
        }
    }
}
