//! The CSV import form and its answer.

use serde::Serialize;
use utoipa::ToSchema;

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

#[derive(Serialize, ToSchema)]
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
