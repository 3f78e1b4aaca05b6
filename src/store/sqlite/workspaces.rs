//! Users, workspaces, API keys and the do-not-contact list.

use rusqlite::{Connection, OptionalExtension, params};

use super::sql::{Sql, id_pairs};
use super::{is_unique_violation, page};
use crate::domain::email::Email;
use crate::domain::id::ObjectId;
use crate::domain::key::{ApiKey, KeyKind};
use crate::domain::now_ms;
use crate::store::{
    DncKind, DncRow, Page, PageRequest, Principal, Result, StoreError, UserRow, WorkspaceRef,
    WorkspaceRow,
};

pub fn create_user(conn: &Connection, email: &Email) -> Result<(UserRow, ApiKey)> {
    let now = now_ms();
    conn.execute(
        "insert into users (email, email_key, created_at) values (?1, ?2, ?3)",
        params![email.as_str(), email.key(), now],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("A user with email {email} already exists"))
        } else {
            e.into()
        }
    })?;
    let key = conn.last_insert_rowid();
    let api_key = ApiKey::generate(KeyKind::Platform);
    conn.execute(
        "insert into api_keys (key_hash, user_id, created_at) values (?1, ?2, ?3)",
        params![api_key.hash(), key, now],
    )?;
    Ok((
        UserRow {
            key,
            email: email.to_string(),
            created_at: now,
        },
        api_key,
    ))
}

pub fn find_user(conn: &Connection, email_key: &str) -> Result<Option<UserRow>> {
    Ok(conn
        .query_row(
            "select id, email, created_at from users where email_key = ?1",
            [email_key],
            |r| {
                Ok(UserRow {
                    key: r.get(0)?,
                    email: r.get(1)?,
                    created_at: r.get(2)?,
                })
            },
        )
        .optional()?)
}

pub fn create_workspace(
    conn: &Connection,
    name: &str,
    owner: Option<i64>,
) -> Result<(WorkspaceRow, ApiKey)> {
    let now = now_ms();
    conn.execute(
        "insert into workspaces (name, created_at, updated_at) values (?1, ?2, ?2)",
        params![name, now],
    )?;
    let key = conn.last_insert_rowid();
    if let Some(user) = owner {
        conn.execute(
            "insert into workspace_members (workspace_id, user_id, role) values (?1, ?2, 'owner')",
            [key, user],
        )?;
    }
    let api_key = ApiKey::generate(KeyKind::Workspace);
    conn.execute(
        "insert into api_keys (key_hash, workspace_id, created_at) values (?1, ?2, ?3)",
        params![api_key.hash(), key, now],
    )?;
    let workspace = WorkspaceRef {
        key,
        created_at: now,
    };
    Ok((
        WorkspaceRow {
            workspace,
            name: name.to_owned(),
            updated_at: now,
        },
        api_key,
    ))
}

pub fn authenticate(conn: &Connection, hash: &[u8]) -> Result<Option<Principal>> {
    let row: Option<(Option<i64>, Option<i64>, Option<i64>)> = conn
        .prepare_cached(
            "select k.user_id, k.workspace_id, w.created_at from api_keys k \
             left join workspaces w on w.id = k.workspace_id \
             where k.key_hash = ?1 and k.revoked_at is null",
        )?
        .query_row([hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(match row {
        Some((Some(user_key), _, _)) => Some(Principal::User { user_key }),
        Some((None, Some(key), Some(created_at))) => {
            Some(Principal::Workspace(WorkspaceRef { key, created_at }))
        }
        _ => None,
    })
}

pub fn member_workspace(
    conn: &Connection,
    user_key: i64,
    id: ObjectId,
) -> Result<Option<WorkspaceRef>> {
    let created: Option<i64> = conn
        .query_row(
            "select w.created_at from workspaces w \
             join workspace_members m on m.workspace_id = w.id and m.user_id = ?2 \
             where w.id = ?1",
            [id.key, user_key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(created
        .filter(|c| id.matches(id.key, *c))
        .map(|created_at| WorkspaceRef {
            key: id.key,
            created_at,
        }))
}

pub fn list_dnc(
    conn: &Connection,
    ws: WorkspaceRef,
    page_req: PageRequest,
) -> Result<Page<DncRow>> {
    let mut sql = Sql::default();
    let p = sql.param(ws.key);
    sql.push(&format!("workspace_id = {p}"));
    page(
        conn,
        sql,
        "select id, kind, value, created_at from dnc_entries",
        "dnc_entries",
        "id",
        page_req,
        |r| {
            Ok(DncRow {
                key: r.get(0)?,
                kind: r.get(1)?,
                value: r.get(2)?,
                created_at: r.get(3)?,
            })
        },
    )
}

pub fn add_dnc(
    conn: &Connection,
    ws: WorkspaceRef,
    entries: &[(DncKind, String)],
) -> Result<(u64, u64)> {
    let json = serde_json::Value::Array(
        entries
            .iter()
            .map(|(k, v)| serde_json::json!([k.as_str(), v]))
            .collect(),
    )
    .to_string();
    let added = conn.execute(
        "insert into dnc_entries (workspace_id, kind, value, created_at) \
         select ?1, value ->> 0, value ->> 1, ?2 from json_each(?3) where true \
         on conflict (workspace_id, kind, value) do nothing",
        params![ws.key, now_ms(), json],
    )? as u64;
    Ok((added, entries.len() as u64 - added))
}

pub fn delete_dnc(conn: &Connection, ws: WorkspaceRef, ids: &[ObjectId]) -> Result<u64> {
    Ok(conn.execute(
        "delete from dnc_entries where workspace_id = ?1 \
         and (id, created_at / 1000) in (select value ->> 0, value ->> 1 from json_each(?2))",
        params![ws.key, id_pairs(ids)],
    )? as u64)
}

/// Whether the workspace has any do-not-contact entry: when it has none, the
/// per-lead check is skipped altogether.
pub fn has_dnc(conn: &Connection, ws: WorkspaceRef) -> Result<bool> {
    Ok(conn
        .prepare_cached("select exists (select 1 from dnc_entries where workspace_id = ?1)")?
        .query_row([ws.key], |r| r.get(0))?)
}
