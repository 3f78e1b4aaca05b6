//! Entry points of the fuzz targets (`fuzz/`), also replayed over the
//! committed corpus by the test suite. Each takes arbitrary bytes, runs one
//! parser the API exposes, and panics only when a parser breaks a promise.

use serde_json::Value;

use crate::domain::filter::{LeadFilter, MAX_LEAD_IDS};
use crate::domain::lead::LeadFields;

/// The add-leads request parser and the validation of its lead entries.
pub fn add_leads(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Some(obj) = value.as_object() {
        crate::routes::campaign_leads::fuzz_parse(obj);
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
            crate::routes::import::fuzz_parse(&data[split + 1..], Some(&mapping));
        }
        None => crate::routes::import::fuzz_parse(data, None),
    }
}
