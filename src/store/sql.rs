//! Building statements once for both engines: numbered parameters, ID and
//! value lists, lead filters, the do-not-contact test.
//!
//! What differs between SQLite and PostgreSQL is small and lives in
//! [`Dialect`]: how a parameter is written (`?1` / `$1`), how a list travels
//! (one JSON text read by `json_each` / one array read by `any` or
//! `unnest`), case-insensitive `like`, row locks, and a string function or
//! two. Everything else (which conditions, in which order) is written here
//! once, so a filter criterion or a rule is never fixed in one engine only.

use crate::domain::filter::LeadFilter;
use crate::domain::id::ObjectId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// ` for update` where the engine has row locks (SQLite has one writer,
    /// so it needs none).
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " for update",
        }
    }

    /// ` for share`, likewise.
    pub fn for_share(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " for share",
        }
    }

    /// The domain part of an email address held in `column`.
    pub fn email_domain(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("substr({column}, instr({column}, '@') + 1)"),
            Dialect::Postgres => format!("split_part({column}, '@', 2)"),
        }
    }

    /// True for a lead (aliased `l`) that is not yet a member of the
    /// campaign whose key is `campaign` (a placeholder), met on the
    /// workspace column so that Citus keeps the statement on one shard.
    pub fn not_member(campaign: &str) -> String {
        format!("not {}", Self::member(campaign))
    }

    /// True for a lead (aliased `l`) that is a member of the campaign
    /// whose key is `campaign` (the opposite of [`Dialect::not_member`]).
    pub fn member(campaign: &str) -> String {
        format!(
            r"exists (select 1 from campaign_leads cl where cl.workspace_id = l.workspace_id
               and cl.campaign_id = {campaign} and cl.lead_id = l.id)"
        )
    }

    /// PostgreSQL's one-read form of an add's tests for the leads aliased
    /// `l`: the columns `blocked` (the do-not-contact list holds the lead's
    /// email or domain; `false` without `dnc`), `fresh` (not yet a member
    /// of the campaign `campaign`) and `other` (new to the campaign and in
    /// another, [`Dialect::in_other_campaign`]; `false` without `other`),
    /// and the outer joins on the list's and the membership's unique keys
    /// that give the first two, each naming the workspace `ws` (co-located
    /// hash joins: what Citus routes to one shard). `other` is a lookup per
    /// lead on the open memberships' index, made in the selection: Citus
    /// refuses one made later, against the selection's CTE.
    pub fn pg_enroll_tests(ws: &str, campaign: &str, dnc: bool, other: bool) -> (String, String) {
        let mut joins = String::new();
        let blocked = if dnc {
            let domain = Dialect::Postgres.email_domain("l.email_key");
            joins = format!(
                r"left join dnc_entries de on de.workspace_id = l.workspace_id and de.workspace_id = {ws}
                   and de.kind = 'email' and de.value = l.email_key
                 left join dnc_entries dd on dd.workspace_id = l.workspace_id and dd.workspace_id = {ws}
                   and dd.kind = 'domain' and dd.value = {domain} "
            );
            "(de.workspace_id is not null or dd.workspace_id is not null)"
        } else {
            "false"
        };
        joins.push_str(&format!(
            r"left join campaign_leads cl on cl.workspace_id = l.workspace_id and cl.workspace_id = {ws}
               and cl.campaign_id = {campaign} and cl.lead_id = l.id"
        ));
        let other = if other {
            format!(
                "(cl.lead_id is null and {})",
                Dialect::Postgres.in_other_campaign(ws, campaign)
            )
        } else {
            "false".to_owned()
        };
        (
            format!("{blocked} as blocked, cl.lead_id is null as fresh, {other} as other"),
            joins,
        )
    }

    /// The count of the leads of [`Dialect::pg_enroll_tests`]'s `sel` that
    /// another campaign keeps out (`other` and not `blocked`); a constant
    /// when the rule is off, so that the selection is not read again.
    pub fn pg_in_other_count(other: bool) -> &'static str {
        if other {
            "(select count(*) from sel where other and not blocked)"
        } else {
            "0::bigint"
        }
    }

    /// True for a lead (aliased `l`) with a `pending`, `active` or `paused`
    /// membership in a campaign of its workspace other than `campaign`
    /// (`skipIfInOtherCampaign`): a lookup on the open memberships' index
    /// (`campaign_leads_open`, partial: its condition is written here
    /// exactly), which answers it alone; naming the workspace `ws` on
    /// PostgreSQL (Citus routes it, as the do-not-contact lookups).
    pub fn in_other_campaign(self, ws: &str, campaign: &str) -> String {
        // On SQLite a lead's key names its workspace.
        let (index, named) = match self {
            Dialect::Sqlite => (" indexed by campaign_leads_open", String::new()),
            Dialect::Postgres => (
                "",
                format!("o.workspace_id = l.workspace_id and o.workspace_id = {ws} and "),
            ),
        };
        format!(
            r"exists (select 1 from campaign_leads o{index} where {named}o.lead_id = l.id
               and o.campaign_id <> {campaign} and o.status in ('pending', 'active', 'paused'))"
        )
    }

    /// True for a lead (aliased `l`) whose email or domain is on its
    /// workspace's do-not-contact list; `ws` is the workspace's placeholder.
    pub fn on_dnc(self, ws: &str) -> String {
        let (email, domain) = self.dnc_lookups(ws);
        format!("(exists ({email}) or exists ({domain}))")
    }

    /// True for a lead (aliased `l`) that the do-not-contact list lets
    /// through.
    pub fn not_on_dnc(self, ws: &str) -> String {
        let (email, domain) = self.dnc_lookups(ws);
        format!("not exists ({email}) and not exists ({domain})")
    }

    /// The two lookups of the do-not-contact test, each an exact key of
    /// the list's unique index. Two, not one subquery with an `or` inside:
    /// PostgreSQL turns that one into a hash join on the workspace alone
    /// that compares every lead with every entry (92 s for 130,000 leads
    /// and 4,000 entries, where the two anti joins take 0.1 s), and SQLite
    /// 3.53 into a scan of the workspace's whole list per lead. On
    /// PostgreSQL each also names the workspace (`ws`): Citus routes a
    /// statement to one shard only when every subquery left as a subquery
    /// does.
    fn dnc_lookups(self, ws: &str) -> (String, String) {
        let named = match self {
            Dialect::Sqlite => String::new(),
            Dialect::Postgres => format!(" and d.workspace_id = {ws}"),
        };
        let lookup = |kind: &str, value: &str| {
            format!(
                r"select 1 from dnc_entries d where d.workspace_id = l.workspace_id{named}
                 and d.kind = '{kind}' and d.value = {value}"
            )
        };
        (
            lookup("email", "l.email_key"),
            lookup("domain", &self.email_domain("l.email_key")),
        )
    }
}

