//! Building SQLite statements: numbered parameters, lead filters, ID lists.

use rusqlite::types::Value as SqlValue;
use serde_json::{Value, json};

use crate::domain::filter::LeadFilter;
use crate::domain::id::ObjectId;

/// A statement's text and its parameters, numbered as they are pushed.
#[derive(Default)]
pub struct Sql {
    pub text: String,
    pub params: Vec<SqlValue>,
}

impl Sql {
    /// Adds a parameter and returns its placeholder.
    pub fn param(&mut self, v: impl Into<SqlValue>) -> String {
        self.params.push(v.into());
        format!("?{}", self.params.len())
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub fn params(&self) -> rusqlite::ParamsFromIter<std::slice::Iter<'_, SqlValue>> {
        rusqlite::params_from_iter(self.params.iter())
    }
}

/// IDs as a JSON array of `[key, seconds]` pairs, for `json_each`.
pub fn id_pairs(ids: &[ObjectId]) -> String {
    Value::Array(ids.iter().map(|id| json!([id.key, id.secs])).collect()).to_string()
}

/// The condition that `alias.id` is one of `ids` (timestamps checked
/// against `alias.created_at`).
pub fn id_in(sql: &mut Sql, alias: &str, ids: &[ObjectId], negate: bool) {
    id_in_at(sql, alias, "created_at", ids, negate)
}

/// [`id_in`] for a table whose IDs take their time from column `at`.
pub fn id_in_at(sql: &mut Sql, alias: &str, at: &str, ids: &[ObjectId], negate: bool) {
    let p = sql.param(id_pairs(ids));
    // The first IN lets the planner probe by key; the row-value IN checks the
    // timestamp half of each ID.
    if negate {
        sql.push(&format!(
            " and ({alias}.id, {alias}.{at} / 1000) not in (select value ->> 0, value ->> 1 from json_each({p}))"
        ));
    } else {
        sql.push(&format!(
            " and {alias}.id in (select value ->> 0 from json_each({p})) \
             and ({alias}.id, {alias}.{at} / 1000) in (select value ->> 0, value ->> 1 from json_each({p}))"
        ));
    }
}

fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `escape '\'`.
pub fn like_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Appends the conditions of `f` on the leads aliased `l`, cheapest first
/// (SQLite evaluates them in order, so the JSON work of the tag test runs
/// only on the rows that pass the rest).
pub fn lead_filter(sql: &mut Sql, f: &LeadFilter) {
    if let Some(ids) = &f.lead_ids {
        id_in(sql, "l", ids, false);
    }
    if let Some(countries) = &f.country {
        if let [one] = countries.as_slice() {
            let p = sql.param(one.clone());
            sql.push(&format!(" and l.country = {p}"));
        } else {
            let p = sql.param(json_list(countries));
            sql.push(&format!(
                " and l.country in (select value from json_each({p}))"
            ));
        }
    }
    if let Some(verified) = f.email_verified {
        sql.push(if verified {
            " and l.email_verification_result is not null"
        } else {
            " and l.email_verification_result is null"
        });
    }
    if let Some(statuses) = &f.email_status {
        let p = sql.param(json_list(statuses));
        let null = if statuses.iter().any(|s| s == "unverified") {
            " or l.email_verification_result is null"
        } else {
            ""
        };
        sql.push(&format!(
            " and (l.email_verification_result in (select value from json_each({p})){null})"
        ));
    }
    if let Some(after) = f.created_after {
        let p = sql.param(after);
        sql.push(&format!(" and l.created_at > {p}"));
    }
    if let Some(before) = f.created_before {
        let p = sql.param(before);
        sql.push(&format!(" and l.created_at < {p}"));
    }
    if let Some(search) = &f.search {
        let p = sql.param(like_pattern(search));
        sql.push(&format!(
            " and (l.email_key like {p} escape '\\' or l.first_name like {p} escape '\\' \
             or l.last_name like {p} escape '\\' or l.company_name like {p} escape '\\')"
        ));
    }
    if let Some(tags) = &f.tags {
        if let [one] = tags.as_slice() {
            let p = sql.param(one.clone());
            sql.push(&format!(
                " and exists (select 1 from json_each(l.tags) t where t.value = {p})"
            ));
        } else {
            let p = sql.param(json_list(tags));
            sql.push(&format!(
                " and exists (select 1 from json_each(l.tags) t where t.value in (select value from json_each({p})))"
            ));
        }
    }
}

/// True for a lead (aliased `l`) whose email or domain is on its
/// workspace's do-not-contact list.
pub const ON_DNC: &str = "(exists (select 1 from dnc_entries d where d.workspace_id = l.workspace_id \
     and d.kind = 'email' and d.value = l.email_key) \
  or exists (select 1 from dnc_entries d where d.workspace_id = l.workspace_id \
     and d.kind = 'domain' and d.value = substr(l.email_key, instr(l.email_key, '@') + 1)))";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
