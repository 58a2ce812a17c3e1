//! The `linktoken` command, run as a program against a site's configuration in a temporary
//! directory, on SQLite and (when `LINKTOKEN_TEST_POSTGRES_URL` and `LINKTOKEN_TEST_MYSQL_URL`
//! are set) PostgreSQL and MySQL.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const SECRET: &str = "cli-test-secret-0123456789abcdef-0123456789";

/// The variable naming a PostgreSQL server where the tests may create databases.
#[cfg(feature = "postgres")]
const POSTGRES_URL_VAR: &str = "LINKTOKEN_TEST_POSTGRES_URL";

/// The variable naming a MySQL server where the tests may create databases.
#[cfg(feature = "mysql")]
const MYSQL_URL_VAR: &str = "LINKTOKEN_TEST_MYSQL_URL";

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    Mysql,
}

/// The server's URL from the environment, or `None` after saying the test is skipped.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn server_url(var: &str) -> Option<String> {
    let url = std::env::var(var).ok();
    if url.is_none() {
        let test = std::thread::current()
            .name()
            .unwrap_or("a test")
            .to_string();
        let _ = writeln!(std::io::stderr(), "{test}: skipped, {var} is not set");
    }
    url
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A directory holding a `Rocket.toml` whose only database exists as long as this value.
struct Site {
    dir: PathBuf,
    url: String,
    #[cfg(feature = "postgres")]
    postgres: Option<(String, String)>,
    #[cfg(feature = "mysql")]
    mysql: Option<(String, String)>,
}

/// What a run of the command left.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Site {
    /// A site on a new, empty database; `None` (after saying so) when PostgreSQL or MySQL is
    /// asked for and no server is configured.
    fn new(backend: Backend) -> Option<Site> {
        let dir = std::env::temp_dir().join(unique("linktoken_cli"));
        std::fs::create_dir_all(&dir).unwrap();
        let site = match backend {
            Backend::Sqlite => Site {
                url: format!("sqlite://{}?mode=rwc", dir.join("app.sqlite").display()),
                dir,
                #[cfg(feature = "postgres")]
                postgres: None,
                #[cfg(feature = "mysql")]
                mysql: None,
            },
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let admin = server_url(POSTGRES_URL_VAR)?;
                let name = unique("linktoken_cli");
                postgres_admin(&admin, &format!("CREATE DATABASE {name}"));
                let (server, _) = admin.rsplit_once('/').unwrap();
                Site {
                    url: format!("{server}/{name}"),
                    dir,
                    postgres: Some((admin, name)),
                    #[cfg(feature = "mysql")]
                    mysql: None,
                }
            }
            #[cfg(feature = "mysql")]
            Backend::Mysql => {
                let admin = server_url(MYSQL_URL_VAR)?;
                let name = unique("linktoken_cli");
                mysql_admin(&admin, &format!("CREATE DATABASE {name}"));
                let (server, _) = admin.rsplit_once('/').unwrap();
                Site {
                    url: format!("{server}/{name}"),
                    dir,
                    #[cfg(feature = "postgres")]
                    postgres: None,
                    mysql: Some((admin, name)),
                }
            }
        };
        site.configure(&site.url);
        Some(site)
    }

    /// Points the site's configuration at `url`.
    fn configure(&self, url: &str) {
        let toml = format!(
            "[default.databases.app]\nurl = \"{url}\"\n\n[default.linktoken]\nsecret = \"{SECRET}\"\n"
        );
        std::fs::write(self.dir.join("Rocket.toml"), toml).unwrap();
    }

    /// Runs `linktoken` in the site's directory, with no `ROCKET_*` variable of the test's own.
    fn run(&self, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_linktoken"));
        command.args(args).current_dir(&self.dir);
        for (name, _) in std::env::vars() {
            if name.starts_with("ROCKET_") {
                command.env_remove(name);
            }
        }
        let output = command.output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Issues a link and returns its id and URL, the last word printed.
    fn issue(&self, args: &[&str]) -> (String, String) {
        let run = self.run(&[&["issue"], args].concat());
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
        let jti = run
            .stdout
            .lines()
            .next()
            .unwrap()
            .strip_prefix("jti      ")
            .unwrap();
        let url = run.stdout.split_whitespace().last().unwrap();
        (jti.to_string(), url.to_string())
    }

    /// Creates the library's tables, as the application does when it launches.
    fn create_tables(&self) {
        use rocket_linktoken::LedgerPool as _;
        let runtime = rocket::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            #[cfg(feature = "postgres")]
            if self.postgres.is_some() {
                let pool = rocket_db_pools::sqlx::PgPool::connect(&self.url)
                    .await
                    .unwrap();
                pool.ledger().migrate().await.unwrap();
                pool.close().await;
                return;
            }
            #[cfg(feature = "mysql")]
            if self.mysql.is_some() {
                let pool = rocket_db_pools::sqlx::MySqlPool::connect(&self.url)
                    .await
                    .unwrap();
                pool.ledger().migrate().await.unwrap();
                pool.close().await;
                return;
            }
            let pool = rocket_db_pools::sqlx::SqlitePool::connect(&self.url)
                .await
                .unwrap();
            pool.ledger().migrate().await.unwrap();
            pool.close().await;
        });
    }

    /// Runs statements on the site's database, on a connection of their own.
    fn sql(&self, statements: &str) {
        use rocket_db_pools::sqlx::{Connection, Executor};
        let runtime = rocket::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            #[cfg(feature = "postgres")]
            if self.postgres.is_some() {
                let mut conn = rocket_db_pools::sqlx::PgConnection::connect(&self.url)
                    .await
                    .unwrap();
                conn.execute(statements).await.unwrap();
                return;
            }
            #[cfg(feature = "mysql")]
            if self.mysql.is_some() {
                let mut conn = rocket_db_pools::sqlx::MySqlConnection::connect(&self.url)
                    .await
                    .unwrap();
                conn.execute(statements).await.unwrap();
                return;
            }
            let mut conn = rocket_db_pools::sqlx::SqliteConnection::connect(&self.url)
                .await
                .unwrap();
            conn.execute(statements).await.unwrap();
        });
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        #[cfg(feature = "postgres")]
        if let Some((admin, name)) = &self.postgres {
            postgres_admin(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
        #[cfg(feature = "mysql")]
        if let Some((admin, name)) = &self.mysql {
            mysql_admin(admin, &format!("DROP DATABASE IF EXISTS {name}"));
        }
    }
}

