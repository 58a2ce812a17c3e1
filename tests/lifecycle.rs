//! The life of a use, on a test application: spent before the handler runs (with its row),
//! settled by the response, given back on errors; and launch refused when misconfigured.

use std::time::Duration;

use linktoken_tests::app::{app, routes, Gate};
use linktoken_tests::{backend_tests, rows_of, Backend, Request, Server, TestDb, WriteLock};
use rocket::error::ErrorKind;
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket_linktoken::LinkSpec;

fn start(
    backend: Backend,
    extra: Figment,
) -> Option<(Server, std::sync::Arc<Gate>, std::sync::mpsc::Receiver<()>)> {
    let db = TestDb::create(backend)?;
    let (gate, entered) = Gate::new();
    let rocket = app(backend, &db, gate.clone(), extra);
    Some((Server::launch(rocket, Some(db)), gate, entered))
}

backend_tests! {
    fn a_spent_use_has_its_row_before_the_handler_answers(backend) {
        let Some((server, gate, entered)) = start(backend, Figment::new()) else { return };
        let link = server.issuer.issue(&LinkSpec::new("1", "slow", "/slow")).unwrap();
        let addr = server.addr;
        let url = link.url.clone();
        let request = std::thread::spawn(move || linktoken_tests::send(addr, &Request::new("GET", &url)));
        entered.recv_timeout(Duration::from_secs(30)).expect("the handler is entered");

        // The process could die here: the use is already counted and logged, status unknown.
        let token = server.block_on(server.ledger.token(&link.jti)).unwrap().unwrap();
        assert_eq!(token.uses, 1);
        let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].status, rows[0].outcome.as_str()), (None, "spent"));

        gate.release();
        let response = request.join().unwrap();
        assert_eq!((response.status, response.body.as_str()), (200, "slow for 1"));
        let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
        assert_eq!((rows[0].status, rows[0].outcome.as_str()), (Some(200), "spent"));
    }

    fn a_server_error_gives_the_use_back(backend) {
        let Some((server, _, _)) = start(backend, Figment::new()) else { return };
        let link = server.issuer.issue(&LinkSpec::new("2", "boom", "/boom")).unwrap();
        assert_eq!(server.get(&link.url).status, 500);
        assert_eq!(server.get(&link.url).status, 500, "the failed use was given back");
        let token = server.block_on(server.ledger.token(&link.jti)).unwrap().unwrap();
        assert_eq!(token.uses, 0);
        let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
        let settled: Vec<_> = rows.iter().map(|r| (r.status, r.outcome.as_str())).collect();
        assert_eq!(settled, [(Some(500), "returned"), (Some(500), "returned")]);
    }

    fn a_route_without_max_uses_takes_the_configured_default(backend) {
        let Some((server, _, _)) = start(backend, Figment::new()) else { return };
        let link = server.issuer.issue(&LinkSpec::new("3", "default", "/default")).unwrap();
        let bodies: Vec<_> = (0..4).map(|_| server.get(&link.url)).map(|r| (r.status, r.body)).collect();
        assert_eq!(bodies[..3], [(200, "1 of default".into()), (200, "2 of default".into()), (200, "3 of default".into())]);
        assert_eq!(bodies[3].0, 410);

        let big = server.issuer.issue(&LinkSpec::new("3", "default", "/default").max_uses(10)).unwrap();
        let statuses: Vec<_> = (0..4).map(|_| server.get(&big.url).status).collect();
        assert_eq!(statuses, [200, 200, 200, 410], "a token cannot raise the route's cap");
    }

    fn a_preview_route_never_spends(backend) {
        let Some((server, _, _)) = start(backend, Figment::new()) else { return };
        let link = server
            .issuer
            .issue(&LinkSpec::new("1", "default", "/default/preview").max_uses(1))
            .unwrap();
        for _ in 0..5 {
            assert_eq!(server.get(&link.url).status, 200);
        }
        assert!(server.block_on(server.ledger.token(&link.jti)).unwrap().is_none());
        let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
        assert!(rows.iter().all(|r| r.outcome == "preview" && r.status == Some(200)));
    }

    fn a_request_spends_once_across_routes_it_forwards_through(backend) {
        let Some((server, _, _)) = start(backend, Figment::new()) else { return };
        let link = server.issuer.issue(&LinkSpec::new("1", "forward", "/forward")).unwrap();
        let response = server.get(&link.url);
        assert_eq!((response.status, response.body.as_str()), (200, "use 1 of 1"));
        let token = server.block_on(server.ledger.token(&link.jti)).unwrap().unwrap();
        assert_eq!(token.uses, 1);
        let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
        let settled: Vec<_> = rows.iter().map(|r| (r.status, r.outcome.as_str())).collect();
        assert_eq!(settled, [(Some(200), "spent")]);
        assert_eq!(server.get(&link.url).status, 410);
    }

    fn a_route_forwarded_to_checks_the_link_for_itself(backend) {
        let Some((server, _, _)) = start(backend, Figment::new()) else { return };
        let view = server.issuer.issue(&LinkSpec::new("1", "view", "/item")).unwrap();
        fn plain(url: &str) -> Request<'_> {
            Request::new("POST", url).header("Content-Type", "text/plain").body("item 7")
        }
        for _ in 0..3 {
            let response = server.send(&plain(&view.url));
            assert_eq!(response.status, 403, "a view link does not delete: {}", response.body);
        }
        assert_eq!(server.block_on(server.ledger.token(&view.jti)).unwrap().map(|t| t.uses), Some(0));
        let rows = server.block_on(server.ledger.uses(&view.jti)).unwrap();
        let first: Vec<_> = rows.iter().take(2).map(|r| (r.status, r.outcome.as_str())).collect();
        assert_eq!(first, [(Some(403), "returned"), (Some(403), "wrong_scope")], "the view route's use was given back");

        // The same link on two routes: the one forwarded to holds the use to its own cap.
        let note = server.issuer.issue(&LinkSpec::new("1", "note", "/note")).unwrap();
        assert_eq!(server.send(&Request::new("POST", &note.url).form("name=n")).status, 200);
        let response = server.send(&plain(&note.url));
        assert_eq!(response.status, 410, "the second use is past the archive route's cap: {}", response.body);
        assert_eq!(server.block_on(server.ledger.token(&note.jti)).unwrap().map(|t| t.uses), Some(1));
    }

    fn a_spend_behind_a_use_in_flight_waits_for_it_to_be_given_back(backend) {
        let Some((server, gate, entered)) = start(backend, Figment::new()) else { return };
        let link = server.issuer.issue(&LinkSpec::new("1", "slow", "/slow/fail")).unwrap();
        let send = |url: String| {
            let addr = server.addr;
            std::thread::spawn(move || linktoken_tests::send(addr, &Request::new("GET", &url)))
        };
        let first = send(link.url.clone());
        entered.recv_timeout(Duration::from_secs(30)).expect("the first request holds the use");

        // The link's only use is in flight: the second request waits instead of hearing 410.
        let second = send(link.url.clone());
        gate.release();
        assert_eq!(first.join().unwrap().status, 400);
        entered
            .recv_timeout(Duration::from_secs(30))
            .expect("the second request got the use the first gave back");
        gate.release();
        assert_eq!(second.join().unwrap().status, 400);

        let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
        let written: Vec<_> = rows.iter().map(|r| (r.status, r.outcome.as_str())).collect();
        assert_eq!(written, [(Some(400), "returned"), (Some(400), "returned")]);
        assert_eq!(server.block_on(server.ledger.token(&link.jti)).unwrap().map(|t| t.uses), Some(0));
    }

    fn a_use_held_in_flight_past_the_wait_answers_409_then_410_once_kept(backend) {
        let Some((server, gate, entered)) = start(backend, Figment::new()) else { return };
        let link = server.issuer.issue(&LinkSpec::new("1", "slow", "/slow")).unwrap();
        let (addr, url) = (server.addr, link.url.clone());
        let held = std::thread::spawn(move || linktoken_tests::send(addr, &Request::new("GET", &url)));
        entered.recv_timeout(Duration::from_secs(30)).expect("the first request holds the use");

        let response = server.get(&link.url);
        assert_eq!(response.status, 409, "{}", response.body);
        assert_eq!(response.header("Retry-After"), Some("1"));

        gate.release();
        assert_eq!(held.join().unwrap().status, 200);
        assert_eq!(server.get(&link.url).status, 410, "once the use is kept, it is gone");
        let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
        let written: Vec<_> = rows.iter().map(|r| (r.status, r.outcome.as_str())).collect();
        assert_eq!(written, [(Some(200), "spent"), (Some(409), "in_flight"), (Some(410), "used_up")]);
    }

    fn a_ledger_of_schema_version_1_gains_what_version_2_adds(backend) {
        let Some(db) = TestDb::create(backend) else { return };
        let id = match backend {
            Backend::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres => "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            Backend::Mysql => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
        };
        db.execute(&format!(
            "CREATE TABLE linktoken_uses ({id}, jti TEXT NOT NULL, sub TEXT NOT NULL,
                scope TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, client_ip TEXT,
                user_agent TEXT, status INTEGER, outcome TEXT NOT NULL, used_at BIGINT NOT NULL)"
        ));
        db.execute("INSERT INTO linktoken_uses (jti, sub, scope, method, path, status, outcome, used_at)
            VALUES ('old', '1', 'default', 'GET', '/default', 200, 'spent', 1)");
        let (gate, _entered) = Gate::new();
        let server = Server::launch(app(backend, &db, gate, Figment::new()), Some(db));
        let link = server.issuer.issue(&LinkSpec::new("1", "default", "/default")).unwrap();
        assert_eq!(server.get(&link.url).status, 200);
        let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
        assert_eq!(rows.iter().map(|r| (r.status, r.outcome.as_str())).collect::<Vec<_>>(), [(Some(200), "spent")]);
        assert_eq!(server.block_on(server.ledger.uses("old")).unwrap().len(), 1, "old rows are kept");
    }

    fn a_configured_proxy_header_is_believed(backend) {
        let extra = Figment::new().merge(("linktoken.client_ip_header", "X-Forwarded-For"));
        let Some((server, _, _)) = start(backend, extra) else { return };
        let link = server.issuer.issue(&LinkSpec::new("1", "default", "/default")).unwrap();
        let request = Request::new("GET", &link.url).header("X-Forwarded-For", "198.51.100.7, 203.0.113.4");
        assert_eq!(server.send(&request).status, 200);
        let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
        assert_eq!(rows[0].client_ip.as_deref(), Some("203.0.113.4"), "the address the proxy appended");
    }
}

