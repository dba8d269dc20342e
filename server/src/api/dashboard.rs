//! `/dashboard`: a team admin's billing page, rendered on the server (no script, no outside
//! resource; the charts are inline SVG). A browser signs in once with a billing or admin
//! key (`/dashboard/login` sets the key's cookie). It shows the tenant's accounts (plan,
//! standing, balance, this month's and last month's spend), churn and anomaly signals
//! (usage down by more than half month on month, accounts near their cap or depleted),
//! this month's charts, the open reviews, and the latest billing audit entries.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use switchyard_session::credits::ops::{charts, usage};
use switchyard_session::credits::{Dim, Ledger, LedgerError};

use super::ApiError;
use super::comfy::frontend::{KEY_MAX_BYTES, form_value, sign_in_page, signed_in, with_cookie};
use crate::App;
use crate::keys::{Caller, Permission};

/// The dashboard's routes.
pub(crate) fn routes() -> axum::Router<Arc<App>> {
    axum::Router::new().route("/dashboard", get(page)).route("/dashboard/login", post(login))
}

const PURPOSE: &str = "see your team's billing dashboard";

async fn login(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let key = form_value(&body, "key").unwrap_or_default();
    if key.len() > KEY_MAX_BYTES || !signed_in(&app, &key).await {
        return sign_in_page(Some("that key is not valid"), "/dashboard/login", PURPOSE);
    }
    with_cookie(&key, "/dashboard")
}

async fn page(State(app): State<Arc<App>>, caller: Result<Caller, ApiError>) -> Response {
    let Ok(caller) = caller else { return sign_in_page(None, "/dashboard/login", PURPOSE) };
    if !caller.role.may(Permission::Billing) {
        let body = format!("the dashboard is for a team's admins; this key's role is {}", caller.role);
        return (StatusCode::FORBIDDEN, body).into_response();
    }
    let ledger = match app.ledger().await {
        Ok(ledger) => ledger,
        Err(e) => return ApiError::from(crate::ServerError::Invalid(e.to_string())).into_response(),
    };
    match render(ledger, &caller.tenant, crate::store::now_ms()).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::from(crate::ServerError::Invalid(e.to_string())).into_response(),
    }
}

