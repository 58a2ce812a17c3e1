//! Test support: real servers on real sockets, a plain HTTP/1.1 client, token minting, and a
//! throwaway database per server on SQLite, PostgreSQL or MySQL (MariaDB).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{Build, Ignite, Rocket};
use rocket_linktoken::{Issuer, Ledger};

pub mod app;
pub mod process;

/// The secret every test server signs with.
pub const SECRET: &str = "test-secret-0123456789abcdef-0123456789abcdef";

/// The environment variable naming a PostgreSQL server for the PostgreSQL half of the suite,
/// e.g. `postgres://postgres@127.0.0.1:5432/test`. Each test server gets its own database
/// there, created and dropped around it.
pub const POSTGRES_URL_VAR: &str = "LINKTOKEN_TEST_POSTGRES_URL";

/// The environment variable naming a MySQL or MariaDB server for the MySQL half of the suite,
/// e.g. `mysql://root@127.0.0.1:3306/test`. Each test server gets its own database there, and
/// its own user (so an outage can be made for it alone), created and dropped around it.
pub const MYSQL_URL_VAR: &str = "LINKTOKEN_TEST_MYSQL_URL";

/// Which database a test server keeps its ledger in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh database on the PostgreSQL server named by [`POSTGRES_URL_VAR`].
    Postgres,
    /// A fresh database on the MySQL server named by [`MYSQL_URL_VAR`].
    Mysql,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The `href` of each anchor (`<a ...>`) in `html`, in page order, unescaped as a browser
/// reads an attribute the template engines escaped (`&#x2F;`, `&amp;`).
pub fn anchor_hrefs(html: &str) -> Vec<String> {
    html.split("<a ")
        .skip(1)
        .filter_map(|a| a.split("href=\"").nth(1)?.split('"').next())
        .map(|href| href.replace("&#x2F;", "/").replace("&amp;", "&"))
        .collect()
}

/// Runs `future` to its end on a runtime of its own, for the test's synchronous code.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

pub(crate) fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A database that exists for as long as this value does.
pub struct TestDb {
    /// The URL to give `databases.<name>.url`.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres {
        admin: String,
        name: String,
    },
    /// A database and a user of the same name, who may reach that database only.
    Mysql {
        admin: String,
        name: String,
    },
}

/// The server's URL from the environment, or `None` after saying the test is skipped.
fn server_url(var: &str) -> Option<String> {
    let url = std::env::var(var).ok();
    if url.is_none() {
        // Straight to stderr: the test harness swallows `eprintln!` of passing tests.
        let test = std::thread::current()
            .name()
            .unwrap_or("a test")
            .to_string();
        let _ = writeln!(std::io::stderr(), "{test}: skipped, {var} is not set");
    }
    url
}

impl TestDb {
    /// A new, empty database; `None` (after saying so) when the backend is PostgreSQL or MySQL
    /// and no server is configured.
    pub fn create(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{}.sqlite", unique("linktoken")));
                let url = format!("sqlite://{}?mode=rwc", path.display());
                Some(TestDb {
                    url,
                    cleanup: Cleanup::File(path),
                })
            }
            Backend::Postgres => {
                let admin = server_url(POSTGRES_URL_VAR)?;
                let name = unique("linktoken");
                postgres_admin(&admin, &format!("CREATE DATABASE {name}"));
                let url = match admin.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("{POSTGRES_URL_VAR} must end in /database"),
                };
                Some(TestDb {
                    url,
                    cleanup: Cleanup::Postgres { admin, name },
                })
            }
            Backend::Mysql => {
                let admin = server_url(MYSQL_URL_VAR)?;
                // MySQL's user names have at most 32 characters.
                let name = unique("lt");
                let Some(server) = admin
                    .split_once("://")
                    .and_then(|(_, rest)| rest.rsplit_once('/'))
                    .map(|(authority, _)| {
                        authority
                            .rsplit_once('@')
                            .map_or(authority, |(_, host)| host)
                    })
                else {
                    panic!("{MYSQL_URL_VAR} must be mysql://user@host:port/database");
                };
                mysql_admin(
                    &admin,
                    &[
                        &format!("CREATE DATABASE {name}"),
                        &format!("CREATE USER '{name}'@'%' IDENTIFIED BY '{name}'"),
                        &format!("GRANT ALL PRIVILEGES ON {name}.* TO '{name}'@'%'"),
                    ],
                );
                Some(TestDb {
                    url: format!("mysql://{name}:{name}@{server}/{name}"),
                    cleanup: Cleanup::Mysql { admin, name },
                })
            }
        }
    }
}

