//! The account, workspaces, members and workspace keys.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A workspace, with the caller's role in it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    /// owner or member.
    pub role: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The user a platform key belongs to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(rename = "_id")]
    pub id: String,
    pub email: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub workspaces: Vec<Workspace>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub workspace_id: String,
    pub user_id: String,
    pub email: String,
    pub role: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberRemoved {
    pub workspace_id: String,
    pub user_id: String,
    pub removed: bool,
}

/// A workspace key, shown this once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceKey {
    pub workspace_id: String,
    #[schema(example = "sk_...")]
    pub api_key: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRevoked {
    pub workspace_id: String,
    pub revoked: bool,
}

// ---- Request bodies (what the handlers' parsers accept) -------------------

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct WorkspaceInput {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct MemberInput {
    /// An existing user's email.
    pub email: String,
    /// owner or member (default member); ignored on removal.
    pub role: Option<String>,
}