/// How igniting `rocket` failed: the names of the failed fairings, or the types whose
/// sentinels aborted.
fn ignite_failure(rocket: rocket::Rocket<rocket::Build>) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = match runtime.block_on(rocket.ignite()) {
        Ok(_) => panic!("the launch was not refused"),
        Err(error) => error,
    };
    let names = match error.kind() {
        ErrorKind::FailedFairings(fairings) => {
            fairings.iter().map(|f| f.name.to_string()).collect()
        }
        ErrorKind::SentinelAborts(sentries) => {
            sentries.iter().map(|s| s.type_name.to_string()).collect()
        }
        other => panic!("unexpected launch error: {other:?}"),
    };
    // An unhandled rocket::Error panics when dropped: this one was looked at.
    std::mem::forget(error);
    names
}

#[test]
fn token_user_without_the_fairing_refuses_launch() {
    let db = TestDb::create(Backend::Sqlite).unwrap();
    let (gate, _) = Gate::new();
    let figment = rocket::Config::figment()
        .merge(("databases.app.url", &db.url))
        .merge(("log_level", "off"));
    let rocket = rocket::custom(figment).mount("/", routes()).manage(gate);
    let aborted = ignite_failure(rocket);
    assert!(
        aborted.iter().all(|t| t.contains("TokenUser")),
        "{aborted:?}"
    );
    assert!(!aborted.is_empty());
}

