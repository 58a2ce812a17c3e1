//! `linktoken`: issue, inspect and revoke links, and report on and prune the ledger, from the
//! command line, with the application's own configuration and database.

use std::io::Write as _;
use std::process::ExitCode;

use base64_simd::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rocket::figment::Figment;
use rocket_linktoken::{Issuer, LinkSpec, ReportBy, ReportFilter};

mod database;
mod inspect;
mod report;
mod time;

/// Signed expiring links: issue, inspect, revoke, report, prune.
///
/// Reads the application's configuration: Rocket.toml (or the file ROCKET_CONFIG names),
/// ROCKET_* variables and ROCKET_PROFILE.
#[derive(Debug, Parser)]
#[command(name = "linktoken", version)]
struct Cli {
    /// The database under `databases` to use, when there are several.
    #[arg(long, global = true, value_name = "NAME")]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prints a new random secret for `linktoken.secret` (32 bytes, base64url).
    Keygen,
    /// Signs a link and prints it; the last word printed is its URL.
    Issue(IssueArgs),
    /// Decodes a token (or a link's URL), says whether it would be let through and why not,
    /// and shows its ledger row and its uses.
    Inspect {
        /// The token, or a URL carrying it.
        token: String,
    },
    /// Revokes one link, or every link of a user.
    Revoke(RevokeArgs),
    /// Counts the attempts recorded in linktoken_uses.
    Report(ReportArgs),
    /// Deletes old attempts and expired links' rows.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
struct IssueArgs {
    /// The user the link is for.
    #[arg(long, allow_hyphen_values = true)]
    user: String,
    /// The action it allows: the route's `#[expiring_link(scope = ...)]`.
    #[arg(long)]
    scope: String,
    /// The path (and query) it opens, such as /unsubscribe/7.
    #[arg(long, value_name = "PATH")]
    target: String,
    /// How long it lives (seconds, or 30m, 12h, 7d...); `linktoken.default_ttl` otherwise.
    #[arg(long, value_name = "DURATION", value_parser = time::duration)]
    ttl: Option<TimeDelta>,
    /// Uses it allows (the route's max_uses caps it as well).
    #[arg(long, value_name = "N")]
    max_uses: Option<u32>,
    /// Application data it carries: a JSON object.
    #[arg(long, value_name = "JSON", value_parser = json)]
    data: Option<serde_json::Value>,
}

#[derive(Debug, Args)]
struct RevokeArgs {
    /// The link id (`jti`) to revoke. Ids are base64url, so one may begin with `-`.
    #[arg(
        long,
        value_name = "ID",
        required_unless_present = "user",
        conflicts_with = "user",
        allow_hyphen_values = true
    )]
    jti: Option<String>,
    /// The user whose links to revoke.
    #[arg(long, value_name = "U", allow_hyphen_values = true)]
    user: Option<String>,
    /// Only the user's links of this scope.
    #[arg(long, value_name = "S", conflicts_with = "jti")]
    scope: Option<String>,
    /// Only the user's links issued before this time (RFC 3339, a date, or an age such as 2h);
    /// now by default.
    #[arg(long, value_name = "TIME", conflicts_with = "jti", value_parser = time::time)]
    before: Option<DateTime<Utc>>,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Only attempts with links of this scope.
    #[arg(long, value_name = "S")]
    scope: Option<String>,
    /// Only attempts from this time on (RFC 3339, a date, or an age such as 7d).
    #[arg(long, value_name = "TIME", value_parser = time::time)]
    since: Option<DateTime<Utc>>,
    /// Only attempts before this time.
    #[arg(long, value_name = "TIME", value_parser = time::time)]
    until: Option<DateTime<Utc>>,
    /// How to group the counts.
    #[arg(long, value_enum, default_value_t = By::Day)]
    by: By,
    /// How to print them.
    #[arg(long, value_enum, default_value_t = report::Format::Table)]
    format: report::Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum By {
    Day,
    Scope,
    Outcome,
    Status,
}

impl From<By> for ReportBy {
    fn from(by: By) -> ReportBy {
        match by {
            By::Day => ReportBy::Day,
            By::Scope => ReportBy::Scope,
            By::Outcome => ReportBy::Outcome,
            By::Status => ReportBy::Status,
        }
    }
}

#[derive(Debug, Args)]
struct PruneArgs {
    /// Deletes the attempts recorded longer ago than this (such as 90d).
    #[arg(long, value_name = "AGE", value_parser = time::duration, required_unless_present = "expired")]
    uses_older_than: Option<TimeDelta>,
    /// Deletes the rows of links that have expired (their attempts stay).
    #[arg(long)]
    expired: bool,
    /// Rows deleted per statement.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    batch: u32,
}

/// Why a command stopped: a one-line message, and the exit status it gets.
#[derive(Debug)]
enum Failure {
    /// The command line asks for something that cannot be done (exit status 2).
    Usage(String),
    /// The configuration or the database failed (exit status 1).
    Failed(String),
}

/// What a command that ran prints on stdout, and its exit status.
struct Done {
    output: String,
    status: ExitCode,
}

impl From<String> for Done {
    fn from(output: String) -> Done {
        Done {
            output,
            status: ExitCode::SUCCESS,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() || e.exit_code() == 0 => e.exit(),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "linktoken: {}", one_line(&e));
            return ExitCode::from(2);
        }
    };
    let done = rocket::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Failed(format!("cannot start: {e}")))
        .and_then(|runtime| runtime.block_on(run(cli)));
    match done {
        Ok(done) => {
            // A closed pipe (`| head`) ends the output, quietly.
            let _ = std::io::stdout().write_all(done.output.as_bytes());
            done.status
        }
        Err(failure) => {
            let (message, status) = match failure {
                Failure::Usage(message) => (message, 2),
                Failure::Failed(message) => (message, 1),
            };
            let _ = writeln!(std::io::stderr(), "linktoken: {message}");
            ExitCode::from(status)
        }
    }
}