/// A statement parameter, bound by each engine in its own way: lists as
/// JSON text on SQLite, as arrays on PostgreSQL.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Json(serde_json::Value),
    IntList(Vec<i64>),
    TextList(Vec<String>),
    /// A column of a batch, nulls allowed.
    OptTextList(Vec<Option<String>>),
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(v)
    }
}

impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(v.to_owned())
    }
}

impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        v.map_or(Param::Null, Param::Text)
    }
}

impl From<Vec<u8>> for Param {
    fn from(v: Vec<u8>) -> Self {
        Param::Bytes(v)
    }
}

impl From<&[u8]> for Param {
    fn from(v: &[u8]) -> Self {
        Param::Bytes(v.to_vec())
    }
}

impl From<serde_json::Value> for Param {
    fn from(v: serde_json::Value) -> Self {
        Param::Json(v)
    }
}

impl From<Vec<i64>> for Param {
    fn from(v: Vec<i64>) -> Self {
        Param::IntList(v)
    }
}

impl From<Vec<String>> for Param {
    fn from(v: Vec<String>) -> Self {
        Param::TextList(v)
    }
}

impl From<Vec<Option<String>>> for Param {
    fn from(v: Vec<Option<String>>) -> Self {
        Param::OptTextList(v)
    }
}

