//! The smoke run of every fuzz target: its seeds, then random mutations of them (bytes
//! flipped, inserted, cut, spliced). Not coverage-guided like `cargo fuzz`, but it runs in
//! the ordinary test build, so a parser that panics again fails CI.

use std::path::Path;

use proptest::prelude::*;
use switchyard_fuzzing::TARGETS;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.into_iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn every_target_takes_its_seeds() {
    for (name, target) in TARGETS {
        let seeds = seeds(name);
        assert!(!seeds.is_empty(), "{name} has seeds");
        for seed in seeds {
            target(&seed);
        }
    }
}

/// An edit to a seed: where, what.
#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Cut(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Flip(at, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Edit::Cut(at, n)),
    ]
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = data.len().max(1);
        match e {
            Edit::Flip(at, b) if !data.is_empty() => data[at % len] ^= b,
            Edit::Insert(at, bytes) => {
                let at = at % (data.len() + 1);
                data.splice(at..at, bytes.iter().copied());
            }
            Edit::Cut(at, n) if !data.is_empty() => {
                let at = at % len;
                let end = (at + n).min(data.len());
                data.drain(at..end);
            }
            _ => {}
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_seeds_never_panic(target in 0usize..TARGETS.len(), seed in any::<usize>(), edits in proptest::collection::vec(edit(), 1..8)) {
        let (name, run) = TARGETS[target];
        let seeds = seeds(name);
        let data = apply(seeds[seed % seeds.len()].clone(), &edits);
        run(&data);
    }
}
