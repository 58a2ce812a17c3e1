//! What the server writes to its log: the request line without the token, never a token.

use linktoken_tests::process::Process;
use linktoken_tests::{send, Backend, Request, TestDb, SECRET};
use rocket::figment::Figment;
use rocket_linktoken::{Issuer, LinkSpec};

#[test]
fn tokens_never_reach_the_log() {
    let db = TestDb::create(Backend::Sqlite).unwrap();
    let log = std::env::temp_dir().join(format!("linktoken-log-{}.txt", std::process::id()));
    let server = Process::start(env!("CARGO_BIN_EXE_newsletter-server"), &db.url, Some(&log));
    let issuer = Issuer::from_figment(&Figment::new().merge(("linktoken.secret", SECRET))).unwrap();

    let link = issuer
        .issue(&LinkSpec::new("2", "unsubscribe", "/unsubscribe/1"))
        .unwrap();
    let statuses: Vec<u16> = [
        Request::new("GET", &link.url),
        Request::new("POST", &link.url).form("confirm=yes"),
        Request::new("POST", &link.url).form("confirm=yes"),
        Request::new("HEAD", &link.url),
    ]
    .iter()
    .map(|request| send(server.addr, request).status)
    .collect();
    assert_eq!(statuses, [200, 200, 410, 410]);
    let forged = format!("{}x", link.token);
    assert_eq!(
        send(
            server.addr,
            &Request::new("GET", &format!("/unsubscribe/1?rt={forged}"))
        )
        .status,
        403
    );
    drop(server);

    let written = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(
        written.contains("POST /unsubscribe/1"),
        "the request line is logged:\n{written}"
    );
    assert!(
        written.contains("UsedUp"),
        "the refusal is logged:\n{written}"
    );
    let signature = link.token.rsplit('.').next().unwrap();
    assert!(
        !written.contains(signature),
        "a token reached the log:\n{written}"
    );
    assert!(
        !written.contains("?rt=") && !written.contains("&rt="),
        "a token parameter reached the log:\n{written}"
    );
}
