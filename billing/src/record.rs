//! Billing's part of a node's metering record: what the node was quoted, held and charged,
//! where it ran and what it fell back from. Written beside the node's own [`CallRecord`]
//! under [`CreditsRecord::KEY`], and read back typed by the front ends' summaries.

use serde::{Deserialize, Serialize};
use switchyard_engine::CallRecord;

/// A billed node's account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreditsRecord {
    /// Where it ran, such as `bfl:flux-2-pro@bfl-eu`.
    pub placement: String,
    /// The quote's least and most.
    pub quoted: (i64, i64),
    /// What was held.
    pub held: i64,
    /// What was charged.
    pub charged: i64,
    /// Of that, owed to the provider.
    pub cost: i64,
    /// Whether the provider's usage figures priced it.
    pub metered: bool,
    /// The hold.
    pub hold: String,
    /// Estimated grams of CO2-equivalent.
    pub gco2eq: f64,
    /// Candidates that refused before it, in order.
    pub fell_back_from: Vec<FellBack>,
    /// Why the charge is flagged for review, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
}

/// A candidate that refused the call before any charge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FellBack {
    /// Its placement.
    pub placement: String,
    /// The refusal.
    pub refused: String,
}

impl CreditsRecord {
    /// The key it travels under in the metering JSON.
    pub const KEY: &'static str = "credits";

    /// The credits record in a node's metering JSON, if it was billed.
    pub fn of(metering: &serde_json::Value) -> Option<Self> {
        Self::deserialize(metering.get(Self::KEY)?).ok()
    }

    /// The metering JSON of `call` (if any) with this record beside it.
    pub fn beside(&self, call: Option<&CallRecord>) -> serde_json::Value {
        let mut metering = call.map_or_else(|| serde_json::json!({}), CallRecord::to_metering);
        if let (Some(obj), Ok(credits)) = (metering.as_object_mut(), serde_json::to_value(self)) {
            obj.insert(Self::KEY.into(), credits);
        }
        metering
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credits_record_travels_beside_the_call_record() {
        let call = CallRecord { provider: "runway".into(), task_id: Some("rw_1".into()), ..Default::default() };
        let credits = CreditsRecord {
            placement: "runway:gen4_turbo@runway-us".into(),
            quoted: (63, 63),
            held: 63,
            charged: 63,
            cost: 50,
            metered: true,
            hold: "hold:x".into(),
            gco2eq: 1.5,
            fell_back_from: vec![FellBack { placement: "kling:x".into(), refused: "401".into() }],
            review: None,
        };
        let metering = credits.beside(Some(&call));
        assert_eq!(CreditsRecord::of(&metering), Some(credits));
        assert_eq!(CallRecord::of(&metering), Some(call));
        assert_eq!(CreditsRecord::of(&serde_json::json!({ "provider": "x" })), None, "unbilled");
    }
}
