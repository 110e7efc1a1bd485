//! Every command in README.md, run as written, so that the README's examples cannot rot.
//!
//! README.md is read when the tests run, so an edit is picked up without touching this file.
//! Its fenced code blocks are read by these rules:
//!
//! - ```` ```sh ```` (also `bash`, `shell`): every line is a command, a trailing `\` joining it to
//!   the next and `#` starting a comment. Three forms are known: `apcsim ARGS` (the binary cargo
//!   built for these tests), `cargo run [--release] -- ARGS` (the same program, run with ARGS) and
//!   `cargo test ...` (this test suite itself: recognised, not run). Any other line, a shell
//!   feature (`|`, `>`, `$`, globs ...) or a placeholder (`[FILE]`, `…`) fails the parse. Each
//!   command must exit 0 and write what the README says it writes (the report.json keys and sweep
//!   files of its tables) where the README says, and nothing else into its working folder; its
//!   output varies (timings), so only `--json` output is checked, for being JSON.
//! - ```` ```text ```` whose first line starts with `$ `: a transcript. Each `$ ` line is a command
//!   and the lines after it, up to the next `$ `, its output, compared exactly. A transcript
//!   whose output has a line starting with `error:` shows a refusal: exit code 2, stdout then
//!   stderr equal to the lines shown, and nothing written. Otherwise: exit code 0 and stdout equal
//!   to the lines shown (progress on stderr is not shown).
//! - ```` ```text ```` whose first line starts with `apcsim ` (no `$ `): a synopsis, with
//!   placeholders (`FILE`, `[--out DIR]`, `…`), not run. A line starting with `apcsim` opens one;
//!   indented lines continue it. The lowercase words after `apcsim` name the subcommand, every
//!   `--flag` it names must be a flag of `apcsim SUBCOMMAND --help`, and every `a|b|c` value list
//!   after a flag must be named on that flag's help line.
//! - ```` ```console ````: development commands (`cargo bench`, `cargo +nightly fuzz run`) that
//!   take too long, or need nightly, to run here. Their `$ ` lines are checked for syntax only:
//!   they parse, the bench is a `[[bench]]` of Cargo.toml, the fuzz target is in
//!   fuzz/fuzz_targets/, and the folders and dictionary they name exist.
//! - Any other block (toml, python, a Rust block, which rustdoc runs as a doctest, or a text block
//!   of sample output) holds no command, and a `$ ` line in it fails the parse.
//!
//! Each runnable block runs in a fresh temporary folder, its commands in order (so a merge sees the
//! shards the block's earlier lines wrote), with symbolic links to the repository's folders the
//! commands name (circuits/, data/, tests/ ...). Outputs (runs/, sweeps/, studies/ ...) land
//! in that folder, never in the repository. `spice-check` needs ngspice: without it its commands
//! are skipped, unless `APCSIM_REQUIRE_NGSPICE=1` (as in CI). A command running longer than
//! `COMMAND_LIMIT` is killed and fails: the README shows commands that take seconds, and keeps
//! longer reproductions in docs/reproducing.md.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The README (read at test time).
fn readme_text() -> String {
    fs::read_to_string(repo().join("README.md")).expect("README.md")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Top-level folders of the repository that commands read and never write; the others a
/// command names (runs/, sweeps/, tiny.cir ...) are its outputs.
const SHIPPED: [&str; 7] = [
    "circuits", "data", "tests", "examples", "docs", "benches", "fuzz",
];

/// The longest a README command may take before it is killed: a guard against a command that
/// hangs, well above the slowest README command (`spice-check` of digits_small: 30 s of CPU,
/// 4 minutes on a 2-core machine under a load average of 14).
const COMMAND_LIMIT: Duration = Duration::from_secs(600);

// ---------------------------------------------------------------------------------------------
// The parser

/// One fenced code block: its info string, the README line of its opening fence, its lines.
struct Fence {
    lang: String,
    line: usize,
    body: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Program {
    /// The apcsim binary with these arguments.
    Apcsim(Vec<String>),
    /// `cargo test ...`: this suite.
    TestSuite,
}

/// What the README shows of a command's outcome.
#[derive(Debug, PartialEq)]
enum Shown {
    /// A ```sh command: exit 0, output not shown.
    Success,
    /// A transcript of a success: exit 0, these stdout lines.
    Stdout(Vec<String>),
    /// A transcript of a refusal: exit 2, these lines (stdout, then stderr).
    Refusal(Vec<String>),
}

#[derive(Debug, PartialEq)]
struct Example {
    line: usize,
    source: String,
    program: Program,
    shown: Shown,
}

/// The commands of one runnable block, which run in order in one folder.
struct Session {
    examples: Vec<Example>,
}

#[derive(Debug, PartialEq)]
struct Synopsis {
    line: usize,
    subcommand: Vec<String>,
    text: String,
}

#[derive(Debug, PartialEq)]
struct DevCommand {
    line: usize,
    words: Vec<String>,
}

#[derive(Default)]
struct Readme {
    sessions: Vec<Session>,
    synopses: Vec<Synopsis>,
    dev: Vec<DevCommand>,
}

impl Readme {
    fn examples(&self) -> impl Iterator<Item = &Example> {
        self.sessions.iter().flat_map(|s| &s.examples)
    }
}

fn fences(text: &str) -> Vec<Fence> {
    let mut fences = Vec::new();
    let mut open: Option<Fence> = None;
    for (i, line) in text.lines().enumerate() {
        match (open.as_mut(), line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Fence {
                    lang: info.trim().to_string(),
                    line: i + 1,
                    body: Vec::new(),
                })
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => fences.extend(open.take()),
            (Some(f), _) => f.body.push(line.to_string()),
            (None, None) => {}
        }
    }
    fences
}

/// The block's lines with backslash continuations joined, each with its README line number.
fn logical_lines(fence: &Fence) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut continued = false;
    for (i, raw) in fence.body.iter().enumerate() {
        let (text, continues) = match raw.trim_end().strip_suffix('\\') {
            Some(t) => (t.trim_end(), true),
            None => (raw.as_str(), false),
        };
        match out.last_mut() {
            Some((_, joined)) if continued => {
                joined.push(' ');
                joined.push_str(text.trim_start());
            }
            _ => out.push((fence.line + 1 + i, text.to_string())),
        }
        continued = continues;
    }
    out
}

