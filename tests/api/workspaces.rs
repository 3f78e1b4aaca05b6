//! Account, workspaces, members and workspace keys (platform keys only).

use leadflow::domain::email::Email;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn platform(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> crate::helpers::Resp {
    app.call_as(key, method, path, body).await
}

async fn new_user(app: &TestApp, email: &str) -> String {
    let (_, key) = app
        .store
        .create_user(&Email::parse(email).unwrap())
        .await
        .unwrap();
    key.expose().to_owned()
}

#[tokio::test]
async fn a_workspace_key_is_refused_on_every_platform_endpoint() {
    let app = spawn_app().await;
    let ws = &app.workspace_id;
    let routes = [
        (Method::GET, "/v1/account".to_string()),
        (Method::GET, "/v1/workspaces".to_string()),
        (Method::POST, "/v1/workspaces".to_string()),
        (Method::GET, format!("/v1/workspaces/{ws}")),
        (Method::PATCH, format!("/v1/workspaces/{ws}")),
        (Method::DELETE, format!("/v1/workspaces/{ws}")),
        (Method::POST, format!("/v1/workspaces/{ws}/members")),
        (Method::DELETE, format!("/v1/workspaces/{ws}/members")),
        (Method::POST, format!("/v1/workspaces/{ws}/api-key")),
        (Method::DELETE, format!("/v1/workspaces/{ws}/api-key")),
        (Method::POST, format!("/v1/workspaces/{ws}/api-key/rotate")),
        (Method::POST, "/v1/account/api-key/rotate".to_string()),
    ];
    for (method, path) in routes {
        app.call(method.clone(), &path, Some(json!({"name": "x"})))
            .await
            .assert_error(403, "FORBIDDEN");
    }
    // Nothing changed: the workspace key still works.
    app.get("/v1/leads").await.assert_ok(200);
}

#[tokio::test]
async fn the_account_lists_the_user_and_its_workspaces() {
    let app = spawn_app().await;
    let r = platform(&app, &app.user_key, Method::GET, "/v1/account", None).await;
    let d = r.assert_ok(200);
    assert!(d["email"].as_str().unwrap().ends_with("@example.com"));
    assert_eq!(d["workspaces"][0]["_id"], json!(app.workspace_id));
    assert_eq!(d["workspaces"][0]["role"], json!("owner"));
}

#[tokio::test]
async fn a_new_workspace_is_owned_by_its_creator_and_gets_one_key_on_request() {
    let app = spawn_app().await;
    let k = app.user_key.as_str();
    platform(
        &app,
        k,
        Method::POST,
        "/v1/workspaces",
        Some(json!({"name": ""})),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    let r = platform(
        &app,
        k,
        Method::POST,
        "/v1/workspaces",
        Some(json!({"name": " Sales EU "})),
    )
    .await;
    let w = r.assert_ok(201).clone();
    assert_eq!(
        (w["name"].clone(), w["role"].clone()),
        (json!("Sales EU"), json!("owner"))
    );
    let id = w["_id"].as_str().unwrap();
    let listed = platform(&app, k, Method::GET, "/v1/workspaces", None).await;
    assert_eq!(listed.data().as_array().unwrap().len(), 2);
    assert_eq!(listed.body["pagination"]["total"], json!(2));

    let r = platform(
        &app,
        k,
        Method::PATCH,
        &format!("/v1/workspaces/{id}"),
        Some(json!({"name": "Sales"})),
    )
    .await;
    assert_eq!(r.assert_ok(200)["name"], json!("Sales"));

    let r = platform(
        &app,
        k,
        Method::POST,
        &format!("/v1/workspaces/{id}/api-key"),
        None,
    )
    .await;
    let key = r.assert_ok(201)["apiKey"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_") && !key.starts_with("sk_user_"));
    platform(
        &app,
        k,
        Method::POST,
        &format!("/v1/workspaces/{id}/api-key"),
        None,
    )
    .await
    .assert_error(409, "CONFLICT");
    // The key acts in the new workspace, not the old one.
    app.call_as(
        &key,
        Method::POST,
        "/v1/leads",
        Some(json!({"email": "new@example.com"})),
    )
    .await
    .assert_ok(201);
    assert_eq!(app.lead_total().await, 0);
}

#[tokio::test]
async fn rotating_or_revoking_a_key_stops_the_old_one_at_once() {
    let app = spawn_app().await;
    let k = app.user_key.as_str();
    let base = format!("/v1/workspaces/{}/api-key", app.workspace_id);
    let old = app.key.clone();
    let r = platform(&app, k, Method::POST, &format!("{base}/rotate"), None).await;
    let new = r.assert_ok(200)["apiKey"].as_str().unwrap().to_owned();
    app.call_as(&old, Method::GET, "/v1/leads", None)
        .await
        .assert_error(401, "UNAUTHORIZED");
    app.call_as(&new, Method::GET, "/v1/leads", None)
        .await
        .assert_ok(200);

    let r = platform(&app, k, Method::DELETE, &base, None).await;
    assert_eq!(r.assert_ok(200)["revoked"], json!(true));
    app.call_as(&new, Method::GET, "/v1/leads", None)
        .await
        .assert_error(401, "UNAUTHORIZED");
    platform(&app, k, Method::DELETE, &base, None)
        .await
        .assert_error(404, "NOT_FOUND");
    let r = platform(&app, k, Method::POST, &base, None).await;
    let again = r.assert_ok(201)["apiKey"].as_str().unwrap().to_owned();
    app.call_as(&again, Method::GET, "/v1/leads", None)
        .await
        .assert_ok(200);
}

/// A user replaces their own platform key: the new one is shown once (and
/// never kept for a replay), the old one fails at once, and the other
/// users' keys are untouched.
#[tokio::test]
async fn a_platform_key_is_rotated_by_its_user() {
    let app = spawn_app().await;
    let other = new_user(&app, "other@example.com").await;
    let old = app.user_key.clone();
    let r = platform(&app, &old, Method::POST, "/v1/account/api-key/rotate", None).await;
    assert_eq!(r.headers["cache-control"], "no-store");
    let new = r.assert_ok(200)["apiKey"].as_str().unwrap().to_owned();
    assert!(new.starts_with("sk_user_") && new != old);
    let me = platform(&app, &new, Method::GET, "/v1/account", None).await;
    assert_eq!(me.assert_ok(200)["_id"], r.data()["userId"]);
    platform(&app, &old, Method::GET, "/v1/account", None)
        .await
        .assert_error(401, "UNAUTHORIZED");
    platform(&app, &other, Method::GET, "/v1/account", None)
        .await
        .assert_ok(200);
    // The workspace key is not the user's: it still works.
    app.get("/v1/leads").await.assert_ok(200);
}

#[tokio::test]
async fn members_act_in_the_workspace_and_only_owners_manage_it() {
    let app = spawn_app().await;
    let owner = app.user_key.clone();
    let member = new_user(&app, "mia@example.com").await;
    let ws = app.workspace_id.clone();
    let headers = [
        ("X-Api-Key", member.as_str()),
        ("X-Workspace-Id", ws.as_str()),
    ];
    app.send(Method::GET, "/v1/leads", &headers, None)
        .await
        .assert_error(403, "FORBIDDEN");
    platform(
        &app,
        &member,
        Method::GET,
        &format!("/v1/workspaces/{ws}"),
        None,
    )
    .await
    .assert_error(403, "FORBIDDEN");

    let members = format!("/v1/workspaces/{ws}/members");
    platform(
        &app,
        &owner,
        Method::POST,
        &members,
        Some(json!({"email": "nobody@example.com"})),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    platform(
        &app,
        &owner,
        Method::POST,
        &members,
        Some(json!({"email": "mia@example.com", "role": "boss"})),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    let r = platform(
        &app,
        &owner,
        Method::POST,
        &members,
        Some(json!({"email": "MIA@example.com"})),
    )
    .await;
    assert_eq!(r.assert_ok(200)["role"], json!("member"));

    app.send(Method::GET, "/v1/leads", &headers, None)
        .await
        .assert_ok(200);
    let r = platform(
        &app,
        &member,
        Method::GET,
        &format!("/v1/workspaces/{ws}"),
        None,
    )
    .await;
    assert_eq!(r.assert_ok(200)["role"], json!("member"));
    platform(
        &app,
        &member,
        Method::PATCH,
        &format!("/v1/workspaces/{ws}"),
        Some(json!({"name": "Renamed"})),
    )
    .await
    .assert_ok(200);
    for (method, path) in [
        (Method::DELETE, format!("/v1/workspaces/{ws}")),
        (Method::POST, format!("/v1/workspaces/{ws}/api-key/rotate")),
        (Method::POST, members.clone()),
    ] {
        platform(
            &app,
            &member,
            method,
            &path,
            Some(json!({"email": "mia@example.com"})),
        )
        .await
        .assert_error(403, "FORBIDDEN");
    }
    app.get("/v1/leads").await.assert_ok(200);

    // The last owner stays.
    let owner_email = platform(&app, &owner, Method::GET, "/v1/account", None)
        .await
        .data()["email"]
        .as_str()
        .unwrap()
        .to_owned();
    platform(
        &app,
        &owner,
        Method::DELETE,
        &members,
        Some(json!({"email": owner_email})),
    )
    .await
    .assert_error(409, "CONFLICT");
    platform(
        &app,
        &owner,
        Method::POST,
        &members,
        Some(json!({"email": owner_email, "role": "member"})),
    )
    .await
    .assert_error(409, "CONFLICT");

    let r = platform(
        &app,
        &owner,
        Method::DELETE,
        &members,
        Some(json!({"email": "mia@example.com"})),
    )
    .await;
    assert_eq!(r.assert_ok(200)["removed"], json!(true));
    app.send(Method::GET, "/v1/leads", &headers, None)
        .await
        .assert_error(403, "FORBIDDEN");
    platform(
        &app,
        &owner,
        Method::DELETE,
        &members,
        Some(json!({"email": "mia@example.com"})),
    )
    .await
    .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn deleting_a_workspace_removes_its_data_and_keys_and_nothing_else() {
    let app = spawn_app().await;
    let k = app.user_key.clone();
    let r = platform(
        &app,
        &k,
        Method::POST,
        "/v1/workspaces",
        Some(json!({"name": "Doomed"})),
    )
    .await;
    let id = r.data()["_id"].as_str().unwrap().to_owned();
    let key = platform(
        &app,
        &k,
        Method::POST,
        &format!("/v1/workspaces/{id}/api-key"),
        None,
    )
    .await
    .data()["apiKey"]
        .as_str()
        .unwrap()
        .to_owned();
    app.call_as(
        &key,
        Method::POST,
        "/v1/leads/bulk",
        Some(json!({"leads": crate::helpers::leads("doomed", 5)})),
    )
    .await
    .assert_ok(200);
    let c = app
        .call_as(
            &key,
            Method::POST,
            "/v1/campaigns",
            Some(json!({"name": "C"})),
        )
        .await
        .data()["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.call_as(
        &key,
        Method::POST,
        &format!("/v1/campaigns/{c}/leads"),
        Some(json!({"selectAll": true})),
    )
    .await
    .assert_ok(200);
    app.call_as(
        &key,
        Method::POST,
        "/v1/dnc",
        Some(json!({"entries": [
            {"type": "email", "value": "no@example.com"},
            {"type": "domain", "value": "spam.io"}
        ]})),
    )
    .await
    .assert_ok(200);
    app.create_leads(crate::helpers::leads("kept", 3)).await;
    let kept_campaign = app.create_campaign("Kept").await;
    app.add(&kept_campaign, json!({"selectAll": true}))
        .await
        .assert_ok(200);
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "kept@example.com"}]}),
    )
    .await
    .assert_ok(200);

    // A webhook in each, with a delivery (its test message).
    for k in [&key, &app.key] {
        let r = app
            .call_as(
                k,
                Method::POST,
                "/v1/webhooks",
                Some(json!({"url": "https://hooks.example.com/in"})),
            )
            .await;
        let hook = r.assert_ok(201)["_id"].as_str().unwrap().to_owned();
        app.call_as(k, Method::POST, &format!("/v1/webhooks/{hook}/test"), None)
            .await
            .assert_ok(200);
    }
    // Underneath, both workspaces have rows in every table: what the
    // deletion must remove, and what it must leave.
    let doomed = app.rows_of_workspace(&id).await;
    for (table, n) in &doomed {
        assert!(
            *n > 0,
            "the doomed workspace has no {table} rows: {doomed:?}"
        );
    }
    let kept = app.rows_of_workspace(&app.workspace_id).await;
    for (table, n) in &kept {
        assert!(*n > 0, "the kept workspace has no {table} rows: {kept:?}");
    }

    let r = platform(
        &app,
        &k,
        Method::DELETE,
        &format!("/v1/workspaces/{id}"),
        None,
    )
    .await;
    assert_eq!(r.assert_ok(200), &json!({"_id": id, "deleted": true}));
    app.call_as(&key, Method::GET, "/v1/leads", None)
        .await
        .assert_error(401, "UNAUTHORIZED");
    platform(&app, &k, Method::GET, &format!("/v1/workspaces/{id}"), None)
        .await
        .assert_error(404, "NOT_FOUND");
    assert_eq!(app.lead_total().await, 3);
    let listed = platform(&app, &k, Method::GET, "/v1/workspaces", None).await;
    assert_eq!(listed.data().as_array().unwrap().len(), 1);

    // Every row of the deleted workspace is gone from the database, and
    // the other workspace's rows are all still there.
    let gone = app.rows_of_workspace(&id).await;
    assert!(gone.iter().all(|(_, n)| *n == 0), "left behind: {gone:?}");
    assert_eq!(app.rows_of_workspace(&app.workspace_id).await, kept);
}

#[tokio::test]
async fn another_users_workspace_is_forbidden_and_an_unknown_one_not_found() {
    let app = spawn_app().await;
    let stranger = new_user(&app, "stranger@example.com").await;
    let ws = &app.workspace_id;
    for (method, path) in [
        (Method::GET, format!("/v1/workspaces/{ws}")),
        (Method::PATCH, format!("/v1/workspaces/{ws}")),
        (Method::DELETE, format!("/v1/workspaces/{ws}")),
        (Method::POST, format!("/v1/workspaces/{ws}/api-key/rotate")),
        (Method::DELETE, format!("/v1/workspaces/{ws}/api-key")),
    ] {
        platform(
            &app,
            &stranger,
            method,
            &path,
            Some(json!({"name": "Mine now"})),
        )
        .await
        .assert_error(403, "FORBIDDEN");
    }
    platform(
        &app,
        &stranger,
        Method::GET,
        "/v1/workspaces/665d4e5f6a7b8c9d0e1f2a3b",
        None,
    )
    .await
    .assert_error(404, "NOT_FOUND");
    app.get("/v1/leads").await.assert_ok(200);
    let mine = platform(
        &app,
        &app.user_key,
        Method::GET,
        &format!("/v1/workspaces/{ws}"),
        None,
    )
    .await;
    assert_eq!(mine.data()["name"], json!("Test workspace"));
}

#[tokio::test]
async fn workspaces_are_listed_page_by_page_with_the_limit_asked() {
    let app = spawn_app().await;
    let k = app.user_key.as_str();
    for i in 0..4 {
        platform(
            &app,
            k,
            Method::POST,
            "/v1/workspaces",
            Some(json!({"name": format!("Team {i}")})),
        )
        .await
        .assert_ok(201);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/workspaces?limit=2".to_string();
    loop {
        let r = platform(&app, k, Method::GET, &path, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let body = r.body;
        let page = body["data"].as_array().unwrap().clone();
        assert!(page.len() <= 2, "{body}");
        assert_eq!(body["pagination"]["limit"], json!(2));
        assert_eq!(body["pagination"]["total"], json!(5));
        seen.extend(page.iter().map(|w| w["_id"].as_str().unwrap().to_owned()));
        match body["pagination"]["nextCursor"].as_str() {
            Some(cursor) => {
                assert_eq!(body["pagination"]["hasMore"], json!(true));
                path = format!("/v1/workspaces?limit=2&cursor={cursor}");
            }
            None => break,
        }
    }
    // Every workspace once, newest first; the bootstrap one is the oldest.
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted);
    assert_eq!(seen.last().unwrap(), &app.workspace_id);
    platform(&app, k, Method::GET, "/v1/workspaces?limit=0", None)
        .await
        .assert_error(400, "VALIDATION_ERROR");
}
