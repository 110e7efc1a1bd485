//! Running ngspice in batch mode (`ngspice -b`) on a netlist and reading back what its
//! `.control` block wrote: the `wrdata` files (one time column, `set wr_singlescale`; a header
//! of vector names, `set wr_vecnames`) and the diagnostics on its standard output and error.
//!
//! # Reference
//! ngspice User's Manual (version 39), §16.4.2 (batch mode, `-b`), §17.5.98 (`wrdata`).

use super::netlist::{DataFile, Netlist};
use super::trajectory::{NodeKind, Series, Trajectory};
use super::SpiceError;
use nalgebra::DMatrix;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The Debian (and Ubuntu) package that provides the `ngspice` command.
pub const NGSPICE_PACKAGE: &str = "ngspice";

/// The `ngspice` executable: `$APCSIM_NGSPICE` if set, else the first `ngspice` on `PATH`.
pub fn find_ngspice() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("APCSIM_NGSPICE") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("ngspice"))
        .find(|p| p.is_file())
}

/// What one ngspice run produced.
#[derive(Clone, Debug)]
pub struct NgspiceRun {
    pub stdout: String,
    pub stderr: String,
    /// Wall time of the ngspice process, from spawn to exit (seconds).
    pub wall_seconds: f64,
    /// Lines of stdout and stderr that report a problem (see [`diagnostics`]).
    pub diagnostics: Vec<String>,
}

/// Lines of ngspice's output that report a problem: warnings, errors, singular matrices,
/// floating nodes, time steps too small, aborted analyses. ngspice's informational notes
/// ("No compatibility mode selected") are not problems.
pub fn diagnostics(output: &str) -> Vec<String> {
    const PROBLEMS: [&str; 9] = [
        "warning",
        "error",
        "singular",
        "floating",
        "too small",
        "abort",
        "fatal",
        "no dc path",
        "not converge",
    ];
    output
        .lines()
        .filter(|line| {
            let l = line.to_ascii_lowercase();
            PROBLEMS.iter().any(|p| l.contains(p))
        })
        .map(|l| l.trim().to_string())
        .collect()
}

/// Runs `ngspice -b NETLIST` in `dir` (where the data files appear). With a `timeout`, an
/// ngspice that has not exited by then is killed and the run is a [`SpiceError::Timeout`].
pub fn run(
    ngspice: &Path,
    dir: &Path,
    netlist_file: &str,
    timeout: Option<Duration>,
) -> Result<NgspiceRun, SpiceError> {
    let start = Instant::now();
    let mut child = Command::new(ngspice)
        .arg("-b")
        .arg(netlist_file)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SpiceError::Ngspice(format!("cannot run {}: {e}", ngspice.display())))?;
    // Both pipes are drained on threads of their own, so that ngspice never blocks on a full
    // pipe; each thread reports when its pipe closes, which is when ngspice exits.
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    let mut readers = 0;
    if let Some(pipe) = child.stdout.take() {
        drain(pipe, true, tx.clone());
        readers += 1;
    }
    if let Some(pipe) = child.stderr.take() {
        drain(pipe, false, tx.clone());
        readers += 1;
    }
    drop(tx);
    let deadline = timeout.and_then(|t| start.checked_add(t));
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut timed_out = false;
    for _ in 0..readers {
        let got = match deadline {
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match got {
            Ok((true, b)) => stdout = b,
            Ok((false, b)) => stderr = b,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // The pipes are closed (or the time is up): wait for the exit itself, within what is left.
    let status = loop {
        if timed_out {
            break None;
        }
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SpiceError::Ngspice(format!("waiting for ngspice: {e}")));
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            timed_out = true;
            continue;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let wall_seconds = start.elapsed().as_secs_f64();
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(SpiceError::Timeout {
            seconds: timeout.map_or(f64::INFINITY, |t| t.as_secs_f64()),
        });
    };
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let mut diag = diagnostics(&stdout);
    diag.extend(diagnostics(&stderr));
    if !status.success() {
        let tail: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
        let tail = tail[tail.len().saturating_sub(20)..].join("\n");
        return Err(SpiceError::Ngspice(format!(
            "ngspice exited with {status}; its last lines:\n{tail}"
        )));
    }
    Ok(NgspiceRun {
        stdout,
        stderr,
        wall_seconds,
        diagnostics: diag,
    })
}

/// Reads `pipe` to its end on a thread of its own and sends what it read, tagged.
fn drain(mut pipe: impl Read + Send + 'static, tag: bool, tx: mpsc::Sender<(bool, Vec<u8>)>) {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send((tag, buf));
    });
}