/// A statement's text and its parameters, numbered as they are pushed.
#[derive(Clone, Debug)]
pub struct Sql {
    pub dialect: Dialect,
    pub text: String,
    pub params: Vec<Param>,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            text: String::new(),
            params: Vec::new(),
        }
    }

    /// A statement written with SQLite's `?1`, `?2`, … placeholders (one
    /// may appear several times), in this dialect.
    pub fn with(dialect: Dialect, text: &str, params: Vec<Param>) -> Self {
        let mut sql = Self::new(dialect);
        sql.push(text);
        sql.params = params;
        sql
    }

    /// The placeholder of the `n`th parameter (from 1).
    pub fn placeholder(&self, n: usize) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// Adds a parameter and returns its placeholder.
    pub fn param(&mut self, v: impl Into<Param>) -> String {
        self.params.push(v.into());
        self.placeholder(self.params.len())
    }

    /// Appends text, whose `?N` placeholders become this dialect's.
    pub fn push(&mut self, text: &str) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => self.text.push_str(text),
            Dialect::Postgres => {
                let mut chars = text.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
                        self.text.push('$');
                    } else {
                        self.text.push(c);
                    }
                }
            }
        }
        self
    }

    /// The condition that `expr` is (or is not) one of `values`.
    pub fn in_list(&mut self, expr: &str, values: impl Into<Param>, negate: bool) -> String {
        let values = match values.into() {
            // One value: a plain comparison, which every planner serves well.
            Param::IntList(v) if v.len() == 1 => Param::Int(v[0]),
            Param::TextList(v) if v.len() == 1 => Param::Text(v[0].clone()),
            values => values,
        };
        if matches!(values, Param::Int(_) | Param::Text(_)) {
            let p = self.param(values);
            let op = if negate { "<>" } else { "=" };
            return format!("{expr} {op} {p}");
        }
        let cast = match &values {
            Param::IntList(_) => "bigint[]",
            _ => "text[]",
        };
        let p = self.param(values);
        let not = if negate { "not " } else { "" };
        match self.dialect {
            Dialect::Sqlite => format!("{expr} {not}in (select value from json_each({p}))"),
            Dialect::Postgres if negate => format!("not ({expr} = any({p}::{cast}))"),
            Dialect::Postgres => format!("{expr} = any({p}::{cast})"),
        }
    }

    /// A list of integers as a table `alias(id)` whose `alias.pos` keeps
    /// the list's order.
    pub fn int_rows(&mut self, values: Vec<i64>, alias: &str) -> String {
        let p = self.param(values);
        match self.dialect {
            Dialect::Sqlite => {
                format!("(select value as id, key as pos from json_each({p})) {alias}")
            }
            Dialect::Postgres => {
                format!("unnest({p}::bigint[]) with ordinality as {alias}(id, pos)")
            }
        }
    }

    /// Columns of text of equal length, zipped into a table `alias(c1, c2, …)`.
    pub fn text_rows(&mut self, columns: Vec<Vec<String>>, alias: &str, names: &[&str]) -> String {
        match self.dialect {
            Dialect::Sqlite => {
                let rows = columns.first().map_or(0, Vec::len);
                let json: Vec<Vec<&str>> = (0..rows)
                    .map(|i| columns.iter().map(|c| c[i].as_str()).collect())
                    .collect();
                let p = self.param(serde_json::json!(json));
                let cols: Vec<String> = names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| format!("value ->> {i} as {n}"))
                    .collect();
                format!("(select {} from json_each({p})) {alias}", cols.join(", "))
            }
            Dialect::Postgres => {
                let ps: Vec<String> = columns
                    .into_iter()
                    .map(|c| format!("{}::text[]", self.param(c)))
                    .collect();
                format!("unnest({}) as {alias}({})", ps.join(", "), names.join(", "))
            }
        }
    }

    /// The condition that `alias.id` (a row of `table`) is (or is not) one
    /// of `ids`, the timestamp half of each ID checked against `{at}`.
    pub fn id_in(
        &mut self,
        (table, alias): (&str, &str),
        at: &str,
        ids: &[ObjectId],
        negate: bool,
    ) -> String {
        let keys: Vec<i64> = ids.iter().map(|i| i.key).collect();
        let secs: Vec<i64> = ids.iter().map(|i| i64::from(i.secs)).collect();
        match self.dialect {
            Dialect::Sqlite => {
                let pairs: Vec<[i64; 2]> = keys.iter().zip(&secs).map(|(k, s)| [*k, *s]).collect();
                let p = self.param(serde_json::json!(pairs));
                if negate {
                    format!(
                        "not ({alias}.id, {alias}.{at} / 1000) in (select value ->> 0, value ->> 1 from json_each({p}))"
                    )
                } else {
                    // The keys whose row has the ID's time, each looked up
                    // on its key, then a plain IN on them: the statement
                    // probes by key. (Testing `{alias}.{at}` in the outer
                    // statement made SQLite walk an index that covers it,
                    // e.g. every lead of the workspace by time: 25 ticked
                    // leads of 1M were found in 107 ms, now in 0.1 ms.)
                    format!(
                        r"{alias}.id in (select j.value ->> 0 from json_each({p}) j
                         where j.value ->> 1 = (select t.{at} / 1000 from {table} t where t.id = j.value ->> 0))"
                    )
                }
            }
            Dialect::Postgres => {
                let k = self.param(keys);
                let s = self.param(secs);
                let not = if negate { "not " } else { "" };
                format!(
                    r"{not}exists (select 1 from unnest({k}::bigint[], {s}::bigint[]) as x(k, s)
                     where x.k = {alias}.id and x.s = {alias}.{at} / 1000)"
                )
            }
        }
    }

    /// A case-insensitive substring test of `column` against `needle`,
    /// which is lower case already.
    pub fn contains(&mut self, column: &str, needle: &str) -> String {
        let p = self.param(like_pattern(needle));
        self.contains_param(column, &p)
    }

    fn contains_param(&self, column: &str, p: &str) -> String {
        match self.dialect {
            // SQLite's like ignores ASCII case already.
            Dialect::Sqlite => format!("{column} like {p} escape '\\'"),
            Dialect::Postgres => format!("{column} ilike {p}"),
        }
    }

    /// Appends the conditions of `f` on the leads aliased `l` of the
    /// workspace whose key is the placeholder `ws`, cheapest first.
    pub fn lead_filter(&mut self, f: &LeadFilter, ws: &str) {
        self.lead_filter_as(f, ws, false);
    }

    /// [`Sql::lead_filter`] for a statement that walks the workspace's
    /// leads and stops at a page: on SQLite each lead's tags are then
    /// looked up on their key (an `exists`), where the plain filter gathers
    /// every lead of the tags first (`in`), which is right for counting and
    /// for few matches but builds a set of every tagged lead before the
    /// first row of a walk (38 ms for 200,000 tagged leads, 0.1 ms by key).
    pub fn lead_filter_walking(&mut self, f: &LeadFilter, ws: &str) {
        self.lead_filter_as(f, ws, true);
    }

    fn lead_filter_as(&mut self, f: &LeadFilter, ws: &str, walking: bool) {
        // One lead at most, on the workspace's unique email index.
        if let Some(email) = &f.email {
            let p = self.param(email.clone());
            self.push(&format!(" and l.email_key = {p}"));
        }
        if let Some(ids) = &f.lead_ids {
            let c = self.id_in(("leads", "l"), "created_at", ids, false);
            self.push(&format!(" and {c}"));
        }
        if let Some(countries) = &f.country {
            let c = self.in_list("l.country", countries.clone(), false);
            self.push(&format!(" and {c}"));
        }
        for (column, has) in [("l.company_name", f.has_company), ("l.phone", f.has_phone)] {
            match has {
                Some(true) => self.push(&format!(" and coalesce({column}, '') <> ''")),
                Some(false) => self.push(&format!(" and coalesce({column}, '') = ''")),
                None => self,
            };
        }
        if let Some(verified) = f.email_verified {
            self.push(if verified {
                " and l.email_verification_result is not null"
            } else {
                " and l.email_verification_result is null"
            });
        }
        if let Some(statuses) = &f.email_status {
            let c = self.in_list("l.email_verification_result", statuses.clone(), false);
            let null = if statuses.iter().any(|s| s == "unverified") {
                " or l.email_verification_result is null"
            } else {
                ""
            };
            self.push(&format!(" and ({c}{null})"));
        }
        if let Some(after) = f.created_after {
            let p = self.param(after);
            self.push(&format!(" and l.created_at > {p}"));
        }
        if let Some(before) = f.created_before {
            let p = self.param(before);
            self.push(&format!(" and l.created_at < {p}"));
        }
        if let Some(search) = &f.search {
            self.search(search);
        }
        if let Some(tags) = &f.tags {
            let c = match self.dialect {
                // Tags as rows (`lead_tags`, kept by triggers).
                Dialect::Sqlite => {
                    let inner = self.in_list("t.tag", tags.clone(), false);
                    if walking {
                        format!(
                            "exists (select 1 from lead_tags t where t.workspace_id = {ws} and {inner} and t.lead_id = l.id)"
                        )
                    } else {
                        format!(
                            "l.id in (select t.lead_id from lead_tags t where t.workspace_id = {ws} and {inner})"
                        )
                    }
                }
                // The array, on its GIN index.
                Dialect::Postgres => {
                    let p = self.param(tags.clone());
                    format!("l.tags && {p}::text[]")
                }
            };
            self.push(&format!(" and {c}"));
        }
    }

    /// The search condition: a substring of the email or a name, found
    /// through a trigram index when the needle has three characters or more
    /// (an index of trigrams cannot find less), then tested on each field,
    /// so the answer is exactly what the plain test gives.
    fn search(&mut self, search: &str) {
        // The email key is lower case already: a plain like serves it.
        let p = self.param(like_pattern(search));
        let email = match self.dialect {
            Dialect::Sqlite => format!("l.email_key like {p} escape '\\'"),
            Dialect::Postgres => format!("l.email_key like {p}"),
        };
        let names: Vec<String> = ["l.first_name", "l.last_name", "l.company_name"]
            .iter()
            .map(|c| self.contains_param(c, &p))
            .collect();
        if search.chars().count() >= 3 {
            let index = match self.dialect {
                Dialect::Sqlite => {
                    let q = self.param(trigrams_query(search));
                    format!("l.id in ({SQLITE_SEARCH_INDEX_READ} {q})")
                }
                Dialect::Postgres => format!("{SEARCH_TEXT} ilike {p}"),
            };
            self.push(&format!(" and {index}"));
        }
        self.push(&format!(" and ({email} or {})", names.join(" or ")));
    }
}