/// Splits a command line into words as a POSIX shell would, for the subset a README uses:
/// quotes, backslash escapes and `#` comments. Anything a shell would expand or redirect is an
/// error, since these commands run without a shell.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '#' if word.is_none() => break,
            '~' if word.is_none() => return Err("`~`: a shell expansion".into()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("an unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') if matches!(chars.peek(), Some('"' | '\\')) => {
                            w.extend(chars.next())
                        }
                        Some('$' | '`') => return Err("a shell expansion inside quotes".into()),
                        Some(c) => w.push(c),
                        None => return Err("an unterminated \" quote".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("a trailing backslash".into()),
            },
            '|' | '&' | ';' | '<' | '>' | '(' | ')' | '$' | '`' | '*' | '?' | '{' | '}' => {
                return Err(format!(
                    "`{c}`: a shell feature these tests do not interpret"
                ))
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// What a command line runs: `apcsim ARGS`, `cargo run [--release] [-- ARGS]` (the same
/// program), or `cargo test ...` (this suite).
fn program(words: &[String]) -> Result<Program, String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let args = |rest: &[&str]| rest.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let program = match w.as_slice() {
        ["apcsim", rest @ ..] => Program::Apcsim(args(rest)),
        ["cargo", "test", ..] => Program::TestSuite,
        ["cargo", "run", rest @ ..] => {
            let rest = rest.strip_prefix(&["--release"]).unwrap_or(rest);
            match rest {
                [] => Program::Apcsim(Vec::new()),
                ["--", args_ @ ..] => Program::Apcsim(args(args_)),
                _ => return Err("cargo run takes only --release before `--`".into()),
            }
        }
        _ => {
            return Err(
                "not a command these tests run (apcsim, cargo run, cargo test): run it from \
                 prose or a console block instead"
                    .into(),
            )
        }
    };
    if let Program::Apcsim(a) = &program {
        if let Some(p) = a.iter().find(|a| a.starts_with('[') || a.contains('…')) {
            return Err(format!(
                "`{p}` is a placeholder: a synopsis belongs in a ```text block"
            ));
        }
    }
    Ok(program)
}

fn example(line: usize, source: &str, shown: Shown) -> Result<Option<Example>, String> {
    let words = shell_words(source)?;
    if words.is_empty() {
        return Ok(None);
    }
    Ok(Some(Example {
        line,
        source: source.trim().to_string(),
        program: program(&words)?,
        shown,
    }))
}

fn sh_session(fence: &Fence, errors: &mut Vec<String>) -> Session {
    let mut examples = Vec::new();
    for (line, text) in logical_lines(fence) {
        match example(line, &text, Shown::Success) {
            Ok(e) => examples.extend(e),
            Err(e) => errors.push(format!("README.md:{line}: {e}: {}", text.trim())),
        }
    }
    Session { examples }
}

fn transcript_session(fence: &Fence, errors: &mut Vec<String>) -> Session {
    let mut commands: Vec<(usize, String, Vec<String>)> = Vec::new();
    for (line, text) in logical_lines(fence) {
        match (text.strip_prefix("$ "), commands.last_mut()) {
            (Some(cmd), _) => commands.push((line, cmd.to_string(), Vec::new())),
            (None, Some((_, _, output))) => output.push(text),
            (None, None) => errors.push(format!("README.md:{line}: output before any `$ `")),
        }
    }
    let mut examples = Vec::new();
    for (line, cmd, output) in commands {
        let shown = if output.iter().any(|l| l.starts_with("error:")) {
            Shown::Refusal(output)
        } else {
            Shown::Stdout(output)
        };
        match example(line, &cmd, shown) {
            Ok(Some(e)) => examples.push(e),
            Ok(None) => errors.push(format!("README.md:{line}: an empty `$ ` line")),
            Err(e) => errors.push(format!("README.md:{line}: {e}: {cmd}")),
        }
    }
    Session { examples }
}

fn synopses(fence: &Fence, errors: &mut Vec<String>) -> Vec<Synopsis> {
    let mut out: Vec<Synopsis> = Vec::new();
    for (i, text) in fence.body.iter().enumerate() {
        let line = fence.line + 1 + i;
        if text.starts_with("apcsim ") || text == "apcsim" {
            let subcommand = text
                .split_whitespace()
                .skip(1)
                .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
                .take_while(|w| w.starts_with(|c: char| c.is_ascii_lowercase()))
                .map(str::to_string)
                .collect();
            out.push(Synopsis {
                line,
                subcommand,
                text: text.clone(),
            });
        } else if let (Some(s), true) = (out.last_mut(), text.starts_with(char::is_whitespace)) {
            s.text.push('\n');
            s.text.push_str(text);
        } else if !text.trim().is_empty() {
            errors.push(format!(
                "README.md:{line}: a synopsis block holds a line that is neither `apcsim ...` nor an indented continuation"
            ));
        }
    }
    out
}

fn dev_commands(fence: &Fence, errors: &mut Vec<String>) -> Vec<DevCommand> {
    let mut out = Vec::new();
    for (line, text) in logical_lines(fence) {
        let Some(cmd) = text.strip_prefix("$ ") else {
            continue;
        };
        match shell_words(cmd) {
            Ok(words) => out.push(DevCommand { line, words }),
            Err(e) => errors.push(format!("README.md:{line}: {e}: {cmd}")),
        }
    }
    out
}

/// Every command, synopsis and development command of a README, or every line it cannot read.
fn parse_readme(text: &str) -> Result<Readme, Vec<String>> {
    let mut readme = Readme::default();
    let mut errors = Vec::new();
    for fence in fences(text) {
        let first = fence.body.iter().find(|l| !l.trim().is_empty());
        let first = first.map(String::as_str).unwrap_or("");
        match fence.lang.as_str() {
            "sh" | "bash" | "shell" => readme.sessions.push(sh_session(&fence, &mut errors)),
            "console" => readme.dev.extend(dev_commands(&fence, &mut errors)),
            "text" if first.starts_with("$ ") => readme
                .sessions
                .push(transcript_session(&fence, &mut errors)),
            "text" if first.starts_with("apcsim") => {
                readme.synopses.extend(synopses(&fence, &mut errors))
            }
            _ => {
                if let Some(i) = fence.body.iter().position(|l| l.starts_with("$ ")) {
                    errors.push(format!(
                        "README.md:{}: a `$ ` command in a ```{} block that is not a transcript \
                         (a transcript is a ```text block whose first line is a `$ ` command)",
                        fence.line + 1 + i,
                        fence.lang
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(readme)
    } else {
        Err(errors)
    }
}

fn parse_real_readme() -> Readme {
    parse_readme(&readme_text())
        .unwrap_or_else(|e| panic!("README.md cannot be read as commands:\n{}", e.join("\n")))
}

// ---------------------------------------------------------------------------------------------
// What the README says commands write

/// The backquoted names in the first column of the README table whose header row is `header`
/// (`mapping[]` and `by_component_joules{}` name `mapping` and `by_component_joules`).
fn table_names(readme: &str, header: &str) -> Vec<String> {
    let lines: Vec<&str> = readme.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == header)
        .unwrap_or_else(|| panic!("README.md has no table `{header}`"));
    let mut names = Vec::new();
    for row in lines[start + 2..].iter().take_while(|l| l.starts_with('|')) {
        // A row whose meaning begins with "only" names what some outputs hold, not all.
        if row
            .split('|')
            .nth(2)
            .is_some_and(|m| m.trim().starts_with("only "))
        {
            continue;
        }
        let first = row.split('|').nth(1).unwrap_or("");
        for name in first.split('`').skip(1).step_by(2) {
            names.push(
                name.trim_end_matches("[]")
                    .trim_end_matches("{}")
                    .to_string(),
            );
        }
    }
    assert!(
        !names.is_empty(),
        "README.md's table `{header}` names nothing"
    );
    names
}

/// The README's promises about output files, read from its tables.
struct Promises {
    /// Top-level keys of a run's report.json.
    report_keys: Vec<String>,
    /// Files in a sweep's (and a merge's) folder; `*.svg` means at least one SVG.
    sweep_files: Vec<String>,
}

impl Promises {
    fn from_readme(readme: &str) -> Promises {
        Promises {
            report_keys: table_names(readme, "| key | meaning |"),
            sweep_files: table_names(readme, "| file | content |"),
        }
    }
}

/// Where a successful command writes.
#[derive(Debug, PartialEq)]
enum Writes {
    Nothing,
    /// This file or folder.
    At(PathBuf),
    /// A new folder `PARENT/PREFIX<timestamp>`.
    NewFolder {
        parent: &'static str,
        prefix: String,
    },
}

fn value_of<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let eq = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            args.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(&eq)
        }
    })
}

/// The design's name as in the default output folder: the TOML file's stem, or the embedded
/// default design's (`circuits/digits_rram.toml`, per the README).
fn design_name(args: &[String]) -> String {
    args.iter()
        .find(|a| a.ends_with(".toml"))
        .and_then(|a| Path::new(a).file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "digits_rram".to_string())
}

/// Where the README says each subcommand writes: `--out`, or its default folder.
fn writes(args: &[String]) -> Writes {
    let out = value_of(args, "--out").map(|o| Writes::At(PathBuf::from(o)));
    let new_folder = |parent| Writes::NewFolder {
        parent,
        prefix: format!("{}-", design_name(args)),
    };
    let sub: Vec<&str> = args.iter().take(2).map(String::as_str).collect();
    match sub.as_slice() {
        ["run", ..] => out.unwrap_or_else(|| new_folder("runs")),
        ["sweep", ..] => out.unwrap_or_else(|| new_folder("sweeps")),
        ["study", "width-depth"] => out.unwrap_or_else(|| Writes::NewFolder {
            parent: "studies",
            prefix: "width-depth-".into(),
        }),
        ["device", ..] => out.unwrap_or_else(|| Writes::NewFolder {
            parent: "devices",
            prefix: "device-".into(),
        }),
        ["train", ..] => out.unwrap_or_else(|| Writes::NewFolder {
            parent: "runs",
            prefix: format!("train-{}-", design_name(args)),
        }),
        ["train-table", ..] => out.unwrap_or_else(|| Writes::NewFolder {
            parent: "runs",
            prefix: "train-table-".into(),
        }),
        ["merge" | "export-spice" | "reference", ..] => out.unwrap_or(Writes::Nothing),
        ["spice-check", ..] => value_of(args, "--keep")
            .map(|k| Writes::At(PathBuf::from(k)))
            .unwrap_or(Writes::Nothing),
        _ => Writes::Nothing,
    }
}

// ---------------------------------------------------------------------------------------------
// Running commands

/// Every path below `dir`, relative to it; symbolic links (the shipped inputs) are not followed.
fn snapshot(dir: &Path) -> BTreeSet<PathBuf> {
    let mut paths = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path.clone());
            }
            paths.insert(path.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    paths
}

