//! The web console's sessions. A session is found by its token's hash and
//! lives only while the API key it signed in with does: every look-up
//! joins the key (not revoked) and, for a platform key, checks that its
//! user is still a member of the chosen workspace.

use super::exec::Exec;
use super::{Principal, Result, WorkspaceRef};

/// A live session.
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// Who signed in.
    pub principal: Principal,
    /// The workspace it acts in: a workspace key's own, or the one a
    /// platform key chose (none yet: it must choose).
    pub workspace: Option<WorkspaceRef>,
    /// The token its forms carry.
    pub csrf: String,
    pub expires_at: i64,
}

pub async fn create(
    e: &impl Exec,
    token_hash: Vec<u8>,
    key_hash: Vec<u8>,
    csrf: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    e.execute(&e.sql(
        r"insert into console_sessions (token_hash, key_hash, csrf, created_at, expires_at)
         values (?1, ?2, ?3, ?4, ?5)",
        vec![
            token_hash.into(),
            key_hash.into(),
            csrf.into(),
            now.into(),
            expires_at.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The session of this token, if it has not ended and its key still
/// stands.
pub async fn find(e: &impl Exec, token_hash: Vec<u8>, now: i64) -> Result<Option<SessionRow>> {
    let row = e
        .query_opt(&e.sql(
            r"select k.user_id, coalesce(k.workspace_id, s.workspace_id), w.created_at, s.csrf, s.expires_at
             from console_sessions s
             join api_keys k on k.key_hash = s.key_hash and k.revoked_at is null
             left join workspaces w on w.id = coalesce(k.workspace_id, s.workspace_id)
             where s.token_hash = ?1 and s.expires_at > ?2",
            vec![token_hash.into(), now.into()],
        ))
        .await?;
    let Some(mut r) = row else {
        return Ok(None);
    };
    let workspace = match (r.opt_i64(1)?, r.opt_i64(2)?) {
        (Some(key), Some(created_at)) => Some(WorkspaceRef { key, created_at }),
        _ => None,
    };
    let principal = match (r.opt_i64(0)?, workspace) {
        (Some(user_key), _) => Principal::User { user_key },
        (None, Some(ws)) => Principal::Workspace(ws),
        (None, None) => return Ok(None),
    };
    let workspace = match principal {
        Principal::User { user_key } => match workspace {
            Some(ws) => super::workspaces::member_workspace(e, user_key, ws.id()).await?,
            None => None,
        },
        Principal::Workspace(ws) => Some(ws),
    };
    Ok(Some(SessionRow {
        principal,
        workspace,
        csrf: r.text(3)?,
        expires_at: r.i64(4)?,
    }))
}

/// The workspace a platform key's session acts in from now on.
pub async fn choose_workspace(e: &impl Exec, token_hash: Vec<u8>, ws: WorkspaceRef) -> Result<()> {
    e.execute(&e.sql(
        "update console_sessions set workspace_id = ?2 where token_hash = ?1",
        vec![token_hash.into(), ws.key.into()],
    ))
    .await?;
    Ok(())
}

/// Removes the sessions that have expired.
pub async fn prune(e: &impl Exec, now: i64) -> Result<u64> {
    e.execute(&e.sql(
        "delete from console_sessions where expires_at <= ?1",
        vec![now.into()],
    ))
    .await
}

/// Ends the session (signing out), and every session that has expired.
pub async fn end(e: &impl Exec, token_hash: Vec<u8>, now: i64) -> Result<()> {
    e.execute(&e.sql(
        "delete from console_sessions where token_hash = ?1 or expires_at <= ?2",
        vec![token_hash.into(), now.into()],
    ))
    .await?;
    Ok(())
}
