//! The two routes answer alike, the guarded one spends a use of a genuine link, and a forged
//! link is refused without touching the ledger.

use bench::{links, Kind, SqliteDb};
use rocket::http::Status;
use rocket::local::asynchronous::Client;
use rocket_db_pools::{sqlx, Database};

const SECRET: &str = "bench-test-secret-of-at-least-32-bytes";

async fn client(file: &std::path::Path) -> Client {
    let figment = bench::figment().merge(("linktoken.secret", SECRET)).merge((
        "databases.bench.url",
        format!("sqlite://{}?mode=rwc", file.display()),
    ));
    Client::untracked(bench::rocket_with(figment))
        .await
        .expect("the bench server ignites")
}

/// The ledger's use rows as committed with each spend (the status is settled later).
async fn uses(client: &Client) -> Vec<(String, String)> {
    let db = SqliteDb::fetch(client.rocket()).expect("the database is attached");
    sqlx::query_as("SELECT path, outcome FROM linktoken_uses ORDER BY id")
        .fetch_all(&**db)
        .await
        .expect("the ledger is readable")
}

#[rocket::async_test]
async fn guarded_answers_like_plain_and_spends_only_genuine_links() {
    let file = std::env::temp_dir().join(format!("bench-routes-{}.sqlite", std::process::id()));
    let client = client(&file).await;
    let figment = rocket::figment::Figment::new().merge(("linktoken.secret", SECRET));
    let genuine = &links(&figment, Kind::Guarded, 1).unwrap()[0];
    let forged = &links(&figment, Kind::Forged, 1).unwrap()[0];

    let plain = client.get("/plain/0").dispatch().await;
    assert_eq!(plain.status(), Status::Ok);
    assert_eq!(plain.into_string().await.as_deref(), Some("ok 0\n"));

    let guarded = client.get(genuine.as_str()).dispatch().await;
    assert_eq!(guarded.status(), Status::Ok);
    assert_eq!(guarded.into_string().await.as_deref(), Some("ok 0\n"));

    let refused = client.get(forged.as_str()).dispatch().await.status();
    assert_eq!(refused, Status::Forbidden);

    assert_eq!(
        uses(&client).await,
        [("/guarded/0".to_string(), "spent".to_string())]
    );
    drop(client);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
