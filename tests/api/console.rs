//! The web console at `/app`, over HTTP as a browser speaks it (the
//! browser tests drive Chromium through the same pages): signing in and
//! out, the session cookie, CSRF, the security headers, values rendered as
//! text, tenancy, and the leads table against the API.

use reqwest::Method;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{TestApp, leads, spawn_app, spawn_app_with};

/// A browser: no redirects followed, cookies kept by hand.
struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

/// An answer: status, `Location`, `Set-Cookie` lines and the page.
struct Page {
    status: u16,
    location: Option<String>,
    set_cookies: Vec<String>,
    csp: Option<String>,
    html: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self
            .html
            .find(r#"name="csrf" value=""#)
            .expect("a form with a csrf field");
        let rest = &self.html[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.app.base));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(COOKIE, jar.join("; "));
        }
        if let Some(form) = form {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form.iter())
                .finish();
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let r = req.send().await.unwrap();
        let header = |n| {
            r.headers()
                .get(n)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let location = header(LOCATION);
        let csp = header(CONTENT_SECURITY_POLICY);
        let set_cookies: Vec<String> = r
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
            let (pair, _) = c.split_once(';').unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !v.is_empty() && !c.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        Page {
            status: r.status().as_u16(),
            location,
            set_cookies,
            csp,
            html: r.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    /// Signs in with `key` through the form; the answer to the form.
    async fn sign_in(&mut self, key: &str) -> Page {
        let form = self.get("/app/sign-in").await;
        assert_eq!(form.status, 200);
        let csrf = form.csrf();
        self.post("/app/sign-in", &[("key", key), ("csrf", &csrf)])
            .await
    }
}

#[tokio::test]
async fn signing_in_gives_a_strict_session_cookie_and_the_key_is_never_in_a_page() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    let root = b.get("/").await;
    assert_eq!(root.location.as_deref(), Some("/app"));
    let home = b.get("/app").await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location.as_deref(), Some("/app/sign-in"));

    let form = b.get("/app/sign-in").await;
    let csp = form.csp.clone().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(form.html.contains(r#"type="password""#));

    // A wrong key: 401, the form again, no session.
    let csrf = form.csrf();
    let wrong = b
        .post("/app/sign-in", &[("key", "sk_nope"), ("csrf", &csrf)])
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.html.contains("not valid"));
    assert!(!b.cookies.iter().any(|(k, _)| k == "leadflow_session"));

    let signed = b.sign_in(&app.key).await;
    assert_eq!(signed.status, 303);
    assert_eq!(signed.location.as_deref(), Some("/app/leads"));
    let session = signed
        .set_cookies
        .iter()
        .find(|c| c.starts_with("leadflow_session="))
        .unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/app", "Max-Age=43200"] {
        assert!(session.contains(part), "{session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP here: {session}");
    assert!(!session.contains(&app.key));

    app.create_leads(leads("seen", 3)).await;
    let page = b.get("/app/leads").await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("seen0@example.com"));
    for p in [&form, &wrong, &signed, &page] {
        assert!(!p.html.contains(&app.key), "the key is in a page");
    }

    // Signing out needs the form's token; then the session is gone.
    let refused = b.post("/app/sign-out", &[]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(b.get("/app/leads").await.status, 200, "still signed in");
    let csrf = page.csrf();
    let out = b.post("/app/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.location.as_deref(), Some("/app/sign-in"));
    let after = b.get("/app/leads").await;
    assert_eq!(after.location.as_deref(), Some("/app/sign-in"));
}

#[tokio::test]
async fn a_form_posted_from_elsewhere_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    // Sign-in without the form's cookie-bound token.
    let mut other = Browser::new(&app);
    let r = other
        .post("/app/sign-in", &[("key", &app.key), ("csrf", "forged")])
        .await;
    assert_eq!(r.status, 403);
    assert!(
        r.set_cookies
            .iter()
            .all(|c| !c.starts_with("leadflow_session="))
    );

    // A signed-in browser's form, without its token: 403, still signed in.
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    let r = b.post("/app/sign-out", &[("csrf", "0000")]).await;
    assert_eq!(r.status, 403);
    assert!(r.html.contains("not sent from this site"));
    assert_eq!(b.get("/app/leads").await.status, 200);
}

