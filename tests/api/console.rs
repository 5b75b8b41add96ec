//! The console over HTTP: sign-in and sessions, cross-site protection, escaping, errors.
//! The flows a person goes through are driven in a real browser (see `console_in_a_browser`).

use hyper::StatusCode;
use serde_json::json;

use crate::browser::{Console, browser_python, run_browser_script};
use crate::helpers::{TOKEN, TestApp};
use crate::receiver::{Receiver, Reply};

#[tokio::test]
async fn signing_in_sets_a_strict_cookie_that_holds_no_token() {
    let app = TestApp::spawn().await;
    let anonymous = Console::new(&app.base);
    let start = anonymous.get("/").await;
    assert_eq!((start.status, start.header("location")), (StatusCode::SEE_OTHER, "/sign-in"));
    let page = anonymous.get("/sign-in").await;
    assert!(page.html.contains(">Token</label>") && page.html.contains(">Sign in</button>"));

    let wrong = anonymous.post("/sign-in", &[("token", "not-the-token")], &[]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.html.contains("not valid") && wrong.header("set-cookie").is_empty());

    let right = anonymous.post("/sign-in", &[("token", TOKEN)], &[]).await;
    let cookie = right.header("set-cookie");
    assert!(cookie.starts_with("hookd_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains(TOKEN), "the cookie must not carry the token");
}

#[tokio::test]
async fn signing_out_ends_the_session_for_every_copy_of_the_cookie() {
    let app = TestApp::spawn().await;
    let console = Console::signed_in(&app.base, TOKEN).await;
    let mut copy = Console::new(&app.base);
    copy.cookie = console.cookie.clone();
    let dashboard = console.get("/").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    let out = console.post("/sign-out", &[("csrf", &dashboard.csrf())], &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    assert_eq!(copy.get("/").await.header("location"), "/sign-in");
}

#[tokio::test]
async fn forms_from_another_origin_or_without_the_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    let console = Console::signed_in(&app.base, TOKEN).await;
    let csrf = console.get("/apps").await.csrf();
    let form = [("csrf", csrf.as_str()), ("name", "Evil"), ("uid", "evil")];
    let cross_origin = [("origin", "http://evil.example")];
    assert_eq!(console.post("/apps", &form, &cross_origin).await.status, StatusCode::FORBIDDEN);
    let cross_site = [("sec-fetch-site", "cross-site")];
    assert_eq!(console.post("/apps", &form, &cross_site).await.status, StatusCode::FORBIDDEN);
    let without = [("name", "Evil"), ("uid", "evil")];
    assert_eq!(console.post("/apps", &without, &[]).await.status, StatusCode::FORBIDDEN);
    let forged = [("csrf", "forged"), ("name", "Evil"), ("uid", "evil")];
    assert_eq!(console.post("/apps", &forged, &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/app/evil").await.0, StatusCode::NOT_FOUND, "nothing was created");

    let created = console.post("/apps", &form, &[]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "the same form from the console works");
    assert_eq!(app.get("/api/v1/app/evil").await.0, StatusCode::OK);
}

async fn portal_token(app: &TestApp, read_only: bool) -> String {
    let body = json!({"readOnly": read_only});
    let (_, access) = app.post("/api/v1/auth/app-portal-access/shop", body).await;
    access["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn a_portal_session_sees_its_application_only() {
    let app = TestApp::spawn().await;
    let id = |v: serde_json::Value| v["id"].as_str().expect("id").to_owned();
    let shop = id(app.post("/api/v1/app", json!({"name": "Shop", "uid": "shop"})).await.1);
    let blog = id(app.post("/api/v1/app", json!({"name": "Blog", "uid": "blog"})).await.1);
    let blog_ep = app.create_endpoint("blog", json!({"url": "https://example.com/b"})).await;
    let portal = Console::signed_in(&app.base, &portal_token(&app, false).await).await;
    let start = portal.get("/").await;
    assert_eq!(start.header("location"), format!("/apps/{shop}/endpoints"));
    assert_eq!(portal.get(&format!("/apps/{shop}/endpoints")).await.status, StatusCode::OK);
    for path in [
        format!("/apps/{blog}/endpoints"),
        format!("/apps/{blog}/endpoints/{blog_ep}"),
        format!("/apps/{shop}/endpoints/{blog_ep}"),
        format!("/apps/{blog}/messages"),
    ] {
        assert_eq!(portal.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    for path in ["/apps", "/event-types", &format!("/apps/{shop}/settings")] {
        assert_eq!(portal.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let csrf = portal.get(&format!("/apps/{shop}/endpoints")).await.csrf();
    let delete_other = format!("/apps/{blog}/endpoints/{blog_ep}/delete");
    assert_eq!(
        portal.post(&delete_other, &[("csrf", &csrf)], &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let rename = [("csrf", csrf.as_str()), ("name", "Mine")];
    let renamed = portal.post(&format!("/apps/{shop}/settings"), &rename, &[]).await;
    assert_eq!(renamed.status, StatusCode::FORBIDDEN);

    let reader = Console::signed_in(&app.base, &portal_token(&app, true).await).await;
    let page = reader.get(&format!("/apps/{shop}/endpoints")).await;
    assert!(!page.html.contains("Add endpoint"), "a read-only portal offers no changes");
    let csrf = page.csrf();
    let form = [("csrf", csrf.as_str()), ("url", "https://example.com/x")];
    let created = reader.post(&format!("/apps/{shop}/endpoints/new"), &form, &[]).await;
    assert_eq!(created.status, StatusCode::FORBIDDEN);

    let entry = portal.get("/portal").await;
    assert!(entry.html.contains("signed in already") && entry.html.contains("data-portal=\"ask\""));
}

#[tokio::test]
async fn forms_behind_a_proxy_that_rewrites_the_host_are_accepted() {
    let app = TestApp::spawn().await;
    let console = Console::signed_in(&app.base, TOKEN).await;
    let csrf = console.get("/apps").await.csrf();
    let form = [("csrf", csrf.as_str()), ("name", "Proxied"), ("uid", "proxied")];
    let proxied = [("origin", "https://hookd.example"), ("x-forwarded-host", "hookd.example")];
    assert_eq!(console.post("/apps", &form, &proxied).await.status, StatusCode::SEE_OTHER);
    let fetch = [("origin", "http://evil.example"), ("sec-fetch-site", "same-origin")];
    let answer =
        console.post("/apps", &[("csrf", &csrf), ("name", "B"), ("uid", "b")], &fetch).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "Sec-Fetch-Site decides when present");
}

#[tokio::test]
async fn what_users_typed_is_shown_as_text_under_a_strict_policy() {
    let app = TestApp::spawn().await;
    let hostile = "<img src=x onerror=alert(1)>";
    let (_, created) = app.post("/api/v1/app", json!({"name": hostile, "uid": "x"})).await;
    let app_id = created["id"].as_str().expect("app id").to_owned();
    let body = json!({"url": "https://example.com/hook", "description": hostile});
    let ep = app.create_endpoint("x", body).await;
    let console = Console::signed_in(&app.base, TOKEN).await;
    for path in [
        "/apps".to_owned(),
        format!("/apps/{app_id}/endpoints"),
        format!("/apps/{app_id}/endpoints/{ep}"),
        format!("/apps/{app_id}/endpoints/{ep}/edit"),
    ] {
        let page = console.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.html.contains("<img"), "{path} shows the tag unescaped");
        assert!(
            page.html.contains("&#60;img src=x onerror=alert(1)&#62;")
                || page.html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{path}"
        );
        let csp = page.header("content-security-policy");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    }
}

#[tokio::test]
async fn failures_are_pages_with_fitting_statuses() {
    let app = TestApp::spawn().await;
    let console = Console::signed_in(&app.base, TOKEN).await;
    let missing = console.get("/apps/app_nope/endpoints").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.header("content-type").starts_with("text/html"));
    assert!(missing.html.contains("Not found") && !missing.html.contains("\"code\""));
    let api_missing = app.get("/api/v1/nothing-here").await;
    assert_eq!(api_missing.0, StatusCode::NOT_FOUND);
    assert_eq!(api_missing.1["code"], "not_found", "the API keeps its JSON errors");

    app.create_app("shop").await;
    let shop = app.get("/api/v1/app/shop").await.1["id"].as_str().unwrap().to_owned();
    let form_page = console.get(&format!("/apps/{shop}/endpoints/new")).await;
    let csrf = form_page.csrf();
    let bad = [("csrf", csrf.as_str()), ("url", "ftp://example.com"), ("profile", "standard")];
    let page = console.post(&format!("/apps/{shop}/endpoints/new"), &bad, &[]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "the API's status too");
    assert!(
        page.html
            .contains("class=\"field-error\" id=\"url-error\">url must be an absolute http(s) URL"),
        "the API's rule, next to its field"
    );
}

/// Every flow of the console and its pages, as a person goes through them, in Chromium.
#[tokio::test]
async fn console_in_a_browser() {
    let Some(python) = browser_python() else { return };
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.script(vec![], Some(Reply::status(200).body("thanks from the receiver")));
    // An endpoint nobody listens on, for the dashboard's list of failing endpoints.
    app.create_app("ops").await;
    app.create_endpoint("ops", json!({"url": "http://127.0.0.1:9/down"})).await;
    app.send("ops", json!({"eventType": "ops.check", "payload": {}})).await;
    let env =
        [("HOOKD_URL", app.base.as_str()), ("HOOKD_TOKEN", TOKEN), ("RECEIVER_URL", &receiver.url)];
    run_browser_script(&python, "console_flow.py", &env).await;
    assert!(receiver.received().len() >= 3, "test send, message and resend reached the receiver");
}

/// The application portal in Chromium: a link for one application, read-only, revoked.
#[tokio::test]
async fn portal_in_a_browser() {
    let Some(python) = browser_python() else { return };
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let id = |v: serde_json::Value| v["id"].as_str().expect("id").to_owned();
    let shop = id(app.post("/api/v1/app", json!({"name": "Shop", "uid": "shop"})).await.1);
    let blog = id(app.post("/api/v1/app", json!({"name": "Blog", "uid": "blog"})).await.1);
    let env = [
        ("HOOKD_URL", app.base.as_str()),
        ("HOOKD_TOKEN", TOKEN),
        ("RECEIVER_URL", &receiver.url),
        ("SHOP_ID", &shop),
        ("BLOG_ID", &blog),
    ];
    run_browser_script(&python, "portal_flow.py", &env).await;
}

/// The portal inside another site's frame, allowed by `console.frame_ancestors`.
#[tokio::test]
async fn portal_embedded_in_another_site() {
    let Some(python) = browser_python() else { return };
    let embed_port =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let embedder = format!("http://localhost:{embed_port}");
    let app = TestApp::spawn_with(|c| c.console.frame_ancestors = vec![embedder.clone()]).await;
    app.create_app("shop").await;
    let (_, access) = app.post("/api/v1/auth/app-portal-access/shop", json!({})).await;
    let url = access["url"].as_str().expect("portal url");
    let port = embed_port.to_string();
    let env = [("HOOKD_URL", app.base.as_str()), ("PORTAL_URL", url), ("EMBED_PORT", &port)];
    run_browser_script(&python, "embed_flow.py", &env).await;

    let page = crate::browser::Console::new(&app.base).get("/sign-in").await;
    let csp = page.header("content-security-policy");
    assert!(csp.contains(&format!("frame-ancestors 'self' {embedder};")), "{csp}");
    let operator = Console::signed_in(&app.base, TOKEN).await.get("/apps").await;
    let csp = operator.header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "operator pages are never framed: {csp}");
}

#[tokio::test]
async fn long_lists_page_by_cursor_and_applications_are_searched() {
    let app = TestApp::spawn().await;
    for i in 0..52 {
        app.post(
            "/api/v1/app",
            json!({"name": format!("App {i:02}"), "uid": format!("app-{i:02}")}),
        )
        .await;
    }
    app.post("/api/v1/app", json!({"name": "Shop Europe", "uid": "shop-eu"})).await;
    let console = Console::signed_in(&app.base, TOKEN).await;
    let first = console.get("/apps").await;
    assert_eq!(first.html.matches("<td><a href=\"/apps/").count(), 50, "a page holds 50");
    let marker = "href=\"?after=";
    let start = first.html.find(marker).expect("a Next page link") + "href=\"".len();
    let next = &first.html[start..start + first.html[start..].find('"').unwrap()];
    let second = console.get(&format!("/apps{next}")).await;
    assert_eq!(second.html.matches("<td><a href=\"/apps/").count(), 3);
    assert!(second.html.contains("First page") && !second.html.contains("Next page"));

    let found = console.get("/apps?q=europe").await;
    assert_eq!(found.html.matches("<td><a href=\"/apps/").count(), 1);
    assert!(found.html.contains("Shop Europe"));
}

#[tokio::test]
async fn the_endpoint_form_sets_what_follows_a_keyed_failure() {
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    let shop = app.get("/api/v1/app/shop").await.1["id"].as_str().unwrap().to_owned();
    let console = Console::signed_in(&app.base, TOKEN).await;
    let csrf = console.get(&format!("/apps/{shop}/endpoints/new")).await.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("url", "https://example.com/hook"),
        ("profile", "standard"),
        ("on_failure", "hold"),
    ];
    let created = console.post(&format!("/apps/{shop}/endpoints/new"), &form, &[]).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.html);
    let (_, list) = app.get("/api/v1/app/shop/endpoint").await;
    let ep = &list["data"][0];
    assert_eq!(ep["orderingOnFailure"], "hold", "{list}");
    let edit = format!("/apps/{shop}/endpoints/{}/edit", ep["id"].as_str().unwrap());
    let page = console.get(&edit).await;
    assert!(page.html.contains("<option value=\"hold\" selected>"), "the edit form shows it");
}
