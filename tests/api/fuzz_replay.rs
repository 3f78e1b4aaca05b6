//! The fuzzers' committed corpus and every input that once broke a parser
//! (`fuzz/regressions/`), replayed as ordinary tests on the stable
//! toolchain: a parser that panics on any of them fails here. A missing or
//! empty corpus or regressions directory fails too, rather than replaying
//! nothing.

use std::path::{Path, PathBuf};

/// The fuzz targets, each replayed by a test below.
const TARGETS: [&str; 3] = ["add_leads", "filters", "csv_import"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of a directory that must exist and hold at least one.
fn files(dir: &Path) -> Vec<PathBuf> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{} is missing: {e}", dir.display()));
    let files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

/// Runs `run` on each file; returns how many were replayed.
fn replay_files(target: &str, run: fn(&[u8]), files: &[PathBuf]) -> usize {
    let mut inputs = 0;
    for path in files {
        // (A fuzzer running beside the tests may reduce a file away.)
        let Ok(data) = std::fs::read(path) else {
            continue;
        };
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target} panics on {}", path.display());
        inputs += 1;
    }
    inputs
}

fn replay(target: &str, run: fn(&[u8])) {
    let root = root();
    // Every target has a corpus.
    let mut inputs = replay_files(target, run, &files(&root.join("corpus").join(target)));
    assert!(inputs > 0, "no corpus for {target}");
    // Not every target has had a finding; one that has keeps it.
    let regressions = root.join("regressions").join(target);
    if regressions.exists() {
        let replayed = replay_files(target, run, &files(&regressions));
        assert!(replayed > 0, "no regression of {target} could be read");
        inputs += replayed;
    }
    eprintln!("{target}: {inputs} inputs replayed");
}

#[test]
fn the_add_leads_corpus_replays_cleanly() {
    replay("add_leads", leadflow::fuzzing::add_leads);
}

#[test]
fn the_filters_corpus_replays_cleanly() {
    replay("filters", leadflow::fuzzing::filters);
}

#[test]
fn the_csv_import_corpus_replays_cleanly() {
    replay("csv_import", leadflow::fuzzing::csv_import);
}

/// `fuzz/regressions/` is there and not empty, and each of its folders is
/// a known target's (so that none is skipped) and holds inputs.
#[test]
fn the_regressions_are_kept_for_known_targets() {
    let dirs = files(&root().join("regressions"));
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_str().unwrap();
        assert!(
            TARGETS.contains(&name),
            "{} is not a fuzz target's folder: its inputs are never replayed",
            dir.display()
        );
        files(dir);
    }
    // The findings made so far are still there.
    assert!(
        dirs.iter().any(|d| d.ends_with("csv_import")),
        "fuzz/regressions/csv_import is gone: {dirs:?}"
    );
}

/// Each target of `fuzz/fuzz_targets/` is replayed here.
#[test]
fn every_fuzz_target_is_replayed() {
    let mut found: Vec<String> = files(&root().join("fuzz_targets"))
        .iter()
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect();
    found.sort();
    let mut replayed = TARGETS.to_vec();
    replayed.sort();
    assert_eq!(found, replayed);
}
