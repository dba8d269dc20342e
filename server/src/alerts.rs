//! Usage alerts on a server: the thresholds evaluated every interval, and the outbox's due
//! deliveries posted to each tenant's URL, signed, with the event id as the idempotency key,
//! retried with backoff. A tenant's URL must be http(s) and, unless the operator allows
//! private addresses, resolve to public ones only (no requests into the server's network).

use std::sync::Arc;
use std::time::Duration;

use switchyard_session::credits::Delivery;
use switchyard_session::credits::ops::alerts;
use tokio_util::sync::CancellationToken;

use crate::App;

/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries taken per round.
const ROUND_MAX: i64 = 100;

/// Evaluates and delivers until `shutdown`.
pub(crate) async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let client = match reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "alerts: cannot make an HTTP client; no alerts will be delivered");
            return;
        }
    };
    let every = Duration::from_millis(app.billing.alerts_interval_ms.max(50));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let Ok(ledger) = app.ledger().await else { continue };
        if let Err(e) = alerts::evaluate(ledger).await {
            tracing::warn!(error = %e, "alerts: evaluation failed");
        }
        let due = match ledger.due_deliveries(ROUND_MAX).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "alerts: cannot read the outbox");
                continue;
            }
        };
        for delivery in due {
            let outcome = deliver(&app, &client, &delivery).await;
            let now = crate::store::now_ms();
            let recorded = match &outcome {
                Ok(()) => ledger.delivery_attempted(&delivery.id, Ok(())).await,
                Err(e) => {
                    ledger.delivery_attempted(&delivery.id, Err((e, alerts::retry_at(now, delivery.attempts)))).await
                }
            };
            if let Err(e) = recorded {
                tracing::warn!(error = %e, "alerts: cannot record a delivery");
            }
        }
    }
}

/// One attempt: `Err` says why it failed.
async fn deliver(app: &App, client: &reqwest::Client, d: &Delivery) -> Result<(), String> {
    let ledger = app.ledger().await.map_err(|e| e.to_string())?;
    let endpoint = ledger.alert_endpoints(Some(&d.prefix)).await.map_err(|e| e.to_string())?;
    let endpoint = endpoint.into_iter().next().ok_or("the endpoint was removed")?;
    check_url(&endpoint.url, app.billing.alert_private_urls).await?;
    let now_s = crate::store::now_ms() / 1000;
    let reply = client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("switchyard-signature", alerts::signature(&endpoint.secret, now_s, &d.payload))
        .header("idempotency-key", &d.id)
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| format!("{}", e.without_url()))?;
    match reply.status() {
        s if s.is_success() => Ok(()),
        s => Err(format!("the endpoint answered {s}")),
    }
}

/// An alert URL: http(s), and (unless allowed) only public addresses.
pub(crate) async fn check_url(url: &str, private_ok: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("an alert URL is http or https, not {}", parsed.scheme()));
    }
    let host = parsed.host_str().ok_or("the URL has no host")?;
    if private_ok {
        return Ok(());
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs = tokio::net::lookup_host((host, port)).await.map_err(|e| format!("{host}: {e}"))?;
    for addr in addrs {
        if !public(addr.ip()) {
            return Err(format!("{host} resolves to {}, which is not a public address", addr.ip()));
        }
    }
    Ok(())
}

fn public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]))
        }
        std::net::IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}
