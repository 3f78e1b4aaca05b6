//! Users, workspaces, API keys and the do-not-contact list.

use rusqlite::{Connection, OptionalExtension, params};

use super::sql::{Sql, id_pairs};
use super::{is_unique_violation, page};
use crate::domain::email::Email;
use crate::domain::id::ObjectId;
use crate::domain::key::{ApiKey, KeyKind};
use crate::domain::now_ms;
use crate::store::{
    Access, DncKind, DncRow, Page, PageRequest, Principal, Result, Role, StoreError, UserRow,
    WorkspaceRef, WorkspaceRow,
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
    let row = insert_workspace(conn, name, owner)?;
    let key = insert_workspace_key(conn, row.workspace)?;
    Ok((row, key))
}

/// A workspace, owned by `owner` when given, without a key.
pub fn insert_workspace(conn: &Connection, name: &str, owner: Option<i64>) -> Result<WorkspaceRow> {
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
    Ok(WorkspaceRow {
        workspace: WorkspaceRef {
            key,
            created_at: now,
        },
        name: name.to_owned(),
        updated_at: now,
    })
}

fn insert_workspace_key(conn: &Connection, ws: WorkspaceRef) -> Result<ApiKey> {
    let api_key = ApiKey::generate(KeyKind::Workspace);
    conn.execute(
        "insert into api_keys (key_hash, workspace_id, created_at) values (?1, ?2, ?3)",
        params![api_key.hash(), ws.key, now_ms()],
    )?;
    Ok(api_key)
}

pub fn get_user(conn: &Connection, user_key: i64) -> Result<UserRow> {
    conn.query_row(
        "select id, email, created_at from users where id = ?1",
        [user_key],
        |r| {
            Ok(UserRow {
                key: r.get(0)?,
                email: r.get(1)?,
                created_at: r.get(2)?,
            })
        },
    )
    .optional()?
    .ok_or(StoreError::NotFound("User not found"))
}

fn workspace_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WorkspaceRow> {
    Ok(WorkspaceRow {
        workspace: WorkspaceRef {
            key: r.get(0)?,
            created_at: r.get(1)?,
        },
        name: r.get(2)?,
        updated_at: r.get(3)?,
    })
}

pub fn user_workspaces(conn: &Connection, user_key: i64) -> Result<Vec<(WorkspaceRow, Role)>> {
    let mut stmt = conn.prepare(
        "select w.id, w.created_at, w.name, w.updated_at, m.role from workspaces w \
         join workspace_members m on m.workspace_id = w.id where m.user_id = ?1 order by w.id desc",
    )?;
    let rows = stmt
        .query_map([user_key], |r| {
            let role: String = r.get(4)?;
            Ok((
                workspace_row(r)?,
                Role::parse(&role).unwrap_or(Role::Member),
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn workspace_access(conn: &Connection, user_key: i64, id: ObjectId) -> Result<Access> {
    let row = conn
        .query_row(
            "select w.id, w.created_at, w.name, w.updated_at, m.role from workspaces w \
             left join workspace_members m on m.workspace_id = w.id and m.user_id = ?2 where w.id = ?1",
            [id.key, user_key],
            |r| Ok((workspace_row(r)?, r.get::<_, Option<String>>(4)?)),
        )
        .optional()?;
    Ok(match row {
        Some((w, role)) if id.matches(w.workspace.key, w.workspace.created_at) => match role {
            Some(role) => Access::Member(w, Role::parse(&role).unwrap_or(Role::Member)),
            None => Access::NotMember,
        },
        _ => Access::NotFound,
    })
}

pub fn rename_workspace(conn: &Connection, ws: WorkspaceRef, name: &str) -> Result<WorkspaceRow> {
    let now = now_ms();
    conn.execute(
        "update workspaces set name = ?2, updated_at = ?3 where id = ?1",
        params![ws.key, name, now],
    )?;
    Ok(WorkspaceRow {
        workspace: ws,
        name: name.to_owned(),
        updated_at: now,
    })
}

pub fn delete_workspace(conn: &Connection, ws: WorkspaceRef) -> Result<()> {
    conn.execute(
        "delete from campaign_leads where campaign_id in (select id from campaigns where workspace_id = ?1)",
        [ws.key],
    )?;
    for table in [
        "campaigns",
        "leads",
        "dnc_entries",
        "workspace_members",
        "api_keys",
    ] {
        conn.execute(
            &format!("delete from {table} where workspace_id = ?1"),
            [ws.key],
        )?;
    }
    conn.execute("delete from workspaces where id = ?1", [ws.key])?;
    Ok(())
}

fn owners(conn: &Connection, ws: WorkspaceRef) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare(
        "select user_id from workspace_members where workspace_id = ?1 and role = 'owner'",
    )?;
    let rows = stmt
        .query_map([ws.key], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(rows)
}

fn last_owner(owners: &[i64], user_key: i64) -> bool {
    owners == [user_key]
}

pub fn set_member(conn: &Connection, ws: WorkspaceRef, user_key: i64, role: Role) -> Result<()> {
    if role == Role::Member && last_owner(&owners(conn, ws)?, user_key) {
        return Err(StoreError::Conflict(
            "A workspace needs at least one owner".into(),
        ));
    }
    conn.execute(
        "insert into workspace_members (workspace_id, user_id, role) values (?1, ?2, ?3) \
         on conflict (workspace_id, user_id) do update set role = excluded.role",
        params![ws.key, user_key, role.as_str()],
    )?;
    Ok(())
}

pub fn remove_member(conn: &Connection, ws: WorkspaceRef, user_key: i64) -> Result<()> {
    if last_owner(&owners(conn, ws)?, user_key) {
        return Err(StoreError::Conflict(
            "A workspace needs at least one owner".into(),
        ));
    }
    let removed = conn.execute(
        "delete from workspace_members where workspace_id = ?1 and user_id = ?2",
        [ws.key, user_key],
    )?;
    if removed == 0 {
        return Err(StoreError::NotFound("Member not found"));
    }
    Ok(())
}

pub fn create_workspace_key(conn: &Connection, ws: WorkspaceRef) -> Result<ApiKey> {
    let exists: bool = conn.query_row(
        "select exists (select 1 from api_keys where workspace_id = ?1 and revoked_at is null)",
        [ws.key],
        |r| r.get(0),
    )?;
    if exists {
        return Err(StoreError::Conflict(
            "This workspace already has an API key: rotate or revoke it".into(),
        ));
    }
    insert_workspace_key(conn, ws)
}

fn revoke_keys(conn: &Connection, ws: WorkspaceRef) -> Result<usize> {
    Ok(conn.execute(
        "update api_keys set revoked_at = ?2 where workspace_id = ?1 and revoked_at is null",
        [ws.key, now_ms()],
    )?)
}

pub fn revoke_workspace_key(conn: &Connection, ws: WorkspaceRef) -> Result<()> {
    match revoke_keys(conn, ws)? {
        0 => Err(StoreError::NotFound("This workspace has no API key")),
        _ => Ok(()),
    }
}

pub fn rotate_workspace_key(conn: &Connection, ws: WorkspaceRef) -> Result<ApiKey> {
    revoke_keys(conn, ws)?;
    insert_workspace_key(conn, ws)
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
