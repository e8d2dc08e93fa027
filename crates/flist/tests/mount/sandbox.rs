//! Shared by the mount tests: the root/FUSE check, a sandbox directory
//! that fails the test if a mount is left behind in it, and test bytes.

#![allow(dead_code, unreachable_pub)]

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Whether this process may mount FUSE; prints why not.
pub fn can_mount(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !Path::new("/dev/fuse").exists() {
        println!("SKIP: {test}: FUSE mounts need root and /dev/fuse (root: {root})");
        return false;
    }
    true
}

/// A temp dir that must hold no mount when it goes: leftovers are detached
/// and fail the test.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        path
    }

    /// Mount points under the sandbox, deepest first.
    pub fn mounts(&self) -> Vec<PathBuf> {
        let root = self.dir.path().canonicalize().unwrap();
        let table = fs::read_to_string("/proc/mounts").unwrap();
        let mut found: Vec<PathBuf> = table
            .lines()
            .filter_map(|l| l.split(' ').nth(1))
            .map(|p| PathBuf::from(p.replace("\\040", " ")))
            .filter(|p| p.starts_with(&root))
            .collect();
        found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        found
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let left = self.mounts();
        for path in &left {
            let c = CString::new(path.as_os_str().as_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        if !std::thread::panicking() {
            assert!(left.is_empty(), "mounts left behind: {left:?}");
        }
    }
}

/// Deterministic bytes that do not compress.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
