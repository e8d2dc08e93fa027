//! Mount lifecycles with real FUSE and overlayfs: the prefetch list at mount, a writable overlay (with a program run in a chroot), unmounting a busy mount (needs root and /dev/fuse).

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;

use flist::fl::FlWriter;
use flist::mount::{mount, mount_overlay, MountHandle, MountOptions};
use flist::pack::{pack_dir, PackOptions};
use flist::store::{BlockStore, DirStore};

#[path = "mount/sandbox.rs"]
mod sandbox;
use sandbox::{can_mount, noise, Sandbox};

/// Packs `src` into `sb/t.fl` (blocks in `sb/store`, inodes `prefetch` on
/// the prefetch list) and mounts it at `at`.
fn pack_and_mount(sb: &Sandbox, src: &Path, prefetch: &[u64], at: &Path) -> MountHandle {
    let (fl, store) = (sb.path("t.fl"), DirStore::new(sb.path("store")).unwrap());
    let mut writer = FlWriter::create(&fl).unwrap();
    pack_dir(src, &mut writer, &store, &PackOptions::default()).unwrap();
    writer.add_route(0, 255, &store.url()).unwrap();
    writer.set_prefetch(prefetch).unwrap();
    writer.finish().unwrap();
    fs::create_dir_all(at).unwrap();
    mount(
        &fl,
        Box::new(store),
        at,
        MountOptions::new(sb.path("cache")),
    )
    .unwrap()
}

/// Copies `bin` and the libraries `ldd` names into `root` at the same paths.
fn copy_program(bin: &str, root: &Path) -> bool {
    let Ok(out) = Command::new("ldd").arg(bin).output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut files = vec![bin.to_string()];
    files.extend(
        text.split_whitespace()
            .filter(|w| w.starts_with('/'))
            .map(str::to_string),
    );
    for file in files {
        let dest = root.join(file.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        if fs::copy(&file, &dest).is_err() {
            return false;
        }
    }
    out.status.success()
}

#[test]
fn overlay_makes_the_mount_writable() {
    if !can_mount("overlay_makes_the_mount_writable") {
        return;
    }
    let sb = Sandbox::new();
    let src = sb.path("src");
    let (lower, upper, work, merged) = (
        sb.path("lower"),
        sb.path("upper"),
        sb.path("work"),
        sb.path("merged"),
    );
    fs::create_dir_all(src.join("etc")).unwrap();
    fs::write(src.join("etc/hello.txt"), b"hello\n").unwrap();
    fs::write(src.join("data"), noise(7, 900_000)).unwrap();
    let runnable = copy_program("/bin/sh", &src);
    let ro = pack_and_mount(&sb, &src, &[], &lower);
    fs::create_dir_all(&merged).unwrap();
    let rw = mount_overlay(&lower, &upper, &work, &merged).unwrap();

    fs::write(merged.join("new.txt"), b"new file\n").unwrap();
    let mut hello = fs::read(merged.join("etc/hello.txt")).unwrap();
    hello.extend_from_slice(b"changed\n");
    fs::write(merged.join("etc/hello.txt"), &hello).unwrap();
    assert_eq!(fs::read(upper.join("new.txt")).unwrap(), b"new file\n");
    assert_eq!(
        fs::read(upper.join("etc/hello.txt")).unwrap(),
        b"hello\nchanged\n"
    );
    assert_eq!(fs::read(lower.join("etc/hello.txt")).unwrap(), b"hello\n");
    assert!(!lower.join("new.txt").exists());
    assert_eq!(fs::read(merged.join("data")).unwrap(), noise(7, 900_000));
    fs::remove_file(merged.join("data")).unwrap();
    assert!(
        lower.join("data").exists(),
        "deletion only hides the lower file"
    );

    if runnable && Path::new("/usr/sbin/chroot").exists() {
        let script = "echo from-chroot > /made-here && while read -r l; do echo \"$l\"; done < /etc/hello.txt";
        let out = Command::new("/usr/sbin/chroot")
            .arg(&merged)
            .args(["/bin/sh", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"hello\nchanged\n");
        assert_eq!(fs::read(upper.join("made-here")).unwrap(), b"from-chroot\n");
    } else {
        println!(
            "SKIP (part): no ldd-resolvable /bin/sh or no /usr/sbin/chroot; chroot run not checked"
        );
    }
    rw.unmount().unwrap();
    ro.unmount().unwrap();
    assert!(sb.mounts().is_empty());
}

#[test]
fn busy_mount_is_detached_on_unmount() {
    if !can_mount("busy_mount_is_detached_on_unmount") {
        return;
    }
    let sb = Sandbox::new();
    let (src, mnt) = (sb.path("src"), sb.path("mnt"));
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), b"busy").unwrap();
    let handle = pack_and_mount(&sb, &src, &[], &mnt);
    let open = fs::File::open(mnt.join("f")).unwrap();
    let err = handle.unmount().unwrap_err();
    assert!(err.to_string().contains("busy"), "{err}");
    assert!(sb.mounts().is_empty(), "detached from the tree at once");
    let mut buf = [0; 4];
    open.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"busy", "an open file keeps working until closed");
}

