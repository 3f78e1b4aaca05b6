//! The CSV import form and its answer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::jobs::ImportCounts;

/// `POST /v1/leads/import/csv`: the bulk counts over the file's rows.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    /// Data rows read (rows whose cells are all empty are not rows):
    /// imported + updated + skipped + failed.
    pub rows: u64,
    pub imported: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    /// The leads created (an asynchronous import lists the first 5,000;
    /// its `lead.created` events name them all).
    pub imported_lead_ids: Vec<String>,
    pub errors: Vec<ImportRowError>,
    /// The separator the file was read with, found in its header line:
    /// `,`, `;`, `|` or `tab`.
    #[schema(example = ",")]
    pub delimiter: String,
    /// With `campaignId`: how the file's leads were added to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<ImportCampaign>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ImportRowError {
    /// The line of the file the row starts on (the header is line 1).
    pub line: u64,
    pub email: Option<String>,
    pub error: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportCampaign {
    pub campaign_id: String,
    pub added: u64,
    pub skipped: u64,
    /// Leads on the do-not-contact list (counted in `skipped` too).
    pub blocked: u64,
    /// Leads in the campaign already (counted in `skipped` too).
    pub already_in_campaign: u64,
    /// Leads skipped by `skipIfInOtherCampaign` (counted in `skipped`
    /// too). One reason per lead, in this order: `alreadyInCampaign`,
    /// `blocked`, `inOtherCampaign`; `alreadyInCampaign + blocked +
    /// inOtherCampaign == skipped`.
    pub in_other_campaign: u64,
}

// ---- Query strings --------------------------------------------------------

impl ImportCampaign {
    /// The campaign's counts for `leads` leads of a file, `added` of them
    /// added, `blocked` on the do-not-contact list, `in_other` left out.
    pub fn of(campaign_id: String, leads: u64, added: u64, blocked: u64, in_other: u64) -> Self {
        ImportCampaign {
            campaign_id,
            added,
            skipped: leads - added,
            blocked,
            in_other_campaign: in_other,
            already_in_campaign: leads - added - blocked - in_other,
        }
    }
}

impl ImportResult {
    /// An asynchronous import's answer, from its job's counts.
    pub fn of_job(c: ImportCounts) -> Self {
        let leads = c.imported + c.updated + c.skipped;
        ImportResult {
            rows: c.rows,
            imported: c.imported,
            updated: c.updated,
            skipped: c.skipped + c.repeats,
            failed: c.failed,
            imported_lead_ids: c.imported_ids,
            errors: serde_json::from_value(c.errors).unwrap_or_default(),
            delimiter: c.delimiter,
            campaign: c.campaign.map(|(id, added, blocked, in_other)| {
                ImportCampaign::of(id, leads, added, blocked, in_other)
            }),
        }
    }
}
