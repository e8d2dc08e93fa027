//! Streams over the input: compression found by magic bytes, and a byte budget and digests on every layer.
//!
//! A layer (or a plain rootfs archive) is read through this chain:
//!
//! ```text
//! raw bytes ─ Metered (sha256 of the blob) ─ Prefixed (sniffed magic) ─ Decoded (gzip/zstd/plain)
//!           ─ Metered (budget, sha256 of the tar = diff id) ─ TarReader
//! ```
//!
//! [`finish_stream`] drains both ends after the end-of-archive marker so the
//! digests cover every byte and trailing garbage counts against the budget.

use std::io::{self, BufReader, Read};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::tar::{TarLimits, TarReader, TarSource};
use crate::pack::read_full;

/// Buffer between the input and the decoders (tar headers are read 512
/// bytes at a time).
const READ_BUFFER: usize = 256 * 1024;

/// How a stream is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compression {
    None,
    Gzip,
    Zstd,
}

pub(super) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// A budget overrun, carried inside an `io::Error` through the decoders.
#[derive(Debug)]
pub(super) struct LimitExceeded {
    pub(super) limit: u64,
}

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "more uncompressed data than the byte limit allows ({} bytes were left)",
            self.limit
        )
    }
}

impl std::error::Error for LimitExceeded {}

/// Counts what flows through, fails past `limit`, and optionally hashes it.
pub(super) struct Metered<R> {
    inner: R,
    hasher: Option<Sha256>,
    n: u64,
    limit: u64,
}

impl<R: Read> Metered<R> {
    pub(super) fn new(inner: R, hash: bool, limit: u64) -> Self {
        Metered {
            inner,
            hasher: hash.then(Sha256::new),
            n: 0,
            limit,
        }
    }

    /// The reader, the byte count and the digest if hashing.
    fn finish(self) -> (R, u64, Option<[u8; 32]>) {
        (self.inner, self.n, self.hasher.map(|h| h.finalize().into()))
    }
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        if self.n > self.limit {
            return Err(io::Error::other(LimitExceeded { limit: self.limit }));
        }
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

impl<R: Read> TarSource for Metered<R> {}

/// The bytes read to sniff the compression, then the rest of the input.
pub(super) struct Prefixed<R> {
    head: [u8; 4],
    len: usize,
    pos: usize,
    inner: R,
}

impl<R: Read> Read for Prefixed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.len {
            let n = buf.len().min(self.len - self.pos);
            buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// A stream decompressed according to its magic bytes.
pub(super) enum Decoded<R: Read> {
    Plain(R),
    Gzip(MultiGzDecoder<R>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<R>>),
}

impl<R: Read> Decoded<R> {
    fn into_inner(self) -> R {
        match self {
            Decoded::Plain(r) => r,
            Decoded::Gzip(d) => d.into_inner(),
            Decoded::Zstd(d) => d.finish().into_inner(),
        }
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Gzip(d) => d.read(buf),
            Decoded::Zstd(d) => d.read(buf),
        }
    }
}

/// Sniffs `inner` and wraps it in the matching decoder.
pub(super) fn decode<R: Read>(mut inner: R) -> io::Result<(Compression, Decoded<Prefixed<R>>)> {
    let mut head = [0u8; 4];
    let len = read_full(&mut inner, &mut head)?;
    let compression = sniff(&head[..len]);
    let prefixed = Prefixed {
        head,
        len,
        pos: 0,
        inner,
    };
    let decoded = match compression {
        Compression::None => Decoded::Plain(prefixed),
        Compression::Gzip => Decoded::Gzip(MultiGzDecoder::new(prefixed)),
        Compression::Zstd => Decoded::Zstd(zstd::stream::read::Decoder::new(prefixed)?),
    };
    Ok((compression, decoded))
}

/// A layer or rootfs archive being read.
pub(super) type Stream = TarReader<Metered<Decoded<Prefixed<Metered<Box<dyn Read>>>>>>;

/// What [`finish_stream`] measured.
pub(super) struct StreamEnd {
    /// SHA-256 of the raw (possibly compressed) bytes, if asked for.
    pub(super) blob: Option<[u8; 32]>,
    /// SHA-256 of the uncompressed tar, if asked for.
    pub(super) diff: Option<[u8; 32]>,
    /// Uncompressed bytes read.
    pub(super) bytes: u64,
}

/// Opens a tar stream over `raw`, decompressed by its magic bytes; the
/// uncompressed bytes may not exceed `budget`.
pub(super) fn open_stream(
    raw: Box<dyn Read>,
    hash_blob: bool,
    hash_tar: bool,
    budget: u64,
    limits: TarLimits,
) -> io::Result<Stream> {
    let raw: Box<dyn Read> = Box::new(BufReader::with_capacity(READ_BUFFER, raw));
    let (_, decoded) = decode(Metered::new(raw, hash_blob, u64::MAX))?;
    Ok(TarReader::new(
        Metered::new(decoded, hash_tar, budget),
        limits,
    ))
}

/// Uncompressed bytes read so far from a stream.
pub(super) fn bytes_read(stream: &Stream) -> u64 {
    stream.get_ref().n
}

/// Reads both layers of a stream to their end and returns the digests.
pub(super) fn finish_stream(tar: Stream) -> io::Result<StreamEnd> {
    let mut tar_bytes = tar.into_inner();
    io::copy(&mut tar_bytes, &mut io::sink())?;
    let (decoded, bytes, diff) = tar_bytes.finish();
    let mut raw = decoded.into_inner().inner;
    io::copy(&mut raw, &mut io::sink())?;
    let (_, _, blob) = raw.finish();
    Ok(StreamEnd { blob, diff, bytes })
}
