//! Fraud and velocity rules, weighed at admission (a run's start) and at a top-up, never
//! mid-run: a hit raises a review that pauses the wallet's new spending, names the rule, and
//! waits in the operator's queue. Runs already admitted go on (their holds draw on their
//! reservation, which a pause does not touch).
//!
//! The rules, each configurable:
//! - `new_account_daily_cap`: a wallet younger than `new_account_days` spends at most
//!   `new_account_daily_cap` credits a day (it can only spend prepaid credit in any case);
//! - `spend_spike`: today's spend (with this run's most) over `spike_factor` times the
//!   wallet's own daily baseline, and over `spike_min_credits`;
//! - `concurrent_holds`: at most `concurrent_holds` holds open at once;
//! - `duplicate_prompts`: more than `duplicate_prompts_per_hour` runs in an hour sending the
//!   same prompt, exactly or nearly (SimHash within `near_duplicate_bits` bits);
//! - `topup_velocity`: more than `topups_per_hour` top-ups into a wallet in an hour, more
//!   than `topups_per_customer_per_day` by one paying customer in a day, or more than
//!   `topups_per_method_per_day` with one payment method (a card's fingerprint, from the
//!   `charge.succeeded` event) in a day, across wallets.

use serde::{Deserialize, Serialize};
use switchyard_ledger::{Ledger, LedgerError, PromptMark, Raise, Review};

const HOUR_MS: i64 = 3_600_000;

/// The rules' limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// How long a wallet counts as new.
    pub new_account_days: i64,
    /// A new wallet's daily spend cap (credits).
    pub new_account_daily_cap: i64,
    /// Days of the baseline a spike is measured against.
    pub baseline_days: i64,
    /// How many times the baseline a day's spend may reach.
    pub spike_factor: f64,
    /// Below this a day's spend is never a spike.
    pub spike_min_credits: i64,
    /// Holds open at once, at most.
    pub concurrent_holds: i64,
    /// Runs an hour sending one prompt (or a near copy), at most.
    pub duplicate_prompts_per_hour: i64,
    /// SimHash bits two prompts may differ in and still be near copies.
    pub near_duplicate_bits: u32,
    /// Top-ups an hour into one wallet, at most.
    pub topups_per_hour: i64,
    /// Top-ups a day by one customer, at most.
    pub topups_per_customer_per_day: i64,
    /// Top-ups a day with one payment method (a card's fingerprint), at most.
    pub topups_per_method_per_day: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            new_account_days: 7,
            new_account_daily_cap: 5_000,
            baseline_days: 14,
            spike_factor: 5.0,
            spike_min_credits: 2_000,
            concurrent_holds: 64,
            duplicate_prompts_per_hour: 200,
            near_duplicate_bits: 10,
            topups_per_hour: 5,
            topups_per_customer_per_day: 10,
            topups_per_method_per_day: 10,
        }
    }
}

/// A run asking to start.
#[derive(Clone, Debug)]
pub struct Admission<'a> {
    /// The wallet.
    pub wallet: &'a str,
    /// The run's most (credits).
    pub most: i64,
    /// The prompts it sends.
    pub prompts: &'a [String],
}

/// A rule's hit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The rule.
    pub rule: &'static str,
    /// What was seen.
    pub detail: String,
}

/// A prompt's marks: the exact hash of its normalized text and its SimHash.
pub fn mark(prompt: &str) -> PromptMark {
    let normal = prompt.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    PromptMark {
        prompt_hash: digest(&normal),
        // The bits as stored: the stores keep signed 64-bit integers.
        simhash: simhash::simhash(&normal) as i64,
    }
}

