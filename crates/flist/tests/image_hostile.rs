//! Converting hostile or broken archives: every case ends in a clear error and publishes nothing.

#[path = "image/archives.rs"]
mod archives;

use std::io::{Read, Write};

use archives::{
    config, convert, convert_ok, gzip, oci_archive, only_expected_files, tree, zstd, Tar,
};
use flist::image::{ImageError, ImageLimits};
use tar::EntryType;

/// Converts `archive` with `limits`, expects an error and returns it.
fn fails(archive: &[u8], limits: &ImageLimits) -> ImageError {
    let (out, res) = convert(archive, limits);
    assert!(
        only_expected_files(out.dir.path()),
        "nothing written outside the store"
    );
    match res {
        Err(e) => e,
        Ok(stats) => panic!("converted: {stats:?}"),
    }
}

fn fails_default(archive: &[u8]) -> ImageError {
    fails(archive, &ImageLimits::default())
}

#[test]
fn parent_components_cannot_escape_the_root() {
    let archive = Tar::new()
        .file("ok", b"fine")
        .raw(
            EntryType::Regular,
            b"../../etc/passwd",
            b"",
            b"root::0:0::/:/bin/sh\n",
        )
        .bytes();
    match fails_default(&archive) {
        ImageError::UnsafePath { entry, .. } => assert_eq!(entry, "../../etc/passwd"),
        e => panic!("{e:?}"),
    }
    let archive = Tar::new()
        .file("a", b"a")
        .hardlink("b", "x/../../a")
        .bytes();
    assert!(
        matches!(fails_default(&archive), ImageError::UnsafePath { entry, .. } if entry == "b")
    );
}

#[test]
fn absolute_and_dotted_paths_stay_inside() {
    let archive = Tar::new()
        .raw(EntryType::Regular, b"/etc/passwd", b"", b"abs")
        .raw(EntryType::Regular, b"a/../b/./c", b"", b"dots")
        .symlink("abs", "/etc/passwd")
        .bytes();
    let (out, _) = convert_ok(&archive);
    let paths: Vec<_> = tree(&out).into_iter().collect();
    let expected = [
        ("/", "d 755 0:0"),
        ("/abs", "l -> /etc/passwd"),
        ("/b", "d 755 0:0"),
        ("/b/c", "f 644 0:0 dots"),
        ("/etc", "d 755 0:0"),
        ("/etc/passwd", "f 644 0:0 abs"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(p, l)| (p.to_string(), l.to_string()))
        .collect();
    assert_eq!(paths, expected);
}

#[test]
fn layer_digest_mismatch() {
    let layers = Tar::new().file("a", b"base").bytes();
    let top = Tar::new().file("b", b"payload").bytes();
    let layers = vec![layers, top];
    let config = config("amd64", &layers);
    let archive = oci_archive(&layers, &config, Some(1));
    match fails_default(&archive) {
        ImageError::DigestMismatch { what, .. } => assert!(what.contains("layer 2/2"), "{what}"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn truncated_archives() {
    let tar = Tar::new()
        .file("a", &vec![7u8; 100_000])
        .file("b", b"b")
        .bytes();
    for (kind, packed) in [("gzip", gzip(&tar)), ("zstd", zstd(&tar))] {
        for cut in [packed.len() / 2, packed.len() - 4] {
            let e = fails_default(&packed[..cut]);
            assert!(
                matches!(e, ImageError::Truncated { .. }),
                "{kind} cut at {cut}: {e}"
            );
        }
    }
    // A plain tar cut at a header boundary: no end-of-archive marker.
    let cut = tar.len() - 1024 - 512;
    assert!(matches!(
        fails_default(&tar[..cut]),
        ImageError::Truncated { .. }
    ));
    assert!(matches!(
        fails_default(&tar[..700]),
        ImageError::Truncated { .. }
    ));
}

#[test]
fn hardlink_to_a_missing_path() {
    let archive = Tar::new().file("a", b"a").hardlink("b", "nope").bytes();
    match fails_default(&archive) {
        ImageError::MissingLinkTarget { entry, target, .. } => {
            assert_eq!((entry.as_str(), target.as_str()), ("b", "nope"))
        }
        e => panic!("{e:?}"),
    }
    let deleted = Tar::new().file(".wh.a", b"").hardlink("b", "a").bytes();
    let base = Tar::new().file("a", b"a").bytes();
    let layers = vec![base, deleted];
    let archive = oci_archive(&layers, &config("amd64", &layers), None);
    assert!(matches!(
        fails_default(&archive),
        ImageError::MissingLinkTarget { .. }
    ));
}

#[test]
fn gzip_bombs_hit_the_byte_cap() {
    const ZEROS: u64 = 200 << 20;
    let limits = ImageLimits {
        max_total_bytes: 16 << 20,
        ..ImageLimits::default()
    };
    // One huge entry of zeros.
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut h = tar::Header::new_gnu();
    h.set_size(ZEROS);
    h.set_mode(0o644);
    h.set_entry_type(EntryType::Regular);
    builder
        .append_data(&mut h, "zeros", std::io::repeat(0).take(ZEROS))
        .unwrap();
    let bomb = builder.into_inner().unwrap().finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    assert!(matches!(
        fails(&bomb, &limits),
        ImageError::LimitExceeded { .. }
    ));
    // A small archive followed by zeros inside the same gzip stream.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&Tar::new().file("a", b"a").bytes()).unwrap();
    std::io::copy(&mut std::io::repeat(0).take(ZEROS), &mut enc).unwrap();
    let trailing = enc.finish().unwrap();
    assert!(matches!(
        fails(&trailing, &limits),
        ImageError::LimitExceeded { .. }
    ));
    // Entries are capped one by one as well.
    let one = ImageLimits {
        max_entry_bytes: 1 << 20,
        ..ImageLimits::default()
    };
    assert!(matches!(
        fails(&bomb, &one),
        ImageError::LimitExceeded { .. }
    ));
}

#[test]
fn names_and_links_that_cannot_be_represented() {
    let long = format!("dir/{}", "n".repeat(256));
    let archive = Tar::new().file(&long, b"x").bytes();
    assert!(
        matches!(fails_default(&archive), ImageError::BadEntry { reason, .. } if reason.contains("255"))
    );
    let archive = Tar::new().dir("d/", 0o755).hardlink("h", "d").bytes();
    assert!(
        matches!(fails_default(&archive), ImageError::BadEntry { reason, .. } if reason.contains("directory"))
    );
    let archive = Tar::new()
        .symlink("loop", "loop")
        .file("loop/x", b"x")
        .bytes();
    assert!(
        matches!(fails_default(&archive), ImageError::BadEntry { reason, .. } if reason.contains("symbolic"))
    );
    let archive = Tar::new().file("f", b"f").file("f/x", b"x").bytes();
    assert!(matches!(
        fails_default(&archive),
        ImageError::BadEntry { .. }
    ));
}

#[test]
fn not_an_archive() {
    let noise: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
    assert!(matches!(
        fails_default(&noise),
        ImageError::Malformed { .. }
    ));
    assert!(matches!(
        fails_default(&gzip(&noise)),
        ImageError::Malformed { .. }
    ));
    assert!(matches!(fails_default(b""), ImageError::Truncated { .. }));
}