/// One `wrdata` file: vector names (after the scale) and the rows.
struct DataTable {
    names: Vec<String>,
    times: Vec<f64>,
    /// `rows x names`.
    values: DMatrix<f64>,
}

/// A data file that ends before its last row does: a full disk or a stopped ngspice cut it
/// short. An I/O error naming the file (exit code 1), not a malformed file.
fn ends_early(path: &Path, what: String) -> SpiceError {
    SpiceError::File {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "ends early: {what}; ngspice's output was cut short (is the disk it is on full? \
                 was ngspice stopped?)"
            ),
        ),
    }
}

/// Adds to a data file cut short what ngspice itself reported (wrdata does not report a failed
/// write: a full disk leaves ngspice silent and its exit status 0).
pub fn with_ngspice_report(e: SpiceError, run: &NgspiceRun) -> SpiceError {
    match e {
        SpiceError::File { path, source } if source.kind() == std::io::ErrorKind::UnexpectedEof => {
            let said = if run.diagnostics.is_empty() {
                "ngspice reported no problem".to_string()
            } else {
                format!("ngspice reported: {}", run.diagnostics.join(" | "))
            };
            SpiceError::File {
                path,
                source: std::io::Error::new(source.kind(), format!("{source}; {said}")),
            }
        }
        other => other,
    }
}

/// One data row: the time and the values, every field a finite number.
fn parse_row(
    line: &str,
    k: usize,
    columns: usize,
    bad: &dyn Fn(String) -> SpiceError,
) -> Result<Vec<f64>, SpiceError> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() != columns {
        return Err(bad(format!(
            "row {k}: {} fields for {columns} columns",
            fields.len()
        )));
    }
    fields
        .iter()
        .map(|f| match f.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(bad(format!("row {k}: non-finite value {f}"))),
            Err(_) => Err(bad(format!("row {k}: {f:?} is not a number"))),
        })
        .collect()
}