/// One account's row.
struct Row {
    account: String,
    plan: String,
    standing: String,
    available: i64,
    frozen: i64,
    this_month: i64,
    last_month: i64,
    signals: Vec<String>,
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The month holding `ms` and the one before (`YYYY-MM`).
fn months(ms: i64) -> (String, String) {
    let day = switchyard_session::credits::day_name(ms.div_euclid(86_400_000));
    let (y, m): (i64, i64) = (day[..4].parse().unwrap_or(1970), day[5..7].parse().unwrap_or(1));
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    (day[..7].to_string(), format!("{py:04}-{pm:02}"))
}

fn window(month: &str) -> (String, String) {
    usage::window(month).unwrap_or_default()
}

async fn rows(ledger: &Ledger, tenant: &str, now_ms: i64) -> Result<Vec<Row>, LedgerError> {
    let prefix = format!("{tenant}/");
    let (this, last) = months(now_ms);
    let (a, b) = window(&this);
    let (c, d) = window(&last);
    let spend_now = ledger.usage(&prefix, (&a, &b), &[Dim::Account]).await?;
    let spend_before = ledger.usage(&prefix, (&c, &d), &[Dim::Account]).await?;
    let mut rows = Vec::new();
    for wallet in ledger.wallets(&prefix).await? {
        let balance = ledger.balance(&wallet).await?;
        let plan = ledger.plan_of(&wallet).await?.map_or("none".into(), |(p, t)| format!("{p} (tier {t})"));
        let standing = ledger.standing(&wallet).await?.name().to_string();
        let of = |rows: &[switchyard_session::credits::UsageTotals]| {
            rows.iter().find(|r| r.key == wallet).map_or(0, |r| r.credits)
        };
        let (this_month, last_month) = (of(&spend_now), of(&spend_before));
        let mut signals = Vec::new();
        if last_month > 0 && this_month * 2 < last_month {
            signals.push(format!(
                "usage down {:.0}% month on month",
                100.0 - this_month as f64 * 100.0 / last_month as f64
            ));
        }
        if balance.available.0 <= 0 {
            signals.push("depleted".into());
        } else if this_month > 0 && balance.available.0 * 4 < this_month {
            signals.push("under a week of this month's spend left".into());
        }
        for m in ledger.members(&wallet).await? {
            if m.cap > 0 && (m.spent + m.held) * 10 >= m.cap * 8 {
                signals.push(format!("{} at {}% of their cap", m.member, (m.spent + m.held) * 100 / m.cap));
            }
        }
        if standing != "active" {
            signals.push(format!("standing: {standing}"));
        }
        rows.push(Row {
            account: wallet[prefix.len()..].to_string(),
            plan,
            standing,
            available: balance.available.0,
            frozen: balance.frozen.0,
            this_month,
            last_month,
            signals,
        });
    }
    Ok(rows)
}

/// The page for `tenant` at `now_ms`.
pub(crate) async fn render(ledger: &Ledger, tenant: &str, now_ms: i64) -> Result<String, LedgerError> {
    let prefix = format!("{tenant}/");
    let (this, _) = months(now_ms);
    let report = usage::report(ledger, &prefix, &this).await?;
    let rows = rows(ledger, tenant, now_ms).await?;
    let reviews = ledger.reviews(&prefix, true).await?;
    let audit = ledger.billing_audit(&prefix).await?;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Switchyard billing: {t}</title><style>\
         body{{font-family:'DejaVu Sans',sans-serif;margin:1.5em 2em;color:#222}}h1{{margin-bottom:.2em}}\
         table{{border-collapse:collapse;margin:.5em 0 1.5em}}th,td{{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:left}}\
         td.n{{text-align:right}}.signal{{color:#b3261e;font-weight:bold}}.ok{{color:#1b7f3b}}figure{{margin:0 0 1em}}\
         .charts{{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1em}}svg{{width:100%;height:auto}}\
         </style></head><body><h1>Billing for {t}</h1><p>{m}, in credits.</p>",
        t = esc(tenant),
        m = esc(&this)
    );
    totals(&mut html, &report);
    accounts(&mut html, &rows);
    html.push_str("<h2>This month</h2><div class=charts>");
    for (stem, chart) in usage::charts(&report) {
        match charts::svg(&chart) {
            Ok(svg) => {
                let _ = write!(html, "<figure id=\"{stem}\">{svg}</figure>");
            }
            Err(e) => {
                let _ = write!(html, "<p>{}</p>", esc(&e.to_string()));
            }
        }
    }
    html.push_str("</div>");
    review_table(&mut html, &reviews);
    html.push_str("<h2>Billing audit (latest)</h2><table><tr><th>account</th><th>what</th><th>detail</th></tr>");
    for a in audit.iter().rev().take(20) {
        let account = a.wallet.strip_prefix(&prefix).unwrap_or(&a.wallet);
        let _ = write!(html, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(account), esc(&a.kind), esc(&a.detail));
    }
    html.push_str("</table></body></html>");
    Ok(html)
}

fn totals(html: &mut String, report: &usage::UsageReport) {
    let Some(t) = &report.total else {
        html.push_str("<p>No billed runs this month yet.</p>");
        return;
    };
    let _ = write!(
        html,
        "<p id=totals><b>{}</b> credits over <b>{}</b> runs ({:.1} a run), {} nodes ({} failed), {:.2} gCO2eq; \
         {:.0}% of nodes ran locally, saving <b>{}</b> credits.</p>",
        t.credits,
        t.runs,
        t.credits_per_run(),
        t.calls,
        t.failures,
        t.mg_co2eq as f64 / 1000.0,
        t.local_share() * 100.0,
        t.savings
    );
}

fn accounts(html: &mut String, rows: &[Row]) {
    html.push_str(
        "<h2>Accounts</h2><table id=accounts><tr><th>account</th><th>plan</th><th>standing</th><th>available</th>\
         <th>frozen</th><th>this month</th><th>last month</th><th>signals</th></tr>",
    );
    for r in rows {
        let signals = if r.signals.is_empty() {
            "<span class=ok>none</span>".to_string()
        } else {
            format!("<span class=signal>{}</span>", esc(&r.signals.join("; ")))
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{signals}</td></tr>",
            esc(&r.account),
            esc(&r.plan),
            esc(&r.standing),
            r.available,
            r.frozen,
            r.this_month,
            r.last_month
        );
    }
    html.push_str("</table>");
}

fn review_table(html: &mut String, reviews: &[switchyard_session::credits::Review]) {
    html.push_str("<h2>Open reviews</h2>");
    if reviews.is_empty() {
        html.push_str("<p class=ok>None.</p>");
        return;
    }
    html.push_str("<table id=reviews><tr><th>review</th><th>account</th><th>rule</th><th>detail</th></tr>");
    for r in reviews {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.id),
            esc(&r.wallet),
            esc(&r.rule),
            esc(&r.detail)
        );
    }
    html.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    use switchyard_session::credits::{Credits, Grant, Source, UsageRecord};

    use super::*;

    fn used(credits: i64) -> UsageRecord {
        UsageRecord {
            node_id: "gen".into(),
            node_type: "cloud.image.generate".into(),
            provider: "bfl".into(),
            model: "flux".into(),
            local: false,
            failed: false,
            credits,
            cloud_equiv: 0,
            gco2eq: 0.1,
        }
    }

    #[tokio::test]
    async fn usage_down_by_more_than_half_and_a_depleted_wallet_are_signals() {
        let dir = tempfile::tempdir().unwrap();
        // 2026-11-15, then 2026-12-05.
        let now = Arc::new(AtomicI64::new(1_795_219_200_000));
        let clock = Arc::clone(&now);
        let ledger = Ledger::open(&dir.path().join("l.db"))
            .await
            .unwrap()
            .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
        for wallet in ["acme/fading", "acme/steady"] {
            let grant = Grant {
                wallet: wallet.into(),
                amount: Credits(1_000),
                source: Source::Pack,
                expires_at_ms: None,
                reason: "p".into(),
                rollover_cap: 0,
            };
            ledger.grant(&grant, &format!("g-{wallet}")).await.unwrap();
            ledger.record_usage(&format!("{wallet}-1"), wallet, None, &[used(400)]).await.unwrap();
        }
        now.store(1_796_947_200_000, Ordering::SeqCst);
        ledger.record_usage("f-2", "acme/fading", None, &[used(100)]).await.unwrap();
        ledger.record_usage("s-2", "acme/steady", None, &[used(380)]).await.unwrap();
        let rows = rows(&ledger, "acme", now.load(Ordering::SeqCst)).await.unwrap();
        let signals: Vec<(&str, String)> = rows.iter().map(|r| (r.account.as_str(), r.signals.join("; "))).collect();
        assert_eq!(signals, [("fading", "usage down 75% month on month".to_string()), ("steady", String::new())]);
        let html = render(&ledger, "acme", now.load(Ordering::SeqCst)).await.unwrap();
        assert!(html.contains("usage down 75%"), "{html}");
    }
}