/// clap's message on one line: its lines up to the usage, joined, with a pointer to `--help`.
fn one_line(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty() && !line.starts_with("Usage:"))
        .collect();
    let message = lines.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    format!("{message} (see --help)")
}

fn json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
}

async fn run(cli: Cli) -> Result<Done, Failure> {
    let figment = rocket::Config::figment();
    let database = cli.database.as_deref();
    match cli.command {
        Command::Keygen => keygen().map(Done::from),
        Command::Issue(args) => issue(&figment, args).map(Done::from),
        Command::Inspect { token } => inspect::inspect(&figment, database, &token).await,
        Command::Revoke(args) => revoke(&figment, database, args).await.map(Done::from),
        Command::Report(args) => report(&figment, database, args).await.map(Done::from),
        Command::Prune(args) => prune(&figment, database, args).await.map(Done::from),
    }
}

fn keygen() -> Result<String, Failure> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| Failure::Failed(format!("no randomness from the system: {e}")))?;
    Ok(format!("{}\n", URL_SAFE_NO_PAD.encode_to_string(secret)))
}

/// The library's error as one line: bad input (a link that cannot be made) is a usage error.
fn library_failure(error: rocket_linktoken::Error) -> Failure {
    match error {
        rocket_linktoken::Error::InvalidLink(_) => Failure::Usage(error.to_string()),
        rocket_linktoken::Error::Database(_) => database::database_failed(&error),
        _ => Failure::Failed(error.to_string()),
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn issue(figment: &Figment, args: IssueArgs) -> Result<String, Failure> {
    let issuer = Issuer::from_figment(figment).map_err(library_failure)?;
    let mut spec = LinkSpec::new(args.user, args.scope, args.target);
    if let Some(ttl) = args.ttl {
        spec = spec.ttl(ttl);
    }
    if let Some(uses) = args.max_uses {
        spec = spec.max_uses(uses);
    }
    if let Some(data) = args.data {
        spec = spec.data(data);
    }
    let link = issuer.issue(&spec).map_err(library_failure)?;
    Ok(format!(
        "jti      {}\nexpires  {}\nurl      {}\n",
        link.jti,
        stamp(link.expires_at),
        link.url
    ))
}

async fn revoke(
    figment: &Figment,
    database: Option<&str>,
    args: RevokeArgs,
) -> Result<String, Failure> {
    let ledger = database::connect(figment, database).await?;
    // Revoking writes, so it creates the tables a new database lacks, as the application would.
    ledger.migrate().await.map_err(library_failure)?;
    match (args.jti, args.user) {
        (Some(jti), _) => {
            ledger.revoke(&jti).await.map_err(library_failure)?;
            Ok(format!("revoked the link {jti}\n"))
        }
        (None, Some(user)) => {
            let before = args.before.unwrap_or_else(Utc::now);
            ledger
                .revoke_user(&user, args.scope.as_deref(), before)
                .await
                .map_err(library_failure)?;
            let scope = match &args.scope {
                Some(scope) => format!("of scope {scope} "),
                None => String::new(),
            };
            Ok(format!(
                "revoked every link {scope}of the user {user} issued before {}\n",
                stamp(before)
            ))
        }
        (None, None) => Err(Failure::Usage("give --jti or --user".into())),
    }
}

async fn report(
    figment: &Figment,
    database: Option<&str>,
    args: ReportArgs,
) -> Result<String, Failure> {
    let ledger = database::connect(figment, database).await?;
    database::require_tables(&ledger).await?;
    let filter = ReportFilter {
        scope: args.scope,
        since: args.since,
        until: args.until,
    };
    let by = ReportBy::from(args.by);
    let rows = ledger.report(&filter, by).await.map_err(library_failure)?;
    Ok(report::render(by, &rows, args.format))
}

async fn prune(
    figment: &Figment,
    database: Option<&str>,
    args: PruneArgs,
) -> Result<String, Failure> {
    use std::io::IsTerminal as _;

    let ledger = database::connect(figment, database).await?;
    database::require_tables(&ledger).await?;
    let terminal = std::io::stderr().is_terminal();
    let progress = |what: &'static str| {
        move |so_far: u64| {
            if terminal {
                let _ = write!(std::io::stderr(), "\r{what}: {so_far} rows deleted...");
            }
        }
    };
    let mut output = String::new();
    if let Some(age) = args.uses_older_than {
        let before = Utc::now() - age;
        let deleted = ledger
            .prune_uses(before, args.batch, progress("linktoken_uses"))
            .await
            .map_err(library_failure)?;
        end_progress(terminal, deleted);
        output += &format!(
            "deleted {deleted} rows of linktoken_uses recorded before {}\n",
            stamp(before)
        );
    }
    if args.expired {
        // The most leeway a server may grant past `exp`: rows of links expired for longer
        // can no longer matter to any of them.
        let before = Utc::now() - TimeDelta::minutes(5);
        let deleted = ledger
            .prune_expired(before, args.batch, progress("linktoken_tokens"))
            .await
            .map_err(library_failure)?;
        end_progress(terminal, deleted);
        output += &format!(
            "deleted {deleted} rows of linktoken_tokens expired before {}\n",
            stamp(before)
        );
    }
    Ok(output)
}

/// Ends the progress line, if one was written.
fn end_progress(terminal: bool, deleted: u64) {
    if terminal && deleted > 0 {
        let _ = writeln!(std::io::stderr());
    }
}
