//! Building flists from tar archives, OCI image layouts and `docker save` archives.
//!
//! [`pack_archive`] takes one file and finds out what it holds from its
//! bytes, never its name:
//!
//! * a plain, gzip (`1f 8b`) or zstd (`28 b5 2f fd`) tar of a root
//!   filesystem, read as a single layer;
//! * a `docker save` archive (`manifest.json`: legacy layout with
//!   `<id>/layer.tar`, or Docker ≥ 25 with `blobs/sha256/…`), or an OCI
//!   image-layout archive (`oci-layout`, `index.json`, `blobs/sha256/…`;
//!   nested indexes are followed and linux/amd64 is picked when there is
//!   more than one image). The archive itself may be gzip or zstd
//!   compressed.
//!
//! For an image, the manifest names the config and the layers bottom to
//! top. Every blob is checked against its SHA-256 (from its descriptor or
//! its `blobs/sha256/<hex>` name) and every uncompressed layer against the
//! config's `rootfs.diff_ids`; layer compression is found by magic bytes.
//!
//! The conversion makes two passes and extracts nothing to disk:
//!
//! 1. every layer's headers are read and applied to an in-memory tree with
//!    the OCI rules: whiteouts, opaque directories, replacement, implicit
//!    parents, hardlinks; each surviving regular file remembers which
//!    (layer, entry) holds its bytes;
//! 2. the layers are read again and only those entries are cut into
//!    512 KiB blocks, encrypted and uploaded by worker threads (blocks the
//!    store already has are skipped). Then the tree is written to the
//!    [`FlWriter`] with block rows, BLAKE2b-256 digests, hardlinks and xattrs.
//!
//! The image config goes into the `.fl` config table ([`FlWriter::set_config`]):
//! `entrypoint`, `cmd`, `env`, `workdir`, `user`, `exposed_ports`, `volumes`,
//! `labels` as JSON values when present, and the raw config as `oci-config`.
//! No file is added to the tree.
//!
//! Archives are hostile input: paths climbing out of the root, names over
//! 255 bytes, hardlinks to missing paths, truncated data and digest
//! mismatches are errors naming the layer and entry; [`ImageLimits`] caps the
//! uncompressed bytes (against compression bombs), entry sizes and counts.
//! On error nothing has been written that the caller would publish: the
//! writer is left unfinished (dropping it removes its temporary file), and
//! only blocks may have been uploaded.

mod archive;
mod emit;
mod flatten;
mod input;
mod manifest;
mod pax;
mod tar;
mod tree;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::fl::{FlError, FlWriter};
use crate::pack::{PackOptions, PackStats};
use crate::store::{BlockStore, StoreError};

use self::archive::{Archive, Input};
use self::input::LimitExceeded;
use self::manifest::LayerRef;
use self::tar::{TarError, TarLimits};

/// Bounds on what an archive may make the converter read or hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Most uncompressed bytes read from all layers together, per pass
    /// (trailing data after each tar included). Default 64 GiB.
    pub max_total_bytes: u64,
    /// Largest single entry. Default 64 GiB.
    pub max_entry_bytes: u64,
    /// Most entries in all layers together. Default 10 million.
    pub max_entries: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_total_bytes: 64 << 30,
            max_entry_bytes: 64 << 30,
            max_entries: 10_000_000,
        }
    }
}

impl ImageLimits {
    fn tar(&self) -> TarLimits {
        TarLimits {
            max_entry: self.max_entry_bytes,
            max_meta: 1 << 20,
            max_entries: self.max_entries,
        }
    }
}

/// What a conversion did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageStats {
    /// Objects written, bytes and blocks, as for a directory.
    pub pack: PackStats,
    /// Layers flattened (1 for a plain rootfs archive).
    pub layers: u64,
    /// Whiteout entries applied (`.wh.<name>`, opaque markers, overlay
    /// whiteout devices and opaque xattrs).
    pub whiteouts: u64,
}