/// Links into `dir` the repository's shipped folders that the session's commands name.
fn link_inputs(dir: &Path, session: &Session) {
    let named: BTreeSet<&str> = session
        .examples
        .iter()
        .flat_map(|e| match &e.program {
            Program::Apcsim(args) => args.as_slice(),
            Program::TestSuite => &[],
        })
        .filter_map(|a| a.rsplit('=').next()?.split('/').next())
        .filter(|first| SHIPPED.contains(first))
        .collect();
    for name in named {
        let target = repo().join(name);
        if target.exists() {
            std::os::unix::fs::symlink(&target, dir.join(name)).unwrap();
        }
    }
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    seconds: f64,
}

/// Runs the apcsim binary in `dir`, killing it after `COMMAND_LIMIT`. Its output goes to files
/// outside `dir`, so that a large output cannot fill a pipe and `dir` holds only what it writes.
fn run_apcsim(args: &[String], dir: &Path) -> Outcome {
    let logs = tempfile::tempdir().unwrap();
    let (out, err) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_apcsim"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .expect("apcsim starts");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > COMMAND_LIMIT {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap()).into_owned();
    Outcome {
        code: status.and_then(|s| s.code()),
        stdout: read(&out),
        stderr: read(&err),
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Whether ngspice can run here; without it `spice-check` is skipped unless CI requires it.
fn ngspice_available() -> bool {
    let why = match Command::new("ngspice").arg("--version").output() {
        Ok(o) if o.status.success() => return true,
        Ok(o) => format!(
            "{}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => e.to_string(),
    };
    if std::env::var("APCSIM_REQUIRE_NGSPICE").is_ok_and(|v| v == "1") {
        panic!("ngspice is required (APCSIM_REQUIRE_NGSPICE=1) but not available: {why}");
    }
    eprintln!("skipped: ngspice not available ({why}); install the Debian package ngspice");
    false
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Problems with a command's exit code and output against what the README shows.
fn check_outcome(shown: &Shown, args: &[String], o: &Outcome) -> Vec<String> {
    let Some(code) = o.code else {
        return vec![format!(
            "killed after {} s: longer commands belong in docs/reproducing.md",
            COMMAND_LIMIT.as_secs()
        )];
    };
    let lines = |t: &str| t.lines().map(str::to_string).collect::<Vec<_>>();
    let (want_code, want, got) = match shown {
        Shown::Success => (0, None, Vec::new()),
        Shown::Stdout(want) => (0, Some(want), lines(&o.stdout)),
        Shown::Refusal(want) => (2, Some(want), lines(&(o.stdout.clone() + &o.stderr))),
    };
    let mut problems = Vec::new();
    if code != want_code {
        problems.push(format!(
            "exit code {code}, the README expects {want_code}; stderr:\n{}",
            last_lines(&o.stderr, 5)
        ));
    }
    if let Some(want) = want.filter(|w| **w != got) {
        problems.push(format!(
            "output differs from the README's\n--- README\n{}\n--- apcsim\n{}",
            want.join("\n"),
            got.join("\n")
        ));
    }
    if code == 0 && args.iter().any(|a| a == "--json") {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&o.stdout) {
            problems.push(format!("--json printed no JSON: {e}"));
        }
    }
    problems
}

/// Problems with what a command wrote: the new paths of `dir` must lie where the README says the
/// command writes (nothing at all when it was refused) and hold what the README promises.
fn check_written(
    args: &[String],
    succeeded: bool,
    new: &[PathBuf],
    dir: &Path,
    promises: &Promises,
) -> Vec<String> {
    let writes = if succeeded {
        writes(args)
    } else {
        Writes::Nothing
    };
    let root = match &writes {
        Writes::Nothing => None,
        Writes::At(p) => Some(p.clone()),
        Writes::NewFolder { parent, prefix } => new
            .iter()
            .find(|p| p.parent() == Some(Path::new(parent)))
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .cloned(),
    };
    let stray: Vec<String> = new
        .iter()
        .filter(|p| {
            !root
                .as_ref()
                .is_some_and(|r| p.starts_with(r) || r.starts_with(p))
        })
        .map(|p| p.display().to_string())
        .collect();
    let mut problems = Vec::new();
    match (stray.is_empty(), succeeded) {
        (true, _) => {}
        (false, true) => problems.push(format!(
            "wrote {} where the README says it writes {writes:?}",
            stray.join(", ")
        )),
        (false, false) => problems.push(format!("failed and left {} behind", stray.join(", "))),
    }
    match root {
        Some(r) => problems.extend(check_contents(args, &dir.join(r), promises)),
        None if writes != Writes::Nothing => problems.push(format!("wrote no {writes:?}")),
        None => {}
    }
    problems
}

fn missing_files(folder: &Path, names: &[String]) -> Vec<String> {
    let has_svg = || {
        fs::read_dir(folder)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "svg"))
    };
    names
        .iter()
        .filter(|n| match n.as_str() {
            "*.svg" => !has_svg(),
            n => !folder.join(n).is_file(),
        })
        .map(|n| format!("{}: no {n}", folder.display()))
        .collect()
}

/// Problems with the contents of what a command wrote at `out`.
fn check_contents(args: &[String], out: &Path, promises: &Promises) -> Vec<String> {
    let sub: Vec<&str> = args.iter().take(2).map(String::as_str).collect();
    match sub.as_slice() {
        ["run", ..] => {
            let mut problems = missing_files(out, &["report.json".into(), "traces.h5".into()]);
            let report = fs::read_to_string(out.join("report.json")).unwrap_or_default();
            match serde_json::from_str::<serde_json::Value>(&report) {
                Ok(r) => problems.extend(
                    (promises.report_keys.iter())
                        .filter(|k| r.get(k.as_str()).is_none())
                        .map(|k| format!("report.json has no `{k}` (README's report.json table)")),
                ),
                Err(e) => problems.push(format!("report.json is not JSON: {e}")),
            }
            problems
        }
        ["sweep" | "merge", ..] => missing_files(out, &promises.sweep_files),
        // The README: "It writes DIR/study.csv, DIR/summary.csv, the figures as SVG files and
        // DIR/report.html".
        ["study", "width-depth"] => missing_files(
            out,
            &["study.csv", "summary.csv", "report.html", "*.svg"].map(String::from),
        ),
        // The README: "writes DIR/device.h5, the figures as SVG files and DIR/report.html".
        ["device", ..] => missing_files(
            out,
            &["device.h5", "report.html", "*.svg"].map(String::from),
        ),
        // The README: "writes DIR/train_table.md and DIR/test_accuracy.svg".
        ["train-table", ..] => missing_files(
            out,
            &["train_table.md", "test_accuracy.svg"].map(String::from),
        ),
        ["export-spice" | "reference", ..] if fs::metadata(out).map_or(true, |m| m.len() == 0) => {
            vec![format!("{}: missing or empty", out.display())]
        }
        _ => Vec::new(),
    }
}

/// An output path that would land in the repository through a link to a shipped folder.
fn writes_into_repository(args: &[String]) -> Option<&str> {
    ["--out", "--keep"]
        .iter()
        .filter_map(|f| value_of(args, f))
        .find(|o| SHIPPED.iter().any(|s| Path::new(o).starts_with(s)))
}

/// Runs one README command in `dir` and returns its problems.
fn run_example(e: &Example, args: &[String], dir: &Path, promises: &Promises) -> Vec<String> {
    if let Some(o) = writes_into_repository(args) {
        return vec![format!(
            "writes into the repository's {o}: write outputs elsewhere"
        )];
    }
    let before = snapshot(dir);
    let o = run_apcsim(args, dir);
    eprintln!(
        "README.md:{} {:7.1} s exit {:?}: {}",
        e.line, o.seconds, o.code, e.source
    );
    let new: Vec<PathBuf> = snapshot(dir).difference(&before).cloned().collect();
    let mut problems = check_outcome(&e.shown, args, &o);
    problems.extend(check_written(args, o.code == Some(0), &new, dir, promises));
    problems
}

fn run_session(session: &Session, promises: &Promises, ngspice: &mut Option<bool>) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    link_inputs(dir.path(), session);
    let mut failures = Vec::new();
    for e in &session.examples {
        let Program::Apcsim(args) = &e.program else {
            eprintln!(
                "README.md:{} (this test suite, not run): {}",
                e.line, e.source
            );
            continue;
        };
        if args.first().is_some_and(|s| s == "spice-check")
            && !*ngspice.get_or_insert_with(ngspice_available)
        {
            continue;
        }
        for p in run_example(e, args, dir.path(), promises) {
            failures.push(format!("README.md:{}: `{}`: {p}", e.line, e.source));
        }
    }
    failures
}

