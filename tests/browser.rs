//! The example in a real browser: headless Chromium, driven over WebDriver by chromedriver,
//! follows an unsubscribe link from the index page, confirms, and finds the link used up when
//! it follows it again; then an admin goes through the admin pages and revokes a link.
//! Screenshots of each page go to `target/browser/`.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use linktoken_tests::{block_on, Backend, Server};
use rocket_linktoken::LinkSpec;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Starts chromedriver and waits until it accepts connections.
fn start_driver() -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver never listened on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (driver, port)
}

/// Where the screenshots go: the workspace's `target/browser/`.
fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("browser");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

async fn browser(port: u16) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1000,800"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a browser session")
}

/// Waits until the page's heading satisfies `expected`: a click starts a navigation that ends
/// later, and until then the old page (or an element of it gone stale) is what is found.
async fn heading(client: &Client, expected: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(h1) = client.find(Locator::Css("h1")).await {
            if let Ok(text) = h1.text().await {
                if expected(&text) {
                    return;
                }
                last = text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page's heading never became the one expected; last seen: {last:?}");
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    std::fs::write(screenshots().join(format!("{name}.png")), png)
        .expect("the screenshot is saved");
}

/// Whether Chromium and chromedriver are installed; says so when not.
fn chromium_installed() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    // Straight to stderr: the test harness swallows `eprintln!` of passing tests, and CI looks
    // for this line.
    let _ = writeln!(
        std::io::stderr(),
        "skipped: chromium not installed (apt-get install -y chromium chromium-driver)"
    );
    false
}

#[test]
fn a_reader_unsubscribes_in_a_browser_and_the_link_is_then_used_up() {
    if !chromium_installed() {
        return;
    }
    let server = Server::newsletter(Backend::Sqlite).expect("SQLite is always there");
    let site = format!("http://{}", server.addr);
    let (_driver, port) = start_driver();
    block_on(async {
        let client = browser(port).await;
        client
            .goto(&format!("{site}/"))
            .await
            .expect("the index opens");
        heading(&client, |h| h == "Newsletter subscribers").await;
        screenshot(&client, "1-index").await;

        let link = client
            .find(Locator::Css("a.unsubscribe"))
            .await
            .expect("an unsubscribe link");
        let href = link.attr("href").await.expect("its href").expect("an href");
        link.click().await.expect("the link is followed");
        heading(&client, |h| h.starts_with("Unsubscribe from ")).await;
        screenshot(&client, "2-confirm").await;

        client
            .find(Locator::Css("button[type=submit]"))
            .await
            .expect("the confirm button")
            .click()
            .await
            .expect("the form is posted");
        heading(&client, |h| h == "Unsubscribed").await;
        screenshot(&client, "3-unsubscribed").await;

        client
            .goto(&format!("{site}{href}"))
            .await
            .expect("the link opens again");
        heading(&client, |h| h == "Gone").await;
        let page = client.source().await.expect("the page source");
        assert!(page.contains("This link has already been used."), "{page}");
        screenshot(&client, "4-used-up").await;

        client.close().await.expect("the session ends");
    });
}

/// Clicks the element `css` finds.
async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} is on the page: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css} is clicked: {e}"));
}

#[test]
fn an_admin_browses_the_admin_pages_and_revokes_a_link() {
    if !chromium_installed() {
        return;
    }
    let server = Server::newsletter(Backend::Sqlite).expect("SQLite is always there");
    // Some history: a preferences link used twice, an unsubscribe link previewed, used, then
    // refused.
    let preferences = server
        .issuer
        .issue(&LinkSpec::new("1", "preferences", "/preferences"))
        .expect("a link");
    for _ in 0..2 {
        assert_eq!(server.get(&preferences.url).status, 200);
    }
    let unsubscribe = server
        .issuer
        .issue(&LinkSpec::new("2", "unsubscribe", "/unsubscribe/1"))
        .expect("a link");
    assert_eq!(server.get(&unsubscribe.url).status, 200);
    assert_eq!(
        server.post_form(&unsubscribe.url, "confirm=yes").status,
        200
    );
    assert_eq!(
        server.post_form(&unsubscribe.url, "confirm=yes").status,
        410
    );

    // The debug profile's development password, in the URL: the browser keeps it for the
    // pages after.
    let site = format!("http://admin:newsletter-admin@{}", server.addr);
    let (_driver, port) = start_driver();
    block_on(async {
        let client = browser(port).await;
        client
            .goto(&format!("{site}/admin"))
            .await
            .expect("the overview opens");
        heading(&client, |h| h == "Links overview").await;
        let page = client.source().await.expect("the page source");
        assert_eq!(page.matches("<svg").count(), 2, "{page}");
        assert!(page.contains(">used_up</a>"), "{page}");
        screenshot(&client, "admin-overview").await;

        click(&client, "nav a[href='/admin/links']").await;
        heading(&client, |h| h == "Links").await;
        assert_eq!(
            client
                .find_all(Locator::Css("tr.link"))
                .await
                .expect("the rows")
                .len(),
            2
        );
        screenshot(&client, "admin-links").await;

        click(
            &client,
            &format!("a[href='/admin/link?id={}']", preferences.jti),
        )
        .await;
        heading(&client, |h| h == "Link").await;
        assert_eq!(
            client
                .find_all(Locator::Css("tr.attempt"))
                .await
                .expect("the attempts")
                .len(),
            2
        );
        screenshot(&client, "admin-link").await;

        click(&client, "button[type=submit]").await;
        heading(&client, |h| h == "Link").await;
        let notice = client
            .find(Locator::Css("p.notice"))
            .await
            .expect("the page says what happened");
        assert_eq!(
            notice.text().await.expect("its text"),
            format!(
                "Link {} is revoked: it is refused from now on.",
                preferences.jti
            )
        );
        screenshot(&client, "admin-revoked").await;

        click(&client, "a[href='/admin/user?id=1']").await;
        heading(&client, |h| h == "User").await;
        screenshot(&client, "admin-user").await;

        client
            .set_window_size(390, 844)
            .await
            .expect("a phone-sized window");
        click(&client, "nav a[href='/admin']").await;
        heading(&client, |h| h == "Links overview").await;
        screenshot(&client, "admin-overview-narrow").await;

        client.close().await.expect("the session ends");
    });
    assert_eq!(
        server.get(&preferences.url).status,
        410,
        "the revoked link is refused"
    );
}
