//! `POST /v1/leads/import/csv`: mapping, bad rows by line number, limits,
//! campaigns, and a failed file changing nothing.

use std::fmt::Write;

use serde_json::{Value, json};

use crate::helpers::{TestApp, csv_form, csv_part, spawn_app};

/// The counts of an import answer add up to its rows.
fn assert_counts_add_up(data: &Value) {
    let n = |k: &str| data[k].as_u64().unwrap();
    assert_eq!(
        n("rows"),
        n("imported") + n("updated") + n("skipped") + n("failed"),
        "{data}"
    );
    // Every refused row is listed, up to 1,000 of them.
    assert_eq!(
        n("failed").min(1_000),
        data["errors"].as_array().unwrap().len() as u64
    );
    assert_eq!(
        n("imported"),
        data["importedLeadIds"].as_array().unwrap().len() as u64
    );
}

async fn lead_by_email(app: &TestApp, email: &str) -> Value {
    let r = app.get(&format!("/v1/leads?search={email}")).await;
    let found = r.assert_ok(200).as_array().unwrap().clone();
    assert_eq!(found.len(), 1, "{email}: {found:?}");
    found[0].clone()
}

#[tokio::test]
async fn rows_are_imported_with_the_mapping_and_bad_rows_reported_by_line() {
    let app = spawn_app().await;
    app.create_lead(json!({"email": "old@example.com", "firstName": "Old"}))
        .await;
    let csv = "Work Email,Given,Company,Notes,Labels\n\
               ann@example.com,Ann,Acme,\"likes\nnewlines\",vip; q4\n\
               not-an-email,Bob,Bobco,,\n\
               ANN@example.com,Ann again,,,\n\
               old@example.com,New name,,,\n\
               ,,,,\n\
               cat@example.com,Cat\n\
               dan@example.com,Dan,,\"a, quoted\"\"cell\"\"\",\n";
    let mapping = r#"{"Work Email": "email", "Given": "firstName", "Company": "companyName",
                     "Notes": "customFields.notes", "Labels": "tags"}"#;
    let r = app.import(csv_form(csv, &[("mapping", mapping)])).await;
    let data = r.assert_ok(200).clone();
    assert_counts_add_up(&data);
    assert_eq!(data["rows"], json!(6), "the empty row is not a row: {data}");
    assert_eq!(data["imported"], json!(2));
    assert_eq!(data["skipped"], json!(2), "a repeat and an existing lead");
    assert_eq!(data["updated"], json!(0));
    assert_eq!(data["failed"], json!(2));
    let errors = data["errors"].as_array().unwrap();
    // Line numbers are the file's: the quoted newline makes row 1 two lines.
    assert_eq!(errors[0]["line"], json!(4));
    assert_eq!(errors[0]["email"], json!("not-an-email"));
    assert!(errors[0]["error"].as_str().unwrap().starts_with("email "));
    assert_eq!(errors[1]["line"], json!(8));
    assert_eq!(errors[1]["email"], json!("cat@example.com"));
    assert!(
        errors[1]["error"].as_str().unwrap().contains("2 cells"),
        "{}",
        errors[1]
    );

    let ann = lead_by_email(&app, "ann@example.com").await;
    assert_eq!(ann["firstName"], json!("Ann"));
    assert_eq!(ann["companyName"], json!("Acme"));
    assert_eq!(ann["tags"], json!(["vip", "q4"]));
    assert_eq!(ann["customFields"], json!({"notes": "likes\nnewlines"}));
    assert!(
        data["importedLeadIds"]
            .as_array()
            .unwrap()
            .contains(&ann["_id"])
    );
    let dan = lead_by_email(&app, "dan@example.com").await;
    assert_eq!(dan["customFields"], json!({"notes": "a, quoted\"cell\""}));
    assert_eq!(dan["companyName"], json!(null));
    // skipDuplicates defaults to true: the stored lead is untouched.
    let old = lead_by_email(&app, "old@example.com").await;
    assert_eq!(old["firstName"], json!("Old"));
    assert_eq!(app.lead_total().await, 3);
}

