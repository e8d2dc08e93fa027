//! Converting tar, `docker save` and OCI archives into flists: the resulting tree, content and config.

#[path = "image/archives.rs"]
mod archives;

use archives::{
    config, convert_ok, docker_save, expect, gzip, oci_archive, sha256, tree, zstd, Tar, MTIME,
};
use flist::fl::FlReader;

fn big_data() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..1_300_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A rootfs as `tar -C dir .` writes it, with most kinds of entries.
fn rootfs() -> Vec<u8> {
    let long = format!("./deep/{}/file", "d".repeat(120));
    Tar::new()
        .dir("./", 0o755)
        .dir("./etc/", 0o755)
        .file_as("./etc/shadow", b"secret", 0o640, 0, 42)
        .file("./etc/hosts", b"127.0.0.1 localhost\n")
        .symlink("./etc/localtime", "/usr/share/zoneinfo/UTC")
        .dir("./usr/", 0o755)
        .dir("./usr/bin/", 0o755)
        .file_as("./usr/bin/su", b"su", 0o4755, 0, 0)
        .hardlink("./usr/bin/sudo", "./usr/bin/su")
        .pax(&[
            ("SCHILY.xattr.security.capability", "cap"),
            ("SCHILY.xattr.user.note", "n"),
        ])
        .file("./usr/bin/ping", b"ping")
        .symlink("./bin", "usr/bin")
        .file_as("./big", &big_data(), 0o600, 1000, 1000)
        .file("./empty", b"")
        .char_dev("./dev/null", 1, 3)
        .fifo("./run/pipe")
        .file(&long, b"long")
        .pax(&[
            ("path", &pax_path()),
            ("mtime", "1700000123.75"),
            ("uid", "70000"),
        ])
        .file("./placeholder", b"pax")
        .bytes()
}

/// A path only a PAX header carries (Go's archive/tar writes long names so).
fn pax_path() -> String {
    format!("./pax/{}/file", "p".repeat(150))
}

fn rootfs_tree() -> std::collections::BTreeMap<String, String> {
    let null = format!("c 666 0:0 {}", libc::makedev(1, 3));
    let big = format!("f 600 1000:1000 #{}", sha256(&big_data()));
    let long_dir = format!("/deep/{}", "d".repeat(120));
    let long_file = format!("{long_dir}/file");
    let mut tree = expect(&[
        ("/", "d 755 0:0"),
        ("/bin", "l -> usr/bin"),
        ("/deep", "d 755 0:0"),
        (&long_dir, "d 755 0:0"),
        (&long_file, "f 644 0:0 long"),
        ("/dev", "d 755 0:0"),
        ("/dev/null", &null),
        ("/empty", "f 644 0:0 "),
        ("/etc", "d 755 0:0"),
        ("/etc/hosts", "f 644 0:0 127.0.0.1 localhost\n"),
        ("/etc/localtime", "l -> /usr/share/zoneinfo/UTC"),
        ("/etc/shadow", "f 640 0:42 secret"),
        ("/run", "d 755 0:0"),
        ("/run/pipe", "p 600 0:0"),
        ("/usr", "d 755 0:0"),
        ("/usr/bin", "d 755 0:0"),
        (
            "/usr/bin/ping",
            "f 644 0:0 ping xattr security.capability=cap xattr user.note=n",
        ),
        ("/usr/bin/su", "f 4755 0:0 su"),
        ("/usr/bin/sudo", "f 4755 0:0 su =link /usr/bin/su"),
    ]);
    tree.insert("/big".into(), big);
    let pax_file = pax_path().replacen('.', "", 1);
    let pax_dir = pax_file.trim_end_matches("/file").to_string();
    tree.insert("/pax".into(), "d 755 0:0".into());
    tree.insert(pax_dir, "d 755 0:0".into());
    tree.insert(pax_file, "f 644 70000:0 pax".into());
    tree
}