#[tokio::test]
async fn values_from_the_database_are_rendered_as_text() {
    let app = spawn_app().await;
    let xss = "<img src=x onerror=alert(1)>";
    let lead = app
        .create_lead(json!({
            "email": "xss@example.com",
            "firstName": xss,
            "companyName": "\"><script>alert(2)</script>",
            "tags": ["<b>bold</b>"],
            "customFields": {"<i>k</i>": "<u>v</u>"}
        }))
        .await;
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    let list = b.get("/app/leads?search=xss").await;
    let one = b
        .get(&format!("/app/leads/{}", lead["_id"].as_str().unwrap()))
        .await;
    assert_eq!(one.status, 200);
    for page in [&list, &one] {
        assert!(
            page.html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{}",
            page.html
        );
        assert!(!page.html.contains("<img"));
        assert!(!page.html.contains("<script"));
        assert!(!page.html.contains("<b>bold"));
    }
    assert!(one.html.contains("&lt;i&gt;k&lt;/i&gt;"));
    assert!(!one.html.contains("<u>v"));
}

#[tokio::test]
async fn another_workspace_is_out_of_reach_and_a_platform_key_chooses_its_own() {
    let app = spawn_app().await;
    // A second workspace of the same user, with a lead.
    let r = app
        .call_as(
            &app.user_key,
            Method::POST,
            "/v1/workspaces",
            Some(json!({"name": "Second <ws>"})),
        )
        .await;
    let second = r.assert_ok(201)["_id"].as_str().unwrap().to_owned();
    // A call in the second workspace; the answer's `data[field]`.
    let as_second = async |path: &str, body: Value, field: &str| {
        app.client
            .post(format!("{}{path}", app.base))
            .header("x-api-key", &app.user_key)
            .header("x-workspace-id", &second)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["data"][field]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let theirs = as_second("/v1/leads", json!({"email": "theirs@example.com"}), "_id").await;
    app.create_lead(json!({"email": "mine@example.com"})).await;

    // With the first workspace's key, the other's lead does not exist.
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    let r = b.get(&format!("/app/leads/{theirs}")).await;
    assert_eq!(r.status, 404);
    assert!(!r.html.contains("theirs@example.com"));
    // Nor do its campaigns and jobs.
    let their_campaign = as_second("/v1/campaigns", json!({"name": "Theirs"}), "_id").await;
    let their_job = as_second(
        &format!("/v1/campaigns/{their_campaign}/leads"),
        json!({"selectAll": true, "async": true}),
        "jobId",
    )
    .await;
    for path in [
        format!("/app/campaigns/{their_campaign}"),
        format!("/app/leads/add/{their_job}"),
        format!("/app/import/{their_job}"),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.html.contains("Theirs"), "{path}");
    }
    let list = b.get("/app/leads").await;
    assert!(list.html.contains("mine@example.com"));
    assert!(!list.html.contains("theirs@example.com"));

    // A platform key chooses among its workspaces.
    let mut p = Browser::new(&app);
    let signed = p.sign_in(&app.user_key).await;
    assert_eq!(signed.location.as_deref(), Some("/app/workspaces"));
    assert_eq!(
        p.get("/app/leads").await.location.as_deref(),
        Some("/app/workspaces")
    );
    let choose = p.get("/app/workspaces").await;
    assert!(choose.html.contains("Second &lt;ws&gt;"));
    let csrf = choose.csrf();
    let chosen = p
        .post(
            "/app/workspaces",
            &[("csrf", &csrf), ("workspace", &second)],
        )
        .await;
    assert_eq!(chosen.location.as_deref(), Some("/app/leads"));
    let list = p.get("/app/leads").await;
    assert!(list.html.contains("theirs@example.com"));
    assert!(!list.html.contains("mine@example.com"));
    // A workspace it is not a member of: 404, the choice unchanged.
    let email = leadflow::domain::email::Email::parse("stranger@example.com").unwrap();
    let (stranger, _) = app.store.create_user(&email).await.unwrap();
    let (theirs_ws, _) = app
        .store
        .create_workspace("Not yours", Some(stranger.key))
        .await
        .unwrap();
    let r = p
        .post(
            "/app/workspaces",
            &[
                ("csrf", &csrf),
                ("workspace", &theirs_ws.workspace.id().to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(
        p.get("/app/leads")
            .await
            .html
            .contains("theirs@example.com")
    );
    assert!(!list.html.contains(&app.user_key));

    // Rotating the workspace key ends the sessions made with the old one.
    let r = app
        .call_as(
            &app.user_key,
            Method::POST,
            &format!("/v1/workspaces/{}/api-key/rotate", app.workspace_id),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        b.get("/app/leads").await.location.as_deref(),
        Some("/app/sign-in")
    );
}

#[tokio::test]
async fn the_leads_table_filters_counts_and_pages_as_the_api_does() {
    let app = spawn_app().await;
    let mut batch = leads("p", 60);
    for l in batch.iter_mut().take(35) {
        l["country"] = json!("DE");
    }
    app.create_leads(batch).await;
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;

    // Empty filter fields are what a search form sends: ignored.
    let first = b
        .get("/app/leads?search=&tags=&country=DE&createdAfter=&createdBefore=&emailStatus=")
        .await;
    assert_eq!(first.status, 200);
    let api = app.get("/v1/leads?country=DE&limit=25").await;
    let total = api.body["pagination"]["total"].as_i64().unwrap();
    assert_eq!(total, 35);
    assert!(
        first.html.contains("<strong>35</strong> leads"),
        "{}",
        first.html
    );
    let on_page = |html: &str| html.matches("@example.com</a>").count();
    assert_eq!(on_page(&first.html), 25);
    for lead in api.data().as_array().unwrap() {
        assert!(first.html.contains(lead["email"].as_str().unwrap()));
    }
    // The next page, by cursor, with the same filter.
    let at = first.html.find(r#"rel="next""#).expect("a next page");
    let href_at = first.html[..at].rfind("href=\"").unwrap() + 6;
    let href = first.html[href_at..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(
        href.contains("country=DE") && href.contains("cursor="),
        "{href}"
    );
    let second = b.get(&href).await;
    assert_eq!(on_page(&second.html), 10);
    assert!(!second.html.contains(r#"rel="next""#));

    // A bad filter: said on the page, in the API's words.
    let bad = b.get("/app/leads?createdAfter=yesterday").await;
    assert_eq!(bad.status, 400);
    assert!(bad.html.contains("createdAfter"), "{}", bad.html);
}

/// The `value` of the first `<option>` whose text is `label`.
fn option_value(html: &str, label: &str) -> String {
    let at = html.find(&format!(">{label}</option>")).unwrap();
    let start = html[..at].rfind("value=\"").unwrap() + 7;
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn leads_are_created_edited_and_deleted_by_the_api_rules() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    let form = b.get("/app/leads/new").await;
    let csrf = form.csrf();

    // Refused by the API's own rules: the form again, nothing written.
    let bad = b
        .post(
            "/app/leads/new",
            &[
                ("csrf", &csrf),
                ("email", "not-an-email"),
                ("firstName", "X"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.html.contains("email"), "{}", bad.html);
    assert_eq!(app.lead_total().await, 0);
    // Without the token: 403, nothing written.
    let forged = b
        .post("/app/leads/new", &[("email", "a@example.com")])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.lead_total().await, 0);

    let made = b
        .post(
            "/app/leads/new",
            &[
                ("csrf", &csrf),
                ("email", "ada@example.com"),
                ("firstName", "Ada"),
                ("companyName", "Engines"),
                ("tags", "vip, q4"),
            ],
        )
        .await;
    assert_eq!(made.status, 303);
    let path = made.location.unwrap();
    let id = path.rsplit('/').next().unwrap().to_owned();
    let lead = app.get(&format!("/v1/leads/{id}")).await;
    let lead = lead.assert_ok(200);
    assert_eq!(lead["firstName"], json!("Ada"));
    assert_eq!(lead["tags"], json!(["vip", "q4"]));

    // Edit: a cleared field is cleared, as PATCH with null does.
    let edited = b
        .post(
            &format!("/app/leads/{id}/edit"),
            &[
                ("csrf", &csrf),
                ("firstName", "Ada L."),
                ("companyName", ""),
                ("tags", "vip"),
            ],
        )
        .await;
    assert_eq!(edited.location.as_deref(), Some(path.as_str()));
    let lead = app.get(&format!("/v1/leads/{id}")).await;
    let lead = lead.assert_ok(200);
    assert_eq!(lead["firstName"], json!("Ada L."));
    assert_eq!(lead["companyName"], Value::Null);
    assert_eq!(lead["tags"], json!(["vip"]));
    let page = b.get(&path).await;
    assert!(page.html.contains("Ada L."));

    // Delete asks first; then the lead is gone.
    let ask = b.get(&format!("/app/leads/{id}/delete")).await;
    assert!(ask.html.contains("cannot be undone"));
    assert_eq!(app.lead_total().await, 1);
    let gone = b
        .post(&format!("/app/leads/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(gone.location.as_deref(), Some("/app/leads"));
    app.get(&format!("/v1/leads/{id}"))
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn adding_leads_shows_the_dry_run_first_then_adds_what_it_said() {
    let app = spawn_app().await;
    let mut batch = leads("add", 30);
    for l in batch.iter_mut().take(20) {
        l["country"] = json!("DE");
    }
    let ids = app.create_leads(batch).await;
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "add3@example.com"}]}),
    )
    .await
    .assert_ok(200);
    let c = app.create_campaign("Console adds").await;
    app.add(
        &c,
        json!({"leads": [{"leadId": ids[0]}, {"leadId": ids[1]}]}),
    )
    .await
    .assert_ok(200);

    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    let page = b.get("/app/leads?country=DE").await;
    let csrf = page.csrf();
    let campaign = option_value(&page.html, "Console adds");
    assert_eq!(campaign, c);
    // Everything the filter matches (20), less two unticked rows shown.
    let shown: Vec<String> = app
        .get("/v1/leads?country=DE&limit=25")
        .await
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["_id"].as_str().unwrap().to_owned())
        .collect();
    let mut form: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("country", "DE"),
        ("campaign", &campaign),
        ("scope", "all"),
    ];
    for (i, id) in shown.iter().enumerate() {
        form.push(("shown", id));
        if i >= 2 {
            form.push(("lead", id));
        }
    }
    let unticked = &shown[..2];
    let want = app
        .add(
            &c,
            json!({"filters": {"country": "DE"}, "excludeIds": unticked, "dryRun": true}),
        )
        .await
        .assert_ok(200)
        .clone();
    // The dialog comes before the counts (a filter may match a million
    // leads): a Count form (which add.js sends at once) and no way to
    // confirm yet.
    let dialog = b.post("/app/leads/add", &form).await;
    assert_eq!(dialog.status, 200, "{}", dialog.html);
    assert!(!dialog.html.contains("will be added"), "{}", dialog.html);
    assert!(dialog.html.contains(r#"id="count-form""#));
    assert!(dialog.html.contains(r#"name="count" value="now""#));
    assert!(
        dialog
            .html
            .contains(r#"<button id="add-confirm" type="submit" disabled>"#),
        "{}",
        dialog.html
    );
    assert!(
        dialog
            .html
            .contains(r#"<script src="/app/assets/add.js" defer>"#)
    );
    let script = b.get("/app/assets/add.js").await;
    assert_eq!(script.status, 200);
    assert!(script.html.contains("count-form"));
    let mut count = form.clone();
    count.push(("count", "now"));
    let dry = b.post("/app/leads/add", &count).await;
    assert_eq!(dry.status, 200, "{}", dry.html);
    let said = format!(
        "<strong>{}</strong> will be added",
        want["added"].as_u64().unwrap()
    );
    assert!(dry.html.contains(&said), "{said}: {}", dry.html);
    assert!(dry.html.contains(&format!(
        "<strong>{}</strong> already in the campaign",
        want["alreadyInCampaign"]
    )));
    assert!(dry.html.contains(&format!(
        "<strong>{}</strong> on the do-not-contact list",
        want["blocked"]
    )));
    assert_eq!(
        app.campaign_lead_total(&c).await,
        2,
        "nothing written before the confirmation"
    );

    // Confirmed: the API's asynchronous add, followed on its page until
    // it says what it did: exactly what the dry run said.
    let mut confirm: Vec<(&str, &str)> = form.clone();
    confirm.push(("confirm", "yes"));
    let queued = b.post("/app/leads/add", &confirm).await;
    assert_eq!(queued.status, 303, "{}", queued.html);
    let progress = queued.location.unwrap();
    let job = progress.strip_prefix("/app/leads/add/").unwrap().to_owned();
    let done = loop {
        let page = b.get(&progress).await;
        assert_eq!(page.status, 200, "{}", page.html);
        if !page.html.contains(r#"http-equiv="refresh""#) {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let api = app.get(&format!("/v1/jobs/{job}")).await;
    assert_eq!(api.data()["status"], json!("succeeded"));
    assert_eq!(api.data()["type"], json!("campaign.add_leads"));
    assert_eq!(api.data()["data"]["added"], want["added"]);
    assert!(
        done.html
            .contains(&format!("<strong>{}</strong> added", want["added"])),
        "{}",
        done.html
    );
    let members = app.members(&c).await;
    assert_eq!(members.len() as u64, 2 + want["added"].as_u64().unwrap());
    for id in unticked {
        let lead = app.get(&format!("/v1/leads/{id}")).await;
        let email = lead.data()["email"].as_str().unwrap().to_owned();
        assert!(
            !members.contains_key(&email) || ids[..2].contains(id),
            "an unticked lead was added: {email}"
        );
    }

    // The ticked leads alone.
    let one = &ids[25];
    let form = [
        ("csrf", csrf.as_str()),
        ("campaign", campaign.as_str()),
        ("scope", "selected"),
        ("lead", one.as_str()),
        ("confirm", "yes"),
    ];
    let done = b.post("/app/leads/add", &form).await;
    assert!(
        done.html.contains("<strong>1</strong> added"),
        "{}",
        done.html
    );
    assert_eq!(
        app.members(&c).await.len() as u64,
        3 + want["added"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn a_running_add_is_followed_on_its_page_and_stopped_there() {
    // Chunks of 5 leads, a second apart: the job is still running when
    // the page is read and its Stop button pressed.
    let app = spawn_app_with(|c| {
        c.jobs.chunk = 5;
        c.jobs.poll = std::time::Duration::from_millis(20);
        c.jobs.pause = std::time::Duration::from_millis(1000);
    })
    .await;
    app.create_leads(leads("stop", 30)).await;
    let c = app.create_campaign("Slow").await;
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    let csrf = b.get("/app/leads").await.csrf();
    let queued = b
        .post(
            "/app/leads/add",
            &[
                ("csrf", &csrf),
                ("campaign", &c),
                ("scope", "all"),
                ("confirm", "yes"),
            ],
        )
        .await;
    let path = queued.location.unwrap();
    let job = path.rsplit('/').next().unwrap().to_owned();
    let running = b.get(&path).await;
    assert!(running.html.contains(r#"http-equiv="refresh""#));
    assert!(running.html.contains("<progress"), "{}", running.html);
    let stop = format!("/app/jobs/{job}/cancel");
    assert!(running.html.contains(&format!(r#"action="{stop}""#)));

    // Without the form's token: refused, still running.
    let refused = b.post(&stop, &[("csrf", "forged")]).await;
    assert_eq!(refused.status, 403);
    let r = b.post(&stop, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some(path.as_str()));
    let api = app.get(&format!("/v1/jobs/{job}")).await;
    assert_eq!(api.data()["status"], json!("cancelled"));
    let done = api.data()["progress"]["done"].as_u64().unwrap();
    assert!(done < 30, "stopped early: {done}");
    // The page stops following and says what the whole chunks added.
    let stopped = b.get(&path).await;
    assert!(!stopped.html.contains(r#"http-equiv="refresh""#));
    assert!(stopped.html.contains("The add was stopped."));
    let members = app.members(&c).await.len();
    assert!(
        stopped
            .html
            .contains(&format!("<strong>{members}</strong> added")),
        "{members} members: {}",
        stopped.html
    );
    // A finished job cannot be stopped: the API's 409.
    assert_eq!(b.post(&stop, &[("csrf", &csrf)]).await.status, 409);
}

#[tokio::test]
async fn campaigns_are_created_driven_and_their_members_acted_on() {
    let app = spawn_app().await;
    let ids = app.create_leads(leads("m", 4)).await;
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    let list = b.get("/app/campaigns").await;
    let csrf = list.csrf();
    let made = b
        .post(
            "/app/campaigns",
            &[("csrf", &csrf), ("name", "Spring <push>")],
        )
        .await;
    let path = made.location.unwrap();
    let id = path.rsplit('/').next().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/v1/campaigns/{id}")).await.data()["name"],
        json!("Spring <push>")
    );
    let entries: Vec<Value> = ids.iter().map(|i| json!({"leadId": i})).collect();
    app.add(&id, json!({"leads": entries})).await.assert_ok(200);
    let list = b.get("/app/campaigns").await;
    assert!(list.html.contains("Spring &lt;push&gt;"));
    assert!(list.html.contains("4 pending"), "{}", list.html);

    // State actions: the ones the state allows, applied as the API does.
    let page = b.get(&path).await;
    let state_action = |a: &str| format!(r#"type="hidden" name="action" value="{a}""#);
    assert!(page.html.contains(&state_action("start")));
    assert!(page.html.contains(&state_action("archive")));
    assert!(!page.html.contains(&state_action("resume")));
    let r = b
        .post(
            &format!("{path}/state"),
            &[("csrf", &csrf), ("action", "start")],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some(path.as_str()));
    let api = app.get(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(api.data()["status"], json!("active"));
    let refused = b
        .post(
            &format!("{path}/state"),
            &[("csrf", &csrf), ("action", "start")],
        )
        .await;
    assert_eq!(refused.status, 409, "start twice: the API's 409");

    // Pause two ticked members, then remove every member.
    let page = b.get(&format!("{path}?status=active")).await;
    assert!(page.html.contains("<strong>4</strong> members active"));
    let members = app.all(&format!("/v1/campaigns/{id}/leads")).await;
    let two: Vec<String> = members[..2]
        .iter()
        .map(|m| m["_id"].as_str().unwrap().to_owned())
        .collect();
    let r = b
        .post(
            &format!("{path}/members"),
            &[
                ("csrf", &csrf),
                ("action", "pause"),
                ("scope", "selected"),
                ("member", &two[0]),
                ("member", &two[1]),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let statuses = app.members(&id).await;
    assert_eq!(statuses.values().filter(|s| *s == "paused").count(), 2);
    let paused = b.get(&format!("{path}?status=paused")).await;
    assert!(paused.html.contains("<strong>2</strong> members paused"));
    // Everything the status filter shows: the paused ones only, and the
    // page says how many it removed.
    assert!(paused.html.contains(r#"name="status" value="paused""#));
    assert!(paused.html.contains("Apply to all 2 paused members"));
    let r = b
        .post(
            &format!("{path}/members"),
            &[
                ("csrf", &csrf),
                ("action", "remove"),
                ("scope", "all"),
                ("status", "paused"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let back = r.location.unwrap();
    assert_eq!(back, format!("{path}?did=remove&changed=2&status=paused"));
    let statuses = app.members(&id).await;
    assert_eq!(statuses.len(), 2);
    assert!(statuses.values().all(|s| s == "active"), "{statuses:?}");
    assert!(b.get(&back).await.html.contains("2 members removed."));
    let r = b
        .post(
            &format!("{path}/members"),
            &[("csrf", &csrf), ("action", "remove"), ("scope", "all")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(app.members(&id).await.is_empty());
}

#[tokio::test]
async fn the_do_not_contact_list_is_listed_added_to_and_removed_from() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    let page = b.get("/app/dnc").await;
    let csrf = page.csrf();
    let r = b
        .post(
            "/app/dnc",
            &[
                ("csrf", &csrf),
                ("entries", "no@example.com\n\n  spam.io \n"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let listed = app.all("/v1/dnc").await;
    let values: Vec<&str> = listed
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(values.len(), 2, "{listed:?}");
    assert!(values.contains(&"no@example.com") && values.contains(&"spam.io"));
    // A bad line: the API's words, nothing added.
    let bad = b
        .post(
            "/app/dnc",
            &[("csrf", &csrf), ("entries", "ok.io\nnot a domain")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(app.all("/v1/dnc").await.len(), 2);

    let page = b.get("/app/dnc").await;
    assert!(page.html.contains("spam.io"));
    let entry = listed
        .iter()
        .find(|e| e["value"] == json!("spam.io"))
        .unwrap()["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = b
        .post("/app/dnc/remove", &[("csrf", &csrf), ("entry", &entry)])
        .await;
    assert_eq!(r.status, 303);
    let left = app.all("/v1/dnc").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["value"], json!("no@example.com"));
}

#[tokio::test]
async fn owners_rotate_the_workspace_key_shown_once_and_manage_members() {
    let app = spawn_app().await;
    // A workspace key's session: told to use the platform key.
    let mut w = Browser::new(&app);
    w.sign_in(&app.key).await;
    let page = w.get("/app/settings").await;
    assert!(page.html.contains("platform key"));
    assert!(!page.html.contains("Rotate the key"));
    let csrf = page.csrf();
    let r = w
        .post(
            "/app/settings/key",
            &[("csrf", &csrf), ("action", "rotate")],
        )
        .await;
    assert_eq!(r.status, 403);

    // The owner, with the platform key.
    let mut b = Browser::new(&app);
    b.sign_in(&app.user_key).await;
    let choose = b.get("/app/workspaces").await;
    let csrf = choose.csrf();
    b.post(
        "/app/workspaces",
        &[("csrf", &csrf), ("workspace", &app.workspace_id)],
    )
    .await;
    let page = b.get("/app/settings").await;
    assert!(page.html.contains("Rotate the key"));
    assert!(page.html.contains("owner"));
    let rotated = b
        .post(
            "/app/settings/key",
            &[("csrf", &csrf), ("action", "rotate")],
        )
        .await;
    assert_eq!(rotated.status, 200);
    let marker = "<code class=\"secret\">";
    let at = rotated.html.find(marker).unwrap() + marker.len();
    let new_key = rotated.html[at..].split('<').next().unwrap().to_owned();
    assert!(new_key.starts_with("sk_"), "{new_key}");
    // The new key works, the old one no longer, and no page shows it again.
    let r = app.call_as(&new_key, Method::GET, "/v1/leads", None).await;
    assert_eq!(r.status, 200);
    let r = app.call_as(&app.key, Method::GET, "/v1/leads", None).await;
    assert_eq!(r.status, 401);
    let again = b.get("/app/settings").await;
    assert!(!again.html.contains(&new_key));
    assert_eq!(
        w.get("/app/leads").await.location.as_deref(),
        Some("/app/sign-in"),
        "the old key's session ended"
    );

    // Members: add an existing user, then remove them.
    let email = leadflow::domain::email::Email::parse("colleague@example.com").unwrap();
    app.store.create_user(&email).await.unwrap();
    let r = b
        .post(
            "/app/settings/members",
            &[
                ("csrf", &csrf),
                ("email", "colleague@example.com"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(
        b.get("/app/settings")
            .await
            .html
            .contains("colleague@example.com")
    );
    let r = b
        .post(
            "/app/settings/members",
            &[("csrf", &csrf), ("email", "nobody@example.com")],
        )
        .await;
    assert_eq!(r.status, 404);
    let r = b
        .post(
            "/app/settings/members/remove",
            &[("csrf", &csrf), ("email", "colleague@example.com")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(
        !b.get("/app/settings")
            .await
            .html
            .contains("colleague@example.com")
    );
}

impl Browser<'_> {
    /// Posts a multipart form (the parts in order).
    async fn upload(&mut self, path: &str, form: reqwest::multipart::Form) -> Page {
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let r = self
            .http
            .post(format!("{}{path}", self.app.base))
            .header(COOKIE, jar.join("; "))
            .multipart(form)
            .send()
            .await
            .unwrap();
        Page {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            set_cookies: Vec::new(),
            csp: None,
            html: r.text().await.unwrap(),
        }
    }
}

#[tokio::test]
async fn a_csv_file_is_imported_with_its_mapping_progress_counts_and_failed_rows() {
    let app = spawn_app().await;
    let c = app.create_campaign("Imported").await;
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    let page = b.get("/app/import").await;
    let csrf = page.csrf();
    assert!(page.html.contains(r#"src="/app/assets/import.js""#));
    let js = b.get("/app/assets/import.js").await;
    assert_eq!(js.status, 200);

    // The columns the server recognises, for the script.
    let r = b
        .http
        .post(format!("{}/app/import/columns", app.base))
        .header(
            COOKIE,
            b.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .header("x-csrf-token", &csrf)
        .json(&json!({"header": "Work Email;Given Name;Notes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let found: Value = r.json().await.unwrap();
    assert_eq!(
        found["columns"],
        json!([
            {"name": "Work Email", "field": "email"},
            {"name": "Given Name", "field": "firstName"},
            {"name": "Notes", "field": null}
        ])
    );
    assert!(
        found["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("companyName"))
    );

    let csv = "Work Email,Given Name,Notes\nada@example.com,Ada,hi\nbad-email,Bob,x\n=1+1,Eve,y\ngrace@example.com,Grace,z\n";
    let form = |token: &str| {
        reqwest::multipart::Form::new()
            .text("csrf", token.to_owned())
            .text(
                "mapping",
                r#"{"Given Name": "firstName", "Notes": "customFields.notes"}"#,
            )
            .part("file", crate::helpers::csv_part(csv))
            .text("campaignId", c.clone())
            .text("tag", "")
            .text("skipDuplicates", "true")
    };
    // Without the token: 403, no job.
    let forged = b.upload("/app/import", form("wrong")).await;
    assert_eq!(forged.status, 403);
    assert!(app.all("/v1/jobs").await.is_empty());

    let sent = b.upload("/app/import", form(&csrf)).await;
    assert_eq!(sent.status, 303, "{}", sent.html);
    let path = sent.location.unwrap();
    let job_id = path.rsplit('/').next().unwrap().to_owned();
    let mut shown = String::new();
    for _ in 0..400 {
        let p = b.get(&path).await;
        if p.html.contains("rows read") {
            shown = p.html;
            break;
        }
        assert!(p.html.contains("http-equiv=\"refresh\""), "{}", p.html);
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let job = app.get(&format!("/v1/jobs/{job_id}")).await;
    let data = job.data()["data"].clone();
    assert_eq!(data["imported"], json!(2));
    assert_eq!(data["failed"], json!(2));
    assert!(
        shown.contains("<strong>2</strong> leads created"),
        "{shown}"
    );
    assert!(shown.contains("<strong>2</strong> rows failed"));
    assert!(shown.contains("<strong>2</strong> added to the campaign"));
    assert!(shown.contains("bad-email"));
    let ada = app.get("/v1/leads?email=ada@example.com").await;
    assert_eq!(ada.data()[0]["firstName"], json!("Ada"));
    assert_eq!(ada.data()[0]["customFields"]["notes"], json!("hi"));
    assert_eq!(app.campaign_lead_total(&c).await, 2);

    // The failed rows as a CSV, a formula cell made text.
    let download = b.get(&format!("{path}/failed.csv")).await;
    assert_eq!(download.status, 200);
    let lines: Vec<&str> = download.html.lines().collect();
    assert_eq!(lines[0], "line,email,error");
    assert_eq!(lines.len(), 3, "{}", download.html);
    assert!(lines[1].starts_with("3,bad-email,"));
    assert!(lines[2].starts_with("4,'=1+1,"), "{}", lines[2]);

    // A file that is not a CSV: the form again with why, no job.
    let bad = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part("file", crate::helpers::csv_part("name\nJane\n"));
    let r = b.upload("/app/import", bad).await;
    assert_eq!(r.status, 400);
    assert!(r.html.contains("email"), "{}", r.html);
    assert_eq!(app.all("/v1/jobs").await.len(), 1);

    // Another workspace's browser does not see this import.
    let other = spawn_app().await;
    let mut o = Browser::new(&other);
    o.sign_in(&other.key).await;
    let r = o.get(&path).await;
    assert_eq!(r.status, 404);
}

/// The console's pages are charged to the workspace's rate limit, as the
/// API's requests are: the same bucket, a 429 page when it is empty.
#[tokio::test]
async fn the_console_shares_the_workspace_rate_limit() {
    use std::num::NonZeroU32;
    let app = crate::helpers::spawn_app_with(|c| {
        c.rate_limit = Some((NonZeroU32::new(1).unwrap(), NonZeroU32::new(3).unwrap()));
    })
    .await;
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    // Two pages and one API request take the burst of three.
    assert_eq!(b.get("/app/leads").await.status, 200);
    assert_eq!(b.get("/app/campaigns").await.status, 200);
    assert_eq!(app.get("/v1/leads").await.status, 200);
    let refused = b.get("/app/dnc").await;
    assert_eq!(refused.status, 429);
    assert!(
        refused.html.contains("Too many requests"),
        "{}",
        refused.html
    );
    app.get("/v1/leads").await.assert_error(429, "RATE_LIMITED");
}

/// The console's import takes files as large as the API's asynchronous
/// import, not only as large as the server's body limit for other requests.
#[tokio::test]
async fn an_import_may_be_larger_than_the_body_limit_of_other_requests() {
    let app = crate::helpers::spawn_app_with(|c| c.body_limit = 4 * 1024).await;
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    let csrf = b.get("/app/import").await.csrf();
    let mut csv = String::from("email\n");
    for i in 0..1_000 {
        csv.push_str(&format!("big{i}@example.com\n"));
    }
    assert!(csv.len() > 4 * 1024);
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .part("file", crate::helpers::csv_part(csv));
    let sent = b.upload("/app/import", form).await;
    assert_eq!(sent.status, 303, "{}", sent.html);
    let path = sent.location.unwrap();
    for _ in 0..400 {
        if b.get(&path).await.html.contains("rows read") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(app.lead_total().await, 1_000);
}
