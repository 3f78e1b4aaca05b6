//! The counts that are kept rather than counted on each request (a
//! campaign's `leadCounts`, the workspace's lead total) and the indexes the
//! list filters read: each compared with a count made in the database
//! itself, after every kind of change and under concurrent writers. (A
//! deleted workspace's counts: `workspaces::deleting_a_workspace_removes_its_data_and_keys_and_nothing_else`, whose
//! tables include the counts.)

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const STATUSES: [&str; 7] = [
    "pending",
    "active",
    "paused",
    "completed",
    "bounced",
    "unsubscribed",
    "replied",
];

fn key(id: &str) -> i64 {
    leadflow::domain::id::ObjectId::parse(id).unwrap().key
}

/// Every kept count of the workspace and of `campaigns` against the rows:
/// `leadCounts` of each campaign (alone and in the list), each status's
/// member-list total, and the lead list's total.
async fn assert_exact(app: &TestApp, campaigns: &[String]) {
    let ws = key(&app.workspace_id);
    let leads = app
        .query_db("select count(*) from leads where workspace_id = $1", ws)
        .await[0][0];
    assert_eq!(app.lead_total().await, leads, "the lead total");
    let listed: BTreeMap<String, Value> = app
        .all("/v1/campaigns")
        .await
        .into_iter()
        .map(|c| {
            (
                c["_id"].as_str().unwrap().to_owned(),
                c["leadCounts"].clone(),
            )
        })
        .collect();
    for c in campaigns {
        let mut direct: BTreeMap<&str, i64> = STATUSES.iter().map(|s| (*s, 0)).collect();
        // (Counted per status in one row: the status is text.)
        let by_status = app
            .query_db(
                &format!(
                    "select {} from campaign_leads where campaign_id = $1",
                    STATUSES
                        .iter()
                        .map(|s| format!(
                            "coalesce(sum(case when status = '{s}' then 1 else 0 end), 0)"
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                key(c),
            )
            .await;
        for (s, n) in STATUSES.iter().zip(&by_status[0]) {
            direct.insert(s, *n);
        }
        let r = app.get(&format!("/v1/campaigns/{c}")).await;
        let counts = &r.assert_ok(200)["leadCounts"];
        for (s, n) in &direct {
            assert_eq!(counts[s], json!(n), "{s} of {c}: {counts}");
            let total = app
                .get(&format!("/v1/campaigns/{c}/leads?status={s}&limit=1"))
                .await
                .body["pagination"]["total"]
                .clone();
            assert_eq!(total, json!(n), "the {s} members' total of {c}");
        }
        let sum: i64 = direct.values().sum();
        assert_eq!(counts["total"], json!(sum));
        assert_eq!(app.campaign_lead_total(c).await, sum);
        assert_eq!(
            listed.get(c),
            Some(counts),
            "the list shows the same counts"
        );
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// New leads by email (some already there) into campaign `c`.
    AddEmails(usize, Vec<u8>),
    /// Every lead into campaign `c`, or those tagged `t{n}`.
    AddAll(usize, Option<u8>),
    /// Pause, resume or remove every member of `c` (or those tagged).
    Action(usize, &'static str, Option<u8>),
    /// One member of `c` to this status.
    SetOne(usize, &'static str),
    Start(usize),
    DeleteLead(u8),
    DeleteTagged(u8),
    BulkCreate(Vec<u8>),
    DeleteCampaign(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..2usize;
    let tag = prop::option::of(0..3u8);
    prop_oneof![
        (c.clone(), prop::collection::vec(0..30u8, 1..8)).prop_map(|(c, e)| Op::AddEmails(c, e)),
        (c.clone(), tag.clone()).prop_map(|(c, t)| Op::AddAll(c, t)),
        (
            c.clone(),
            prop::sample::select(vec!["pause", "resume", "remove"]),
            tag
        )
            .prop_map(|(c, a, t)| Op::Action(c, a, t)),
        (c.clone(), prop::sample::select(vec!["active", "paused"]))
            .prop_map(|(c, s)| Op::SetOne(c, s)),
        c.clone().prop_map(Op::Start),
        (0..30u8).prop_map(Op::DeleteLead),
        (0..3u8).prop_map(Op::DeleteTagged),
        prop::collection::vec(0..40u8, 1..6).prop_map(Op::BulkCreate),
        c.prop_map(Op::DeleteCampaign),
    ]
}

fn lead(i: u8) -> Value {
    json!({"email": format!("p{i}@example.com"), "tags": [format!("t{}", i % 3)]})
}

async fn lead_id(app: &TestApp, i: u8) -> Option<String> {
    let r = app
        .get(&format!("/v1/leads?search=p{i}@example.com&limit=5"))
        .await;
    r.assert_ok(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["email"] == json!(format!("p{i}@example.com")))
        .map(|l| l["_id"].as_str().unwrap().to_owned())
}

async fn apply(app: &TestApp, campaigns: &mut [String], op: &Op) {
    let filters = |t: &Option<u8>| t.map(|t| json!({"tags": [format!("t{t}")]}));
    let r = match op {
        Op::AddEmails(c, emails) => {
            let leads: Vec<Value> = emails.iter().map(|i| lead(*i)).collect();
            app.add(&campaigns[*c], json!({"leads": leads})).await
        }
        Op::AddAll(c, t) => match filters(t) {
            Some(f) => app.add(&campaigns[*c], json!({"filters": f})).await,
            None => app.add(&campaigns[*c], json!({"selectAll": true})).await,
        },
        Op::Action(c, action, t) => {
            let mut body = json!({"action": action, "selectAll": true});
            if let Some(f) = filters(t) {
                body["filters"] = f;
            }
            app.post(
                &format!("/v1/campaigns/{}/leads/action", campaigns[*c]),
                body,
            )
            .await
        }
        Op::SetOne(c, status) => {
            let members = app
                .get(&format!("/v1/campaigns/{}/leads?limit=1", campaigns[*c]))
                .await;
            let Some(m) = members.data().as_array().unwrap().first().cloned() else {
                return;
            };
            let r = app
                .patch(
                    &format!(
                        "/v1/campaigns/{}/leads/{}",
                        campaigns[*c],
                        m["_id"].as_str().unwrap()
                    ),
                    json!({"status": status}),
                )
                .await;
            // A finished membership keeps its status (409).
            assert!(r.status == 200 || r.status == 409, "{}", r.body);
            return;
        }
        Op::Start(c) => {
            let r = app
                .post(&format!("/v1/campaigns/{}/start", campaigns[*c]), json!({}))
                .await;
            assert!(r.status == 200 || r.status == 409, "{}", r.body);
            return;
        }
        Op::DeleteLead(i) => {
            let Some(id) = lead_id(app, *i).await else {
                return;
            };
            app.delete(&format!("/v1/leads/{id}")).await
        }
        Op::DeleteTagged(t) => {
            app.call(
                reqwest::Method::DELETE,
                "/v1/leads",
                Some(json!({"deleteAll": true, "filters": {"tags": [format!("t{t}")]}})),
            )
            .await
        }
        Op::BulkCreate(emails) => {
            let leads: Vec<Value> = emails.iter().map(|i| lead(*i)).collect();
            app.post("/v1/leads/bulk", json!({"leads": leads})).await
        }
        Op::DeleteCampaign(c) => {
            let r = app
                .delete(&format!("/v1/campaigns/{}", campaigns[*c]))
                .await;
            r.assert_ok(200);
            campaigns[*c] = app.create_campaign("again").await;
            return;
        }
    };
    assert_eq!(r.status, 200, "{op:?}: {}", r.body);
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let app = spawn_app().await;
    let mut campaigns = vec![
        app.create_campaign("One").await,
        app.create_campaign("Two").await,
    ];
    app.create_leads((0..10).map(lead).collect()).await;
    for op in &ops {
        apply(&app, &mut campaigns, op).await;
        assert_exact(&app, &campaigns).await;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random adds, status changes, removals, lead and campaign deletes:
    /// after each, every kept count equals a count of the rows.
    #[test]
    fn kept_counts_equal_the_rows_after_every_change(ops in prop::collection::vec(op(), 1..12)) {
        tokio::runtime::Runtime::new().unwrap().block_on(run(ops))?;
    }
}

/// Many clients at once (adds, pauses, removals, deletes, on two
/// campaigns): the counts are exact once they are done.
#[tokio::test]
async fn kept_counts_stay_exact_under_concurrent_writers() {
    let app = std::sync::Arc::new(spawn_app().await);
    let campaigns = vec![
        app.create_campaign("One").await,
        app.create_campaign("Two").await,
    ];
    app.create_leads((0..40).map(lead).collect()).await;
    let script: Vec<Op> = (0..8u8)
        .flat_map(|w| {
            let c = usize::from(w % 2);
            vec![
                Op::AddEmails(c, (0..10).map(|i| (i * 7 + w * 3) % 40).collect()),
                Op::Action(c, if w % 3 == 0 { "pause" } else { "resume" }, Some(w % 3)),
                Op::AddAll(1 - c, Some(w % 3)),
                Op::DeleteLead(w * 5 % 40),
                Op::Action(1 - c, "remove", Some((w + 1) % 3)),
                Op::BulkCreate((0..5).map(|i| 40 + i + w * 5).collect()),
                Op::AddAll(c, None),
                Op::Start(c),
            ]
        })
        .collect();
    let mut tasks = Vec::new();
    for chunk in script.chunks(8) {
        let app = app.clone();
        let mut campaigns = campaigns.clone();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            for op in &chunk {
                apply(&app, &mut campaigns, op).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_exact(&app, &campaigns).await;
}

/// Search and tag filters answer exactly what a test of every lead
/// answers: through the trigram and tag indexes, after creates, updates
/// and deletes, for needles shorter than a trigram, with wildcards and
/// quotes, and with the filtered total exact.
#[tokio::test]
async fn search_and_tags_through_their_indexes_match_every_lead_tested() {
    let app = spawn_app().await;
    let people = [
        (
            "ann.lee@acme.io",
            "Ann",
            "Lee",
            "Acme 100%",
            vec!["vip", "eu"],
        ),
        (
            "bob_o@beta.dev",
            "Bob",
            "O'Neil",
            "Beta \"Quoted\" Ltd",
            vec!["eu"],
        ),
        ("carla@gamma.org", "Carla", "Lee-Smith", "Gamma_Co", vec![]),
        ("dan@acme.io", "Dan", "Brown", "ACME", vec!["vip"]),
        ("eve@delta.net", "Eve", "Leeds", "Delta", vec!["us", "vip"]),
    ];
    let leads: Vec<Value> = people
        .iter()
        .map(|(e, f, l, c, t)| json!({"email": e, "firstName": f, "lastName": l, "companyName": c, "tags": t}))
        .collect();
    let ids = app.create_leads(leads).await;
    // Changes the indexes must follow: a renamed lead, new tags, a delete.
    app.patch(
        &format!("/v1/leads/{}", ids[3]),
        json!({"lastName": "Leeway", "tags": ["us"]}),
    )
    .await
    .assert_ok(200);
    app.delete(&format!("/v1/leads/{}", ids[4]))
        .await
        .assert_ok(200);
    let everyone = app.all("/v1/leads").await;
    assert_eq!(everyone.len(), 4);
    let text = |l: &Value, f: &str| l[f].as_str().unwrap_or_default().to_lowercase();
    for needle in [
        "lee",
        "le",
        "e",
        "acme",
        "100%",
        "_o",
        "o'n",
        "\"quoted\"",
        "gamma_",
        "zzz",
        "@acme.io",
        "leeway",
    ] {
        let expected: HashSet<String> = everyone
            .iter()
            .filter(|l| {
                ["email", "firstName", "lastName", "companyName"]
                    .iter()
                    .any(|f| text(l, f).contains(needle))
            })
            .map(|l| l["_id"].as_str().unwrap().to_owned())
            .collect();
        let path = format!("/v1/leads?search={}", urlencoding(needle));
        assert_eq!(listed_ids(&app, &path).await, expected, "search {needle:?}");
        let total = app.get(&format!("{path}&limit=1")).await.body["pagination"]["total"].clone();
        assert_eq!(total, json!(expected.len()), "total of {needle:?}");
    }
    for (tags, country) in [
        ("vip", None),
        ("eu", None),
        ("us", None),
        ("vip,eu", None),
        ("none", None),
        ("vip", Some("FR")),
    ] {
        let wanted: Vec<&str> = tags.split(',').collect();
        let expected: HashSet<String> = everyone
            .iter()
            .filter(|_| country.is_none())
            .filter(|l| {
                l["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| wanted.contains(&t.as_str().unwrap()))
            })
            .map(|l| l["_id"].as_str().unwrap().to_owned())
            .collect();
        let mut path = format!("/v1/leads?tags={tags}");
        if let Some(c) = country {
            path.push_str(&format!("&country={c}"));
        }
        assert_eq!(listed_ids(&app, &path).await, expected, "tags {tags}");
        // Pages of one: counted, not the page's length.
        let total = app.get(&format!("{path}&limit=1")).await.body["pagination"]["total"].clone();
        assert_eq!(total, json!(expected.len()), "total of tags {tags}");
    }
}

/// A filtered lead list walked page by page: newest first, every match
/// once, whichever way SQLite reads the page (many matches: the workspace
/// newest first; few: the filter's index and a sort, chosen by the count).
#[tokio::test]
async fn filtered_pages_walk_every_match_newest_first_whether_matches_are_many_or_few() {
    let app = spawn_app().await;
    let leads: Vec<Value> = (0..30)
        .map(|i| {
            let country = if i % 3 == 0 { "DE" } else { "US" };
            let country = if i == 7 || i == 22 { "FR" } else { country };
            // Tagged as the country, so a tag filter matches the same.
            json!({"email": format!("page{i}@example.com"), "country": country,
                   "tags": [country.to_lowercase()]})
        })
        .collect();
    let ids = app.create_leads(leads).await;
    for (filter, want) in [
        ("country=US", 18),
        ("country=FR", 2),
        ("tags=us", 18),
        ("tags=fr", 2),
    ] {
        let expected: Vec<String> = app
            .all(&format!("/v1/leads?{filter}"))
            .await
            .iter()
            .map(|l| l["_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(expected.len(), want, "{filter}");
        // Newest first: by storage key, descending.
        let mut order: Vec<&String> = ids.iter().filter(|id| expected.contains(id)).collect();
        order.sort_by_key(|id| std::cmp::Reverse(key(id)));
        // Pages of 5, and pages that just miss, just hold and just
        // exceed every match: a first page holding every match is its
        // own total, any other is counted.
        for limit in [5, want - 1, want, want + 1] {
            let mut walked = Vec::new();
            let mut cursor = String::new();
            loop {
                let r = app
                    .get(&format!("/v1/leads?{filter}&limit={limit}&cursor={cursor}"))
                    .await;
                let page = r.assert_ok(200).as_array().unwrap().clone();
                assert_eq!(r.body["pagination"]["total"], json!(want), "limit {limit}");
                walked.extend(page.iter().map(|l| l["_id"].as_str().unwrap().to_owned()));
                match r.body["pagination"]["nextCursor"].as_str() {
                    Some(c) => cursor = c.to_owned(),
                    None => break,
                }
            }
            assert_eq!(
                walked.iter().collect::<Vec<_>>(),
                order,
                "{filter}, limit {limit}, newest first"
            );
        }
    }
}

/// The IDs of every lead a list answers, over all its pages.
async fn listed_ids(app: &TestApp, path: &str) -> HashSet<String> {
    app.all(path)
        .await
        .iter()
        .map(|l| l["_id"].as_str().unwrap().to_owned())
        .collect()
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
