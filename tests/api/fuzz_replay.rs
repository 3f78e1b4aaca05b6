//! The fuzzers' committed corpus and every input that once broke a parser
//! (`fuzz/regressions/`), replayed as ordinary tests on the stable
//! toolchain: a parser that panics on any of them fails here.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut inputs = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            // (A fuzzer running beside the tests may reduce a file away.)
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target} panics on {}", path.display());
            inputs += 1;
        }
    }
    assert!(inputs > 0, "no corpus for {target}");
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
