//! The library's layers depend one way (docs/design.md §5), and no two source files import each
//! other, directly or around a loop. Read from the source text: every `crate::` and `super::`
//! path in a file is an edge to the file that defines it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's top-level modules, top to bottom: a module may use those of a lower rank.
/// Modules of one rank are peers and may not use each other.
const LAYERS: &[(&str, u32)] = &[
    ("numeric", 0),
    ("network", 1),
    ("io", 2),
    ("hardware", 3),
    ("config", 4),
    ("dynamics", 5),
    ("analog", 6),
    ("design", 7),
    ("measure", 8),
    ("report", 9),
    ("study", 10),
    ("spice", 10),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file of the library (not the binary), relative to `src/`.
fn library_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path.strip_prefix(src()).unwrap().to_path_buf());
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    files
        .retain(|f| !f.starts_with("bin") && f != Path::new("lib.rs") && f != Path::new("main.rs"));
    files.sort();
    files
}

/// The module path of a file: `analog/sim.rs` -> [analog, sim], `analog/mod.rs` -> [analog].
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The source text without comments and string literals, so that prose naming a path is no edge.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '"' && !escaped {
                        break;
                    }
                    escaped = c == '\\' && !escaped;
                }
                out.push_str("\"\"");
            }
            '\'' => {
                // A char literal ('x', '\n', '"') is skipped; a lifetime ('a) is kept.
                let ahead: Vec<char> = chars.clone().take(3).collect();
                if ahead.first() == Some(&'\\') {
                    chars.next();
                    chars.next();
                    while chars.next().is_some_and(|c| c != '\'') {}
                } else if ahead.get(1) == Some(&'\'') {
                    chars.next();
                    chars.next();
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The module paths a file names through `crate::` and `super::` paths, `use` groups included.
fn named_modules(file: &Path, code: &str) -> Vec<Vec<String>> {
    let here = module_of(file);
    let mut out = Vec::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", here[..here.len() - 1].to_vec()),
    ] {
        let mut from = 0;
        while let Some(i) = code[from..].find(prefix) {
            let at = from + i;
            from = at + prefix.len();
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            for tail in paths_at(&code[from..]) {
                let mut path = base.clone();
                for segment in tail {
                    if segment == "super" {
                        path.pop();
                    } else {
                        path.push(segment);
                    }
                }
                if !path.is_empty() {
                    out.push(path);
                }
            }
        }
    }
    out
}

/// The paths written at the start of `text`: `a::b::C` gives one, `a::{b, c::D}` two.
fn paths_at(text: &str) -> Vec<Vec<String>> {
    let ident: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let rest = &text[ident.len()..];
    if ident.is_empty() {
        let Some(group) = rest.strip_prefix('{') else {
            return Vec::new();
        };
        let mut depth = 0;
        let mut items = vec![String::new()];
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(String::new());
                    continue;
                }
                _ => {}
            }
            items.last_mut().unwrap().push(c);
        }
        return items
            .iter()
            .flat_map(|item| paths_at(item.trim_start()))
            .collect();
    }
    match rest.strip_prefix("::") {
        Some(more) => {
            let tails = paths_at(more);
            if tails.is_empty() {
                vec![vec![ident]]
            } else {
                tails
                    .into_iter()
                    .map(|t| std::iter::once(ident.clone()).chain(t).collect())
                    .collect()
            }
        }
        None => vec![vec![ident]],
    }
}

/// The file (relative to `src/`) that defines the longest prefix of `path` among `files`.
fn file_for(path: &[String], files: &BTreeSet<PathBuf>) -> Option<PathBuf> {
    for n in (1..=path.len()).rev() {
        let stem: PathBuf = path[..n].iter().collect();
        for candidate in [stem.with_extension("rs"), stem.join("mod.rs")] {
            if files.contains(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

fn rank(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// Edges file -> file, leaving out a folder's mod.rs naming its own children (that is where the
/// children are declared and re-exported, not a dependency).
fn edges() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let files: BTreeSet<PathBuf> = library_files().into_iter().collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(src().join(file)).unwrap();
        let code = code_of(&text);
        let folder = file.parent().unwrap_or(Path::new(""));
        let mut targets = BTreeSet::new();
        for path in named_modules(file, &code) {
            let Some(target) = file_for(&path, &files) else {
                continue;
            };
            let declares_child = file.file_name().is_some_and(|n| n == "mod.rs")
                && target.starts_with(folder)
                && target != *file;
            if target != *file && !declares_child {
                targets.insert(target);
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

#[test]
fn every_layer_uses_only_the_layers_above_it() {
    let mut wrong = Vec::new();
    for (file, targets) in edges() {
        let from = module_of(&file)[0].clone();
        let Some(from_rank) = rank(&from) else {
            wrong.push(format!(
                "{}: module `{from}` is in no layer",
                file.display()
            ));
            continue;
        };
        for target in targets {
            let to = module_of(&target)[0].clone();
            if to == from {
                continue;
            }
            match rank(&to) {
                Some(r) if r < from_rank => {}
                _ => wrong.push(format!(
                    "{} ({from}) uses {} ({to})",
                    file.display(),
                    target.display()
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layer order:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_two_files_import_each_other() {
    let graph = edges();
    assert!(graph.len() > 50, "read only {} files", graph.len());
    // Every cycle passes through some edge a -> b with b reaching a back.
    let reaches = |from: &PathBuf, to: &PathBuf| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(f) = stack.pop() {
            if &f == to {
                return true;
            }
            if seen.insert(f.clone()) {
                stack.extend(graph.get(&f).into_iter().flatten().cloned());
            }
        }
        false
    };
    let mut cycles = Vec::new();
    for (a, targets) in &graph {
        for b in targets {
            if reaches(b, a) {
                cycles.push(format!(
                    "{} -> {} -> ... -> {}",
                    a.display(),
                    b.display(),
                    a.display()
                ));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between files:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_reader_finds_the_edges_it_should() {
    let file = Path::new("analog/sim.rs");
    let code = code_of(
        "use crate::dynamics::{a, b::C};\nlet q = '\"'; use super::circuit::X; // crate::spice\nlet s = \"crate::study\";",
    );
    let named = named_modules(file, &code);
    let expect = [
        vec!["dynamics", "a"],
        vec!["dynamics", "b", "C"],
        vec!["analog", "circuit", "X"],
    ];
    let expect: Vec<Vec<String>> = expect
        .iter()
        .map(|p| p.iter().map(|s| s.to_string()).collect())
        .collect();
    assert_eq!(named, expect);
}