#[test]
fn a_short_secret_refuses_launch() {
    let db = TestDb::create(Backend::Sqlite).unwrap();
    let (gate, _) = Gate::new();
    let extra = Figment::new().merge(("linktoken.secret", "too-short"));
    let failed = ignite_failure(app(Backend::Sqlite, &db, gate, extra));
    assert_eq!(failed, ["rocket-linktoken"]);
}

#[test]
fn the_newsletter_release_profile_demands_a_real_secret() {
    let db = TestDb::create(Backend::Sqlite).unwrap();
    let release = newsletter::figment()
        .select("release")
        .merge(("databases.newsletter.url", &db.url))
        .merge(("log_level", "off"));
    let failed = ignite_failure(newsletter::rocket_with(release.clone()));
    assert!(
        failed.contains(&"rocket-linktoken".to_string()),
        "{failed:?}"
    );

    let with_secret = release
        .merge(("linktoken.secret", linktoken_tests::SECRET))
        .merge(("port", 0));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert!(runtime
        .block_on(newsletter::rocket_with(with_secret).ignite())
        .is_ok());
}

/// Fires `count` copies of a GET at once and returns the responses.
fn burst(server: &Server, url: &str, count: usize) -> Vec<linktoken_tests::Response> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(count));
    let threads: Vec<_> = (0..count)
        .map(|_| {
            let (barrier, addr, url) = (barrier.clone(), server.addr, url.to_string());
            std::thread::spawn(move || {
                barrier.wait();
                linktoken_tests::send(addr, &Request::new("GET", &url))
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// The ledger's database failing under the writer, and the writer stopping with the server.
mod ledger_failures {
    use super::*;

    backend_tests! {
        fn a_failed_batch_refuses_every_request_in_it_and_spends_nothing(backend) {
            // A busy SQLite file answers after the busy timeout, which is `connect_timeout`.
            let extra = Figment::from(("databases.app.connect_timeout", 1));
            let Some((server, _, _)) = start(backend, extra) else { return };
            let link = server.issuer.issue(&LinkSpec::new("1", "default", "/default")).unwrap();
            let refused = match backend {
            Backend::Sqlite => {
                let lock = server.block_on(WriteLock::take(backend, &server.db().url));
                let refused = burst(&server, &link.url, 3);
                server.block_on(lock.release());
                refused
            }
            Backend::Postgres | Backend::Mysql => {
                server.db().set_reachable(false);
                let refused = burst(&server, &link.url, 3);
                server.db().set_reachable(true);
                refused
            }
        };
        for response in &refused {
                assert_eq!(response.status, 503, "{}", response.body);
                assert_eq!(response.header("Retry-After"), Some("5"));
            }
            assert!(server.block_on(server.ledger.token(&link.jti)).unwrap().is_none(), "nothing was spent");
            let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
            let written: Vec<_> = rows.iter().map(|r| (r.status, r.outcome.as_str())).collect();
            assert_eq!(written, vec![(Some(503), "database"); refused.len()], "their rows were kept and written");

            let response = server.get(&link.url);
            assert_eq!((response.status, response.body.as_str()), (200, "1 of default"), "the ledger recovered");
        }

        fn a_give_back_that_meets_a_locked_ledger_is_written_once_it_is_free(backend) {
            let extra = Figment::from(("databases.app.connect_timeout", 1));
            let Some((server, gate, entered)) = start(backend, extra) else { return };
            let link = server.issuer.issue(&LinkSpec::new("1", "slow", "/slow/fail")).unwrap();
            let (addr, url) = (server.addr, link.url.clone());
            let request = std::thread::spawn(move || linktoken_tests::send(addr, &Request::new("GET", &url)));
            entered.recv_timeout(Duration::from_secs(30)).expect("the handler is entered");

            // The handler fails while the ledger is locked past its busy timeout.
            let lock = server.block_on(WriteLock::take(backend, &server.db().url));
            gate.release();
            assert_eq!(request.join().unwrap().status, 400);
            if backend == Backend::Sqlite {
                // A read first has the writer try what it holds: the give-back fails on the
                // lock, and so does the read.
                assert!(server.block_on(server.ledger.token(&link.jti)).is_err());
            }
            server.block_on(lock.release());

            let token = server.block_on(server.ledger.token(&link.jti)).unwrap().unwrap();
            assert_eq!(token.uses, 0, "the use was given back once the ledger was free");
            let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
            let written: Vec<_> = rows.iter().map(|r| (r.status, r.outcome.as_str())).collect();
            assert_eq!(written, [(Some(400), "returned")]);
        }

        fn a_database_recreated_empty_is_found_and_its_tables_made_again(backend) {
            let Some((server, _, _)) = start(backend, Figment::new()) else { return };
            let before = server.issuer.issue(&LinkSpec::new("1", "default", "/default")).unwrap();
            assert_eq!(server.get(&before.url).status, 200);

            server.db().recreate_empty();
            let link = server.issuer.issue(&LinkSpec::new("2", "default", "/default")).unwrap();
            // The writer's connections died with the old database: each batch on one is tried
            // again on a new connection, which finds no tables and makes them.
            let statuses: Vec<u16> = (0..3).map(|_| server.get(&link.url).status).collect();
            assert_eq!(statuses, [200, 200, 200]);
            let token = server.block_on(server.ledger.token(&link.jti)).unwrap().unwrap();
            assert_eq!(token.uses, 3);
            assert!(server.block_on(server.ledger.token(&before.jti)).unwrap().is_none(), "the old ledger is gone");
        }

        fn graceful_shutdown_writes_the_settlements_still_waiting(backend) {
            let Some(db) = TestDb::create(backend) else { return };
            let (gate, entered) = Gate::new();
            let lock = std::sync::Arc::new(tokio::sync::Mutex::new(None::<WriteLock>));
            let release = lock.clone();
            let rocket = app(backend, &db, gate.clone(), Figment::from(("databases.app.connect_timeout", 1)))
                .attach(AdHoc::on_shutdown("release the ledger", move |_| Box::pin(async move {
                    if let Some(lock) = release.lock().await.take() {
                        lock.release().await;
                    }
                })));
            let server = Server::launch(rocket, None);
            let link = server.issuer.issue(&LinkSpec::new("1", "slow", "/slow")).unwrap();
            let (addr, url) = (server.addr, link.url.clone());
            let request = std::thread::spawn(move || linktoken_tests::send(addr, &Request::new("GET", &url)));
            entered.recv_timeout(Duration::from_secs(30)).expect("the handler is entered");

            // The use is spent; its settlement will find the ledger locked until shutdown.
            *lock.blocking_lock() = Some(server.block_on(WriteLock::take(backend, &db.url)));
            gate.release();
            assert_eq!(request.join().unwrap().status, 200);
            server.stop();

            assert_eq!(rows_of(backend, &db.url, &link.jti), [(Some(200), "spent".to_string())]);
        }
    }
}
