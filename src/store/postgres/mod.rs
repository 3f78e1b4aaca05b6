//! PostgreSQL through tokio-postgres, with a bounded deadpool pool.
//!
//! Batches travel as array parameters, so each request is a few set-based
//! statements. When the database is unreachable the pool fails fast and
//! requests get 503; new connections are made as soon as it is back.
//!
//! The work itself is the shared store's (`store::leads`, …) run through
//! [`Conn`]; what is PostgreSQL's own is here: the pool and transactions,
//! binding parameters by the types the server infers, `unnest` batch
//! inserts, and single-statement CTEs for selections (one snapshot, so the
//! counts describe exactly what the statement saw).

mod citus;
mod tls;

use std::collections::HashMap;
use std::error::Error as StdError;
use std::str::FromStr;
use std::time::Duration;

use bytes::BytesMut;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::exec::{self, Cell, Enrollment, Exec, Migration, Row, Tally, selection_sql};
use super::sql::{Dialect, Param, Sql};
use super::storage_impl::storage_impl;
use super::*;

mod lease;

use lease::Lease;

const MIGRATIONS: &[Migration] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (
        2,
        "idempotency",
        include_str!("migrations/0002_idempotency.sql"),
    ),
    (3, "reads", include_str!("migrations/0003_reads.sql")),
    (4, "ai_tag", include_str!("migrations/0004_ai_tag.sql")),
    (
        5,
        "open_memberships",
        include_str!("migrations/0005_open_memberships.sql"),
    ),
    (6, "events", include_str!("migrations/0006_events.sql")),
    (7, "webhooks", include_str!("migrations/0007_webhooks.sql")),
    (8, "jobs", include_str!("migrations/0008_jobs.sql")),
    (
        9,
        "import_rows",
        include_str!("migrations/0009_import_rows.sql"),
    ),
    (
        10,
        "console_sessions",
        include_str!("migrations/0010_console_sessions.sql"),
    ),
];

/// The advisory lock that serialises migrations between processes.
const MIGRATION_LOCK: i64 = 0x6c65_6164_666c_6f77; // "leadflow"

pub struct PgStore {
    pool: Pool,
    migrations_applied: u64,
    tls: MakeRustlsConnect,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let io = e.code().is_none() && e.source().is_some_and(|s| s.is::<std::io::Error>());
        let shutting_down = matches!(e.code(), Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CANNOT_CONNECT_NOW);
        if e.is_closed() || io || shutting_down {
            StoreError::Unavailable(e.into())
        } else if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            StoreError::Duplicate(e.into())
        } else if e.code() == Some(&SqlState::QUERY_CANCELED) {
            StoreError::StatementTimeout
        } else {
            StoreError::Internal(e.into())
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Unavailable(e.into())
    }
}

