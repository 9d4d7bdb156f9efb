//! `kakin close` as finance runs it: a killed close takes no number and shows nothing, and its
//! rerun writes what an uninterrupted close writes.

use pipeline::testing::{files_under, ScratchDatabase};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn guide() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/guide-statement")
}

/// The guide's statement imported and ingested into a database and lake of their own.
struct Site {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
    _scratch: ScratchDatabase,
}

impl Site {
    fn new(scratch: ScratchDatabase) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("KAKIN_DATABASE_URL", scratch.url.clone()),
            (
                "KAKIN_LAKE_URL",
                format!("file://{}/lake", dir.path().display()),
            ),
            (
                "KAKIN_INCOMING_URL",
                format!("file://{}", guide().join("incoming").display()),
            ),
        ];
        let site = Site {
            dir,
            env,
            _scratch: scratch,
        };
        let master = guide().join("master");
        let slips = guide().join("adjustments-2023-05.csv");
        for args in [
            vec!["master", "import", master.to_str().unwrap()],
            vec!["adjustments", "import", slips.to_str().unwrap()],
            vec!["ingest"],
        ] {
            let out = site.run(&args, None);
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        site
    }

    fn run(&self, args: &[&str], failpoint: Option<&str>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kakin"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("KAKIN_FAILPOINT");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        if let Some(name) = failpoint {
            command.env("KAKIN_FAILPOINT", name);
        }
        command.output().expect("kakin runs")
    }

    fn closes(&self) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        files_under(&self.dir.path().join("lake"))
            .into_iter()
            .filter(|(p, _)| p.to_string_lossy().contains("closing_month="))
            .collect()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_killed_close_takes_no_number_and_its_rerun_writes_the_same_bytes() {
    for [clean, killed] in [
        [ScratchDatabase::sqlite(), ScratchDatabase::sqlite()],
        [
            ScratchDatabase::postgres().await,
            ScratchDatabase::postgres().await,
        ],
    ] {
        let clean = Site::new(clean);
        let out = clean.run(&["close", "2023-05"], None);
        assert!(out.status.success());
        assert!(
            stdout(&out).contains("請求書 1700000 229999000: 34220 + tax 3422 = 37642 yen"),
            "{}",
            stdout(&out)
        );
        assert!(
            stdout(&out).contains("支払合計 229999000: お支払合計金額 83188 yen"),
            "{}",
            stdout(&out)
        );

        let killed = Site::new(killed);
        let out = killed.run(&["close", "2023-05"], Some("close-before-commit"));
        assert!(!out.status.success(), "the failpoint kills the close");
        assert!(!killed.closes().is_empty(), "its files were put in place");
        let rerun = killed.run(&["close", "2023-05"], None);
        assert!(rerun.status.success());
        assert!(
            stdout(&rerun).contains("請求書 1700000 229999000"),
            "no number was taken: {}",
            stdout(&rerun)
        );
        assert!(
            killed.closes() == clean.closes(),
            "the rerun writes the uninterrupted close's bytes"
        );
        let again = killed.run(&["close", "2023-05"], None);
        assert!(
            stdout(&again).contains("2023-05 is already closed"),
            "{}",
            stdout(&again)
        );
    }
}