fn read_table(path: &Path) -> Result<DataTable, SpiceError> {
    let bad = |m: String| SpiceError::Output(format!("{}: {m}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    // wrdata ends every line: a file without a final line end was cut short mid-row.
    let complete = text.is_empty() || text.ends_with('\n');
    let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
    let header = lines.next().ok_or_else(|| bad("empty file".into()))?;
    if lines.peek().is_none() && !complete {
        return Err(ends_early(path, "within its header line".into()));
    }
    let mut names = header.split_whitespace().map(str::to_ascii_lowercase);
    if names.next().as_deref() != Some("time") {
        return Err(bad("the first column is not time".into()));
    }
    let names: Vec<String> = names.collect();
    let mut times = Vec::new();
    let mut data = Vec::new();
    let mut k = 0;
    while let Some(line) = lines.next() {
        k += 1;
        if lines.peek().is_none() && !complete {
            let fields = line.split_whitespace().count();
            return Err(ends_early(
                path,
                format!(
                    "row {k} stops after {fields} of its {} fields, without a line end",
                    names.len() + 1
                ),
            ));
        }
        let row = parse_row(line, k, names.len() + 1, &bad)?;
        times.push(row[0]);
        data.extend_from_slice(&row[1..]);
    }
    if times.is_empty() {
        return Err(bad("no data rows".into()));
    }
    let values = DMatrix::from_row_slice(times.len(), names.len(), &data);
    Ok(DataTable {
        names,
        times,
        values,
    })
}

/// Checks that ngspice's output times reach the window's end. A transient that ngspice
/// stopped (its report says why) is an ngspice failure; rows that stop early while ngspice
/// reported nothing were cut short, and the first data file is named.
pub fn check_window_end(
    times: &[f64],
    window_seconds: f64,
    first_file: &Path,
    run: &NgspiceRun,
) -> Result<(), SpiceError> {
    let last = times.last().copied().unwrap_or(0.0);
    if (last - window_seconds).abs() <= 1e-9 * window_seconds {
        return Ok(());
    }
    if run.diagnostics.is_empty() {
        let e = ends_early(
            first_file,
            format!(
                "its {} rows stop at t = {last:e} s, before the window's end {window_seconds:e} s",
                times.len()
            ),
        );
        return Err(with_ngspice_report(e, run));
    }
    Err(SpiceError::Ngspice(format!(
        "the transient stopped at {last:e} s, before the window's end {window_seconds:e} s; \
         ngspice reported: {}",
        run.diagnostics.join(" | ")
    )))
}

/// One node's values over time.
type NodeColumn = (usize, Vec<f64>);

/// Reads the data files of `netlist` from `dir` into a trajectory in node units (voltages over
/// `v_read_volts`, with the sign of [`NodeKind::voltage_sign`]).
pub fn read_trajectory(
    netlist: &Netlist,
    dir: &Path,
    v_read_volts: f64,
) -> Result<Trajectory, SpiceError> {
    let mut times: Option<Vec<f64>> = None;
    // (kind, layer) -> node -> column of values.
    let mut columns: BTreeMap<(NodeKind, usize), Vec<NodeColumn>> = BTreeMap::new();
    for DataFile { file, probes } in &netlist.data_files {
        let table = read_table(&dir.join(file))?;
        if table.names.len() != probes.len() {
            return Err(SpiceError::Output(format!(
                "{file}: {} vectors, expected {}",
                table.names.len(),
                probes.len()
            )));
        }
        match &times {
            None => times = Some(table.times.clone()),
            Some(t) if table.times.len() < t.len() && t.starts_with(&table.times) => {
                return Err(ends_early(
                    &dir.join(file),
                    format!(
                        "its {} rows stop at t = {:e} s, where the first data file's {} go on",
                        table.times.len(),
                        table.times[table.times.len() - 1],
                        t.len()
                    ),
                ))
            }
            Some(t) if t.len() < table.times.len() && table.times.starts_with(t) => {
                return Err(ends_early(
                    &dir.join(&netlist.data_files[0].file),
                    format!(
                        "its {} rows stop at t = {:e} s, where {file}'s {} go on",
                        t.len(),
                        t[t.len() - 1],
                        table.times.len()
                    ),
                ))
            }
            Some(t) if *t != table.times => {
                return Err(SpiceError::Output(format!(
                    "{file}: its times differ from the first data file's"
                )))
            }
            Some(_) => {}
        }
        for (c, p) in probes.iter().enumerate() {
            columns
                .entry((p.kind, p.layer))
                .or_default()
                .push((p.node, table.values.column(c).iter().copied().collect()));
        }
    }
    let times = times.ok_or_else(|| SpiceError::Output("no data files".into()))?;
    let mut series = Vec::new();
    for ((kind, layer), mut nodes) in columns {
        nodes.sort_by_key(|(n, _)| *n);
        let per_volt = kind.voltage_sign() / v_read_volts;
        let values = DMatrix::from_fn(times.len(), nodes.len(), |r, c| nodes[c].1[r] * per_volt);
        series.push(Series {
            kind,
            layer,
            values,
        });
    }
    // Value nodes first, then errors, then the TIAs, each by layer (the order of `compare`'s
    // report).
    series.sort_by_key(|s| (s.kind, s.layer));
    Ok(Trajectory {
        times_seconds: times,
        series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data file cut short (a full disk stops wrdata mid-row, and ngspice says nothing) is an
    /// I/O error naming the file and saying that it ends early, not a malformed row.
    #[test]
    fn a_data_file_cut_short_is_an_io_error_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let full = "time v(a) v(b)\n1e-9 0.1 0.2\n2e-9 0.3 0.4\n";
        for cut in [12, full.len() - 9, full.len() - 2] {
            let p = dir.path().join(format!("cut{cut}.txt"));
            std::fs::write(&p, &full[..cut]).unwrap();
            let e = read_table(&p).err().expect("a file cut short is refused");
            let text = e.to_string();
            assert!(
                matches!(&e, SpiceError::File { source, .. }
                    if source.kind() == std::io::ErrorKind::UnexpectedEof),
                "cut at {cut}: {text}"
            );
            assert!(text.starts_with(&p.display().to_string()), "{text}");
            assert!(text.contains("ends early"), "{text}");
        }
        // What ngspice reported is added to the message.
        let run = NgspiceRun {
            stdout: String::new(),
            stderr: String::new(),
            wall_seconds: 0.0,
            diagnostics: Vec::new(),
        };
        let p = dir.path().join("cut.txt");
        std::fs::write(&p, &full[..20]).unwrap();
        let e = with_ngspice_report(read_table(&p).err().unwrap(), &run);
        assert!(e.to_string().contains("ngspice reported no problem"), "{e}");
    }

    /// A second data file with fewer rows than the first (cut at a line end) ends early, and so
    /// does a first data file with fewer rows than the second.
    #[test]
    fn a_data_file_with_fewer_rows_than_the_others_ends_early() {
        use crate::spice::netlist::Probe;
        let dir = tempfile::tempdir().unwrap();
        let probe = |node| Probe {
            kind: NodeKind::Error,
            layer: 1,
            node,
        };
        let netlist = Netlist {
            text: String::new(),
            data_files: vec![
                DataFile {
                    file: "a.txt".into(),
                    probes: vec![probe(0)],
                },
                DataFile {
                    file: "b.txt".into(),
                    probes: vec![probe(1)],
                },
            ],
            device_resistors: 0,
            wire_resistors: 0,
        };
        let long = "time v(e1_0)\n0 0.1\n1e-9 0.2\n2e-9 0.3\n";
        let short = "time v(e1_1)\n0 0.1\n1e-9 0.2\n";
        for (a, b, named) in [(long, short, "b.txt"), (short, long, "a.txt")] {
            std::fs::write(dir.path().join("a.txt"), a).unwrap();
            std::fs::write(dir.path().join("b.txt"), b).unwrap();
            let e = read_trajectory(&netlist, dir.path(), 1.0).err().unwrap();
            let text = e.to_string();
            assert!(
                text.contains(named) && text.contains("ends early"),
                "{text}"
            );
        }
        std::fs::write(dir.path().join("b.txt"), long.replace("e1_0", "e1_1")).unwrap();
        std::fs::write(dir.path().join("a.txt"), long).unwrap();
        assert!(read_trajectory(&netlist, dir.path(), 1.0).is_ok());
    }

    #[test]
    fn diagnostics_pick_problems_not_notes() {
        let out = "Note: No compatibility mode selected!\nCircuit: x\n\
                   Warning: singular matrix:  check node fs1_0\n\
                   doAnalyses: TRAN:  Timestep too small; time = 1e-9\nngspice-39 done\n";
        let d = diagnostics(out);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].contains("singular"));
    }

    #[test]
    fn malformed_data_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("empty.txt", ""),
            ("nohead.txt", "1 2 3\n"),
            ("short.txt", "time v(a) v(b)\n1e-9 0.1\n"),
            ("nan.txt", "time v(a)\n1e-9 nan\n"),
            ("text.txt", "time v(a)\n1e-9 abc\n"),
            ("norows.txt", "time v(a)\n"),
        ];
        for (name, text) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            assert!(read_table(&p).is_err(), "{name}");
        }
        // A row that is short but ends its line is malformed, not cut short.
        let p = dir.path().join("short_mid.txt");
        std::fs::write(&p, "time v(a) v(b)\n1e-9 0.1\n2e-9 0.1 0.2\n").unwrap();
        let e = read_table(&p).err().unwrap();
        assert!(matches!(e, SpiceError::Output(_)), "{e}");
        assert!(
            e.to_string().contains("row 1: 2 fields for 3 columns"),
            "{e}"
        );
        let p = dir.path().join("ok.txt");
        std::fs::write(&p, " time v(a)\n 1e-9 0.5\n 2e-9 0.25\n").unwrap();
        let t = read_table(&p).unwrap();
        assert_eq!(t.names, vec!["v(a)"]);
        assert_eq!(t.times, vec![1e-9, 2e-9]);
        assert_eq!(t.values.as_slice(), &[0.5, 0.25]);
    }
}