// ---------------------------------------------------------------------------------------------
// Synopses and development commands

/// The long flags a synopsis names, each with the `a|b|c` values written after it.
fn synopsis_flags(text: &str) -> Vec<(String, Vec<String>)> {
    let cleaned: String = text
        .chars()
        .map(|c| if "[]".contains(c) { ' ' } else { c })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut flags = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let Some(name) = w.strip_prefix("--") else {
            continue;
        };
        let name: String = name
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let values = words
            .get(i + 1)
            .filter(|v| v.contains('|'))
            .map(|v| v.split('|').map(str::to_string).collect())
            .unwrap_or_default();
        flags.push((format!("--{name}"), values));
    }
    flags
}

/// The long flags of a `--help` text, each with its help line.
fn help_flags(help: &str) -> BTreeMap<String, String> {
    let mut flags = BTreeMap::new();
    for line in help.lines().filter(|l| l.trim_start().starts_with('-')) {
        for word in line.split_whitespace().filter(|w| w.starts_with("--")) {
            let name: String = word
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            flags.entry(name).or_insert_with(|| line.to_string());
        }
    }
    flags
}

fn check_synopsis(s: &Synopsis) -> Vec<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_apcsim"))
        .args(&s.subcommand)
        .arg("--help")
        .output()
        .unwrap();
    let sub = s.subcommand.join(" ");
    if !o.status.success() {
        return vec![format!("`apcsim {sub} --help` fails: no such subcommand")];
    }
    let help = help_flags(&String::from_utf8_lossy(&o.stdout));
    let mut problems = Vec::new();
    for (flag, values) in synopsis_flags(&s.text) {
        match help.get(&flag) {
            None => problems.push(format!("`apcsim {sub}` has no {flag}")),
            Some(line) => problems.extend(
                (values.iter().filter(|v| !line.contains(v.as_str())))
                    .map(|v| format!("{flag} of `apcsim {sub}` does not name `{v}`: {line}")),
            ),
        }
    }
    problems
}

