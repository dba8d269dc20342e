//! Plans and packs as data (`data/plans.toml`, overridable), and the calendar arithmetic of
//! monthly grants.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One plan.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Credits granted each calendar month (per seat for seat plans; 0 for custom plans).
    pub monthly_credits: i64,
    /// Queue priority tier.
    pub tier: i64,
    /// Whether runs get priority.
    #[serde(default)]
    pub priority: bool,
    /// Whether credits are granted per seat.
    #[serde(default)]
    pub per_seat: bool,
    /// Whether credits go to a shared team pool.
    #[serde(default)]
    pub shared_pool: bool,
    /// The most unspent credit carried into the next month.
    #[serde(default)]
    pub rollover_cap: i64,
}

/// One credit pack.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pack {
    /// Credits in the pack.
    pub credits: i64,
    /// What it costs.
    pub price_usd: f64,
}

/// Every plan and pack.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Plans {
    /// By name.
    pub plans: BTreeMap<String, Plan>,
    /// By name (the credit count).
    pub packs: BTreeMap<String, Pack>,
}

/// The shipped defaults.
pub const BUILTIN: &str = include_str!("../data/plans.toml");

impl Plans {
    /// Parses a plans file; errors carry line and column.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The shipped defaults.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN).unwrap_or_else(|e| unreachable!("the shipped plans file is valid: {e}"))
    }
}

/// The first instant (unix ms, UTC) of the month after the one holding `now_ms`, and the
/// month's name (`2026-11`).
pub fn month_end(now_ms: i64) -> (i64, String) {
    let days = now_ms.div_euclid(86_400_000);
    let (y, m, _) = civil_from_days(days);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) * 86_400_000, format!("{y:04}-{m:02}"))
}

/// The UTC date (`2026-11-30`) of day `days` since 1970-01-01.
pub fn day_name(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_end_at_the_next_month_in_utc() {
        // 2026-11-21T12:00:00Z
        assert_eq!(month_end(1_795_262_400_000), (1_796_083_200_000, "2026-11".into()));
        // 2026-12-31T23:59:59Z rolls into 2027.
        assert_eq!(month_end(1_798_761_599_000), (1_798_761_600_000, "2026-12".into()));
        assert_eq!(month_end(0).1, "1970-01");
    }

    #[test]
    fn the_shipped_plans_hold_the_seed_defaults() {
        let p = Plans::builtin();
        assert_eq!(p.plans["pro"].monthly_credits, 20_000);
        assert_eq!(p.plans["team-pool"].monthly_credits, 500_000);
        assert_eq!(p.packs.keys().collect::<Vec<_>>(), ["100", "1000", "500"]);
        assert!(Plans::parse("[plans.x]\nmonthly = 1\n[packs]\n").unwrap_err().contains("unknown field"));
    }
}