#[tokio::test]
async fn without_a_mapping_common_headers_are_recognised_even_after_the_file() {
    let app = spawn_app().await;
    // Excel's UTF-8 export: byte order mark, CRLF line ends.
    let csv = "\u{feff}Email,First Name,Last Name,Company,Job Title,Country,Ignored\r\n\
               eve@example.com,Eve,Smith,Evil Corp,CEO,de,x\r\n\
               fay@example.com,Fay,,,,,y\r\n";
    let r = app.import(csv_form(csv, &[])).await;
    let data = r.assert_ok(200).clone();
    assert_counts_add_up(&data);
    assert_eq!(data["imported"], json!(2));
    let eve = lead_by_email(&app, "eve@example.com").await;
    assert_eq!(eve["lastName"], json!("Smith"));
    assert_eq!(eve["jobTitle"], json!("CEO"));
    assert_eq!(eve["country"], json!("DE"));
    assert_eq!(eve["customFields"], json!({}));

    // The mapping may follow the file; the file is then spooled and read after.
    let form = reqwest::multipart::Form::new()
        .part("file", csv_part("Mail,Nick\ngus@example.com,G\n"))
        .text(
            "mapping",
            r#"{"Mail": "email", "Nick": "customFields.nick"}"#,
        )
        .text("tag", "from-csv");
    let data = app.import(form).await.assert_ok(200).clone();
    assert_eq!(data["imported"], json!(1));
    let gus = lead_by_email(&app, "gus@example.com").await;
    assert_eq!(gus["customFields"], json!({"nick": "G"}));
    assert_eq!(gus["tags"], json!(["from-csv"]));
}

#[tokio::test]
async fn skip_duplicates_false_updates_existing_leads_and_tags_them() {
    let app = spawn_app().await;
    app.create_lead(
        json!({"email": "ivy@example.com", "firstName": "Ivy", "lastName": "Keep", "tags": ["old"]}),
    )
    .await;
    let csv = "email,firstName,lastName\nIVY@example.com,Ivy2,\njo@example.com,Jo,\n";
    let r = app
        .import(csv_form(
            csv,
            &[("skipDuplicates", "false"), ("tag", "spring")],
        ))
        .await;
    let data = r.assert_ok(200).clone();
    assert_counts_add_up(&data);
    assert_eq!(
        (data["imported"].clone(), data["updated"].clone()),
        (json!(1), json!(1))
    );
    let ivy = lead_by_email(&app, "ivy@example.com").await;
    assert_eq!(ivy["firstName"], json!("Ivy2"));
    assert_eq!(
        ivy["lastName"],
        json!("Keep"),
        "an empty cell keeps the stored value"
    );
    assert_eq!(ivy["tags"], json!(["old", "spring"]));
    assert_eq!(
        lead_by_email(&app, "jo@example.com").await["tags"],
        json!(["spring"])
    );
}

#[tokio::test]
async fn a_campaign_gets_every_lead_of_the_file_by_the_add_rules() {
    let app = spawn_app().await;
    let campaign = app.create_campaign("Imported").await;
    let existing = app.create_lead(json!({"email": "in@example.com"})).await;
    app.add(&campaign, json!({"leads": [{"leadId": existing["_id"]}]}))
        .await
        .assert_ok(200);
    app.create_lead(json!({"email": "known@example.com"})).await;
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "domain", "value": "blocked.com"}]}),
    )
    .await
    .assert_ok(200);
    let csv = "email\nnew@example.com\nknown@example.com\nin@example.com\nx@blocked.com\nbad\n";
    let r = app
        .import(csv_form(csv, &[("campaignId", &campaign)]))
        .await;
    let data = r.assert_ok(200).clone();
    assert_counts_add_up(&data);
    assert_eq!(data["imported"], json!(2), "new and x@blocked.com");
    assert_eq!(data["skipped"], json!(2));
    assert_eq!(data["failed"], json!(1));
    assert_eq!(
        data["campaign"],
        json!({"campaignId": campaign, "added": 2, "skipped": 2, "blocked": 1, "alreadyInCampaign": 1, "inOtherCampaign": 0})
    );
    assert_eq!(app.campaign_lead_total(&campaign).await, 3);
    // A draft campaign's new members are pending, as with the add endpoint.
    let members = app.all(&format!("/v1/campaigns/{campaign}/leads")).await;
    assert!(members.iter().all(|m| m["status"] == json!("pending")));
}