/// The first 128 bits of the text's SHA-256, in hex.
fn digest(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Weighs the rules on facts already read (pure, for tests and the admission check).
pub fn weigh(rules: &Rules, facts: &switchyard_ledger::SpendFacts, admission: &Admission<'_>) -> Option<Hit> {
    let day_total = facts.spent_today.saturating_add(admission.most);
    let new = facts.age_ms.is_none_or(|age| age < rules.new_account_days * 86_400_000);
    if new && day_total > rules.new_account_daily_cap {
        return Some(Hit {
            rule: "new_account_daily_cap",
            detail: format!(
                "a wallet under {} days old would spend {day_total} cr today, over its {} cr daily cap",
                rules.new_account_days, rules.new_account_daily_cap
            ),
        });
    }
    let ceiling = (facts.daily_baseline * rules.spike_factor).max(rules.spike_min_credits as f64);
    if !new && day_total as f64 > ceiling {
        return Some(Hit {
            rule: "spend_spike",
            detail: format!(
                "{day_total} cr today against a baseline of {:.0} cr a day over {} days ({}x allowed)",
                facts.daily_baseline, rules.baseline_days, rules.spike_factor
            ),
        });
    }
    if facts.open_holds >= rules.concurrent_holds {
        return Some(Hit {
            rule: "concurrent_holds",
            detail: format!("{} holds open at once, the most allowed is {}", facts.open_holds, rules.concurrent_holds),
        });
    }
    None
}

/// The prompt sent more than allowed in the last hour, if any.
pub fn duplicates(rules: &Rules, recent: &[PromptMark], prompts: &[PromptMark]) -> Option<Hit> {
    for p in prompts {
        let exact = recent.iter().filter(|r| r.prompt_hash == p.prompt_hash).count() as i64;
        let near = recent
            .iter()
            .filter(|r| r.prompt_hash != p.prompt_hash)
            .filter(|r| ((r.simhash ^ p.simhash) as u64).count_ones() <= rules.near_duplicate_bits)
            .count() as i64;
        if exact + near + 1 > rules.duplicate_prompts_per_hour {
            return Some(Hit {
                rule: "duplicate_prompts",
                detail: format!(
                    "one prompt sent {} times in an hour ({exact} exact, {near} near copies), over {} allowed",
                    exact + near + 1,
                    rules.duplicate_prompts_per_hour
                ),
            });
        }
    }
    None
}

/// Checks a run's admission: a hit raises a blocking review (returned); otherwise the
/// admission and its prompts are recorded for the next check.
pub async fn check_admission(
    ledger: &Ledger,
    rules: &Rules,
    admission: &Admission<'_>,
) -> Result<Option<Review>, LedgerError> {
    let facts = ledger.spend_facts(admission.wallet, rules.baseline_days).await?;
    let marks: Vec<PromptMark> = admission.prompts.iter().map(|p| mark(p)).collect();
    let hit = match weigh(rules, &facts, admission) {
        Some(hit) => Some(hit),
        None if marks.is_empty() => None,
        None => {
            let since = now_ms(ledger) - HOUR_MS;
            let recent = ledger.recent_prompts(admission.wallet, since, 20_000).await?;
            duplicates(rules, &recent, &marks)
        }
    };
    match hit {
        Some(hit) => raise(ledger, admission.wallet, &hit).await.map(Some),
        None => {
            ledger.record_admission(admission.wallet, admission.most, &marks).await?;
            Ok(None)
        }
    }
}

/// Checks a top-up's velocity (after it is applied: the credit is the customer's, but new
/// spending waits for a person when it comes too fast).
pub async fn check_topup(
    ledger: &Ledger,
    rules: &Rules,
    wallet: &str,
    customer: Option<&str>,
    method: Option<&str>,
) -> Result<Option<Review>, LedgerError> {
    let now = now_ms(ledger);
    let (hour, _) = ledger.topups_since(wallet, None, now - HOUR_MS).await?;
    let (_, day) = ledger.topups_since(wallet, customer, now - 24 * HOUR_MS).await?;
    let by_method = match method {
        Some(m) => ledger.topups_by_method(m, now - 24 * HOUR_MS).await?,
        None => 0,
    };
    let hit = if hour > rules.topups_per_hour {
        Some(format!("{hour} top-ups into {wallet} in an hour, over {} allowed", rules.topups_per_hour))
    } else if customer.is_some() && day > rules.topups_per_customer_per_day {
        Some(format!(
            "{day} top-ups by customer {} in a day, over {} allowed",
            customer.unwrap_or_default(),
            rules.topups_per_customer_per_day
        ))
    } else if by_method > rules.topups_per_method_per_day {
        Some(format!(
            "{by_method} top-ups with one payment method in a day, over {} allowed",
            rules.topups_per_method_per_day
        ))
    } else {
        None
    };
    match hit {
        Some(detail) => raise(ledger, wallet, &Hit { rule: "topup_velocity", detail }).await.map(Some),
        None => Ok(None),
    }
}

async fn raise(ledger: &Ledger, wallet: &str, hit: &Hit) -> Result<Review, LedgerError> {
    ledger.raise_review(&Raise { wallet, rule: hit.rule, detail: &hit.detail, blocks: true, subject: None }).await
}

/// The ledger's clock (tests move it).
fn now_ms(ledger: &Ledger) -> i64 {
    ledger.now_ms()
}