impl PgStore {
    /// Connects, checks the database answers, and migrates it.
    pub async fn open(
        url: &str,
        max_connections: usize,
        statement_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let tls_url = tls::split(url);
        let mut config = tokio_postgres::Config::from_str(&tls_url.url)
            .map_err(|e| anyhow::anyhow!("invalid PostgreSQL URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        // Every statement of every connection is stopped past the limit
        // (the server cancels it: SQLSTATE 57014, and its transaction is
        // rolled back). A URL's own `options` come first.
        let options = format!(
            "{} -c statement_timeout={}",
            config.get_options().unwrap_or_default(),
            statement_timeout.as_millis()
        );
        config.options(options.trim());
        let connector = tls::connector(&tls_url)?;
        let manager = Manager::from_config(
            config,
            connector.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeout = Some(Duration::from_secs(5));
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .wait_timeout(timeout)
            .create_timeout(timeout)
            .recycle_timeout(timeout)
            .runtime(Runtime::Tokio1)
            .build()?;
        let mut client = pool
            .get()
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL: {}", error_chain(&e)))?;
        let tx = client.transaction().await?;
        // A migration (an index on a large table) may take longer than a
        // request's statement, and so may waiting for another process's.
        tx.execute("set local statement_timeout = 0", &[]).await?;
        // Two processes starting at once: the second waits here, then finds
        // the migrations applied.
        tx.execute("select pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        let migrations_applied = exec::migrate(&Conn(&tx), MIGRATIONS).await?;
        tx.commit().await?;
        if citus::present(&client).await? {
            // Apart from the migrations: Citus creates shards on other
            // nodes, which it does not do after DDL in the same transaction.
            let tx = client.transaction().await?;
            tx.execute("set local statement_timeout = 0", &[]).await?;
            tx.execute("select pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            let n = citus::distribute(&tx).await?;
            tx.commit().await?;
            if n > 0 {
                tracing::info!(tables = n, "distributed the schema on Citus by workspace");
            }
        }
        Ok(Self {
            pool,
            migrations_applied,
            tls: connector,
        })
    }
}

/// An error and its causes on one line ("TLS handshake: invalid peer
/// certificate: UnknownIssuer" says more than its first part).
fn error_chain(e: &dyn StdError) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// How a shared store function runs on PostgreSQL (see `storage_methods!`):
/// `one` on a pooled connection, `read` in a read-only repeatable-read
/// transaction (a count and its page see one snapshot), `write` in a
/// transaction committed when `keep` and rolled back otherwise.
macro_rules! run {
    ($s:expr, one, |$e:ident| $work:expr) => {{
        let mut lease = Lease::get($s).await?;
        let out = {
            let $e = &Conn(&*lease.client());
            $work.await
        };
        lease.done();
        out
    }};
    ($s:expr, read, |$e:ident| $work:expr) => {{
        let mut lease = Lease::get($s).await?;
        let out: Result<_> = async {
            let tx = lease
                .client()
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let $e = &Conn(&tx);
            let out = $work.await?;
            tx.commit().await?;
            Ok(out)
        }
        .await;
        lease.done();
        out
    }};
    // A dry run locks the campaign as the write would (`for share`), so it
    // runs in a transaction that is rolled back.
    ($s:expr, preview, |$e:ident| $work:expr) => {
        run!($s, write(false), |$e| $work)
    };
    // One transaction whatever its size.
    ($s:expr, write($keep:expr, small: $small:expr), |$e:ident| $work:expr) => {
        run!($s, write($keep), |$e| $work)
    };
    ($s:expr, write($keep:expr), |$e:ident| $work:expr) => {{
        let mut lease = Lease::get($s).await?;
        let out: Result<_> = async {
            let tx = lease.client().transaction().await?;
            let $e = &Conn(&tx);
            let out = $work.await?;
            if $keep {
                if let Some(claim) = super::idempotency::current_claim() {
                    super::idempotency::mark_committed($e, &claim).await?;
                }
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok(out)
        }
        .await;
        lease.done();
        out
    }};
}

storage_impl!(PgStore, run, {
    fn migrations_applied(&self) -> u64 {
        self.migrations_applied
    }

    fn pool_status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            in_use: status.size.saturating_sub(status.available) as u64,
            idle: status.available as u64,
            max: status.max_size as u64,
        }
    }

    async fn ping(&self) -> Result<()> {
        let client = self.pool.get().await?;
        client.query_one("select 1", &[]).await?;
        Ok(())
    }
});

/// Parameters take the type the server inferred for their place: an
/// integer may fill an `int4` column, a text an `int8` nowhere.
impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(v) => match *ty {
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Param::Text(v) => v.to_sql(ty, out),
            Param::Bytes(v) => v.to_sql(ty, out),
            Param::Json(v) => v.to_sql(ty, out),
            Param::IntList(v) => v.to_sql(ty, out),
            Param::TextList(v) => v.to_sql(ty, out),
            Param::OptTextList(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn cell(row: &tokio_postgres::Row, i: usize) -> std::result::Result<Cell, tokio_postgres::Error> {
    let ty = row.columns()[i].type_();
    Ok(match *ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Cell::Null, Cell::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Cell::Null, |v| Cell::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(Cell::Null, |v| Cell::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Cell::Null, Cell::Bool),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)?
            .map_or(Cell::Null, Cell::Float),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Cell::Null, Cell::Bytes),
        Type::JSON | Type::JSONB => row
            .try_get::<_, Option<Value>>(i)?
            .map_or(Cell::Null, Cell::Json),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => row
            .try_get::<_, Option<Vec<String>>>(i)?
            .map_or(Cell::Null, Cell::TextList),
        _ => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Cell::Null, Cell::Text),
    })
}

/// One PostgreSQL connection or transaction, for the shared store.
pub struct Conn<'c, C>(&'c C);

fn params(sql: &Sql) -> Vec<&(dyn ToSql + Sync)> {
    sql.params
        .iter()
        .map(|p| p as &(dyn ToSql + Sync))
        .collect()
}

/// A text array in PostgreSQL's literal syntax, so that a whole column of
/// tag lists travels as one `text[]` parameter and each row is a cheap cast.
fn array_literal(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|t| format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

impl<C: GenericClient + Sync> Exec for Conn<'_, C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn execute(&self, sql: &Sql) -> Result<u64> {
        Ok(self.0.execute(&sql.text, &params(sql)).await?)
    }

