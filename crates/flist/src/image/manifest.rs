//! Finding the image in an archive — OCI `index.json` (nested indexes, platform choice) or `docker save`'s `manifest.json` — and its config and ordered layers.
//!
//! `index.json` is preferred when the archive has one, `manifest.json` is
//! the fallback. Descriptors whose blob is absent are skipped (a `docker
//! save` from the containerd store lists every platform but ships one), as
//! are attestation manifests. With one image left it is taken; with more,
//! the linux/amd64 one, and anything else is an error listing the choices.
//! Manifest and config blobs are read whole (at most 16 MiB) and checked
//! against their SHA-256 before they are parsed.

use std::collections::HashMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::archive::{normalize, Archive};
use super::ImageError;

/// Largest manifest, index or config read.
const MAX_JSON: u64 = 16 * 1024 * 1024;
/// Deepest nesting of image indexes followed.
const MAX_INDEX_DEPTH: usize = 4;
/// Most manifests considered.
const MAX_CANDIDATES: usize = 256;
/// Most layers in one image.
const MAX_LAYERS: usize = 4096;

/// The platform chosen when an archive holds several images.
const OS: &str = "linux";
const ARCH: &str = "amd64";

/// One layer to read: a member of the archive, or the whole input for a
/// rootfs archive.
#[derive(Debug, Clone)]
pub(super) struct LayerRef {
    /// Normalised member name (empty for a rootfs archive).
    pub(super) member: Vec<u8>,
    /// SHA-256 of the blob as stored, when known.
    pub(super) digest: Option<[u8; 32]>,
    /// SHA-256 of the uncompressed tar (`rootfs.diff_ids`), when known.
    pub(super) diff_id: Option<[u8; 32]>,
    /// How errors name the layer.
    pub(super) label: String,
}

impl LayerRef {
    /// The single layer of a plain rootfs archive.
    pub(super) fn rootfs(path: &std::path::Path) -> LayerRef {
        LayerRef {
            member: Vec::new(),
            digest: None,
            diff_id: None,
            label: path.display().to_string(),
        }
    }
}

