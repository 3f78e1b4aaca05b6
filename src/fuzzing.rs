//! Entry points of the fuzz targets (`fuzz/`), also replayed over the
//! committed corpus by the test suite. Each takes arbitrary bytes, runs one
//! parser the API exposes, and panics only when a parser breaks a promise.

use std::collections::HashSet;

use serde_json::Value;

use crate::domain::filter::{LeadFilter, MAX_LEAD_IDS};
use crate::domain::import::{MAX_ROWS, parse_mapping};
use crate::domain::lead::LeadFields;
use crate::routes::campaign_leads::{MAX_EXPLICIT, Mode, parse_request};
use crate::routes::import::read_csv;

/// The add-leads request parser and the validation of its lead entries.
pub fn add_leads(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // A valid parse promises at most 5,000 entries, every entry either used
    // or reported once, in order.
    if value.is_object()
        && let Ok(request) = serde_json::from_value(value.clone())
        && let Ok(Mode::Explicit {
            given,
            entries,
            positions,
            errors,
            total,
        }) = parse_request(request)
    {
        assert_eq!(given.len(), total);
        assert!(total <= MAX_EXPLICIT);
        assert_eq!(entries.len(), positions.len());
        assert_eq!(entries.len() + errors.len(), total);
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
        assert!(errors.iter().all(|e| (e.index as usize) < total));
    }
    // Every lead object goes through the same validation on its own.
    if let Ok((email, fields)) = LeadFields::parse_new(&value) {
        assert!(email.as_str().len() <= 254);
        assert!(fields.email.is_none());
    }
}

/// The lead filter parser, as a JSON object and as a query string.
pub fn filters(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<Value>(data)
        && let Ok(filter) = LeadFilter::from_json(&value, "filters")
    {
        assert!(
            filter
                .lead_ids
                .as_ref()
                .is_none_or(|ids| ids.len() <= MAX_LEAD_IDS)
        );
    }
    let query = String::from_utf8_lossy(data);
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if let Ok(filter) = LeadFilter::from_query(&pairs) {
        assert!(
            filter
                .lead_ids
                .as_ref()
                .is_none_or(|ids| ids.len() <= MAX_LEAD_IDS)
        );
    }
}

/// The CSV import parser: the file alone (mapping guessed from the
/// header), and, when the input holds a 0xFF byte, a mapping (before it)
/// with a file (after it).
pub fn csv_import(data: &[u8]) {
    match data.iter().position(|&b| b == 0xFF) {
        Some(split) => {
            let mapping = String::from_utf8_lossy(&data[..split]);
            read_file(&data[split + 1..], Some(&mapping));
        }
        None => read_file(data, None),
    }
}

/// Reads `file` as an uploaded CSV with the given mapping (JSON text, as
/// the form sends it) and checks that the counts add up, every error names
/// a data line, and no email is imported twice.
fn read_file(file: &[u8], mapping: Option<&str>) {
    let given = match mapping.map(parse_mapping) {
        Some(Err(_)) => return,
        Some(Ok(given)) => Some(given),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let Ok(rows) = runtime.block_on(read_csv(file, given.as_deref())) else {
        return;
    };
    assert!(rows.count <= MAX_ROWS);
    assert_eq!(
        rows.count as u64,
        rows.leads.len() as u64 + rows.repeats + rows.failed
    );
    assert!(rows.errors.len() as u64 <= rows.failed);
    assert!(
        rows.errors.iter().all(|e| e.line >= 2),
        "{:?}",
        rows.errors
            .iter()
            .map(|e| (e.line, &e.error))
            .collect::<Vec<_>>()
    );
    let mut seen = HashSet::new();
    assert!(rows.leads.iter().all(|(email, _)| seen.insert(email.key())));
}
