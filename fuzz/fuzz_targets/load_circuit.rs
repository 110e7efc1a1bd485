//! The circuit file loader on arbitrary UTF-8: it must return a circuit or a one-line error,
//! never panic. A line `%%` splits the input: the text above is the design, every line below
//! is a `--set` override, so overrides are fuzzed too.

#![no_main]

use apcsim::config::{load_str, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (design, overrides) = match text.split_once("\n%%\n") {
        Some((d, o)) => (d, o.lines().collect::<Vec<_>>()),
        None => (text, Vec::new()),
    };
    // No file access (a design may name any path) and a small memory budget, so that what the
    // loader accepts is also cheap to hold.
    let opts = LoadOptions {
        memory_limit_bytes: Some((1u64 << 30) as f64),
        read_files: false,
    };
    match load_str("fuzz.toml", design, &overrides, &opts) {
        Ok(circuit) => {
            let _ = circuit.summary();
            let _ = circuit.config.to_json();
            assert!(circuit.architecture.validate().is_ok());
            assert!(circuit.run.batch >= 1 && circuit.run.batch <= circuit.data.samples);
        }
        Err(e) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "multi-line error: {line:?}");
            assert!(line.contains(':'), "no location: {line:?}");
        }
    }
});
