//! The newsletter example over real sockets: every status the README lists, and the rows each
//! request leaves in `linktoken_tokens` and `linktoken_uses`.

use chrono::{TimeDelta, Utc};
use linktoken_tests::{
    anchor_hrefs, backend_tests, claims, mint, now, Request, Response, Server, TestDb, SECRET,
};
use rocket_linktoken::{LinkSpec, UseRecord};

fn server(backend: linktoken_tests::Backend) -> Option<Server> {
    Server::newsletter(backend)
}

/// A link as the application would send it.
fn link(server: &Server, spec: LinkSpec) -> (String, String) {
    let link = server.issuer.issue(&spec).expect("the link is issued");
    (link.url, link.jti)
}

fn unsubscribe_link(server: &Server, user: &str, list: u32) -> (String, String) {
    link(
        server,
        LinkSpec::new(user, "unsubscribe", format!("/unsubscribe/{list}")),
    )
}

fn uses(server: &Server, jti: &str) -> Vec<UseRecord> {
    server
        .block_on(server.ledger.uses(jti))
        .expect("the ledger answers")
}

/// `(method, status, outcome)` of each recorded attempt, oldest first.
fn history(server: &Server, jti: &str) -> Vec<(String, Option<u16>, String)> {
    uses(server, jti)
        .into_iter()
        .map(|u| (u.method, u.status, u.outcome))
        .collect()
}

fn row(method: &str, status: u16, outcome: &str) -> (String, Option<u16>, String) {
    (method.to_string(), Some(status), outcome.to_string())
}

fn spent_uses(server: &Server, jti: &str) -> Option<i64> {
    server
        .block_on(server.ledger.token(jti))
        .expect("the ledger answers")
        .map(|t| t.uses)
}

/// The links on the index page, made by the template helper, in page order (Ada's first).
fn index_links(server: &Server) -> Vec<String> {
    let index = server.get("/");
    assert_eq!(index.status, 200);
    // The links of the subscribers table's anchors: neither the stylesheet's `<link href>`
    // nor the link to the admin pages below the table.
    anchor_hrefs(index.body.split("</table>").next().unwrap_or_default())
}

fn assert_private(response: &Response) {
    assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
}

/// A hand-made token for user 1 on `/unsubscribe/1`, signed with `secret` by `alg`.
fn hand_made(alg: &str, secret: &str, jti: &str, extra_claims: &str) -> String {
    let t = now();
    let payload = claims(
        jti,
        "1",
        "unsubscribe",
        "/unsubscribe/1",
        t - 10,
        t + 3600,
        extra_claims,
    );
    mint(
        alg,
        &format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#),
        &payload,
        secret,
    )
}

