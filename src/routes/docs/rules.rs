//! What a request type's fields cannot say, written into the document as
//! JSON Schema from the parsers' own constants:
//!
//! - which fields a create requires (`NewLead`, `NewCampaign`), and the one
//!   an update may not change (`LeadUpdate`);
//! - the modes of a request, exactly one of which it must give (add leads;
//!   delete leads; act on campaign leads);
//! - a do-not-contact entry's value by its type;
//! - the three shapes the server reads by hand rather than through serde:
//!   `Filters` (`LeadFilter::from_json`, which names the criterion at
//!   fault), `AddLeadEntry` (one entry of mode 1, refused one by one with
//!   its index) and `ImportForm` (a multipart form, read as it streams).
//!
//! The contract test holds these to the server: schemathesis generates
//! requests the document allows and fails the run when the server refuses
//! them all ("schema validation mismatch").

use serde_json::{Value, json};

use super::super::campaign_leads::MAX_EXPLICIT;
use super::ID_PATTERN;
use crate::domain::country;
use crate::domain::filter::{CRITERIA, MAX_EMAIL, MAX_LEAD_IDS, MAX_SEARCH, MAX_VALUES};
use crate::domain::import::{MAX_ASYNC_ROWS, MAX_ROWS};
use crate::domain::lead::{
    MAX_CUSTOM_FIELDS, MAX_CUSTOM_KEY, MAX_CUSTOM_VALUE, MAX_TAG_LEN, TEXT_FIELDS,
    VERIFICATION_RESULTS,
};
use crate::routes::schema::MAX_DNC_ENTRIES;

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn id() -> Value {
    json!({ "type": "string", "pattern": ID_PATTERN })
}

fn ids() -> Value {
    json!({ "type": "array", "items": id(), "maxItems": MAX_LEAD_IDS })
}

fn tag() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": MAX_TAG_LEN })
}

/// One value, or a non-empty list of them (a filter criterion).
fn one_or_list(item: Value) -> Value {
    json!({ "oneOf": [
        item.clone(),
        { "type": "array", "items": item, "minItems": 1, "maxItems": MAX_VALUES }
    ] })
}

fn country_code() -> Value {
    json!({ "type": "string", "enum": country::codes().collect::<Vec<_>>() })
}

/// Absent, null or false.
fn not_set() -> Value {
    json!({ "enum": [false, null] })
}

