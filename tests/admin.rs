//! The admin pages over HTTP: behind the application's guard, forms that change nothing
//! without this browser's token, revocations the pages report, filters and pages of links,
//! escaping of what clients sent, and the overview's charts. Then the newsletter example's
//! `/admin` behind its password.

use linktoken_tests::app::{app, Gate};
use linktoken_tests::process::Process;
use linktoken_tests::{
    backend_tests, newsletter_figment, send, Backend, Request, Response, Server, TestDb,
};
use rocket::figment::Figment;
use rocket::http::Status;
use rocket::request::{self, FromRequest};
use rocket_linktoken::LinkSpec;

/// The test application's admin check: `X-Staff: yes`. Without the header it answers 401, with
/// another value 403: the statuses are the guard's, not the library's.
struct Staff;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Staff {
    type Error = ();

    async fn from_request(request: &'r rocket::Request<'_>) -> request::Outcome<Staff, ()> {
        match request.headers().get_one("X-Staff") {
            Some("yes") => request::Outcome::Success(Staff),
            Some(_) => request::Outcome::Error((Status::Forbidden, ())),
            None => request::Outcome::Error((Status::Unauthorized, ())),
        }
    }
}

/// The test application with the admin pages at `/ops`.
fn start(backend: Backend) -> Option<Server> {
    let db = TestDb::create(backend)?;
    let (gate, _) = Gate::new();
    let rocket = app(backend, &db, gate, Figment::new())
        .mount("/ops", rocket_linktoken::admin::routes::<Staff>());
    Some(Server::launch(rocket, Some(db)))
}

/// A browser session on the admin pages: the staff header and the session cookie once set.
struct Browser<'s> {
    server: &'s Server,
    cookie: Option<String>,
}

impl<'s> Browser<'s> {
    fn new(server: &'s Server) -> Self {
        Browser {
            server,
            cookie: None,
        }
    }

    fn send(&mut self, request: Request<'_>) -> Response {
        let mut request = request.header("X-Staff", "yes");
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie.clone());
        }
        let response = self.server.send(&request);
        if let Some(set) = response.header("set-cookie") {
            let pair = set.split(';').next().unwrap_or_default().to_string();
            assert!(pair.starts_with("linktoken_admin="), "{set}");
            // Sent on a link followed from elsewhere, never readable by a script.
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Lax"),
                "{set}"
            );
            self.cookie = Some(pair);
        }
        response
    }

    fn get(&mut self, target: &str) -> Response {
        self.send(Request::new("GET", target))
    }

    fn post(&mut self, target: &str, form: &str) -> Response {
        self.send(Request::new("POST", target).form(form))
    }
}

/// The value of the page's first hidden `csrf` field.
fn csrf(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let end = page[start..].find('"').expect("its end") + start;
    page[start..end].to_string()
}

/// The links the page's table lists, in order.
fn listed(page: &str) -> Vec<String> {
    page.split("<tr class=\"link\"><td><a href=\"")
        .skip(1)
        .map(|row| {
            let code = row.find("<code>").expect("the link's id") + 6;
            let end = row[code..].find("</code>").expect("its end") + code;
            row[code..end].to_string()
        })
        .collect()
}

fn form_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

