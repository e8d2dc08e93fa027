//! The members of an image archive: deciding whether the input is one, indexing it, and reading members by name.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::input::{decode, sniff, Compression, Metered};
use super::tar::{EntryKind, TarReader, TarSource};
use super::{ImageError, ImageLimits};
use crate::pack::read_full;

/// Members at most this large are kept in memory while indexing a
/// compressed image archive (manifests, configs), so reading them later
/// needs no second decompression.
const CACHE_MEMBER: u64 = 1024 * 1024;
/// Bytes of such members kept in memory at most.
const CACHE_TOTAL: u64 = 64 * 1024 * 1024;
/// Symlinks followed when resolving a member name.
const MAX_MEMBER_LINKS: usize = 16;

/// A plain archive on disk, skipped through by seeking.
struct SeekFile {
    file: File,
    len: u64,
    pos: u64,
}

impl Read for SeekFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl TarSource for SeekFile {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let to = self.pos.checked_add(n).filter(|&to| to <= self.len);
        let to = to.ok_or(io::ErrorKind::UnexpectedEof)?;
        self.file.seek(SeekFrom::Start(to))?;
        self.pos = to;
        Ok(())
    }
}

/// What the input turned out to be.
pub(super) enum Input {
    /// A plain (possibly compressed) tar of a root filesystem.
    Rootfs,
    /// A `docker save` or OCI image-layout archive.
    Image(Archive),
}

/// One member of an image archive.
#[derive(Debug, Clone)]
enum Member {
    /// Data: the entry's ordinal and, in an uncompressed archive, its offset.
    File {
        ordinal: u64,
        offset: u64,
        size: u64,
    },
    /// A symlink or hardlink to another member (normalised path).
    Link(Vec<u8>),
    /// A directory or special file: holds no data.
    Other,
}

/// The members of an image archive, for reading manifests and layers.
pub(super) struct Archive {
    path: PathBuf,
    compression: Compression,
    members: HashMap<Vec<u8>, Member>,
    cache: HashMap<Vec<u8>, Vec<u8>>,
    limits: ImageLimits,
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Opens `path`, sniffs its compression and decides whether it is an image
/// archive: it is when every member has a name an image archive uses
/// (`manifest.json`, `index.json`, `oci-layout`, `repositories`, top-level
/// `*.json`/`*.tar`, `blobs/…`, `<hex id>/…`) and it has `manifest.json` or
/// both `oci-layout` and `index.json`. Scanning stops at the first other
/// name, so a rootfs archive is recognised from its first entries.
pub(super) fn detect(path: &Path, limits: &ImageLimits) -> Result<Input, ImageError> {
    let what = || path.display().to_string();
    let mut file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut head = [0u8; 4];
    let n = read_full(&mut file, &mut head).map_err(io_err(path))?;
    let compression = sniff(&head[..n]);
    let mut archive = Archive {
        path: path.to_owned(),
        compression,
        members: HashMap::new(),
        cache: HashMap::new(),
        limits: *limits,
    };
    file.rewind().map_err(io_err(path))?;
    let image = if compression == Compression::None {
        let source = SeekFile { file, len, pos: 0 };
        archive.scan(TarReader::new(source, limits.tar()))
    } else {
        let (_, decoded) = decode(file).map_err(io_err(path))?;
        let source = Metered::new(decoded, false, limits.max_total_bytes);
        archive.scan(TarReader::new(source, limits.tar()))
    }
    .map_err(|e| super::tar_error(&what(), e))?;
    Ok(if image {
        Input::Image(archive)
    } else {
        Input::Rootfs
    })
}

impl Archive {
    /// Indexes the members; false as soon as one cannot be part of an image.
    fn scan<R: TarSource>(&mut self, mut tar: TarReader<R>) -> Result<bool, super::tar::TarError> {
        let mut ordinal = 0;
        let mut cached = 0;
        while let Some(entry) = tar.next_entry()? {
            let Some(name) = normalize(&entry.path) else {
                return Ok(false);
            };
            if !image_member(&name) {
                return Ok(false);
            }
            let member = match entry.kind {
                EntryKind::File => Member::File {
                    ordinal,
                    offset: entry.data_offset,
                    size: entry.size,
                },
                EntryKind::Hardlink => normalize(&entry.link).map_or(Member::Other, Member::Link),
                EntryKind::Symlink => {
                    let dir = name
                        .iter()
                        .rposition(|&b| b == b'/')
                        .map_or(&b""[..], |idx| &name[..idx]);
                    let target = if entry.link.starts_with(b"/") {
                        entry.link.clone()
                    } else {
                        [dir, b"/", &entry.link].concat()
                    };
                    normalize(&target).map_or(Member::Other, Member::Link)
                }
                _ => Member::Other,
            };
            let small = entry.kind == EntryKind::File && entry.size <= CACHE_MEMBER;
            if self.compression != Compression::None && small && cached < CACHE_TOTAL {
                let mut data = Vec::with_capacity(entry.size as usize);
                tar.read_to_end(&mut data)?;
                cached += entry.size;
                self.cache.insert(name.clone(), data);
            }
            self.members.insert(name, member);
            ordinal += 1;
        }
        let has = |n: &[u8]| self.members.contains_key(n);
        Ok(has(b"manifest.json") || (has(b"oci-layout") && has(b"index.json")))
    }

