//! The team admin's `/dashboard`: signed in with a key (form or cookie), the tenant's own
//! accounts, spend and charts only, refused to roles without billing, and rendered in
//! headless Chromium (its screenshot is `docs/dashboard.png`; `UPDATE_SCREENSHOTS=1`
//! writes it again).

use serde_json::json;

use super::support::{Client, create_key, serve_with, shot};

#[test]
fn the_dashboard_shows_the_tenants_billing_and_renders_in_chromium() {
    let farm = crate::spend::Farm::new();
    let data = farm.dir.path().join("srv");
    let admin = create_key(&data, "acme", "admin");
    let rival = create_key(&data, "rival", "admin");
    let server = serve_with(farm.cmd(), &data, &[]);
    let html = crate::support::runtime().block_on(async {
        let c = Client::new(&server.url);
        let (_, runner) = c.post("/v1/keys", &admin, &json!({ "role": "runner" })).await;
        let runner = runner["token"].as_str().unwrap().to_string();
        assert_eq!(c.post("/v1/accounts/studio/grants", &admin, &json!({ "plan": "pro" })).await.0, 201);
        assert_eq!(c.post("/v1/accounts/rivalry/grants", &rival, &json!({ "plan": "pro" })).await.0, 201);
        c.put("/v1/accounts/studio/members/ana", &admin, &json!({ "cap": 1000 })).await;
        let (status, run) =
            c.post("/v1/runs", &admin, &json!({ "workflow": shot(), "account": "studio", "member": "ana" })).await;
        assert_eq!(status, 201, "{run}");
        let done = c.wait_for(&admin, run["id"].as_str().unwrap(), &["succeeded", "failed"]).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        // The server prices at the hour it runs (off-peak and surge windows move the charge),
        // so the cap that puts ana near it comes from what she was charged: 90% of it.
        let charged = done["summary"]["credits"]["charged"].as_i64().unwrap();
        let near = (charged * 10 + 8) / 9;
        assert_eq!(c.put("/v1/accounts/studio/members/ana", &admin, &json!({ "cap": near })).await.0, 200);

        let page = |cookie: Option<String>| {
            let mut req = c.http.get(format!("{}/dashboard", c.url));
            if let Some(cookie) = cookie {
                req = req.header("cookie", cookie);
            }
            req.send()
        };
        let signin = page(None).await.unwrap().text().await.unwrap();
        assert!(signin.contains("action=\"/dashboard/login\""), "{signin}");
        let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let login = no_redirect
            .post(format!("{}/dashboard/login", c.url))
            .form(&[("key", admin.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status().as_u16(), 303);
        let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        assert!(cookie.starts_with("switchyard_key="), "{cookie}");
        let bad = no_redirect
            .post(format!("{}/dashboard/login", c.url))
            .form(&[("key", "sy_nope_nope")])
            .send()
            .await
            .unwrap();
        assert!(bad.text().await.unwrap().contains("not valid"));
        let reply = page(Some(cookie)).await.unwrap();
        assert_eq!(reply.status().as_u16(), 200);
        let html = reply.text().await.unwrap();
        let forbidden = page(Some(format!("switchyard_key={runner}"))).await.unwrap();
        assert_eq!(forbidden.status().as_u16(), 403, "a runner's key sees no billing");
        let theirs = page(Some(format!("switchyard_key={rival}"))).await.unwrap().text().await.unwrap();
        assert!(theirs.contains("rivalry") && !theirs.contains("studio"), "another tenant sees only its own");
        html
    });
    assert!(html.contains("Billing for acme") && html.contains("<td>studio</td>"), "{html}");
    assert!(html.contains("id=totals") && html.contains(" runs ("), "the month's totals: {html}");
    assert_eq!(html.matches("<svg").count(), 3, "three inline charts");
    assert!(html.contains("ana at"), "a member near their cap is a signal: {html}");
    assert!(
        !html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"),
        "nothing fetched"
    );

    // Headless Chromium renders it (the key in the address, as a browser's first visit).
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(std::path::Path::new(&chromium).exists(), "the dashboard test needs Chromium: run scripts/setup");
    let shot_path = farm.dir.path().join("dashboard.png");
    let url = format!("{}/dashboard?token={admin}", server.url);
    let out = std::process::Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1250"])
        .arg(format!("--screenshot={}", shot_path.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(shot_path.is_file(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot_path).unwrap();
    assert!(png.len() > 20_000, "a rendered page, not a blank one: {} bytes", png.len());
    if std::env::var("UPDATE_SCREENSHOTS").is_ok() {
        std::fs::write(crate::spend::root().join("docs/dashboard.png"), &png).unwrap();
    }
    let dom = std::process::Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("Billing for acme") && dom.contains("<svg"), "{dom}");
}
