//! Text to `WorkflowFile`, collecting every structural problem, duplicate keys included.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{FORMAT_NAME, NodeEntry, SUPPORTED_VERSIONS, WorkflowFile, fast};
use crate::diagnostics::{Diagnostic, Diagnostics};

/// The largest workflow file read, in bytes.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

const TOP_LEVEL_KEYS: &[&str] = &["format", "version", "name", "description", "nodes", "run", "ui"];

/// The result of reading a file: what could be read, and every problem found.
#[derive(Debug, Default)]
pub struct ParsedWorkflow {
    /// The file, minus any node entries that could not be read.
    pub file: Option<WorkflowFile>,
    /// Every problem found so far.
    pub diagnostics: Diagnostics,
    /// Nodes left out of `file` because their entry was malformed; later checks stay quiet about them.
    pub broken_nodes: BTreeSet<String>,
}

/// Reads a workflow file's text.
pub fn parse_workflow(text: &str) -> ParsedWorkflow {
    // Editors on Windows often save UTF-8 with a byte-order mark; it is no part of the JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = ParsedWorkflow::default();
    if text.len() > MAX_FILE_BYTES {
        out.diagnostics.push(Diagnostic::file(
            "file-too-large",
            format!("the file is {} bytes; the limit is {MAX_FILE_BYTES}", text.len()),
        ));
        return out;
    }
    if let Some(file) = fast::parse(text) {
        out.file = Some(file);
        return out;
    }
    let root = match parse_checking_duplicates(text, &mut out.diagnostics) {
        Ok(v) => v,
        Err(e) => {
            // serde_json's own text ends with the position; say it once, in front.
            let text = e.to_string();
            let what = text.split(" at line ").next().unwrap_or(&text);
            out.diagnostics.push(
                Diagnostic::file("json-syntax", format!("line {}, column {}: {what}", e.line(), e.column()))
                    .help("fix the JSON syntax at that position"),
            );
            return out;
        }
    };
    let Value::Object(mut root) = root else {
        out.diagnostics.push(Diagnostic::file("not-an-object", "the file must hold one JSON object"));
        return out;
    };
    if !check_header(&root, &mut out.diagnostics) {
        return out;
    }
    for key in root.keys().filter(|k| !TOP_LEVEL_KEYS.contains(&k.as_str())) {
        out.diagnostics.push(
            Diagnostic::file("unknown-field", format!("unknown top-level field {key:?}"))
                .help(format!("the fields are {}", TOP_LEVEL_KEYS.join(", "))),
        );
    }
    let nodes = read_nodes(root.remove("nodes"), &mut out);
    let text_field = |root: &Map<String, Value>, name: &str, diags: &mut Diagnostics| match root.get(name) {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            diags.push(Diagnostic::file("wrong-type", format!("{name:?} must be text")));
            String::new()
        }
    };
    let name = text_field(&root, "name", &mut out.diagnostics);
    let description = text_field(&root, "description", &mut out.diagnostics);
    let ui = match root.remove("ui") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => {
            out.diagnostics.push(Diagnostic::file("wrong-type", "\"ui\" must be an object"));
            None
        }
    };
    let run = match root.remove("run") {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value::<super::RunSettings>(v) {
            Ok(run) => Some(run),
            Err(e) => {
                out.diagnostics.push(
                    Diagnostic::file("malformed-run-settings", format!("\"run\": {e}"))
                        .field("run")
                        .help("\"run\" is { \"policy\": \"cheapest\", \"budget\": 100, \"deadline\": \"5m\", \"routes\": [\"green\"] }, each optional"),
                );
                None
            }
        },
    };
    out.file = Some(WorkflowFile { format: FORMAT_NAME.to_string(), version: 1, name, description, nodes, run, ui });
    out
}

