//! Lanes: how a run waits besides its tier and priority.
//! - `standard`.
//! - `economy`: a run with a node on the economy route runs on spare capacity (at most a
//!   quarter of the worker slots, after standard runs), for the route's discount; once it
//!   has waited [`ECONOMY_WAIT_MAX_MS`] it goes before standard runs, so it is never starved.
//! - off-peak (`"when": "off-peak"`): the run is `scheduled` until the catalog's next
//!   discounted window opens, and is priced as of that time.
//!
//! Also the surge a run's quote carries, and what a run asks for when the queue is long.

use std::str::FromStr;

use switchyard_session::catalog::Catalog;
use switchyard_session::plan::GraphPlan;

use crate::protocol::Surge;

/// The longest an economy run yields to standard runs.
pub(crate) const ECONOMY_WAIT_MAX_MS: i64 = 10 * 60 * 1000;
/// How far ahead an off-peak window is looked for.
const OFF_PEAK_HORIZON_H: i64 = 8 * 24;

/// Worker slots economy runs may hold at once: a quarter, at least one.
pub(crate) fn economy_slots(workers: usize) -> usize {
    (workers / 4).max(1)
}

/// How a run is placed, at submission and again each time it starts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Placing {
    pub policy: String,
    /// Routes accepted where they win (`economy`, `green`).
    pub routes: Vec<String>,
    /// Priced as of this time (unix s); now when `None`.
    pub price_at_s: Option<i64>,
}

impl Placing {
    pub(crate) fn routes_text(&self) -> String {
        self.routes.join(",")
    }

    pub(crate) fn routes_of(text: &str) -> Vec<String> {
        text.split(',').filter(|r| !r.is_empty()).map(str::to_string).collect()
    }
}

/// A discounted window: its name, price factor and when it opens next (unix s; now if open).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OffPeak {
    pub name: String,
    pub factor: f64,
    pub start_s: i64,
}

/// The next window of the catalog's schedule that lowers every provider's price, from `now_s`.
pub(crate) fn next_off_peak(catalog: &Catalog, now_s: i64) -> Option<OffPeak> {
    let discounts: Vec<_> =
        catalog.schedule.iter().filter(|w| w.price_factor < 1.0 && w.providers.is_empty()).collect();
    let open = |t: i64| discounts.iter().find(|w| w.covers("", t));
    if let Some(w) = open(now_s) {
        return Some(OffPeak { name: w.name.clone(), factor: w.price_factor, start_s: now_s });
    }
    let hour = now_s - now_s.rem_euclid(3600);
    (1..=OFF_PEAK_HORIZON_H)
        .map(|h| hour + h * 3600)
        .find_map(|t| open(t).map(|w| OffPeak { name: w.name.clone(), factor: w.price_factor, start_s: t }))
}

/// Whether a placed run uses the economy route anywhere.
pub(crate) fn uses_economy(plans: &[GraphPlan]) -> bool {
    placed(plans).any(|p| p.ends_with("/economy"))
}

fn placed(plans: &[GraphPlan]) -> impl Iterator<Item = &str> {
    plans.iter().flat_map(|p| p.plan.nodes.iter().flatten()).map(|n| n.quote.placement.as_str())
}

/// The surge window raising the price of any provider the run uses at `at_s`, if any
/// (economy-route calls wait for quiet hours, so no surge applies to them).
pub(crate) fn surge(catalog: &Catalog, plans: &[GraphPlan], at_s: i64) -> Option<Surge> {
    let providers = placed(plans).filter(|p| !p.ends_with("/economy")).filter_map(|p| p.split_once(':')).map(|p| p.0);
    surge_of(catalog, providers, at_s)
}

/// The highest surge window covering any of `providers` at `at_s`.
fn surge_of<'a>(catalog: &Catalog, providers: impl Iterator<Item = &'a str>, at_s: i64) -> Option<Surge> {
    providers
        .filter_map(|provider| {
            let w = catalog.schedule.iter().find(|w| w.covers(provider, at_s))?;
            (w.price_factor > 1.0).then(|| Surge { window: w.name.clone(), factor: w.price_factor })
        })
        .max_by(|a, b| a.factor.total_cmp(&b.factor))
}

