//! A node's candidates: every model (and local model) serving its capability, in each route
//! on offer, priced with the modifiers in force, minus those a constraint excludes.

use crate::modifiers::Route;
use crate::quote::call_quantities;
use crate::{Catalog, Model, PriceError};

use super::{Need, Options, PlaceError};

/// A candidate, borrowed from the catalog, for ranking and scheduling.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cand<'a> {
    /// `provider:model` or `local:<name>`.
    pub id: &'a str,
    /// The provider (its concurrency pool), or `local`.
    pub pool: &'a str,
    /// The region id, or `local`.
    pub region: &'a str,
    pub route: Route,
    pub brand: Option<crate::Brand>,
    pub credits: (i64, i64),
    pub eta_s: (f64, f64),
    pub gco2eq: f64,
    /// Route and schedule factors multiplied.
    pub price_factor: f64,
    /// The surge or off-peak window in force.
    pub window: Option<&'a str>,
}

/// A placement option, as the run uses it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Candidate {
    /// `provider:model` or `local:<name>`.
    pub id: String,
    /// As shown: `provider:model@region`, with `/economy` or `/green` for those routes.
    pub placement: String,
    /// Credits, least and most.
    pub credits: (i64, i64),
    /// Seconds, typical and worst.
    pub eta_s: (f64, f64),
    /// Estimated gCO2eq.
    pub gco2eq: f64,
    /// What the route and the schedule multiply the price by (charges use it too).
    pub price_factor: f64,
}

impl Cand<'_> {
    pub(super) fn placement(&self) -> String {
        match self.route {
            _ if self.pool == "local" => self.id.to_string(),
            Route::Standard => format!("{}@{}", self.id, self.region),
            route => format!("{}@{}/{}", self.id, self.region, route.name()),
        }
    }

    pub(super) fn public(&self) -> Candidate {
        Candidate {
            id: self.id.into(),
            placement: self.placement(),
            credits: self.credits,
            eta_s: self.eta_s,
            gco2eq: self.gco2eq,
            price_factor: self.price_factor,
        }
    }
}