/// Writes every rule into `doc` (the serialized document).
pub fn write(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    schemas["Filters"] = filters();
    schemas["AddLeadEntry"] = json!({
        "description": "One entry of mode 1: an existing lead by `leadId`, or a lead by \
                        `email` (found case-insensitively or created with the given fields).",
        "oneOf": [
            {
                "type": "object",
                "required": ["leadId"],
                "properties": { "leadId": id() },
                "additionalProperties": false
            },
            reference("NewLead")
        ]
    });
    schemas["NewLead"] = json!({
        "description": "A lead to create: `email` is required.",
        "allOf": [
            reference("LeadInput"),
            {
                "type": "object",
                "required": ["email"],
                "properties": { "email": { "type": "string", "examples": ["jane@example.com"] } }
            }
        ]
    });
    schemas["LeadUpdate"] = json!({
        "description": "A lead's fields to change: what is absent stays.",
        "allOf": [
            reference("LeadInput"),
            {
                "type": "object",
                "properties": {
                    "email": {
                        "description": "A lead's email cannot change: only its own \
                                        address is accepted here, and changes nothing.",
                        "not": {}
                    }
                }
            }
        ]
    });
    schemas["NewCampaign"] = json!({
        "description": "A campaign to create: `name` is required.",
        "allOf": [reference("CampaignInput"), { "type": "object", "required": ["name"] }]
    });
    schemas["ImportForm"] = import_form();
    schemas["DncImportForm"] = json!({
        "type": "object",
        "description": "The do-not-contact CSV form. Other parts are refused.",
        "required": ["file"],
        "additionalProperties": false,
        "properties": {
            "file": {
                "type": "string",
                "format": "binary",
                "contentMediaType": "text/csv",
                "examples": ["email\nann@example.com\nspam.example\n"],
                "description": format!(
                    "The CSV: one column of email addresses or domains, UTF-8, at most {MAX_DNC_ENTRIES} \
                     values and {} MiB; a first line that is neither (such as `email`) is a header.",
                    crate::routes::dnc::MAX_DNC_FILE_BYTES / (1024 * 1024)
                )
            }
        }
    });
    lead_input(&mut schemas["LeadInput"]);
    schemas["BulkRequest"]["properties"]["leads"]["items"] = reference("NewLead");
    schemas["BulkRequest"]["properties"]["tag"] = tag();
    schemas["DncInput"]["oneOf"] = json!([
        {
            "properties": {
                "type": { "const": "email" },
                "value": { "type": "string", "format": "email" }
            }
        },
        {
            "properties": {
                "type": { "const": "domain" },
                "value": { "type": "string", "format": "hostname", "pattern": "\\." }
            }
        }
    ]);
    schemas["AddLeadsRequest"]["oneOf"] = json!([
        {
            "title": "Mode 1: explicit leads",
            "required": ["leads"],
            "properties": {
                "leads": { "type": "array", "minItems": 1, "maxItems": MAX_EXPLICIT },
                "filters": { "type": "null" },
                "selectAll": not_set(),
                "excludeIds": { "type": "null" }
            }
        },
        {
            "title": "Mode 2: filter",
            "required": ["filters"],
            "properties": {
                "filters": { "type": "object" },
                "leads": { "type": "null" },
                "selectAll": not_set()
            }
        },
        {
            "title": "Mode 3: select all",
            "required": ["selectAll"],
            "properties": {
                "selectAll": { "const": true },
                "leads": { "type": "null" },
                "filters": { "type": "null" }
            }
        }
    ]);
    schemas["DeleteLeadsRequest"]["oneOf"] = ids_or_all("leadIds", "deleteAll");
    // A job's answer is one of the synchronous calls' answers, which share
    // their counts (an add's also reads as a move's without `moved`): any
    // of them, not exactly one.
    if let Some(kinds) = schemas["JobResult"]
        .as_object_mut()
        .and_then(|o| o.remove("oneOf"))
    {
        schemas["JobResult"]["anyOf"] = kinds;
    }
    schemas["LeadActionRequest"]["oneOf"] = ids_or_all("leadIds", "selectAll");
    schemas["MoveLeadsRequest"]["oneOf"] = ids_or_all("leadIds", "selectAll");
    schemas["MoveLeadsRequest"]["properties"]["toCampaignId"] = id();
    schemas["MoveLeadsRequest"]["properties"]["status"] =
        json!({ "type": "string", "enum": ["reset", "keep"], "default": "reset" });
    // `explain` goes with `dryRun: true`.
    for name in ["AddLeadsRequest", "MoveLeadsRequest"] {
        schemas[name]["if"] =
            json!({ "properties": { "explain": { "const": true } }, "required": ["explain"] });
        schemas[name]["then"] =
            json!({ "properties": { "dryRun": { "const": true } }, "required": ["dryRun"] });
    }
    for path in ["/v1/leads", "/v1/campaigns"] {
        for p in doc["paths"][path]["get"]["parameters"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if p["name"] == "search" {
                p["schema"]["maxLength"] = json!(MAX_SEARCH);
            }
            if p["name"] == "email" {
                p["schema"]["minLength"] = json!(1);
                p["schema"]["maxLength"] = json!(MAX_EMAIL);
            }
        }
    }
    for (path, method, body) in [
        ("/v1/leads", "post", "NewLead"),
        ("/v1/leads/{id}", "patch", "LeadUpdate"),
        ("/v1/campaigns", "post", "NewCampaign"),
    ] {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"] =
            reference(body);
    }
}

/// A bulk target: IDs under `ids`, or `all: true` (with optional filters
/// and exclusions); exactly one.
fn ids_or_all(ids: &str, all: &str) -> Value {
    json!([
        {
            "title": format!("By {ids}"),
            "required": [ids],
            "properties": {
                ids: { "type": "array", "minItems": 1 },
                all: not_set(),
                "filters": { "type": "null" },
                "excludeIds": { "type": "null" }
            }
        },
        {
            "title": format!("{all}: true"),
            "required": [all],
            "properties": { all: { "const": true }, ids: { "type": "null" } }
        }
    ])
}

