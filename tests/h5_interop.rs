//! apcsim's HDF5 output read by outside tools: h5py/NumPy (the library the reference files were
//! written with) and the HDF Group's `h5dump`.
//!
//! The tools are optional on a developer machine: without them a test prints `skipped: ...` and
//! passes. CI sets `APCSIM_REQUIRE_INTEROP=1`, which turns a missing tool into a failure.
//! `APCSIM_PYTHON` names the interpreter (default `python3`).

use common::{apcsim, h5py_available, python, reference_case, repo_path, runs, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

fn h5dump_available() -> bool {
    let probe = runs(Command::new("h5dump").arg("--version"));
    common::tool_available("h5dump", "APCSIM_REQUIRE_INTEROP", probe).is_some()
}

/// Runs `apcsim reference input --out dir/out.h5` and returns the output path.
fn apcsim_reference(input: &Path, dir: &Path) -> PathBuf {
    let out = dir.join("out.h5");
    let o = apcsim(["reference"])
        .arg(input)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("running apcsim");
    assert!(
        o.status.success(),
        "apcsim reference failed ({}):\n{}\n{}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(out.is_file(), "apcsim did not write {}", out.display());
    out
}

/// Writes `script` into `dir` and runs it with `args`; fails the test unless it exits 0.
fn run_python(dir: &Path, script: &str, args: &[&Path]) -> Output {
    let py = dir.join("check.py");
    std::fs::write(&py, script).unwrap();
    let o = Command::new(python())
        .arg(&py)
        .args(args)
        .output()
        .expect("running python");
    assert!(
        o.status.success(),
        "the h5py check failed ({}):\n--- stdout\n{}--- stderr\n{}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    o
}

/// Opens apcsim's output and the reference file it was computed from, and checks names, shapes,
/// dtypes, attributes and values. Prints every problem, then exits 1 if there was one.
const CHECK_OUTPUT: &str = r#"
import sys
import h5py
import numpy as np

out_path, ref_path = sys.argv[1], sys.argv[2]
problems = []

def text(v):
    # h5py returns fixed-length strings as bytes; that difference has its own test.
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8")
    return str(v)

def datasets(f):
    found = {}
    f.visititems(lambda n, o: found.__setitem__(n, o) if isinstance(o, h5py.Dataset) else None)
    return found

with h5py.File(out_path, "r") as out, h5py.File(ref_path, "r") as ref:
    ours, theirs = datasets(out), datasets(ref)
    n_layers = len(ref["weights"])
    names = ["batch/x", "batch/y", "scalings", "ffwd/yhat", "euler/energy_every_10_steps",
             "equilibrium/energy", "loss_bp", "metrics/cos_sim", "metrics/cos_sim_per_layer"]
    names += [f"{g}/z{l}" for g in ("ffwd", "euler", "equilibrium") for l in range(1, n_layers)]
    names += [f"weights/W{l}" for l in range(n_layers)]
    names += [f"grads/{k}/W{l}" for k in ("pc", "bp") for l in range(n_layers)]
    for name in names:
        if name not in theirs:
            problems.append(f"{name}: not in the reference file (the test expects it)")
    expected = sorted(set(names) | set(theirs) | {"metrics/norm_ratio"})

    for name in expected:
        if name not in ours:
            problems.append(f"{name}: missing from apcsim's output")
            continue
        d = ours[name]
        if d.dtype != np.float64:
            problems.append(f"{name}: dtype {d.dtype}, expected float64")
        if name in theirs and d.shape != theirs[name].shape:
            problems.append(f"{name}: shape {d.shape}, reference {theirs[name].shape}")
        if not np.all(np.isfinite(d[()])):
            problems.append(f"{name}: non-finite values")
    for name in ("equilibrium/energy", "loss_bp", "metrics/cos_sim", "metrics/norm_ratio"):
        if name in ours and ours[name].shape != ():
            problems.append(f"{name}: shape {ours[name].shape}, expected a scalar")

    a = out.attrs
    for key, want in (("activation", "tanh"), ("parameterisation", "mupc"),
                      ("format", "pc-reference-v1")):
        got = text(a[key]) if key in a else None
        if got != want:
            problems.append(f"/@{key}: {got!r}, expected {want!r}")
    if "skips" not in a or int(a["skips"]) != 1 or float(a["skips"]) != 1.0:
        problems.append(f"/@skips: {a.get('skips')!r}, expected 1")
    for key in ("gamma0", "output_precision"):
        if key not in a or float(a[key]) != float(ref.attrs[key]):
            problems.append(f"/@{key}: {a.get(key)!r}, reference {ref.attrs[key]!r}")
    for key in ("dt", "steps"):
        got, want = out["euler"].attrs.get(key), ref["euler"].attrs[key]
        if got is None or got != want:
            problems.append(f"euler@{key}: {got!r}, reference {want!r}")

    # Largest difference over the largest entry of the reference. Weights and batch are copied
    # through, so they must come back bit for bit; the equilibrium (and the PC gradients taken
    # there) is computed by a different solver than the reference's, so it agrees to the
    # solvers' tolerance rather than to rounding.
    def tolerance(name):
        if name.startswith(("weights/", "batch/")):
            return 0.0
        if name.startswith(("equilibrium/", "grads/pc/", "metrics/")):
            return 1e-9
        return 1e-12
    checked = 0
    for name in expected:
        if name not in ours or name not in theirs or ours[name].shape != theirs[name].shape:
            continue
        x = np.asarray(ours[name][()], dtype=np.float64)
        y = np.asarray(theirs[name][()], dtype=np.float64)
        scale = float(np.max(np.abs(y))) if y.size else 0.0
        diff = float(np.max(np.abs(x - y))) if y.size else 0.0
        rel = diff / scale if scale > 0 else diff
        tol = tolerance(name)
        if not rel <= tol:
            problems.append(f"{name}: max relative difference {rel:.3e} > {tol:.0e}")
        checked += 1
    if checked < len(names):
        problems.append(f"only {checked} datasets compared, expected at least {len(names)}")

for p in problems:
    print("PROBLEM:", p)
if problems:
    sys.exit(1)
print(f"ok: {checked} datasets of {out_path} agree with {ref_path}")
"#;

#[test]
fn h5py_reads_every_dataset_and_attribute_of_the_output() {
    if !h5py_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = reference_case("tanh_mupc_skips");
    let out = apcsim_reference(&input, dir.path());
    let o = run_python(dir.path(), CHECK_OUTPUT, &[&out, &input]);
    assert!(text(&o.stdout).contains("ok: "), "{}", text(&o.stdout));
}

/// String attributes should come back from h5py as `str`, as they do from the reference files
/// (h5py writes variable-length UTF-8), so that `f.attrs["activation"] == "linear"` holds.
const CHECK_STRING_ATTRS: &str = r#"
import sys
import h5py

out_path, ref_path = sys.argv[1], sys.argv[2]
problems = []
with h5py.File(out_path, "r") as out, h5py.File(ref_path, "r") as ref:
    for key in ("activation", "parameterisation"):
        theirs, ours = ref.attrs[key], out.attrs[key]
        if not isinstance(theirs, str):
            problems.append(f"reference /@{key} is {type(theirs).__name__}, expected str")
        if not isinstance(ours, str) or ours != theirs:
            problems.append(f"/@{key}: h5py reads {ours!r} ({type(ours).__name__}), "
                            f"the reference holds {theirs!r}")
for p in problems:
    print("PROBLEM:", p)
sys.exit(1 if problems else 0)
"#;

#[test]
fn h5py_reads_string_attributes_as_str_like_the_reference() {
    if !h5py_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = reference_case("lin_sp_noskip");
    let out = apcsim_reference(&input, dir.path());
    run_python(dir.path(), CHECK_STRING_ATTRS, &[&out, &input]);
}

#[test]
fn h5dump_reads_the_output() {
    if !h5dump_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = reference_case("tanh_mupc_skips");
    let out = apcsim_reference(&input, dir.path());
    let o = Command::new("h5dump")
        .arg(&out)
        .output()
        .expect("running h5dump");
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert!(
        o.status.success(),
        "h5dump failed ({}):\n{stderr}",
        o.status
    );
    for needle in [
        "GROUP \"weights\"",
        "GROUP \"grads\"",
        "GROUP \"equilibrium\"",
        "DATASET \"cos_sim\"",
        "DATASET \"cos_sim_per_layer\"",
        "DATASET \"energy_every_10_steps\"",
        "ATTRIBUTE \"activation\"",
        "H5T_IEEE_F64LE",
    ] {
        assert!(
            stdout.contains(needle),
            "h5dump output lacks {needle:?}:\n{}",
            &stdout[..stdout.len().min(4000)]
        );
    }
    for (name, s) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !s.to_lowercase().contains("error"),
            "h5dump {name} mentions an error:\n{s}"
        );
    }
}

/// The README's h5py example, run as written: the file it makes is a network apcsim accepts.
#[test]
fn readme_h5py_example_makes_a_file_apcsim_reads() {
    if !h5py_available() {
        return;
    }
    let readme = std::fs::read_to_string(repo_path("README.md")).expect("README.md");
    let start = readme
        .find("```python\n")
        .expect("a python block in the README")
        + 10;
    let len = readme[start..].find("```").expect("closed python block");
    let script = &readme[start..start + len];
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(python())
        .args(["-c", script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "README example failed: {}",
        text(&o.stderr)
    );
    let o = apcsim(["reference", "my_net.h5", "--out", "my_net_pc.h5"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "apcsim on the README's file: {}",
        text(&o.stderr)
    );
    assert!(dir.path().join("my_net_pc.h5").is_file());
}

/// `apcsim run`'s traces.h5 opens in h5py with the README's layout, and its power trace
/// integrates (trapezoid, NumPy) to the report's crossbar energy over the window.
#[test]
fn run_traces_open_in_h5py() {
    if !h5py_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let design = repo_path("circuits/tiny.toml");
    let o = apcsim(["run"])
        .arg(&design)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("running apcsim");
    assert!(o.status.success(), "{}", text(&o.stderr));
    run_python(
        dir.path(),
        r#"
import sys, json
import h5py
import numpy as np
d = sys.argv[1]
r = json.load(open(d + "/report.json"))
with h5py.File(d + "/traces.h5", "r") as f:
    t = f["time_seconds"][()]
    assert t.ndim == 1 and len(t) > 10, t.shape
    assert f["z/layer_1"].shape == (len(t), 4, 3), f["z/layer_1"].shape
    assert f["e/layer_3"].shape == (len(t), 4, 2), f["e/layer_3"].shape
    assert isinstance(f.attrs["design"], str)
    names = f["power"].attrs["components"].split(",")
    p = f["power/by_component_watts"][()]
    assert p.shape == (len(t), len(names)), p.shape
    w = r["settling"]["window_seconds"]
    k = names.index("crossbar_forward")
    m = t <= w
    e = np.trapezoid(p[m, k], t[m]) if hasattr(np, "trapezoid") else np.trapz(p[m, k], t[m])
    want = r["energy"]["by_component_joules"]["crossbar_forward"]
    assert abs(e - want) <= 0.005 * want, (e, want)
print("ok")
"#,
        &[&out],
    );
}

/// The folder of HDF5 files h5py wrote (tests/data/hdf5_variants/make.py says how).
fn variants_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hdf5_variants")
}

/// The valid files of tests/data/hdf5_variants: the same network as plain.h5, stored with a
/// userblock, behind soft links (to datasets and to groups, absolute and relative, chained), in
/// the latest format.
const VALID_VARIANTS: [&str; 4] = [
    "userblock.h5",
    "soft_link.h5",
    "soft_links_latest.h5",
    "soft_link_chain.h5",
];

/// What apcsim reads from a reference-layout file: the network's widths and weights and the
/// batch, or the error without the file's path.
fn reading(path: &Path) -> Result<(Vec<usize>, Vec<Vec<f64>>), String> {
    use apcsim::io::reference::read_reference;
    let r = read_reference(path)
        .map_err(|e| e.to_string().replace(&path.display().to_string(), "FILE"))?;
    let mut values: Vec<Vec<f64>> = r
        .network
        .weights()
        .iter()
        .map(|w| w.as_slice().to_vec())
        .collect();
    values.push(r.batch.x.as_slice().to_vec());
    values.push(r.batch.y.as_slice().to_vec());
    Ok((r.network.widths().to_vec(), values))
}

/// Valid HDF5 files that h5py writes — a userblock, soft links — are read, and read as the same
/// network and batch as the plain file; `apcsim reference` runs on each.
#[test]
fn userblocks_and_soft_links_are_read_as_the_plain_file() {
    let dir = variants_dir();
    let plain = reading(&dir.join("plain.h5")).expect("plain.h5");
    assert_eq!(plain.0, vec![3, 4, 2]);
    for name in VALID_VARIANTS {
        let got = reading(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, plain, "{name}");
        let out = tempfile::tempdir().unwrap();
        apcsim_reference(&dir.join(name), out.path());
    }
}

/// tests/data/hdf5_variants is what its script writes: h5py runs make.py again, and apcsim reads
/// every file it writes as it reads the committed one (the same network, or the same error).
#[test]
fn the_hdf5_variants_are_what_their_script_writes() {
    if !h5py_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(python())
        .arg(variants_dir().join("make.py"))
        .arg(dir.path())
        .output()
        .expect("running python");
    assert!(o.status.success(), "make.py: {}", text(&o.stderr));
    let mut names: Vec<String> = std::fs::read_dir(variants_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".h5"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let written = dir.path().join(&name);
        assert!(written.is_file(), "make.py does not write {name}");
        assert_eq!(
            reading(&written),
            reading(&variants_dir().join(&name)),
            "{name}"
        );
    }
}