/// The `[[bench]]` names of Cargo.toml.
fn benches() -> Vec<String> {
    let manifest: toml::Table = fs::read_to_string(repo().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let benches = manifest.get("bench").and_then(|b| b.as_array());
    (benches.into_iter().flatten())
        .filter_map(|b| b.get("name")?.as_str().map(str::to_string))
        .collect()
}

/// Syntax check of a development command: its bench or fuzz target and the paths it names exist.
fn check_dev_command(words: &[String]) -> Vec<String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["cargo", "bench", "--bench", name, rest @ ..]
            if rest.first().is_none_or(|r| *r == "--") =>
        {
            let known = benches().iter().any(|b| b == name);
            let file = repo().join("benches").join(format!("{name}.rs"));
            match known && file.is_file() {
                true => Vec::new(),
                false => vec![format!("no bench `{name}` in Cargo.toml and benches/")],
            }
        }
        ["cargo", "+nightly", "fuzz", "run", target, _corpus, rest @ ..] => {
            let mut problems = Vec::new();
            let file = format!("fuzz/fuzz_targets/{target}.rs");
            // The corpus folder (the first) is created by cargo fuzz; the others seed it.
            let (dirs, options) =
                rest.split_at(rest.iter().position(|r| *r == "--").unwrap_or(rest.len()));
            let dict = options.iter().filter_map(|o| o.strip_prefix("-dict="));
            for path in std::iter::once(file.as_str())
                .chain(dirs.iter().copied())
                .chain(dict)
            {
                if !repo().join(path).exists() {
                    problems.push(format!("{path} does not exist"));
                }
            }
            problems
        }
        _ => vec!["not a `cargo bench --bench NAME` or `cargo +nightly fuzz run` command".into()],
    }
}

