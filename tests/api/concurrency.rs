//! Many parallel, overlapping add requests: exact counts, no duplicates.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_overlapping_adds_count_exactly_and_never_duplicate() {
    let app = spawn_app().await;
    let c = app.create_campaign("Race").await;
    // 16 explicit requests over overlapping windows of 400 emails, in mixed
    // casing, plus select-all requests racing them.
    let mut tasks = Vec::new();
    for i in 0..16usize {
        let body = json!({"leads": (0..100).map(|j| {
            let n = (i * 20 + j) % 400;
            let email = if (i + j) % 2 == 0 { format!("race{n}@example.com") } else { format!("RACE{n}@Example.com") };
            json!({"email": email})
        }).collect::<Vec<_>>()});
        tasks.push((body, 100usize));
    }
    for _ in 0..4 {
        tasks.push((json!({"selectAll": true}), 0));
    }
    let futures = tasks.into_iter().map(|(body, n)| {
        let app = &app;
        let c = c.clone();
        async move { (app.add(&c, body).await, n) }
    });
    let results = futures::future::join_all(futures).await;

    let (mut added, mut created, mut emails) = (0u64, 0u64, HashSet::new());
    for (r, n) in &results {
        let d = r.assert_ok(200);
        added += d["added"].as_u64().unwrap();
        if *n > 0 {
            created += d["created"].as_u64().unwrap();
            assert_eq!(
                d["added"].as_u64().unwrap() + d["skipped"].as_u64().unwrap(),
                *n as u64
            );
        } else {
            assert_eq!(
                d["added"].as_u64().unwrap() + d["skipped"].as_u64().unwrap(),
                d["matched"].as_u64().unwrap()
            );
        }
    }
    for i in 0..16usize {
        for j in 0..100 {
            emails.insert((i * 20 + j) % 400);
        }
    }
    let leads = app.all("/v1/leads").await;
    assert_eq!(leads.len(), emails.len());
    assert_eq!(
        created,
        emails.len() as u64,
        "each lead is created exactly once"
    );
    let distinct: HashSet<String> = leads
        .iter()
        .map(|l| l["email"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(distinct.len(), leads.len(), "no two leads share an email");

    let members: Vec<Value> = app.all(&format!("/v1/campaigns/{c}/leads")).await;
    let lead_ids: HashSet<&str> = members
        .iter()
        .map(|m| m["leadId"].as_str().unwrap())
        .collect();
    assert_eq!(
        lead_ids.len(),
        members.len(),
        "no lead is in the campaign twice"
    );
    assert_eq!(members.len() as u64, added, "the added counts add up");
    assert_eq!(members.len(), emails.len());
}