#[test]
fn prefetch_list_is_fetched_at_mount() {
    if !can_mount("prefetch_list_is_fetched_at_mount") {
        return;
    }
    let sb = Sandbox::new();
    let (src, mnt) = (sb.path("src"), sb.path("mnt"));
    fs::create_dir(&src).unwrap();
    // packed in name order: root 1, "a" 2, "b" 3
    fs::write(src.join("a"), noise(7, 600_000)).unwrap();
    fs::write(src.join("b"), b"not prefetched").unwrap();
    let handle = pack_and_mount(&sb, &src, &[2], &mnt);
    let reader = flist::fl::FlReader::open(&sb.path("t.fl")).unwrap();
    let cached = |ino| -> Vec<bool> {
        let blocks = reader.blocks(ino).unwrap();
        let path = |id: String| sb.path("cache").join(&id[0..2]).join(&id[2..4]).join(id);
        blocks.iter().map(|b| path(b.id_hex()).exists()).collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while cached(2) != [true, true] {
        assert!(
            std::time::Instant::now() < deadline,
            "prefetch not done in time"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(cached(3), [false], "only listed files are prefetched");
    assert_eq!(fs::read(mnt.join("a")).unwrap(), noise(7, 600_000));
    drop(handle);
    assert!(sb.mounts().is_empty());
}

#[test]
fn opening_files_in_order_fetches_the_next_ones_ahead() {
    if !can_mount("opening_files_in_order_fetches_the_next_ones_ahead") {
        return;
    }
    let sb = Sandbox::new();
    let (src, mnt) = (sb.path("src"), sb.path("mnt"));
    fs::create_dir(&src).unwrap();
    // packed in name order: root 1, then f0 = 2, f1 = 3, …
    for i in 0..6u64 {
        fs::write(src.join(format!("f{i}")), noise(i, 1000)).unwrap();
    }
    let handle = pack_and_mount(&sb, &src, &[], &mnt);
    let reader = flist::fl::FlReader::open(&sb.path("t.fl")).unwrap();
    let cached = |ino: u64| {
        let id = reader.blocks(ino).unwrap()[0].id_hex();
        sb.path("cache")
            .join(&id[0..2])
            .join(&id[2..4])
            .join(id)
            .exists()
    };
    // opens out of order are not a scan (which opens are, is unit-tested in mount/fs.rs,
    // without waiting on fetches that should not happen)
    assert_eq!(fs::read(mnt.join("f3")).unwrap(), noise(3, 1000));
    assert_eq!(fs::read(mnt.join("f0")).unwrap(), noise(0, 1000));
    // f0 then f1: a scan; f2..f5 follow without being read
    assert_eq!(fs::read(mnt.join("f1")).unwrap(), noise(1, 1000));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !(4..=7).all(cached) {
        assert!(
            std::time::Instant::now() < deadline,
            "scan read-ahead not done in time"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(handle);
    assert!(sb.mounts().is_empty());
}
