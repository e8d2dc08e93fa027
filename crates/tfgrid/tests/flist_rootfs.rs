//! A real Debian root filesystem through `tfgrid flist`: pack it, mount it,
//! compare every file with the source using ordinary tools (find, sha256sum,
//! stat, getfattr), then mount it writable, chroot into it, run Debian's own
//! programs and write in the overlay.
//!
//! The root filesystem is a `debootstrap --variant=minbase` of bookworm that
//! `scripts/deps.sh` builds once into `$TFGRID_TEST_ROOTFS` (default
//! `/var/cache/tfgrid-rootfs/bookworm-minbase`). Needs root and /dev/fuse.

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::mount::{mounts_under, Mounted};

const DEFAULT_ROOTFS: &str = "/var/cache/tfgrid-rootfs/bookworm-minbase";

/// The prepared root filesystem, or `None` (with a SKIP line) when this
/// machine cannot run the test.
fn rootfs(test: &str) -> Option<PathBuf> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !Path::new("/dev/fuse").exists() {
        println!("SKIP: {test}: needs root and /dev/fuse");
        return None;
    }
    let root = std::env::var_os("TFGRID_TEST_ROOTFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOTFS));
    if !root.join("usr/bin/dpkg-query").exists() {
        println!(
            "SKIP: {test}: no Debian root filesystem at {} (scripts/deps.sh builds it)",
            root.display()
        );
        return None;
    }
    for tool in ["getfattr", "chroot", "sha256sum"] {
        if !run_ok(Command::new("sh").args(["-c", &format!("command -v {tool}")])) {
            println!("SKIP: {test}: {tool} is not installed (scripts/deps.sh installs it)");
            return None;
        }
    }
    Some(root)
}

