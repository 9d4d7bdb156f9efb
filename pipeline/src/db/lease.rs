//! The writer lease (`cli.md`, "One writer at a time"): every command that writes the lake or
//! the database holds it, so two processes — on one machine or several sharing the database —
//! never write at once. It is a row that names its holder and expires unless renewed, so the
//! lease of a holder that died (kill -9, a lost machine) ends by itself.
//!
//! Taking it is one statement on either engine: insert the row, or take it over when it has
//! expired. The database serialises two takers (a primary key on PostgreSQL, the write lock on
//! SQLite), so exactly one of them gets it. A holder on this machine whose process is gone is
//! dead at once: its lease is taken over without waiting for the expiry, which is for holders
//! on other machines.

use super::{Database, DbResult};
use chrono::{SecondsFormat, Utc};
use sqlx::Row;
use std::time::Duration;

/// The one lease of writers.
const WRITER: &str = "writer";

/// A held lease: renew it well within its expiry, release it when done.
pub struct Lease {
    db: Database,
    token: String,
    expiry: Duration,
}

/// Who holds the lease, as the waiting writer reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The run, its command and arguments.
    pub holder: String,
    pub host: String,
    pub pid: i64,
    pub since: String,
    /// Milliseconds until it expires unless renewed.
    pub expires_in_ms: i64,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} on {} pid {} since {} (its lease expires in {} s unless renewed)",
            self.holder,
            self.host,
            self.pid,
            self.since,
            (self.expires_in_ms.max(0) + 999) / 1000
        )
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl Database {
    /// Take the writer lease for `holder` (its run, command and arguments) on `host`, waiting
    /// up to `wait` for its current holder to release it or to expire. `Err(holder)` names
    /// whoever still holds it then.
    pub async fn take_lease(
        &self,
        holder: &str,
        host: &str,
        expiry: Duration,
        wait: Duration,
    ) -> DbResult<Result<Lease, Holder>> {
        let token = format!("{host} {} #{:x}", std::process::id(), rand_token());
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let now = now_ms();
            // Expired, or held by a process of this machine that is gone.
            let dead_here = self
                .lease_holder()
                .await?
                .filter(|h| h.host == host && !process_alive(h.pid));
            let taken = sqlx::query(
                "INSERT INTO leases (name, holder, host, pid, token, since, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                 host = excluded.host, pid = excluded.pid, token = excluded.token, \
                 since = excluded.since, expires_at = excluded.expires_at \
                 WHERE leases.expires_at < $8 OR (leases.host = $9 AND leases.pid = $10)",
            )
            .bind(WRITER)
            .bind(holder)
            .bind(host)
            .bind(i64::from(std::process::id()))
            .bind(&token)
            .bind(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true))
            .bind(now + expiry.as_millis() as i64)
            .bind(now)
            .bind(dead_here.as_ref().map_or("", |h| h.host.as_str()))
            .bind(dead_here.as_ref().map_or(-1, |h| h.pid))
            .execute(self.pool())
            .await;
            let taken = match taken {
                // SQLite's write lock is held (a writer's long commit): the lease is busy.
                Err(sqlx::Error::Database(e)) if e.message().contains("locked") => None,
                taken => Some(taken?),
            };
            if taken.is_some_and(|t| t.rows_affected() == 1) {
                return Ok(Ok(Lease {
                    db: self.clone(),
                    token,
                    expiry,
                }));
            }
            let current = self.lease_holder().await?;
            if tokio::time::Instant::now() >= deadline {
                if let Some(current) = current {
                    return Ok(Err(current));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Who holds the writer lease now, if anyone does (an expired lease is nobody's).
    pub async fn lease_holder(&self) -> DbResult<Option<Holder>> {
        let row =
            sqlx::query("SELECT holder, host, pid, since, expires_at FROM leases WHERE name = $1")
                .bind(WRITER)
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: i64 = row.try_get("expires_at")?;
        let expires_in_ms = expires_at - now_ms();
        Ok((expires_in_ms >= 0).then(|| Holder {
            holder: row.try_get("holder").unwrap_or_default(),
            host: row.try_get("host").unwrap_or_default(),
            pid: row.try_get("pid").unwrap_or_default(),
            since: row.try_get("since").unwrap_or_default(),
            expires_in_ms,
        }))
    }
}

impl Lease {
    /// How long the lease lasts after each renewal.
    pub fn expiry(&self) -> Duration {
        self.expiry
    }

    /// Extend the lease; false when it was lost (it expired and another writer took it).
    pub async fn renew(&self) -> DbResult<bool> {
        let renewed =
            sqlx::query("UPDATE leases SET expires_at = $1 WHERE name = $2 AND token = $3")
                .bind(now_ms() + self.expiry.as_millis() as i64)
                .bind(WRITER)
                .bind(&self.token)
                .execute(self.db.pool())
                .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Give the lease up (nothing happens if it was lost).
    pub async fn release(&self) -> DbResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND token = $2")
            .bind(WRITER)
            .bind(&self.token)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

/// Whether process `pid` of this machine is running (Linux's `/proc`; elsewhere every holder is
/// taken to be alive, and only its lease's expiry frees it).
fn process_alive(pid: i64) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// A token that tells this holder's lease from a later one of the same name.
fn rand_token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}
