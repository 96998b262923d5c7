//! ARCHITECTURE.md's module table is the law: every module of `core/src` may use only the
//! modules its row lists (and its own submodules), and the modules marked sans-I/O may not
//! reach sockets, files, threads, clocks, tokio or SQLite. This test reads the table and every
//! source file, resolves each `crate::…`/`super::…` path to a module of the table, and fails
//! naming the file, line and rule broken. Its checker is tested below on deliberately wrong
//! code, so a checker that stopped seeing imports would fail too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One row of the table.
#[derive(Debug)]
struct Rule {
    uses: BTreeSet<String>,
    sans_io: bool,
}

/// What sans-I/O code may not name (each is a path prefix or an identifier).
const IO_NAMES: &[&str] = &[
    "tokio",
    "rusqlite",
    "std::net",
    "std::fs",
    "std::thread",
    "std::process",
    "Instant::now",
    "SystemTime",
    "tungstenite",
    "rustls",
];

fn core_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The module table: `| \`module\` | uses … | does |`.
fn read_table(markdown: &str) -> BTreeMap<String, Rule> {
    let mut rules = BTreeMap::new();
    let mut in_table = false;
    for line in markdown.lines() {
        if line.starts_with("| module | may use |") {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || cells[1].starts_with("---") {
            continue;
        }
        let Some(module) = backticked(cells[1]).into_iter().next() else {
            continue;
        };
        rules.insert(
            module,
            Rule {
                uses: backticked(cells[2]).into_iter().collect(),
                sans_io: cells[2].contains("sans-I/O"),
            },
        );
    }
    rules
}

fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The Rust module path of a source file (`store/mod.rs` → `store`, `sync/server/relay.rs` →
/// `sync::server::relay`, `lib.rs` → ``).
fn module_of_file(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

/// The table's module that `path` belongs to: the longest listed prefix.
fn owner<'a>(rules: &'a BTreeMap<String, Rule>, path: &str) -> Option<&'a str> {
    rules
        .keys()
        .filter(|m| path == m.as_str() || path.starts_with(&format!("{m}::")))
        .max_by_key(|m| m.len())
        .map(String::as_str)
}

/// Items the crate root re-exports (`pub use module::{A, B}` in lib.rs), by name.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut text = String::new();
    for line in lib.lines() {
        let t = line.trim();
        if t.starts_with("pub use ") || !text.is_empty() {
            text.push_str(t);
            if t.ends_with(';') {
                let body = text.trim_start_matches("pub use ").trim_end_matches(';');
                if let Some((module, names)) = body.split_once("::") {
                    let names = names.trim_matches(|c| c == '{' || c == '}');
                    for name in names.split(',') {
                        let name = name.trim().rsplit("::").next().unwrap_or("").trim();
                        if !name.is_empty() {
                            out.insert(name.to_string(), module.to_string());
                        }
                    }
                }
                text.clear();
            }
        }
    }
    out
}