#[cfg(feature = "mysql")]
fn mysql_admin(admin: &str, statement: &str) {
    use rocket_db_pools::sqlx::{Connection, Executor, MySqlConnection};
    let runtime = rocket::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut conn = MySqlConnection::connect(admin).await.unwrap();
        conn.execute(statement).await.unwrap();
    });
}

#[cfg(feature = "postgres")]
fn postgres_admin(admin: &str, statement: &str) {
    use rocket_db_pools::sqlx::{Connection, Executor, PgConnection};
    let runtime = rocket::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut conn = PgConnection::connect(admin).await.unwrap();
        conn.execute(statement).await.unwrap();
        conn.close().await.unwrap();
    });
}

/// Asserts a failed run: this exit status, nothing on stdout, and exactly `line` on stderr.
fn assert_fails(run: &Run, code: i32, line: &str) {
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (code, "", format!("{line}\n").as_str()),
    );
}

/// Asserts a failed run whose one line on stderr starts with `prefix`.
fn assert_fails_with_prefix(run: &Run, code: i32, prefix: &str) {
    assert_eq!((run.code, run.stdout.as_str()), (code, ""), "{run:?}");
    assert!(run.stderr.starts_with(prefix), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
}

/// The lines of an inspection that say whether the link holds.
fn verdict_lines(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|line| {
            ["signature ", "verdict ", "ledger ", "uses "]
                .iter()
                .any(|label| line.starts_with(label))
        })
        .collect()
}

/// Three attempts on 2026-11-30 (one still without a status) and one on 2026-12-01.
const ATTEMPTS: &str =
    "INSERT INTO linktoken_uses (jti, sub, scope, method, path, status, outcome, used_at)
    VALUES ('j1', '7', 'unsubscribe', 'POST', '/u/1', 200, 'spent', 1796000000),
           ('j1', '7', 'unsubscribe', 'POST', '/u/1', 500, 'returned', 1796000100),
           ('j2', '8', 'preferences', 'GET', '/p', NULL, 'spent', 1796000200),
           ('j1', '7', 'unsubscribe', 'POST', '/u/1', 410, 'used_up', 1796090000)";