#[tokio::test]
async fn a_missing_or_archived_campaign_fails_the_import_and_writes_nothing() {
    let app = spawn_app().await;
    let (_, other_key) = app.other_workspace().await;
    let theirs = app
        .call_as(
            &other_key,
            reqwest::Method::POST,
            "/v1/campaigns",
            Some(json!({"name": "Theirs"})),
        )
        .await;
    let theirs = theirs.assert_ok(201)["_id"].as_str().unwrap().to_owned();
    let csv = "email\na@example.com\nb@example.com\n";
    app.import(csv_form(csv, &[("campaignId", &theirs)]))
        .await
        .assert_error(404, "NOT_FOUND");

    let archived = app.create_campaign("Old").await;
    app.post(&format!("/v1/campaigns/{archived}/archive"), json!({}))
        .await
        .assert_ok(200);
    app.import(csv_form(csv, &[("campaignId", &archived)]))
        .await
        .assert_error(409, "CONFLICT");
    assert_eq!(app.lead_total().await, 0);
}

#[tokio::test]
async fn bad_files_and_mappings_get_a_400_naming_the_problem_and_change_nothing() {
    let app = spawn_app().await;
    let good = "email,name\na@example.com,A\n";
    let xlsx = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00email".to_vec();
    let cases: Vec<(reqwest::multipart::Form, &str)> = vec![
        (csv_form(xlsx, &[]), "NUL"),
        (
            reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(good.as_bytes().to_vec())
                    .file_name("leads.png")
                    .mime_str("image/png")
                    .unwrap(),
            ),
            "image/png",
        ),
        (csv_form("", &[]), "empty"),
        (csv_form(b"\xff\xfeemail\n".to_vec(), &[]), "UTF-8"),
        (csv_form("name,phone\nA,1\n", &[]), "no email column"),
        (
            csv_form(
                good,
                &[("mapping", r#"{"email": "email", "name": "nickname"}"#)],
            ),
            "'nickname'",
        ),
        (
            csv_form(
                good,
                &[("mapping", r#"{"email": "email", "Phone": "phone"}"#)],
            ),
            "'Phone'",
        ),
        // A mapping adds to the recognised headers, so only a mapping that
        // ignores the email column leaves none.
        (
            csv_form(
                good,
                &[("mapping", r#"{"email": null, "name": "firstName"}"#)],
            ),
            "no column is mapped to email",
        ),
        (csv_form(good, &[("mapping", "email=email")]), "JSON object"),
        (csv_form(good, &[("campaignId", "nope")]), "campaignId"),
        (
            csv_form(good, &[("skipDuplicates", "maybe")]),
            "skipDuplicates",
        ),
        (csv_form(good, &[("tag", "")]), "tag"),
        (csv_form(good, &[("colour", "red")]), "'colour'"),
        (
            reqwest::multipart::Form::new().text("mapping", r#"{"email": "email"}"#),
            "file is required",
        ),
    ];
    for (form, needle) in cases {
        let r = app.import(form).await;
        r.assert_error(400, "VALIDATION_ERROR");
        assert!(r.message().contains(needle), "{needle}: {}", r.message());
    }
    // Not multipart at all.
    app.post("/v1/leads/import/csv", json!({"file": good}))
        .await
        .assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    assert_eq!(app.lead_total().await, 0);
}

#[tokio::test]
async fn a_file_of_50000_rows_is_imported_and_one_row_more_is_refused() {
    let app = spawn_app().await;
    let campaign = app.create_campaign("Big").await;
    let mut csv = String::from("Email,First Name,Company\n");
    for i in 0..50_000 {
        writeln!(csv, "lead{i}@example.com,Name {i},Company {}", i % 97).unwrap();
    }
    let over = format!("{csv}one.more@example.com,x,y\n");
    let r = app.import(csv_form(over, &[])).await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("50000"), "{}", r.message());
    assert_eq!(app.lead_total().await, 0);

    let r = app
        .import(csv_form(csv, &[("campaignId", &campaign)]))
        .await;
    let data = r.assert_ok(200).clone();
    assert_counts_add_up(&data);
    assert_eq!(data["imported"], json!(50_000));
    assert_eq!(data["campaign"]["added"], json!(50_000));
    assert_eq!(app.lead_total().await, 50_000);
    assert_eq!(app.campaign_lead_total(&campaign).await, 50_000);
    let one = lead_by_email(&app, "lead49999@example.com").await;
    assert_eq!(
        one["companyName"],
        json!(format!("Company {}", 49_999 % 97))
    );
}

/// Every row counts toward the cap, bad ones included: a file of 60,000
/// rows that are not UTF-8 was a 200 listing 60,000 errors.
#[tokio::test]
async fn bad_rows_count_toward_the_cap_and_at_most_1000_are_listed() {
    let app = spawn_app().await;
    let mut over = b"email,notes\n".to_vec();
    for _ in 0..50_001 {
        over.extend_from_slice(b"\xff,x\n");
    }
    let r = app.import(csv_form(over, &[])).await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("50000"), "{}", r.message());

    let mut csv = String::from("email,notes\n");
    for i in 0..1_500 {
        writeln!(csv, "not-an-email-{i},x").unwrap();
    }
    csv.push_str("good@example.com,y\n");
    let r = app.import(csv_form(csv, &[])).await;
    let data = r.assert_ok(200).clone();
    assert_counts_add_up(&data);
    assert_eq!(data["failed"], json!(1_500));
    assert_eq!(data["imported"], json!(1));
    let errors = data["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1_000);
    assert_eq!(errors[999]["line"], json!(1_001));

    let wide = format!("email,{}\na@example.com\n", vec!["c"; 1_000].join(","));
    let r = app.import(csv_form(wide, &[])).await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("1001 columns"), "{}", r.message());
    assert_eq!(app.lead_total().await, 1);
}

/// A cell of many quoted lines is one record: the line of the row after it
/// is still right (and the reader keeps no position for the lines inside).
#[tokio::test]
async fn a_long_quoted_cell_keeps_the_line_numbers_right() {
    let app = spawn_app().await;
    let long = "line\n".repeat(100_000);
    let csv = format!("email,notes\nok@example.com,\"{long}\"\nbad,x\n");
    let data = app.import(csv_form(csv, &[])).await;
    let data = data.assert_ok(200).clone();
    assert_eq!(data["imported"], json!(1), "{data}");
    // Header, the row (100,001 lines: its cell ends on the last), then `bad`.
    assert_eq!(data["errors"][0]["line"], json!(100_003), "{data}");
}

#[tokio::test]
async fn a_file_over_50_mib_gets_413_and_writes_nothing() {
    let app = spawn_app().await;
    let padding = "p".repeat(1_000);
    let mut csv = String::from("email,notes\n");
    let mut i = 0;
    while csv.len() <= 50 * 1024 * 1024 {
        writeln!(csv, "big{i}@example.com,{padding}").unwrap();
        i += 1;
    }
    let r = app.import(csv_form(csv, &[])).await;
    r.assert_error(413, "PAYLOAD_TOO_LARGE");
    assert!(r.message().contains("50 MiB"), "{}", r.message());
    assert_eq!(app.lead_total().await, 0);
}

/// Found by the fuzzer: with Windows line ends (Excel's CSV export) every
/// bad row was reported one line too early.
#[tokio::test]
async fn line_numbers_are_right_with_crlf_blank_lines_and_quoted_newlines() {
    let app = spawn_app().await;
    let csv = b"email,notes\r\nbad1,x\r\n\r\nok@example.com,\"two\r\nlines\"\r\nbad2,y\r\n,\r\n\xff@x,z\rold@mac,w\n".to_vec();
    let data = app.import(csv_form(csv, &[])).await;
    let data = data.assert_ok(200).clone();
    let lines: Vec<u64> = data["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 6, 8, 9], "{data}");
    assert_eq!(data["imported"], json!(1));
}

#[tokio::test]
async fn semicolon_and_tab_files_are_read_by_the_separator_of_their_header() {
    let app = spawn_app().await;
    let semicolons = "Email;First Name;Company\n\
                      semi@example.com;Sam;Acme, Inc.\n";
    let r = app.import(csv_form(semicolons, &[])).await;
    let data = r.assert_ok(200).clone();
    assert_eq!(data["delimiter"], json!(";"), "{data}");
    assert_eq!(data["imported"], json!(1), "{data}");
    let lead = lead_by_email(&app, "semi@example.com").await;
    assert_eq!(lead["firstName"], json!("Sam"));
    assert_eq!(lead["companyName"], json!("Acme, Inc."));

    let tabs = "email\tfirstName\ntab@example.com\tTia\n";
    let data = app.import(csv_form(tabs, &[])).await.assert_ok(200).clone();
    assert_eq!(data["delimiter"], json!("tab"), "{data}");
    assert_eq!(
        lead_by_email(&app, "tab@example.com").await["firstName"],
        json!("Tia")
    );

    let commas = app
        .import(csv_form("email\ncomma@example.com\n", &[]))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(commas["delimiter"], json!(","));
}

#[tokio::test]
async fn a_mapping_adds_to_the_recognised_headers_and_null_still_ignores_a_column() {
    let app = spawn_app().await;
    let csv = "Work Email,First Name,Last Name,Company,Notes\n\
               mix@example.com,Mia,Xu,Acme,call back\n";
    let mapping = r#"{"Work Email": "email", "Notes": "customFields.notes", "Company": null}"#;
    let data = app
        .import(csv_form(csv, &[("mapping", mapping)]))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(data["imported"], json!(1), "{data}");
    let lead = lead_by_email(&app, "mix@example.com").await;
    // Named in the mapping.
    assert_eq!(lead["customFields"]["notes"], json!("call back"));
    // Not named: recognised from the header, as `leadflow import --map` does.
    assert_eq!(lead["firstName"], json!("Mia"));
    assert_eq!(lead["lastName"], json!("Xu"));
    // Named as null: ignored although its header is recognised.
    assert_eq!(lead["companyName"], json!(null));
}

#[tokio::test]
async fn an_async_file_over_500_mib_gets_413_and_writes_nothing() {
    let app = spawn_app().await;
    let line = format!("same@example.com,{}\n", "p".repeat(1_006));
    let n = 500 * 1024 * 1024 / line.len() + 1;
    let csv = format!("email,notes\n{}", line.repeat(n));
    assert!(csv.len() > 500 * 1024 * 1024);
    let r = app.import(csv_form(csv, &[("async", "true")])).await;
    r.assert_error(413, "PAYLOAD_TOO_LARGE");
    assert!(r.message().contains("500 MiB"), "{}", r.message());
    assert_eq!(app.lead_total().await, 0);
    assert!(app.all("/v1/jobs").await.is_empty());
}
