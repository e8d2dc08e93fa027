//! Test archives built in memory (rootfs tars, `docker save` and OCI layouts) and a converter harness.

// Each test crate that includes this module uses a different subset of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use flist::fl::{FileType, FlReader, FlWriter, Walk};
use flist::image::{pack_archive_with, ImageError, ImageLimits, ImageStats};
use flist::pack::PackOptions;
use flist::store::DirStore;
use serde_json::json;
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

/// Modification time of every entry written by [`Tar`].
pub(crate) const MTIME: u64 = 1_700_000_000;

/// A tar archive under construction; names are written as given (no
/// normalisation), with GNU long-name entries when they do not fit.
pub(crate) struct Tar {
    builder: tar::Builder<Vec<u8>>,
}

impl Tar {
    pub(crate) fn new() -> Tar {
        Tar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: EntryType, mode: u32, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        h
    }

    fn add(&mut self, mut h: Header, path: &[u8], link: &[u8], data: &[u8]) -> &mut Tar {
        if path.len() < 100 && link.len() < 100 {
            h.as_old_mut().name[..path.len()].copy_from_slice(path);
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
            h.set_cksum();
            self.builder.append(&h, data).unwrap();
        } else {
            let path = std::str::from_utf8(path).unwrap();
            if link.is_empty() {
                self.builder.append_data(&mut h, path, data).unwrap();
            } else {
                let link = std::str::from_utf8(link).unwrap();
                self.builder.append_link(&mut h, path, link).unwrap();
            }
        }
        self
    }

    pub(crate) fn dir(&mut self, path: &str, mode: u32) -> &mut Tar {
        self.add(
            Self::header(EntryType::Directory, mode, 0),
            path.as_bytes(),
            b"",
            b"",
        )
    }

    pub(crate) fn file(&mut self, path: &str, data: &[u8]) -> &mut Tar {
        self.file_as(path, data, 0o644, 0, 0)
    }

    pub(crate) fn file_as(
        &mut self,
        path: &str,
        data: &[u8],
        mode: u32,
        uid: u64,
        gid: u64,
    ) -> &mut Tar {
        let mut h = Self::header(EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.add(h, path.as_bytes(), b"", data)
    }

    pub(crate) fn symlink(&mut self, path: &str, target: &str) -> &mut Tar {
        let h = Self::header(EntryType::Symlink, 0o777, 0);
        self.add(h, path.as_bytes(), target.as_bytes(), b"")
    }

    pub(crate) fn hardlink(&mut self, path: &str, target: &str) -> &mut Tar {
        let h = Self::header(EntryType::Link, 0o644, 0);
        self.add(h, path.as_bytes(), target.as_bytes(), b"")
    }

    pub(crate) fn char_dev(&mut self, path: &str, major: u32, minor: u32) -> &mut Tar {
        let mut h = Self::header(EntryType::Char, 0o666, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.add(h, path.as_bytes(), b"", b"")
    }

    pub(crate) fn fifo(&mut self, path: &str) -> &mut Tar {
        self.add(
            Self::header(EntryType::Fifo, 0o600, 0),
            path.as_bytes(),
            b"",
            b"",
        )
    }

    /// Any entry, the name written byte for byte.
    pub(crate) fn raw(
        &mut self,
        kind: EntryType,
        path: &[u8],
        link: &[u8],
        data: &[u8],
    ) -> &mut Tar {
        self.add(
            Self::header(kind, 0o644, data.len() as u64),
            path,
            link,
            data,
        )
    }

    /// A PAX header for the next entry.
    pub(crate) fn pax(&mut self, records: &[(&str, &str)]) -> &mut Tar {
        let mut data = Vec::new();
        for (key, value) in records {
            let body = [b" ", key.as_bytes(), b"=", value.as_bytes(), b"\n"].concat();
            let mut len = body.len() + 1;
            while len.to_string().len() + body.len() != len {
                len += 1;
            }
            data.extend_from_slice(len.to_string().as_bytes());
            data.extend_from_slice(&body);
        }
        let h = Self::header(EntryType::XHeader, 0o644, data.len() as u64);
        self.add(h, b"PaxHeaders/next", b"", &data)
    }

    pub(crate) fn bytes(&mut self) -> Vec<u8> {
        let builder = std::mem::replace(&mut self.builder, tar::Builder::new(Vec::new()));
        builder.into_inner().unwrap()
    }
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

pub(crate) fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// An image config with runtime fields and the diff ids of `layers`.
pub(crate) fn config(arch: &str, layers: &[Vec<u8>]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256(l)))
        .collect();
    let config = json!({
        "architecture": arch,
        "os": "linux",
        "config": {
            "Entrypoint": ["/bin/app"],
            "Cmd": ["--serve"],
            "Env": ["PATH=/usr/bin:/bin", "MODE=test"],
            "WorkingDir": "/srv",
            "User": "1000:1000",
            "ExposedPorts": {"80/tcp": {}},
            "Volumes": {"/data": {}},
            "Labels": {"org.example": "yes"},
            "StopSignal": null
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    });
    serde_json::to_vec(&config).unwrap()
}

/// A legacy `docker save` archive: `<id>/layer.tar` per layer, the config
/// as `<sha256>.json`, `manifest.json` and `repositories`.
pub(crate) fn docker_save(blobs: &[Vec<u8>], config: &[u8]) -> Vec<u8> {
    let mut tar = Tar::new();
    let mut layers = Vec::new();
    for (idx, blob) in blobs.iter().enumerate() {
        let id = sha256(format!("layer {idx}").as_bytes());
        tar.dir(&format!("{id}/"), 0o755)
            .file(&format!("{id}/VERSION"), b"1.0")
            .file(&format!("{id}/json"), b"{}")
            .file(&format!("{id}/layer.tar"), blob);
        layers.push(format!("{id}/layer.tar"));
    }
    let config_name = format!("{}.json", sha256(config));
    let manifest = json!([{"Config": config_name, "RepoTags": ["test:latest"], "Layers": layers}]);
    tar.file(&config_name, config)
        .file("manifest.json", &serde_json::to_vec(&manifest).unwrap())
        .file("repositories", b"{}");
    tar.bytes()
}

fn descriptor(media_type: &str, data: &[u8]) -> serde_json::Value {
    json!({"mediaType": media_type, "digest": format!("sha256:{}", sha256(data)), "size": data.len()})
}

/// The manifest of an image, and the blobs it needs.
fn image_manifest(blobs: &[Vec<u8>], config: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let layer_type = "application/vnd.oci.image.layer.v1.tar";
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": blobs.iter().map(|b| descriptor(layer_type, b)).collect::<Vec<_>>(),
    });
    let mut all = blobs.to_vec();
    all.push(config.to_vec());
    (serde_json::to_vec(&manifest).unwrap(), all)
}

