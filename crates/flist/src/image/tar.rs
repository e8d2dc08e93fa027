//! A streaming tar reader (ustar, GNU and PAX) that bounds every length an archive declares.
//!
//! Headers are 512-byte blocks; an entry's data follows its header, padded
//! to a multiple of 512 bytes. Extension headers describe the entry after
//! them: GNU `L`/`K` carry a long name or link target, PAX `x` carries
//! `key=value` records (path, linkpath, size, uid, gid, mtime, and xattrs as
//! `SCHILY.xattr.<name>` or `LIBARCHIVE.xattr.<url-encoded name>` with a
//! base64 value). PAX `g` headers and GNU volume labels are skipped.
//!
//! The archive must end with a zero block: an input that stops at a header
//! boundary without one is reported as truncated rather than accepted as a
//! shorter archive. Extension headers are read into memory only up to
//! [`TarLimits::max_meta`] bytes, entries are capped in size and number, and
//! sparse or unknown entry types are refused rather than misread.

use std::io::{self, Read};

use super::pax::{parse_pax, Pax};
use crate::fl::Xattr;

/// Size of a header and the unit data is padded to.
const BLOCK: u64 = 512;

/// What kind of object an entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryKind {
    /// Regular file (also the old contiguous type `7`).
    File,
    /// Another name of an earlier entry (`link` is its path).
    Hardlink,
    /// Symbolic link (`link` is its target).
    Symlink,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// Directory.
    Dir,
    /// Named pipe.
    Fifo,
}

/// One archive member, extension headers already applied.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Path as recorded (not normalised).
    pub(super) path: Vec<u8>,
    pub(super) kind: EntryKind,
    /// Permission bits (`0o7777`).
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    /// Seconds since the epoch (fractions dropped).
    pub(super) mtime: i64,
    /// Bytes of data following the header.
    pub(super) size: u64,
    /// Hardlink path or symlink target.
    pub(super) link: Vec<u8>,
    pub(super) major: u32,
    pub(super) minor: u32,
    pub(super) xattrs: Vec<Xattr>,
    /// Offset of the data from the start of the input.
    pub(super) data_offset: u64,
}

/// Bounds on what an archive may declare.
#[derive(Debug, Clone, Copy)]
pub(super) struct TarLimits {
    /// Largest entry data.
    pub(super) max_entry: u64,
    /// Largest GNU long name/link or PAX header.
    pub(super) max_meta: u64,
    /// Most entries.
    pub(super) max_entries: u64,
}

/// Why an archive could not be read.
#[derive(Debug)]
pub(super) enum TarError {
    /// The input ended inside a header or data, or without the end marker.
    Truncated,
    /// The underlying reader failed.
    Io(io::Error),
    /// A declared length is over a [`TarLimits`] bound.
    Limit(String),
    /// Not a well-formed tar stream.
    Malformed(String),
    /// A well-formed entry this reader refuses.
    Entry {
        /// The entry's path.
        path: Vec<u8>,
        /// Why.
        reason: String,
    },
}

impl From<io::Error> for TarError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            TarError::Truncated
        } else {
            TarError::Io(e)
        }
    }
}

/// A reader a [`TarReader`] can skip data in.
pub(super) trait TarSource: Read {
    /// Skips `n` bytes; fails with `UnexpectedEof` if the input ends first.
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut Read::take(&mut *self, n), &mut io::sink())?;
        if copied < n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// Entries of a tar stream, in order; [`Read`] yields the current entry's data.
pub(super) struct TarReader<R> {
    inner: R,
    /// Bytes consumed from `inner`.
    pos: u64,
    /// Data bytes of the current entry not read yet.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    n_entries: u64,
    limits: TarLimits,
    done: bool,
}

/// Extension values waiting for the entry they describe.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Pax>,
}

impl<R: TarSource> TarReader<R> {
    /// Reads tar data from `inner`, from its first byte.
    pub(super) fn new(inner: R, limits: TarLimits) -> Self {
        TarReader {
            inner,
            pos: 0,
            remaining: 0,
            padding: 0,
            n_entries: 0,
            limits,
            done: false,
        }
    }

