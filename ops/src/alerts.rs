//! Usage alerts: thresholds (50/80/100% by default) of a wallet's month and of each
//! member's cap, evaluated over the ledger; each crossing is one event in the outbox, named
//! after the billing anchors' (Orb's `credit_balance_dropped`, `credit_balance_depleted`,
//! `credit_balance_recovered`; and `member_cap_threshold_reached` and
//! `budget_threshold_reached` for a member's cap and a wallet's monthly budget), delivered signed
//! (`Switchyard-Signature: t=…,v1=…`, the HMAC-SHA256 of `"{t}.{body}"`, as Stripe signs)
//! with the event id as its idempotency key, retried with backoff.

use serde_json::json;
use switchyard_ledger::{AlertEndpoint, Ledger, LedgerError};

/// The default thresholds, in percent.
pub const THRESHOLDS: [i64; 3] = [50, 80, 100];
/// Attempts before a delivery is given up.
pub const ATTEMPTS_MAX: i64 = 12;

/// Reads a thresholds list (`50,80,100`): 1 to 10 whole percents from 1 to 100.
pub fn parse_thresholds(text: &str) -> Result<Vec<i64>, String> {
    let mut list = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let t: i64 = part.parse().map_err(|_| format!("threshold {part:?} is not a whole percent"))?;
        if !(1..=100).contains(&t) {
            return Err(format!("threshold {t} is not a percent from 1 to 100"));
        }
        list.push(t);
    }
    list.sort_unstable();
    list.dedup();
    if list.is_empty() || list.len() > 10 {
        return Err("give 1 to 10 thresholds, such as 50,80,100".into());
    }
    Ok(list)
}

/// When a failed delivery is tried again: 5 s doubling per attempt, at most an hour;
/// `None` when it is out of attempts.
pub fn retry_at(now_ms: i64, attempts_made: i64) -> Option<i64> {
    (attempts_made + 1 < ATTEMPTS_MAX).then(|| now_ms + (5_000i64 << attempts_made.clamp(0, 20)).min(3_600_000))
}

/// The `Switchyard-Signature` header of a delivery.
pub fn signature(secret: &str, now_s: i64, body: &str) -> String {
    crate::stripe::sign(secret, now_s, body.as_bytes())
}

/// Evaluates every endpoint's wallets; returns how many events were queued.
pub async fn evaluate(ledger: &Ledger) -> Result<usize, LedgerError> {
    let mut queued = 0;
    for endpoint in ledger.alert_endpoints(None).await? {
        let thresholds = parse_thresholds(&endpoint.thresholds).unwrap_or_else(|_| THRESHOLDS.to_vec());
        for wallet in ledger.wallets(&endpoint.prefix).await? {
            queued += wallet_alerts(ledger, &endpoint, &wallet, &thresholds).await?;
            queued += member_alerts(ledger, &endpoint, &wallet, &thresholds).await?;
            queued += budget_alerts(ledger, &endpoint, &wallet, &thresholds).await?;
        }
    }
    Ok(queued)
}

fn event_id(wallet: &str, subject: &str, what: &str, at_ms: i64) -> String {
    let hash = short_hash(&format!("{wallet}\u{0}{subject}\u{0}{what}\u{0}{at_ms}"));
    format!("alrt_{hash}")
}

fn short_hash(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().take(12).map(|b| format!("{b:02x}")).collect()
}

fn body(id: &str, event: &str, now_ms: i64, data: serde_json::Value) -> String {
    json!({ "id": id, "object": "event", "type": event, "created": now_ms / 1000, "data": data }).to_string()
}