fn issued_link_inspects_as_valid(site: &Site) {
    site.create_tables();
    let (jti, url) = site.issue(&["--user", "42", "--scope", "unsubscribe", "--target", "/u/7"]);
    assert!(url.starts_with("/u/7?rt=ey"), "{url}");
    let run = site.run(&["inspect", &url]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "jti        {jti}\nuser       42\nscope      unsubscribe\ntarget     /u/7\n"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(
        verdict_lines(&run),
        [
            "signature  valid",
            "verdict    valid",
            "ledger     no row: never used, never revoked by id",
            "uses       none"
        ]
    );
}

fn tampered_token_is_refused_for_its_signature(site: &Site) {
    site.create_tables();
    let (_, url) = site.issue(&["--user", "42", "--scope", "s", "--target", "/a"]);
    let token = url.split_once("rt=").unwrap().1;
    // One character of the signature's first byte changed, within the alphabet.
    let at = token.rfind('.').unwrap() + 1;
    let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
    let run = site.run(&["inspect", &tampered]);
    assert_eq!((run.code, run.stderr.as_str()), (3, ""), "{run:?}");
    assert_eq!(
        verdict_lines(&run)[..2],
        [
            "signature  refused: bad_signature (This link was not made by this site, or was altered.)",
            "verdict    refused: bad_signature (This link was not made by this site, or was altered.)",
        ]
    );
}

fn link_revoked_by_id_inspects_as_revoked(site: &Site) {
    site.create_tables();
    let (jti, url) = site.issue(&["--user", "42", "--scope", "s", "--target", "/a"]);
    let run = site.run(&["revoke", "--jti", &jti]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, format!("revoked the link {jti}\n").as_str(), "")
    );
    let run = site.run(&["inspect", &url]);
    assert_eq!(run.code, 3, "{run:?}");
    let lines = verdict_lines(&run);
    assert_eq!(
        lines[1],
        "verdict    refused: revoked (This link has been withdrawn.)"
    );
    assert!(
        lines[2].starts_with("ledger     uses 0 of -; first used -; last used -; revoked 20"),
        "{lines:?}"
    );
}

