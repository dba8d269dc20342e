//! What a machine must have to run a node: `"requires": {"memory_gb": 16, "gpu_brand":
//! "nvidia", "tags": ["licensed-nuke"]}`. One machine runs a whole graph, so a graph needs
//! the union of its nodes' requirements; a farm gives its tasks only to workers that meet it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most memory a requirement may name, in GB.
const MEMORY_GB_MAX: f64 = 1_048_576.0;
/// The longest tag or brand.
const NAME_MAX: usize = 64;
/// The most tags one node may require.
const TAGS_MAX: usize = 32;

/// A node's host requirements.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requires {
    /// At least this much memory, in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_gb: Option<f64>,
    /// A GPU of this brand: `nvidia`, `amd`, `intel` or `apple`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_brand: Option<String>,
    /// Every one of these worker tags, which a farm's admin gives machines
    /// (`licensed-nuke`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Requires {
    /// Whether it asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.memory_gb.is_none() && self.gpu_brand.is_none() && self.tags.is_empty()
    }

    /// What is wrong with it: `(field, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut found = Vec::new();
        if let Some(gb) = self.memory_gb.filter(|gb| !(0.0..=MEMORY_GB_MAX).contains(gb)) {
            found.push(("requires.memory_gb", format!("{gb} GB is not between 0 and {MEMORY_GB_MAX}")));
        }
        let bad_name = |s: &str| {
            s.is_empty() || s.len() > NAME_MAX || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if let Some(brand) = self.gpu_brand.as_deref().filter(|b| bad_name(b)) {
            found.push(("requires.gpu_brand", format!("{brand:?} is not a brand name (letters, digits, - _ .)")));
        }
        if self.tags.len() > TAGS_MAX {
            found.push(("requires.tags", format!("{} tags; at most {TAGS_MAX}", self.tags.len())));
        }
        for tag in self.tags.iter().filter(|t| bad_name(t)) {
            found.push(("requires.tags", format!("{tag:?} is not a tag (1 to {NAME_MAX} letters, digits, - _ .)")));
        }
        found
    }

    /// What a machine needs to run all of `nodes` (`(node id, requires)`): the most memory,
    /// the one GPU brand, every tag. Two different brands cannot be met by one machine:
    /// the error names both nodes.
    pub fn union<'a>(nodes: impl IntoIterator<Item = (&'a str, &'a Requires)>) -> Result<Requires, String> {
        let mut all = Requires::default();
        let mut brand_of: Option<&str> = None;
        for (id, r) in nodes {
            if let Some(gb) = r.memory_gb {
                all.memory_gb = Some(all.memory_gb.map_or(gb, |m| m.max(gb)));
            }
            if let Some(brand) = &r.gpu_brand {
                match (&all.gpu_brand, brand_of) {
                    (Some(had), Some(first)) if had != brand => {
                        return Err(format!(
                            "{first} needs a {had} GPU and {id} a {brand} GPU; one machine runs the whole graph"
                        ));
                    }
                    _ => {
                        all.gpu_brand = Some(brand.clone());
                        brand_of.get_or_insert(id);
                    }
                }
            }
            for tag in &r.tags {
                if !all.tags.contains(tag) {
                    all.tags.push(tag.clone());
                }
            }
        }
        all.tags.sort();
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(memory_gb: Option<f64>, brand: Option<&str>, tags: &[&str]) -> Requires {
        Requires { memory_gb, gpu_brand: brand.map(String::from), tags: tags.iter().map(|t| t.to_string()).collect() }
    }

    #[test]
    fn a_graph_needs_the_most_memory_the_one_brand_and_every_tag() {
        let a = req(Some(16.0), Some("nvidia"), &["licensed-nuke"]);
        let b = req(Some(64.0), None, &["fast-disk", "licensed-nuke"]);
        let c = req(None, Some("nvidia"), &[]);
        let all = Requires::union([("a", &a), ("b", &b), ("c", &c)]).unwrap();
        assert_eq!(all, req(Some(64.0), Some("nvidia"), &["fast-disk", "licensed-nuke"]));
        assert!(Requires::union([]).unwrap().is_empty());
        let amd = req(None, Some("amd"), &[]);
        let clash = Requires::union([("a", &a), ("c", &c), ("d", &amd)]).unwrap_err();
        assert!(clash.contains("a needs a nvidia GPU") && clash.contains("d a amd GPU"), "{clash}");
    }

    #[test]
    fn bad_requirements_are_named_by_field() {
        let cases: [(Requires, &[&str]); 5] = [
            (req(Some(16.0), Some("nvidia"), &["a-b_c.d"]), &[]),
            (req(Some(-1.0), None, &[]), &["requires.memory_gb"]),
            (req(Some(f64::NAN), None, &[]), &["requires.memory_gb"]),
            (req(None, Some("NVIDIA RTX"), &[]), &["requires.gpu_brand"]),
            (req(None, None, &["", "ok"]), &["requires.tags"]),
        ];
        for (r, want) in cases {
            let got: Vec<&str> = r.problems().iter().map(|(f, _)| *f).collect();
            assert_eq!(got, want, "{r:?}");
        }
    }
}
