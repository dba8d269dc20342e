//! The typed record of a remote call, between the node that makes it (it fills one in) and
//! whoever bills it (it reads one back): provider, model, the provider's ids and the usage
//! it reported. It travels in the run report as JSON (`Record::metering`), where billing adds
//! its own typed part beside it; neither side reads the other's by string keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One remote call as its node recorded it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The provider called.
    pub provider: String,
    /// Its model.
    pub model: String,
    /// The provider's request id.
    pub request_id: Option<String>,
    /// The provider's task id (async jobs).
    pub task_id: Option<String>,
    /// Usage as the provider reported it, by dimension (`output_tokens`, `predict_time_s`,
    /// `cost_usd_cents`, ...).
    #[serde(default)]
    pub metered: BTreeMap<String, f64>,
    /// The result was kept from an earlier identical call: nothing was called, nothing is owed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
}

impl CallRecord {
    /// The vendor's transaction id: the task id of an async job, else the request id.
    pub fn vendor_id(&self) -> Option<&str> {
        self.task_id.as_deref().or(self.request_id.as_deref())
    }

    /// The call record in a node's metering JSON, if it holds one (other parts, such as
    /// billing's, are ignored).
    pub fn of(metering: &serde_json::Value) -> Option<Self> {
        Self::deserialize(metering).ok()
    }

    /// As metering JSON.
    pub fn to_metering(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_record_round_trips_and_ignores_other_parts() {
        let mut r = CallRecord { provider: "bfl".into(), model: "flux-2-pro".into(), ..Default::default() };
        r.request_id = Some("req_1".into());
        r.metered.insert("cost_usd_cents".into(), 3.0);
        let mut json = r.to_metering();
        json["credits"] = serde_json::json!({ "charged": 8 });
        assert_eq!(CallRecord::of(&json), Some(r.clone()));
        assert_eq!(r.vendor_id(), Some("req_1"));
        r.task_id = Some("task_9".into());
        assert_eq!(r.vendor_id(), Some("task_9"), "an async job's task id wins");
        assert!(!r.to_metering().as_object().unwrap().contains_key("reused"), "only a reused call says so");
    }
}
