//! TLS to PostgreSQL: encrypted by default (and with `sslmode=prefer` or
//! `require`) when the server offers it, and verified against a CA with
//! `sslmode=verify-full`.

use leadflow::config::{Config, DatabaseUrl};
use leadflow::startup::Application;

use crate::helpers::{fresh_database_url, pg_connect, postgres_server};

/// Whether every connection leadflow holds to `db` is encrypted.
async fn leadflow_connections_use_tls(db: &str) -> bool {
    let name = db.rsplit('/').next().unwrap().split('?').next().unwrap();
    let pg = pg_connect(&format!("{}/postgres", postgres_server().unwrap())).await;
    let rows = pg
        .query(
            "select s.ssl from pg_stat_ssl s join pg_stat_activity a using (pid) where a.datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    !rows.is_empty() && rows.iter().all(|r| r.get::<_, bool>(0))
}

/// Whether each connection of the running server that named itself
/// `application_name` (in its database URL) is encrypted; one at least.
/// The name tells one server's connections from those of a server that
/// came before it and from the test's own (plain) connection.
async fn connections_named_use_tls(application_name: &str) -> Vec<bool> {
    let pg = pg_connect(&format!("{}/postgres", postgres_server().unwrap())).await;
    let rows = pg
        .query(
            "select s.ssl from pg_stat_ssl s join pg_stat_activity a using (pid) \
             where a.application_name = $1",
            &[&application_name],
        )
        .await
        .unwrap();
    assert!(!rows.is_empty(), "no connection named {application_name}");
    rows.iter().map(|r| r.get(0)).collect()
}

/// `db` with `params` (`a=b&c=d`) added to its query string.
fn with(db: &str, params: &str) -> String {
    let sep = if db.contains('?') { '&' } else { '?' };
    format!("{db}{sep}{params}")
}

async fn start(url: String) -> anyhow::Result<Application> {
    Application::build(&Config::new("127.0.0.1:0", DatabaseUrl::new(url))).await
}

#[tokio::test]
async fn connections_are_encrypted_by_default_and_can_be_verified_against_a_ca() {
    assert!(
        postgres_server().is_some(),
        "this test needs LEADFLOW_TEST_ENGINE=postgres"
    );
    // On a Citus cluster (scripts/with-citus) each node has the
    // self-signed X.509 version 1 certificate Citus made for it, and no CA
    // signed it: the checks against a CA are PostgreSQL's half of the test.
    let citus = std::env::var_os("LEADFLOW_TEST_CITUS").is_some();
    let ca = std::env::var("LEADFLOW_TEST_POSTGRES_CA");
    assert!(
        citus || ca.is_ok(),
        "scripts/with-postgres sets LEADFLOW_TEST_POSTGRES_CA"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url(dir.path()).await;

    // By default (no sslmode, which is libpq's `prefer`), and with
    // `prefer` and `require` spelled out: encrypted, like libpq, without
    // checking the peer.
    for (mode, name) in [
        ("", "leadflow_tls_default"),
        ("sslmode=prefer&", "leadflow_tls_prefer"),
        ("sslmode=require&", "leadflow_tls_require"),
    ] {
        let app = start(with(&db, &format!("{mode}application_name={name}")))
            .await
            .unwrap();
        app.store().ping().await.unwrap();
        let encrypted = connections_named_use_tls(name).await;
        assert!(
            encrypted.iter().all(|e| *e),
            "{name}: a plain connection ({encrypted:?})"
        );
        drop(app);
    }

    // sslmode=require: encrypted, like libpq, without checking the peer.
    let app = start(with(&db, "sslmode=require")).await.unwrap();
    assert!(leadflow_connections_use_tls(&db).await);
    drop(app);

    // verify-full against our CA works...
    if let Ok(ca) = ca {
        let app = start(with(&db, &format!("sslmode=verify-full&sslrootcert={ca}")))
            .await
            .unwrap();
        app.store().ping().await.unwrap();
        assert!(leadflow_connections_use_tls(&db).await);
        drop(app);
    }

    // ...and without it the server's certificate is not trusted.
    let err = start(with(&db, "sslmode=verify-full"))
        .await
        .err()
        .expect("an untrusted certificate is refused");
    assert!(
        format!("{err:#}").to_lowercase().contains("certificate"),
        "{err:#}"
    );
}