    /// How errors name the archive.
    pub(super) fn label(&self) -> String {
        self.path.display().to_string()
    }

    /// The member `name` resolves to through links, with its data location.
    fn resolve(&self, name: &[u8]) -> Option<(Vec<u8>, u64, u64, u64)> {
        let mut name = name.to_vec();
        for _ in 0..=MAX_MEMBER_LINKS {
            match self.members.get(&name)? {
                Member::File {
                    ordinal,
                    offset,
                    size,
                } => return Some((name, *ordinal, *offset, *size)),
                Member::Link(target) => name = target.clone(),
                Member::Other => return None,
            }
        }
        None
    }

    /// Whether `name` is a member holding data.
    pub(super) fn has(&self, name: &[u8]) -> bool {
        self.resolve(name).is_some()
    }

    /// The data size of member `name`.
    pub(super) fn size(&self, name: &[u8]) -> Option<u64> {
        self.resolve(name).map(|(_, _, _, size)| size)
    }

    fn missing(&self, name: &[u8]) -> ImageError {
        ImageError::Malformed {
            what: self.path.display().to_string(),
            reason: format!("no member {}", String::from_utf8_lossy(name)),
        }
    }

    /// A reader over the data of member `name`.
    pub(super) fn open(&self, name: &[u8]) -> Result<Box<dyn Read>, ImageError> {
        let (resolved, ordinal, offset, size) =
            self.resolve(name).ok_or_else(|| self.missing(name))?;
        if let Some(data) = self.cache.get(&resolved) {
            return Ok(Box::new(io::Cursor::new(data.clone())));
        }
        let path = &self.path;
        let mut file = File::open(path).map_err(io_err(path))?;
        if self.compression == Compression::None {
            file.seek(SeekFrom::Start(offset)).map_err(io_err(path))?;
            return Ok(Box::new(file.take(size)));
        }
        let (_, decoded) = decode(file).map_err(io_err(path))?;
        let source = Metered::new(decoded, false, self.limits.max_total_bytes);
        let mut tar = TarReader::new(source, self.limits.tar());
        let what = path.display().to_string();
        for _ in 0..ordinal {
            tar.next_entry().map_err(|e| super::tar_error(&what, e))?;
        }
        match tar.next_entry().map_err(|e| super::tar_error(&what, e))? {
            Some(entry) if normalize(&entry.path).as_deref() == Some(&resolved[..]) => {
                Ok(Box::new(tar))
            }
            _ => Err(ImageError::Changed {
                what,
                entry: String::from_utf8_lossy(&resolved).into_owned(),
            }),
        }
    }

    /// The whole data of member `name`, refused when over `max` bytes.
    pub(super) fn read_small(&self, name: &[u8], max: u64) -> Result<Vec<u8>, ImageError> {
        let size = self.size(name).ok_or_else(|| self.missing(name))?;
        let what = || format!("{}: {}", self.path.display(), String::from_utf8_lossy(name));
        if size > max {
            return Err(ImageError::LimitExceeded {
                what: what(),
                reason: format!("{size} bytes, over the {max}-byte limit for metadata"),
            });
        }
        let mut data = Vec::with_capacity(size as usize);
        let mut reader = self.open(name)?;
        reader
            .read_to_end(&mut data)
            .map_err(|e| super::read_error(&what(), e))?;
        if data.len() as u64 != size {
            return Err(ImageError::Truncated { what: what() });
        }
        Ok(data)
    }
}

/// A member name without `./`, empty components or a leading `/`, with `..`
/// applied; `None` when it climbs above the archive root.
pub(super) fn normalize(path: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            _ => parts.push(part),
        }
    }
    Some(parts.join(&b'/'))
}

/// Whether a (normalised) name can be a member of an image archive.
fn image_member(name: &[u8]) -> bool {
    let first = name.split(|&b| b == b'/').next().unwrap_or_default();
    let hex_dir = first.len() >= 32 && first.iter().all(u8::is_ascii_hexdigit);
    if first.len() == name.len() {
        name.is_empty()
            || name.ends_with(b".json")
            || name.ends_with(b".tar")
            || matches!(name, b"repositories" | b"oci-layout" | b"blobs")
            || hex_dir
    } else {
        first == b"blobs" || hex_dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names() {
        assert_eq!(normalize(b"./a//b/./c").unwrap(), b"a/b/c");
        assert_eq!(normalize(b"/a/../b").unwrap(), b"b");
        assert_eq!(normalize(b"a/../../b"), None);
        for name in [
            &b""[..],
            b"manifest.json",
            b"oci-layout",
            b"blobs/sha256/00",
            b"0123456789abcdef0123456789abcdef/layer.tar",
        ] {
            assert!(image_member(name), "{name:?}");
        }
        for name in [&b"bin"[..], b"etc/passwd", b"abc/layer.tar"] {
            assert!(!image_member(name), "{name:?}");
        }
    }
}
