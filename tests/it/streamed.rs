//! The streamed compile (two passes over the text, no parse tree kept) must build exactly the
//! graph the full read builds, and leave every file it cannot take to the full read.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use switchyard_engine::format::{Override, parse_override};
use switchyard_engine::{CompileOptions, Graph, Registry, compile_streamed, compile_text, load_workflow};

/// Everything a run reads from a graph, as text.
fn shape(g: &Graph) -> String {
    let mut out = format!("{:?} {:?}\n", g.name, g.run);
    for n in &g.nodes {
        let spec = n.node.spec();
        let _ = writeln!(
            out,
            "{} {} {:?} {:?} {:?} {:?} {:?}",
            n.id,
            spec.type_name,
            n.params,
            n.inputs,
            n.param_inputs,
            n.placement(),
            n.quality
        );
    }
    out
}

/// Compiles `text` both ways and checks they agree; says whether the streamed way took it.
fn agree(registry: &Registry, text: &str, overrides: &[Override], opts: &CompileOptions, what: &str) -> bool {
    let full = load_workflow(text, registry, overrides, opts).map(|(_, g)| shape(&g)).map_err(|d| d.to_string());
    let streamed = compile_streamed(text, registry, overrides, opts).map(|g| shape(&g));
    let either = compile_text(text, registry, overrides, opts).map(|g| shape(&g)).map_err(|d| d.to_string());
    assert_eq!(either, full, "{what}: compile_text and load_workflow differ");
    match (&full, &streamed) {
        (Ok(f), Some(s)) => assert_eq!(s, f, "{what}: the streamed graph differs"),
        (Err(d), Some(_)) => panic!("{what}: streamed took a file the full read refuses:\n{d}"),
        _ => {}
    }
    streamed.is_some()
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_streamed_compile_builds_the_graph_the_full_read_builds_for_every_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let registry = switchyard_nodes::builtin_registry();
    let opts = CompileOptions::default();
    let (mut valid, mut streamed) = (0, 0);
    for dir in ["workflows", "tests/fixtures/run", "tests/fixtures/invalid", "examples"] {
        let dir = root.join(dir);
        if !dir.is_dir() {
            continue;
        }
        for path in json_files(&dir) {
            let text = std::fs::read_to_string(&path).unwrap();
            let what = path.display().to_string();
            let took = agree(&registry, &text, &[], &opts, &what);
            let is_valid = load_workflow(&text, &registry, &[], &opts).is_ok();
            valid += usize::from(is_valid);
            streamed += usize::from(took);
            let parsed = switchyard_engine::format::parse_workflow(&text).file;
            let plain = parsed.is_some_and(|f| f.nodes.values().all(|n| n.mode.is_always()));
            assert_eq!(took, is_valid && plain, "{what}: a valid file with every node running streams");
            for raw in ["nosuchnode.seed=1", "noise.seed=7", "noise.seed=x", "src.path=../../etc/passwd"] {
                agree(&registry, &text, &[parse_override(raw).unwrap()], &opts, &format!("{what} --set {raw}"));
            }
            agree(&registry, &text, &[], &CompileOptions { max_nodes: 2, ..opts.clone() }, &what);
        }
    }
    assert!(valid >= 10 && streamed >= 10, "{valid} valid files, {streamed} streamed");
}

/// A random valid graph: value sources, noise images sized by them, and blends of earlier
/// images, each node wired only to nodes before it.
fn graph_spec() -> impl Strategy<Value = Vec<(u8, usize, usize, i64)>> {
    proptest::collection::vec((0u8..3, any::<usize>(), any::<usize>(), 1i64..64), 1..30)
}

fn write_graph(spec: &[(u8, usize, usize, i64)], order: &[usize]) -> String {
    let (mut ints, mut images) = (Vec::new(), Vec::new());
    let mut entries = vec![String::new(); spec.len()];
    for (i, &(kind, a, b, v)) in spec.iter().enumerate() {
        entries[i] = match (kind, images.len(), ints.len()) {
            (2, n, _) if n > 0 => {
                let (base, top) = (&images[a % n], &images[b % n]);
                format!(r#""n{i}":{{"type":"image.blend","inputs":{{"base":"{base}.image","top":"{top}.image"}}}}"#)
            }
            (1, _, n) if n > 0 => {
                let width = &ints[a % n];
                format!(
                    r#""n{i}":{{"type":"image.noise","params":{{"seed":{v}}},"inputs":{{"width":"{width}.value"}}}}"#
                )
            }
            (1 | 2, _, _) => format!(r#""n{i}":{{"type":"image.noise","params":{{"width":{v},"height":{v}}}}}"#),
            _ => format!(r#""n{i}":{{"type":"value.int","params":{{"value":{v}}}}}"#),
        };
        if entries[i].contains("value.int") {
            ints.push(format!("n{i}"));
        } else {
            images.push(format!("n{i}"));
        }
    }
    let nodes: Vec<&str> = order.iter().map(|&i| entries[i].as_str()).collect();
    format!(r#"{{"format":"switchyard.workflow","version":1,"name":"p","nodes":{{{}}}}}"#, nodes.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_valid_graph_in_any_key_order_streams_to_the_same_graph(
        spec in graph_spec(),
        shuffle in any::<u64>(),
        set in proptest::option::of((any::<usize>(), 1i64..1000)),
    ) {
        let mut order: Vec<usize> = (0..spec.len()).collect();
        let mut state = shuffle | 1;
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let text = write_graph(&spec, &order);
        let overrides: Vec<Override> = set
            .map(|(node, v)| parse_override(&format!("n{}.seed={v}", node % spec.len())).unwrap())
            .into_iter()
            .collect();
        let registry = switchyard_nodes::builtin_registry();
        let opts = CompileOptions::default();
        let valid = load_workflow(&text, &registry, &overrides, &opts).is_ok();
        let took = agree(&registry, &text, &overrides, &opts, &text);
        prop_assert_eq!(took, valid);
    }
}