impl TestDb {
    /// On PostgreSQL and MySQL, makes the database unreachable as an outage would (every
    /// session ended, new ones refused), or reachable again. SQLite files have no such thing: a
    /// no-op.
    pub fn set_reachable(&self, reachable: bool) {
        if let Cleanup::Mysql { admin, name } = &self.cleanup {
            let lock = if reachable { "UNLOCK" } else { "LOCK" };
            mysql_admin(admin, &[&format!("ALTER USER '{name}'@'%' ACCOUNT {lock}")]);
            if !reachable {
                mysql_kill_sessions(admin, name);
            }
        }
        if let Cleanup::Postgres { admin, name } = &self.cleanup {
            postgres_admin(
                admin,
                &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {reachable}"),
            );
            if !reachable {
                postgres_admin(
                    admin,
                    &format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{name}'"
                    ),
                );
            }
        }
    }
}

impl TestDb {
    /// Empties the database under a running server: PostgreSQL drops and creates it again
    /// (every session ended); MySQL drops and creates it again (its sessions live on, and find
    /// no tables); SQLite drops the library's tables.
    pub fn recreate_empty(&self) {
        match &self.cleanup {
            Cleanup::Mysql { admin, name } => mysql_admin(
                admin,
                &[
                    &format!("DROP DATABASE {name}"),
                    &format!("CREATE DATABASE {name}"),
                ],
            ),
            Cleanup::Postgres { admin, name } => {
                postgres_admin(admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
                postgres_admin(admin, &format!("CREATE DATABASE {name}"));
            }
            Cleanup::File(_) => {
                use rocket_db_pools::sqlx::{Connection, Executor, SqliteConnection};
                block_on(async {
                    let mut conn = SqliteConnection::connect(&self.url).await.unwrap();
                    conn.execute(
                        "DROP TABLE linktoken_uses; DROP TABLE linktoken_tokens;
                         DROP TABLE linktoken_revocations; DROP TABLE linktoken_schema",
                    )
                    .await
                    .unwrap();
                });
            }
        }
    }
}

impl TestDb {
    /// Runs one statement on the database on a connection of its own, as another program
    /// sharing it would: the application's data changing under a running server.
    pub fn execute(&self, statement: &str) {
        use rocket_db_pools::sqlx::{
            Connection, Executor, MySqlConnection, PgConnection, SqliteConnection,
        };
        block_on(async {
            match &self.cleanup {
                Cleanup::File(_) => {
                    let mut conn = SqliteConnection::connect(&self.url).await.unwrap();
                    conn.execute(statement).await.unwrap();
                    conn.close().await.unwrap();
                }
                Cleanup::Postgres { .. } => {
                    let mut conn = PgConnection::connect(&self.url).await.unwrap();
                    conn.execute(statement).await.unwrap();
                    conn.close().await.unwrap();
                }
                Cleanup::Mysql { .. } => {
                    let mut conn = MySqlConnection::connect(&self.url).await.unwrap();
                    conn.execute(statement).await.unwrap();
                    conn.close().await.unwrap();
                }
            }
        });
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin, name } => {
                postgres_admin(
                    admin,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                );
            }
            Cleanup::Mysql { admin, name } => {
                mysql_admin(admin, &[&format!("DROP USER IF EXISTS '{name}'@'%'")]);
                mysql_kill_sessions(admin, name);
                mysql_admin(admin, &[&format!("DROP DATABASE IF EXISTS {name}")]);
            }
        }
    }
}

