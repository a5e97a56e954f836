//! The database: SQLite (embedded default) or PostgreSQL, through sea-orm.
//!
//! Every query that reads or changes an organization's data goes through [`Scoped`], which
//! carries the organization id and adds it to every filter: a token of one organization cannot
//! reach another's rows, whatever a handler does (DESIGN §3 invariant 8).
//!
//! SQLite allows one writer at a time; billbridge serialises its write transactions in-process
//! (a single-writer lock) instead of letting concurrent transactions fail with `SQLITE_BUSY`.
//! PostgreSQL needs no such lock.

pub mod audit;
pub mod bills;
pub mod deliveries;
pub mod entities;
pub mod jobs;
pub mod orgs;
pub mod payments;
pub mod qonto_connections;
pub mod sources;

use std::sync::Arc;
use std::time::Duration;

use migrations::MigratorTrait;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    TransactionTrait,
};

use crate::ids::OrgId;

/// A storage error. `is_transient` says whether retrying later may succeed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Connection and lock problems may pass; constraint violations and missing rows will not.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Db(e) => {
                matches!(
                    e,
                    DbErr::Conn(_) | DbErr::ConnectionAcquire(_) | DbErr::Exec(_)
                ) && e.sql_err().is_none()
            }
            _ => false,
        }
    }

    /// Whether this is a unique-constraint violation (a concurrent insert won the race).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))))
    }
}

/// Turn Nagle's algorithm off (`TCP_NODELAY`) on this process's TCP sockets to `port` (the
/// PostgreSQL server's), called for each new PostgreSQL connection.
///
/// sqlx 0.9.0 stopped setting `TCP_NODELAY` (transact-rs/sqlx#4335; the fix, #4336, is merged
/// but not released) and offers no way to reach its socket. Without it, a statement whose
/// message does not fit what the socket sends at once waits for the server's delayed ACK,
/// 40 ms, before its last bytes go: intake's multi-row inserts (tens of KiB per batch) spent
/// most of their time so (a 20-bill batch: ~100 ms over TCP, ~10 ms over a Unix socket).
/// Remove this once sqlx sets the option itself.
#[cfg(target_os = "linux")]
fn no_delay_towards(port: u16) {
    use std::os::fd::FromRawFd;
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in fds.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // SAFETY: the descriptor is only borrowed: `ManuallyDrop` never closes it. Should it
        // have been closed or reused meanwhile, the calls below fail (not a socket) or set
        // `TCP_NODELAY` on another TCP socket, which only sends its small writes sooner.
        let socket = std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(fd) });
        if socket.peer_addr().is_ok_and(|a| a.port() == port) {
            if let Err(e) = socket.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY on a PostgreSQL connection");
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn no_delay_towards(_port: u16) {}

/// Prepared statements each connection keeps (sqlx's default is 100).
const STATEMENT_CACHE: usize = 400;

/// A write transaction; on SQLite it also holds the single-writer lock until it ends.
pub struct WriteTxn {
    pub txn: DatabaseTransaction,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.txn.commit().await?;
        Ok(())
    }
}

/// The database handle shared by the HTTP server, the workers and the CLI.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
    /// The intake writer (group commit of incoming bills, see [`bills::IntakeWriter`]).
    intake: Arc<bills::IntakeWriter>,
}