/// A `jti` is base64url, so one link in 64 has an id beginning with `-`: not a flag.
fn an_id_beginning_with_a_hyphen_is_revoked(site: &Site) {
    site.create_tables();
    let run = site.run(&["revoke", "--jti", "-oCCLIRqRmwEIhW3r5u5Aw"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "revoked the link -oCCLIRqRmwEIhW3r5u5Aw\n", "")
    );
    let run = site.run(&["revoke", "--user", "-7"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
}

fn user_revocation_covers_that_users_links_of_that_scope(site: &Site) {
    site.create_tables();
    let (_, revoked) = site.issue(&["--user", "7", "--scope", "s", "--target", "/a"]);
    let (_, other_scope) = site.issue(&["--user", "7", "--scope", "t", "--target", "/a"]);
    let (_, other_user) = site.issue(&["--user", "8", "--scope", "s", "--target", "/a"]);
    let run = site.run(&[
        "revoke",
        "--user",
        "7",
        "--scope",
        "s",
        "--before",
        "2099-01-01",
    ]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            0,
            "revoked every link of scope s of the user 7 issued before 2099-01-01T00:00:00Z\n",
            ""
        )
    );
    let codes: Vec<i32> = [&revoked, &other_scope, &other_user]
        .iter()
        .map(|url| site.run(&["inspect", url]).code)
        .collect();
    assert_eq!(codes, [3, 0, 0]);
    let run = site.run(&["revoke", "--user", "8"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(site.run(&["inspect", &other_user]).code, 3);
}

fn report_counts_attempts_in_each_format(site: &Site) {
    site.create_tables();
    site.sql(ATTEMPTS);
    let run = site.run(&["report"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            0,
            "day            count\n2026-11-30         3\n2026-12-01         1\ntotal              4\n",
            ""
        )
    );
    let run = site.run(&["report", "--by", "outcome", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            { "outcome": "returned", "count": 1 },
            { "outcome": "spent", "count": 2 },
            { "outcome": "used_up", "count": 1 },
        ])
    );
    let run = site.run(&["report", "--by", "status", "--format", "csv"]);
    assert_eq!(run.stdout, "status,count\n200,1\n410,1\n500,1\n,1\n");
    let run = site.run(&[
        "report",
        "--by",
        "scope",
        "--format",
        "csv",
        "--since",
        "2026-11-30T00:53:20Z",
        "--until",
        "2026-11-30T00:56:40Z",
    ]);
    // From the first attempt's second (1796000000) included, to the third's excluded.
    assert_eq!(run.stdout, "scope,count\nunsubscribe,2\n");
    let run = site.run(&[
        "report",
        "--scope",
        "unsubscribe",
        "--by",
        "status",
        "--format",
        "csv",
    ]);
    assert_eq!(run.stdout, "status,count\n200,1\n410,1\n500,1\n");
}

fn prune_deletes_old_attempts_and_expired_links(site: &Site) {
    assert_eq!(site.run(&["revoke", "--jti", "kept"]).code, 0);
    // Four attempts in 2001, one now.
    site.sql(&ATTEMPTS.replace("1796", "1000"));
    let now = chrono::Utc::now().timestamp();
    site.sql(&format!(
        "INSERT INTO linktoken_uses (jti, sub, scope, method, path, status, outcome, used_at)
            VALUES ('j3', '9', 'recent', 'GET', '/r', 200, 'spent', {now});
         INSERT INTO linktoken_tokens (jti, uses, expires_at)
            VALUES ('expired', 1, 1000), ('live', 1, {})",
        now + 3600
    ));
    let run = site.run(&[
        "prune",
        "--uses-older-than",
        "1d",
        "--expired",
        "--batch",
        "3",
    ]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(
        lines[0].starts_with("deleted 4 rows of linktoken_uses recorded before 20"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("deleted 1 rows of linktoken_tokens expired before 20"),
        "{lines:?}"
    );
    let run = site.run(&["report", "--by", "scope", "--format", "csv"]);
    assert_eq!(run.stdout, "scope,count\nrecent,1\n");
    // `kept` (revoked by id, no expiry) and `live` stay.
    assert_eq!(site.run(&["revoke", "--jti", "kept"]).code, 0);
    let run = site.run(&["prune", "--expired"]);
    assert!(
        run.stdout.starts_with("deleted 0 rows of linktoken_tokens"),
        "{run:?}"
    );
}

fn reading_a_database_without_tables_says_so_and_creates_none(site: &Site) {
    let message = "linktoken: the database has no linktoken tables: the application creates them when it launches (so does `linktoken revoke`)";
    assert_fails(&site.run(&["report"]), 1, message);
    assert_fails(&site.run(&["prune", "--expired"]), 1, message);
    assert_fails(&site.run(&["report"]), 1, message);
}

/// Runs each behaviour on a fresh site of every backend.
macro_rules! on_every_backend {
    ($($behaviour:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $behaviour() {
                if let Some(site) = super::Site::new(super::Backend::Sqlite) {
                    super::$behaviour(&site);
                }
            })*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(#[test]
            fn $behaviour() {
                if let Some(site) = super::Site::new(super::Backend::Postgres) {
                    super::$behaviour(&site);
                }
            })*
        }
        #[cfg(feature = "mysql")]
        mod mysql {
            $(#[test]
            fn $behaviour() {
                if let Some(site) = super::Site::new(super::Backend::Mysql) {
                    super::$behaviour(&site);
                }
            })*
        }
    };
}

on_every_backend!(
    issued_link_inspects_as_valid,
    tampered_token_is_refused_for_its_signature,
    link_revoked_by_id_inspects_as_revoked,
    an_id_beginning_with_a_hyphen_is_revoked,
    user_revocation_covers_that_users_links_of_that_scope,
    report_counts_attempts_in_each_format,
    prune_deletes_old_attempts_and_expired_links,
    reading_a_database_without_tables_says_so_and_creates_none,
);

#[test]
fn keygen_prints_32_random_bytes_in_base64url() {
    let site = Site::new(Backend::Sqlite).unwrap();
    let first = site.run(&["keygen"]);
    let second = site.run(&["keygen"]);
    for run in [&first, &second] {
        assert_eq!((run.code, run.stderr.as_str()), (0, ""));
        let secret = run.stdout.strip_suffix('\n').unwrap();
        assert_eq!(secret.len(), 43, "{secret}");
        assert!(
            secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{secret}"
        );
    }
    assert_ne!(first.stdout, second.stdout);
}

#[test]
fn issued_link_carries_the_asked_uses_and_data() {
    let site = Site::new(Backend::Sqlite).unwrap();
    site.create_tables();
    let (_, url) = site.issue(&[
        "--user",
        "42",
        "--scope",
        "s",
        "--target",
        "/a",
        "--ttl",
        "2h",
        "--max-uses",
        "3",
        "--data",
        r#"{"list":7}"#,
    ]);
    let run = site.run(&["inspect", &url]);
    assert!(
        run.stdout
            .contains("max uses   3\ndata       {\"list\":7}\n"),
        "{run:?}"
    );
    let issued = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("issued     "))
        .unwrap();
    let expires = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("expires    "))
        .unwrap();
    let (issued, expires) = (
        chrono::DateTime::parse_from_rfc3339(issued).unwrap(),
        chrono::DateTime::parse_from_rfc3339(expires).unwrap(),
    );
    assert_eq!((expires - issued).num_seconds(), 7200);
}

#[test]
fn bad_input_gets_one_line_and_status_2() {
    let site = Site::new(Backend::Sqlite).unwrap();
    assert_fails(
        &site.run(&["issue", "--user", "42"]),
        2,
        "linktoken: the following required arguments were not provided: --scope <SCOPE> --target <PATH> (see --help)",
    );
    assert_fails(
        &site.run(&["report", "--since", "yesterday"]),
        2,
        "linktoken: invalid value 'yesterday' for '--since <TIME>': `yesterday` is not a time: give RFC 3339 (2026-11-30T12:00:00Z), a date (2026-11-30), `now`, or an age such as 90d or 12h (see --help)",
    );
    assert_fails(
        &site.run(&["inspect", "not-a-token"]),
        2,
        "linktoken: malformed token: a token is three base64url segments joined by dots",
    );
    assert_fails(
        &site.run(&["inspect", "e30.e30.AAAA"]),
        2,
        "linktoken: malformed token: This link is damaged: its `jti` claim is missing or of the wrong type.",
    );
    assert_fails(
        &site.run(&[
            "issue", "--user", "42", "--scope", "s", "--target", "/a", "--data", "[1]",
        ]),
        2,
        "linktoken: A link could not be made: link data must be a JSON object.",
    );
    assert_fails(
        &site.run(&["prune"]),
        2,
        "linktoken: the following required arguments were not provided: --uses-older-than <AGE> (see --help)",
    );
    assert_fails(
        &site.run(&["revoke", "--jti", "a", "--user", "b"]),
        2,
        "linktoken: the argument '--jti <ID>' cannot be used with '--user <U>' (see --help)",
    );
}

#[test]
fn an_unreachable_database_gets_one_line_and_status_1() {
    let site = Site::new(Backend::Sqlite).unwrap();
    site.configure(&format!(
        "sqlite://{}/no/such/dir/app.sqlite",
        site.dir.display()
    ));
    assert_fails_with_prefix(
        &site.run(&["revoke", "--jti", "a"]),
        1,
        "linktoken: cannot reach the database `app`: ",
    );
    #[cfg(feature = "postgres")]
    {
        site.configure("postgres://postgres@127.0.0.1:1/nothing");
        assert_fails_with_prefix(
            &site.run(&["report"]),
            1,
            "linktoken: cannot reach the database `app`: ",
        );
    }
}

#[test]
fn every_command_has_help() {
    let site = Site::new(Backend::Sqlite).unwrap();
    for command in ["keygen", "issue", "inspect", "revoke", "report", "prune"] {
        let run = site.run(&[command, "--help"]);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{command}");
        assert!(
            run.stdout.contains(&format!("Usage: linktoken {command}")),
            "{run:?}"
        );
    }
}
