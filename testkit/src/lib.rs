//! Test helpers. [`TestDatabase`] gives each test a PostgreSQL database of its own, so tests
//! run in parallel without sharing state. The server is `$SWITCHYARD_TEST_DATABASE_URL`,
//! else one answering on `127.0.0.1:5432`; `scripts/test` starts a throwaway cluster (as the
//! `postgres` user) and sets the variable when neither is there.
#![deny(missing_docs)]

mod proxy;

pub use proxy::Proxy;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

/// The variable naming the test server.
pub const DATABASE_URL_VAR: &str = "SWITCHYARD_TEST_DATABASE_URL";
/// The server tried when the variable is unset.
pub const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database created for one test, dropped when the test ends.
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    name: String,
    admin: PgConnectOptions,
}

impl TestDatabase {
    /// Creates a database of its own on the test server.
    ///
    /// # Panics
    /// When no server can be reached: the message says how to provide one.
    pub async fn create() -> Self {
        let url = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| LOCAL_URL.to_string());
        let admin: PgConnectOptions = url.parse().unwrap_or_else(|e| panic!("{DATABASE_URL_VAR}={url:?}: {e}"));
        let mut conn = admin.connect().await.unwrap_or_else(|e| {
            panic!(
                "no PostgreSQL for tests at {url} ({e}); run the suite with `bash scripts/test`, which starts one, or set {DATABASE_URL_VAR}"
            )
        });
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        // A database name cannot be a bound parameter; this one is generated, hex only.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create a test database on {url}: {e}"));
        let _ = conn.close().await;
        let url = admin.clone().database(&name).to_url_lossy().to_string();
        Self { url, name, admin }
    }

    /// A pool of at most `max` connections to it.
    pub async fn pool(&self, max: u32) -> PgPool {
        let options: PgConnectOptions = self.url.parse().unwrap_or_else(|e| panic!("{}: {e}", self.url));
        PgPoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"))
    }

    /// Drops the database (its connections are closed first, by force).
    pub async fn drop_now(self) {
        if let Ok(mut conn) = self.admin.connect().await {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
            let _ = conn.close().await;
        }
    }
}
