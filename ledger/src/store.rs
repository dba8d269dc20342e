//! Where a ledger lives, and opening it: a SQLite file (the embedded default) or a
//! PostgreSQL database (servers and farms). Both run the same statements through sqlx's
//! `Any` driver; each has its own migrations, which reach the same schema.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions as _};

use crate::{Clock, Ledger, LedgerError};

/// Which database a ledger is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQLite file: one writer at a time.
    Sqlite,
    /// A PostgreSQL database: many concurrent writers, from many processes.
    Postgres,
}

/// Where a ledger lives: a file path, or a `postgres://` (or `postgresql://`) URL.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl Location {
    /// A `postgres://` or `postgresql://` URL is a database; anything else is a file path.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        match text.starts_with("postgres://") || text.starts_with("postgresql://") {
            true => Location::Postgres(text.to_string()),
            false => Location::File(PathBuf::from(text)),
        }
    }

    /// Its backend.
    pub fn backend(&self) -> Backend {
        match self {
            Location::File(_) => Backend::Sqlite,
            Location::Postgres(_) => Backend::Postgres,
        }
    }
}

impl FromStr for Location {
    type Err = std::convert::Infallible;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Location::parse(text))
    }
}

/// Shown without the URL's password, so it can go in logs and error messages.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

/// The SQLite header's application id of a Switchyard ledger ("SYLD").
const APPLICATION_ID: i64 = 0x5359_4C44;
const _: () = assert!(APPLICATION_ID == 1_398_361_156);

/// PostgreSQL connections a ledger keeps by default.
pub const POSTGRES_CONNECTIONS: u32 = 16;

/// Refuses a file that is not a Switchyard ledger, reading it without writing a byte: its
/// application id must be the ledger's, or (a ledger made before the id was set) it must
/// already hold the ledger's own tables.
async fn check_is_ledger(path: &Path) -> Result<(), LedgerError> {
    let foreign = |why: &str| LedgerError::NotALedger { path: path.to_path_buf(), why: why.to_string() };
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = options.connect().await.map_err(|_| foreign("it cannot be opened as a SQLite database"))?;
    let id: i64 = sqlx::query_scalar("PRAGMA application_id")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| foreign("it is not a SQLite database"))?;
    if id == APPLICATION_ID {
        return Ok(());
    }
    if id != 0 {
        return Err(foreign(&format!("its application id is {id:#x}, another program's")));
    }
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .fetch_all(&mut conn)
            .await?;
    let ours = ["_sqlx_migrations", "accounts", "transfers", "holds", "idempotency"];
    match tables.is_empty() || ours.iter().all(|t| tables.iter().any(|n| n == t)) {
        true => Ok(()),
        false => Err(foreign(&format!("it holds other tables ({})", tables.join(", ")))),
    }
}

/// A `sqlite://` URL for `path` that survives any byte in it: everything outside a small
/// safe set is percent-encoded (sqlx decodes the path back).
fn sqlite_url(path: &Path) -> Result<String, LedgerError> {
    let absolute = std::path::absolute(path).map_err(|e| LedgerError::NotALedger {
        path: path.to_path_buf(),
        why: format!("its absolute path cannot be found: {e}"),
    })?;
    let mut url = String::from("sqlite://");
    for byte in absolute.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'.' | b'_' | b'-' | b'~' => url.push(*byte as char),
            _ => url.push_str(&format!("%{byte:02X}")),
        }
    }
    url.push_str("?mode=rwc");
    Ok(url)
}

fn system_clock() -> Clock {
    Arc::new(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
}

async fn sqlite_pool(path: &Path) -> Result<AnyPool, LedgerError> {
    let options = AnyConnectOptions::from_str(&sqlite_url(path)?)?;
    let pool = AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::raw_sql(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;",
                )
                .execute(conn)
                .await
                .map(|_| ())
            })
        })
        .connect_with(options)
        .await?;
    Ok(pool)
}

impl Ledger {
    /// Opens the ledger at `location`, refusing to create a SQLite file: spending needs
    /// credits granted first. A PostgreSQL database is brought up to date.
    pub async fn open_existing(location: &Location) -> Result<Self, LedgerError> {
        if let Location::File(path) = location
            && !path.is_file()
        {
            return Err(LedgerError::NoLedger(path.to_path_buf()));
        }
        Self::connect(location).await
    }

    /// Opens (creating if needed) the ledger at `location` and brings its schema up to date.
    pub async fn connect(location: &Location) -> Result<Self, LedgerError> {
        match location {
            Location::File(path) => Self::open(path).await,
            Location::Postgres(url) => Self::connect_postgres(url, POSTGRES_CONNECTIONS).await,
        }
    }

    /// Opens (creating if needed) the ledger at `path` and brings its schema up to date. A
    /// file that is some other SQLite database (or not one at all) is refused before
    /// anything is written to it.
    pub async fn open(path: &Path) -> Result<Self, LedgerError> {
        sqlx::any::install_default_drivers();
        if path.exists() {
            check_is_ledger(path).await?;
        }
        let pool = sqlite_pool(path).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        // 1398361156 is APPLICATION_ID: a PRAGMA takes no bound parameters.
        sqlx::query("PRAGMA application_id = 1398361156").execute(&pool).await?;
        Ok(Self { pool, clock: system_clock(), backend: Backend::Sqlite })
    }

    /// Connects to the ledger in the PostgreSQL database at `url`, with at most
    /// `connections` connections, and brings its schema up to date (migrations take an
    /// advisory lock, so many processes may start at once).
    pub async fn connect_postgres(url: &str, connections: u32) -> Result<Self, LedgerError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new().max_connections(connections.max(1)).connect(url).await?;
        // The database may be shared with the server's tables (their migrations are 1001 on).
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        Ok(Self { pool, clock: system_clock(), backend: Backend::Postgres })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_told_apart_and_shown_without_passwords() {
        let cases = [
            ("ledger.db", Backend::Sqlite, "ledger.db"),
            ("/srv/a b/ledger.db", Backend::Sqlite, "/srv/a b/ledger.db"),
            ("postgres://sy:hunter2@db:5432/ledger", Backend::Postgres, "postgres://sy:***@db:5432/ledger"),
            ("postgresql://db/ledger?sslmode=require", Backend::Postgres, "postgresql://db/ledger?sslmode=require"),
            ("postgres://only@db/x", Backend::Postgres, "postgres://only@db/x"),
        ];
        for (text, backend, shown) in cases {
            let location = Location::parse(text);
            assert_eq!(location.backend(), backend, "{text}");
            assert_eq!(location.to_string(), shown, "{text}");
            assert!(!format!("{location:?}").contains("hunter2"));
        }
    }

    #[test]
    fn sqlite_urls_keep_every_byte_of_the_path() {
        let url = sqlite_url(Path::new("/tmp/50% off?#x y/ledger.db")).unwrap_or_default();
        assert_eq!(url, "sqlite:///tmp/50%25%20off%3F%23x%20y/ledger.db?mode=rwc");
    }
}
