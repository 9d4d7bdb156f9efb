//! kakin (課金): the batch pipeline that bills and pays arcade operators.
//!
//! The library is named by its stages. [`domain`] holds the types every value is parsed into
//! (no I/O); [`sheet`] reads the CSV files people and collectors hand in; [`db`] is the ledger
//! database (SQLite or PostgreSQL); [`master`] imports master data and adjustment slips;
//! [`ingest`] takes the collectors' logs into the [`lake`]; [`close`] turns a month of them into
//! statements, which [`documents`] renders as PDFs and [`notify`] announces by email; [`export`]
//! and [`query`] are how finance and analysts read them.
//! [`config`] is the configuration every command reads; [`schedule`] says when the unattended
//! jobs are due. The `kakin` binary (crate `jobs`)
//! turns commands into calls of these stages; the library never knows the binary.

pub mod close;
pub mod config;
pub mod db;
pub mod documents;
pub mod domain;
pub mod export;
pub mod ingest;
pub mod lake;
pub mod master;
pub mod notify;
pub mod query;
pub mod schedule;
pub mod sheet;
#[cfg(feature = "testing")]
pub mod testing;

/// A named point where a test may have the process die (`KAKIN_FAILPOINT=<name>`, or
/// `<name>@<n>` for its n-th passage), as a kill at the worst moment would, or pause there
/// once (`<name>~<milliseconds>`, so that a test can signal a job in the middle): the tests of
/// atomicity and of a graceful stop use it. Does nothing otherwise.
pub fn failpoint(name: &str) {
    static HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let Ok(wanted) = std::env::var("KAKIN_FAILPOINT") else {
        return;
    };
    if let Some((wanted, pause)) = wanted.split_once('~') {
        static PAUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if wanted == name && !PAUSED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let millis = pause.parse().unwrap_or(1000);
            eprintln!("failpoint {name}: pausing {millis} ms");
            std::thread::sleep(std::time::Duration::from_millis(millis));
        }
        return;
    }
    let (wanted, nth) = match wanted.split_once('@') {
        Some((wanted, nth)) => (wanted.to_owned(), nth.parse().unwrap_or(1)),
        None => (wanted, 1),
    };
    if wanted == name && HITS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == nth {
        eprintln!("failpoint {name} (hit {nth}): aborting");
        std::process::abort();
    }
}