/// Why a conversion failed. `what` names the archive or the layer.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The input file could not be opened or read.
    #[error("read {}: {source}", path.display())]
    Io {
        /// The input file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Reading or decompressing a stream failed.
    #[error("{what}: {source}")]
    Read {
        /// The archive or layer.
        what: String,
        /// The underlying error (corrupt compressed data included).
        source: io::Error,
    },
    /// The data ends before the archive does.
    #[error("{what}: truncated archive (the data ends early)")]
    Truncated {
        /// The archive or layer.
        what: String,
    },
    /// Not a well-formed archive, manifest or config.
    #[error("{what}: {reason}")]
    Malformed {
        /// The archive, layer or JSON file.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry that cannot be represented or is not allowed.
    #[error("{what}: entry {entry}: {reason}")]
    BadEntry {
        /// The archive or layer.
        what: String,
        /// The entry's path as recorded.
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry path (or hardlink target) climbs above the root with `..`.
    #[error("{what}: entry {entry} escapes the root with '..'")]
    UnsafePath {
        /// The archive or layer.
        what: String,
        /// The entry's path as recorded.
        entry: String,
    },
    /// A hardlink names a path that does not exist at that point.
    #[error("{what}: hardlink {entry} points to {target}, which does not exist")]
    MissingLinkTarget {
        /// The archive or layer.
        what: String,
        /// The hardlink's path.
        entry: String,
        /// The missing path.
        target: String,
    },
    /// A blob or layer does not hash to the digest that names it.
    #[error("{what}: sha256 is {actual}, expected {expected}")]
    DigestMismatch {
        /// The blob or layer.
        what: String,
        /// Digest from the descriptor, name or config.
        expected: String,
        /// Digest of the bytes read.
        actual: String,
    },
    /// An [`ImageLimits`] bound (or a fixed metadata bound) was exceeded.
    #[error("{what}: limit exceeded: {reason}")]
    LimitExceeded {
        /// The archive or layer.
        what: String,
        /// Which limit.
        reason: String,
    },
    /// The archive holds no image, or several with no way to choose.
    #[error("{what}: no image to convert: {reason}")]
    NoImage {
        /// The archive.
        what: String,
        /// Why.
        reason: String,
    },
    /// The second pass did not find what the first one read.
    #[error("{what}: entry {entry} changed while the archive was being read")]
    Changed {
        /// The archive or layer.
        what: String,
        /// The entry.
        entry: String,
    },
    /// Writing the `.fl` failed.
    #[error(transparent)]
    Fl(#[from] FlError),
    /// Uploading a block failed.
    #[error("upload a block of {entry}: {source}")]
    Store {
        /// The file the block belongs to.
        entry: String,
        /// The underlying error.
        source: StoreError,
    },
}

/// Converts the archive at `archive` into `writer`, storing blocks in
/// `store`, with the default [`ImageLimits`]. Routes and tags are the
/// caller's to add; the caller finishes the writer.
pub fn pack_archive(
    archive: &Path,
    writer: &mut FlWriter,
    store: &dyn BlockStore,
    opts: &PackOptions<'_>,
) -> Result<ImageStats, ImageError> {
    pack_archive_with(archive, writer, store, opts, &ImageLimits::default())
}

/// [`pack_archive`] with explicit limits.
pub fn pack_archive_with(
    archive: &Path,
    writer: &mut FlWriter,
    store: &dyn BlockStore,
    opts: &PackOptions<'_>,
    limits: &ImageLimits,
) -> Result<ImageStats, ImageError> {
    let source = match archive::detect(archive, limits)? {
        Input::Rootfs => Source {
            path: archive,
            archive: None,
            config: None,
            layers: vec![LayerRef::rootfs(archive)],
        },
        Input::Image(image) => {
            let plan = manifest::plan(&image)?;
            Source {
                path: archive,
                archive: Some(image),
                config: Some(plan.config),
                layers: plan.layers,
            }
        }
    };
    let (tree, whiteouts) = flatten::build(&source, limits)?;
    let chunked = emit::chunk(&source, &tree, store, opts, limits)?;
    store.sync().map_err(|e| ImageError::Store {
        entry: archive.display().to_string(),
        source: e,
    })?;
    let mut pack = emit::write(&tree, &chunked.files, writer)?;
    pack.uploaded = chunked.uploaded;
    pack.uploaded_bytes = chunked.uploaded_bytes;
    if opts.codec != crate::block::Codec::Snappy {
        writer.set_tag(crate::block::Codec::TAG, opts.codec.name())?;
    }
    if let Some(config) = &source.config {
        for (key, value) in manifest::config_entries(config, &source.label())? {
            writer.set_config(key, &value)?;
        }
    }
    Ok(ImageStats {
        pack,
        layers: source.layers.len() as u64,
        whiteouts,
    })
}

/// The input and the layers to read from it.
struct Source<'a> {
    path: &'a Path,
    archive: Option<Archive>,
    config: Option<Vec<u8>>,
    layers: Vec<LayerRef>,
}

impl Source<'_> {
    fn label(&self) -> String {
        self.path.display().to_string()
    }

    /// The raw (possibly compressed) bytes of `layer`.
    fn open(&self, layer: &LayerRef) -> Result<Box<dyn Read>, ImageError> {
        match &self.archive {
            Some(archive) => archive.open(&layer.member),
            None => {
                let file = File::open(self.path).map_err(archive::io_err(self.path))?;
                Ok(Box::new(file))
            }
        }
    }
}

/// Maps a stream error to an [`ImageError`] about `what`.
fn read_error(what: &str, e: io::Error) -> ImageError {
    let what = what.to_owned();
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return ImageError::Truncated { what };
    }
    if let Some(limit) = e.get_ref().and_then(|e| e.downcast_ref::<LimitExceeded>()) {
        return ImageError::LimitExceeded {
            what,
            reason: limit.to_string(),
        };
    }
    ImageError::Read { what, source: e }
}

/// Maps a tar reader error to an [`ImageError`] about `what`.
fn tar_error(what: &str, e: TarError) -> ImageError {
    let what = what.to_owned();
    match e {
        TarError::Truncated => ImageError::Truncated { what },
        TarError::Io(e) => read_error(&what, e),
        TarError::Limit(reason) => ImageError::LimitExceeded { what, reason },
        TarError::Malformed(reason) => ImageError::Malformed { what, reason },
        TarError::Entry { path, reason } => ImageError::BadEntry {
            what,
            entry: String::from_utf8_lossy(&path).into_owned(),
            reason,
        },
    }
}

/// Checks what a fully read stream hashed to against what `layer` expects.
fn verify_layer(layer: &LayerRef, end: &input::StreamEnd) -> Result<(), ImageError> {
    let pairs = [
        (layer.digest, end.blob, "blob"),
        (layer.diff_id, end.diff, "uncompressed layer (diff id)"),
    ];
    for (expected, actual, which) in pairs {
        if let (Some(expected), Some(actual)) = (expected, actual) {
            if expected != actual {
                return Err(ImageError::DigestMismatch {
                    what: format!("{} {which}", layer.label),
                    expected: format!("sha256:{}", hex::encode(expected)),
                    actual: format!("sha256:{}", hex::encode(actual)),
                });
            }
        }
    }
    Ok(())
}
