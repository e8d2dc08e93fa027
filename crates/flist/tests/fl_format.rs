//! `.fl` format: writer → reader round trips of every inode type and table, walks and paged listings.

use std::path::Path;

use flist::block::BlockRef;
use flist::fl::{FlReader, FlWriter, Inode, Walk, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG};

fn node(parent: u64, name: &[u8], mode: u32) -> Inode {
    Inode {
        parent,
        name: name.to_vec(),
        mode,
        uid: 1000,
        gid: 2000,
        ctime: 1_700_000_000,
        mtime: 1_600_000_000,
        ..Inode::default()
    }
}

fn block(n: u8) -> BlockRef {
    BlockRef {
        id: [n; 32],
        key: [n.wrapping_add(100); 32],
    }
}

/// The inode numbers of the sample tree, in writing order.
struct Sample {
    bin: u64,
    prog: u64,
    empty: u64,
    link: u64,
    tty: u64,
    fifo: u64,
    odd: u64,
    prog2: u64,
}

/// Writes a small tree holding every inode type and every table.
fn write_sample(path: &Path) -> Sample {
    let mut w = FlWriter::create(path).unwrap();
    assert_eq!(w.root(&node(0, b"ignored", S_IFDIR | 0o755)).unwrap(), 1);
    let bin = w.add_inode(&node(1, b"bin", S_IFDIR | 0o755)).unwrap();
    let prog = w
        .add_inode(&Inode {
            size: 3 * 512 * 1024 - 7,
            ..node(bin, b"prog", S_IFREG | 0o4755)
        })
        .unwrap();
    let empty = w.add_inode(&node(1, b"empty", S_IFREG | 0o644)).unwrap();
    let link = w.add_inode(&node(1, b"link", S_IFLNK | 0o777)).unwrap();
    let dev = w.add_inode(&node(1, b"dev", S_IFDIR | 0o755)).unwrap();
    let tty = w
        .add_inode(&Inode {
            rdev: 0x0500,
            ..node(dev, b"tty", S_IFCHR | 0o666)
        })
        .unwrap();
    let fifo = w.add_inode(&node(dev, b"fifo", S_IFIFO | 0o600)).unwrap();
    let odd = w
        .add_inode(&node(1, b"caf\xe9 \xff", S_IFREG | 0o600))
        .unwrap();
    let prog2 = w
        .add_inode(&Inode {
            size: 3 * 512 * 1024 - 7,
            ..node(bin, b"prog2", S_IFREG | 0o4755)
        })
        .unwrap();
    for n in 1..=3 {
        w.add_block(prog, &block(n)).unwrap();
    }
    for n in 1..=3 {
        w.add_block(prog2, &block(n)).unwrap();
    }
    w.set_symlink_target(link, b"/target/\xfe\xff").unwrap();
    w.set_tag("version", "v1").unwrap();
    w.set_tag("description", "sample").unwrap();
    w.add_route(0x00, 0x7f, "zdb://hub1.example:9900/ns")
        .unwrap();
    w.add_route(0x80, 0xff, "dir:///srv/blocks").unwrap();
    w.add_xattr(prog, b"security.capability", b"\x01\x00\x00\x02")
        .unwrap();
    w.add_xattr(prog, b"user.note", b"").unwrap();
    w.add_xattr(1, b"user.root", b"r").unwrap();
    w.set_hardlink(prog2, prog).unwrap();
    w.set_digest(prog, "blake2b-256", &[7; 32]).unwrap();
    w.set_prefetch(&[prog, link, empty]).unwrap();
    w.set_config("oci.config", br#"{"Entrypoint":["/bin/prog"]}"#)
        .unwrap();
    w.set_config("oci.source", b"sha256:abc").unwrap();
    w.finish().unwrap();
    Sample {
        bin,
        prog,
        empty,
        link,
        tty,
        fifo,
        odd,
        prog2,
    }
}

#[test]
fn round_trip_every_inode_type_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.fl");
    let s = write_sample(&path);
    let r = FlReader::open(&path).unwrap();

    let root = r.root().unwrap();
    assert_eq!((root.ino, root.parent, &root.name[..]), (1, 0, &b"/"[..]));
    assert!(root.is_dir());
    let prog = r.lookup(s.bin, b"prog").unwrap().unwrap();
    let expected = Inode {
        ino: s.prog,
        size: 3 * 512 * 1024 - 7,
        ..node(s.bin, b"prog", S_IFREG | 0o4755)
    };
    assert_eq!(prog, expected);
    assert_eq!(
        (prog.uid, prog.gid),
        (1000, 2000),
        "gid must not be read from uid"
    );
    assert_eq!(r.inode(s.prog).unwrap(), Some(expected));
    assert_eq!(
        r.blocks(s.prog).unwrap(),
        vec![block(1), block(2), block(3)]
    );
    assert_eq!(r.blocks(s.empty).unwrap(), vec![]);
    assert_eq!(r.inode(s.empty).unwrap().unwrap().size, 0);

    let link = r.lookup(1, b"link").unwrap().unwrap();
    assert!(link.is_symlink());
    assert_eq!(
        r.symlink_target(s.link).unwrap().unwrap(),
        b"/target/\xfe\xff"
    );
    assert_eq!(r.symlink_target(s.prog).unwrap(), None);

    let tty = r.resolve(b"/dev/tty").unwrap().unwrap();
    assert_eq!(
        (tty.ino, tty.rdev, tty.mode),
        (s.tty, 0x0500, S_IFCHR | 0o666)
    );
    let fifo = r.resolve(b"dev//./fifo").unwrap().unwrap();
    assert_eq!((fifo.ino, fifo.mode), (s.fifo, S_IFIFO | 0o600));
    let odd = r.lookup(1, b"caf\xe9 \xff").unwrap().unwrap();
    assert_eq!(odd.ino, s.odd);
    assert_eq!(r.path_of(s.odd).unwrap(), b"/caf\xe9 \xff");
    assert_eq!(r.path_of(s.prog).unwrap(), b"/bin/prog");
    assert_eq!(r.path_of(1).unwrap(), b"/");
    assert_eq!(r.resolve(b"/bin/../dev/tty").unwrap().unwrap().ino, s.tty);
    assert_eq!(r.resolve(b"/").unwrap().unwrap().ino, 1);
    assert_eq!(r.resolve(b"/bin/prog/x").unwrap(), None);
    assert_eq!(r.resolve(b"/nope").unwrap(), None);
    assert_eq!(r.lookup(1, b"caf\xc3\xa9 \xff").unwrap(), None);

    let tags = r.tags().unwrap();
    let tag = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        tags,
        vec![
            tag("description", "sample"),
            tag("ext-version", "1"),
            tag("version", "v1")
        ]
    );
    assert_eq!(r.tag("version").unwrap().as_deref(), Some("v1"));
    assert_eq!(r.tag("author").unwrap(), None);
    assert_eq!(
        r.routes().unwrap(),
        vec![
            (0x00, 0x7f, "zdb://hub1.example:9900/ns".to_string()),
            (0x80, 0xff, "dir:///srv/blocks".to_string()),
        ]
    );

    let xattrs = r.xattrs(s.prog).unwrap();
    assert_eq!(
        xattrs,
        vec![
            (
                b"security.capability".to_vec(),
                b"\x01\x00\x00\x02".to_vec()
            ),
            (b"user.note".to_vec(), vec![]),
        ]
    );
    assert_eq!(
        r.xattrs(1).unwrap(),
        vec![(b"user.root".to_vec(), b"r".to_vec())]
    );
    assert_eq!(r.xattrs(s.empty).unwrap(), vec![]);
    assert_eq!(r.hardlink_target(s.prog2).unwrap(), Some(s.prog));
    assert_eq!(r.hardlink_target(s.prog).unwrap(), None);
    assert_eq!(r.blocks(s.prog2).unwrap(), r.blocks(s.prog).unwrap());
    assert_eq!(
        r.digest(s.prog).unwrap(),
        Some(("blake2b-256".to_string(), vec![7; 32]))
    );
    assert_eq!(r.digest(s.empty).unwrap(), None);
    assert_eq!(r.prefetch().unwrap(), vec![s.prog, s.link, s.empty]);
    let config = r.config().unwrap();
    assert_eq!(config.len(), 2);
    assert_eq!(
        config[0],
        (
            "oci.config".to_string(),
            br#"{"Entrypoint":["/bin/prog"]}"#.to_vec()
        )
    );
    assert_eq!(
        config[1],
        ("oci.source".to_string(), b"sha256:abc".to_vec())
    );

    let counts = r.counts().unwrap();
    assert_eq!(
        (
            counts.n_inodes,
            counts.n_dirs,
            counts.n_files,
            counts.n_symlinks,
            counts.n_specials
        ),
        (10, 3, 4, 1, 2)
    );
    assert_eq!((counts.n_blocks, counts.n_hardlinks), (6, 1));
    assert_eq!(counts.total_size, 2 * (3 * 512 * 1024 - 7));
}

