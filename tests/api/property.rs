//! Property: random mixes of add requests keep the add-leads invariants
//! (docs/API.md, "Adding leads to a campaign").

use std::collections::HashSet;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[derive(Clone, Debug)]
enum Entry {
    /// One of a small pool of emails, in upper or lower case.
    Email(usize, bool),
    /// The ID of a lead created beforehand.
    Known(usize),
    UnknownId,
    BadEmail,
    Missing,
    NotObject,
}

#[derive(Clone, Debug)]
enum Op {
    Explicit(Vec<Entry>, bool),
    SelectAll(bool),
    FilterTag(bool),
    Block(usize),
    Start,
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        6 => (0..12usize, any::<bool>()).prop_map(|(i, up)| Entry::Email(i, up)),
        3 => (0..4usize).prop_map(Entry::Known),
        1 => Just(Entry::UnknownId),
        1 => Just(Entry::BadEmail),
        1 => Just(Entry::Missing),
        1 => Just(Entry::NotObject),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (prop::collection::vec(entry(), 1..12), any::<bool>()).prop_map(|(e, dry)| Op::Explicit(e, dry)),
        1 => any::<bool>().prop_map(Op::SelectAll),
        1 => any::<bool>().prop_map(Op::FilterTag),
        1 => (0..12usize).prop_map(Op::Block),
        1 => Just(Op::Start),
    ]
}

fn render(e: &Entry, known: &[String]) -> Value {
    match e {
        Entry::Email(i, true) => json!({"email": format!("P{i}@EXAMPLE.com"), "tags": ["pool"]}),
        Entry::Email(i, false) => json!({"email": format!("p{i}@example.com")}),
        Entry::Known(i) => json!({"leadId": known[*i]}),
        Entry::UnknownId => json!({"leadId": "665d4e5f6a7b8c9d0e1f2a3b"}),
        Entry::BadEmail => json!({"email": "nope@"}),
        Entry::Missing => json!({"firstName": "x"}),
        Entry::NotObject => json!(7),
    }
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let app = spawn_app().await;
    let c = app.create_campaign("Prop").await;
    let known = app
        .create_leads(
            (0..4)
                .map(|i| json!({"email": format!("known{i}@example.com"), "tags": ["pool"]}))
                .collect(),
        )
        .await;
    let mut total_added = 0u64;
    let mut total_created = 0u64;
    for op in ops {
        let before = app.campaign_lead_total(&c).await as u64;
        let (r, dry) = match &op {
            Op::Explicit(entries, dry) => {
                let leads: Vec<Value> = entries.iter().map(|e| render(e, &known)).collect();
                (
                    app.add(&c, json!({"leads": leads, "dryRun": dry})).await,
                    *dry,
                )
            }
            Op::SelectAll(dry) => (
                app.add(&c, json!({"selectAll": true, "dryRun": dry})).await,
                *dry,
            ),
            Op::FilterTag(dry) => (
                app.add(&c, json!({"filters": {"tags": ["pool"]}, "dryRun": dry}))
                    .await,
                *dry,
            ),
            Op::Block(i) => {
                app.post(
                    "/v1/dnc",
                    json!({"entries": [{"type": "email", "value": format!("p{i}@example.com")}]}),
                )
                .await;
                continue;
            }
            Op::Start => {
                app.post(&format!("/v1/campaigns/{c}/start"), json!({}))
                    .await;
                continue;
            }
        };
        prop_assert_eq!(r.status.as_u16(), 200, "{}", r.body);
        let d = r.data();
        let added = d["added"].as_u64().unwrap();
        let skipped = d["skipped"].as_u64().unwrap();
        let blocked = d["blocked"].as_u64().unwrap();
        prop_assert!(blocked <= skipped);
        match &op {
            Op::Explicit(entries, _) => {
                let errors = d["errors"].as_array().unwrap().len() as u64;
                prop_assert_eq!(added + skipped, entries.len() as u64, "{}", d);
                prop_assert_eq!(
                    d["alreadyInCampaign"].as_u64().unwrap()
                        + blocked
                        + d["inOtherCampaign"].as_u64().unwrap()
                        + errors,
                    skipped,
                    "{}",
                    d
                );
                if !dry {
                    total_created += d["created"].as_u64().unwrap();
                }
            }
            _ => {
                prop_assert_eq!(added + skipped, d["matched"].as_u64().unwrap(), "{}", d);
                prop_assert_eq!(
                    d["alreadyInCampaign"].as_u64().unwrap()
                        + blocked
                        + d["inOtherCampaign"].as_u64().unwrap(),
                    skipped,
                    "{}",
                    d
                );
            }
        }
        let after = app.campaign_lead_total(&c).await as u64;
        if dry {
            prop_assert_eq!(after, before, "a dry run writes nothing");
        } else {
            prop_assert_eq!(after, before + added, "added describes what was committed");
            total_added += added;
        }
    }
    let members = app.all(&format!("/v1/campaigns/{c}/leads")).await;
    let distinct: HashSet<&str> = members
        .iter()
        .map(|m| m["leadId"].as_str().unwrap())
        .collect();
    prop_assert_eq!(distinct.len(), members.len());
    prop_assert_eq!(members.len() as u64, total_added);
    let leads = app.all("/v1/leads").await;
    let emails: HashSet<String> = leads
        .iter()
        .map(|l| l["email"].as_str().unwrap().to_lowercase())
        .collect();
    prop_assert_eq!(emails.len(), leads.len());
    prop_assert_eq!(leads.len() as u64, 4 + total_created);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_add_requests_keep_the_invariants(ops in prop::collection::vec(op(), 1..10)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops))?;
    }
}