    async fn insert_count(&self, sql: &Sql) -> Result<u64> {
        let counted = Sql {
            text: format!(
                "with ins as ({} returning 1) select count(*) from ins",
                sql.text
            ),
            ..sql.clone()
        };
        Ok(self.query_i64(&counted).await? as u64)
    }

    async fn query(&self, sql: &Sql) -> Result<Vec<Row>> {
        let rows = self.0.query(&sql.text, &params(sql)).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let cells = (0..r.len())
                .map(|i| cell(r, i))
                .collect::<std::result::Result<Vec<Cell>, _>>()?;
            out.push(Row(cells));
        }
        Ok(out)
    }

    async fn batch(&self, text: &str) -> Result<()> {
        Ok(self.0.batch_execute(text).await?)
    }

    /// One statement: one array parameter per column, zipped by `unnest`,
    /// inserted in email-key order so that concurrent batches lock the
    /// unique index in the same order.
    async fn insert_leads(
        &self,
        ws: WorkspaceRef,
        rows: &[LeadRow],
        now: i64,
    ) -> Result<HashMap<String, i64>> {
        if rows.is_empty() {
            return Ok(HashMap::new());
        }
        let column = |f: &dyn Fn(&LeadRow) -> Option<String>| -> Param {
            rows.iter().map(f).collect::<Vec<Option<String>>>().into()
        };
        let mut params = vec![
            ws.key.into(),
            now.into(),
            column(&|r| Some(r.email.clone())),
            column(&|r| Some(r.email_key())),
        ];
        let names: Vec<&str> = rows[0].contact.columns().map(|(c, _)| c).to_vec();
        for i in 0..names.len() {
            params.push(column(&|r| r.contact.columns()[i].1.clone()));
        }
        params.push(column(&|r| Some(array_literal(&r.tags))));
        params.push(column(&|r| {
            Some(Value::Object(r.custom_fields.clone()).to_string())
        }));
        params.push(column(&|r| r.email_verification_result.clone()));
        let arrays: Vec<String> = (3..=params.len())
            .map(|n| format!("?{n}::text[]"))
            .collect();
        let sql = self.sql(
            &format!(
                r"insert into leads (workspace_id, created_at, updated_at, email, email_key, {names},
                 tags, custom_fields, email_verification_result)
                 select ?1, ?2, ?2, x.email, x.email_key, {names}, x.tags::text[], x.cf::jsonb, x.evr
                 from unnest({arrays}) as x(email, email_key, {names}, tags, cf, evr)
                 order by x.email_key on conflict (workspace_id, email_key) do nothing
                 returning email_key, id",
                names = names.join(", "),
                arrays = arrays.join(", "),
            ),
            params,
        );
        self.query(&sql)
            .await?
            .into_iter()
            .map(|mut r| Ok((r.text(0)?, r.i64(1)?)))
            .collect()
    }

    /// One `update … from jsonb_to_recordset` for the whole batch.
    async fn update_leads(&self, ws: WorkspaceRef, rows: &[LeadRow], now: i64) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = rows[0].contact.columns().map(|(c, _)| c).to_vec();
        let set: Vec<String> = names.iter().map(|c| format!("{c} = j.{c}")).collect();
        let record: Vec<String> = names.iter().map(|c| format!("{c} text")).collect();
        let sql = self.sql(
            &format!(
                r"update leads l set {}, tags = j.tags, custom_fields = j.cf,
                 email_verification_result = j.evr, updated_at = ?2
                 from jsonb_to_recordset(?3::jsonb) as j(id bigint, {}, tags text[], cf jsonb, evr text)
                 where l.workspace_id = ?1 and l.id = j.id",
                set.join(", "),
                record.join(", "),
            ),
            vec![
                ws.key.into(),
                now.into(),
                Value::Array(rows.iter().map(LeadRow::batch_json).collect()).into(),
            ],
        );
        self.execute(&sql).await?;
        Ok(())
    }

    /// One statement, one snapshot: the counts describe exactly what this
    /// insert saw, however many requests run at once.
    async fn enroll_selection(
        &self,
        ws: WorkspaceRef,
        to: Enrollment,
        selection: &Selection,
        dnc: bool,
    ) -> Result<SelectionOutcome> {
        let mut sql = selection_sql(Dialect::Postgres, ws, selection);
        let w = sql.param(ws.key);
        let ck = sql.param(to.campaign_key);
        let st = sql.param(to.status.as_str());
        let at = sql.param(to.now);
        let where_ = sql.text.clone();
        let insert = r"insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at)";
        let conflict = "on conflict (workspace_id, campaign_id, lead_id) do nothing returning 1";
        // One statement, so one snapshot: the counts describe exactly what
        // it saw and did; and one Citus runs whole on the workspace's shard.
        // The selection is read once, into a CTE that the insert and the
        // counts share. With a do-not-contact list each selected lead also
        // carries whether the list blocks it and whether it is new to the
        // campaign, found by outer joins on the list's unique key and the
        // membership's (hash joins, co-located: what Citus routes).
        sql.text = if dnc || to.skip_other {
            let (columns, mut joins) = Dialect::pg_enroll_tests(&w, &ck, dnc, to.skip_other);
            if let Some((lo, hi)) = selection.keys {
                // A job's chunk: its members are looked for in the chunk's
                // range of the membership index alone (the planner would
                // otherwise hash every member of the campaign, for each
                // chunk: a job's chunks grew slower as it filled the
                // campaign, 1M leads took 5x the synchronous call).
                let (lo, hi) = (sql.param(lo), sql.param(hi));
                joins.push_str(&format!(" and cl.lead_id > {lo} and cl.lead_id <= {hi}"));
            }
            let in_other = Dialect::pg_in_other_count(to.skip_other);
            format!(
                r"with sel as materialized (
                   select l.id, {columns} from leads l {joins}
                   where {where_}),
                 ins as ({insert} select {w}, {ck}, id, {st}, {at}, {at} from sel
                   where not blocked and not other order by id {conflict})
                 select (select count(*) from sel), (select count(*) from ins),
                   (select count(*) from sel where blocked and fresh), {in_other}"
            )
        } else {
            format!(
                r"with sel as materialized (select l.id from leads l where {where_}),
                 ins as ({insert} select {w}, {ck}, id, {st}, {at}, {at} from sel order by id {conflict})
                 select (select count(*) from sel), (select count(*) from ins), 0::bigint, 0::bigint"
            )
        };
        let mut row = self.query_one(&sql).await?;
        Ok(SelectionOutcome {
            matched: row.i64(0)? as u64,
            added: row.i64(1)? as u64,
            blocked: row.i64(2)? as u64,
            in_other: row.i64(3)? as u64,
            examples: None,
        })
    }

    /// One statement: the selection, its memberships and the leads.
    async fn delete_selection(
        &self,
        ws: WorkspaceRef,
        selection: &Selection,
    ) -> Result<(u64, Vec<Tally>)> {
        let mut sql = selection_sql(Dialect::Postgres, ws, selection);
        let w = sql.param(ws.key);
        sql.text = format!(
            r"with sel as materialized (select l.id from leads l where {where_}),
             members as (delete from campaign_leads cl using sel where cl.workspace_id = {w} and cl.lead_id = sel.id
               returning cl.campaign_id, cl.status),
             gone as (delete from leads d using sel where d.workspace_id = {w} and d.id = sel.id returning 1),
             tally as (select campaign_id, status, count(*) as n from members group by campaign_id, status)
             select (select count(*) from gone), (select array_agg(campaign_id::text) from tally),
               (select array_agg(status) from tally), (select array_agg(n::text) from tally)",
            where_ = sql.text
        );
        let mut row = self.query_one(&sql).await?;
        let gone = row.i64(0)? as u64;
        let (campaigns, statuses, counts) =
            (row.text_list(1)?, row.text_list(2)?, row.text_list(3)?);
        let parse = |s: &str| {
            s.parse::<i64>()
                .map_err(|e| StoreError::Internal(anyhow::anyhow!("a count: {e}")))
        };
        let mut members = Vec::with_capacity(campaigns.len());
        for ((c, s), n) in campaigns.iter().zip(statuses).zip(&counts) {
            members.push((parse(c)?, s, parse(n)?));
        }
        Ok((gone, members))
    }

    async fn delete_members(&self, sql: &Sql) -> Result<Vec<Tally>> {
        let tallied = Sql {
            text: format!(
                r"with gone as ({} returning campaign_id, status)
                 select campaign_id, status, count(*) from gone group by campaign_id, status",
                sql.text
            ),
            ..sql.clone()
        };
        self.query(&tallied)
            .await?
            .into_iter()
            .map(|mut r| Ok((r.i64(0)?, r.text(1)?, r.i64(2)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::array_literal;

    #[test]
    fn array_literals_quote_and_escape_every_element() {
        assert_eq!(array_literal(&[]), "{}");
        let tags = [
            "a b".to_string(),
            "q\"uote".to_string(),
            "back\\slash".to_string(),
            "{x,y}".to_string(),
        ];
        assert_eq!(
            array_literal(&tags),
            r#"{"a b","q\"uote","back\\slash","{x,y}"}"#
        );
    }
}