/// The header lines shown for `subscriber`'s next email of `list`, as the page says them.
fn shown_headers(index: &str, subscriber: u32, list: u32) -> Option<Vec<String>> {
    let open =
        format!(r#"<pre class="headers" data-subscriber="{subscriber}" data-list="{list}">"#);
    let (_, after) = index.split_once(&open)?;
    let block = after.split("</pre>").next().unwrap_or_default();
    let unescaped = block
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&");
    Some(unescaped.lines().map(String::from).collect())
}

backend_tests! {
    fn a_restart_on_the_same_database_keeps_the_ledger(backend) {
        let Some(db) = TestDb::create(backend) else { return };
        let first = Server::newsletter_on(&db);
        let (url, jti) = unsubscribe_link(&first, "1", 1);
        assert_eq!(first.post_form(&url, "confirm=yes").status, 200);
        drop(first);

        // Ignite again: the tables exist, the seeds are there once, the spent link stays spent.
        let second = Server::newsletter_on(&db);
        assert_eq!(second.post_form(&url, "confirm=yes").status, 410);
        assert_eq!(spent_uses(&second, &jti), Some(1));
        assert_eq!(second.get("/").body.matches("<tr>").count(), 1 + 3, "three subscribers, once");
        second.block_on(second.ledger.migrate()).unwrap();
    }

    fn health_answers_plainly(backend) {
        let Some(server) = server(backend) else { return };
        let response = server.get("/health");
        assert_eq!((response.status, response.body.as_str()), (200, "ok"));
        assert_eq!(response.header("cache-control"), None);
    }

    fn preview_then_confirm_spends_exactly_once(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = unsubscribe_link(&server, "1", 1);

        let preview = server.get(&url);
        assert_eq!(preview.status, 200);
        assert!(preview.body.contains("Unsubscribe from Weekly digest?"), "{}", preview.body);
        assert!(preview.body.contains(&format!("action=\"{}\"", url.replace('/', "&#x2F;"))));
        assert_private(&preview);
        assert_eq!(spent_uses(&server, &jti), None, "a preview spends nothing");

        let confirmed = server.post_form(&url, "confirm=yes");
        assert_eq!(confirmed.status, 200);
        assert!(confirmed.body.contains("will no longer receive Weekly digest"));
        assert_private(&confirmed);

        let again = server.post_form(&url, "confirm=yes");
        assert_eq!(again.status, 410);
        assert!(again.body.contains("This link has already been used."));
        let preview_after = server.get(&url);
        assert_eq!(preview_after.status, 410, "a used-up link shows no confirmation form");

        assert_eq!(spent_uses(&server, &jti), Some(1));
        assert_eq!(
            history(&server, &jti),
            vec![
                row("GET", 200, "preview"),
                row("POST", 200, "spent"),
                row("POST", 410, "used_up"),
                row("GET", 410, "used_up"),
            ]
        );
        let index = server.get("/");
        assert!(index.body.contains("Weekly digest: unsubscribed"), "{}", index.body);
    }

    fn one_click_post_unsubscribes(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = unsubscribe_link(&server, "2", 2);
        let response = server.post_form(&url, "List-Unsubscribe=One-Click");
        assert_eq!(response.status, 200);
        assert!(response.body.contains("grace@example.com will no longer receive Release announcements"));
        assert_eq!(history(&server, &jti), vec![row("POST", 200, "spent")]);
    }

    fn an_error_response_gives_the_use_back(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = unsubscribe_link(&server, "1", 1);
        assert_eq!(server.post_form(&url, "confirm=no").status, 400);
        assert_eq!(spent_uses(&server, &jti), Some(0));
        let (unknown_list, unknown_jti) = unsubscribe_link(&server, "1", 9);
        assert_eq!(server.post_form(&unknown_list, "confirm=yes").status, 404);
        assert_eq!(spent_uses(&server, &unknown_jti), Some(0));

        assert_eq!(server.post_form(&url, "confirm=yes").status, 200);
        assert_eq!(spent_uses(&server, &jti), Some(1));
        assert_eq!(history(&server, &jti), vec![row("POST", 400, "returned"), row("POST", 200, "spent")]);
    }

    fn errors_that_are_not_refusals_get_the_sites_own_pages(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = unsubscribe_link(&server, "1", 1);
        let unconfirmed = server.post_form(&url, "confirm=no");
        assert_eq!(unconfirmed.status, 400);
        assert!(unconfirmed.body.contains("<h1>Nothing was changed</h1>"), "{}", unconfirmed.body);
        assert!(unconfirmed.body.contains(r#"<link rel="stylesheet" href="/style.css">"#));

        // A POST without the form: Rocket's form guard forwards with 415.
        let bare = server.send(&Request::new("POST", &url));
        assert_eq!(bare.status, 415);
        assert!(bare.body.contains("<h1>The form could not be read</h1>"), "{}", bare.body);
        assert_eq!(spent_uses(&server, &jti), Some(0), "neither kept the use");

        let missing = server.get("/no-such-page");
        assert_eq!(missing.status, 404);
        assert!(missing.body.contains("<h1>Page not found</h1>"));

        let style = server.get("/style.css");
        assert_eq!(style.status, 200);
        assert_eq!(style.header("content-type"), Some("text/css; charset=utf-8"));
        assert!(style.body.contains("font:"));

        // A refused link keeps the library's page, which has a look of its own.
        assert_eq!(server.post_form(&url, "confirm=yes").status, 200);
        let gone = server.post_form(&url, "confirm=yes");
        assert_eq!(gone.status, 410);
        assert!(gone.body.contains("<style>"), "{}", gone.body);
        assert!(gone.body.contains("<p>This link has already been used.</p>"), "{}", gone.body);
    }

    fn preferences_link_works_five_times(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = link(&server, LinkSpec::new("3", "preferences", "/preferences"));
        for use_number in 1..=5 {
            let response = server.get(&url);
            assert_eq!(response.status, 200);
            assert!(response.body.contains(&format!("used {use_number} of its 5 times")));
        }
        assert_eq!(server.get(&url).status, 410);
        assert_eq!(spent_uses(&server, &jti), Some(5));
        let outcomes: Vec<_> = uses(&server, &jti).into_iter().map(|u| u.outcome).collect();
        assert_eq!(outcomes, ["spent", "spent", "spent", "spent", "spent", "used_up"]);
    }

    fn the_token_max_caps_below_the_route(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = link(&server, LinkSpec::new("3", "preferences", "/preferences").max_uses(2));
        let statuses: Vec<u16> = (0..3).map(|_| server.get(&url).status).collect();
        assert_eq!(statuses, [200, 200, 410]);
        assert_eq!(spent_uses(&server, &jti), Some(2));
    }

    fn head_never_spends(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = link(&server, LinkSpec::new("1", "preferences", "/preferences").max_uses(1));
        for _ in 0..3 {
            let head = server.send(&Request::new("HEAD", &url));
            assert_eq!((head.status, head.body.as_str()), (200, ""));
            assert_private(&head);
        }
        assert_eq!(spent_uses(&server, &jti), None);
        assert_eq!(server.get(&url).status, 200);
        assert_eq!(server.send(&Request::new("HEAD", &url)).status, 410);
        assert_eq!(
            history(&server, &jti),
            vec![
                row("HEAD", 200, "preview"),
                row("HEAD", 200, "preview"),
                row("HEAD", 200, "preview"),
                row("GET", 200, "spent"),
                row("HEAD", 410, "used_up"),
            ]
        );
    }

    fn a_form_method_override_is_recorded_and_spends_as_the_post_it_is(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = link(&server, LinkSpec::new("1", "preferences", "/preferences"));
        // Rocket routes these POSTs as GET and HEAD: the row says what came over the wire.
        let as_get = server.post_form(&url, "_method=get");
        assert_eq!(as_get.status, 200);
        // Rocket answers it as a HEAD (no body after its Content-Length): the answer is cut.
        let as_head = Request::new("POST", &url).form("_method=head");
        assert!(linktoken_tests::try_send(server.addr, &as_head).is_err());
        assert_eq!(spent_uses(&server, &jti), Some(2), "a POST is no HEAD: it spends");
        assert_eq!(history(&server, &jti), vec![row("POST", 200, "spent"), row("POST", 200, "spent")]);
    }

    fn an_expired_link_is_gone(backend) {
        let Some(server) = server(backend) else { return };
        let spec = LinkSpec::new("1", "unsubscribe", "/unsubscribe/1").ttl(TimeDelta::hours(1));
        let link = server.issuer.issue_at(&spec, Utc::now() - TimeDelta::hours(2)).unwrap();
        let response = server.post_form(&link.url, "confirm=yes");
        assert_eq!(response.status, 410);
        assert!(response.body.contains("This link has expired."));
        assert_private(&response);
        assert_eq!(spent_uses(&server, &link.jti), None);
        assert_eq!(history(&server, &link.jti), vec![row("POST", 410, "expired")]);
    }

    fn a_link_before_its_time_is_forbidden(backend) {
        let Some(server) = server(backend) else { return };
        let spec = LinkSpec::new("1", "unsubscribe", "/unsubscribe/1")
            .not_before(Utc::now() + TimeDelta::hours(1));
        let (url, jti) = link(&server, spec);
        assert_eq!(server.post_form(&url, "confirm=yes").status, 403);
        assert_eq!(history(&server, &jti), vec![row("POST", 403, "not_yet_valid")]);
    }

    fn a_link_for_another_action_is_forbidden(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = link(&server, LinkSpec::new("1", "preferences", "/unsubscribe/1"));
        let response = server.post_form(&url, "confirm=yes");
        assert_eq!(response.status, 403);
        assert!(response.body.contains("made for a different action"));
        assert_eq!(history(&server, &jti), vec![row("POST", 403, "wrong_scope")]);
    }

    fn a_link_for_another_page_is_forbidden(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = unsubscribe_link(&server, "1", 2);
        let elsewhere = url.replace("/unsubscribe/2", "/unsubscribe/1");
        assert_eq!(server.post_form(&elsewhere, "confirm=yes").status, 403);
        let with_extra_query = url.replace('?', "?list=1&");
        assert_eq!(server.get(&with_extra_query).status, 403);
        assert_eq!(
            history(&server, &jti),
            vec![row("POST", 403, "wrong_target"), row("GET", 403, "wrong_target")]
        );
        assert_eq!(server.get(&url).status, 200, "the link still works where it belongs");
    }

    fn an_unknown_user_is_forbidden_and_spends_nothing(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = unsubscribe_link(&server, "99", 1);
        let response = server.post_form(&url, "confirm=yes");
        assert_eq!(response.status, 403);
        assert!(response.body.contains("account that does not exist"));
        assert_eq!(spent_uses(&server, &jti), None);
        assert_eq!(history(&server, &jti), vec![row("POST", 403, "unknown_user")]);
    }

    fn a_missing_token_is_forbidden(backend) {
        let Some(server) = server(backend) else { return };
        let response = server.post_form("/unsubscribe/1", "confirm=yes");
        assert_eq!(response.status, 403);
        assert!(response.body.contains("can only be opened from a link"));
        assert_eq!(server.get("/preferences").status, 403);
    }

    fn forged_tokens_are_forbidden_and_write_nothing(backend) {
        let Some(server) = server(backend) else { return };
        let wrong_secret = hand_made("HS256", "another-secret-0123456789abcdef-0123456789", "forged-1", "");
        let none = hand_made("none", SECRET, "forged-2", "");
        let hs512 = hand_made("HS512", SECRET, "forged-3", "");
        let genuine = hand_made("HS256", SECRET, "forged-4", "");
        let (head, rest) = genuine.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let t = now();
        let other = claims("forged-4", "2", "unsubscribe", "/unsubscribe/1", t - 10, t + 3600, "");
        let tampered = format!("{head}.{}.{signature}", linktoken_tests::b64(other));

        for (name, token, jti) in [
            ("wrong secret", wrong_secret, "forged-1"),
            ("alg none", none, "forged-2"),
            ("HS512", hs512, "forged-3"),
            ("tampered payload", tampered, "forged-4"),
        ] {
            let response = server.post_form(&format!("/unsubscribe/1?rt={token}"), "confirm=yes");
            assert_eq!(response.status, 403, "{name}");
            assert_private(&response);
            assert!(uses(&server, jti).is_empty(), "{name} wrote a row");
            assert_eq!(spent_uses(&server, jti), None, "{name} spent a use");
        }
    }

    fn malformed_tokens_are_bad_requests(backend) {
        let Some(server) = server(backend) else { return };
        let exp_as_string = hand_made("HS256", SECRET, "bad-types", r#","max":"2""#);
        let oversized = format!("{}.{}.{}", "a".repeat(3000), "b".repeat(3000), "c");
        for (name, token) in [
            ("not a JWS", "abc".to_string()),
            ("two segments", "eyJhbGciOiJIUzI1NiJ9.e30".to_string()),
            ("not base64", "!!!.!!!.!!!".to_string()),
            ("empty", String::new()),
            ("oversized", oversized),
            ("wrong claim type", exp_as_string),
        ] {
            let response = server.post_form(&format!("/unsubscribe/1?rt={token}"), "confirm=yes");
            assert_eq!(response.status, 400, "{name}");
            assert_private(&response);
        }
        assert_eq!(history(&server, "bad-types"), vec![row("POST", 400, "invalid_claim")]);
    }

    fn genuine_tokens_with_refused_claims_have_their_row_and_spend_nothing(backend) {
        let Some(server) = server(backend) else { return };
        let zero_uses = hand_made("HS256", SECRET, "zero-uses", r#","max":0"#);
        let t = now();
        let float_exp = format!(
            r#"{{"jti":"float-exp","sub":"1","scope":"unsubscribe","aud":"/unsubscribe/1","iat":{},"exp":{}.5}}"#,
            t - 10,
            t + 3600
        );
        let float_exp = mint("HS256", r#"{"alg":"HS256","typ":"JWT"}"#, &float_exp, SECRET);
        let fp_number = hand_made("HS256", SECRET, "fp-number", r#","fp":7"#);
        for (token, jti) in [(zero_uses, "zero-uses"), (float_exp, "float-exp"), (fp_number, "fp-number")] {
            let response = server.post_form(&format!("/unsubscribe/1?rt={token}"), "confirm=yes");
            assert_eq!(response.status, 400, "{jti}");
            assert!(response.body.contains("claim is missing or of the wrong type"), "{}", response.body);
            assert_private(&response);
            assert_eq!(history(&server, jti), vec![row("POST", 400, "invalid_claim")], "{jti}");
            let recorded = &uses(&server, jti)[0];
            assert_eq!((recorded.sub.as_str(), recorded.scope.as_str()), ("1", "unsubscribe"));
            assert_eq!(spent_uses(&server, jti), None, "{jti} spent a use");
        }
    }

    fn two_token_parameters_are_a_bad_request(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = unsubscribe_link(&server, "1", 1);
        let token = url.split_once("rt=").unwrap().1;
        let response = server.post_form(&format!("{url}&rt={token}"), "confirm=yes");
        assert_eq!(response.status, 400);
        assert!(response.body.contains("more than one link token"));
        assert_eq!(spent_uses(&server, &jti), None);
    }

    fn refusals_speak_json_when_asked(backend) {
        let Some(server) = server(backend) else { return };
        let response = server.send(
            &Request::new("GET", "/unsubscribe/1?rt=abc").header("Accept", "application/json"),
        );
        assert_eq!(response.status, 400);
        assert_eq!(response.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(body["error"], "malformed");
        assert_eq!(body["status"], 400);
    }

    fn revoking_a_link_revokes_it(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = unsubscribe_link(&server, "1", 1);
        let (unused_url, unused_jti) = unsubscribe_link(&server, "1", 2);
        assert_eq!(server.get(&url).status, 200);
        server.block_on(server.ledger.revoke(&jti)).unwrap();
        server.block_on(server.ledger.revoke(&unused_jti)).unwrap();
        let response = server.post_form(&url, "confirm=yes");
        assert_eq!(response.status, 410);
        assert!(response.body.contains("withdrawn"));
        assert_eq!(server.get(&url).status, 410, "the preview refuses a revoked link too");
        assert_eq!(server.post_form(&unused_url, "confirm=yes").status, 410);
        let record = server.block_on(server.ledger.token(&unused_jti)).unwrap().unwrap();
        assert!(record.revoked_at.is_some());
        assert_eq!(record.uses, 0);
    }

    fn link_ids_differing_only_in_case_are_different_links(backend) {
        // Ids are base64url: a database comparing text without regard to case would spend or
        // revoke one link for another.
        let Some(server) = server(backend) else { return };
        let spec = |jti: &str| LinkSpec::new("2", "preferences", "/preferences").max_uses(1).jti(jti);
        let (upper_url, upper) = link(&server, spec("CaseOnlyLinkId"));
        let (revoked_url, revoked) = link(&server, spec("CASEONLYLINKID"));
        let (lower_url, lower) = link(&server, spec("caseonlylinkid"));
        assert_eq!(server.get(&upper_url).status, 200);
        assert_eq!(server.get(&upper_url).status, 410);
        server.block_on(server.ledger.revoke(&revoked)).unwrap();
        assert_eq!(server.get(&revoked_url).status, 410);
        assert_eq!(server.get(&lower_url).status, 200, "neither the spent id nor the revoked one is this one");
        assert_eq!(spent_uses(&server, &upper), Some(1));
        assert_eq!(spent_uses(&server, &revoked), Some(0));
        assert_eq!(history(&server, &lower), [row("GET", 200, "spent")]);
    }

    fn revoking_a_user_revokes_links_issued_before(backend) {
        let Some(server) = server(backend) else { return };
        let earlier = Utc::now() - TimeDelta::minutes(5);
        let old_prefs = server.issuer.issue_at(&LinkSpec::new("2", "preferences", "/preferences"), earlier).unwrap();
        let old_unsub = server.issuer.issue_at(&LinkSpec::new("2", "unsubscribe", "/unsubscribe/1"), earlier).unwrap();
        let other_user = server.issuer.issue_at(&LinkSpec::new("3", "preferences", "/preferences"), earlier).unwrap();

        server.block_on(server.ledger.revoke_user("2", Some("preferences"), Utc::now())).unwrap();
        assert_eq!(server.get(&old_prefs.url).status, 410);
        assert_eq!(server.get(&old_unsub.url).status, 200, "another scope is untouched");
        assert_eq!(server.get(&other_user.url).status, 200, "another user is untouched");

        server.block_on(server.ledger.revoke_user("2", None, Utc::now())).unwrap();
        assert_eq!(server.post_form(&old_unsub.url, "confirm=yes").status, 410);

        // Another server's clock may run up to `leeway` (5 s) ahead of the revoking one's.
        let revoked_at = Utc::now() - TimeDelta::seconds(10);
        server.block_on(server.ledger.revoke_user("3", None, revoked_at)).unwrap();
        let prefs = LinkSpec::new("3", "preferences", "/preferences");
        for (after, status) in [(0, 410), (5, 410), (6, 200)] {
            let issued = server.issuer.issue_at(&prefs, revoked_at + TimeDelta::seconds(after)).unwrap();
            assert_eq!(server.get(&issued.url).status, status, "issued {after} s after the revocation");
        }
    }

    fn the_index_links_are_made_by_the_template_helper(backend) {
        let Some(server) = server(backend) else { return };
        let hrefs = index_links(&server);
        assert_eq!(hrefs.len(), 3 * 2 + 3, "two unsubscribe links and a preferences link each");
        assert!(hrefs.iter().all(|h| h.contains("?rt=ey")));
        let preferences = hrefs.iter().find(|h| h.starts_with("/preferences")).unwrap();
        assert_eq!(server.get(preferences).status, 200);
        let unsubscribe = hrefs.iter().find(|h| h.starts_with("/unsubscribe/2")).unwrap();
        assert_eq!(server.get(unsubscribe).status, 200);
    }

    fn changing_the_email_voids_the_links_sent_before(backend) {
        let Some(server) = server(backend) else { return };
        let preferences = LinkSpec::new("1", "preferences", "/preferences");
        let (bound, jti) = link(&server, preferences.clone().fingerprint("ada@example.com"));
        let (unbound, unbound_jti) = link(&server, preferences.clone());
        let from_template = index_links(&server)
            .into_iter()
            .find(|href| href.starts_with("/preferences"))
            .expect("Ada's preferences link");
        let (unsubscribe, unsubscribe_jti) =
            link(&server, LinkSpec::new("1", "unsubscribe", "/unsubscribe/1").fingerprint("ada@example.com"));
        assert_eq!(server.get(&bound).status, 200);
        assert_eq!(server.get(&from_template).status, 200);

        server.db().execute("UPDATE subscribers SET email = 'ada@example.org' WHERE id = 1");
        let response = server.get(&bound);
        assert_eq!(response.status, 410);
        assert!(response.body.contains("This link no longer applies: the account changed since it was sent."), "{}", response.body);
        assert_private(&response);
        assert_eq!(history(&server, &jti), vec![row("GET", 200, "spent"), row("GET", 410, "invalidated")]);
        assert_eq!(spent_uses(&server, &jti), Some(1), "the refusal spent nothing");
        assert_eq!(server.get(&from_template).status, 410, "the template's link was bound too");
        assert_eq!(server.get(&unsubscribe).status, 410, "a preview refuses it as well");
        assert_eq!(server.post_form(&unsubscribe, "confirm=yes").status, 410);
        assert_eq!(
            history(&server, &unsubscribe_jti),
            vec![row("GET", 410, "invalidated"), row("POST", 410, "invalidated")]
        );
        assert_eq!(spent_uses(&server, &unsubscribe_jti), None);

        assert_eq!(server.get(&unbound).status, 200, "a link without a fingerprint is unaffected");
        assert_eq!(history(&server, &unbound_jti), vec![row("GET", 200, "spent")]);
        let (rebound, _) = link(&server, preferences.fingerprint("ada@example.org"));
        assert_eq!(server.get(&rebound).status, 200, "links sent to the new address work");
    }

    fn spoofed_client_addresses_are_not_believed(backend) {
        let Some(server) = server(backend) else { return };
        let (url, jti) = link(&server, LinkSpec::new("1", "preferences", "/preferences"));
        let long_agent = "a".repeat(1000);
        let request = Request::new("GET", &url)
            .header("X-Real-IP", "203.0.113.9")
            .header("X-Forwarded-For", "203.0.113.10")
            .header("User-Agent", long_agent);
        assert_eq!(server.send(&request).status, 200);
        let recorded = uses(&server, &jti);
        assert_eq!(recorded[0].client_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(recorded[0].user_agent.as_ref().map(String::len), Some(256));
        assert_eq!(recorded[0].path, "/preferences", "the path is recorded without the token");
    }

    fn no_input_makes_a_guarded_route_fail_with_5xx(backend) {
        let Some(server) = server(backend) else { return };
        let t = now();
        let signed = |payload: &str| mint("HS256", r#"{"alg":"HS256"}"#, payload, SECRET);
        let inputs = [
            "%00".to_string(),
            "%FF%FE.%00.%00".to_string(),
            "..".to_string(),
            "a.b.c.d".to_string(),
            signed("[]"),
            signed("null"),
            signed(r#"{"exp":1e999}"#),
            signed(&claims("j", "1", "unsubscribe", "/unsubscribe/1", t, 9_223_372_036_854_775_807, "")),
            signed(&claims("j", "1", "unsubscribe", "/unsubscribe/1", t, t + 60, r#","max":99999999999"#)),
            signed(&claims("j", "", "unsubscribe", "/unsubscribe/1", t, t + 60, "")),
            signed(&claims(&"j".repeat(65), "1", "unsubscribe", "/unsubscribe/1", t, t + 60, "")),
            mint("HS256", r#"{"alg":"HS256","kid":7}"#, "{}", SECRET),
            mint("HS256", r#"{"alg":"HS256","crit":["x"]}"#, "{}", SECRET),
        ];
        for input in inputs {
            for method in ["GET", "POST", "HEAD"] {
                let target = format!("/unsubscribe/1?rt={input}");
                let response = server.send(&Request::new(method, &target).form("confirm=yes"));
                assert!(
                    response.status < 500,
                    "{method} {input} answered {}",
                    response.status
                );
            }
        }
        assert_eq!(server.get("/health").status, 200, "the server is still up");
    }

    fn the_index_shows_one_click_headers_that_unsubscribe_with_one_post(backend) {
        let Some(db) = TestDb::create(backend) else { return };
        let figment = linktoken_tests::newsletter_figment(&db)
            .merge(("linktoken.base_url", "https://news.example.com"));
        let server = Server::launch(newsletter::rocket_with(figment), Some(db));
        let index = server.get("/");
        assert_eq!(index.status, 200);
        assert_eq!(index.body.matches(r#"<pre class="headers""#).count(), 3 * 2, "{}", index.body);
        let headers = shown_headers(&index.body, 2, 2).expect("Grace's headers for list 2");
        let [unsubscribe, post] = headers.as_slice() else { panic!("two headers: {headers:?}") };
        assert_eq!(post, "List-Unsubscribe-Post: List-Unsubscribe=One-Click");
        let url = unsubscribe
            .strip_prefix("List-Unsubscribe: <https://news.example.com")
            .and_then(|rest| rest.strip_suffix('>'))
            .unwrap_or_else(|| panic!("one https URL in brackets: {unsubscribe}"));
        assert!(url.starts_with("/unsubscribe/2?rt=ey"), "{url}");

        let response = server.post_form(url, "List-Unsubscribe=One-Click");
        assert_eq!(response.status, 200);
        assert!(response.body.contains("grace@example.com will no longer receive Release announcements"));
        assert_eq!(server.post_form(url, "List-Unsubscribe=One-Click").status, 410);
        let index = server.get("/").body;
        assert_eq!(shown_headers(&index, 2, 2), None, "no more emails of list 2 to Grace");
        assert!(shown_headers(&index, 2, 1).is_some());
        assert!(shown_headers(&index, 3, 2).is_some());
    }

    fn without_an_https_base_url_the_index_says_why_no_headers(backend) {
        let Some(server) = server(backend) else { return };
        let index = server.get("/").body;
        assert_eq!(shown_headers(&index, 1, 1), None);
        let refusal = r#"<p class="refused" data-subscriber="1" data-list="1">Weekly digest: A link could not be made: one-click unsubscribe headers (RFC 8058) need an absolute https URL, and this link&#x27;s is relative: set `linktoken.base_url` to the site&#x27;s https address.</p>"#;
        assert!(index.contains(refusal), "{index}");
        assert_eq!(index.matches(r#"<p class="refused""#).count(), 3 * 2);
    }
}