backend_tests! {
    fn without_the_applications_admin_check_there_is_no_page(backend) {
        let Some(server) = start(backend) else { return };
        let link = server.issuer.issue(&LinkSpec::new("1", "default", "/default")).unwrap();
        assert_eq!(server.get(&link.url).status, 200);

        let link_page = format!("/ops/link?id={}", link.jti);
        for target in ["/ops/", "/ops/links", link_page.as_str(), "/ops/user?id=1"] {
            assert_eq!(server.get(target).status, 401, "{target}");
            let wrong = Request::new("GET", target).header("X-Staff", "no");
            assert_eq!(server.send(&wrong).status, 403, "{target}");
        }
        let revoke = format!("link={}", link.jti);
        for (target, form) in [("/ops/revoke", revoke.as_str()), ("/ops/revoke-user", "user=1")] {
            assert_eq!(server.post_form(target, form).status, 401, "{target}");
            let wrong = Request::new("POST", target).header("X-Staff", "no").form(form);
            assert_eq!(server.send(&wrong).status, 403, "{target}");
        }
        assert!(server.block_on(server.ledger.user_revocations("1")).unwrap().is_empty());

        let token = server.block_on(server.ledger.token(&link.jti)).unwrap().unwrap();
        assert_eq!(token.revoked_at, None);
        assert_eq!(Browser::new(&server).get("/ops/").status, 200);
    }

    fn a_revoke_without_this_browsers_token_changes_nothing_and_with_it_revokes(backend) {
        let Some(server) = start(backend) else { return };
        let link = server.issuer.issue(&LinkSpec::new("1", "default", "/default")).unwrap();
        assert_eq!(server.get(&link.url).status, 200);
        let mut browser = Browser::new(&server);
        let page = browser.get(&format!("/ops/link?id={}", link.jti));
        assert_eq!(page.status, 200);
        let token = csrf(&page.body);
        // Another browser's session has a token of its own, which is not this one's.
        let mut other = Browser::new(&server);
        let other_token = csrf(&other.get(&format!("/ops/link?id={}", link.jti)).body);
        assert_ne!(token, other_token);

        let refused = [
            format!("link={}", link.jti),
            format!("link={}&csrf=", link.jti),
            format!("link={}&csrf={}", link.jti, form_value(&other_token)),
            format!("link={}&csrf={}x", link.jti, form_value(&token)),
        ];
        for form in &refused {
            let response = browser.post("/ops/revoke", form);
            assert_eq!(response.status, 403, "{form}");
            assert!(response.body.contains("nothing was changed"), "{}", response.body);
        }
        // The right token from a client without the session's cookie.
        let cookieless = Request::new("POST", "/ops/revoke")
            .header("X-Staff", "yes")
            .form(&format!("link={}&csrf={}", link.jti, form_value(&token)));
        assert_eq!(server.send(&cookieless).status, 403);

        let token_row = server.block_on(server.ledger.token(&link.jti)).unwrap().unwrap();
        assert_eq!(token_row.revoked_at, None);
        assert_eq!(server.get(&link.url).status, 200, "the link still works");

        let response = browser.post(
            "/ops/revoke",
            &format!("link={}&csrf={}", link.jti, form_value(&token)),
        );
        assert_eq!(response.status, 200, "{}", response.body);
        assert!(
            response.body.contains(&format!("Link {} is revoked", link.jti)),
            "{}",
            response.body
        );
        assert!(!response.body.contains("Revoke this link"), "a revoked link has no form");
        let token_row = server.block_on(server.ledger.token(&link.jti)).unwrap().unwrap();
        assert!(token_row.revoked_at.is_some());
        assert_eq!(server.get(&link.url).status, 410);
    }

    fn revoking_a_user_in_one_scope_spares_the_others_then_all_scopes(backend) {
        let Some(server) = start(backend) else { return };
        let default = server.issuer.issue(&LinkSpec::new("2", "default", "/default")).unwrap();
        let view = server.issuer.issue(&LinkSpec::new("2", "view", "/item")).unwrap();
        let other_user = server.issuer.issue(&LinkSpec::new("3", "default", "/default")).unwrap();
        assert_eq!(server.get(&default.url).status, 200);
        assert_eq!(server.post_form(&view.url, "name=a").status, 200);

        let mut browser = Browser::new(&server);
        let page = browser.get("/ops/user?id=2");
        assert_eq!(page.status, 200);
        assert_eq!(listed(&page.body).len(), 2);
        let token = form_value(&csrf(&page.body));

        let wrong = browser.post("/ops/revoke-user", "user=2&scope=default&csrf=nope");
        assert_eq!(wrong.status, 403);
        assert_eq!(server.get(&default.url).status, 200, "nothing was revoked");

        let response = browser.post("/ops/revoke-user", &format!("user=2&scope=default&csrf={token}"));
        assert_eq!(response.status, 200, "{}", response.body);
        assert!(
            response.body.contains("Every link of user 2 in scope default issued until now is revoked."),
            "{}",
            response.body
        );
        assert_eq!(server.get(&default.url).status, 410);
        assert_eq!(server.post_form(&view.url, "name=b").status, 200, "another scope's link works");
        assert_eq!(server.get(&other_user.url).status, 200, "another user's link works");
        let revocations = server.block_on(server.ledger.user_revocations("2")).unwrap();
        assert_eq!(revocations.len(), 1);
        assert_eq!(revocations[0].scope.as_deref(), Some("default"));

        let response = browser.post("/ops/revoke-user", &format!("user=2&scope=&csrf={token}"));
        assert_eq!(response.status, 200, "{}", response.body);
        assert!(response.body.contains("Every link of user 2 in every scope issued until now is revoked."));
        assert_eq!(response.body.matches("<tr class=\"revocation\">").count(), 2);
        assert_eq!(server.post_form(&view.url, "name=c").status, 410);
        assert_eq!(server.get(&other_user.url).status, 200);
    }

    fn links_are_filtered_and_paged_newest_first(backend) {
        let Some(server) = start(backend) else { return };
        let now = linktoken_tests::now();
        let mut rows: Vec<String> = (0..30)
            .map(|i| format!("('bulk-{i:02}', '7', 'bulk', 'GET', '/bulk', 200, 'spent', {})", now - 100 + i))
            .collect();
        rows.push(format!("('late-0', '8', 'other', 'GET', '/other', 410, 'expired', {now})"));
        rows.push(format!("('bulk-x', '8', 'bulk', 'GET', '/bulk', 410, 'used_up', {})", now - 200));
        server.db().execute(&format!(
            "INSERT INTO linktoken_uses (jti, sub, scope, method, path, status, outcome, used_at) VALUES {}",
            rows.join(", ")
        ));
        let mut browser = Browser::new(&server);

        let first = browser.get("/ops/links?scope=bulk");
        assert_eq!(first.status, 200);
        let expected: Vec<String> = (5..30).rev().map(|i| format!("bulk-{i:02}")).collect();
        assert_eq!(listed(&first.body), expected);
        assert!(first.body.contains("rel=\"next\" href=\"/ops/links?scope=bulk&amp;page=2\""), "{}", first.body);
        assert!(!first.body.contains("rel=\"prev\""));

        let second = browser.get("/ops/links?scope=bulk&page=2");
        let mut expected: Vec<String> = (0..5).rev().map(|i| format!("bulk-{i:02}")).collect();
        expected.push("bulk-x".into());
        assert_eq!(listed(&second.body), expected);
        assert!(second.body.contains("rel=\"prev\""));
        assert!(!second.body.contains("rel=\"next\""));

        assert_eq!(listed(&browser.get("/ops/links?outcome=expired").body), ["late-0"]);
        assert_eq!(listed(&browser.get("/ops/links?user=8").body), ["late-0", "bulk-x"]);
        assert_eq!(listed(&browser.get("/ops/links?user=8&scope=bulk&outcome=used_up").body), ["bulk-x"]);
        assert!(listed(&browser.get("/ops/links?user=8&outcome=spent").body).is_empty());
        let everything = browser.get("/ops/links");
        assert_eq!(listed(&everything.body).first().map(String::as_str), Some("late-0"));
        assert_eq!(listed(&everything.body).len(), 25);

        let user = browser.get("/ops/user?id=7&page=2");
        assert_eq!(listed(&user.body).len(), 5);
        assert!(user.body.contains("rel=\"prev\" href=\"/ops/user?id=7&amp;page=1\""), "{}", user.body);
    }

    fn attempts_are_counted_per_utc_day_and_refusals_over_the_last_day(backend) {
        let Some(server) = start(backend) else { return };
        // Noon two days ago, a second before and at the midnight that starts yesterday, and an
        // hour ago; the refusal of two days ago is outside the last 24 hours.
        let today = linktoken_tests::now() - linktoken_tests::now() % 86_400;
        let rows = [
            ("a", "s", "spent", today - 2 * 86_400 + 43_200),
            ("b", "s", "expired", today - 2 * 86_400 + 43_200),
            ("c", "t", "spent", today - 86_400 - 1),
            ("d", "s", "used_up", today - 86_400),
            ("e", "s", "used_up", linktoken_tests::now() - 3_600),
        ];
        let values: Vec<String> = rows
            .iter()
            .map(|(jti, scope, outcome, at)| format!("('{jti}', '1', '{scope}', 'GET', '/', 200, '{outcome}', {at})"))
            .collect();
        server.db().execute(&format!(
            "INSERT INTO linktoken_uses (jti, sub, scope, method, path, status, outcome, used_at) VALUES {}",
            values.join(", ")
        ));
        let since = chrono::DateTime::from_timestamp(today - 2 * 86_400, 0).unwrap();
        let day = |days_ago: i64| chrono::DateTime::from_timestamp(today - days_ago * 86_400, 0).unwrap().date_naive();

        let by_scope = server.block_on(server.ledger.daily_uses(since, rocket_linktoken::DailyBy::Scope)).unwrap();
        let points: Vec<_> = by_scope.iter().map(|p| (p.day, p.key.as_str(), p.count)).collect();
        let mut expected = vec![(day(2), "s", 2), (day(2), "t", 1), (day(1), "s", 1)];
        // The attempt an hour ago is today's, or yesterday's just after midnight.
        if linktoken_tests::now() - 3_600 >= today {
            expected.push((day(0), "s", 1));
        } else {
            expected[2].2 += 1;
        }
        assert_eq!(points, expected);

        let later = chrono::DateTime::from_timestamp(today - 86_400, 0).unwrap();
        let by_outcome = server.block_on(server.ledger.daily_uses(later, rocket_linktoken::DailyBy::Outcome)).unwrap();
        let total: i64 = by_outcome.iter().filter(|p| p.key == "used_up").map(|p| p.count).sum();
        assert_eq!(total, 2);
        assert!(by_outcome.iter().all(|p| p.key != "expired" && p.key != "spent"), "{by_outcome:?}");

        let refusals = server
            .block_on(server.ledger.refusals(chrono::Utc::now() - chrono::TimeDelta::hours(24)))
            .unwrap();
        let recent_used_up = if linktoken_tests::now() - (today - 86_400) <= 86_400 { 2 } else { 1 };
        assert_eq!(refusals, [("used_up".to_string(), recent_used_up)]);
    }

    fn what_clients_sent_is_escaped_on_the_links_page(backend) {
        let Some(server) = start(backend) else { return };
        let link = server.issuer.issue(&LinkSpec::new("1", "default", "/default")).unwrap();
        let hostile = "<script>alert('ua')</script><img src=x onerror=alert(1)>";
        let response = server.send(&Request::new("GET", &link.url).header("User-Agent", hostile));
        assert_eq!(response.status, 200);

        let page = Browser::new(&server).get(&format!("/ops/link?id={}", link.jti));
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("<script"), "{}", page.body);
        assert!(!page.body.contains("<img"), "{}", page.body);
        assert!(
            page.body.contains("&lt;script&gt;alert(&#39;ua&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"),
            "{}",
            page.body
        );
        assert_eq!(page.body.matches("<tr class=\"attempt\">").count(), 1);
        assert!(page.body.contains("<td>GET</td><td><code>/default</code></td>"), "{}", page.body);
        let policy = page.header("content-security-policy").expect("a policy");
        assert!(policy.contains("default-src 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");

        assert_eq!(Browser::new(&server).get("/ops/link?id=never-seen").status, 404);
    }

    fn a_links_attempts_come_a_page_at_a_time_the_latest_first(backend) {
        let Some(server) = start(backend) else { return };
        let link = server.issuer.issue(&LinkSpec::new("1", "default", "/default")).unwrap();
        // The first attempt spends the link's one use; the 102 after it are refused.
        for _ in 0..103 {
            server.send(&Request::new("GET", &link.url));
        }
        let mut browser = Browser::new(&server);

        let first = browser.get(&format!("/ops/link?id={}", link.jti));
        assert_eq!(first.status, 200);
        assert_eq!(first.body.matches("<tr class=\"attempt\">").count(), 100);
        assert!(!first.body.contains("<td>spent</td>"), "{}", first.body);
        let older = format!("/ops/link?id={}&amp;page=2", link.jti);
        assert!(first.body.contains(&format!("<a rel=\"next\" href=\"{older}\">")), "{}", first.body);
        assert!(!first.body.contains("rel=\"prev\""), "{}", first.body);

        let second = browser.get(&format!("/ops/link?id={}&page=2", link.jti));
        assert_eq!(second.status, 200);
        assert_eq!(second.body.matches("<tr class=\"attempt\">").count(), 3);
        // The oldest attempt, the one that spent, closes the last page.
        let last_row = second.body.rsplit("<tr class=\"attempt\">").next().unwrap();
        assert!(last_row.contains("<td>spent</td>"), "{}", second.body);
        assert!(second.body.contains("rel=\"prev\""), "{}", second.body);
        assert!(!second.body.contains("rel=\"next\""), "{}", second.body);

        // A page past the last is empty, not missing: the link is known.
        let past = browser.get(&format!("/ops/link?id={}&page=9", link.jti));
        assert_eq!(past.status, 200);
        assert!(past.body.contains("No attempts."), "{}", past.body);
    }

    fn the_overview_draws_its_charts_and_counts_the_days_refusals(backend) {
        let Some(server) = start(backend) else { return };
        let link = server.issuer.issue(&LinkSpec::new("1", "default", "/default")).unwrap();
        let statuses: Vec<u16> = (0..5).map(|_| server.get(&link.url).status).collect();
        assert_eq!(statuses, [200, 200, 200, 410, 410]);

        let page = Browser::new(&server).get("/ops/");
        assert_eq!(page.status, 200);
        assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(page.body.matches("<svg").count(), 2, "{}", page.body);
        assert!(page.body.contains("<polyline"), "a line is drawn");
        assert!(page.body.contains("<td><a href=\"/ops/links?scope=default\">default</a></td><td>5</td>"), "{}", page.body);
        assert!(page.body.contains("<td><a href=\"/ops/links?outcome=spent\">spent</a></td><td>3</td>"), "{}", page.body);
        let refusals = &page.body[page.body.find("id=\"refusals\"").expect("the refusals table")..];
        assert!(refusals.contains("<td><a href=\"/ops/links?outcome=used_up\">used_up</a></td><td>2</td>"), "{refusals}");
        assert!(!refusals.contains(">spent<"), "{refusals}");
    }
}

