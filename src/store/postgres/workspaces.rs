//! Users, workspaces, API keys and the do-not-contact list on PostgreSQL.

use deadpool_postgres::GenericClient;

use super::sql::Sql;
use super::{is_unique_violation, page};
use crate::domain::email::Email;
use crate::domain::id::ObjectId;
use crate::domain::key::{ApiKey, KeyKind};
use crate::domain::now_ms;
use crate::store::{
    Access, DncKind, DncRow, Page, PageRequest, Principal, Result, Role, StoreError, UserRow,
    WorkspaceRef, WorkspaceRow,
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
    let row = insert_workspace(c, name, owner).await?;
    let key = insert_workspace_key(c, row.workspace).await?;
    Ok((row, key))
}

/// A workspace, owned by `owner` when given, without a key.
pub async fn insert_workspace(
    c: &impl GenericClient,
    name: &str,
    owner: Option<i64>,
) -> Result<WorkspaceRow> {
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
    Ok(WorkspaceRow {
        workspace: WorkspaceRef {
            key,
            created_at: now,
        },
        name: name.to_owned(),
        updated_at: now,
    })
}

async fn insert_workspace_key(c: &impl GenericClient, ws: WorkspaceRef) -> Result<ApiKey> {
    let api_key = ApiKey::generate(KeyKind::Workspace);
    c.execute(
        "insert into api_keys (key_hash, workspace_id, created_at) values ($1, $2, $3)",
        &[&api_key.hash(), &ws.key, &now_ms()],
    )
    .await?;
    Ok(api_key)
}

/// Serialises changes to one workspace's members and keys.
async fn lock_workspace(c: &impl GenericClient, ws: WorkspaceRef) -> Result<()> {
    c.execute(
        "select 1 from workspaces where id = $1 for update",
        &[&ws.key],
    )
    .await?;
    Ok(())
}

pub async fn get_user(c: &impl GenericClient, user_key: i64) -> Result<UserRow> {
    c.query_opt(
        "select id, email, created_at from users where id = $1",
        &[&user_key],
    )
    .await?
    .map(|r| UserRow {
        key: r.get(0),
        email: r.get(1),
        created_at: r.get(2),
    })
    .ok_or(StoreError::NotFound("User not found"))
}

fn workspace_row(r: &tokio_postgres::Row) -> WorkspaceRow {
    WorkspaceRow {
        workspace: WorkspaceRef {
            key: r.get(0),
            created_at: r.get(1),
        },
        name: r.get(2),
        updated_at: r.get(3),
    }
}

pub async fn user_workspaces(
    c: &impl GenericClient,
    user_key: i64,
) -> Result<Vec<(WorkspaceRow, Role)>> {
    let rows = c
        .query(
            "select w.id, w.created_at, w.name, w.updated_at, m.role from workspaces w \
             join workspace_members m on m.workspace_id = w.id where m.user_id = $1 order by w.id desc",
            &[&user_key],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                workspace_row(r),
                Role::parse(r.get(4)).unwrap_or(Role::Member),
            )
        })
        .collect())
}

pub async fn workspace_access(
    c: &impl GenericClient,
    user_key: i64,
    id: ObjectId,
) -> Result<Access> {
    let row = c
        .query_opt(
            "select w.id, w.created_at, w.name, w.updated_at, m.role from workspaces w \
             left join workspace_members m on m.workspace_id = w.id and m.user_id = $2 where w.id = $1",
            &[&id.key, &user_key],
        )
        .await?;
    Ok(match row {
        Some(r) if id.matches(r.get(0), r.get(1)) => match r.get::<_, Option<String>>(4) {
            Some(role) => Access::Member(
                workspace_row(&r),
                Role::parse(&role).unwrap_or(Role::Member),
            ),
            None => Access::NotMember,
        },
        _ => Access::NotFound,
    })
}

pub async fn rename_workspace(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    name: &str,
) -> Result<WorkspaceRow> {
    let now = now_ms();
    c.execute(
        "update workspaces set name = $2, updated_at = $3 where id = $1",
        &[&ws.key, &name, &now],
    )
    .await?;
    Ok(WorkspaceRow {
        workspace: ws,
        name: name.to_owned(),
        updated_at: now,
    })
}

pub async fn delete_workspace(c: &impl GenericClient, ws: WorkspaceRef) -> Result<()> {
    lock_workspace(c, ws).await?;
    for table in [
        "campaign_leads",
        "campaigns",
        "leads",
        "dnc_entries",
        "workspace_members",
        "api_keys",
    ] {
        c.execute(
            &format!("delete from {table} where workspace_id = $1"),
            &[&ws.key],
        )
        .await?;
    }
    c.execute("delete from workspaces where id = $1", &[&ws.key])
        .await?;
    Ok(())
}

async fn owners(c: &impl GenericClient, ws: WorkspaceRef) -> Result<Vec<i64>> {
    Ok(c.query(
        "select user_id from workspace_members where workspace_id = $1 and role = 'owner'",
        &[&ws.key],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

pub async fn set_member(
    c: &impl GenericClient,
    ws: WorkspaceRef,
    user_key: i64,
    role: Role,
) -> Result<()> {
    lock_workspace(c, ws).await?;
    if role == Role::Member && owners(c, ws).await? == [user_key] {
        return Err(StoreError::Conflict(
            "A workspace needs at least one owner".into(),
        ));
    }
    c.execute(
        "insert into workspace_members (workspace_id, user_id, role) values ($1, $2, $3) \
         on conflict (workspace_id, user_id) do update set role = excluded.role",
        &[&ws.key, &user_key, &role.as_str()],
    )
    .await?;
    Ok(())
}

pub async fn remove_member(c: &impl GenericClient, ws: WorkspaceRef, user_key: i64) -> Result<()> {
    lock_workspace(c, ws).await?;
    if owners(c, ws).await? == [user_key] {
        return Err(StoreError::Conflict(
            "A workspace needs at least one owner".into(),
        ));
    }
    let removed = c
        .execute(
            "delete from workspace_members where workspace_id = $1 and user_id = $2",
            &[&ws.key, &user_key],
        )
        .await?;
    if removed == 0 {
        return Err(StoreError::NotFound("Member not found"));
    }
    Ok(())
}

pub async fn create_workspace_key(c: &impl GenericClient, ws: WorkspaceRef) -> Result<ApiKey> {
    lock_workspace(c, ws).await?;
    let exists: bool = c
        .query_one(
            "select exists (select 1 from api_keys where workspace_id = $1 and revoked_at is null)",
            &[&ws.key],
        )
        .await?
        .get(0);
    if exists {
        return Err(StoreError::Conflict(
            "This workspace already has an API key: rotate or revoke it".into(),
        ));
    }
    insert_workspace_key(c, ws).await
}

async fn revoke_keys(c: &impl GenericClient, ws: WorkspaceRef) -> Result<u64> {
    Ok(c.execute(
        "update api_keys set revoked_at = $2 where workspace_id = $1 and revoked_at is null",
        &[&ws.key, &now_ms()],
    )
    .await?)
}

pub async fn revoke_workspace_key(c: &impl GenericClient, ws: WorkspaceRef) -> Result<()> {
    lock_workspace(c, ws).await?;
    match revoke_keys(c, ws).await? {
        0 => Err(StoreError::NotFound("This workspace has no API key")),
        _ => Ok(()),
    }
}

pub async fn rotate_workspace_key(c: &impl GenericClient, ws: WorkspaceRef) -> Result<ApiKey> {
    lock_workspace(c, ws).await?;
    revoke_keys(c, ws).await?;
    insert_workspace_key(c, ws).await
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