#[test]
fn plain_gzip_and_zstd_rootfs_archives() {
    let tar = rootfs();
    for (kind, archive) in [
        ("tar", tar.clone()),
        ("gzip", gzip(&tar)),
        ("zstd", zstd(&tar)),
    ] {
        let (out, stats) = convert_ok(&archive);
        assert_eq!(tree(&out), rootfs_tree(), "{kind}");
        assert_eq!((stats.layers, stats.whiteouts), (1, 0), "{kind}");
        let pack = stats.pack;
        assert_eq!(
            (pack.files, pack.hardlinks, pack.symlinks),
            (8, 1, 2),
            "{kind}"
        );
        assert_eq!(
            (pack.specials, pack.dirs, pack.xattrs),
            (2, 10, 2),
            "{kind}"
        );
        assert_eq!(
            pack.blocks,
            3 + 6,
            "{kind}: 3 blocks of big, one per other non-empty file"
        );
        let reader = FlReader::open(&out.fl).unwrap();
        assert!(reader.config().unwrap().is_empty(), "no config");
        let mtime = |path: &str| reader.resolve(path.as_bytes()).unwrap().unwrap().mtime;
        assert_eq!(mtime("/etc/hosts"), MTIME as i64);
        assert_eq!(mtime(&pax_path().replacen('.', "", 1)), 1_700_000_123);
        assert_eq!(mtime("/dev"), 0, "implicit directories");
    }
}

#[test]
fn blocks_already_stored_are_not_uploaded_again() {
    let archive = rootfs();
    let (out, first) = convert_ok(&archive);
    assert_eq!(first.pack.uploaded, 9);
    let fl = out.dir.path().join("again.fl");
    let mut writer = flist::fl::FlWriter::create(&fl).unwrap();
    let again = flist::image::pack_archive(
        &out.dir.path().join("input"),
        &mut writer,
        &out.store,
        &Default::default(),
    )
    .unwrap();
    assert_eq!((again.pack.blocks, again.pack.uploaded), (9, 0));
}

/// Three layers exercising whiteouts, opaque directories, replacement,
/// implicit parents, hardlinks across layers and PAX xattrs.
fn layers() -> Vec<Vec<u8>> {
    let base = Tar::new()
        .dir("etc/", 0o755)
        .file("etc/hosts", b"hosts-v1")
        .symlink("etc/abs", "/etc/hosts")
        .dir("opt/", 0o755)
        .dir("opt/old/", 0o755)
        .file("opt/old/file", b"old")
        .file("opt/keep", b"lower")
        .dir("usr/", 0o755)
        .dir("usr/bin/", 0o755)
        .file_as("usr/bin/tool", b"tool-v1", 0o755, 0, 0)
        .hardlink("usr/bin/tool-link", "usr/bin/tool")
        .symlink("bin", "usr/bin")
        .file("x", b"doomed")
        .dir("data/", 0o755)
        .file("data/a", b"a")
        .dir("data/sub/", 0o755)
        .file("data/sub/b", b"b")
        .char_dev("dev/null", 1, 3)
        .bytes();
    let middle = Tar::new()
        .file(".wh.x", b"")
        .dir("etc/", 0o700)
        .dir("opt/", 0o755)
        .file("opt/new", b"new")
        .file("opt/.wh..wh..opq", b"")
        .file("data", b"now a file")
        .pax(&[("SCHILY.xattr.user.test", "hello")])
        .file("etc/cap", b"cap")
        .file("srv/app/config", b"cfg")
        .file("bin/via-link", b"through the symlink")
        .bytes();
    let top = Tar::new()
        .hardlink("etc/hosts-link", "etc/hosts")
        .file_as("usr/bin/tool", b"tool-v2", 0o755, 0, 0)
        .hardlink("etc/abs-link", "etc/abs")
        .bytes();
    vec![base, middle, top]
}