    /// The next entry, skipping whatever data of the previous one was not
    /// read; `None` at the end-of-archive marker.
    pub(super) fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if self.done {
            return Ok(None);
        }
        self.skip(self.remaining + self.padding)?;
        self.remaining = 0;
        self.padding = 0;
        let mut pending = Pending::default();
        loop {
            let mut header = [0u8; BLOCK as usize];
            self.read_exact(&mut header)?;
            if header.iter().all(|&b| b == 0) {
                self.done = true;
                if pending.long_name.is_some()
                    || pending.long_link.is_some()
                    || pending.pax.is_some()
                {
                    return Err(TarError::Malformed(
                        "an extension header is followed by the end of the archive".into(),
                    ));
                }
                return Ok(None);
            }
            check_sum(&header)?;
            let size = number(&header[124..136], "size")?;
            let size = u64::try_from(size)
                .map_err(|_| TarError::Malformed("negative size in a header".into()))?;
            match header[156] {
                b'L' => {
                    let name = self.read_meta(size, "GNU long name")?;
                    pending.long_name = Some(trim_nul(name));
                }
                b'K' => {
                    let link = self.read_meta(size, "GNU long link")?;
                    pending.long_link = Some(trim_nul(link));
                }
                b'x' => {
                    if pending.pax.is_some() {
                        return Err(TarError::Malformed("two PAX headers for one entry".into()));
                    }
                    let data = self.read_meta(size, "PAX header")?;
                    pending.pax = Some(parse_pax(&data).map_err(TarError::Malformed)?);
                }
                b'g' => {
                    self.read_meta(size, "PAX global header")?;
                }
                b'V' => self.skip(padded(size)?)?,
                _ => return self.entry(&header, size, pending).map(Some),
            }
        }
    }

    /// Builds the entry a (non-extension) header describes.
    fn entry(&mut self, h: &[u8; 512], size: u64, p: Pending) -> Result<Entry, TarError> {
        let pax = p.pax.unwrap_or_default();
        let path = match (pax.path, p.long_name) {
            (Some(path), _) | (None, Some(path)) => path,
            (None, None) => header_path(h),
        };
        let bad = |reason: String| TarError::Entry {
            path: path.clone(),
            reason,
        };
        let kind = match h[156] {
            b'0' | 0 if path.ends_with(b"/") => EntryKind::Dir,
            b'0' | 0 | b'7' => EntryKind::File,
            b'1' => EntryKind::Hardlink,
            b'2' => EntryKind::Symlink,
            b'3' => EntryKind::CharDevice,
            b'4' => EntryKind::BlockDevice,
            b'5' => EntryKind::Dir,
            b'6' => EntryKind::Fifo,
            b'S' => return Err(bad("GNU sparse files are not supported".into())),
            t => return Err(bad(format!("unsupported entry type {:?}", t as char))),
        };
        let size = pax.size.unwrap_or(size);
        if size > self.limits.max_entry {
            return Err(TarError::Limit(format!(
                "entry {} holds {size} bytes, over the {}-byte limit",
                String::from_utf8_lossy(&path),
                self.limits.max_entry
            )));
        }
        self.n_entries += 1;
        if self.n_entries > self.limits.max_entries {
            return Err(TarError::Limit(format!(
                "more than {} entries",
                self.limits.max_entries
            )));
        }
        let id = |v: Option<u64>, field: &[u8], what: &str| -> Result<u32, TarError> {
            let v = match v {
                Some(v) => i128::from(v),
                None => number(field, what)?,
            };
            u32::try_from(v).map_err(|_| bad(format!("{what} {v} is out of range")))
        };
        let uid = id(pax.uid, &h[108..116], "uid")?;
        let gid = id(pax.gid, &h[116..124], "gid")?;
        let (major, minor) = match kind {
            EntryKind::CharDevice | EntryKind::BlockDevice => (
                id(None, &h[329..337], "device major")?,
                id(None, &h[337..345], "device minor")?,
            ),
            _ => (0, 0),
        };
        let mtime = match pax.mtime {
            Some(t) => t,
            None => i64::try_from(number(&h[136..148], "mtime")?)
                .map_err(|_| bad("mtime out of range".into()))?,
        };
        let mode = number(&h[100..108], "mode")? as u32 & 0o7777;
        let link = match (pax.linkpath, p.long_link) {
            (Some(link), _) | (None, Some(link)) => link,
            (None, None) => cstr(&h[157..257]).to_vec(),
        };
        self.remaining = size;
        self.padding = padded(size)? - size;
        Ok(Entry {
            path,
            kind,
            mode,
            uid,
            gid,
            mtime,
            size,
            link,
            major,
            minor,
            xattrs: pax.xattrs,
            data_offset: self.pos,
        })
    }

    /// Reads a bounded extension payload and its padding.
    fn read_meta(&mut self, size: u64, what: &str) -> Result<Vec<u8>, TarError> {
        if size > self.limits.max_meta {
            return Err(TarError::Limit(format!(
                "{what} of {size} bytes, over the {}-byte limit",
                self.limits.max_meta
            )));
        }
        let mut data = vec![0u8; size as usize];
        self.read_exact(&mut data)?;
        self.skip(padded(size)? - size)?;
        Ok(data)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), TarError> {
        self.inner.read_exact(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Result<(), TarError> {
        if n > 0 {
            self.inner.skip(n)?;
            self.pos += n;
        }
        Ok(())
    }

    /// The underlying reader.
    pub(super) fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The underlying reader, positioned after the end-of-archive marker
    /// (or wherever reading stopped).
    pub(super) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: TarSource> Read for TarReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.remaining -= n as u64;
        self.pos += n as u64;
        Ok(n)
    }
}

