//! Price modifiers, as catalog data: routes (economy: cheaper and slower; green: the model's
//! lowest-carbon region at a premium) and a schedule of surge and off-peak windows.

use serde::{Deserialize, Serialize};

/// How a call is routed to its model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// The provider's default region, at once.
    Standard,
    /// Queued for the provider's quiet hours: cheaper, slower.
    Economy,
    /// The model's lowest-carbon region, at a premium.
    Green,
}

impl Route {
    /// The name used in placements (`@region/economy`).
    pub fn name(self) -> &'static str {
        match self {
            Route::Standard => "standard",
            Route::Economy => "economy",
            Route::Green => "green",
        }
    }
}

/// What a route changes.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteTerms {
    /// Multiplies the price.
    pub price_factor: f64,
    /// Multiplies the ETA.
    #[serde(default = "one")]
    pub eta_factor: f64,
}

fn one() -> f64 {
    1.0
}

/// The routes on offer besides the standard one; a missing route is not offered.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Routes {
    /// Cheaper and slower.
    pub economy: Option<RouteTerms>,
    /// Greener, at a premium.
    pub green: Option<RouteTerms>,
}

/// A window of surge or off-peak prices.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Shown in quotes, such as `us-peak`.
    pub name: String,
    /// Providers it applies to; empty is all.
    #[serde(default)]
    pub providers: Vec<String>,
    /// Days it applies on (`mon` ... `sun`, in UTC).
    pub days: Vec<String>,
    /// First hour (UTC, 0-23) it applies in.
    pub from_hour_utc: u32,
    /// The hour (UTC, 0-24) it ends at; below `from_hour_utc` wraps past midnight.
    pub to_hour_utc: u32,
    /// Multiplies the price (1.5 surge, 0.9 off-peak).
    pub price_factor: f64,
}

const DAYS: [&str; 7] = ["thu", "fri", "sat", "sun", "mon", "tue", "wed"];

impl Window {
    /// Whether the window covers `provider` at `at_unix_s`.
    pub fn covers(&self, provider: &str, at_unix_s: i64) -> bool {
        let days = at_unix_s.div_euclid(86_400);
        let hour = (at_unix_s.rem_euclid(86_400) / 3600) as u32;
        let weekday = DAYS[days.rem_euclid(7) as usize];
        let in_hours = if self.from_hour_utc <= self.to_hour_utc {
            (self.from_hour_utc..self.to_hour_utc).contains(&hour)
        } else {
            hour >= self.from_hour_utc || hour < self.to_hour_utc
        };
        (self.providers.is_empty() || self.providers.iter().any(|p| p == provider))
            && self.days.iter().any(|d| d == weekday)
            && in_hours
    }

    /// A problem with the window's fields, if any.
    pub fn problem(&self) -> Option<String> {
        if let Some(d) = self.days.iter().find(|d| !DAYS.contains(&d.as_str())) {
            return Some(format!("day {d:?} is not one of mon, tue, wed, thu, fri, sat, sun"));
        }
        if self.from_hour_utc > 23 || self.to_hour_utc > 24 || self.from_hour_utc == self.to_hour_utc {
            return Some("hours run from 0-23 to 1-24, and differ".into());
        }
        (self.price_factor <= 0.0).then(|| "price_factor must be positive".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_days_and_utc_hours_and_wrap_past_midnight() {
        let w = |from, to| Window {
            name: "w".into(),
            providers: vec!["runway".into()],
            days: vec!["wed".into()],
            from_hour_utc: from,
            to_hour_utc: to,
            price_factor: 1.5,
        };
        let wed_noon = 1_763_553_600; // 2025-11-19T12:00:00Z, a Wednesday
        assert!(w(9, 17).covers("runway", wed_noon));
        assert!(!w(9, 17).covers("bfl", wed_noon));
        assert!(!w(13, 17).covers("runway", wed_noon));
        assert!(!w(9, 17).covers("runway", wed_noon + 86_400), "Thursday");
        assert!(w(22, 13).covers("runway", wed_noon), "wraps past midnight");
        assert_eq!(w(5, 5).problem().as_deref(), Some("hours run from 0-23 to 1-24, and differ"));
    }
}
