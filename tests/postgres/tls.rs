//! TLS to PostgreSQL: encrypted by default when the server offers it, and
//! verified against a CA with `sslmode=verify-full`.

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

async fn start(url: String) -> anyhow::Result<Application> {
    Application::build(&Config::new("127.0.0.1:0", DatabaseUrl::new(url))).await
}

#[tokio::test]
async fn connections_are_encrypted_and_can_be_verified_against_a_ca() {
    assert!(
        postgres_server().is_some(),
        "this test needs LEADFLOW_TEST_ENGINE=postgres"
    );
    let ca = std::env::var("LEADFLOW_TEST_POSTGRES_CA")
        .expect("scripts/test sets LEADFLOW_TEST_POSTGRES_CA");
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url(dir.path()).await;

    // sslmode=require: encrypted, like libpq, without checking the peer.
    let app = start(format!("{db}?sslmode=require")).await.unwrap();
    assert!(leadflow_connections_use_tls(&db).await);
    drop(app);

    // verify-full against our CA works...
    let app = start(format!("{db}?sslmode=verify-full&sslrootcert={ca}"))
        .await
        .unwrap();
    app.store().ping().await.unwrap();
    assert!(leadflow_connections_use_tls(&db).await);
    drop(app);

    // ...and without it the server's certificate is not trusted.
    let err = start(format!("{db}?sslmode=verify-full"))
        .await
        .err()
        .expect("an untrusted certificate is refused");
    assert!(
        format!("{err:#}").to_lowercase().contains("certificate"),
        "{err:#}"
    );
}