// ---------------------------------------------------------------------------------------------
// The tests

/// A README of every kind of block, for the parser's own test (line numbers count from the
/// empty first line).
const SNIPPET: &str = r#"
Intro `apcsim run` in prose is not a command.

```sh
cargo run --release -- run      # the default design
cargo test --release
apcsim sweep circuits/tiny.toml \
    --grid device.levels=8,16 --set 'run.batch=4' --out "sweeps/a b"
```

```text
$ apcsim check circuits/tiny.toml --set x=1
error: one line
$ apcsim schema
[network]
```

```text
apcsim run [FILE] [--set key=value]... [--out DIR]
apcsim study width-depth [--param mupc|sp|ntp]
                         [--seed 0]
```

```console
$ cargo bench --bench inference
```

```toml
device = "pcm"
```

```text
error: a sample of output, not a command
```
"#;

/// The parser on a small README of every kind of block: a parser that finds nothing fails here.
#[test]
fn parser_reads_every_kind_of_block() {
    let snippet = SNIPPET;
    let r = parse_readme(snippet).unwrap_or_else(|e| panic!("{e:?}"));
    let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let got: Vec<(usize, &Program, &Shown)> = r
        .examples()
        .map(|e| (e.line, &e.program, &e.shown))
        .collect();
    let mut sweep =
        args("sweep circuits/tiny.toml --grid device.levels=8,16 --set run.batch=4 --out");
    sweep.push("sweeps/a b".into());
    assert_eq!(
        got,
        vec![
            (5, &Program::Apcsim(args("run")), &Shown::Success),
            (6, &Program::TestSuite, &Shown::Success),
            (7, &Program::Apcsim(sweep), &Shown::Success),
            (
                12,
                &Program::Apcsim(args("check circuits/tiny.toml --set x=1")),
                &Shown::Refusal(vec!["error: one line".into()])
            ),
            (
                14,
                &Program::Apcsim(args("schema")),
                &Shown::Stdout(vec!["[network]".into()])
            ),
        ]
    );
    assert_eq!(r.sessions.len(), 2);
    let subs: Vec<(usize, String)> = r
        .synopses
        .iter()
        .map(|s| (s.line, s.subcommand.join(" ")))
        .collect();
    assert_eq!(
        subs,
        vec![(19, "run".into()), (20, "study width-depth".into())]
    );
    assert_eq!(
        synopsis_flags(&r.synopses[1].text),
        vec![
            ("--param".into(), args("mupc sp ntp")),
            ("--seed".into(), Vec::new())
        ]
    );
    assert_eq!(
        r.dev,
        vec![DevCommand {
            line: 25,
            words: args("cargo bench --bench inference")
        }]
    );
}