/// The newsletter example on a fresh SQLite file, its test configuration changed by `change`.
fn newsletter(change: impl FnOnce(Figment) -> Figment) -> Server {
    let db = TestDb::create(Backend::Sqlite).expect("SQLite is always there");
    let rocket = newsletter::rocket_with(change(newsletter_figment(&db)));
    Server::launch(rocket, Some(db))
}

/// `Authorization` with HTTP Basic credentials `admin:<password>`.
fn basic(password: &str) -> String {
    use base64::Engine as _;
    let credentials = format!("admin:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

#[test]
fn the_newsletter_admin_asks_for_its_password() {
    let server = newsletter(|figment| figment.merge(("admin_password", "s3cret")));
    let asked = server.get("/admin");
    assert_eq!(asked.status, 401);
    assert_eq!(
        asked.header("www-authenticate"),
        Some("Basic realm=\"newsletter admin\", charset=\"UTF-8\"")
    );
    let wrong = Request::new("GET", "/admin").header("Authorization", basic("wrong"));
    assert_eq!(server.send(&wrong).status, 401);
    let right = Request::new("GET", "/admin").header("Authorization", basic("s3cret"));
    let page = server.send(&right);
    assert_eq!(page.status, 200);
    // The scheme's name in any case, as RFC 9110 allows.
    let lower = basic("s3cret").replacen("Basic", "basic", 1);
    let lower = Request::new("GET", "/admin").header("Authorization", lower);
    assert_eq!(server.send(&lower).status, 200);
    assert!(
        page.body.contains("<h1>Links overview</h1>"),
        "{}",
        page.body
    );
    assert!(server
        .get("/")
        .body
        .contains("<a href=\"/admin\">Admin pages</a>"));
}

#[test]
fn a_release_newsletter_without_a_password_mounts_no_admin() {
    let server = newsletter(|figment| figment.select("release"));
    assert_eq!(server.get("/admin").status, 404);
    let debug_password =
        Request::new("GET", "/admin").header("Authorization", basic("newsletter-admin"));
    assert_eq!(server.send(&debug_password).status, 404);
    assert!(!server.get("/").body.contains("/admin"));
}

#[test]
fn a_release_newsletter_without_a_password_says_why_there_is_no_admin() {
    let db = TestDb::create(Backend::Sqlite).expect("SQLite is always there");
    let log = std::env::temp_dir().join(format!("linktoken-admin-log-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let server = Process::start_with(
        env!("CARGO_BIN_EXE_newsletter-server"),
        &db.url,
        Some((&log, "normal")),
        &[("ROCKET_PROFILE", "release")],
    );
    assert_eq!(
        send(server.addr, &Request::new("GET", "/admin")).status,
        404
    );
    drop(server);
    let written = std::fs::read_to_string(&log).expect("the log");
    let _ = std::fs::remove_file(&log);
    assert!(
        written.contains("newsletter: /admin is not mounted: no `admin_password` is configured"),
        "{written}"
    );
}

#[test]
fn the_debug_newsletter_has_its_development_password() {
    let server = newsletter(|figment| figment.select("debug"));
    let right = Request::new("GET", "/admin").header("Authorization", basic("newsletter-admin"));
    assert_eq!(server.send(&right).status, 200);
}
