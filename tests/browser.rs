//! The example in a real browser: headless Chromium, driven over WebDriver by chromedriver,
//! follows an unsubscribe link from the index page, confirms, and finds the link used up when
//! it follows it again. Screenshots of each page go to `target/browser/`.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use linktoken_tests::{Backend, Server};

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

#[test]
fn a_reader_unsubscribes_in_a_browser_and_the_link_is_then_used_up() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        // Straight to stderr: the test harness swallows `eprintln!` of passing tests, and CI
        // looks for this line.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: chromium not installed (apt-get install -y chromium chromium-driver)"
        );
        return;
    }
    let server = Server::newsletter(Backend::Sqlite).expect("SQLite is always there");
    let site = format!("http://{}", server.addr);
    let (_driver, port) = start_driver();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");

    runtime.block_on(async {
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
