//! The account, workspaces, members and workspace keys.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::email::Email;
use crate::domain::json::{FromJson, Name, given, present};
use crate::domain::lead::FieldError;
use crate::domain::workspace::Role;

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

/// A platform key, shown this once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformKey {
    pub user_id: String,
    #[schema(example = "sk_user_...")]
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
pub struct WorkspaceInput {
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = String, required = true, min_length = 1)]
    pub name: Option<Name>,
}

impl WorkspaceInput {
    pub fn name(self) -> Result<String, FieldError> {
        self.name.map(|n| n.0).ok_or_else(Name::required)
    }
}

#[derive(Deserialize, ToSchema)]
pub struct MemberInput {
    /// An existing user's email.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = String, required = true)]
    pub email: Option<UserEmail>,
    /// owner or member (default member); ignored on removal.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
}

/// The email of a user, for membership.
pub struct UserEmail(pub Email);

impl UserEmail {
    fn required() -> FieldError {
        FieldError::new("email", "is required: the email of an existing user")
    }
}

impl FromJson for UserEmail {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        v.as_str()
            .and_then(Email::parse)
            .map(UserEmail)
            .ok_or_else(|| FieldError {
                field: String::new(),
                ..Self::required()
            })
    }
}

impl MemberInput {
    pub fn email(&self) -> Result<&Email, FieldError> {
        self.email
            .as_ref()
            .map(|e| &e.0)
            .ok_or_else(UserEmail::required)
    }
}
