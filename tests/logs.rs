//! What the server writes to its log, at `normal` and at `debug`: the request line without the
//! token, and never a token, not even in the lines Rocket writes before any fairing runs.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::Stdio;

use linktoken_tests::process::{self, Process};
use linktoken_tests::{send, Backend, Request, TestDb, SECRET};
use rocket::figment::Figment;
use rocket_linktoken::{Issuer, LinkSpec};

/// A newsletter server on a new SQLite database, logging at `level` into a file of its own
/// (named for `name`), which the caller reads and removes.
fn server_logging(level: &str, name: &str) -> (TestDb, PathBuf, Process) {
    let db = TestDb::create(Backend::Sqlite).unwrap();
    let log = std::env::temp_dir().join(format!("linktoken-log-{name}-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let server = Process::start(
        env!("CARGO_BIN_EXE_newsletter-server"),
        &db.url,
        Some((&log, level)),
    );
    (db, log, server)
}

/// A server logging at `level` is sent links every way a client can: used, used up, forged,
/// with a method Rocket does not know, with raw non-ASCII bytes in the query. Returns its log
/// and the tokens sent.
fn log_of_links_sent(level: &str) -> (String, Vec<String>) {
    let (_db, log, server) = server_logging(level, level);
    let issuer = Issuer::from_figment(&Figment::new().merge(("linktoken.secret", SECRET))).unwrap();
    let unsubscribe = issuer
        .issue(&LinkSpec::new("2", "unsubscribe", "/unsubscribe/1"))
        .unwrap();
    let preferences = issuer
        .issue(&LinkSpec::new("2", "preferences", "/preferences"))
        .unwrap();

    let statuses: Vec<u16> = [
        Request::new("GET", &unsubscribe.url),
        Request::new("POST", &unsubscribe.url).form("confirm=yes"),
        Request::new("POST", &unsubscribe.url).form("confirm=yes"),
        Request::new("HEAD", &unsubscribe.url),
    ]
    .iter()
    .map(|request| send(server.addr, request).status)
    .collect();
    assert_eq!(statuses, [200, 200, 410, 410]);
    let forged = format!("/unsubscribe/1?rt={}x", unsubscribe.token);
    assert_eq!(send(server.addr, &Request::new("GET", &forged)).status, 403);

    // Rocket refuses these before any fairing runs, and logs the whole request line.
    for method in ["PROPFIND", "head"] {
        let status = send(server.addr, &Request::new(method, &unsubscribe.url)).status;
        assert_eq!(status, 400, "{method}");
    }
    // Sent as raw UTF-8 bytes: hyper takes the URI, Rocket's parser does not.
    let raw = format!("/preferences?utm=\u{e9}&rt={}", preferences.token);
    assert_eq!(send(server.addr, &Request::new("GET", &raw)).status, 403);
    drop(server);

    let written = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    (written, vec![unsubscribe.token, preferences.token])
}

/// What every log must show, and must not.
fn assert_shows_requests_and_no_token(written: &str, tokens: &[String]) {
    assert!(
        written.contains("POST /unsubscribe/1"),
        "the request line is logged:\n{written}"
    );
    assert!(
        written.contains("UsedUp"),
        "the refusal is logged:\n{written}"
    );
    assert!(
        written.contains("Request guard `TokenUser < Subscriber >` failed"),
        "Rocket names the guard as the handler writes it:\n{written}"
    );
    assert!(
        written
            .contains("Dispatching salvaged request to catcher: GET /unsubscribe/1?rt=[redacted]"),
        "the request with an unknown method is logged, its token blanked:\n{written}"
    );
    if cfg!(debug_assertions) {
        // Rocket checks URIs again only in debug builds.
        assert!(
            written.contains("URI validity discord: \"/preferences?utm=\u{e9}&rt=[redacted]\""),
            "the URI Rocket cannot parse is logged, its token blanked:\n{written}"
        );
    }
    for token in tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !written.contains(signature),
            "a token reached the log:\n{written}"
        );
    }
    for parameter in ["?rt=", "&rt=", ";rt="] {
        for (at, _) in written.match_indices(parameter) {
            assert!(
                written[at + parameter.len()..].starts_with("[redacted]"),
                "a token parameter reached the log:\n{written}"
            );
        }
    }
    assert!(
        !written.contains("logs link tokens whole"),
        "the redacting logger is installed, so the fairing does not warn:\n{written}"
    );
}

