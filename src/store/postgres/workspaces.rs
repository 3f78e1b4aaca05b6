//! Users, workspaces, API keys and the do-not-contact list on PostgreSQL.

use deadpool_postgres::GenericClient;

use super::sql::Sql;
use super::{is_unique_violation, page};
use crate::domain::email::Email;
use crate::domain::id::ObjectId;
use crate::domain::key::{ApiKey, KeyKind};
use crate::domain::now_ms;
use crate::store::{
    DncKind, DncRow, Page, PageRequest, Principal, Result, StoreError, UserRow, WorkspaceRef,
    WorkspaceRow,
};

pub async fn create_user(c: &impl GenericClient, email: &Email) -> Result<(UserRow, ApiKey)> {
    let now = now_ms();
    let row = c
        .query_one(
            "insert into users (email, email_key, created_at) values ($1, $2, $3) returning id",
            &[&email.as_str(), &email.key(), &now],
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("A user with email {email} already exists"))
            } else {
                e.into()
            }
        })?;
    let key: i64 = row.get(0);
    let api_key = ApiKey::generate(KeyKind::Platform);
    c.execute(
        "insert into api_keys (key_hash, user_id, created_at) values ($1, $2, $3)",
        &[&api_key.hash(), &key, &now],
    )
    .await?;
    Ok((
        UserRow {
            key,
            email: email.to_string(),
            created_at: now,
        },
        api_key,
    ))
}

pub async fn find_user(c: &impl GenericClient, email_key: &str) -> Result<Option<UserRow>> {
    Ok(c.query_opt(
        "select id, email, created_at from users where email_key = $1",
        &[&email_key],
    )
    .await?
    .map(|r| UserRow {
        key: r.get(0),
        email: r.get(1),
        created_at: r.get(2),
    }))
}

pub async fn create_workspace(
    c: &impl GenericClient,
    name: &str,
    owner: Option<i64>,
) -> Result<(WorkspaceRow, ApiKey)> {
    let now = now_ms();
    let key: i64 = c
        .query_one(
            "insert into workspaces (name, created_at, updated_at) values ($1, $2, $2) returning id",
            &[&name, &now],
        )
        .await?
        .get(0);
    if let Some(user) = owner {
        c.execute(
            "insert into workspace_members (workspace_id, user_id, role) values ($1, $2, 'owner')",
            &[&key, &user],
        )
        .await?;
    }
    let api_key = ApiKey::generate(KeyKind::Workspace);
    c.execute(
        "insert into api_keys (key_hash, workspace_id, created_at) values ($1, $2, $3)",
        &[&api_key.hash(), &key, &now],
    )
    .await?;
    Ok((
        WorkspaceRow {
            workspace: WorkspaceRef {
                key,
                created_at: now,
            },
            name: name.to_owned(),
            updated_at: now,
        },
        api_key,
    ))
}

pub async fn authenticate(c: &impl GenericClient, hash: &[u8]) -> Result<Option<Principal>> {
    let row = c
        .query_opt(
            "select k.user_id, k.workspace_id, w.created_at from api_keys k \
             left join workspaces w on w.id = k.workspace_id \
             where k.key_hash = $1 and k.revoked_at is null",
            &[&hash],
        )
        .await?;
    Ok(row.and_then(|r| {
        let user: Option<i64> = r.get(0);
        let ws: Option<i64> = r.get(1);
        let created: Option<i64> = r.get(2);
        match (user, ws, created) {
            (Some(user_key), _, _) => Some(Principal::User { user_key }),
            (None, Some(key), Some(created_at)) => {
                Some(Principal::Workspace(WorkspaceRef { key, created_at }))
            }
            _ => None,
        }
    }))
}

pub async fn member_workspace(
    c: &impl GenericClient,
    user_key: i64,
    id: ObjectId,
) -> Result<Option<WorkspaceRef>> {
    let row = c
        .query_opt(
            "select w.created_at from workspaces w \
             join workspace_members m on m.workspace_id = w.id and m.user_id = $2 \
             where w.id = $1",
            &[&id.key, &user_key],
        )
        .await?;
    Ok(row
        .map(|r| r.get::<_, i64>(0))
        .filter(|c| id.matches(id.key, *c))
        .map(|created_at| WorkspaceRef {
            key: id.key,
            created_at,
        }))
}

pub async fn list_dnc(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    page_req: PageRequest,
) -> Result<Page<DncRow>> {
    let mut sql = Sql::default();
    let p = sql.param(ws.key);
    sql.push(&format!("workspace_id = {p}"));
    page(
        c,
        sql,
        "select id, kind, value, created_at from dnc_entries",
        "dnc_entries",
        "id",
        page_req,
        |r| DncRow {
            key: r.get(0),
            kind: r.get(1),
            value: r.get(2),
            created_at: r.get(3),
        },
    )
    .await
}

pub async fn add_dnc(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    entries: &[(DncKind, String)],
) -> Result<(u64, u64)> {
    let kinds: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    let values: Vec<&str> = entries.iter().map(|(_, v)| v.as_str()).collect();
    let added = c
        .execute(
            "insert into dnc_entries (workspace_id, kind, value, created_at) \
             select $1, k, v, $2 from unnest($3::text[], $4::text[]) as x(k, v) \
             on conflict (workspace_id, kind, value) do nothing",
            &[&ws.key, &now_ms(), &kinds, &values],
        )
        .await?;
    Ok((added, entries.len() as u64 - added))
}

pub async fn delete_dnc(c: &impl GenericClient, ws: WorkspaceRef, ids: &[ObjectId]) -> Result<u64> {
    let keys: Vec<i64> = ids.iter().map(|i| i.key).collect();
    let secs: Vec<i64> = ids.iter().map(|i| i64::from(i.secs)).collect();
    Ok(c.execute(
        "delete from dnc_entries d using unnest($2::bigint[], $3::bigint[]) as x(k, s) \
             where d.workspace_id = $1 and d.id = x.k and d.created_at / 1000 = x.s",
        &[&ws.key, &keys, &secs],
    )
    .await?)
}

pub async fn has_dnc(c: &impl GenericClient, ws: WorkspaceRef) -> Result<bool> {
    Ok(c.query_one(
        "select exists (select 1 from dnc_entries where workspace_id = $1)",
        &[&ws.key],
    )
    .await?
    .get(0))
}