fn mysql_admin(admin_url: &str, statements: &[&str]) {
    use rocket_db_pools::sqlx::{Connection, Executor, MySqlConnection};
    block_on(async {
        let mut conn = MySqlConnection::connect(admin_url).await.unwrap();
        for statement in statements {
            conn.execute(*statement).await.unwrap();
        }
        conn.close().await.unwrap();
    });
}

/// Ends every session of the MySQL user `user`.
fn mysql_kill_sessions(admin_url: &str, user: &str) {
    use rocket_db_pools::sqlx::{self, Connection, Executor, MySqlConnection};
    block_on(async {
        let mut conn = MySqlConnection::connect(admin_url).await.unwrap();
        let sessions: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(id AS CHAR) FROM information_schema.processlist WHERE user = ?",
        )
        .bind(user)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for session in sessions {
            // A session may end by itself meanwhile.
            let _ = conn
                .execute(format!("KILL CONNECTION {session}").as_str())
                .await;
        }
        conn.close().await.unwrap();
    });
}

fn postgres_admin(admin_url: &str, statement: &str) {
    use rocket_db_pools::sqlx::{Connection, Executor, PgConnection};
    block_on(async {
        let mut conn = PgConnection::connect(admin_url).await.unwrap();
        conn.execute(statement).await.unwrap();
        conn.close().await.unwrap();
    });
}

/// The newsletter example's configuration for a test: its own database, our secret, any free
/// port, quiet logs.
pub fn newsletter_figment(db: &TestDb) -> Figment {
    newsletter::figment()
        .merge(("port", 0))
        .merge(("address", "127.0.0.1"))
        .merge(("log_level", "off"))
        .merge(("cli_colors", false))
        .merge(("linktoken.secret", SECRET))
        .merge(("databases.newsletter.url", &db.url))
}

/// A running server, stopped when dropped.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its issuer, to mint links as the application would.
    pub issuer: Issuer,
    /// Its ledger, to read rows back.
    pub ledger: Ledger,
    shutdown: rocket::Shutdown,
    launched: Option<tokio::task::JoinHandle<Result<Rocket<Ignite>, rocket::Error>>>,
    runtime: Option<tokio::runtime::Runtime>,
    db: Option<TestDb>,
}

impl Server {
    /// The newsletter example on a fresh database of `backend`; `None` when that backend is
    /// not available here (the test then reports it skipped).
    pub fn newsletter(backend: Backend) -> Option<Server> {
        let db = TestDb::create(backend)?;
        let rocket = newsletter::rocket_with(newsletter_figment(&db));
        Some(Server::launch(rocket, Some(db)))
    }

    /// The newsletter example on a database that outlives the server.
    pub fn newsletter_on(db: &TestDb) -> Server {
        Server::launch(newsletter::rocket_with(newsletter_figment(db)), None)
    }