/// How a SQLite statement reads the trigram index (the query follows): the
/// writer brings the index up to date before any statement holding it
/// (`store/sqlite/search.rs`).
pub const SQLITE_SEARCH_INDEX_READ: &str =
    "select rowid from leads_search where leads_search match";

/// The searched fields as one text, as PostgreSQL's trigram index
/// (`leads_search`, migration 0003) holds them: a query must write the
/// same expression for the planner to use it.
pub const SEARCH_TEXT: &str = "(l.email_key || ' ' || coalesce(l.first_name, '') || ' ' || coalesce(l.last_name, '') || ' ' || coalesce(l.company_name, ''))";

/// An FTS5 query for the rows holding every trigram of `s` (three
/// characters or more): `"abc" AND "bcd" AND …`, each quoted.
pub fn trigrams_query(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars
        .windows(3)
        .map(|w| format!("\"{}\"", w.iter().collect::<String>().replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Escapes `%`, `_` and `\` for a LIKE pattern that finds `s` anywhere.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_needle_becomes_its_quoted_trigrams() {
        assert_eq!(trigrams_query("abcd"), r#""abc" AND "bcd""#);
        assert_eq!(trigrams_query("a\"b"), r#""a""b""#);
        assert_eq!(trigrams_query("éßü!"), r#""éßü" AND "ßü!""#);
        assert_eq!(trigrams_query("ab"), "");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn written_statements_number_their_parameters_per_dialect() {
        let text = "select ?1, ?2, ?1, ?10";
        let params: Vec<Param> = (1..=10).map(Param::Int).collect();
        assert_eq!(
            Sql::with(Dialect::Sqlite, text, params.clone()).text,
            "select ?1, ?2, ?1, ?10"
        );
        assert_eq!(
            Sql::with(Dialect::Postgres, text, params).text,
            "select $1, $2, $1, $10"
        );
    }

    #[test]
    fn lists_travel_as_json_on_sqlite_and_arrays_on_postgres() {
        let two = || vec!["US".to_string(), "DE".to_string()];
        let mut s = Sql::new(Dialect::Sqlite);
        let c = s.in_list("l.country", two(), false);
        assert_eq!(c, "l.country in (select value from json_each(?1))");
        assert_eq!(s.params, vec![Param::TextList(two())]);
        let mut p = Sql::new(Dialect::Postgres);
        let c = p.in_list("l.id", vec![1_i64, 2], true);
        assert_eq!(c, "not (l.id = any($1::bigint[]))");
        // One value is a plain comparison.
        let c = p.in_list("l.country", vec!["US".to_string()], false);
        assert_eq!(c, "l.country = $2");
        assert_eq!(p.params[1], Param::Text("US".into()));
    }
}
