//! A wallet's standing: dunning (active, past due within a grace period, suspended), the
//! review queue (fraud hits, disputes, refunds of spent credit), and the billing audit trail
//! every transition is written to. Standing acts at admission only: a suspended wallet or an
//! open blocking review refuses new holds, while holds carved from a run already admitted
//! go on, so running work finishes.

use serde::{Deserialize, Serialize};

use crate::{Ledger, LedgerError, Tx};

/// How long a wallet whose renewal failed keeps spending before it is suspended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dunning {
    /// The grace period after the first failed payment (3 days by default).
    pub grace_ms: i64,
}

impl Default for Dunning {
    fn default() -> Self {
        Self { grace_ms: 3 * 86_400_000 }
    }
}

/// A wallet's dunning state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Paid up.
    Active,
    /// A renewal failed; spending goes on until the grace period ends.
    PastDue,
    /// The grace period ended unpaid: no new holds until a payment succeeds.
    Suspended,
}

impl Standing {
    /// The name stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            Standing::Active => "active",
            Standing::PastDue => "past_due",
            Standing::Suspended => "suspended",
        }
    }

    fn parse(name: &str) -> Standing {
        match name {
            "past_due" => Standing::PastDue,
            "suspended" => Standing::Suspended,
            _ => Standing::Active,
        }
    }
}

/// One entry of the billing audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct BillingAudit {
    /// Sequence number.
    pub id: i64,
    /// The wallet.
    pub wallet: String,
    /// What happened: `dunning`, `topup`, `plan_grant`, `clawback`, `freeze`, `unfreeze`,
    /// `plan`, `review`.
    pub kind: String,
    /// The state before, for transitions.
    pub from_state: Option<String>,
    /// The state after, for transitions.
    pub to_state: Option<String>,
    /// What and why, in words.
    pub detail: String,
    /// The payment event behind it, if any.
    pub event_id: Option<String>,
    /// When (unix ms).
    pub created_at_ms: i64,
}

/// One item of the review queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Review {
    /// Its id.
    pub id: String,
    /// The wallet.
    pub wallet: String,
    /// The rule or event that raised it (`dispute`, `refund_overspent`, `velocity_topup`…).
    pub rule: String,
    /// What was seen.
    pub detail: String,
    /// 1 while open: new spending is paused.
    pub blocks: i64,
    /// What it is about (a payment, a prompt hash), if one thing.
    pub subject: Option<String>,
    /// `open`, `cleared` or `upheld`.
    pub state: String,
    /// When it was raised (unix ms).
    pub created_at_ms: i64,
    /// When it was decided (unix ms).
    pub decided_at_ms: Option<i64>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Their note.
    pub note: Option<String>,
}

/// A person's decision on a review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Nothing wrong: lift the pause (a won dispute unfreezes the paid credit).
    Clear,
    /// The suspicion holds: a lost dispute claws back the payment's unspent credit and
    /// unfreezes the rest; a fraud hit suspends the wallet.
    Uphold,
}

