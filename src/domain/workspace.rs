//! Workspace membership: roles and the rule that a workspace keeps an owner.

/// A member's role in a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Owner,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Role::Owner),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

impl super::json::FromJson for Role {
    fn from_json(v: serde_json::Value) -> Result<Self, super::lead::FieldError> {
        v.as_str()
            .and_then(Role::parse)
            .ok_or_else(|| super::lead::FieldError::new("", "must be owner or member"))
    }
}

/// Whether `user` may take role `to` (`None`: leave the workspace) when
/// `owners` are the workspace's owners now: the last owner may not stop
/// being one.
pub fn keeps_an_owner(owners: &[i64], user: i64, to: Option<Role>) -> Result<(), &'static str> {
    if owners == [user] && to != Some(Role::Owner) {
        return Err("A workspace needs at least one owner");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_owner_cannot_step_down_or_leave() {
        assert!(keeps_an_owner(&[1], 1, Some(Role::Member)).is_err());
        assert!(keeps_an_owner(&[1], 1, None).is_err());
        assert!(keeps_an_owner(&[1], 1, Some(Role::Owner)).is_ok());
        assert!(keeps_an_owner(&[1, 2], 1, None).is_ok());
        assert!(keeps_an_owner(&[1], 2, None).is_ok());
    }

    #[test]
    fn roles_round_trip() {
        for r in [Role::Owner, Role::Member] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