/// Lines the harness cannot run as written are errors, not silently skipped.
#[test]
fn parser_refuses_what_it_cannot_run() {
    for (block, why) in [
        ("```sh\nngspice -b tiny.cir\n```", "not a command"),
        ("```sh\napcsim run > out.txt\n```", "shell feature"),
        ("```sh\napcsim run $HOME/x.toml\n```", "shell feature"),
        ("```sh\napcsim run [FILE] [--out DIR]\n```", "placeholder"),
        (
            "```sh\napcsim sweep FILE --grid KEY=V1,…\n```",
            "placeholder",
        ),
        ("```sh\ncargo run --bin apcsim\n```", "only --release"),
        (
            "```sh\napcsim check 'circuits/tiny.toml\n```",
            "unterminated",
        ),
        ("```text\n$ \nerror: x\n```", "empty"),
        ("```toml\n$ apcsim run\n```", "not a transcript"),
        ("```text\napcsim run FILE\nerror: x\n```", "neither"),
    ] {
        let errors = parse_readme(block).err().unwrap_or_default();
        assert!(
            errors.iter().any(|e| e.contains(why)),
            "{block:?}: expected an error about {why:?}, got {errors:?}"
        );
    }
}

/// The real README yields all its commands. Counted by reading README.md: 18 ```sh commands
/// (set-up 2, the sweep 1, shards and merge 5, check and schema 5, width-depth 2, SPICE 3),
/// 4 transcript commands (2 sweep refusals, 2 check refusals), 5 synopses (run, sweep, merge,
/// reference, study width-depth) and 4 development commands (3 benches, 1 fuzz).
#[test]
fn readme_yields_all_its_commands() {
    let r = parse_real_readme();
    let commands = r.examples().count();
    assert!(
        commands >= 22,
        "{commands} commands found in README.md, at least 22 expected"
    );
    assert!(r.synopses.len() >= 5, "{} synopses", r.synopses.len());
    assert!(r.dev.len() >= 4, "{} development commands", r.dev.len());
    let refusals = r
        .examples()
        .filter(|e| matches!(e.shown, Shown::Refusal(_)))
        .count();
    assert!(refusals >= 4, "{refusals} refusals");
}

