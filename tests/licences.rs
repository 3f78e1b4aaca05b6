//! Every crate leadflow is built from can be distributed with it under
//! "MIT OR Apache-2.0": its licence expression (from `cargo metadata`, the
//! licences the crates declare) must be satisfiable by permissive licences
//! alone. A crate with no declared licence, or one that needs a licence
//! outside the list (GPL, say), fails the test by name.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

/// Licences that allow distribution inside an MIT OR Apache-2.0 program.
const PERMISSIVE: &[&str] = &[
    "MIT",
    "MIT-0",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "Unicode-3.0",
    "Unlicense",
    "CC0-1.0",
    "BSL-1.0",
    "CDLA-Permissive-2.0",
];

/// Whether an SPDX expression (`A OR B`, `A AND (B OR C)`, `A WITH E`, and
/// the old `A/B` for OR) can be met with permissive licences only.
fn satisfiable(expr: &str) -> bool {
    let spaced = expr
        .replace('/', " OR ")
        .replace('(', " ( ")
        .replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    let ok = or_expr(&tokens, &mut pos);
    ok && pos == tokens.len()
}

fn or_expr(t: &[&str], pos: &mut usize) -> bool {
    let mut ok = and_expr(t, pos);
    while t.get(*pos) == Some(&"OR") {
        *pos += 1;
        ok |= and_expr(t, pos);
    }
    ok
}

fn and_expr(t: &[&str], pos: &mut usize) -> bool {
    let mut ok = term(t, pos);
    while t.get(*pos) == Some(&"AND") {
        *pos += 1;
        ok &= term(t, pos);
    }
    ok
}

fn term(t: &[&str], pos: &mut usize) -> bool {
    match t.get(*pos) {
        Some(&"(") => {
            *pos += 1;
            let ok = or_expr(t, pos);
            if t.get(*pos) == Some(&")") {
                *pos += 1;
                ok
            } else {
                false
            }
        }
        Some(id) => {
            *pos += 1;
            let mut licence = (*id).to_owned();
            if t.get(*pos) == Some(&"WITH") {
                licence = format!("{licence} WITH {}", t.get(*pos + 1).unwrap_or(&""));
                *pos += 2;
            }
            PERMISSIVE.contains(&licence.as_str())
        }
        None => false,
    }
}

#[test]
fn licence_expressions_are_read_as_spdx_means_them() {
    assert!(satisfiable("MIT OR Apache-2.0"));
    assert!(satisfiable("MIT/Apache-2.0"));
    assert!(satisfiable("(MIT OR Apache-2.0) AND Unicode-3.0"));
    assert!(satisfiable(
        "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT"
    ));
    assert!(satisfiable("MIT OR Apache-2.0 OR LGPL-2.1-or-later"));
    assert!(!satisfiable("GPL-3.0-only"));
    assert!(!satisfiable("MIT AND GPL-2.0-only"));
    assert!(!satisfiable("(MIT OR Apache-2.0"));
}

#[test]
fn every_dependency_may_be_distributed_with_leadflow() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    assert!(packages.len() > 100, "the whole tree, not just leadflow");
    let mut refused = BTreeSet::new();
    for p in packages {
        let name = format!("{} {}", p["name"].as_str().unwrap(), p["version"]);
        match p["license"].as_str() {
            Some(expr) if satisfiable(expr) => {}
            Some(expr) => {
                refused.insert(format!("{name}: {expr}"));
            }
            None => {
                refused.insert(format!("{name}: no licence declared"));
            }
        }
    }
    assert!(refused.is_empty(), "licences that do not fit: {refused:#?}");
    let own = packages.iter().find(|p| p["name"] == "leadflow").unwrap();
    assert_eq!(own["license"], "MIT OR Apache-2.0");
}