/// What a run asks for when its expected wait is over its `max_wait_s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnWait {
    /// Refuse it (503, nothing queued): the default.
    Cancel,
    /// Queue it anyway.
    Wait,
    /// Queue it on the economy route, for its discount.
    Economy,
    /// Queue it with the cheapest placement.
    Cheaper,
}

impl FromStr for OnWait {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "cancel" => Ok(Self::Cancel),
            "wait" => Ok(Self::Wait),
            "economy" => Ok(Self::Economy),
            "cheaper" => Ok(Self::Cheaper),
            other => Err(format!("on_wait {other:?}: cancel, wait, economy or cheaper")),
        }
    }
}

impl OnWait {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Cancel => "cancel",
            Self::Wait => "wait",
            Self::Economy => "economy",
            Self::Cheaper => "cheaper",
        }
    }

    /// The placement a long wait switches to, if this asks for another.
    pub(crate) fn replace(self, placing: &Placing) -> Option<Placing> {
        match self {
            Self::Economy if !placing.routes.iter().any(|r| r == "economy") => {
                let mut routes = placing.routes.clone();
                routes.push("economy".into());
                Some(Placing { routes, ..placing.clone() })
            }
            Self::Cheaper if placing.policy != "cheapest" => {
                Some(Placing { policy: "cheapest".into(), ..placing.clone() })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-11-19 (a Wednesday) at `h`:00 UTC.
    fn wed(h: i64) -> i64 {
        1_763_510_400 + h * 3600
    }

    #[test]
    fn off_peak_is_the_next_discounted_window_or_now_inside_one() {
        let catalog = Catalog::builtin();
        let noon = next_off_peak(&catalog, wed(12)).unwrap();
        assert_eq!((noon.name.as_str(), noon.start_s), ("off-peak", wed(26)), "02:00 the next day");
        assert!(noon.factor < 1.0);
        let inside = next_off_peak(&catalog, wed(3) + 120).unwrap();
        assert_eq!(inside.start_s, wed(3) + 120, "already open: now");
        assert_eq!(next_off_peak(&catalog, wed(1) + 1).unwrap().start_s, wed(2));
    }

    #[test]
    fn surge_is_the_window_raising_a_used_providers_price() {
        let catalog = Catalog::builtin();
        let peak = surge_of(&catalog, ["bfl", "runway"].into_iter(), wed(17)).unwrap();
        assert_eq!((peak.window.as_str(), peak.factor), ("us-peak", 1.5));
        assert!(surge_of(&catalog, ["bfl"].into_iter(), wed(17)).is_none(), "bfl is not in us-peak");
        assert!(surge_of(&catalog, ["runway"].into_iter(), wed(12)).is_none(), "no window at noon");
        assert!(surge_of(&catalog, ["runway"].into_iter(), wed(3)).is_none(), "off-peak is no surge");
    }

    #[test]
    fn long_waits_switch_only_to_a_different_placement() {
        let standard = Placing { policy: "fastest".into(), ..Placing::default() };
        assert_eq!(OnWait::Economy.replace(&standard).unwrap().routes, ["economy"]);
        assert_eq!(OnWait::Cheaper.replace(&standard).unwrap().policy, "cheapest");
        assert!(OnWait::Wait.replace(&standard).is_none() && OnWait::Cancel.replace(&standard).is_none());
        let cheapest = Placing { policy: "cheapest".into(), ..Placing::default() };
        assert!(OnWait::Cheaper.replace(&cheapest).is_none());
        assert!("later".parse::<OnWait>().unwrap_err().contains("cancel, wait, economy or cheaper"));
        assert_eq!(Placing::routes_of("economy,green"), ["economy", "green"]);
        assert!(Placing::routes_of("").is_empty());
    }
}