/// Every runnable command of README.md runs as written, exits as shown, prints what is shown
/// and writes what the README says where it says.
#[test]
fn every_readme_command_runs_as_shown() {
    let text = readme_text();
    let readme = parse_real_readme();
    let promises = Promises::from_readme(&text);
    let mut ngspice = None;
    let failures: Vec<String> = (readme.sessions.iter())
        .flat_map(|s| run_session(s, &promises, &mut ngspice))
        .collect();
    assert!(
        failures.is_empty(),
        "{} README command problem(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every synopsis names a subcommand that exists and only flags (and values) it has.
#[test]
fn every_readme_synopsis_matches_its_help() {
    let readme = parse_real_readme();
    let failures: Vec<String> = (readme.synopses.iter())
        .flat_map(|s| {
            check_synopsis(s)
                .into_iter()
                .map(move |p| format!("README.md:{}: {p}", s.line))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The development commands (benches, fuzzing) name benches, targets and paths that exist.
#[test]
fn every_readme_development_command_names_what_exists() {
    let readme = parse_real_readme();
    let failures: Vec<String> = (readme.dev.iter())
        .flat_map(|d| {
            check_dev_command(&d.words)
                .into_iter()
                .map(move |p| format!("README.md:{}: {p}", d.line))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The synopsis and development checks can fail: a renamed flag, an unknown value, a missing
/// bench or fuzz path.
#[test]
fn synopsis_and_development_checks_catch_renames() {
    let synopsis = |text: &str| Synopsis {
        line: 1,
        subcommand: vec!["reference".into()],
        text: text.into(),
    };
    assert!(check_synopsis(&synopsis(
        "apcsim reference IN.h5 --out OUT.h5 [--solver euler|rk4]"
    ))
    .is_empty());
    assert_eq!(
        check_synopsis(&synopsis("apcsim reference IN --output OUT")).len(),
        1
    );
    assert_eq!(
        check_synopsis(&synopsis("apcsim reference IN [--solver euler|rk5]")).len(),
        1
    );
    let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    assert!(check_dev_command(&words("cargo bench --bench inference")).is_empty());
    assert_eq!(
        check_dev_command(&words("cargo bench --bench nothing")).len(),
        1
    );
    assert_eq!(
        check_dev_command(&words(
            "cargo +nightly fuzz run load_circuit c fuzz/nothing -- -dict=fuzz/x.dict"
        ))
        .len(),
        2
    );
}
