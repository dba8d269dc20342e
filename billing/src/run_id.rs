//! Run ids, unique across machines by construction: a UUIDv7 (48 bits of Unix milliseconds,
//! then 74 random bits). Every idempotency key of a run starts with its id, so two runs (on
//! one machine or on a farm) can never share a key, and one run's holds can never replay
//! another's. The old `run-{ms}-{pid}` ids collided across machines.

/// A run's id, such as `run-0193a5c2-7e4b-7c3d-8f1e-2b4c6d8e0f12`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(uuid::Uuid);

impl RunId {
    /// A new id: time-ordered, and unique without coordination.
    pub fn mint() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// The id of one attempt of a piece of work that is named elsewhere (a farm task's
    /// attempt: `{run}:{task}:{attempt}`): the same name always gives the same id, and
    /// different names practically never share one (a UUIDv8 from a BLAKE3 hash).
    pub fn derived(name: &str) -> Self {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&blake3::hash(name.as_bytes()).as_bytes()[..16]);
        bytes[6] = (bytes[6] & 0x0f) | 0x80;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Self(uuid::Uuid::from_bytes(bytes))
    }

    /// When it was minted, in Unix milliseconds.
    pub fn minted_at_ms(&self) -> Option<u64> {
        let (secs, nanos) = self.0.get_timestamp()?.to_unix();
        Some(secs * 1000 + u64::from(nanos) / 1_000_000)
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "run-{}", self.0.hyphenated())
    }
}

impl std::str::FromStr for RunId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let uuid = s.strip_prefix("run-").ok_or_else(|| format!("{s:?} is not a run id (run-<uuid>)"))?;
        uuid::Uuid::parse_str(uuid).map(Self).map_err(|e| format!("{s:?} is not a run id: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn run_ids_minted_at_once_on_many_threads_are_unique_and_read_back() {
        let minted: Vec<RunId> = std::thread::scope(|s| {
            let workers: Vec<_> =
                (0..8).map(|_| s.spawn(|| (0..5_000).map(|_| RunId::mint()).collect::<Vec<_>>())).collect();
            workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
        });
        let unique: HashSet<&RunId> = minted.iter().collect();
        assert_eq!(unique.len(), 40_000);
        let id = &minted[0];
        assert_eq!(id.to_string().parse::<RunId>().as_ref(), Ok(id));
        assert!(id.to_string().starts_with("run-") && id.minted_at_ms().is_some_and(|ms| ms > 1_700_000_000_000));
        assert!("run-1764860000000-4242".parse::<RunId>().is_err(), "an old-style id is not a run id");
    }

    #[test]
    fn a_farm_attempts_id_is_the_same_for_the_same_attempt_and_distinct_otherwise() {
        let ids: Vec<RunId> =
            (0..200).flat_map(|seq| (1..4).map(move |a| RunId::derived(&format!("r1:{seq}:{a}")))).collect();
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 600);
        assert_eq!(RunId::derived("r1:7:2"), RunId::derived("r1:7:2"));
        let id = RunId::derived("r1:7:2");
        assert_eq!(id.to_string().parse::<RunId>().as_ref(), Ok(&id));
        assert_eq!(id.0.get_version_num(), 8);
    }
}