fn check_header(root: &Map<String, Value>, diags: &mut Diagnostics) -> bool {
    match root.get("format").and_then(Value::as_str) {
        Some(FORMAT_NAME) => {}
        Some(other) => {
            diags.push(
                Diagnostic::file("wrong-format", format!("\"format\" is {other:?}, not a Switchyard workflow"))
                    .field("format")
                    .help(format!("set \"format\": {FORMAT_NAME:?}")),
            );
            return false;
        }
        None => {
            diags.push(
                Diagnostic::file("wrong-format", "\"format\" is missing or not text")
                    .field("format")
                    .help(format!("add \"format\": {FORMAT_NAME:?}")),
            );
            return false;
        }
    }
    let versions = SUPPORTED_VERSIONS.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    match root.get("version").and_then(Value::as_u64) {
        Some(v) if SUPPORTED_VERSIONS.iter().any(|s| u64::from(*s) == v) => true,
        found => {
            let shown = found.map_or_else(|| "missing or not a whole number".to_string(), |v| format!("{v}"));
            diags.push(
                Diagnostic::file(
                    "unsupported-version",
                    format!("format version {shown} is not readable by this build"),
                )
                .field("version")
                .help(format!("this build reads format versions: {versions}; upgrade switchyard for newer files")),
            );
            false
        }
    }
}

fn read_nodes(nodes: Option<Value>, out: &mut ParsedWorkflow) -> super::FileMap<NodeEntry> {
    let mut entries = super::FileMap::default();
    let nodes = match nodes {
        Some(Value::Object(m)) => m,
        Some(_) => {
            out.diagnostics
                .push(Diagnostic::file("wrong-type", "\"nodes\" must be an object keyed by node id").field("nodes"));
            return entries;
        }
        None => {
            out.diagnostics.push(
                Diagnostic::file("missing-field", "the file has no \"nodes\"")
                    .field("nodes")
                    .help("add \"nodes\": { \"<id>\": { \"type\": \"…\" } }"),
            );
            return entries;
        }
    };
    for (id, entry) in nodes {
        match serde_json::from_value::<NodeEntry>(entry) {
            Ok(e) => {
                entries.insert(id, e);
            }
            Err(e) => {
                out.diagnostics.push(
                    Diagnostic::node("malformed-node", &id, e.to_string())
                        .help("a node is { \"type\": \"…\", \"params\": {…}, \"inputs\": {…} }, with \"placement\" and \"quality\" on cloud.* nodes, \"requires\" naming the machine it needs, and \"mode\": \"bypass\" or \"mute\""),
                );
                out.broken_nodes.insert(id);
            }
        }
    }
    entries
}

/// Parses JSON like `serde_json::from_str`, but records every duplicated object key
/// (serde_json would silently keep the last value).
fn parse_checking_duplicates(text: &str, diags: &mut Diagnostics) -> Result<Value, serde_json::Error> {
    let duplicates = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_str(text);
    let value = DuplicateCheck { path: String::new(), duplicates: Some(&duplicates) }.deserialize(&mut de)?;
    de.end()?;
    for path in duplicates.into_inner() {
        diags.push(
            Diagnostic::file("duplicate-key", format!("key {path} appears more than once; only one value can count"))
                .help("remove or rename one of the duplicates"),
        );
    }
    Ok(value)
}

/// Builds a `Value`, recording duplicated keys with their paths, or (with no record) failing on the first.
pub(super) struct DuplicateCheck<'a> {
    pub(super) path: String,
    pub(super) duplicates: Option<&'a RefCell<Vec<String>>>,
}

impl<'de> DeserializeSeed<'de> for DuplicateCheck<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DuplicateCheck<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(self.child_index(items.len()))? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let child = if self.duplicates.is_some() { self.child(&format!(".{key}")) } else { self.child("") };
            let path = child.path.clone();
            let value = map.next_value_seed(child)?;
            if object.contains_key(&key) {
                match self.duplicates {
                    Some(record) => record.borrow_mut().push(format!("{:?}", path.trim_start_matches('.'))),
                    None => return Err(serde::de::Error::custom(format!("duplicate key {key:?}"))),
                }
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

impl<'a> DuplicateCheck<'a> {
    fn child_index(&self, i: usize) -> DuplicateCheck<'a> {
        if self.duplicates.is_some() { self.child(&format!("[{i}]")) } else { self.child("") }
    }

    fn child(&self, step: &str) -> DuplicateCheck<'a> {
        // Paths only matter when duplicates are recorded; the strict fast path skips building them.
        let path = if self.duplicates.is_some() { format!("{}{step}", self.path) } else { String::new() };
        DuplicateCheck { path, duplicates: self.duplicates }
    }
}