/// `size` rounded up to whole blocks.
fn padded(size: u64) -> Result<u64, TarError> {
    size.checked_next_multiple_of(BLOCK)
        .ok_or_else(|| TarError::Malformed("entry size overflows".into()))
}

/// Checks the header checksum (unsigned sum, or the signed sum old tars wrote).
fn check_sum(h: &[u8; 512]) -> Result<(), TarError> {
    let recorded = number(&h[148..156], "checksum").map_err(|_| {
        TarError::Malformed("invalid header (not a tar archive, or a damaged one)".into())
    })?;
    let (mut unsigned, mut signed) = (0i128, 0i128);
    for (idx, &b) in h.iter().enumerate() {
        let b = if (148..156).contains(&idx) { b' ' } else { b };
        unsigned += i128::from(b);
        signed += i128::from(b as i8);
    }
    if recorded != unsigned && recorded != signed {
        return Err(TarError::Malformed(
            "header checksum mismatch (not a tar archive, or a damaged one)".into(),
        ));
    }
    Ok(())
}

/// A numeric header field: octal text, or GNU base-256 when the high bit
/// of the first byte is set.
fn number(field: &[u8], what: &str) -> Result<i128, TarError> {
    let bad = || TarError::Malformed(format!("invalid {what} field in a header"));
    if let Some((&first, rest)) = field.split_first() {
        if first & 0x80 != 0 {
            if rest.len() > 12 {
                return Err(bad());
            }
            let negative = first & 0x40 != 0;
            let mut v = i128::from(first & 0x3f);
            if negative {
                v -= 0x40;
            }
            for &b in rest {
                v = v.checked_mul(256).ok_or_else(bad)? + i128::from(b);
            }
            return Ok(v);
        }
    }
    let text = field
        .iter()
        .position(|&b| b != b' ' && b != 0)
        .map_or(&[][..], |start| &field[start..]);
    let end = text
        .iter()
        .position(|&b| b == b' ' || b == 0)
        .unwrap_or(text.len());
    let mut v = 0i128;
    for &b in &text[..end] {
        if !(b'0'..=b'7').contains(&b) {
            return Err(bad());
        }
        v = v * 8 + i128::from(b - b'0');
    }
    Ok(v)
}

/// The bytes of a NUL-terminated field.
fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

/// The path in a ustar header: `prefix/name` when the POSIX prefix is set.
fn header_path(h: &[u8; 512]) -> Vec<u8> {
    let name = cstr(&h[0..100]);
    let prefix = cstr(&h[345..500]);
    if &h[257..263] == b"ustar\0" && !prefix.is_empty() {
        [prefix, b"/", name].concat()
    } else {
        name.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_number(field: &[u8], expected: Option<i128>) {
        assert_eq!(number(field, "n").ok(), expected, "{field:?}");
    }

    #[test]
    fn numbers() {
        check_number(b"0000644\0", Some(0o644));
        check_number(b"   755 \0", Some(0o755));
        check_number(b"\0\0\0\0", Some(0));
        check_number(b"0008\0", None);
        check_number(&[0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0], Some(1 << 33));
        check_number(&[0xff; 8], Some(-1));
    }
}
