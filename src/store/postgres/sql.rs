//! Building PostgreSQL statements: numbered parameters and lead filters.

use tokio_postgres::types::ToSql;

use crate::domain::filter::LeadFilter;
use crate::domain::id::ObjectId;

pub type Param = Box<dyn ToSql + Sync + Send>;

/// A statement's text and its parameters, numbered as they are pushed.
#[derive(Default)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Param>,
}

impl Sql {
    /// Adds a parameter and returns its placeholder.
    pub fn param<T: ToSql + Sync + Send + 'static>(&mut self, v: T) -> String {
        self.params.push(Box::new(v));
        format!("${}", self.params.len())
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The condition that `alias` (a lead) is, or is not, one of `ids`; the
/// timestamp half of each ID is checked too.
pub fn id_in(sql: &mut Sql, alias: &str, ids: &[ObjectId], negate: bool) {
    id_in_at(sql, alias, "created_at", ids, negate)
}

/// [`id_in`] for a table whose IDs take their time from column `at`.
pub fn id_in_at(sql: &mut Sql, alias: &str, at: &str, ids: &[ObjectId], negate: bool) {
    let keys = sql.param(ids.iter().map(|i| i.key).collect::<Vec<i64>>());
    let secs = sql.param(ids.iter().map(|i| i64::from(i.secs)).collect::<Vec<i64>>());
    let not = if negate { "not " } else { "" };
    sql.push(&format!(
        " and {not}exists (select 1 from unnest({keys}::bigint[], {secs}::bigint[]) as x(k, s) \
         where x.k = {alias}.id and x.s = {alias}.{at} / 1000)"
    ));
}

/// Escapes `%`, `_` and `\` for a LIKE pattern.
pub fn like_pattern(s: &str) -> String {
    crate::store::sqlite::like_pattern(s)
}

/// Appends the conditions of `f` on the leads aliased `l`.
pub fn lead_filter(sql: &mut Sql, f: &LeadFilter) {
    if let Some(tags) = &f.tags {
        let p = sql.param(tags.clone());
        sql.push(&format!(" and l.tags && {p}::text[]"));
    }
    if let Some(search) = &f.search {
        let p = sql.param(like_pattern(search));
        sql.push(&format!(
            " and (l.email_key like {p} or l.first_name ilike {p} \
             or l.last_name ilike {p} or l.company_name ilike {p})"
        ));
    }
    if let Some(statuses) = &f.email_status {
        let null = if statuses.iter().any(|s| s == "unverified") {
            " or l.email_verification_result is null"
        } else {
            ""
        };
        let p = sql.param(statuses.clone());
        sql.push(&format!(
            " and (l.email_verification_result = any({p}::text[]){null})"
        ));
    }
    if let Some(verified) = f.email_verified {
        sql.push(if verified {
            " and l.email_verification_result is not null"
        } else {
            " and l.email_verification_result is null"
        });
    }
    if let Some(countries) = &f.country {
        let p = sql.param(countries.clone());
        sql.push(&format!(" and l.country = any({p}::text[])"));
    }
    if let Some(ids) = &f.lead_ids {
        id_in(sql, "l", ids, false);
    }
    if let Some(after) = f.created_after {
        let p = sql.param(after);
        sql.push(&format!(" and l.created_at > {p}"));
    }
    if let Some(before) = f.created_before {
        let p = sql.param(before);
        sql.push(&format!(" and l.created_at < {p}"));
    }
}

/// True for a lead (aliased `l`) whose email or domain is on its
/// workspace's do-not-contact list.
pub const ON_DNC: &str = "(exists (select 1 from dnc_entries d where d.workspace_id = l.workspace_id \
     and d.kind = 'email' and d.value = l.email_key) \
  or exists (select 1 from dnc_entries d where d.workspace_id = l.workspace_id \
     and d.kind = 'domain' and d.value = split_part(l.email_key, '@', 2)))";