fn filters() -> Value {
    let mut statuses: Vec<&str> = VERIFICATION_RESULTS.to_vec();
    statuses.push("unverified");
    let properties = json!({
        "email": {
            "description": "The lead with this email address, compared case-insensitively (exact, not a substring).",
            "type": "string", "minLength": 1, "maxLength": MAX_EMAIL
        },
        "tags": { "description": "Leads with any of these tags.", "allOf": [one_or_list(tag())] },
        "search": {
            "description": "Case-insensitive substring of email, firstName, lastName or companyName.",
            "type": "string", "minLength": 1, "maxLength": MAX_SEARCH, "pattern": "\\S"
        },
        "emailStatus": {
            "description": "emailVerificationResult in this list; `unverified` matches leads with no verification result.",
            "allOf": [one_or_list(json!({ "type": "string", "enum": statuses }))]
        },
        "emailVerified": { "type": "boolean" },
        "hasCompany": { "type": "boolean", "description": "Leads with (true) or without (false) a company name." },
        "hasPhone": { "type": "boolean", "description": "Leads with (true) or without (false) a phone number." },
        "country": { "description": "One code or a list.", "allOf": [one_or_list(country_code())] },
        "leadIds": ids(),
        "createdAfter": { "type": "string", "format": "date-time", "description": "Exclusive." },
        "createdBefore": { "type": "string", "format": "date-time", "description": "Exclusive." }
    });
    debug_assert!(CRITERIA.iter().all(|c| properties.get(c).is_some()));
    json!({
        "type": "object",
        "description": "Lead criteria, at least one; a lead must match all given. Unknown \
                        criteria are refused (a typo must not widen a selection).",
        "properties": properties,
        "minProperties": 1,
        "additionalProperties": false
    })
}

/// Limits of a lead's fields that their Rust types do not carry.
fn lead_input(schema: &mut Value) {
    let p = &mut schema["properties"];
    p["tags"]["items"] = tag();
    p["country"] = json!({
        "description": "ISO 3166-1 alpha-2 (any case on input).",
        "oneOf": [country_code(), { "type": "null" }]
    });
    p["customFields"] = json!({
        "description": "Values are strings, numbers, booleans or null.",
        "type": ["object", "null"],
        "maxProperties": MAX_CUSTOM_FIELDS,
        "propertyNames": { "minLength": 1, "maxLength": MAX_CUSTOM_KEY },
        "additionalProperties": {
            "type": ["string", "number", "boolean", "null"],
            "maxLength": MAX_CUSTOM_VALUE
        }
    });
}

fn import_form() -> Value {
    json!({
        "type": "object",
        "description": "The CSV import form. Other parts are refused.",
        "required": ["file"],
        "additionalProperties": false,
        "properties": {
            "file": {
                "type": "string",
                "format": "binary",
                "contentMediaType": "text/csv",
                "examples": ["Work Email,First Name,Notes\njane@example.com,Jane,met at a fair\n"],
                "description": format!(
                    "The CSV file: UTF-8, first line naming the columns, at most {MAX_ROWS} rows \
                     ({MAX_ASYNC_ROWS} with `async`)."
                )
            },
            "mapping": {
                "type": "string",
                "contentMediaType": "application/json",
                "description": format!(
                    "JSON: CSV column → lead field (`email`, {}, `tags`, `emailVerificationResult`, \
                     `customFields.NAME`, or null to ignore the column). Without it, common \
                     headers are recognised.",
                    TEXT_FIELDS.map(|(f, _)| format!("`{f}`")).join(", ")
                ),
                "examples": ["{\"Work Email\": \"email\", \"Notes\": \"customFields.notes\"}"]
            },
            "tag": { "description": "Added to every lead of the file.", "allOf": [tag()] },
            "campaignId": {
                "description": "Also add every lead of the file to this campaign.",
                "allOf": [id()]
            },
            "skipDuplicates": {
                "description": "true (default): existing leads are left as they are; false: updated.",
                "type": "string",
                "enum": ["true", "false"]
            },
            "async": {
                "description": "true: import as a background job (202 with its ID), for files of up to \
                    1,000,000 rows and 500 MiB. Default false: imported within the request.",
                "type": "string",
                "enum": ["true", "false"]
            },
            "skipIfInOtherCampaign": {
                "description": "With `campaignId`: true leaves out leads that are pending, active or \
                    paused in another campaign (counted in `campaign.inOtherCampaign`). Default: the \
                    campaign's `settings.skipIfInOtherCampaign`.",
                "type": "string",
                "enum": ["true", "false"]
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_rule_lands_on_a_schema_that_exists() {
        let doc = crate::routes::openapi();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "LeadInput",
            "BulkRequest",
            "DncInput",
            "AddLeadsRequest",
            "DeleteLeadsRequest",
            "LeadActionRequest",
            "CampaignInput",
        ] {
            assert!(
                schemas[name]["properties"].is_object(),
                "{name} has properties"
            );
        }
        // Each mode names properties the request has.
        for name in ["AddLeadsRequest", "DeleteLeadsRequest", "LeadActionRequest"] {
            for branch in schemas[name]["oneOf"].as_array().unwrap() {
                for key in branch["properties"].as_object().unwrap().keys() {
                    assert!(
                        schemas[name]["properties"].get(key).is_some(),
                        "{name} has {key}"
                    );
                }
            }
        }
        assert_eq!(
            doc["paths"]["/v1/leads"]["post"]["requestBody"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/NewLead"
        );
    }
}
