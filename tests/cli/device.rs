//! `apcsim device`: the files it writes and the input it refuses.

use super::util::*;
use apcsim::io::h5::{Attr, H5Reader};

/// The ideal device holds every target exactly, never drifts and reads what it holds: the
/// datasets are the targets themselves, in the documented shapes.
#[test]
fn device_writes_the_documented_datasets_and_attributes() {
    let tmp = tempfile::tempdir().unwrap();
    let device = |read_times: &str| {
        let args = [
            "device",
            "ideal",
            "--targets",
            "0uS,2.5uS,25uS",
            "--count",
            "7",
            "--read-times",
            read_times,
            "--out",
            "d",
        ];
        apcsim(&args, tmp.path())
    };
    // `1h` is not a time apcsim reads: the flag is named.
    let line = fails(&device("0s,1h"), 2);
    assert!(line.contains("--read-times"), "{line}");
    let o = device("0s,3600s");
    ok(&o);
    let out = text(&o.stdout);
    assert!(out.contains("ideal: 7 devices per target"), "{out}");
    let dir = tmp.path().join("d");
    for f in [
        "device.h5",
        "report.html",
        "sigma_vs_g.svg",
        "g_vs_time.svg",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let h5 = H5Reader::open(&dir.join("device.h5")).unwrap();
    let targets = [0.0, 2.5e-6, 25e-6];
    assert_eq!(
        h5.attr("", "targets_siemens").unwrap(),
        Some(Attr::F64s(targets.to_vec()))
    );
    assert_eq!(
        h5.attr("", "read_times_seconds").unwrap(),
        Some(Attr::F64s(vec![0.0, 3600.0]))
    );
    let programmed = h5.array("programmed_siemens").unwrap();
    assert_eq!(programmed.shape, vec![3, 7]);
    let conductance = h5.array("conductance_siemens").unwrap();
    assert_eq!(conductance.shape, vec![2, 3, 7]);
    assert_eq!(h5.array("nu").unwrap().shape, vec![3, 7]);
    for (k, g) in targets.iter().enumerate() {
        assert!(programmed.data[k * 7..(k + 1) * 7].iter().all(|x| x == g));
        for t in 0..2 {
            let at = (t * 3 + k) * 7;
            assert!(conductance.data[at..at + 7].iter().all(|x| x == g));
        }
    }
}

/// Bad values: exit 2, one line naming the flag or key, and no output folder.
#[test]
fn device_refuses_bad_input_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, named) in [
        (vec!["pcm", "--count", "0"], "--count"),
        (vec!["pcm", "--read-times=20s,-5s"], "--read-times"),
        (vec!["pcm", "--targets", "1uS,1V"], "--targets"),
        (vec!["pcm", "--targets=-1uS"], "--targets"),
        (
            vec![
                "pcm",
                "--set",
                "device.programming_coefficients=[\"0.1uS\", \"-1uS\"]",
            ],
            "device.programming_coefficients",
        ),
        (
            vec![
                "pcm",
                "--set",
                "device.programming_coefficients=[\"0.1uS\", \"nanuS\"]",
            ],
            "device.programming_coefficients",
        ),
        (
            vec!["pcm", "--set", "device.drift_t_read=-1s"],
            "device.drift_t_read",
        ),
    ] {
        let mut all = vec!["device"];
        all.extend(args.iter().copied());
        all.extend(["--out", "bad"]);
        let o = apcsim(&all, tmp.path());
        let line = fails(&o, 2);
        assert!(line.contains(named), "{args:?}: {line}");
        assert!(!tmp.path().join("bad").exists(), "{args:?} left a folder");
    }
}