    /// Launches `rocket` on the port its configuration names (0: any free port).
    pub fn launch(rocket: Rocket<Build>, db: Option<TestDb>) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        let (addr, issuer, ledger, shutdown, launched) = runtime.block_on(async {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let tx = std::sync::Mutex::new(Some(tx));
            let rocket = rocket.attach(AdHoc::on_liftoff("test address", move |rocket| {
                Box::pin(async move {
                    let addr = SocketAddr::new(rocket.config().address, rocket.config().port);
                    if let Some(tx) = tx.lock().unwrap().take() {
                        let _ = tx.send(addr);
                    }
                })
            }));
            let rocket = rocket.ignite().await.expect("the test server ignites");
            let issuer = rocket
                .state::<Issuer>()
                .cloned()
                .expect("the fairing manages an Issuer");
            let ledger = rocket
                .state::<Ledger>()
                .cloned()
                .expect("the fairing manages a Ledger");
            let shutdown = rocket.shutdown();
            let launched = tokio::spawn(rocket.launch());
            let addr = tokio::time::timeout(Duration::from_secs(30), rx)
                .await
                .expect("the test server lifts off in time")
                .expect("the test server reports its address");
            (addr, issuer, ledger, shutdown, launched)
        });
        Server {
            addr,
            issuer,
            ledger,
            shutdown,
            launched: Some(launched),
            runtime: Some(runtime),
            db,
        }
    }

    /// The database this server was launched on and owns.
    pub fn db(&self) -> &TestDb {
        self.db.as_ref().expect("the server owns its database")
    }

    /// Runs a future on the server's runtime (for ledger reads).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the server")
            .block_on(future)
    }

    /// Shuts the server down as Rocket does gracefully (its shutdown fairings run), then ends
    /// its runtime at once: whatever was still running in the background stops there.
    pub fn stop(mut self) {
        self.shutdown.clone().notify();
        if let (Some(runtime), Some(launched)) = (self.runtime.take(), self.launched.take()) {
            let finished = runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(30), launched).await });
            assert!(finished.is_ok(), "the server shuts down in time");
            runtime.shutdown_background();
        }
    }

    /// Sends one request and reads the whole response.
    pub fn send(&self, request: &Request<'_>) -> Response {
        send(self.addr, request)
    }

    /// `GET target`.
    pub fn get(&self, target: &str) -> Response {
        self.send(&Request::new("GET", target))
    }

    /// `POST target` with a url-encoded form body.
    pub fn post_form(&self, target: &str, form: &str) -> Response {
        self.send(&Request::new("POST", target).form(form))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.clone().notify();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// An HTTP request to send.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    method: &'a str,
    target: &'a str,
    headers: Vec<(&'a str, String)>,
    body: Option<String>,
}

impl<'a> Request<'a> {
    /// `method target`, with no body.
    pub fn new(method: &'a str, target: &'a str) -> Self {
        Request {
            method,
            target,
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// A url-encoded form body.
    pub fn form(mut self, body: &str) -> Self {
        self.headers
            .push(("Content-Type", "application/x-www-form-urlencoded".into()));
        self.body = Some(body.to_string());
        self
    }

    /// A body as it is, with whatever `Content-Type` the caller sets.
    pub fn body(mut self, body: &str) -> Self {
        self.body = Some(body.to_string());
        self
    }
}

/// A response, read to the end.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from chunks if it came chunked.
    pub body: String,
}

impl Response {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request on a new connection and reads the whole response.
pub fn send(addr: SocketAddr, request: &Request<'_>) -> Response {
    try_send(addr, request).expect("the server answers")
}

/// Sends one request on a new connection and reads the whole response, if the server lets it.
pub fn try_send(addr: SocketAddr, request: &Request<'_>) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = request.body.as_deref().unwrap_or("");
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        request.method,
        request.target,
        body.len()
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> std::io::Result<Response> {
    let incomplete =
        || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "incomplete response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(incomplete)?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(incomplete)?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_line = String::from_utf8_lossy(&raw[..end]);
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&raw[start..start + size]);
        raw = &raw[start + size + 2..];
    }
    out
}

/// Base64url without padding, as JWS uses.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWS over `header` and `payload` (JSON text, or any bytes), signed with `secret` by `alg`
/// (`HS256`, `HS384`, `HS512`, or `none` for an empty signature).
pub fn mint(alg: &str, header: &str, payload: impl AsRef<[u8]>, secret: &str) -> String {
    use jsonwebtoken::{crypto, Algorithm, EncodingKey};
    let message = format!("{}.{}", b64(header), b64(payload));
    let algorithm = match alg {
        "none" => return format!("{message}."),
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        other => panic!("no test minting for {other}"),
    };
    let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
    let signature = crypto::sign(message.as_bytes(), &key, algorithm).unwrap();
    format!("{message}.{signature}")
}

/// Claims JSON for a link to `aud`, with `extra` members appended (`,"max":2`...).
pub fn claims(
    jti: &str,
    sub: &str,
    scope: &str,
    aud: &str,
    iat: i64,
    exp: i64,
    extra: &str,
) -> String {
    format!(
        r#"{{"jti":"{jti}","sub":"{sub}","scope":"{scope}","aud":"{aud}","iat":{iat},"exp":{exp}{extra}}}"#
    )
}

/// The current unix time.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Runs a behaviour test against SQLite, and against PostgreSQL and MySQL when they are
/// configured. Attributes written above a test (`#[ignore = "why"]`) go on each of its runs.
///
/// ```ignore
/// backend_tests! {
///     fn second_use_is_gone(backend) { ... }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($($(#[$attribute:meta])* fn $name:ident($backend:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                $(#[$attribute])*
                fn $name() {
                    let $backend = $crate::Backend::Sqlite;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                $(#[$attribute])*
                fn $name() {
                    let $backend = $crate::Backend::Postgres;
                    $body
                }
            )*
        }
        mod mysql {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                $(#[$attribute])*
                fn $name() {
                    let $backend = $crate::Backend::Mysql;
                    $body
                }
            )*
        }
    };
}

