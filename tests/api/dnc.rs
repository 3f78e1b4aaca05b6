//! The do-not-contact list.

use serde_json::json;

use crate::helpers::{TestApp, csv_form, spawn_app};

#[tokio::test]
async fn entries_are_added_once_listed_and_deleted() {
    let app = spawn_app().await;
    let r = app
        .post("/v1/dnc", json!({"entries": [
            {"type": "email", "value": "No@Example.com"}, {"type": "domain", "value": "@Spam.IO"},
            {"type": "email", "value": "no@example.com"}
        ]}))
        .await;
    assert_eq!(
        r.assert_ok(200),
        &json!({"added": 2, "skipped": 1, "stopped": 0})
    );
    let r = app
        .post(
            "/v1/dnc",
            json!({"entries": [{"type": "domain", "value": "spam.io"}]}),
        )
        .await;
    assert_eq!(
        r.assert_ok(200),
        &json!({"added": 0, "skipped": 1, "stopped": 0})
    );
    let list = app.all("/v1/dnc").await;
    let values: Vec<_> = list
        .iter()
        .map(|e| (e["type"].clone(), e["value"].clone()))
        .collect();
    assert_eq!(
        values,
        vec![
            (json!("domain"), json!("spam.io")),
            (json!("email"), json!("no@example.com"))
        ]
    );
    let id = list[0]["_id"].as_str().unwrap();
    let r = app
        .call(
            reqwest::Method::DELETE,
            "/v1/dnc",
            Some(json!({"ids": [id, "665d4e5f6a7b8c9d0e1f2a3b"]})),
        )
        .await;
    assert_eq!(r.assert_ok(200), &json!({"deletedCount": 1}));
    assert_eq!(app.all("/v1/dnc").await.len(), 1);
}

#[tokio::test]
async fn bad_entries_are_rejected_and_nothing_is_added() {
    let app = spawn_app().await;
    let too_many: Vec<_> = (0..10_001)
        .map(|i| json!({"type": "email", "value": format!("a{i}@b.co")}))
        .collect();
    for body in [
        json!({}),
        json!({"entries": []}),
        json!({"entries": too_many}),
        json!({"entries": [{"type": "email", "value": "ok@example.com"}, {"type": "email", "value": "nope"}]}),
        json!({"entries": [{"type": "domain", "value": "localhost"}]}),
        json!({"entries": [{"type": "phone", "value": "123"}]}),
        json!({"entries": [{"type": "email"}]}),
    ] {
        app.post("/v1/dnc", body.clone())
            .await
            .assert_error(400, "VALIDATION_ERROR");
    }
    assert_eq!(app.all("/v1/dnc").await.len(), 0);
    app.call(
        reqwest::Method::DELETE,
        "/v1/dnc",
        Some(json!({"ids": ["x"]})),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn listing_an_address_or_domain_stops_its_leads_in_every_campaign_at_once() {
    let app = spawn_app().await;
    let ids = app
        .create_leads(vec![
            json!({"email": "Ann@Acme.com"}),
            json!({"email": "bob@spam.io"}),
            json!({"email": "cy@spam.io"}),
            json!({"email": "dee@fine.com"}),
        ])
        .await;
    let draft = app.create_campaign("Draft").await;
    let running = app.create_campaign("Running").await;
    let all: Vec<_> = ids.iter().map(|id| json!({"leadId": id})).collect();
    for c in [&draft, &running] {
        app.add(c, json!({"leads": all})).await.assert_ok(200);
    }
    app.post(&format!("/v1/campaigns/{running}/start"), json!({}))
        .await
        .assert_ok(200);
    let members = app.all(&format!("/v1/campaigns/{running}/leads")).await;
    let bob = members
        .iter()
        .find(|m| m["lead"]["email"] == json!("bob@spam.io"))
        .unwrap();
    app.patch(
        &format!(
            "/v1/campaigns/{running}/leads/{}",
            bob["_id"].as_str().unwrap()
        ),
        json!({"status": "paused"}),
    )
    .await
    .assert_ok(200);

    let r = app
        .post(
            "/v1/dnc",
            json!({"entries": [
                {"type": "email", "value": "ANN@acme.com"}, {"type": "domain", "value": "spam.io"}
            ]}),
        )
        .await;
    // ann, bob and cy: pending in one campaign, active or paused in the
    // other.
    assert_eq!(
        r.assert_ok(200),
        &json!({"added": 2, "skipped": 0, "stopped": 6})
    );
    let statuses = |c: String| {
        let app = &app;
        async move {
            let mut s: Vec<(String, String)> = app
                .all(&format!("/v1/campaigns/{c}/leads"))
                .await
                .iter()
                .map(|m| {
                    (
                        m["lead"]["email"].as_str().unwrap().to_owned(),
                        m["status"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            s.sort();
            s
        }
    };
    let expect = |rows: &[(&str, &str)]| -> Vec<(String, String)> {
        rows.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        statuses(draft.clone()).await,
        expect(&[
            ("Ann@acme.com", "unsubscribed"),
            ("bob@spam.io", "unsubscribed"),
            ("cy@spam.io", "unsubscribed"),
            ("dee@fine.com", "pending"),
        ])
    );
    assert_eq!(
        statuses(running.clone()).await,
        expect(&[
            ("Ann@acme.com", "unsubscribed"),
            ("bob@spam.io", "unsubscribed"),
            ("cy@spam.io", "unsubscribed"),
            ("dee@fine.com", "active"),
        ])
    );
    // The kept counts moved with them.
    let counts = app.get(&format!("/v1/campaigns/{running}")).await;
    let counts = &counts.data()["leadCounts"];
    assert_eq!(
        (
            counts["active"].clone(),
            counts["paused"].clone(),
            counts["unsubscribed"].clone(),
            counts["replied"].clone(),
            counts["total"].clone()
        ),
        (json!(1), json!(0), json!(3), json!(0), json!(4))
    );
    // Listing again stops nothing more; deleting the entries restores
    // nothing.
    let r = app
        .post(
            "/v1/dnc",
            json!({"entries": [{"type": "domain", "value": "spam.io"}]}),
        )
        .await;
    assert_eq!(r.assert_ok(200)["stopped"], json!(0));
    let entries: Vec<_> = app
        .all("/v1/dnc")
        .await
        .iter()
        .map(|e| e["_id"].clone())
        .collect();
    app.call(
        reqwest::Method::DELETE,
        "/v1/dnc",
        Some(json!({"ids": entries})),
    )
    .await
    .assert_ok(200);
    assert_eq!(
        statuses(draft.clone()).await[0],
        ("Ann@acme.com".to_owned(), "unsubscribed".to_owned())
    );
}

/// `POST /v1/dnc/import` with a multipart form.
async fn import_dnc(app: &TestApp, form: reqwest::multipart::Form) -> crate::helpers::Resp {
    let res = app
        .client
        .post(format!("{}/v1/dnc/import", app.base))
        .header("X-Api-Key", &app.key)
        .multipart(form)
        .send()
        .await
        .expect("request failed");
    crate::helpers::Resp::read(res).await
}

#[tokio::test]
async fn a_csv_of_emails_and_domains_is_listed_and_stops_enrolled_leads() {
    let app = spawn_app().await;
    let ids = app
        .create_leads(vec![
            json!({"email": "ann@acme.com"}),
            json!({"email": "bob@spam.io"}),
            json!({"email": "dee@fine.com"}),
        ])
        .await;
    let c = app.create_campaign("C").await;
    let all: Vec<_> = ids.iter().map(|id| json!({"leadId": id})).collect();
    app.add(&c, json!({"leads": all})).await.assert_ok(200);
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "old@acme.com"}]}),
    )
    .await
    .assert_ok(200);

    // A header, a listed address again, a repeat, a blank line, quotes.
    let csv = "Email\nANN@acme.com\n\n\"@spam.io\"\nold@acme.com\nspam.io\n";
    let r = import_dnc(&app, csv_form(csv, &[])).await;
    assert_eq!(
        r.assert_ok(200),
        &json!({"added": 2, "skipped": 2, "stopped": 2})
    );
    let mut listed: Vec<String> = app
        .all("/v1/dnc")
        .await
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["type"].as_str().unwrap(),
                e["value"].as_str().unwrap()
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        ["domain:spam.io", "email:ann@acme.com", "email:old@acme.com"]
    );
    let counts = app.get(&format!("/v1/campaigns/{c}")).await;
    assert_eq!(counts.data()["leadCounts"]["unsubscribed"], json!(2));
    assert_eq!(counts.data()["leadCounts"]["pending"], json!(1));
    // The list now blocks adds.
    let d = app
        .add(&app.create_campaign("D").await, json!({"selectAll": true}))
        .await;
    assert_eq!(d.assert_ok(200)["blocked"], json!(2));
}

