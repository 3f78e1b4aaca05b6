//! Users, workspaces, members and API keys, for both engines.

use super::exec::{Exec, Row};
use super::{Access, Principal, Result, Role, StoreError, UserRow, WorkspaceRef, WorkspaceRow};
use crate::domain::email::Email;
use crate::domain::id::ObjectId;
use crate::domain::key::{ApiKey, KeyKind};
use crate::domain::now_ms;
use crate::domain::workspace;

pub async fn has_users(e: &impl Exec) -> Result<bool> {
    e.query_one(&e.sql("select exists (select 1 from users)", vec![]))
        .await?
        .bool(0)
}

pub async fn create_user(e: &impl Exec, email: &Email) -> Result<(UserRow, ApiKey)> {
    let now = now_ms();
    let key = e
        .query_i64(&e.sql(
            "insert into users (email, email_key, created_at) values (?1, ?2, ?3) returning id",
            vec![email.as_str().into(), email.key().into(), now.into()],
        ))
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(_) => {
                StoreError::Conflict(format!("A user with email {email} already exists"))
            }
            e => e,
        })?;
    let api_key = ApiKey::generate(KeyKind::Platform);
    e.execute(&e.sql(
        "insert into api_keys (key_hash, user_id, created_at) values (?1, ?2, ?3)",
        vec![api_key.hash().into(), key.into(), now.into()],
    ))
    .await?;
    let user = UserRow {
        key,
        email: email.to_string(),
        created_at: now,
    };
    Ok((user, api_key))
}

fn user_row(mut r: Row) -> Result<UserRow> {
    Ok(UserRow {
        key: r.i64(0)?,
        email: r.text(1)?,
        created_at: r.i64(2)?,
    })
}

pub async fn find_user(e: &impl Exec, email: &Email) -> Result<Option<UserRow>> {
    e.query_opt(&e.sql(
        "select id, email, created_at from users where email_key = ?1",
        vec![email.key().into()],
    ))
    .await?
    .map(user_row)
    .transpose()
}

pub async fn list_users(e: &impl Exec) -> Result<Vec<UserRow>> {
    e.query(&e.sql(
        "select id, email, created_at from users order by id",
        vec![],
    ))
    .await?
    .into_iter()
    .map(user_row)
    .collect()
}

/// Every workspace with its owners' emails, oldest first: one query across
/// all tenants, for the administrator's command line only.
pub async fn list_all_workspaces(e: &impl Exec) -> Result<Vec<(WorkspaceRow, Vec<String>)>> {
    let rows = e
        .query(&e.sql(
            r"select w.id, w.created_at, w.name, w.updated_at, u.email from workspaces w
             left join workspace_members m on m.workspace_id = w.id and m.role = 'owner'
             left join users u on u.id = m.user_id order by w.id, u.email",
            vec![],
        ))
        .await?;
    let mut out: Vec<(WorkspaceRow, Vec<String>)> = Vec::new();
    for mut r in rows {
        let w = workspace_row(&mut r)?;
        let owner = r.opt_text(4)?;
        match out.last_mut() {
            Some((last, owners)) if last.workspace == w.workspace => owners.extend(owner),
            _ => out.push((w, owner.into_iter().collect())),
        }
    }
    Ok(out)
}

pub async fn get_user(e: &impl Exec, user_key: i64) -> Result<UserRow> {
    e.query_opt(&e.sql(
        "select id, email, created_at from users where id = ?1",
        vec![user_key.into()],
    ))
    .await?
    .map(user_row)
    .transpose()?
    .ok_or(StoreError::NotFound("User not found"))
}

pub async fn create_workspace(
    e: &impl Exec,
    name: &str,
    owner: Option<i64>,
) -> Result<(WorkspaceRow, ApiKey)> {
    let row = insert_workspace(e, name, owner).await?;
    let key = insert_workspace_key(e, row.workspace).await?;
    Ok((row, key))
}

