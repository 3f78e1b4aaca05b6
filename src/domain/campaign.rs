//! Campaign and campaign-lead states, and the moves between them.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CampaignStatus {
    Draft,
    Active,
    Paused,
    Completed,
    Archived,
}

impl CampaignStatus {
    pub const ALL: [CampaignStatus; 5] = [
        Self::Draft,
        Self::Active,
        Self::Paused,
        Self::Completed,
        Self::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The status of a lead added now to a campaign in this status, or why
    /// no lead may be added.
    pub fn admit(self) -> Result<CampaignLeadStatus, &'static str> {
        match self {
            Self::Archived => Err("Campaign is archived; leads cannot be added to it"),
            s => Ok(s.new_lead_status()),
        }
    }

    /// The status of a lead newly added to a campaign in this status.
    pub fn new_lead_status(self) -> CampaignLeadStatus {
        if self == Self::Active {
            CampaignLeadStatus::Active
        } else {
            CampaignLeadStatus::Pending
        }
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// At most this many bytes of JSON in a campaign's sequence, schedule and
/// settings together.
pub const MAX_CONTENT: usize = 64 * 1024;

/// Refuses content over [`MAX_CONTENT`].
pub fn check_content_size(parts: [&Option<serde_json::Value>; 3]) -> Result<(), &'static str> {
    let size: usize = parts
        .iter()
        .filter_map(|v| v.as_ref())
        .map(|v| v.to_string().len())
        .sum();
    if size > MAX_CONTENT {
        return Err("sequence, schedule and settings must be at most 64 KiB together");
    }
    Ok(())
}

/// A state change asked for through `POST /campaigns/{id}/{action}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Start,
    Pause,
    Resume,
    Complete,
    Archive,
}

impl Transition {
    pub fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Complete => "complete",
            Self::Archive => "archive",
        }
    }

    /// The status this transition leads to from `from`, or the reason it
    /// is not allowed.
    pub fn check(self, from: CampaignStatus) -> Result<CampaignStatus, String> {
        self.apply(from)
            .ok_or_else(|| format!("Cannot {} a campaign that is {from}", self.name()))
    }

    /// The status this transition leads to from `from`, or `None` when the
    /// move is not allowed.
    pub fn apply(self, from: CampaignStatus) -> Option<CampaignStatus> {
        use CampaignStatus::*;
        match (self, from) {
            (Self::Start, Draft) => Some(Active),
            (Self::Pause, Active) => Some(Paused),
            (Self::Resume, Paused) => Some(Active),
            (Self::Complete, Active | Paused) => Some(Completed),
            (Self::Archive, _) => Some(Archived),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CampaignLeadStatus {
    Pending,
    Active,
    Paused,
    Completed,
    Bounced,
    Unsubscribed,
    Replied,
}

impl CampaignLeadStatus {
    pub const ALL: [CampaignLeadStatus; 7] = [
        Self::Pending,
        Self::Active,
        Self::Paused,
        Self::Completed,
        Self::Bounced,
        Self::Unsubscribed,
        Self::Replied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Bounced => "bounced",
            Self::Unsubscribed => "unsubscribed",
            Self::Replied => "replied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether a membership in this status may be set by a caller (to
    /// `active` or `paused`); finished ones keep their outcome.
    pub fn check_change(self) -> Result<(), String> {
        match self {
            Self::Pending | Self::Active | Self::Paused => Ok(()),
            s => Err(format!(
                "A campaign lead that is {} cannot change status",
                s.as_str()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CampaignStatus::*;

    #[test]
    fn only_the_documented_moves_are_allowed() {
        let allowed = [
            (Transition::Start, Draft, Active),
            (Transition::Pause, Active, Paused),
            (Transition::Resume, Paused, Active),
            (Transition::Complete, Active, Completed),
            (Transition::Complete, Paused, Completed),
        ];
        for t in [
            Transition::Start,
            Transition::Pause,
            Transition::Resume,
            Transition::Complete,
        ] {
            for from in CampaignStatus::ALL {
                let expected = allowed
                    .iter()
                    .find(|(tt, f, _)| *tt == t && *f == from)
                    .map(|a| a.2);
                assert_eq!(t.apply(from), expected, "{t:?} from {from:?}");
            }
        }
        for from in CampaignStatus::ALL {
            assert_eq!(Transition::Archive.apply(from), Some(Archived));
        }
    }

    #[test]
    fn new_leads_are_active_only_in_an_active_campaign() {
        assert_eq!(Active.new_lead_status(), CampaignLeadStatus::Active);
        for s in [Draft, Paused, Completed] {
            assert_eq!(s.new_lead_status(), CampaignLeadStatus::Pending);
        }
    }

    #[test]
    fn rules_explain_what_they_refuse() {
        assert_eq!(
            Archived.admit(),
            Err("Campaign is archived; leads cannot be added to it")
        );
        assert_eq!(Draft.admit(), Ok(CampaignLeadStatus::Pending));
        assert_eq!(
            Transition::Start.check(Archived),
            Err("Cannot start a campaign that is archived".to_string())
        );
        assert_eq!(Transition::Start.check(Draft), Ok(Active));
        assert!(CampaignLeadStatus::Paused.check_change().is_ok());
        assert_eq!(
            CampaignLeadStatus::Replied.check_change(),
            Err("A campaign lead that is replied cannot change status".to_string())
        );
    }

    #[test]
    fn statuses_round_trip() {
        for s in CampaignStatus::ALL {
            assert_eq!(CampaignStatus::parse(s.as_str()), Some(s));
        }
        for s in CampaignLeadStatus::ALL {
            assert_eq!(CampaignLeadStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(CampaignStatus::parse("Active"), None);
    }
}