impl Store {
    /// Connect. SQLite gets WAL, `synchronous=FULL` (a commit is on disk before we answer
    /// 201), a busy timeout and foreign keys.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let pg_port = url
            .parse::<sea_orm::sqlx::postgres::PgConnectOptions>()
            .map_or(5432, |o| o.get_port());
        let mut opts = ConnectOptions::new(url.to_string());
        opts.max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            .sqlx_logging(false)
            // Room for intake's batch statements (a few row counts per table, see
            // `insert_runs`) beside everything else, so that none is prepared again and again.
            .map_sqlx_postgres_opts(|o| o.statement_cache_capacity(STATEMENT_CACHE))
            .map_sqlx_postgres_pool_opts(move |o| {
                o.after_connect(move |_, _| {
                    Box::pin(async move {
                        no_delay_towards(pg_port);
                        Ok(())
                    })
                })
            })
            .map_sqlx_sqlite_opts(|o| {
                o.statement_cache_capacity(STATEMENT_CACHE)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        let db = Database::connect(opts).await?;
        let write_lock = (db.get_database_backend() == DatabaseBackend::Sqlite)
            .then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Store {
            db,
            write_lock,
            intake: Arc::default(),
        })
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Apply pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrations::Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Names of migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        Ok(migrations::Migrator::get_pending_migrations(&self.db)
            .await?
            .iter()
            .map(|m| m.name().to_string())
            .collect())
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    /// Begin a write transaction (serialised on SQLite).
    pub async fn begin_write(&self) -> Result<WriteTxn, StoreError> {
        let guard = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        // On SQLite, `BEGIN IMMEDIATE` takes the database's write lock at once, so a writer in
        // another process (the CLI beside a running `serve`, a second store) waits for it
        // (busy timeout) instead of failing when a deferred read transaction tries to write.
        let txn = if guard.is_some() {
            self.db
                .begin_with_options(sea_orm::TransactionOptions {
                    sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?
        } else {
            self.db.begin().await?
        };
        Ok(WriteTxn { txn, _guard: guard })
    }

    /// Queries limited to one organization's rows.
    pub fn scoped(&self, org: &OrgId) -> Scoped<'_> {
        Scoped {
            store: self,
            org: org.clone(),
        }
    }
}

/// A view of the store limited to one organization: every finder filters on its id.
pub struct Scoped<'a> {
    pub(crate) store: &'a Store,
    pub(crate) org: OrgId,
}

impl Scoped<'_> {
    pub fn org(&self) -> &OrgId {
        &self.org
    }
}

/// The time rows are stamped with.
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// Rows for multi-row inserts, in runs of a power-of-two length (1, 2, 4 … 64) that stay
/// under the bound-parameter limit (SQLite's 32766 is the lower one; PostgreSQL's is 65535)
/// with `columns` parameters per row.
///
/// Why powers of two: the statement's SQL text depends on its number of rows, and a text the
/// connection has not prepared yet costs a prepare (on PostgreSQL an extra round trip) and
/// pushes another statement out of the connection's cache. With a handful of lengths per
/// table every intake statement is soon prepared once and reused.
pub(crate) fn insert_runs<T>(rows: Vec<T>, columns: usize) -> Vec<Vec<T>> {
    let mut max_rows = 64;
    while max_rows > 1 && max_rows * columns > 30_000 {
        max_rows /= 2;
    }
    let mut runs = Vec::new();
    let mut rest = rows.into_iter();
    let mut left = rest.len();
    while left > 0 {
        let mut n = max_rows;
        while n > left {
            n /= 2;
        }
        runs.push(rest.by_ref().take(n).collect::<Vec<T>>());
        left -= n;
    }
    runs
}

/// `values` sorted, deduplicated and padded (with the last one repeated) to a power-of-two
/// length, for an `IN (…)` list: a few statement texts instead of one per length (see
/// [`insert_runs`]).
pub(crate) fn in_list<'a>(values: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let set: std::collections::BTreeSet<&String> = values.into_iter().collect();
    let mut list: Vec<String> = set.into_iter().cloned().collect();
    if let Some(last) = list.last().cloned() {
        list.resize(list.len().next_power_of_two(), last);
    }
    list
}

/// SHA-256 in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_runs_are_powers_of_two_within_the_parameter_limit() {
        let lens = |rows: usize, columns: usize| -> Vec<usize> {
            insert_runs((0..rows).collect(), columns)
                .iter()
                .map(Vec::len)
                .collect()
        };
        assert_eq!(lens(0, 5), Vec::<usize>::new());
        assert_eq!(lens(21, 5), vec![16, 4, 1]);
        assert_eq!(lens(64, 29), vec![64]);
        assert_eq!(lens(130, 29), vec![64, 64, 2]);
        // 1,000 parameters per row: at most 16 rows (16,000 ≤ 30,000 < 32 × 1,000).
        assert_eq!(lens(40, 1_000), vec![16, 16, 8]);
        // Order is kept.
        let flat: Vec<u32> = insert_runs((0..21).collect(), 5).concat();
        assert_eq!(flat, (0..21).collect::<Vec<u32>>());
    }

    #[test]
    fn in_lists_are_distinct_and_padded_to_a_power_of_two() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<String>>();
        assert_eq!(in_list(&v(&[])), Vec::<String>::new());
        assert_eq!(in_list(&v(&["b", "a", "b"])), v(&["a", "b"]));
        assert_eq!(in_list(&v(&["c", "a", "b"])), v(&["a", "b", "c", "c"]));
    }
}