/// The crate paths one line of code names (`crate::a::b`, `super::x` resolved from `module`).
fn named_paths(line: &str, module: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let preceded_by_ident = i > 0 && {
            let b = bytes[i - 1];
            b.is_ascii_alphanumeric() || b == b'_' || b == b':'
        };
        if !preceded_by_ident && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let path = rest[..end].trim_end_matches(':');
            let resolved = if let Some(p) = path.strip_prefix("crate::") {
                p.to_string()
            } else {
                // `super` names the parent of the file's module (for `a/mod.rs`, whose module
                // is `a`, that is the crate root).
                let mut base: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
                let mut p = path;
                while let Some(r) = p.strip_prefix("super::") {
                    base.pop();
                    p = r;
                }
                let mut parts: Vec<&str> = base;
                parts.extend(p.split("::"));
                parts.join("::")
            };
            out.push(resolved);
            i += end.max(1);
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// Checks one file's text against the table; returns the broken rules.
fn check_file(
    rules: &BTreeMap<String, Rule>,
    reexports: &BTreeMap<String, String>,
    rel: &Path,
    text: &str,
) -> Vec<String> {
    let module = module_of_file(rel);
    let Some(me) = owner(rules, &module) else {
        if module.is_empty() {
            return Vec::new();
        }
        return vec![format!(
            "{}: module `{module}` is not in ARCHITECTURE.md's table",
            rel.display()
        )];
    };
    let rule = &rules[me];
    let mut broken = Vec::new();
    let mut in_tests = false;
    for (n, line) in text.lines().enumerate() {
        // Unit tests may use anything (they are not part of the module's dependencies).
        if line.trim_start().starts_with("#[cfg(test)]") || line.contains("#[cfg(all(test") {
            in_tests = true;
        }
        if in_tests {
            continue;
        }
        for path in named_paths(line, &module) {
            let first = path.split("::").next().unwrap_or("");
            let target = if first.chars().next().is_some_and(char::is_uppercase) {
                match reexports.get(first) {
                    Some(m) => m.clone(),
                    None => continue,
                }
            } else {
                path.clone()
            };
            let Some(target) = owner(rules, &target) else {
                continue;
            };
            let own = target == me || target.starts_with(&format!("{me}::"));
            if !own && !rule.uses.contains(target) {
                broken.push(format!(
                    "{}:{}: `{me}` uses `{target}` (via `{path}`), which its row does not list",
                    rel.display(),
                    n + 1
                ));
            }
        }
        if rule.sans_io {
            let code = line.split("//").next().unwrap_or("");
            for name in IO_NAMES {
                if code.contains(name) {
                    broken.push(format!(
                        "{}:{}: sans-I/O module `{me}` names `{name}`",
                        rel.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    broken
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn table() -> BTreeMap<String, Rule> {
    let md = std::fs::read_to_string(core_dir().join("../ARCHITECTURE.md")).unwrap();
    let rules = read_table(&md);
    assert!(
        rules.len() >= 10,
        "ARCHITECTURE.md's module table was not found (a header `| module | may use | does |`)"
    );
    rules
}

#[test]
fn every_module_uses_only_what_the_table_allows() {
    let rules = table();
    let src = core_dir().join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let reexports = root_reexports(&lib);
    let mut files = Vec::new();
    source_files(&src, &mut files);
    files.sort();
    let mut broken = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        broken.extend(check_file(&rules, &reexports, rel, &text));
    }
    assert!(
        broken.is_empty(),
        "ARCHITECTURE.md's module table is broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_checker_catches_wrong_imports() {
    let rules = table();
    let reexports = root_reexports("pub use mergeable::{MergeableStore, JsonForm};\n");
    // The store reaching the CRDT, by path, by re-export, and via `super`.
    let wrong = [
        ("store/state.rs", "use crate::mergeable::MergeableStore;"),
        (
            "store/state.rs",
            "let m = crate::MergeableStore::new(None);",
        ),
        ("store/listeners.rs", "use super::super::hlc::Hlc;"),
        ("store/mod.rs", "use crate::sync::protocol::Message;"),
        ("store/mod.rs", "use std::fs::File;"),
        ("json.rs", "use crate::persist::Persister;"),
    ];
    for (file, line) in wrong {
        let broken = check_file(&rules, &reexports, Path::new(file), line);
        assert!(!broken.is_empty(), "{file}: `{line}` was not caught");
    }
    // What the table allows passes, and tests and comments do not count.
    let fine = [
        (
            "store/state.rs",
            "use crate::types::Cell; // not crate::mergeable",
        ),
        ("mergeable/mod.rs", "use crate::store::Store;"),
        (
            "store/mod.rs",
            "#[cfg(test)]\nmod tests { use crate::mergeable::MergeableStore; }",
        ),
    ];
    for (file, text) in fine {
        let broken = check_file(&rules, &reexports, Path::new(file), text);
        assert!(broken.is_empty(), "{file}: {broken:?}");
    }
}

#[test]
fn super_paths_resolve_from_the_file() {
    assert_eq!(
        named_paths("use super::server::RoomSender;", "sync::rooms"),
        ["sync::server::RoomSender"]
    );
    assert_eq!(
        named_paths("use super::json::parse;", "sync"),
        ["json::parse"]
    );
    assert_eq!(
        module_of_file(Path::new("sync/server/relay.rs")),
        "sync::server::relay"
    );
    assert_eq!(module_of_file(Path::new("store/mod.rs")), "store");
}
