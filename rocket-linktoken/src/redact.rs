//! A logger for Rocket's log that blanks link tokens. Rocket writes some lines before any
//! fairing runs (a request whose method or URI it cannot take, and every raw request at
//! `debug`), so lifting the token out of the request cannot keep it out of those: only the
//! logger itself can.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};
use memchr::memmem::Finder;
use rocket::config::LogLevel;
use rocket::figment::Figment;

use crate::config::query_param_in;

/// What a blanked token reads as.
const REDACTED: &str = "[redacted]";

/// Set once a [`RedactingLogger`] is the process's logger.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether [`RedactingLogger::install`] has made a redacting logger the process's logger.
pub(crate) fn installed() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// A logger that prints what Rocket's own logger prints (without colors), with every link
/// token blanked: the value of the token parameter (`rt=...`), and anything else shaped like
/// a signed JWT (`eyJ...`.`...`.`...`).
///
/// Rocket installs its own logger only when the process has none, so installing this one
/// before building Rocket replaces it. Build it from the figment Rocket will be given: it reads
/// `log_level` (`critical`, `normal`, `debug`, `off`, as Rocket does) and
/// `linktoken.query_param`. A value Rocket or the fairing would refuse falls back to the
/// default; the application then does not launch anyway.
///
/// ```no_run
/// use rocket_linktoken::RedactingLogger;
///
/// #[rocket::launch]
/// fn rocket() -> _ {
///     let figment = rocket::Config::figment();
///     RedactingLogger::from_figment(&figment)
///         .install()
///         .expect("no other logger is installed yet");
///     rocket::custom(figment)
/// }
/// ```
#[derive(Clone)]
pub struct RedactingLogger {
    level: LevelFilter,
    /// The token parameter with its `=`, what begins a value to blank, and [`JWS_START`]: each
    /// as a searcher made once, because every line Rocket logs is searched for both and most
    /// hold neither.
    param_eq: Finder<'static>,
    jws_start: Finder<'static>,
}

impl fmt::Debug for RedactingLogger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactingLogger")
            .field("level", &self.level)
            .field("param_eq", &String::from_utf8_lossy(self.param_eq.needle()))
            .finish()
    }
}

impl RedactingLogger {
    /// The logger for the configuration in `figment`.
    ///
    /// ```
    /// use rocket::figment::Figment;
    /// use rocket_linktoken::RedactingLogger;
    ///
    /// let figment = Figment::new().merge(("log_level", "debug"));
    /// let _logger = RedactingLogger::from_figment(&figment);
    /// ```
    pub fn from_figment(figment: &Figment) -> RedactingLogger {
        let level = figment
            .extract_inner::<LogLevel>(rocket::Config::LOG_LEVEL)
            .unwrap_or_else(|_| rocket::Config::default().log_level);
        let param_eq = format!("{}=", query_param_in(figment));
        RedactingLogger {
            level: level.into(),
            param_eq: Finder::new(&param_eq).into_owned(),
            jws_start: Finder::new(JWS_START),
        }
    }

    /// Makes this the process's logger and sets the most verbose level it prints. Fails when
    /// a logger is already installed (this one, Rocket's or another); call it before building
    /// Rocket.
    ///
    /// ```no_run
    /// # let figment = rocket::Config::figment();
    /// rocket_linktoken::RedactingLogger::from_figment(&figment)
    ///     .install()
    ///     .expect("no other logger is installed yet");
    /// ```
    pub fn install(self) -> Result<(), log::SetLoggerError> {
        let level = self.level;
        log::set_boxed_logger(Box::new(self))?;
        log::set_max_level(level);
        INSTALLED.store(true, Ordering::Release);
        Ok(())
    }

