//! A quote against what may be spent: the wallet's available credits, the run's budget and a
//! team member's monthly cap. The command line and the editor refuse a run with it before
//! anything starts.

use switchyard_catalog::quote::{Totals, eta_text};

/// The first limit a quote's most is over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Over {
    /// The wallet's available credits.
    Balance(i64),
    /// The run's budget.
    Budget(i64),
    /// What is left of a team member's monthly cap.
    MemberCap {
        /// The member.
        member: String,
        /// Credits left this month.
        left: i64,
    },
}

/// A plan's most against the wallet, the budget and a member's cap.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The wallet's available credits, when a wallet is used.
    pub available: Option<i64>,
    /// The run's budget.
    pub budget: Option<i64>,
    /// A team member and what is left of their monthly cap.
    pub member: Option<(String, i64)>,
    /// The most the plan may cost.
    pub most: i64,
}

impl Verdict {
    /// The verdict on a plan that may cost up to `most`.
    pub fn new(most: i64, available: Option<i64>, budget: Option<i64>) -> Self {
        Self { available, budget, member: None, most }
    }

    /// With a team member's cap.
    pub fn member(mut self, member: Option<(String, i64)>) -> Self {
        self.member = member;
        self
    }

    /// The first limit the plan is over: the balance, then the budget, then the member's cap.
    pub fn over(&self) -> Option<Over> {
        if let Some(a) = self.available.filter(|a| self.most > *a) {
            return Some(Over::Balance(a));
        }
        if let Some(b) = self.budget.filter(|b| self.most > *b) {
            return Some(Over::Budget(b));
        }
        let (member, left) = self.member.as_ref().filter(|(_, left)| self.most > *left)?;
        Some(Over::MemberCap { member: member.clone(), left: *left })
    }

    /// Whether the plan fits every limit.
    pub fn fits(&self) -> bool {
        self.over().is_none()
    }

    /// The totals line and whether the run fits.
    pub fn lines(&self, totals: &Totals) -> [String; 2] {
        let after =
            self.available.map_or(String::new(), |a| format!("; {a} cr available, {} after at most", a - self.most));
        let total = format!(
            "total: {}, {}, about {:.1} gCO2eq{after}",
            credits_text(totals.credits),
            eta_text((totals.makespan_s, totals.makespan_worst_s)),
            totals.gco2eq
        );
        let fit = match self.over() {
            None if self.available.is_none() && self.budget.is_none() && self.member.is_none() => {
                "no wallet given and no budget: nothing to check the total against (--account, --budget)".to_string()
            }
            None => "fits".to_string(),
            Some(Over::Balance(a)) => format!("does NOT fit: at most {} cr against {a} cr available", self.most),
            Some(Over::Budget(b)) => format!("does NOT fit: at most {} cr against the budget of {b} cr", self.most),
            Some(Over::MemberCap { member, left }) => {
                format!("does NOT fit: at most {} cr against {left} cr left of {member}'s monthly cap", self.most)
            }
        };
        [total, fit]
    }
}

/// Credits as people read them: `12 cr`, or `4-42 cr` for a range.
pub fn credits_text((lo, hi): (i64, i64)) -> String {
    if lo == hi { format!("{hi} cr") } else { format!("{lo}-{hi} cr") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_balance_is_named_before_the_budget_and_the_cap() {
        let v = Verdict::new(10, Some(5), Some(4)).member(Some(("ana".into(), 3)));
        assert_eq!(v.over(), Some(Over::Balance(5)));
        let v = Verdict::new(10, Some(50), Some(4)).member(Some(("ana".into(), 3)));
        assert_eq!(v.over(), Some(Over::Budget(4)));
        let v = Verdict::new(10, None, None).member(Some(("ana".into(), 3)));
        assert_eq!(v.over(), Some(Over::MemberCap { member: "ana".into(), left: 3 }));
        assert!(Verdict::new(10, Some(10), Some(10)).fits());
    }

    #[test]
    fn a_quote_with_no_wallet_says_so_instead_of_fits() {
        let totals = Totals { credits: (3, 3), makespan_s: 3.0, makespan_worst_s: 20.0, gco2eq: 0.2 };
        let [total, fit] = Verdict::new(3, None, None).lines(&totals);
        assert_eq!(total, "total: 3 cr, ETA 3-20 s, about 0.2 gCO2eq");
        assert!(fit.starts_with("no wallet given"), "{fit}");
        assert_eq!(Verdict::new(3, None, Some(5)).lines(&totals)[1], "fits");
    }
}
