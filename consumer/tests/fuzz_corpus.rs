//! The short fuzz pass CI runs: every committed corpus and regression input of each fuzz
//! target (`consumer/fuzz/`) through the target's properties, then a fixed number of
//! seeded mutations of each (bit flips, byte edits, splices), on the stable toolchain.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use spate_consumer::fuzzing::TARGETS;

/// Mutations tried per corpus input.
const MUTATIONS: usize = 128;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                let bytes = std::fs::read(&path).expect("read corpus input");
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..=out.len());
        match rng.random_range(0..6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 => out.insert(at, rng.random()),
            2 if at < out.len() => {
                out.remove(at);
            }
            3 => {
                let interesting: &[&[u8]] = &[
                    b"\"",
                    b"\\",
                    b"{",
                    b"}",
                    b"[",
                    b"]",
                    b",",
                    b":",
                    b"-",
                    b".",
                    b"e",
                    b"0",
                    b"9",
                    b"null",
                    b"\xef\xbb\xbf",
                    b"\0",
                    b"\xc3",
                    b"9223372036854775807",
                ];
                let piece = interesting[rng.random_range(0..interesting.len())];
                out.splice(at..at, piece.iter().copied());
            }
            4 if !other.is_empty() => {
                let from = rng.random_range(0..other.len());
                let to = rng.random_range(from..=other.len());
                out.splice(at..at, other[from..to].iter().copied());
            }
            _ => out.truncate(at),
        }
    }
    out
}

#[test]
fn every_fuzz_target_holds_on_its_corpus_and_mutations_of_it() {
    for (name, target) in TARGETS {
        let corpus = inputs(name);
        assert!(
            corpus.len() >= 8,
            "the {name} corpus has {} inputs; run the fuzz target to grow it",
            corpus.len()
        );
        let mut rng = StdRng::seed_from_u64(0x5eed);
        for (i, (path, bytes)) in corpus.iter().enumerate() {
            let replay = std::panic::catch_unwind(|| target(bytes));
            assert!(replay.is_ok(), "{name}: {} fails", path.display());
            let other = &corpus[(i * 7 + 3) % corpus.len()].1;
            for _ in 0..MUTATIONS {
                let mutated = mutate(&mut rng, bytes, other);
                let run = std::panic::catch_unwind(|| target(&mutated));
                assert!(
                    run.is_ok(),
                    "{name}: a mutation of {} fails: {:?}",
                    path.display(),
                    String::from_utf8_lossy(&mutated)
                );
            }
        }
    }
}