    /// `text` with every token blanked; borrowed when there was none.
    ///
    /// ```
    /// use rocket::figment::Figment;
    /// use rocket_linktoken::RedactingLogger;
    ///
    /// let logger = RedactingLogger::from_figment(&Figment::new());
    /// assert_eq!(
    ///     logger.redact("PROPFIND /preferences?a=1&rt=eyJh.eyJz.c2ln."),
    ///     "PROPFIND /preferences?a=1&rt=[redacted]",
    /// );
    /// assert_eq!(logger.redact("GET /preferences?a=1"), "GET /preferences?a=1");
    /// ```
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match blank_param_values(text, &self.param_eq) {
            Cow::Borrowed(text) => blank_jws(text, &self.jws_start),
            Cow::Owned(text) => Cow::Owned(blank_jws(&text, &self.jws_start).into_owned()),
        }
    }

    /// What Rocket's logger would print for `record`, token blanked; `None` where it would
    /// print nothing.
    fn line(&self, record: &Record<'_>) -> Option<String> {
        if !self.enabled(record.metadata()) {
            return None;
        }
        // Libraries' chatter, which Rocket's logger keeps for `debug`.
        let from = |name: &str| record.module_path().is_some_and(|m| m.starts_with(name));
        if self.level < LevelFilter::Trace && (from("hyper") || from("rustls") || from("r2d2")) {
            return None;
        }
        // Rocket marks a line that belongs to the one above with a target ending in `_`.
        let indented = record.target().ends_with('_');
        let mut line = String::with_capacity(128);
        if indented {
            line.push_str("   >> ");
        }
        // Launch lines are logged as warnings so that `critical` shows them; they print as
        // information.
        let level = if is_launch(record.metadata()) {
            Level::Info
        } else {
            record.level()
        };
        match level {
            Level::Error if !indented => line.push_str("Error: "),
            Level::Warn if !indented => line.push_str("Warning: "),
            Level::Debug => {
                line.push_str("\n--> ");
                if let Some(file) = record.file() {
                    line.push_str(file);
                }
                if let Some(number) = record.line() {
                    let _ = write!(line, ":{number}");
                }
                line.push_str("\n\t");
            }
            _ => {}
        }
        // The message is written once, into the line, and rewritten only if it holds a token.
        let start = line.len();
        let _ = write!(line, "{}", record.args());
        if let Cow::Owned(blanked) = self.redact(&line[start..]) {
            line.truncate(start);
            line.push_str(&blanked);
        }
        line.push('\n');
        Some(line)
    }
}

impl Log for RedactingLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        match self.level.to_level() {
            Some(max) => metadata.level() <= max || is_launch(metadata),
            None => false,
        }
    }

    fn log(&self, record: &Record<'_>) {
        if let Some(line) = self.line(record) {
            print(line.as_bytes());
        }
    }

    fn flush(&self) {
        let _ = std::io::stdout().flush();
    }
}

/// The longest write a pipe takes whole (`PIPE_BUF`: 4096 bytes on Linux, at least 512 on
/// every POSIX system).
#[cfg(unix)]
const PIPE_BUF: usize = if cfg!(target_os = "linux") { 4096 } else { 512 };