fn run_ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `sh -c script` in `dir` and returns its stdout; fails the test on error.
fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{script}` in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn tfgrid(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_tfgrid"))
        .args(args)
        .output()
        .expect("run tfgrid");
    assert!(
        out.status.success(),
        "tfgrid {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// What ordinary tools say about a tree, one listing per aspect, so a
/// mismatch names what differs.
struct Listing {
    /// `path type mode user group mtime [size links target]` per entry.
    meta: String,
    /// `sha256sum` of every regular file.
    contents: String,
    /// Major and minor numbers of every device node.
    devices: String,
    /// Groups of names that share an inode.
    hardlinks: BTreeSet<Vec<String>>,
    /// `getfattr -d` of every entry, symlinks not followed.
    xattrs: String,
}

impl Listing {
    fn of(root: &Path) -> Listing {
        let meta = sh(
            root,
            "{ find . -type d -printf '%P %y %M %U %G %Ts\\n'; \
               find . ! -type d -printf '%P %y %M %U %G %Ts %s %n %l\\n'; } | LC_ALL=C sort",
        );
        let contents = sh(
            root,
            "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum",
        );
        let devices = sh(
            root,
            "find . \\( -type b -o -type c \\) -print0 | LC_ALL=C sort -z | xargs -0 -r stat -c '%n %F %t:%T'",
        );
        let mut by_inode = std::collections::BTreeMap::<String, Vec<String>>::new();
        for line in sh(root, "find . -type f -links +1 -printf '%i %P\\n'").lines() {
            let (ino, path) = line.split_once(' ').expect("inode and path");
            by_inode
                .entry(ino.to_string())
                .or_default()
                .push(path.to_string());
        }
        let hardlinks = by_inode
            .into_values()
            .map(|mut group| {
                group.sort();
                group
            })
            .collect();
        let xattrs = sh(root, "getfattr -R -h -d -m - . 2>/dev/null || true");
        Listing {
            meta,
            contents,
            devices,
            hardlinks,
            xattrs,
        }
    }
}

/// Asserts two listings agree, reporting the first differing line of each aspect.
fn assert_same(src: &Listing, mnt: &Listing) {
    for (what, a, b) in [
        ("metadata", &src.meta, &mnt.meta),
        ("contents", &src.contents, &mnt.contents),
        ("device nodes", &src.devices, &mnt.devices),
        ("xattrs", &src.xattrs, &mnt.xattrs),
    ] {
        if a != b {
            let first = a
                .lines()
                .zip(b.lines())
                .find(|(x, y)| x != y)
                .map(|(x, y)| format!("source: {x}\nmount:  {y}"))
                .unwrap_or_else(|| format!("{} vs {} lines", a.lines().count(), b.lines().count()));
            panic!("{what} differ:\n{first}");
        }
    }
    assert_eq!(src.hardlinks, mnt.hardlinks, "hardlink groups differ");
}

#[test]
fn debian_rootfs_mounts_identical_and_runs_in_a_writable_overlay() {
    let Some(rootfs) = rootfs("debian_rootfs_mounts_identical_and_runs_in_a_writable_overlay")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A private copy with what minbase lacks: a user xattr and a fifo.
    let src = dir.join("rootfs");
    sh(dir, &format!("cp -a {} {}", s(&rootfs), s(&src)));
    sh(
        &src,
        "setfattr -n user.tfgrid.test -v rootfs etc/hostname && mkfifo -m 0640 run/test.fifo",
    );
    let (fl, store, cache) = (dir.join("debian.fl"), dir.join("store"), dir.join("cache"));
    tfgrid(&[
        "flist",
        "create",
        "--store",
        &format!("dir://{}", s(&store)),
        s(&src),
        s(&fl),
    ]);
    let source = Listing::of(&src);
    assert!(
        source
            .devices
            .contains("/dev/null character special file 1:3"),
        "{}",
        source.devices
    );
    assert!(!source.hardlinks.is_empty(), "minbase has hardlinked files");
    assert!(
        source.meta.lines().count() > 5000,
        "a whole root filesystem"
    );
    assert!(
        source.contents.lines().count() > 3000,
        "every regular file hashed"
    );
    assert!(source.xattrs.contains("user.tfgrid.test=\"rootfs\""));

    // Read-only: every file as the source has it.
    let ro = dir.join("ro");
    std::fs::create_dir(&ro).unwrap();
    let common = ["--allow-unsigned", "--cache", s(&cache), s(&fl)];
    let mount = Mounted::start(&[&common[..], &[s(&ro)]].concat(), &ro);
    assert_same(&source, &Listing::of(&ro));
    mount.stop();

    // Writable: Debian's own programs run in a chroot, changes land in the upper dir.
    let (rw, upper) = (dir.join("rw"), dir.join("upper"));
    std::fs::create_dir(&rw).unwrap();
    let writable = [&common[..], &["--writable", "--upper", s(&upper), s(&rw)]].concat();
    let mount = Mounted::start(&writable, &rw);
    let packages = |root: &Path| {
        sh(
            dir,
            &format!(
                "chroot {} dpkg-query -W -f '${{Package}} ${{Version}}\\n'",
                s(root)
            ),
        )
    };
    let listed = packages(&rw);
    assert!(listed.contains("base-files "), "{listed}");
    assert_eq!(listed, packages(&src), "dpkg sees the same packages");
    sh(
        dir,
        &format!(
            "chroot {} /bin/sh -c 'echo written > /root/note && rm /etc/motd && \
             sort /etc/passwd > /tmp/passwd.sorted && useradd -M tester'",
            s(&rw)
        ),
    );
    assert_eq!(
        std::fs::read(upper.join("root/note")).unwrap(),
        b"written\n"
    );
    assert!(
        std::fs::symlink_metadata(upper.join("etc/motd"))
            .unwrap()
            .file_type()
            .is_char_device(),
        "a removed lower file is an overlay whiteout in the upper dir"
    );
    let passwd = std::fs::read_to_string(upper.join("etc/passwd")).unwrap();
    assert!(passwd.contains("tester:"), "{passwd}");
    assert!(!rw.join("etc/motd").exists());
    mount.stop();
    // The flist and its source are untouched by the overlay's writes.
    assert!(src.join("etc/motd").exists());
    assert!(!std::fs::read_to_string(src.join("etc/passwd"))
        .unwrap()
        .contains("tester:"));
    assert!(mounts_under(dir).is_empty());
}
