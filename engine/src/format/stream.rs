//! Two passes over a well-formed file, so a large graph compiles without the whole parse tree
//! in memory: a skim of the header and of each node's id, type and mode, then each node's
//! entry, one at a time. Like the fast path they give up at the first problem of any kind;
//! the caller then reads the file on the path that reports every problem.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};

use super::fast::{FastNode, StrictObject};
use super::{FORMAT_NAME, NodeEntry, NodeMode, RunSettings, SUPPORTED_VERSIONS};

/// What the skim keeps of a file besides its nodes.
#[derive(Debug, Default)]
pub struct Header {
    /// The workflow's name.
    pub name: String,
    /// Its run settings.
    pub run: Option<RunSettings>,
}

/// Checks everything outside the nodes' bodies and calls `each(id, type, mode)` for every
/// node in file order; `None` when the file is not well formed or `each` says stop.
pub fn skim(text: &str, each: impl FnMut(&str, &str, NodeMode) -> bool) -> Option<Header> {
    walk(text, true, Skim(each))
}

/// Calls `each(id, entry)` for every node in file order, reading only the nodes (run after a
/// [`skim`] of the same text has checked the rest); false when an entry is malformed or
/// `each` says stop.
pub fn entries(text: &str, each: impl FnMut(&str, NodeEntry) -> bool) -> bool {
    walk(text, false, Entries(each)).is_some()
}

fn walk<S: NodesSeed>(text: &str, check_rest: bool, nodes: S) -> Option<Header> {
    let mut de = serde_json::Deserializer::from_str(text);
    let header = de.deserialize_map(Top { nodes, check_rest }).ok()?;
    de.end().ok()?;
    Some(header)
}

/// Reads a node map, one entry at a time.
trait NodesSeed {
    fn visit<'de, A: MapAccess<'de>>(&mut self, map: A) -> Result<(), A::Error>;
}

const TOP_LEVEL_KEYS: [&str; 7] = ["format", "version", "name", "description", "nodes", "run", "ui"];

/// The top-level object: every key known and once, `format`, `version` and `nodes` present.
struct Top<S> {
    nodes: S,
    check_rest: bool,
}

impl<'de, S: NodesSeed> Visitor<'de> for Top<S> {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a workflow object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Header, A::Error> {
        let mut seen = [false; TOP_LEVEL_KEYS.len()];
        let mut header = Header::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let slot = TOP_LEVEL_KEYS.iter().position(|k| *k == key.0).ok_or_else(|| A::Error::custom("unknown"))?;
            if std::mem::replace(&mut seen[slot], true) {
                return Err(A::Error::custom("duplicate key"));
            }
            match (slot, self.check_rest) {
                (4, _) => map.next_value_seed(Nodes(&mut self.nodes))?,
                (_, false) => drop(map.next_value::<IgnoredAny>()?),
                (0, _) => holds(map.next_value::<Key<'de>>()?.0 == FORMAT_NAME, "format")?,
                (1, _) => holds(SUPPORTED_VERSIONS.contains(&map.next_value::<u32>()?), "version")?,
                (2, _) => header.name = map.next_value()?,
                (3, _) => drop(map.next_value::<String>()?),
                (5, _) => header.run = map.next_value()?,
                _ => drop(map.next_value::<Option<StrictObject>>()?),
            }
        }
        if seen[0] && seen[1] && seen[4] { Ok(header) } else { Err(A::Error::custom("missing field")) }
    }
}

/// An error naming the field that is not as this build reads it.
fn holds<E: serde::de::Error>(ok: bool, field: &'static str) -> Result<(), E> {
    if ok { Ok(()) } else { Err(E::custom(field)) }
}

/// Hands the `nodes` object to the pass's reader.
struct Nodes<'s, S>(&'s mut S);

impl<'de, S: NodesSeed> DeserializeSeed<'de> for Nodes<'_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: NodesSeed> Visitor<'de> for Nodes<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of nodes")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.0.visit(map)
    }
}

/// The skim's view of a node: its type and mode; the rest is read by the second pass.
#[derive(Deserialize)]
struct SkimNode<'a> {
    #[serde(rename = "type", borrow)]
    type_name: Cow<'a, str>,
    #[serde(default)]
    mode: NodeMode,
}

struct Skim<F>(F);

impl<F: FnMut(&str, &str, NodeMode) -> bool> NodesSeed for Skim<F> {
    fn visit<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(id) = map.next_key::<Key<'de>>()? {
            let node: SkimNode<'de> = map.next_value()?;
            if !(self.0)(&id.0, &node.type_name, node.mode) {
                return Err(A::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

struct Entries<F>(F);

impl<F: FnMut(&str, NodeEntry) -> bool> NodesSeed for Entries<F> {
    fn visit<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(id) = map.next_key::<Key<'de>>()? {
            let node: FastNode = map.next_value()?;
            if !(self.0)(&id.0, NodeEntry::from(node)) {
                return Err(A::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// A string borrowed from the text where it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"{"format":"switchyard.workflow","version":1,"name":"n",
        "nodes":{"a":{"type":"value.int","params":{"value":1}},"b\u0062":{"type":"value.int","mode":"bypass","inputs":{"value":"a.value"}}},
        "ui":{"nodes":{}}}"#;

    #[test]
    fn the_skim_sees_ids_types_and_modes_and_the_second_pass_each_entry() {
        let mut seen = Vec::new();
        let header = skim(TEXT, |id, ty, mode| {
            seen.push((id.to_string(), ty.to_string(), mode));
            true
        });
        assert_eq!(header.map(|h| h.name).as_deref(), Some("n"));
        let want = [("a", NodeMode::Always), ("bb", NodeMode::Bypass)];
        let got: Vec<(&str, NodeMode)> = seen.iter().map(|(i, _, m)| (i.as_str(), *m)).collect();
        assert_eq!(got, want);
        assert!(seen.iter().all(|(_, t, _)| t == "value.int"));
        let mut inputs = Vec::new();
        assert!(entries(TEXT, |id, e| {
            inputs.push((id.to_string(), e.inputs.len()));
            true
        }));
        assert_eq!(inputs, [("a".to_string(), 0), ("bb".to_string(), 1)]);
    }

    #[test]
    fn either_pass_gives_up_on_what_the_fast_path_refuses() {
        let refused = [
            TEXT.replace("\"version\":1", "\"version\":2"),
            TEXT.replace("switchyard.workflow", "other"),
            TEXT.replace("\"name\":\"n\",", "\"name\":\"n\",\"name\":\"m\","),
            TEXT.replace("\"ui\":{\"nodes\":{}}", "\"ui\":{\"x\":1,\"x\":2}"),
            TEXT.replace("\"ui\"", "\"extra\""),
            format!("{TEXT} trailing"),
            TEXT.replace(",\"version\":1", ""),
        ];
        for text in &refused {
            assert!(skim(text, |_, _, _| true).is_none(), "skim took {text}");
        }
        let bad_entry = TEXT.replace("\"params\":{\"value\":1}", "\"params\":{\"value\":1,\"value\":2}");
        assert!(skim(&bad_entry, |_, _, _| true).is_some(), "the skim leaves entries to the second pass");
        assert!(!entries(&bad_entry, |_, _| true));
        assert!(skim(TEXT, |id, _, _| id != "bb").is_none(), "a stop ends the skim");
    }
}