#[tokio::test]
async fn a_bad_dnc_file_is_refused_whole_and_adds_nothing() {
    let app = spawn_app().await;
    let many: String = (0..10_001).map(|i| format!("l{i}@x.io\n")).collect();
    for (form, status, says) in [
        (
            csv_form("email\nok@x.io\nnot an address\n", &[]),
            400,
            "line 3",
        ),
        (csv_form("ok@x.io,other@x.io\n", &[]), 400, "one column"),
        (csv_form("email\n", &[]), 400, "no email address or domain"),
        (csv_form(many.clone(), &[]), 400, "more than 10000"),
        (
            csv_form("ok@x.io\n", &[("tag", "x")]),
            400,
            "Unknown form part",
        ),
        (
            reqwest::multipart::Form::new().text("other", "x"),
            400,
            "Unknown form part",
        ),
        (reqwest::multipart::Form::new(), 400, "multipart"),
        (
            csv_form(vec![b'a'; 5 * 1024 * 1024], &[]),
            413,
            "larger than 4 MiB",
        ),
    ] {
        let r = import_dnc(&app, form).await;
        assert_eq!(r.status.as_u16(), status, "{says}: {}", r.body);
        assert_eq!(r.body["success"], json!(false));
        assert!(
            r.message().contains(says) || r.body.to_string().contains(says),
            "{says}: {}",
            r.body
        );
    }
    let r = app
        .send(
            reqwest::Method::POST,
            "/v1/dnc/import",
            &[("X-Api-Key", &app.key), ("Content-Type", "text/csv")],
            None,
        )
        .await;
    r.assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    assert!(app.all("/v1/dnc").await.is_empty());
    // 10,000 values are fine.
    let r = import_dnc(
        &app,
        csv_form(&many[..many.len() - "l10000@x.io\n".len()], &[]),
    )
    .await;
    assert_eq!(r.assert_ok(200)["added"], json!(10_000));
}