/// Holds the ledger's tables against every writer until released: SQLite's exclusive lock on
/// the file, a PostgreSQL table lock, or MySQL's `LOCK TABLES`. Reads of PostgreSQL go on
/// meanwhile.
pub enum WriteLock {
    /// A connection inside `BEGIN EXCLUSIVE`.
    Sqlite(rocket_db_pools::sqlx::SqliteConnection),
    /// A connection inside a transaction holding both ledger tables.
    Postgres(Box<rocket_db_pools::sqlx::PgConnection>),
    /// A connection holding both ledger tables' write locks.
    Mysql(Box<rocket_db_pools::sqlx::MySqlConnection>),
}

impl WriteLock {
    /// Takes the lock on the database at `url`.
    pub async fn take(backend: Backend, url: &str) -> WriteLock {
        use rocket_db_pools::sqlx::{
            Connection, Executor, MySqlConnection, PgConnection, SqliteConnection,
        };
        match backend {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::connect(url).await.unwrap();
                conn.execute("BEGIN EXCLUSIVE").await.unwrap();
                WriteLock::Sqlite(conn)
            }
            Backend::Postgres => {
                let mut conn = PgConnection::connect(url).await.unwrap();
                conn.execute(
                    "BEGIN; LOCK TABLE linktoken_uses, linktoken_tokens IN EXCLUSIVE MODE",
                )
                .await
                .unwrap();
                WriteLock::Postgres(Box::new(conn))
            }
            Backend::Mysql => {
                let mut conn = MySqlConnection::connect(url).await.unwrap();
                conn.execute("LOCK TABLES linktoken_uses WRITE, linktoken_tokens WRITE")
                    .await
                    .unwrap();
                WriteLock::Mysql(Box::new(conn))
            }
        }
    }

    /// Lets the writers go on.
    pub async fn release(self) {
        use rocket_db_pools::sqlx::Executor;
        match self {
            WriteLock::Sqlite(mut conn) => conn.execute("ROLLBACK").await.map(drop),
            WriteLock::Postgres(mut conn) => conn.execute("ROLLBACK").await.map(drop),
            WriteLock::Mysql(mut conn) => conn.execute("UNLOCK TABLES").await.map(drop),
        }
        .unwrap();
    }
}

/// `(status, outcome)` of a link's rows, read on a connection of its own (for a database whose
/// server has stopped).
pub fn rows_of(backend: Backend, url: &str, jti: &str) -> Vec<(Option<u16>, String)> {
    use rocket_db_pools::sqlx::{MySqlPool, PgPool, SqlitePool};
    use rocket_linktoken::LedgerPool;
    block_on(async {
        let ledger = match backend {
            Backend::Sqlite => SqlitePool::connect(url).await.unwrap().ledger(),
            Backend::Postgres => PgPool::connect(url).await.unwrap().ledger(),
            Backend::Mysql => MySqlPool::connect(url).await.unwrap().ledger(),
        };
        let rows = ledger.uses(jti).await.unwrap();
        rows.into_iter().map(|r| (r.status, r.outcome)).collect()
    })
}