/// A wallet's month: the share of its credit used (spent this month against spent plus
/// available).
async fn wallet_alerts(
    ledger: &Ledger,
    ep: &AlertEndpoint,
    wallet: &str,
    thresholds: &[i64],
) -> Result<usize, LedgerError> {
    let now = ledger.now_ms();
    let month_start = month_start(now);
    let spent = ledger.spent_since(wallet, month_start).await?;
    let available = ledger.balance(wallet).await?.available.0;
    let base = spent + available.max(0);
    let used_pct = if base > 0 { spent * 100 / base } else { 0 };
    let marked = ledger.alert_marks(wallet, "wallet").await?;
    let mut queued = 0;
    for &t in thresholds {
        let depleted = t >= 100 && available <= 0 && spent > 0;
        if (used_pct >= t || depleted) && !marked.contains(&t) {
            let event = if t >= 100 { "credit_balance_depleted" } else { "credit_balance_dropped" };
            let id = event_id(wallet, "wallet", &format!("{event}:{t}"), now);
            let data = json!({ "wallet": wallet, "threshold_pct": t, "used_pct": used_pct, "available": available, "spent_this_month": spent });
            if ledger.cross_alert((wallet, "wallet", t), &ep.prefix, event, &body(&id, event, now, data), &id).await? {
                queued += 1;
            }
        }
    }
    if marked.iter().any(|t| used_pct < *t) && available > 0 {
        let id = event_id(wallet, "wallet", "recovered", now);
        let data = json!({ "wallet": wallet, "used_pct": used_pct, "available": available });
        let event = "credit_balance_recovered";
        if ledger.recover_alert((wallet, "wallet"), &ep.prefix, event, &body(&id, event, now, data), &id).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Each member's cap this month (a new month's marks are new subjects).
async fn member_alerts(
    ledger: &Ledger,
    ep: &AlertEndpoint,
    wallet: &str,
    thresholds: &[i64],
) -> Result<usize, LedgerError> {
    let now = ledger.now_ms();
    let mut queued = 0;
    for m in ledger.members(wallet).await? {
        if m.cap <= 0 {
            continue;
        }
        let used = m.spent + m.held;
        let used_pct = used * 100 / m.cap;
        let subject = format!("member:{}:{}", m.member, m.period);
        let marked = ledger.alert_marks(wallet, &subject).await?;
        for &t in thresholds.iter().filter(|t| used_pct >= **t && !marked.contains(t)) {
            let event = "member_cap_threshold_reached";
            let id = event_id(wallet, &subject, &t.to_string(), now);
            let data = json!({ "wallet": wallet, "member": m.member, "threshold_pct": t, "used": used, "cap": m.cap, "period": m.period });
            if ledger.cross_alert((wallet, &subject, t), &ep.prefix, event, &body(&id, event, now, data), &id).await? {
                queued += 1;
            }
        }
    }
    Ok(queued)
}

/// A wallet's monthly budget, if it has one (a new month's marks are new subjects).
async fn budget_alerts(
    ledger: &Ledger,
    ep: &AlertEndpoint,
    wallet: &str,
    thresholds: &[i64],
) -> Result<usize, LedgerError> {
    let Some(budget) = ledger.alert_budget(wallet).await? else { return Ok(0) };
    let now = ledger.now_ms();
    let start = month_start(now);
    let spent = ledger.spent_since(wallet, start).await?;
    let used_pct = spent * 100 / budget;
    let month = switchyard_ledger::plans::day_name(start / 86_400_000)[..7].to_string();
    let subject = format!("budget:{month}");
    let marked = ledger.alert_marks(wallet, &subject).await?;
    let mut queued = 0;
    for &t in thresholds.iter().filter(|t| used_pct >= **t && !marked.contains(t)) {
        let event = "budget_threshold_reached";
        let id = event_id(wallet, &subject, &t.to_string(), now);
        let data = json!({ "wallet": wallet, "threshold_pct": t, "spent_this_month": spent, "budget": budget, "month": month });
        if ledger.cross_alert((wallet, &subject, t), &ep.prefix, event, &body(&id, event, now, data), &id).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

fn month_start(now_ms: i64) -> i64 {
    let day = switchyard_ledger::plans::day_name(now_ms.div_euclid(86_400_000));
    let (y, m) = (day[..4].parse().unwrap_or(1970), day[5..7].parse().unwrap_or(1));
    switchyard_ledger::plans::days_from_civil(y, m, 1) * 86_400_000
}
