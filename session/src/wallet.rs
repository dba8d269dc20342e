//! The wallet a run spends from: which ledger, the room it has (balance and a member's cap),
//! and admission, which weighs the quote's most against that room, mints the run's id and
//! reserves the most in one ledger step.

use std::sync::Arc;

use switchyard_billing::{Billing, RunId, Verdict};
use switchyard_catalog::Catalog;
use switchyard_catalog::quote::Totals;
use switchyard_ledger::Ledger;
pub use switchyard_ledger::Location;

use crate::SessionError;

/// How a front end names the wallet.
#[derive(Clone, Debug, Default)]
pub struct WalletOptions {
    /// The wallet.
    pub account: String,
    /// The ledger: a SQLite file or a `postgres://` URL; the default one
    /// (`$SWITCHYARD_LEDGER`, else the user's data folder) when `None`.
    pub ledger: Option<Location>,
    /// The most the run may spend, in credits.
    pub budget: Option<i64>,
    /// The team member spending from a pool wallet, within their monthly cap.
    pub member: Option<String>,
    /// Fraud and velocity rules weighed at admission (a server's); none on a personal ledger.
    pub rules: Option<switchyard_ops::fraud::Rules>,
}

/// The wallet's room: available credits, and what is left of the member's cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    /// Credits that can be held now.
    pub available: i64,
    /// The member and what is left of their cap this month.
    pub member: Option<(String, i64)>,
    /// Why the wallet may not start paid work now (suspended, a review), if it may not.
    pub paused: Option<String>,
}

/// The ledger: `explicit`, else the default.
pub fn ledger_location(explicit: Option<&Location>) -> Result<Location, SessionError> {
    explicit.cloned().or_else(switchyard_ledger::default_location).ok_or_else(|| {
        SessionError::invalid("no user data folder for the ledger; name one (--ledger FILE or postgres://URL)")
    })
}

/// Opens the wallet's ledger to read it, refusing to create one (spending needs credits
/// granted first).
pub async fn open(wallet: &WalletOptions) -> Result<Ledger, SessionError> {
    Ok(Ledger::open_existing(&ledger_location(wallet.ledger.as_ref())?).await?)
}

/// Opens the wallet's ledger for a run: as [`open`], then recovers what a crashed run left
/// (expired holds voided or marked unknown), so admission sees the true room.
pub async fn open_for_run(wallet: &WalletOptions) -> Result<Ledger, SessionError> {
    let ledger = open(wallet).await?;
    // Recovery logs what it found itself.
    ledger.recover().await?;
    Ok(ledger)
}

/// The wallet's room now.
pub async fn room(ledger: &Ledger, wallet: &WalletOptions) -> Result<Room, SessionError> {
    let available = ledger.balance(&wallet.account).await?.available.0;
    let member = match &wallet.member {
        Some(m) => Some((m.clone(), ledger.member_left(&wallet.account, m).await?)),
        None if ledger.has_members(&wallet.account).await? => {
            return Err(SessionError::invalid(format!(
                "{} is a team account: only a named member spends it; give the member (--member NAME)",
                wallet.account
            )));
        }
        None => None,
    };
    let paused = match ledger.spendable(&wallet.account).await {
        Ok(()) => None,
        Err(e @ switchyard_ledger::LedgerError::SpendingPaused { .. }) => Some(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    Ok(Room { available, member, paused })
}

/// The wallet's available credits, for a front end's display.
pub async fn available(wallet: &WalletOptions) -> Result<i64, SessionError> {
    Ok(open(wallet).await?.balance(&wallet.account).await?.available.0)
}

/// The verdict on a run whose quote totals `totals`, against the wallet's room and budget.
pub fn verdict(totals: &Totals, room: &Room, budget: Option<i64>) -> Verdict {
    Verdict::new(totals.credits.1, Some(room.available), budget).member(room.member.clone())
}

/// A run admitted: its billing (the reservation taken), or the verdict that refused it.
pub enum Admission {
    /// Admitted: nodes spend through this, and `Billing::close` ends the run.
    Admitted(Arc<Billing>),
    /// Refused before anything ran: the quote does not fit.
    Refused(Verdict),
}

/// Admits a run whose quote totals `totals`: the verdict first, then the reservation of its
/// most under a freshly minted run id (other runs may have taken the room meanwhile: that is
/// refused too, as [`crate::Code::OverBudget`]).
pub async fn admit(
    ledger: Ledger,
    catalog: Arc<Catalog>,
    wallet: &WalletOptions,
    totals: &Totals,
    prompts: &[String],
) -> Result<Admission, SessionError> {
    let room = room(&ledger, wallet).await?;
    let verdict = verdict(totals, &room, wallet.budget);
    if !verdict.fits() {
        return Ok(Admission::Refused(verdict));
    }
    if let Some(rules) = wallet.rules.as_ref().filter(|_| totals.credits.1 > 0) {
        let asked = switchyard_ops::fraud::Admission { wallet: &wallet.account, most: totals.credits.1, prompts };
        if let Some(review) = switchyard_ops::fraud::check_admission(&ledger, rules, &asked).await? {
            return Err(SessionError::over_budget(format!(
                "{} cannot start new paid work: review {} ({}): {}; an operator clears it with `switchyard billing review clear {}`; nothing was charged",
                wallet.account, review.id, review.rule, review.detail, review.id
            )));
        }
    }
    let billing = Billing::admit(
        ledger,
        catalog,
        wallet.account.clone(),
        wallet.member.clone(),
        RunId::mint(),
        wallet.budget,
        totals.credits.1,
        totals.makespan_s,
    )
    .await?;
    Ok(Admission::Admitted(Arc::new(billing)))
}
