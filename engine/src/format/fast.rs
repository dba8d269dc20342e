//! The fast path for well-formed files: typed deserialisation straight into the file types,
//! failing on the first problem of any kind (duplicate keys included). On failure the caller
//! re-reads the text on the slow path, which collects every diagnostic.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::parse::DuplicateCheck;
use super::{
    FORMAT_NAME, FileMap, InputRef, NodeEntry, Placement, Quality, Requires, SUPPORTED_VERSIONS, WorkflowFile,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastFile {
    format: String,
    version: u32,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(deserialize_with = "nodes")]
    nodes: FileMap<NodeEntry>,
    #[serde(default)]
    run: Option<super::RunSettings>,
    #[serde(default)]
    ui: Option<StrictObject>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FastNode {
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default)]
    params: StrictObject,
    #[serde(default)]
    inputs: UniqueMap<InputRef>,
    #[serde(default)]
    placement: Option<Placement>,
    #[serde(default)]
    quality: Option<Quality>,
    #[serde(default)]
    requires: Option<Requires>,
    #[serde(default)]
    mode: super::NodeMode,
}

/// Reads a well-formed file of a supported version, or gives `None`.
pub(super) fn parse(text: &str) -> Option<WorkflowFile> {
    let f: FastFile = serde_json::from_str(text).ok()?;
    if f.format != FORMAT_NAME || !SUPPORTED_VERSIONS.contains(&f.version) {
        return None;
    }
    let ui = f.ui.map(|m| m.0.into_iter().collect());
    Some(WorkflowFile {
        format: f.format,
        version: f.version,
        name: f.name,
        description: f.description,
        nodes: f.nodes,
        run: f.run,
        ui,
    })
}

/// Reads the nodes straight into the file's map, so no second map of every node is built.
fn nodes<'de, D: Deserializer<'de>>(d: D) -> Result<FileMap<NodeEntry>, D::Error> {
    d.deserialize_map(UniqueVisitor(PhantomData::<FastNode>, |n: FastNode| Ok(NodeEntry::from(n)))).map(|m| m.0)
}

impl From<FastNode> for NodeEntry {
    fn from(n: FastNode) -> Self {
        let (placement, quality, requires, mode) = (n.placement, n.quality, n.requires, n.mode);
        let (params, inputs) = (n.params.0, n.inputs.0);
        NodeEntry { type_name: n.type_name, params, inputs, placement, quality, requires, mode }
    }
}

/// A JSON object whose keys must be unique, in file order.
struct UniqueMap<V>(FileMap<V>);

impl<V> Default for UniqueMap<V> {
    fn default() -> Self {
        Self(FileMap::default())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(UniqueVisitor(PhantomData::<V>, |v| Ok(v)))
    }
}

/// A JSON object of arbitrary values, refusing duplicate keys at any depth.
#[derive(Default)]
pub(super) struct StrictObject(FileMap<serde_json::Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let strict = |v: StrictValue| Ok(v.0);
        d.deserialize_map(UniqueVisitor(PhantomData::<StrictValue>, strict)).map(|m| StrictObject(m.0))
    }
}

/// Visits an object, reading each value as `V` and converting it with `F`; a repeated key fails.
struct UniqueVisitor<V, F>(PhantomData<V>, F);

impl<'de, V, T, F> Visitor<'de> for UniqueVisitor<V, F>
where
    V: Deserialize<'de>,
    F: Fn(V) -> Result<T, String>,
{
    type Value = UniqueMap<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = FileMap::with_capacity_and_hasher(map.size_hint().unwrap_or(0), Default::default());
        while let Some(key) = map.next_key::<String>()? {
            let value = (self.1)(map.next_value::<V>()?).map_err(serde::de::Error::custom)?;
            if out.insert(key, value).is_some() {
                return Err(serde::de::Error::custom("duplicate key"));
            }
        }
        Ok(UniqueMap(out))
    }
}

/// Any JSON value, refusing duplicate keys at any depth.
struct StrictValue(serde_json::Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DuplicateCheck { path: String::new(), duplicates: None }.deserialize(d).map(StrictValue)
    }
}