/// A Docker ≥ 25 / OCI image-layout archive: `index.json` → a nested index
/// holding the linux/amd64 image, a linux/arm64 image and an attestation
/// whose blob is absent; plus the `manifest.json` Docker writes. The blob
/// of layer `tamper` (if any) gets its last data byte changed after its
/// digest was taken.
pub(crate) fn oci_archive(blobs: &[Vec<u8>], config: &[u8], tamper: Option<usize>) -> Vec<u8> {
    let manifest_type = "application/vnd.oci.image.manifest.v1+json";
    let (amd64, mut files) = image_manifest(blobs, config);
    let arm_config = self::config("arm64", &blobs[..1]);
    let (arm64, arm_files) = image_manifest(&blobs[..1], &arm_config);
    files.extend(arm_files);
    let mut amd64_desc = descriptor(manifest_type, &amd64);
    amd64_desc["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let mut arm64_desc = descriptor(manifest_type, &arm64);
    arm64_desc["platform"] = json!({"architecture": "arm64", "os": "linux"});
    let mut attestation = descriptor(manifest_type, b"not in the archive");
    attestation["platform"] = json!({"architecture": "unknown", "os": "unknown"});
    attestation["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest"});
    let nested = json!({"schemaVersion": 2, "manifests": [arm64_desc, amd64_desc, attestation]});
    let nested = serde_json::to_vec(&nested).unwrap();
    let index_type = "application/vnd.oci.image.index.v1+json";
    let index = json!({"schemaVersion": 2, "manifests": [descriptor(index_type, &nested)]});
    files.extend([amd64.clone(), arm64, nested]);
    let mut tar = Tar::new();
    tar.dir("blobs/", 0o755).dir("blobs/sha256/", 0o755);
    let tampered = tamper.map(|idx| sha256(&blobs[idx]));
    for blob in &files {
        let name = sha256(blob);
        let mut data = blob.clone();
        if tampered.as_deref() == Some(&name[..]) {
            // The first byte of the last block before the end marker: data of
            // the last entry when that is a small file.
            let pos = data.len() - 1024 - 512;
            data[pos] ^= 1;
        }
        tar.file(&format!("blobs/sha256/{name}"), &data);
    }
    let layers: Vec<String> = blobs
        .iter()
        .map(|b| format!("blobs/sha256/{}", sha256(b)))
        .collect();
    let config_name = format!("blobs/sha256/{}", sha256(config));
    let compat = json!([{"Config": config_name, "RepoTags": ["test:latest"], "Layers": layers}]);
    tar.file("index.json", &serde_json::to_vec(&index).unwrap())
        .file("manifest.json", &serde_json::to_vec(&compat).unwrap())
        .file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    tar.bytes()
}