/// A workspace, owned by `owner` when given, without a key.
pub async fn insert_workspace(
    e: &impl Exec,
    name: &str,
    owner: Option<i64>,
) -> Result<WorkspaceRow> {
    let now = now_ms();
    let key = e
        .query_i64(&e.sql(
            "insert into workspaces (name, created_at, updated_at) values (?1, ?2, ?2) returning id",
            vec![name.into(), now.into()],
        ))
        .await?;
    if let Some(user) = owner {
        e.execute(&e.sql(
            "insert into workspace_members (workspace_id, user_id, role) values (?1, ?2, 'owner')",
            vec![key.into(), user.into()],
        ))
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

async fn insert_workspace_key(e: &impl Exec, ws: WorkspaceRef) -> Result<ApiKey> {
    let api_key = ApiKey::generate(KeyKind::Workspace);
    e.execute(&e.sql(
        "insert into api_keys (key_hash, workspace_id, created_at) values (?1, ?2, ?3)",
        vec![api_key.hash().into(), ws.key.into(), now_ms().into()],
    ))
    .await?;
    Ok(api_key)
}

/// Serialises changes to one workspace's members and keys (SQLite's single
/// writer serialises them already).
async fn lock_workspace(e: &impl Exec, ws: WorkspaceRef) -> Result<()> {
    let lock = e.dialect().for_update();
    if !lock.is_empty() {
        e.execute(&e.sql(
            &format!("select 1 from workspaces where id = ?1{lock}"),
            vec![ws.key.into()],
        ))
        .await?;
    }
    Ok(())
}

const WORKSPACE_COLUMNS: &str = "w.id, w.created_at, w.name, w.updated_at, m.role";

fn workspace_row(r: &mut Row) -> Result<WorkspaceRow> {
    Ok(WorkspaceRow {
        workspace: WorkspaceRef {
            key: r.i64(0)?,
            created_at: r.i64(1)?,
        },
        name: r.text(2)?,
        updated_at: r.i64(3)?,
    })
}

fn role(r: &mut Row) -> Result<Option<Role>> {
    Ok(r.opt_text(4)?
        .map(|role| Role::parse(&role).unwrap_or(Role::Member)))
}

/// The user's workspaces with the user's role in each, newest first.
pub async fn user_workspaces(e: &impl Exec, user_key: i64) -> Result<Vec<(WorkspaceRow, Role)>> {
    e.query(&e.sql(
        &format!(
            r"select {WORKSPACE_COLUMNS} from workspaces w
             join workspace_members m on m.workspace_id = w.id where m.user_id = ?1 order by w.id desc"
        ),
        vec![user_key.into()],
    ))
    .await?
    .into_iter()
    .map(|mut r| Ok((workspace_row(&mut r)?, role(&mut r)?.unwrap_or(Role::Member))))
    .collect()
}

pub async fn workspace_access(e: &impl Exec, user_key: i64, id: ObjectId) -> Result<Access> {
    let row = e
        .query_opt(&e.sql(
            &format!(
                r"select {WORKSPACE_COLUMNS} from workspaces w
                 left join workspace_members m on m.workspace_id = w.id and m.user_id = ?2 where w.id = ?1"
            ),
            vec![id.key.into(), user_key.into()],
        ))
        .await?;
    let Some(mut r) = row else {
        return Ok(Access::NotFound);
    };
    let w = workspace_row(&mut r)?;
    if !id.matches(w.workspace.key, w.workspace.created_at) {
        return Ok(Access::NotFound);
    }
    Ok(match role(&mut r)? {
        Some(role) => Access::Member(w, role),
        None => Access::NotMember,
    })
}

/// The workspace's members and their roles, owners first, then by email.
pub async fn members(e: &impl Exec, ws: WorkspaceRef) -> Result<Vec<(UserRow, Role)>> {
    e.query(&e.sql(
        r"select u.id, u.email, u.created_at, m.role from workspace_members m
         join users u on u.id = m.user_id where m.workspace_id = ?1
         order by case when m.role = 'owner' then 0 else 1 end, u.email",
        vec![ws.key.into()],
    ))
    .await?
    .into_iter()
    .map(|mut r| {
        let user = UserRow {
            key: r.i64(0)?,
            email: r.text(1)?,
            created_at: r.i64(2)?,
        };
        let role = Role::parse(&r.text(3)?).unwrap_or(Role::Member);
        Ok((user, role))
    })
    .collect()
}

/// The workspace `id` when `user_key` is one of its members.
pub async fn member_workspace(
    e: &impl Exec,
    user_key: i64,
    id: ObjectId,
) -> Result<Option<WorkspaceRef>> {
    let row = e
        .query_opt(&e.sql(
            r"select w.created_at from workspaces w
             join workspace_members m on m.workspace_id = w.id and m.user_id = ?2
             where w.id = ?1",
            vec![id.key.into(), user_key.into()],
        ))
        .await?;
    Ok(match row {
        Some(mut r) => Some(r.i64(0)?)
            .filter(|c| id.matches(id.key, *c))
            .map(|created_at| WorkspaceRef {
                key: id.key,
                created_at,
            }),
        None => None,
    })
}

pub async fn rename_workspace(e: &impl Exec, ws: WorkspaceRef, name: &str) -> Result<WorkspaceRow> {
    let now = now_ms();
    e.execute(&e.sql(
        "update workspaces set name = ?2, updated_at = ?3 where id = ?1",
        vec![ws.key.into(), name.into(), now.into()],
    ))
    .await?;
    Ok(WorkspaceRow {
        workspace: ws,
        name: name.to_owned(),
        updated_at: now,
    })
}

/// Removes the workspace with everything in it.
pub async fn delete_workspace(e: &impl Exec, ws: WorkspaceRef) -> Result<()> {
    lock_workspace(e, ws).await?;
    // Memberships through the campaigns, which every engine indexes.
    e.execute(&e.sql(
        r"delete from campaign_leads where workspace_id = ?1
         and campaign_id in (select id from campaigns where workspace_id = ?1)",
        vec![ws.key.into()],
    ))
    .await?;
    for table in [
        "campaign_counts",
        "lead_totals",
        "campaigns",
        "leads",
        "dnc_entries",
        "workspace_members",
        "api_keys",
        "events",
        "event_counters",
        "webhook_deliveries",
        "webhooks",
        "jobs",
        "import_rows",
    ] {
        e.execute(&e.sql(
            &format!("delete from {table} where workspace_id = ?1"),
            vec![ws.key.into()],
        ))
        .await?;
    }
    e.execute(&e.sql("delete from workspaces where id = ?1", vec![ws.key.into()]))
        .await?;
    Ok(())
}

async fn owners(e: &impl Exec, ws: WorkspaceRef) -> Result<Vec<i64>> {
    e.query(&e.sql(
        "select user_id from workspace_members where workspace_id = ?1 and role = 'owner'",
        vec![ws.key.into()],
    ))
    .await?
    .into_iter()
    .map(|mut r| r.i64(0))
    .collect()
}

/// Adds the user as a member, or changes its role.
pub async fn set_member(e: &impl Exec, ws: WorkspaceRef, user_key: i64, role: Role) -> Result<()> {
    lock_workspace(e, ws).await?;
    workspace::keeps_an_owner(&owners(e, ws).await?, user_key, Some(role))
        .map_err(|m| StoreError::Conflict(m.into()))?;
    e.execute(&e.sql(
        r"insert into workspace_members (workspace_id, user_id, role) values (?1, ?2, ?3)
         on conflict (workspace_id, user_id) do update set role = excluded.role",
        vec![ws.key.into(), user_key.into(), role.as_str().into()],
    ))
    .await?;
    Ok(())
}

/// Removes a member; the last owner cannot be removed.
pub async fn remove_member(e: &impl Exec, ws: WorkspaceRef, user_key: i64) -> Result<()> {
    lock_workspace(e, ws).await?;
    workspace::keeps_an_owner(&owners(e, ws).await?, user_key, None)
        .map_err(|m| StoreError::Conflict(m.into()))?;
    let removed = e
        .execute(&e.sql(
            "delete from workspace_members where workspace_id = ?1 and user_id = ?2",
            vec![ws.key.into(), user_key.into()],
        ))
        .await?;
    if removed == 0 {
        return Err(StoreError::NotFound("Member not found"));
    }
    Ok(())
}

/// A new workspace key; a conflict while the workspace has one.
pub async fn create_workspace_key(e: &impl Exec, ws: WorkspaceRef) -> Result<ApiKey> {
    lock_workspace(e, ws).await?;
    let exists = e
        .query_one(&e.sql(
            "select exists (select 1 from api_keys where workspace_id = ?1 and revoked_at is null)",
            vec![ws.key.into()],
        ))
        .await?
        .bool(0)?;
    if exists {
        return Err(StoreError::Conflict(
            "This workspace already has an API key: rotate or revoke it".into(),
        ));
    }
    insert_workspace_key(e, ws).await
}

async fn revoke_keys(e: &impl Exec, ws: WorkspaceRef) -> Result<u64> {
    e.execute(&e.sql(
        "update api_keys set revoked_at = ?2 where workspace_id = ?1 and revoked_at is null",
        vec![ws.key.into(), now_ms().into()],
    ))
    .await
}

pub async fn revoke_workspace_key(e: &impl Exec, ws: WorkspaceRef) -> Result<()> {
    lock_workspace(e, ws).await?;
    match revoke_keys(e, ws).await? {
        0 => Err(StoreError::NotFound("This workspace has no API key")),
        _ => Ok(()),
    }
}

/// Revokes the current key (if any) and makes a new one, atomically.
pub async fn rotate_workspace_key(e: &impl Exec, ws: WorkspaceRef) -> Result<ApiKey> {
    lock_workspace(e, ws).await?;
    revoke_keys(e, ws).await?;
    insert_workspace_key(e, ws).await
}

/// Revokes the user's platform keys and makes a new one. The old key
/// stops working at once on every server: keys are looked up on each
/// request, never cached.
pub async fn rotate_user_key(e: &impl Exec, user_key: i64) -> Result<ApiKey> {
    let lock = e.dialect().for_update();
    let found = e
        .query_opt(&e.sql(
            &format!("select id from users where id = ?1{lock}"),
            vec![user_key.into()],
        ))
        .await?;
    if found.is_none() {
        return Err(StoreError::NotFound("User not found"));
    }
    let now = now_ms();
    e.execute(&e.sql(
        "update api_keys set revoked_at = ?2 where user_id = ?1 and revoked_at is null",
        vec![user_key.into(), now.into()],
    ))
    .await?;
    let api_key = ApiKey::generate(KeyKind::Platform);
    e.execute(&e.sql(
        "insert into api_keys (key_hash, user_id, created_at) values (?1, ?2, ?3)",
        vec![api_key.hash().into(), user_key.into(), now.into()],
    ))
    .await?;
    Ok(api_key)
}

pub async fn authenticate(e: &impl Exec, key: &ApiKey) -> Result<Option<Principal>> {
    let row = e
        .query_opt(&e.sql(
            r"select k.user_id, k.workspace_id, w.created_at from api_keys k
             left join workspaces w on w.id = k.workspace_id
             where k.key_hash = ?1 and k.revoked_at is null",
            vec![key.hash().into()],
        ))
        .await?;
    let Some(mut r) = row else {
        return Ok(None);
    };
    Ok(match (r.opt_i64(0)?, r.opt_i64(1)?, r.opt_i64(2)?) {
        (Some(user_key), _, _) => Some(Principal::User { user_key }),
        (None, Some(key), Some(created_at)) => {
            Some(Principal::Workspace(WorkspaceRef { key, created_at }))
        }
        _ => None,
    })
}
