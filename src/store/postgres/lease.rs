//! A pooled connection lent to one request, and taken back from a request
//! that was dropped halfway.

use tokio_postgres_rustls::MakeRustlsConnect;

use super::super::Result;
use super::PgStore;

/// A pooled connection lent to one request. When the request is dropped
/// before its work ends (a request timeout, a client that left), the
/// statement still running is cancelled and the connection leaves the pool
/// rather than going back busy: the next request never waits behind it, and
/// the late cancel can never reach another request's statement.
pub(super) struct Lease {
    client: Option<deadpool_postgres::Object>,
    tls: MakeRustlsConnect,
}

impl Lease {
    pub(super) async fn get(store: &PgStore) -> Result<Self> {
        Ok(Self {
            client: Some(store.pool.get().await?),
            tls: store.tls.clone(),
        })
    }

    pub(super) fn client(&mut self) -> &mut deadpool_postgres::Object {
        self.client
            .as_mut()
            .expect("a lease holds its connection until done")
    }

    /// The work ended (well or not): the connection goes back to the pool.
    pub(super) fn done(mut self) {
        drop(self.client.take());
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(object) = self.client.take() {
            let token = object.cancel_token();
            let client = deadpool_postgres::Object::take(object);
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let _ = token.cancel_query(tls).await;
                drop(client);
            });
        }
    }
}
