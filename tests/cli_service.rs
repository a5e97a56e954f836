//! The operator's commands against a fresh SQLite database: migrate, orgs, sources, ingest.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Env {
    dir: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = std::env::temp_dir().join(format!("billbridge-cli-svc-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        Env { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_billbridge"))
            .args(args)
            .current_dir(&self.dir)
            .env(
                "BILLBRIDGE_DATABASE_URL",
                format!("sqlite://{}/bb.db?mode=rwc", self.dir.display()),
            )
            .env_remove("BILLBRIDGE_SECRET_KEY")
            .output()
            .unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/tests/fixtures")
}

#[test]
fn onboard_a_backlog_from_the_command_line() {
    let env = Env::new();
    let o = env.run(&["migrate"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = env.run(&["orgs", "create", "Atelier"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("API token"));
    let list = stdout(&env.run(&["orgs", "list"]));
    let org = list.split('\t').next().unwrap().trim().to_string();
    assert!(org.starts_with("org_"), "{list}");
    let o = env.run(&["sources", "create", "--org", &org, "backlog"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    let source = out.split_whitespace().nth(1).unwrap().to_string();
    assert!(out.contains("whsec_"));
    // The key file was created private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.dir.join("billbridge.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "key file mode {mode:o}");

    let fx = fixtures();
    let o = env.run(&["ingest", fx.to_str().unwrap(), "--source", &source]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout(&o).contains("3 file(s): 3 ready to pay, 0 held, 0 already known, 0 rejected"),
        "{}",
        stdout(&o)
    );
    // Again: nothing new.
    let o = env.run(&["ingest", fx.to_str().unwrap(), "--source", &source]);
    assert!(stdout(&o).contains("3 already known"), "{}", stdout(&o));
    // A broken file is reported and makes the run fail; the others still count.
    let bad = env.dir.join("broken.xml");
    std::fs::write(&bad, "<Invoice").unwrap();
    let o = env.run(&["ingest", bad.to_str().unwrap(), "--source", &source]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("1 rejected"), "{}", stdout(&o));
    // Unknown source, bad id: a message and a failure, not a panic.
    let o = env.run(&["ingest", fx.to_str().unwrap(), "--source", "src_nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("source"));
}

#[test]
fn bad_configuration_names_the_key() {
    let env = Env::new();
    std::fs::write(
        env.dir.join("billbridge.toml"),
        "[server]\nbind = \"nowhere\"\n",
    )
    .unwrap();
    let o = env.run(&["migrate"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("server.bind"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
