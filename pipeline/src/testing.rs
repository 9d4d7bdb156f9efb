//! What the tests of kakin share (the `testing` feature): throw-away databases — a SQLite file
//! in a temporary directory, or a PostgreSQL database of its own (created on the server named
//! by `KAKIN_TEST_POSTGRES_URL`, by default the local one), dropped when the value is dropped,
//! so that test runs never see each other's data — and the files of a directory tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The operators' guide's own statement as input files (`data/guide-statement/`): master data,
/// a slip, a month of deliveries and `expected.json`.
pub fn guide_statement() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/guide-statement")
}

/// A PDF's text as poppler's `pdftotext` reads it (layout kept): what a reader of the
/// document can find in it.
pub fn pdf_text(pdf: &[u8]) -> String {
    poppler("pdftotext", &["-layout", "-enc", "UTF-8"], pdf, &["-"])
}

/// A PDF's metadata as poppler's `pdfinfo` reads it (`Title:`, `Author:`, `Pages:` …).
pub fn pdf_info(pdf: &[u8]) -> String {
    poppler("pdfinfo", &["-enc", "UTF-8"], pdf, &[])
}

/// What poppler's `tool` prints of `pdf` (written to a temporary file), given `options` before
/// the file and `after` it.
fn poppler(tool: &str, options: &[&str], pdf: &[u8], after: &[&str]) -> String {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), pdf).expect("the PDF written");
    let out = std::process::Command::new(tool)
        .args(options)
        .arg(file.path())
        .args(after)
        .output()
        .unwrap_or_else(|e| panic!("poppler's {tool} runs (.ci/run installs poppler-utils): {e}"));
    assert!(out.status.success(), "{tool} failed: {out:?}");
    String::from_utf8(out.stdout).unwrap_or_else(|_| panic!("{tool} writes UTF-8"))
}

/// Hex SHA-256, as the ledger records documents.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Every file under `dir` (none if it does not exist), by path relative to `dir`, with its
/// bytes: what two lakes are compared by.
pub fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a readable directory").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("a readable file");
                files.insert(
                    path.strip_prefix(dir).expect("under dir").to_path_buf(),
                    bytes,
                );
            }
        }
    }
    files
}

/// A database that exists as long as this value.
pub struct ScratchDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

impl ScratchDatabase {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}/kakin.db", dir.path().display());
        ScratchDatabase {
            url,
            postgres: None,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let server = std::env::var("KAKIN_TEST_POSTGRES_URL").unwrap_or(DEFAULT_SERVER.into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "kakin_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin(&server, &format!("CREATE DATABASE {name}")).await;
        let base = server
            .rsplit_once('/')
            .map_or(server.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        ScratchDatabase {
            url,
            postgres: Some((server, name)),
            _dir: None,
        }
    }

    /// Both engines, for tests that must pass on each.
    pub async fn each() -> [ScratchDatabase; 2] {
        [ScratchDatabase::sqlite(), ScratchDatabase::postgres().await]
    }
}

async fn admin(server: &str, statement: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {server} is needed by the tests: {e}"));
    sqlx::Executor::execute(&mut conn, statement)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Some((server, name)) = self.postgres.take() {
            let drop_it = move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(admin(
                        &server,
                        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    ))
            };
            let _ = std::thread::spawn(drop_it).join();
        }
    }
}

/// A test that must pass on each engine, written once and run as two tests named after their
/// engine (`name::sqlite`, `name::postgres`), so that a failure names its engine and one
/// engine's failure does not hide the other's. The body gets a [`ScratchDatabase`] of its
/// engine under each name given (several for a test that compares runs):
///
/// ```ignore
/// each_engine! {
///     async fn a_month_closes(scratch) {
///         let network = Network::new(scratch).await;
///     }
/// }
/// ```
#[macro_export]
macro_rules! each_engine {
    ($(async fn $name:ident($($scratch:ident),+) $body:block)+) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                use $crate::testing::ScratchDatabase;

                async fn the_test($($scratch: ScratchDatabase),+) $body

                #[tokio::test]
                async fn sqlite() {
                    the_test($({ stringify!($scratch); ScratchDatabase::sqlite() }),+).await
                }

                #[tokio::test]
                async fn postgres() {
                    the_test($({ stringify!($scratch); ScratchDatabase::postgres().await }),+).await
                }
            }
        )+
    };
}

/// A real SMTP server for a test (aiosmtpd, from PyPI): on a free local port, writing every
/// message it accepts into a Maildir of its own; stopped when dropped.
pub struct SmtpServer {
    pub port: u16,
    maildir: tempfile::TempDir,
    child: std::process::Child,
}

fn mail_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testing/mail.py")
}

/// What a benchmark prints first: the machine's cores and the build's profile.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    format!("machine: {cores} cores; profile: {profile}")
}

/// A local port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::start_on(free_port())
    }

    /// The server on `port` (a test that starts it after kakin found it down).
    pub fn start_on(port: u16) -> SmtpServer {
        use std::io::BufRead;
        let maildir = tempfile::tempdir().expect("a temporary directory");
        let mut child = std::process::Command::new("python3")
            .arg(mail_script())
            .arg("serve")
            .arg(maildir.path().join("mail"))
            .arg(port.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut ready = String::new();
        let stdout = child.stdout.take().expect("piped");
        std::io::BufReader::new(stdout)
            .read_line(&mut ready)
            .expect("the server says it is ready");
        assert_eq!(
            ready.trim(),
            "ready",
            "aiosmtpd started (pip install aiosmtpd)"
        );
        SmtpServer {
            port,
            maildir,
            child,
        }
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received, parsed by Python's `email` package: `message_id`, `from`,
    /// `reply_to`, `to`, `cc`, `bcc`, `subject` (decoded), `raw_subject`, `body`,
    /// `attachments` (`filename`, `content_type`, `sha256`), `headers`; by Message-ID.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let out = std::process::Command::new("python3")
            .arg(mail_script())
            .arg("read")
            .arg(self.maildir.path().join("mail"))
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the reader prints JSON")
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
