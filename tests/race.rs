//! Concurrent clicks: a link allowing N uses gives exactly N successful responses, however many
//! requests race for it.

use std::sync::{Arc, Barrier};

use linktoken_tests::{backend_tests, Request, Server};
use rocket_linktoken::LinkSpec;

/// Fires `count` copies of `request` at once (each on its own connection, released together by
/// a barrier) and returns the statuses.
fn burst(server: &Server, request: Request<'static>, count: usize) -> Vec<u16> {
    let barrier = Arc::new(Barrier::new(count));
    let threads: Vec<_> = (0..count)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let request = request.clone();
            let addr = server.addr;
            std::thread::spawn(move || {
                barrier.wait();
                linktoken_tests::send(addr, &request).status
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("a request thread"))
        .collect()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

const CLICKS: usize = 24;
const ROUNDS: usize = 20;

backend_tests! {
    fn one_time_link_survives_concurrent_clicks_once(backend) {
        let Some(server) = Server::newsletter(backend) else { return };
        for round in 0..ROUNDS {
            let link = server.issuer.issue(&LinkSpec::new("1", "unsubscribe", "/unsubscribe/1")).unwrap();
            let url: &'static str = Box::leak(link.url.into_boxed_str());
            let statuses = burst(&server, Request::new("POST", url).form("confirm=yes"), CLICKS);
            assert_eq!((count(&statuses, 200), count(&statuses, 410)), (1, CLICKS - 1), "round {round}: {statuses:?}");

            let rows = server.block_on(server.ledger.uses(&link.jti)).unwrap();
            assert_eq!(rows.len(), CLICKS, "round {round}: one row per attempt");
            let spent: Vec<_> = rows.iter().filter(|r| r.outcome == "spent").collect();
            assert_eq!(spent.len(), 1, "round {round}");
            assert_eq!(spent[0].status, Some(200));
            assert!(rows.iter().filter(|r| r.outcome != "spent").all(|r| r.outcome == "used_up" && r.status == Some(410)));
            let token = server.block_on(server.ledger.token(&link.jti)).unwrap().unwrap();
            assert_eq!(token.uses, 1);
        }
    }

    fn five_use_link_gives_exactly_five_under_concurrency(backend) {
        let Some(server) = Server::newsletter(backend) else { return };
        for round in 0..5 {
            let link = server.issuer.issue(&LinkSpec::new("2", "preferences", "/preferences")).unwrap();
            let url: &'static str = Box::leak(link.url.into_boxed_str());
            let statuses = burst(&server, Request::new("GET", url), CLICKS);
            assert_eq!((count(&statuses, 200), count(&statuses, 410)), (5, CLICKS - 5), "round {round}: {statuses:?}");
            let token = server.block_on(server.ledger.token(&link.jti)).unwrap().unwrap();
            assert_eq!(token.uses, 5);
        }
    }
}
