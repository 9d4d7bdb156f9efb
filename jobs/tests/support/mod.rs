//! What the binary's tests share: a work directory with a database and a lake of its own, and
//! kakin run there as an operator would run it.
#![allow(dead_code)] // each test file uses its own part

use pipeline::testing::{files_under, ScratchDatabase};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `kakin ARGS` in `dir` with the settings `env` (and no failpoint from outside).
pub fn kakin(dir: &Path, env: &[(&str, String)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kakin"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("KAKIN_FAILPOINT");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("kakin runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A work directory, a database and a lake (`<dir>/lake`) of its own, and where the logs come
/// in (`incoming` of the directory).
pub struct Site {
    pub dir: tempfile::TempDir,
    pub env: Vec<(&'static str, String)>,
    _scratch: ScratchDatabase,
}

impl Site {
    pub fn new(scratch: ScratchDatabase, incoming: impl FnOnce(&Path) -> String) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("KAKIN_DATABASE_URL", scratch.url.clone()),
            (
                "KAKIN_LAKE_URL",
                format!("file://{}/lake", dir.path().display()),
            ),
            ("KAKIN_INCOMING_URL", incoming(dir.path())),
        ];
        Site {
            dir,
            env,
            _scratch: scratch,
        }
    }

    /// A site with `env` added to its settings, after `steps` (each a command line) succeeded.
    pub fn prepared(
        scratch: ScratchDatabase,
        incoming: impl FnOnce(&Path) -> String,
        env: Vec<(&'static str, String)>,
        steps: &[&[&str]],
    ) -> Site {
        let mut site = Site::new(scratch, incoming);
        site.env.extend(env);
        for args in steps {
            let out = site.run(args, None);
            assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        }
        site
    }

    /// The guide's statement (`data/guide-statement`) imported and ingested, not yet closed.
    pub fn guide(scratch: ScratchDatabase, env: Vec<(&'static str, String)>) -> Site {
        let guide = pipeline::testing::guide_statement();
        let master = guide.join("master").display().to_string();
        let slips = guide.join("adjustments-2023-05.csv").display().to_string();
        let incoming = format!("file://{}", guide.join("incoming").display());
        let steps: [&[&str]; 3] = [
            &["master", "import", &master],
            &["adjustments", "import", &slips],
            &["ingest"],
        ];
        Site::prepared(scratch, |_| incoming, env, &steps)
    }

    /// The demo's files (`keychips` key-chips, a `month` of logs) generated into `demo/` of the
    /// site, its master data imported, then `steps`.
    pub fn demo(
        scratch: ScratchDatabase,
        keychips: &str,
        month: &str,
        env: Vec<(&'static str, String)>,
        steps: &[&[&str]],
    ) -> Site {
        let generate: &[&str] = &[
            "demo",
            "--keychips",
            keychips,
            "--month",
            month,
            "--generate-only",
            "--dir",
            "demo",
        ];
        let import: &[&str] = &["master", "import", "demo/master"];
        let all: Vec<&[&str]> = [generate, import]
            .into_iter()
            .chain(steps.iter().copied())
            .collect();
        let incoming = |dir: &Path| format!("file://{}/demo/incoming", dir.display());
        Site::prepared(scratch, incoming, env, &all)
    }

    pub fn kakin(&self, args: &[&str]) -> Command {
        kakin(self.dir.path(), &self.env, args)
    }

    /// `kakin ARGS`, killed at the failpoint when one is named.
    pub fn run(&self, args: &[&str], failpoint: Option<&str>) -> Output {
        let mut command = self.kakin(args);
        if let Some(name) = failpoint {
            command.env("KAKIN_FAILPOINT", name);
        }
        run(&mut command)
    }

    /// Every file of the lake, with its bytes.
    pub fn lake(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        files_under(&self.dir.path().join("lake"))
    }
}

/// A moto S3 server of our own, stopped when dropped.
pub struct S3Server {
    child: std::process::Child,
    env: Vec<(&'static str, String)>,
}

impl S3Server {
    pub fn start() -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's server (pip install 'moto[server]')");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let env = vec![
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{port}")),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "kakin".into()),
            ("AWS_SECRET_ACCESS_KEY", "kakin-secret".into()),
            ("AWS_REGION", "us-east-1".into()),
        ];
        S3Server { child, env }
    }

    /// kakin's settings on this server: the lake in bucket `lake`, deliveries in `incoming`.
    pub fn site_env(&self, database_url: &str) -> Vec<(&'static str, String)> {
        let mut env = self.env.clone();
        env.push(("KAKIN_DATABASE_URL", database_url.to_owned()));
        env.push(("KAKIN_LAKE_URL", "s3://lake/kakin".into()));
        env.push(("KAKIN_INCOMING_URL", "s3://incoming".into()));
        env
    }

    /// A work directory and kakin's settings on this server, `master` imported.
    pub fn site(
        &self,
        database_url: &str,
        master: &Path,
    ) -> (tempfile::TempDir, Vec<(&'static str, String)>) {
        let work = tempfile::tempdir().unwrap();
        let env = self.site_env(database_url);
        let import = ["master", "import", master.to_str().unwrap()];
        let out = run(&mut kakin(work.path(), &env, &import));
        assert!(out.status.success(), "{}", text(&out.stderr));
        (work, env)
    }

    pub fn s3(&self, args: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/s3.py");
        let out = Command::new("python3")
            .arg(script)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "s3.py {args:?}: {}",
            text(&out.stderr)
        );
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