/// What Docker shows for [`layers`].
fn layered_tree() -> std::collections::BTreeMap<String, String> {
    let null = format!("c 666 0:0 {}", libc::makedev(1, 3));
    expect(&[
        ("/", "d 755 0:0"),
        ("/bin", "l -> usr/bin"),
        ("/data", "f 644 0:0 now a file"),
        ("/dev", "d 755 0:0"),
        ("/dev/null", &null),
        ("/etc", "d 700 0:0"),
        ("/etc/abs", "l -> /etc/hosts"),
        ("/etc/abs-link", "l -> /etc/hosts =link /etc/abs"),
        ("/etc/cap", "f 644 0:0 cap xattr user.test=hello"),
        ("/etc/hosts", "f 644 0:0 hosts-v1"),
        ("/etc/hosts-link", "f 644 0:0 hosts-v1 =link /etc/hosts"),
        ("/opt", "d 755 0:0"),
        ("/opt/new", "f 644 0:0 new"),
        ("/srv", "d 755 0:0"),
        ("/srv/app", "d 755 0:0"),
        ("/srv/app/config", "f 644 0:0 cfg"),
        ("/usr", "d 755 0:0"),
        ("/usr/bin", "d 755 0:0"),
        ("/usr/bin/tool", "f 755 0:0 tool-v2"),
        ("/usr/bin/tool-link", "f 755 0:0 tool-v1"),
        ("/usr/bin/via-link", "f 644 0:0 through the symlink"),
    ])
}

fn check_image(archive: &[u8], config_json: &[u8]) {
    let (out, stats) = convert_ok(archive);
    assert_eq!(tree(&out), layered_tree());
    assert_eq!((stats.layers, stats.whiteouts), (3, 2));
    assert_eq!(stats.pack.hardlinks, 2);
    let reader = FlReader::open(&out.fl).unwrap();
    let config: Vec<(String, String)> = reader
        .config()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8(v).unwrap()))
        .collect();
    let raw = String::from_utf8(config_json.to_vec()).unwrap();
    let expected = [
        ("cmd", r#"["--serve"]"#),
        ("entrypoint", r#"["/bin/app"]"#),
        ("env", r#"["PATH=/usr/bin:/bin","MODE=test"]"#),
        ("exposed_ports", r#"{"80/tcp":{}}"#),
        ("labels", r#"{"org.example":"yes"}"#),
        ("oci-config", &raw),
        ("user", r#""1000:1000""#),
        ("volumes", r#"{"/data":{}}"#),
        ("workdir", r#""/srv""#),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(config, expected);
}

#[test]
fn legacy_docker_save_with_gzip_layers() {
    let layers = layers();
    let config = config("amd64", &layers);
    let blobs: Vec<_> = layers.iter().map(|l| gzip(l)).collect();
    check_image(&docker_save(&blobs, &config), &config);
}

#[test]
fn oci_layout_with_zstd_layers_picks_linux_amd64() {
    let layers = layers();
    let config = config("amd64", &layers);
    let blobs: Vec<_> = layers.iter().map(|l| zstd(l)).collect();
    check_image(&oci_archive(&blobs, &config, None), &config);
}

#[test]
fn compressed_image_archives() {
    let layers = layers();
    let config = config("amd64", &layers);
    check_image(&gzip(&oci_archive(&layers, &config, None)), &config);
    check_image(&zstd(&docker_save(&layers, &config)), &config);
}

#[test]
fn legacy_docker_save_with_a_layer_shared_by_symlink() {
    // `docker save` stores a layer used twice once and links the second copy.
    let layer = Tar::new().file("a", b"a").dir("d/", 0o750).bytes();
    let config = config("amd64", &[layer.clone(), layer.clone()]);
    let config_name = format!("{}.json", sha256(&config));
    let (first, second) = ("1".repeat(64), "2".repeat(64));
    let manifest = serde_json::json!([{
        "Config": config_name,
        "Layers": [format!("{first}/layer.tar"), format!("./{second}/layer.tar")],
    }]);
    let archive = Tar::new()
        .dir(&format!("{first}/"), 0o755)
        .file(&format!("{first}/layer.tar"), &layer)
        .dir(&format!("{second}/"), 0o755)
        .symlink(
            &format!("{second}/layer.tar"),
            &format!("../{first}/layer.tar"),
        )
        .file(&config_name, &config)
        .file("manifest.json", &serde_json::to_vec(&manifest).unwrap())
        .bytes();
    let (out, stats) = convert_ok(&archive);
    assert_eq!(stats.layers, 2);
    let expected = expect(&[
        ("/", "d 755 0:0"),
        ("/a", "f 644 0:0 a"),
        ("/d", "d 750 0:0"),
    ]);
    assert_eq!(tree(&out), expected);
}