/// The chosen image.
pub(super) struct Plan {
    /// The raw config JSON.
    pub(super) config: Vec<u8>,
    /// Layers, bottom first.
    pub(super) layers: Vec<LayerRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    digest: String,
    size: u64,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: HashMap<String, String>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyEntry {
    config: String,
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigHead {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// An image found in the archive.
struct Candidate {
    /// Identity for de-duplication (manifest digest or config name).
    key: String,
    config: Vec<u8>,
    os: String,
    arch: String,
    /// (member, blob digest) bottom first.
    layers: Vec<(Vec<u8>, Option<[u8; 32]>)>,
}

/// Finds the image in `archive` and lists what to read.
pub(super) fn plan(archive: &Archive) -> Result<Plan, ImageError> {
    let mut candidates = Vec::new();
    if archive.has(b"index.json") {
        let raw = archive.read_small(b"index.json", MAX_JSON)?;
        collect_index(archive, &raw, "index.json", 0, &mut candidates)?;
    } else {
        collect_legacy(archive, &mut candidates)?;
    }
    let image = choose(archive, candidates)?;
    let head: ConfigHead = parse(archive, &image.config, "image config")?;
    let diff_ids = match head.rootfs {
        Some(rootfs) if !rootfs.diff_ids.is_empty() => {
            if rootfs.diff_ids.len() != image.layers.len() {
                return Err(malformed(
                    archive,
                    format!(
                        "the config lists {} diff ids for {} layers",
                        rootfs.diff_ids.len(),
                        image.layers.len()
                    ),
                ));
            }
            let ids = rootfs.diff_ids.iter().map(|d| digest(archive, d).map(Some));
            ids.collect::<Result<Vec<_>, _>>()?
        }
        _ => vec![None; image.layers.len()],
    };
    let n_layers = image.layers.len();
    let layers = image
        .layers
        .into_iter()
        .zip(diff_ids)
        .enumerate()
        .map(|(idx, ((member, digest), diff_id))| LayerRef {
            label: format!(
                "{}: layer {}/{n_layers} ({})",
                archive.label(),
                idx + 1,
                String::from_utf8_lossy(&member)
            ),
            member,
            digest,
            diff_id,
        })
        .collect();
    Ok(Plan {
        config: image.config,
        layers,
    })
}

/// Adds the images an OCI index (and the indexes it nests) describes.
fn collect_index(
    archive: &Archive,
    raw: &[u8],
    name: &str,
    depth: usize,
    out: &mut Vec<Candidate>,
) -> Result<(), ImageError> {
    let index: Index = parse(archive, raw, name)?;
    for desc in index.manifests {
        let attestation = desc
            .annotations
            .get("vnd.docker.reference.type")
            .is_some_and(|t| t == "attestation-manifest");
        let unknown = desc.platform.as_ref().is_some_and(|p| p.os == "unknown");
        let member = blob_member(&digest(archive, &desc.digest)?);
        if attestation || unknown || !archive.has(&member) {
            continue;
        }
        let raw = read_blob(archive, &desc)?;
        let value: serde_json::Value = parse(archive, &raw, &desc.digest)?;
        if value.get("manifests").is_some() {
            if depth >= MAX_INDEX_DEPTH {
                let reason = format!("image indexes nested deeper than {MAX_INDEX_DEPTH}");
                return Err(malformed(archive, reason));
            }
            collect_index(archive, &raw, &desc.digest, depth + 1, out)?;
            continue;
        }
        let manifest: Manifest = parse(archive, &raw, &desc.digest)?;
        let config = read_blob(archive, &manifest.config)?;
        let head: ConfigHead = parse(archive, &config, &manifest.config.digest)?;
        let (os, arch) = match desc.platform {
            Some(p) => (p.os, p.architecture),
            None => (head.os, head.architecture),
        };
        let mut layers = Vec::with_capacity(manifest.layers.len());
        for layer in &manifest.layers {
            let digest = digest(archive, &layer.digest)?;
            let member = blob_member(&digest);
            if archive.size(&member) != Some(layer.size) {
                let reason = format!(
                    "layer blob {} is missing or not {} bytes long",
                    layer.digest, layer.size
                );
                return Err(malformed(archive, reason));
            }
            layers.push((member, Some(digest)));
        }
        push(
            archive,
            out,
            Candidate {
                key: desc.digest,
                config,
                os,
                arch,
                layers,
            },
        )?;
    }
    Ok(())
}

/// Adds the images of a `docker save` `manifest.json`.
fn collect_legacy(archive: &Archive, out: &mut Vec<Candidate>) -> Result<(), ImageError> {
    let raw = archive.read_small(b"manifest.json", MAX_JSON)?;
    let entries: Vec<LegacyEntry> = parse(archive, &raw, "manifest.json")?;
    for entry in entries {
        let config_member = member_name(archive, &entry.config)?;
        let config = archive.read_small(&config_member, MAX_JSON)?;
        if let Some(expected) = digest_in_name(&config_member) {
            check_digest(&entry.config, &expected, &config)?;
        }
        let head: ConfigHead = parse(archive, &config, &entry.config)?;
        let mut layers = Vec::with_capacity(entry.layers.len());
        for layer in &entry.layers {
            let member = member_name(archive, layer)?;
            if !archive.has(&member) {
                return Err(malformed(archive, format!("no layer member {layer}")));
            }
            let digest = digest_in_name(&member);
            layers.push((member, digest));
        }
        push(
            archive,
            out,
            Candidate {
                key: entry.config,
                config,
                os: head.os,
                arch: head.architecture,
                layers,
            },
        )?;
    }
    Ok(())
}

fn push(archive: &Archive, out: &mut Vec<Candidate>, c: Candidate) -> Result<(), ImageError> {
    if c.layers.len() > MAX_LAYERS {
        let reason = format!("an image with more than {MAX_LAYERS} layers");
        return Err(malformed(archive, reason));
    }
    if out.len() >= MAX_CANDIDATES {
        let reason = format!("more than {MAX_CANDIDATES} image manifests");
        return Err(malformed(archive, reason));
    }
    if !out.iter().any(|o| o.key == c.key) {
        out.push(c);
    }
    Ok(())
}

/// The only image, or the only linux/amd64 one.
fn choose(archive: &Archive, mut candidates: Vec<Candidate>) -> Result<Candidate, ImageError> {
    let no_image = |reason: String| ImageError::NoImage {
        what: archive.label(),
        reason,
    };
    if candidates.len() <= 1 {
        return candidates
            .pop()
            .ok_or_else(|| no_image("no image manifest with its blobs in the archive".into()));
    }
    let listed = candidates
        .iter()
        .map(|c| format!("{} ({}/{})", c.key, c.os, c.arch))
        .collect::<Vec<_>>()
        .join(", ");
    let mut matching: Vec<_> = candidates
        .into_iter()
        .filter(|c| c.os == OS && c.arch == ARCH)
        .collect();
    match matching.len() {
        1 => Ok(matching.pop().expect("one element")),
        0 => Err(no_image(format!(
            "none of the images is {OS}/{ARCH}: {listed}"
        ))),
        _ => Err(no_image(format!("several {OS}/{ARCH} images: {listed}"))),
    }
}

/// The config entries for the `.fl`: JSON values of the fields a runtime
/// needs, and the raw config.
pub(super) fn config_entries(
    raw: &[u8],
    what: &str,
) -> Result<Vec<(&'static str, Vec<u8>)>, ImageError> {
    const FIELDS: [(&str, &str); 8] = [
        ("entrypoint", "Entrypoint"),
        ("cmd", "Cmd"),
        ("env", "Env"),
        ("workdir", "WorkingDir"),
        ("user", "User"),
        ("exposed_ports", "ExposedPorts"),
        ("volumes", "Volumes"),
        ("labels", "Labels"),
    ];
    let value: serde_json::Value =
        serde_json::from_slice(raw).map_err(|e| ImageError::Malformed {
            what: format!("{what}: image config"),
            reason: e.to_string(),
        })?;
    let mut out = Vec::new();
    if let Some(config) = value.get("config") {
        for (key, field) in FIELDS {
            match config.get(field) {
                None | Some(serde_json::Value::Null) => {}
                Some(v) => out.push((key, serde_json::to_vec(v).expect("a parsed value"))),
            }
        }
    }
    out.push(("oci-config", raw.to_vec()));
    Ok(out)
}

fn parse<'de, T: Deserialize<'de>>(
    archive: &Archive,
    raw: &'de [u8],
    name: &str,
) -> Result<T, ImageError> {
    serde_json::from_slice(raw).map_err(|e| ImageError::Malformed {
        what: format!("{}: {name}", archive.label()),
        reason: e.to_string(),
    })
}

fn malformed(archive: &Archive, reason: String) -> ImageError {
    ImageError::Malformed {
        what: archive.label(),
        reason,
    }
}

/// `sha256:<64 hex>` as bytes; other algorithms are refused.
fn digest(archive: &Archive, text: &str) -> Result<[u8; 32], ImageError> {
    text.strip_prefix("sha256:")
        .filter(|h| h.len() == 64)
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| malformed(archive, format!("unsupported or invalid digest {text:?}")))
}

fn blob_member(digest: &[u8; 32]) -> Vec<u8> {
    format!("blobs/sha256/{}", hex::encode(digest)).into_bytes()
}

/// The digest a member's name carries: `blobs/sha256/<hex>` or `<hex>.json`.
fn digest_in_name(member: &[u8]) -> Option<[u8; 32]> {
    let name = std::str::from_utf8(member).ok()?;
    let hex = name
        .strip_prefix("blobs/sha256/")
        .or_else(|| name.strip_suffix(".json").filter(|h| !h.contains('/')))?;
    (hex.len() == 64)
        .then(|| hex::decode(hex).ok()?.try_into().ok())
        .flatten()
}

fn member_name(archive: &Archive, name: &str) -> Result<Vec<u8>, ImageError> {
    normalize(name.as_bytes())
        .ok_or_else(|| malformed(archive, format!("member name {name:?} leaves the archive")))
}

/// Reads the blob a descriptor names and checks its size and digest.
fn read_blob(archive: &Archive, desc: &Descriptor) -> Result<Vec<u8>, ImageError> {
    let expected = digest(archive, &desc.digest)?;
    let data = archive.read_small(&blob_member(&expected), MAX_JSON)?;
    if data.len() as u64 != desc.size {
        let reason = format!(
            "blob {} is {} bytes, its descriptor says {}",
            desc.digest,
            data.len(),
            desc.size
        );
        return Err(malformed(archive, reason));
    }
    check_digest(&desc.digest, &expected, &data)?;
    Ok(data)
}

fn check_digest(what: &str, expected: &[u8; 32], data: &[u8]) -> Result<(), ImageError> {
    let actual: [u8; 32] = Sha256::digest(data).into();
    if &actual != expected {
        return Err(ImageError::DigestMismatch {
            what: what.to_owned(),
            expected: format!("sha256:{}", hex::encode(expected)),
            actual: format!("sha256:{}", hex::encode(actual)),
        });
    }
    Ok(())
}