/// Why a constraint excluded a candidate; put into words only when nothing is left.
#[derive(Clone, Debug)]
pub(super) enum Why<'a> {
    NotInOnly,
    Ignored(usize),
    Licence(&'a str),
    Accepts(&'a str, &'a [String]),
    TakesNo(&'a str),
    Price(&'a Model, PriceError),
    OverCap { cheapest: i64, max: i64 },
    FinalToCloud,
    Local(String),
}

impl Why<'_> {
    fn describe(&self, need: &Need) -> String {
        match self {
            Why::NotInOnly => "not in placement.only".into(),
            Why::Ignored(i) => format!("placement.ignore lists {:?}", need.prefs.ignore.get(*i).map_or("", |e| e)),
            Why::Licence(l) => format!("needs the {l:?} licence; add it with --licence {l} once you hold it"),
            Why::Accepts(param, allowed) => {
                let v = need.call.params.get(*param).map_or("(unset)", String::as_str);
                format!("takes {param} {} only, not {v}", allowed.join(" or "))
            }
            Why::TakesNo(t) => format!("takes no {t}; leave it at its default"),
            Why::Price(m, PriceError::NoMatchingTerm) => m.price.unmatched(&need.call.params),
            Why::Price(_, e) => e.to_string(),
            Why::OverCap { cheapest, max } => format!("costs up to {cheapest} cr, over placement.max_credits {max}"),
            Why::FinalToCloud => "a final render goes to the cloud under local-first".into(),
            Why::Local(why) => why.clone(),
        }
    }
}

/// Whether a preference entry (`provider`, `provider:model`, `local`) names `id`.
pub(super) fn names(entry: &str, id: &str) -> bool {
    entry == id || (id.contains(':') && crate::provider_of(id) == entry)
}

impl Catalog {
    /// Every candidate for `need` that no constraint excludes, unranked, pinned or not (the
    /// others name the runner-up); or, when none is left to run, every exclusion.
    pub(super) fn candidates<'a, 'n>(
        &'a self,
        need: &'n Need,
        opts: &Options,
    ) -> Result<(Vec<Cand<'a>>, Option<&'n str>), PlaceError> {
        let pin = self.pin(need)?;
        let capability = need.call.capability.as_str();
        let mut out = Vec::new();
        let mut excluded = Vec::new();
        let mut q = call_quantities(&need.call);
        for m in self.models.iter().filter(|m| m.serves.iter().any(|s| s == capability)) {
            let why = match self.excluded(need, opts, &m.licences, &m.id, &m.accepts, &m.takes_no) {
                Some(why) => Some(why),
                None => match self.usd(&need.call, &mut q, m) {
                    Err(e) => Some(Why::Price(m, e)),
                    Ok(usd) => self.routes_of(m, usd, opts, need.prefs.max_credits, &mut out),
                },
            };
            if let Some(why) = why {
                excluded.push((m.id.as_str(), why));
            }
        }
        self.local_candidates(need, opts, &mut out, &mut excluded);
        if out.iter().all(|c| pin.is_some_and(|p| p != c.id)) {
            let mut excluded: Vec<(String, String)> = excluded
                .into_iter()
                .filter(|(id, _)| pin.is_none_or(|p| p == *id))
                .map(|(id, why)| (id.to_string(), why.describe(need)))
                .collect();
            if let (Some(pin), true) = (pin, excluded.is_empty()) {
                let serving = self.models.iter().filter(|m| m.serves.iter().any(|s| s == capability));
                let ids: Vec<&str> = serving.map(|m| m.id.as_str()).collect();
                excluded.push((pin.into(), format!("does not serve {capability}; these do: {}", ids.join(", "))));
            } else if excluded.is_empty() {
                excluded.push(("(none)".into(), format!("no model in the catalog serves {capability}")));
            }
            return Err(PlaceError::NoPlacement {
                node: need.call.node.clone(),
                capability: capability.into(),
                excluded,
            });
        }
        Ok((out, pin))
    }

    /// The pinned candidate, from the `provider` param or `placement.pin`.
    fn pin<'n>(&self, need: &'n Need) -> Result<Option<&'n str>, PlaceError> {
        let bad = |field: &str, problem: String| PlaceError::BadPreference {
            node: need.call.node.clone(),
            field: field.into(),
            problem,
        };
        let param = Some(need.call.model.as_str()).filter(|m| !m.is_empty());
        let pin = match (param, need.prefs.pin.as_deref()) {
            (Some(a), Some(b)) if a != b => {
                return Err(bad("placement.pin", format!("pins {b} but the provider param says {a}; keep one")));
            }
            (a, b) => a.or(b),
        };
        for (field, entries) in [("placement.order", &need.prefs.order), ("placement.only", &need.prefs.only)]
            .into_iter()
            .chain([("placement.ignore", &need.prefs.ignore)])
            .chain([("placement.pin", &pin.map(String::from).into_iter().collect())])
        {
            if let Some(e) = entries.iter().find(|e| !self.knows(e)) {
                let problem = format!("{e:?} names no provider, model or local model in the catalog");
                return Err(bad(field, format!("{problem}; `switchyard quote --json` lists the models")));
            }
        }
        Ok(pin)
    }

    fn knows(&self, entry: &str) -> bool {
        let ids = self.models.iter().map(|m| m.id.as_str()).chain(self.local.iter().map(|l| l.id.as_str()));
        entry == "local" || ids.clone().any(|id| names(entry, id))
    }

    /// Why a constraint excludes `id`, if one does.
    fn excluded<'a>(
        &self,
        need: &Need,
        opts: &Options,
        licences: &'a [String],
        id: &str,
        accepts: &'a std::collections::BTreeMap<String, Vec<String>>,
        takes_no: &'a [String],
    ) -> Option<Why<'a>> {
        let p = &need.prefs;
        if !p.only.is_empty() && !p.only.iter().any(|e| names(e, id)) {
            return Some(Why::NotInOnly);
        }
        if let Some(i) = p.ignore.iter().position(|e| names(e, id)) {
            return Some(Why::Ignored(i));
        }
        if let Some(l) = licences.iter().find(|l| !opts.licences.contains(*l)) {
            return Some(Why::Licence(l));
        }
        for (param, allowed) in accepts {
            if need.call.params.get(param).is_some_and(|v| !allowed.contains(v)) {
                return Some(Why::Accepts(param, allowed));
            }
        }
        takes_no.iter().find(|t| need.set.contains(*t)).map(|t| Why::TakesNo(t))
    }

    /// Adds the routes on offer for `m`, priced, that fit under `max_credits`; says why none
    /// did, if none did.
    fn routes_of<'a>(
        &'a self,
        m: &'a Model,
        usd: (f64, f64),
        opts: &Options,
        max_credits: Option<i64>,
        out: &mut Vec<Cand<'a>>,
    ) -> Option<Why<'a>> {
        let before = out.len();
        let provider = crate::provider_of(&m.id);
        let window = self.schedule.iter().find(|w| w.covers(provider, opts.at_unix_s));
        let surge = window.map_or(1.0, |w| w.price_factor);
        let home = self.regions.get(m.home);
        let greenest = self.regions.get(m.greenest);
        let mut push = |route, region: Option<&'a crate::Region>, factor: f64, eta_factor: f64| {
            let Some(region) = region else { return };
            let g = m.power_kw * m.latency.typical_s / 3600.0 * region.pue * region.gco2eq_per_kwh;
            // Economy already waits for quiet hours, so windows do not move its price.
            let f = if route == Route::Economy { factor } else { factor * surge };
            out.push(Cand {
                id: &m.id,
                pool: provider,
                region: &region.id,
                route,
                brand: Some(m.brand),
                credits: (self.conversion.credits(usd.0 * f), self.conversion.credits(usd.1 * f)),
                eta_s: (m.latency.typical_s * eta_factor, m.latency.max_s * eta_factor),
                gco2eq: g,
                price_factor: f,
                window: window.map(|w| w.name.as_str()),
            });
        };
        push(Route::Standard, home, 1.0, 1.0);
        if let Some(r) = self.routes.economy.filter(|_| opts.accepts(Route::Economy)) {
            push(Route::Economy, home, r.price_factor, r.eta_factor);
        }
        let greener = m.greenest != m.home;
        if let Some(r) = self.routes.green.filter(|_| greener && opts.accepts(Route::Green)) {
            push(Route::Green, greenest, r.price_factor, r.eta_factor);
        }
        let max = max_credits?;
        let cheapest = out[before..].iter().map(|c| c.credits.1).min()?;
        out.retain(|c| c.id != m.id || c.credits.1 <= max);
        (out.len() == before).then_some(Why::OverCap { cheapest, max })
    }

    fn local_candidates<'a>(
        &'a self,
        need: &Need,
        opts: &Options,
        out: &mut Vec<Cand<'a>>,
        excluded: &mut Vec<(&'a str, Why<'a>)>,
    ) {
        let capability = need.call.capability.as_str();
        for l in self.local.iter().filter(|l| l.serves.iter().any(|s| s == capability)) {
            let why = self.excluded(need, opts, &[], &l.id, &l.accepts, &l.takes_no).or_else(|| {
                let draft_only = matches!(opts.policy, super::Policy::LocalFirst(_)) && need.final_quality;
                draft_only.then_some(Why::FinalToCloud)
            });
            let eta = match (why, opts.local.get(&l.id)) {
                (Some(why), _) => Err(why),
                (None, Some(Ok(eta))) => Ok(*eta),
                (None, Some(Err(why))) => Err(Why::Local(why.clone())),
                (None, None) => Err(Why::Local("cannot run on this machine (not probed)".into())),
            };
            match eta {
                Ok(eta) => out.push(Cand {
                    id: &l.id,
                    pool: "local",
                    region: "local",
                    route: Route::Standard,
                    brand: None,
                    credits: (0, 0),
                    eta_s: (eta, eta * 2.0),
                    gco2eq: self.local_machine.power_kw * eta / 3600.0 * self.local_machine.gco2eq_per_kwh,
                    price_factor: 0.0,
                    window: None,
                }),
                Err(why) => excluded.push((l.id.as_str(), why)),
            }
        }
    }
}
