//! Tidiness checks over the workspace sources: every library module opens
//! with a `//!` line saying what it owns, and no source file grows past the
//! size where it should be split.

use std::path::{Path, PathBuf};

/// Longest source file (in lines) before it must be split by concept.
const MAX_LINES: usize = 800;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if !matches!(
                path.file_name().and_then(|n| n.to_str()),
                Some("target" | "fuzz")
            ) {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap().flatten() {
        for sub in ["src", "tests"] {
            let dir = krate.path().join(sub);
            if dir.is_dir() {
                rust_files(&dir, &mut files);
            }
        }
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    files
}

#[test]
fn every_module_starts_with_a_doc_line() {
    let missing: Vec<_> = sources()
        .into_iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "src"))
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            !text.starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` first line: {missing:#?}"
    );
}

#[test]
fn no_source_file_is_too_long() {
    let long: Vec<_> = sources()
        .into_iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(&p).unwrap().lines().count();
            (n > MAX_LINES).then_some((p, n))
        })
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:#?}");
}