/// Where a conversion left its output.
pub(crate) struct Converted {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) fl: PathBuf,
    pub(crate) store: DirStore,
}

/// Converts `archive` with `limits`; on failure also checks that no `.fl`
/// (finished or temporary) was left behind.
pub(crate) fn convert(
    archive: &[u8],
    limits: &ImageLimits,
) -> (Converted, Result<ImageStats, ImageError>) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::write(&input, archive).unwrap();
    let fl = dir.path().join("out.fl");
    let store = DirStore::new(dir.path().join("blocks")).unwrap();
    let mut writer = FlWriter::create(&fl).unwrap();
    let opts = PackOptions {
        threads: 3,
        ..PackOptions::default()
    };
    let res = pack_archive_with(&input, &mut writer, &store, &opts, limits);
    if res.is_ok() {
        writer.finish().unwrap();
    } else {
        drop(writer);
        assert!(!fl.exists(), "no flist is published on failure");
        assert!(!dir.path().join("out.fl.tmp").exists());
    }
    (Converted { dir, fl, store }, res)
}

/// Converts with default limits and expects success.
pub(crate) fn convert_ok(archive: &[u8]) -> (Converted, ImageStats) {
    let (out, res) = convert(archive, &ImageLimits::default());
    (out, res.unwrap())
}

/// Every path of the flist described on one line: type, mode, owner,
/// content or target, hardlink group and xattrs.
pub(crate) fn tree(out: &Converted) -> BTreeMap<String, String> {
    let reader = FlReader::open(&out.fl).unwrap();
    let mut paths = BTreeMap::new();
    reader
        .walk(|path, inode| -> Result<Walk, flist::fl::FlError> {
            let perms = format!("{:o} {}:{}", inode.mode & 0o7777, inode.uid, inode.gid);
            let mut line = match inode.file_type() {
                FileType::Dir => format!("d {perms}"),
                FileType::File => {
                    let mut data = Vec::new();
                    flist::extract::read_file(&reader, &out.store, inode, &mut data).unwrap();
                    assert_eq!(data.len() as u64, inode.size);
                    match String::from_utf8(data) {
                        Ok(text) if text.len() <= 64 => format!("f {perms} {text}"),
                        Ok(text) => format!("f {perms} #{}", sha256(text.as_bytes())),
                        Err(e) => format!("f {perms} #{}", sha256(e.as_bytes())),
                    }
                }
                FileType::Symlink => {
                    let target = reader.symlink_target(inode.ino)?.unwrap();
                    format!("l -> {}", String::from_utf8_lossy(&target))
                }
                FileType::CharDevice => format!("c {perms} {}", inode.rdev),
                FileType::Fifo => format!("p {perms}"),
                other => format!("{other:?}"),
            };
            if let Some(first) = reader.hardlink_target(inode.ino)? {
                let first = reader.path_of(first)?;
                line += &format!(" =link {}", String::from_utf8_lossy(&first));
            }
            for (name, value) in reader.xattrs(inode.ino)? {
                let (name, value) = (
                    String::from_utf8_lossy(&name),
                    String::from_utf8_lossy(&value),
                );
                line += &format!(" xattr {name}={value}");
            }
            paths.insert(String::from_utf8_lossy(path).into_owned(), line);
            Ok(Walk::Continue)
        })
        .unwrap();
    paths
}

/// `(path, line)` pairs as a map, for comparing with [`tree`].
pub(crate) fn expect(lines: &[(&str, &str)]) -> BTreeMap<String, String> {
    lines
        .iter()
        .map(|(p, l)| (p.to_string(), l.to_string()))
        .collect()
}

/// Whether anything but the input, the blocks and the flist is in `dir`.
pub(crate) fn only_expected_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .all(|name| ["input", "blocks", "out.fl"].contains(&name.as_str()))
}