/// Writes one audit entry.
pub(crate) async fn audit_in(
    tx: &mut Tx,
    wallet: &str,
    kind: &str,
    states: (Option<&str>, Option<&str>),
    detail: &str,
    event_id: Option<&str>,
    now_ms: i64,
) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO billing_audit (wallet, kind, from_state, to_state, detail, event_id, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(wallet)
    .bind(kind)
    .bind(states.0)
    .bind(states.1)
    .bind(detail)
    .bind(event_id)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The wallet's stored dunning state, its row created as active if it had none (and locked
/// on PostgreSQL).
async fn stored_in(tx: &mut Tx, wallet: &str, now_ms: i64) -> Result<(Standing, Option<i64>), LedgerError> {
    sqlx::query(
        "INSERT INTO billing_accounts (wallet, state, since_ms) VALUES ($1, 'active', $2) ON CONFLICT (wallet) DO NOTHING",
    )
    .bind(wallet)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    let lock = if crate::on_postgres(tx) { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT state, grace_until_ms FROM billing_accounts WHERE wallet = $1{lock}");
    let (state, grace): (String, Option<i64>) =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(wallet).fetch_one(&mut **tx).await?;
    Ok((Standing::parse(&state), grace))
}

/// The wallet's dunning state as of `now_ms`: a lapsed grace period counts as suspended even
/// before the sweep writes it.
pub(crate) async fn standing_in(tx: &mut Tx, wallet: &str, now_ms: i64) -> Result<Standing, LedgerError> {
    let (state, grace) = stored_in(tx, wallet, now_ms).await?;
    Ok(lapsed(state, grace, now_ms))
}

fn lapsed(state: Standing, grace_until_ms: Option<i64>, now_ms: i64) -> Standing {
    match (state, grace_until_ms) {
        (Standing::PastDue, Some(until)) if until <= now_ms => Standing::Suspended,
        (state, _) => state,
    }
}

/// Moves the wallet to `to` (writing the audit entry), unless it is there already.
pub(crate) async fn transition_in(
    tx: &mut Tx,
    wallet: &str,
    to: Standing,
    grace_until_ms: Option<i64>,
    why: &str,
    event_id: Option<&str>,
    now_ms: i64,
) -> Result<Option<Standing>, LedgerError> {
    let (from, _) = stored_in(tx, wallet, now_ms).await?;
    if from == to {
        return Ok(None);
    }
    sqlx::query("UPDATE billing_accounts SET state = $1, since_ms = $2, grace_until_ms = $3 WHERE wallet = $4")
        .bind(to.name())
        .bind(now_ms)
        .bind(grace_until_ms)
        .bind(wallet)
        .execute(&mut **tx)
        .await?;
    audit_in(tx, wallet, "dunning", (Some(from.name()), Some(to.name())), why, event_id, now_ms).await?;
    Ok(Some(to))
}

/// Refuses a new hold on a wallet that is suspended or paused by an open blocking review.
pub(crate) async fn check_spendable(
    tx: &mut sqlx::AnyConnection,
    wallet: &str,
    now_ms: i64,
) -> Result<(), LedgerError> {
    let row: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT state, grace_until_ms FROM billing_accounts WHERE wallet = $1")
            .bind(wallet)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((state, grace)) = row
        && lapsed(Standing::parse(&state), grace, now_ms) == Standing::Suspended
    {
        return Err(LedgerError::SpendingPaused {
            wallet: wallet.to_string(),
            why: "it is suspended for an unpaid renewal".into(),
            next: "pay the open invoice; spending resumes when the payment succeeds".into(),
        });
    }
    let review: Option<(String, String)> = sqlx::query_as(
        "SELECT id, rule FROM reviews WHERE wallet = $1 AND state = 'open' AND blocks = 1 ORDER BY created_at_ms, id LIMIT 1",
    )
    .bind(wallet)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((id, rule)) = review {
        return Err(LedgerError::SpendingPaused {
            wallet: wallet.to_string(),
            why: format!("review {id} ({rule}) holds new spending"),
            next: format!("an admin clears it with `switchyard billing review clear {id}`"),
        });
    }
    Ok(())
}

/// Raises a review (and audits it); returns its id.
pub(crate) async fn raise_in(tx: &mut Tx, raised: &Raise<'_>, now_ms: i64) -> Result<String, LedgerError> {
    let id = format!("rev_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(
        "INSERT INTO reviews (id, wallet, rule, detail, blocks, subject, state, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, 'open', $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&id)
    .bind(raised.wallet)
    .bind(raised.rule)
    .bind(raised.detail)
    .bind(i64::from(raised.blocks))
    .bind(raised.subject)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    let pause = if raised.blocks { "; new spending paused" } else { "" };
    let detail = format!("review {id} raised by {}: {}{pause}", raised.rule, raised.detail);
    audit_in(tx, raised.wallet, "review", (None, Some("open")), &detail, None, now_ms).await?;
    Ok(id)
}

/// What raises a review.
#[derive(Clone, Debug)]
pub struct Raise<'a> {
    /// The wallet.
    pub wallet: &'a str,
    /// The rule or event.
    pub rule: &'a str,
    /// What was seen.
    pub detail: &'a str,
    /// Whether new spending pauses until it is decided.
    pub blocks: bool,
    /// What it is about, if one thing.
    pub subject: Option<&'a str>,
}

const REVIEW_COLUMNS: &str =
    "id, wallet, rule, detail, blocks, subject, state, created_at_ms, decided_at_ms, decided_by, note";

impl Ledger {
    /// Raises a review on a wallet (a fraud rule's hit, say).
    pub async fn raise_review(&self, raised: &Raise<'_>) -> Result<Review, LedgerError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let id = raise_in(&mut tx, raised, now).await?;
        tx.commit().await?;
        self.review(&id).await
    }

    /// One review.
    pub async fn review(&self, id: &str) -> Result<Review, LedgerError> {
        let sql = format!("SELECT {REVIEW_COLUMNS} FROM reviews WHERE id = $1");
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| LedgerError::UnknownReview(id.to_string()))
    }

    /// Reviews of wallets whose names start with `prefix` (a tenant's `acme/`), newest first;
    /// with `open_only`, those still open.
    pub async fn reviews(&self, prefix: &str, open_only: bool) -> Result<Vec<Review>, LedgerError> {
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM reviews WHERE substr(wallet, 1, CAST($1 AS INTEGER)) = $2 \
             AND ($3 = 0 OR state = 'open') ORDER BY created_at_ms DESC, id DESC LIMIT 1000"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(prefix.len() as i64)
            .bind(prefix)
            .bind(i64::from(open_only))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Decides an open review. Clearing lifts its pause (and a dispute's freeze); upholding a
    /// dispute claws back the disputed payment's unspent credit, and upholding a fraud hit
    /// suspends the wallet.
    pub async fn decide_review(
        &self,
        id: &str,
        decision: Decision,
        by: &str,
        note: &str,
    ) -> Result<Review, LedgerError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let lock = if crate::on_postgres(&tx) { " FOR UPDATE" } else { "" };
        let sql = format!("SELECT {REVIEW_COLUMNS} FROM reviews WHERE id = $1{lock}");
        let review: Review = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| LedgerError::UnknownReview(id.to_string()))?;
        if review.state != "open" {
            return Err(LedgerError::Settled { id: id.to_string(), state: review.state });
        }
        let state = match decision {
            Decision::Clear => "cleared",
            Decision::Uphold => "upheld",
        };
        sqlx::query("UPDATE reviews SET state = $1, decided_at_ms = $2, decided_by = $3, note = $4 WHERE id = $5")
            .bind(state)
            .bind(now)
            .bind(by)
            .bind(note)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let detail = format!("review {id} ({}) {state} by {by}: {note}", review.rule);
        audit_in(&mut tx, &review.wallet, "review", (Some("open"), Some(state)), &detail, None, now).await?;
        match (review.rule.as_str(), decision) {
            ("dispute", Decision::Clear) => crate::payments::unfreeze_in(&mut tx, &review.wallet, now).await?,
            ("dispute", Decision::Uphold) => {
                if let Some(payment) = &review.subject {
                    crate::payments::claw_back_in(&mut tx, payment, None, Some(id), now).await?;
                }
                crate::payments::unfreeze_in(&mut tx, &review.wallet, now).await?;
            }
            (_, Decision::Uphold) if review.blocks == 1 => {
                let why = format!("review {id} ({}) upheld", review.rule);
                transition_in(&mut tx, &review.wallet, Standing::Suspended, None, &why, None, now).await?;
            }
            _ => {}
        }
        tx.commit().await?;
        self.review(id).await
    }

    /// Whether the wallet may start new paid work now: refused with why (suspended, or a
    /// blocking review), as a new hold would be.
    pub async fn spendable(&self, wallet: &str) -> Result<(), LedgerError> {
        let mut conn = self.pool.acquire().await?;
        check_spendable(&mut conn, wallet, self.now()).await
    }

    /// A wallet's dunning state now.
    pub async fn standing(&self, wallet: &str) -> Result<Standing, LedgerError> {
        let row: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT state, grace_until_ms FROM billing_accounts WHERE wallet = $1")
                .bind(wallet)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map_or(Standing::Active, |(s, g)| lapsed(Standing::parse(&s), g, self.now())))
    }

    /// Suspends every wallet whose grace period has ended unpaid (writing each transition to
    /// the audit trail); returns them.
    pub async fn sweep_dunning(&self) -> Result<Vec<String>, LedgerError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let lapsed: Vec<String> = sqlx::query_scalar(
            "SELECT wallet FROM billing_accounts WHERE state = 'past_due' AND grace_until_ms <= $1 ORDER BY wallet",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for wallet in &lapsed {
            let why = "the grace period after a failed renewal ended unpaid";
            transition_in(&mut tx, wallet, Standing::Suspended, None, why, None, now).await?;
        }
        tx.commit().await?;
        Ok(lapsed)
    }

    /// The billing audit trail of wallets whose names start with `prefix`, oldest first.
    pub async fn billing_audit(&self, prefix: &str) -> Result<Vec<BillingAudit>, LedgerError> {
        Ok(sqlx::query_as(
            "SELECT id, wallet, kind, from_state, to_state, detail, event_id, created_at_ms FROM billing_audit \
             WHERE substr(wallet, 1, CAST($1 AS INTEGER)) = $2 ORDER BY id LIMIT 100000",
        )
        .bind(prefix.len() as i64)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?)
    }
}