#[test]
fn walk_is_depth_first_in_writing_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.fl");
    write_sample(&path);
    let r = FlReader::open(&path).unwrap();
    let mut seen = Vec::new();
    r.walk(|path, inode| {
        assert_eq!(r.path_of(inode.ino).unwrap(), path);
        seen.push(String::from_utf8_lossy(path).into_owned());
        Ok::<_, flist::fl::FlError>(Walk::Continue)
    })
    .unwrap();
    let expected = [
        "/",
        "/bin",
        "/bin/prog",
        "/bin/prog2",
        "/empty",
        "/link",
        "/dev",
        "/dev/tty",
        "/dev/fifo",
    ];
    assert_eq!(&seen[..9], expected);
    assert_eq!(seen.len(), 10);

    let mut seen = Vec::new();
    r.walk(|path, inode| {
        seen.push(path.to_vec());
        Ok::<_, flist::fl::FlError>(match &inode.name[..] {
            b"bin" => Walk::Skip,
            b"dev" => Walk::Stop,
            _ => Walk::Continue,
        })
    })
    .unwrap();
    assert_eq!(seen, [&b"/"[..], b"/bin", b"/empty", b"/link", b"/dev"]);
}

#[test]
fn children_pages_with_a_cursor_over_ten_thousand_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.fl");
    let mut w = FlWriter::create(&path).unwrap();
    w.root(&node(0, b"/", S_IFDIR | 0o755)).unwrap();
    let sub = w.add_inode(&node(1, b"sub", S_IFDIR | 0o755)).unwrap();
    for i in 0..10_000 {
        w.add_inode(&node(sub, format!("f{i}").as_bytes(), S_IFREG | 0o644))
            .unwrap();
        if i % 1000 == 0 {
            // Entries of another directory interleaved with the big one.
            w.add_inode(&node(1, format!("g{i}").as_bytes(), S_IFREG | 0o644))
                .unwrap();
        }
    }
    w.finish().unwrap();
    let r = FlReader::open(&path).unwrap();
    let mut names = std::collections::HashSet::new();
    let (mut after, mut pages) = (0, 0);
    loop {
        let page = r.children(sub, after, 333).unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 333);
        assert!(page.windows(2).all(|w| w[0].ino < w[1].ino));
        after = last.ino;
        pages += 1;
        for child in page {
            assert_eq!(child.parent, sub);
            assert!(names.insert(child.name), "an entry came back twice");
        }
    }
    assert_eq!((names.len(), pages), (10_000, 31));
    assert!(names.contains(&b"f9999"[..]));
    // Each lookup is one index search; a directory scan per lookup would
    // make this loop take minutes.
    for name in &names {
        assert_eq!(&r.lookup(sub, name).unwrap().unwrap().name, name);
    }
    assert_eq!(r.children(1, 0, usize::MAX).unwrap().len(), 11);
    assert_eq!(r.children(sub, 0, 0).unwrap(), vec![]);
}
