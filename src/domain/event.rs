//! The kinds of event the log records, and their names on the wire.

/// What happened. Bulk changes are one event per request, not per lead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    LeadCreated,
    LeadUpdated,
    LeadDeleted,
    CampaignCreated,
    CampaignStatusChanged,
    CampaignLeadsAdded,
    CampaignLeadStatusChanged,
    DncAdded,
    ImportCompleted,
    JobFinished,
}

impl EventType {
    pub const ALL: [EventType; 10] = [
        EventType::LeadCreated,
        EventType::LeadUpdated,
        EventType::LeadDeleted,
        EventType::CampaignCreated,
        EventType::CampaignStatusChanged,
        EventType::CampaignLeadsAdded,
        EventType::CampaignLeadStatusChanged,
        EventType::DncAdded,
        EventType::ImportCompleted,
        EventType::JobFinished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LeadCreated => "lead.created",
            EventType::LeadUpdated => "lead.updated",
            EventType::LeadDeleted => "lead.deleted",
            EventType::CampaignCreated => "campaign.created",
            EventType::CampaignStatusChanged => "campaign.status_changed",
            EventType::CampaignLeadsAdded => "campaign.leads_added",
            EventType::CampaignLeadStatusChanged => "campaign_lead.status_changed",
            EventType::DncAdded => "dnc.added",
            EventType::ImportCompleted => "import.completed",
            EventType::JobFinished => "job.finished",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Every name, for messages and the API document.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|t| t.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_are_distinct() {
        let names = EventType::names();
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert_eq!(EventType::parse("lead.Created"), None);
    }
}