/// Writes a line to standard output, whole. A line of up to [`PIPE_BUF`] bytes goes out in one
/// `write` to the descriptor itself, without std's lock on `stdout`: under load, the workers of
/// a server refusing links would otherwise queue on that lock for every warning. One `write`
/// keeps such a line whole among the lines of concurrent requests: a pipe takes it whole, and a
/// file or a terminal writes one `write` at a time. A longer line, which a pipe may split, waits
/// until no other line is being written, and holds the others off until it is out. As with
/// Rocket's logger, a line to a closed standard output is lost instead of panicking.
fn print(line: &[u8]) {
    #[cfg(unix)]
    {
        use std::sync::{PoisonError, RwLock};
        // Shared by short lines, held alone by long ones. It guards no data, so a panic while
        // it was held leaves nothing to distrust.
        static LONG_LINES: RwLock<()> = RwLock::new(());
        if line.len() <= PIPE_BUF {
            let _shared = LONG_LINES.read().unwrap_or_else(PoisonError::into_inner);
            write_all(line);
        } else {
            let _alone = LONG_LINES.write().unwrap_or_else(PoisonError::into_inner);
            write_all(line);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = std::io::stdout().lock().write_all(line);
    }
}

/// Writes `bytes` to descriptor 1 until all are out or it fails. The descriptor itself, not a
/// copy: an application that points standard output elsewhere later is followed.
#[cfg(unix)]
fn write_all(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match rustix::io::write(std::io::stdout(), bytes) {
            Ok(0) => return,
            Ok(written) => bytes = &bytes[written..],
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

/// Rocket's launch lines (its configuration, the address it listens on), shown at every level
/// but `off`.
fn is_launch(metadata: &Metadata<'_>) -> bool {
    metadata.target().contains("rocket::launch")
}

/// Blanks the value of every parameter `param_eq` finds (the parameter with its `=`) that begins
/// a query parameter: at the start of `text` or after `?`, `&` or `;`. The value ends where a
/// query value or a log line's URI ends.
fn blank_param_values<'a>(text: &'a str, param_eq: &Finder<'_>) -> Cow<'a, str> {
    let mut blanked = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = param_eq.find(&text.as_bytes()[from..]) {
        let start = from + found;
        let value = start + param_eq.needle().len();
        from = value;
        let begins_parameter =
            start == 0 || matches!(text.as_bytes()[start - 1], b'?' | b'&' | b';');
        let end = text[value..]
            .find(ends_value)
            .map_or(text.len(), |length| value + length);
        if begins_parameter && end > value {
            blanked.push_str(&text[copied..value]);
            blanked.push_str(REDACTED);
            copied = end;
            from = end;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    blanked.push_str(&text[copied..]);
    Cow::Owned(blanked)
}

/// Where a parameter's value ends: the next parameter or the fragment, the end of a quoted or
/// space-separated URI, or a control character (a color code, a line break).
fn ends_value(c: char) -> bool {
    matches!(c, '&' | '#' | '"' | '\'') || c.is_whitespace() || c.is_control()
}

/// How every JWS in compact form begins: its header is a JSON object, and `eyJ` is `{"`
/// encoded.
const JWS_START: &str = "eyJ";

/// Blanks everything shaped like a JWS in compact form: three base64url segments joined by dots,
/// the first a JSON object's, wherever it stands. `jws_start` finds [`JWS_START`].
fn blank_jws<'a>(text: &'a str, jws_start: &Finder<'_>) -> Cow<'a, str> {
    let mut blanked = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = jws_start.find(&text.as_bytes()[from..]) {
        let start = from + found;
        match jws_len(&text[start..]) {
            Some(length) => {
                blanked.push_str(&text[copied..start]);
                blanked.push_str(REDACTED);
                copied = start + length;
                from = copied;
            }
            None => from = start + JWS_START.len(),
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    blanked.push_str(&text[copied..]);
    Cow::Owned(blanked)
}

/// The length of the JWS that `text` begins with, if it begins with one.
fn jws_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let base64url = |b: &&u8| b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_';
    let mut end = 0;
    for segment in 0..3 {
        if segment > 0 {
            if bytes.get(end) != Some(&b'.') {
                return None;
            }
            end += 1;
        }
        let length = bytes[end..].iter().take_while(base64url).count();
        if length == 0 {
            return None;
        }
        end += length;
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJhIn0.c2lnbmF0dXJl-_x";

    fn logger(settings: &[(&str, &str)]) -> RedactingLogger {
        let figment = settings
            .iter()
            .fold(Figment::new(), |figment, setting| figment.merge(*setting));
        RedactingLogger::from_figment(&figment)
    }

    fn redacted(text: &str) -> String {
        logger(&[]).redact(text).into_owned()
    }

    fn printed(
        logger: &RedactingLogger,
        level: Level,
        target: &str,
        module: &str,
        message: &str,
    ) -> Option<String> {
        logger.line(
            &Record::builder()
                .args(format_args!("{message}"))
                .level(level)
                .target(target)
                .module_path(Some(module))
                .file(Some("src/server.rs"))
                .line(Some(95))
                .build(),
        )
    }

    #[test]
    fn a_line_without_a_token_passes_unchanged() {
        for line in [
            "GET /unsubscribe/1?list=2&sort=new:",
            "Rocket has launched from http://127.0.0.1:8000",
            "cart=3&start=eyJ not a token; eyJa.b",
            "/a?rt=&x=1, where rt= is empty",
            "",
        ] {
            assert!(matches!(logger(&[]).redact(line), Cow::Borrowed(l) if l == line));
        }
    }

    #[test]
    fn the_token_parameter_is_blanked_wherever_a_parameter_begins() {
        assert_eq!(
            redacted("GET /preferences?rt=abc HTTP/1.1"),
            "GET /preferences?rt=[redacted] HTTP/1.1"
        );
        assert_eq!(
            redacted("/unsubscribe/1?list=2&rt=abc&utm=x#top"),
            "/unsubscribe/1?list=2&rt=[redacted]&utm=x#top"
        );
        assert_eq!(redacted("/a;rt=abc;b"), "/a;rt=[redacted]");
        assert_eq!(redacted("rt=abc"), "rt=[redacted]");
        assert_eq!(redacted("sort=abc&art=abc"), "sort=abc&art=abc");
    }

    #[test]
    fn a_token_at_the_end_of_a_line_is_blanked_with_what_follows_it() {
        assert_eq!(
            redacted(&format!(
                "Dispatching salvaged request to catcher: PROPFIND /unsubscribe/1?rt={TOKEN}."
            )),
            "Dispatching salvaged request to catcher: PROPFIND /unsubscribe/1?rt=[redacted]"
        );
        assert_eq!(
            redacted(&format!("uri: /preferences?rt={TOKEN}\nversion: HTTP/1.1")),
            "uri: /preferences?rt=[redacted]\nversion: HTTP/1.1"
        );
    }

    #[test]
    fn a_token_inside_quotes_is_blanked_up_to_the_quote() {
        assert_eq!(
            redacted(&format!(
                "Hyper/Rocket URI validity discord: \"/preferences?utm=\u{e9}&rt={TOKEN}\""
            )),
            "Hyper/Rocket URI validity discord: \"/preferences?utm=\u{e9}&rt=[redacted]\""
        );
        assert_eq!(
            redacted("'/a?rt=abc' and more"),
            "'/a?rt=[redacted]' and more"
        );
    }

    #[test]
    fn a_value_of_any_characters_is_blanked_up_to_a_control_character() {
        assert_eq!(
            redacted("/a?rt=\u{e9}t\u{e9}%2E\u{1b}[0m"),
            "/a?rt=[redacted]\u{1b}[0m"
        );
    }

    #[test]
    fn the_configured_parameter_is_the_one_blanked() {
        let logger = logger(&[("linktoken.query_param", "link")]);
        assert_eq!(
            logger.redact("/a?link=abc&rt=abc"),
            "/a?link=[redacted]&rt=abc"
        );
    }

    #[test]
    fn anything_shaped_like_a_jws_is_blanked_under_any_name() {
        assert_eq!(
            redacted(&format!("/a?token={TOKEN}&b=1")),
            "/a?token=[redacted]&b=1"
        );
        assert_eq!(
            redacted(&format!("body: {{\"link\":\"{TOKEN}\"}}, {TOKEN}")),
            "body: {\"link\":\"[redacted]\"}, [redacted]"
        );
        assert_eq!(
            redacted("a JWS needs three segments: eyJhbGci.eyJzdWIi"),
            "a JWS needs three segments: eyJhbGci.eyJzdWIi"
        );
    }

    #[test]
    fn levels_are_read_as_rocket_reads_them() {
        for (setting, level) in [
            ("critical", LevelFilter::Warn),
            ("normal", LevelFilter::Info),
            ("debug", LevelFilter::Trace),
            ("off", LevelFilter::Off),
        ] {
            assert_eq!(logger(&[("log_level", setting)]).level, level);
        }
        assert_eq!(
            logger(&[]).level,
            LevelFilter::from(rocket::Config::default().log_level)
        );
    }

    #[test]
    fn lines_read_as_rocket_prints_them() {
        let normal = logger(&[("log_level", "normal")]);
        let print = |level: Level, target: &str, message: &str| {
            printed(&normal, level, target, "rocket", message)
        };
        assert_eq!(
            print(Level::Warn, "rocket::server", "Bad incoming HTTP request.").as_deref(),
            Some("Warning: Bad incoming HTTP request.\n")
        );
        assert_eq!(
            print(
                Level::Warn,
                "rocket::server::_",
                "Dispatching salvaged request to catcher: head /a?rt=abc."
            )
            .as_deref(),
            Some("   >> Dispatching salvaged request to catcher: head /a?rt=[redacted]\n")
        );
        assert_eq!(
            print(Level::Error, "rocket::server", "No matching routes.").as_deref(),
            Some("Error: No matching routes.\n")
        );
        assert_eq!(
            print(Level::Info, "rocket::server", "GET /a:").as_deref(),
            Some("GET /a:\n")
        );
        assert_eq!(print(Level::Debug, "rocket::server", "received"), None);
    }

    #[test]
    fn launch_lines_show_at_critical_and_read_as_news() {
        let critical = logger(&[("log_level", "critical")]);
        assert_eq!(
            printed(
                &critical,
                Level::Warn,
                "rocket::launch",
                "rocket",
                "Rocket has launched"
            )
            .as_deref(),
            Some("Rocket has launched\n")
        );
        assert_eq!(
            printed(
                &critical,
                Level::Info,
                "rocket::server",
                "rocket",
                "GET /a:"
            ),
            None
        );
        let off = logger(&[("log_level", "off")]);
        assert_eq!(
            printed(
                &off,
                Level::Warn,
                "rocket::launch",
                "rocket",
                "Rocket has launched"
            ),
            None
        );
    }

    #[test]
    fn hyper_lines_show_at_debug_only_and_debug_lines_name_their_place() {
        let hyper = |logger: &RedactingLogger| {
            printed(logger, Level::Info, "hyper::proto", "hyper::proto", "a=1")
        };
        assert_eq!(hyper(&logger(&[("log_level", "normal")])), None);
        let debug = logger(&[("log_level", "debug")]);
        assert_eq!(hyper(&debug).as_deref(), Some("a=1\n"));
        assert_eq!(
            printed(
                &debug,
                Level::Debug,
                "rocket::server",
                "rocket::server",
                &format!("received request: Request {{\n    uri: /a?rt={TOKEN},\n}}")
            )
            .as_deref(),
            Some(concat!(
                "\n--> src/server.rs:95\n",
                "\treceived request: Request {\n    uri: /a?rt=[redacted]\n}\n",
            ))
        );
    }

    /// A token parameter's name, as `linktoken.query_param` may set it.
    fn param_names() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("rt"), Just("link"), Just("t\u{e9}")]
    }

    /// Log-like text around the parameter `name`: the pieces of URIs and tokens, the characters
    /// that end a value, and text that only nearly looks like either.
    fn lines(name: &'static str) -> impl Strategy<Value = String> {
        let mut pieces = vec![format!("{name}="), format!("a{name}=")];
        pieces.extend(
            [
                "eyJ", "eyJhbGci", TOKEN, ".", "?", "&", ";", "#", " ", "\"", "\n", "\u{1b}", "a",
                "Z9-_", "\u{e9}",
            ]
            .map(String::from),
        );
        prop::collection::vec(prop::sample::select(pieces), 0..24)
            .prop_map(|pieces| pieces.concat())
    }

    /// A name with lines around it.
    fn named_lines() -> impl Strategy<Value = (&'static str, String, String)> {
        param_names().prop_flat_map(|name| (Just(name), lines(name), lines(name)))
    }

    proptest! {
        #[test]
        fn no_token_survives_redaction((name, line, _) in named_lines()) {
            let logger = logger(&[("linktoken.query_param", name)]);
            let once = logger.redact(&line);
            for (at, _) in once.match_indices(JWS_START) {
                prop_assert_eq!(jws_len(&once[at..]), None, "a JWS is left in {:?}", once);
            }
            let param_eq = format!("{name}=");
            for (at, _) in once.match_indices(&param_eq) {
                let begins = at == 0 || matches!(once.as_bytes()[at - 1], b'?' | b'&' | b';');
                let value = &once[at + param_eq.len()..];
                let blanked = value.starts_with(REDACTED)
                    || value.is_empty()
                    || value.starts_with(ends_value);
                prop_assert!(!begins || blanked, "a value is left in {:?}", once);
            }
            prop_assert_eq!(logger.redact(&once), once.clone());
        }

        #[test]
        fn redaction_stays_within_what_it_blanks((name, left, right) in named_lines()) {
            // A line break ends any value or JWS, and `&` begins a parameter as the start of a
            // line does: blanking the two sides apart must give what blanking them together gives.
            let logger = logger(&[("linktoken.query_param", name)]);
            let together = logger.redact(&format!("{left}\n&{right}")).into_owned();
            let apart = format!("{}\n&{}", logger.redact(&left), logger.redact(&right));
            prop_assert_eq!(together, apart);
        }

        #[test]
        fn a_line_without_a_token_is_borrowed((name, line, _) in named_lines()) {
            let logger = logger(&[("linktoken.query_param", name)]);
            if !line.contains(&format!("{name}=")) && !line.contains(JWS_START) {
                prop_assert!(matches!(logger.redact(&line), Cow::Borrowed(l) if l == line));
            }
        }
    }
}
