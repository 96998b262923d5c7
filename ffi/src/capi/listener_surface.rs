//! Renders `listener_fns.rs` from `listener_surface.txt` and checks the committed file is
//! current. The C listener functions must be written out for cbindgen (it reads source, not
//! macro expansions), so they are generated from one table instead of written by hand.

use std::fmt::Write;

/// One entry of the table.
struct Entry<'a> {
    name: &'a str,
    ids: Vec<&'a str>,
    mutator: bool,
    variant: &'a str,
    doc: Vec<&'a str>,
}

fn parse(table: &str) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry<'_>> = Vec::new();
    for line in table.lines().filter(|l| !l.starts_with('#')) {
        if let Some(doc) = line.strip_prefix("  ") {
            entries
                .last_mut()
                .expect("a doc line before any entry")
                .doc
                .push(doc);
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        let [name, ids, mutator, variant] = fields[..] else {
            panic!("an entry line has four fields: {line:?}");
        };
        entries.push(Entry {
            name,
            ids: ids.split(',').filter(|id| !id.is_empty()).collect(),
            mutator: mutator == "mutator",
            variant,
            doc: Vec::new(),
        });
    }
    entries
}

fn render(table: &str) -> String {
    let mut out = String::from(
        "//! Generated from `listener_surface.txt` by `listener_surface.rs` (run\n\
         //! `TINYSTORE_BLESS=1 cargo test -p tinystore-ffi listener_surface`): do not edit.\n\
         //! The C ABI's typed listener functions; each registers through `listeners::listen`.\n\n\
         use super::*;\n",
    );
    for e in parse(table) {
        out.push('\n');
        for line in &e.doc {
            out.push_str(if line.is_empty() { "///\n" } else { "/// " });
            if !line.is_empty() {
                writeln!(out, "{line}").unwrap();
            }
        }
        out.push_str("#[unsafe(no_mangle)]\n");
        writeln!(
            out,
            "pub unsafe extern \"C\" fn tinystore_store_add_{}_listener(",
            e.name
        )
        .unwrap();
        out.push_str("    store: *mut tinystore_store_t,\n");
        for id in &e.ids {
            writeln!(out, "    {id}: *const c_char,").unwrap();
        }
        if e.mutator {
            out.push_str("    mutator: bool,\n");
        }
        out.push_str(
            "    listener: tinystore_listener_fn_t,\n    user_data: *mut c_void,\n    \
             out_id: *mut tinystore_listener_id_t,\n) -> tinystore_status_t {\n    guard(|| {\n",
        );
        for id in &e.ids {
            writeln!(
                out,
                "        let {id} = unsafe {{ opt_str_arg({id}, \"{id}\")? }};"
            )
            .unwrap();
        }
        let fields = e.ids.join(", ");
        let what = if e.ids.is_empty() {
            format!("Listen::{}", e.variant)
        } else {
            format!("Listen::{} {{ {fields} }}", e.variant)
        };
        let mutator = if e.mutator { "mutator" } else { "false" };
        writeln!(
            out,
            "        listen(store, {what}, {mutator}, listener, user_data, out_id)"
        )
        .unwrap();
        out.push_str("    })\n}\n");
    }
    out
}

#[test]
fn listener_surface() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capi");
    let table = std::fs::read_to_string(dir.join("listener_surface.txt")).unwrap();
    let expected = render(&table);
    let path = dir.join("listener_fns.rs");
    if std::env::var_os("TINYSTORE_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "ffi/src/capi/listener_fns.rs is not what listener_surface.txt generates: run \
         TINYSTORE_BLESS=1 cargo test -p tinystore-ffi listener_surface"
    );
}

#[test]
fn every_entry_names_a_listener_kind_once() {
    let table = include_str!("listener_surface.txt");
    let entries = parse(table);
    let mut names: Vec<&str> = entries.iter().map(|e| e.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), entries.len(), "a function is listed twice");
    // With the hand-written sorted-row-ids function, the table covers every C kind.
    assert_eq!(entries.len() + 1, super::listeners::KINDS.len());
    assert!(
        entries.iter().all(|e| !e.doc.is_empty()),
        "every function has docs"
    );
}
