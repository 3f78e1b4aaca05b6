//! The web console at `/app`, over HTTP as a browser speaks it (the
//! browser tests drive Chromium through the same pages): signing in and
//! out, the session cookie, CSRF, the security headers, values rendered as
//! text, tenancy, and the leads table against the API.

use reqwest::Method;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{TestApp, leads, spawn_app};

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
    let theirs = app
        .client
        .post(format!("{}/v1/leads", app.base))
        .header("x-api-key", &app.user_key)
        .header("x-workspace-id", &second)
        .json(&json!({"email": "theirs@example.com"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["data"]["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create_lead(json!({"email": "mine@example.com"})).await;

    // With the first workspace's key, the other's lead does not exist.
    let mut b = Browser::new(&app);
    b.sign_in(&app.key).await;
    let r = b.get(&format!("/app/leads/{theirs}")).await;
    assert_eq!(r.status, 404);
    assert!(!r.html.contains("theirs@example.com"));
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