#[test]
fn tokens_never_reach_the_log_at_normal() {
    let (written, tokens) = log_of_links_sent("normal");
    assert_shows_requests_and_no_token(&written, &tokens);
    assert!(
        !written.contains("received request"),
        "raw requests are logged at debug only:\n{written}"
    );
}

#[test]
fn tokens_never_reach_the_log_at_debug() {
    let (written, tokens) = log_of_links_sent("debug");
    assert_shows_requests_and_no_token(&written, &tokens);
    assert!(
        written.contains("received request"),
        "each raw request is logged:\n{written}"
    );
}

/// Lines logged by requests refused at the same moment reach the log whole, one line each: the
/// logger writes each line in one `write`, without a lock shared by the server's workers.
#[test]
fn lines_of_concurrent_refusals_stay_whole() {
    const THREADS: usize = 4;
    const EACH: usize = 100;
    let (_db, log, server) = server_logging("normal", "whole");
    let issuer = Issuer::from_figment(&Figment::new().merge(("linktoken.secret", SECRET))).unwrap();
    let link = issuer
        .issue(&LinkSpec::new("2", "unsubscribe", "/unsubscribe/1"))
        .unwrap();
    let forged = format!("/unsubscribe/1?rt={}x", link.token);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..EACH {
                    assert_eq!(send(server.addr, &Request::new("GET", &forged)).status, 403);
                }
            });
        }
    });
    drop(server);

    let written = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let failed = "   >> Request guard `TokenUser < Subscriber >` failed: BadSignature.";
    assert_eq!(
        written.lines().filter(|line| *line == failed).count(),
        THREADS * EACH,
        "each refusal's line is whole:\n{written}"
    );
    assert_eq!(
        written.matches("Request guard").count(),
        THREADS * EACH,
        "and alone on its line:\n{written}"
    );
}

/// Lines longer than a pipe takes whole (Rocket's request line, with a query of 6,000 bytes)
/// reach a slow reader whole and unmixed, while four clients send them at once.
#[test]
fn long_lines_stay_whole_on_a_pipe() {
    const THREADS: u8 = 4;
    const EACH: usize = 25;
    const PAD: usize = 6000;
    let db = TestDb::create(Backend::Sqlite).unwrap();
    let mut server = process::command(env!("CARGO_BIN_EXE_newsletter-server"), &db.url, "normal")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let addr: std::net::SocketAddr = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "the server exited");
        if let Some(addr) = process::launched_at(&line) {
            break addr;
        }
    };
    // Reads in small sips, so the pipe fills and the server's writes wait on it.
    let reader = std::thread::spawn(move || {
        let mut written = Vec::new();
        let mut sip = [0; 512];
        loop {
            match out.read(&mut sip) {
                Ok(0) | Err(_) => break,
                Ok(n) => written.extend_from_slice(&sip[..n]),
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        String::from_utf8(written).unwrap()
    });
    std::thread::scope(|scope| {
        for letter in b'a'..b'a' + THREADS {
            scope.spawn(move || {
                let pad = String::from(char::from(letter)).repeat(PAD);
                for _ in 0..EACH {
                    let target = format!("/unsubscribe/1?pad={pad}");
                    assert_eq!(send(addr, &Request::new("GET", &target)).status, 403);
                }
            });
        }
    });
    server.kill().unwrap();
    server.wait().unwrap();
    let written = reader.join().unwrap();

    let lines: Vec<&str> = written.lines().filter(|l| l.contains("?pad=")).collect();
    assert_eq!(
        lines.len(),
        usize::from(THREADS) * EACH,
        "one line per request"
    );
    for line in lines {
        let pad = line.split("?pad=").nth(1).unwrap();
        let letter = pad.chars().next().unwrap();
        let run = pad.chars().take_while(|&c| c == letter).count();
        assert_eq!(run, PAD, "a line was split or mixed: {line}");
    }
}
