//! Byte layouts of the 0-db v2 files: namespace descriptor, index files and
//! data files. `FORMAT.md` beside this crate describes the same tables with
//! the crash rules; keep the two in step.
//!
//! Every integer is little-endian and every structure is packed. Offsets
//! below are derived from the widths of the fields before them so that the
//! code reads like the table.

use std::fmt;

/// Why a header or entry could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// Fewer bytes than the fixed part of the structure.
    #[error("short {what}: {got} bytes, need {need}")]
    Short {
        /// Which structure was being read.
        what: &'static str,
        /// Bytes available.
        got: usize,
        /// Bytes required.
        need: usize,
    },
    /// The magic bytes at the start of a file do not match.
    #[error("bad magic in {what}: {found:?}")]
    BadMagic {
        /// Which header was being read.
        what: &'static str,
        /// The four bytes found.
        found: [u8; 4],
    },
    /// A version this implementation does not read.
    #[error("unsupported {what} version {found}")]
    BadVersion {
        /// Which header was being read.
        what: &'static str,
        /// The version found.
        found: u32,
    },
    /// An index header names a key mode other than user (0) or seq (1).
    #[error("unknown namespace mode byte {0}")]
    BadMode(u8),
}

/// How keys of a namespace are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Client-chosen binary keys of 1 to 255 bytes, all held in memory.
    User,
    /// Server-assigned 8-byte little-endian ids equal to the slot number in
    /// the index files; nothing per key is held in memory.
    Seq,
}

impl Mode {
    /// The byte stored in index headers.
    pub fn to_byte(self) -> u8 {
        match self {
            Mode::User => 0,
            Mode::Seq => 1,
        }
    }

    /// Reads the mode byte of an index header.
    pub fn from_byte(byte: u8) -> Result<Mode, FormatError> {
        match byte {
            0 => Ok(Mode::User),
            1 => Ok(Mode::Seq),
            other => Err(FormatError::BadMode(other)),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::User => "userkey",
            Mode::Seq => "sequential",
        })
    }
}

fn u32_at(buf: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(buf[off..off + 4].try_into().expect("4-byte slice"))
}

fn u64_at(buf: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(buf[off..off + 8].try_into().expect("8-byte slice"))
}

fn need(what: &'static str, buf: &[u8], n: usize) -> Result<(), FormatError> {
    if buf.len() < n {
        return Err(FormatError::Short {
            what,
            got: buf.len(),
            need: n,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Index file header, 29 bytes:
//
// | off | size | field                                   |
// |-----|------|-----------------------------------------|
// | 0   | 4    | magic "IDX0"                            |
// | 4   | 4    | version = 4                             |
// | 8   | 8    | created (written as 0)                  |
// | 16  | 8    | opened (written as 0)                   |
// | 24  | 4    | file id                                 |
// | 28  | 1    | mode (0 user, 1 seq)                    |

/// Magic at the start of every index file.
pub const INDEX_MAGIC: [u8; 4] = *b"IDX0";
/// Index format version written and accepted.
pub const INDEX_VERSION: u32 = 4;
const IH_VERSION: usize = INDEX_MAGIC.len();
const IH_CREATED: usize = IH_VERSION + 4;
const IH_OPENED: usize = IH_CREATED + 8;
const IH_FILE_ID: usize = IH_OPENED + 8;
/// Offset of the mode byte inside an index header (rewritten by `NSSET mode`).
pub const IH_MODE: usize = IH_FILE_ID + 4;
/// Length of an index file header.
pub const INDEX_HEADER_LEN: usize = IH_MODE + 1;

/// Header of an index file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHeader {
    /// Id of this index file (the `N` of `iN`).
    pub file_id: u32,
    /// Key mode of the namespace when the file was created.
    pub mode: Mode,
}

impl IndexHeader {
    /// Encodes the header; timestamps are zero so replicas write equal bytes.
    pub fn encode(&self) -> [u8; INDEX_HEADER_LEN] {
        let mut out = [0u8; INDEX_HEADER_LEN];
        out[..IH_VERSION].copy_from_slice(&INDEX_MAGIC);
        out[IH_VERSION..IH_CREATED].copy_from_slice(&INDEX_VERSION.to_le_bytes());
        out[IH_FILE_ID..IH_MODE].copy_from_slice(&self.file_id.to_le_bytes());
        out[IH_MODE] = self.mode.to_byte();
        out
    }

    /// Decodes and validates a header.
    pub fn decode(buf: &[u8]) -> Result<IndexHeader, FormatError> {
        need("index header", buf, INDEX_HEADER_LEN)?;
        let magic: [u8; 4] = buf[..4].try_into().expect("4 bytes");
        if magic != INDEX_MAGIC {
            return Err(FormatError::BadMagic {
                what: "index header",
                found: magic,
            });
        }
        let version = u32_at(buf, IH_VERSION);
        if version != INDEX_VERSION {
            return Err(FormatError::BadVersion {
                what: "index",
                found: version,
            });
        }
        let _created = u64_at(buf, IH_CREATED);
        Ok(IndexHeader {
            file_id: u32_at(buf, IH_FILE_ID),
            mode: Mode::from_byte(buf[IH_MODE])?,
        })
    }
}

// ---------------------------------------------------------------------------
// Index entry, 34 bytes followed by the key:
//
// | off | size | field                                                      |
// |-----|------|------------------------------------------------------------|
// | 0   | 1    | key length                                                 |
// | 1   | 4    | data offset (of the data entry header in dN)               |
// | 5   | 4    | payload length                                             |
// | 9   | 4    | previous: offset of the previously appended index entry   |
// | 13  | 1    | flags: bit 0 = deleted (overwritten or removed)           |
// | 14  | 4    | data file id                                               |
// | 18  | 4    | timestamp (unix seconds)                                   |
// | 22  | 4    | crc of the payload                                         |
// | 26  | 4    | parent index file id (history; 0/0 = none)                |
// | 30  | 4    | parent index offset                                        |
// | 34  | n    | key                                                        |

const IE_DATA_OFFSET: usize = 1;
const IE_LENGTH: usize = IE_DATA_OFFSET + 4;
const IE_PREVIOUS: usize = IE_LENGTH + 4;
/// Offset of the flags byte in an index entry, patched in place on delete.
pub const IE_FLAGS: usize = IE_PREVIOUS + 4;
const IE_DATA_ID: usize = IE_FLAGS + 1;
const IE_TIMESTAMP: usize = IE_DATA_ID + 4;
const IE_CRC: usize = IE_TIMESTAMP + 4;
const IE_PARENT_ID: usize = IE_CRC + 4;
const IE_PARENT_OFFSET: usize = IE_PARENT_ID + 4;
/// Length of the fixed part of an index entry.
pub const INDEX_ENTRY_FIXED: usize = IE_PARENT_OFFSET + 4;

/// Entry flag: this version is deleted or superseded.
pub const FLAG_DELETED: u8 = 1;
/// Data entry flag used by compaction tools: the payload was dropped.
pub const FLAG_TRUNCATED: u8 = 2;

/// Length of a sequential id, the key of every seq-mode entry.
pub const SEQ_KEY_LEN: usize = 8;
/// Length of one seq-mode index slot (fixed part plus the 8-byte id).
pub const SEQ_SLOT_LEN: usize = INDEX_ENTRY_FIXED + SEQ_KEY_LEN;

/// The fixed part of an index entry; the key follows it on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexEntry {
    /// Length of the key that follows.
    pub key_len: u8,
    /// Offset of the data entry header in the data file.
    pub data_offset: u32,
    /// Payload length.
    pub length: u32,
    /// Offset of the index entry appended just before this one.
    pub previous: u32,
    /// `FLAG_DELETED` when superseded or removed.
    pub flags: u8,
    /// Data file holding the payload.
    pub data_id: u32,
    /// Unix seconds of the write.
    pub timestamp: u32,
    /// [`crate::zdb_crc32`] of the payload.
    pub crc: u32,
    /// Index file of the previous version of this key (history), 0 if none.
    pub parent_id: u32,
    /// Offset of the previous version in `parent_id`, 0 if none.
    pub parent_offset: u32,
}

impl IndexEntry {
    /// Whether the deleted flag is set.
    pub fn is_deleted(&self) -> bool {
        self.flags & FLAG_DELETED != 0
    }

    /// Size on disk including the key.
    pub fn disk_len(&self) -> usize {
        INDEX_ENTRY_FIXED + usize::from(self.key_len)
    }

    /// Appends the entry followed by `key` to `out`.
    pub fn encode_into(&self, key: &[u8], out: &mut Vec<u8>) {
        debug_assert_eq!(key.len(), usize::from(self.key_len));
        out.push(self.key_len);
        out.extend_from_slice(&self.data_offset.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.previous.to_le_bytes());
        out.push(self.flags);
        out.extend_from_slice(&self.data_id.to_le_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.extend_from_slice(&self.parent_id.to_le_bytes());
        out.extend_from_slice(&self.parent_offset.to_le_bytes());
        out.extend_from_slice(key);
    }

    /// Decodes the fixed part at the start of `buf`.
    pub fn decode(buf: &[u8]) -> Result<IndexEntry, FormatError> {
        need("index entry", buf, INDEX_ENTRY_FIXED)?;
        Ok(IndexEntry {
            key_len: buf[0],
            data_offset: u32_at(buf, IE_DATA_OFFSET),
            length: u32_at(buf, IE_LENGTH),
            previous: u32_at(buf, IE_PREVIOUS),
            flags: buf[IE_FLAGS],
            data_id: u32_at(buf, IE_DATA_ID),
            timestamp: u32_at(buf, IE_TIMESTAMP),
            crc: u32_at(buf, IE_CRC),
            parent_id: u32_at(buf, IE_PARENT_ID),
            parent_offset: u32_at(buf, IE_PARENT_OFFSET),
        })
    }
}

// ---------------------------------------------------------------------------
// Data file header, 28 bytes:
//
// | off | size | field                     |
// |-----|------|---------------------------|
// | 0   | 4    | magic "DAT0"              |
// | 4   | 4    | version = 3               |
// | 8   | 8    | created (written as 0)    |
// | 16  | 8    | opened (written as 0)     |
// | 24  | 4    | file id                   |

/// Magic at the start of every data file.
pub const DATA_MAGIC: [u8; 4] = *b"DAT0";
/// Data format version written and accepted.
pub const DATA_VERSION: u32 = 3;
const DH_VERSION: usize = DATA_MAGIC.len();
const DH_CREATED: usize = DH_VERSION + 4;
const DH_OPENED: usize = DH_CREATED + 8;
const DH_FILE_ID: usize = DH_OPENED + 8;
/// Length of a data file header.
pub const DATA_HEADER_LEN: usize = DH_FILE_ID + 4;

/// Encodes the header of data file `file_id`.
pub fn encode_data_header(file_id: u32) -> [u8; DATA_HEADER_LEN] {
    let mut out = [0u8; DATA_HEADER_LEN];
    out[..DH_VERSION].copy_from_slice(&DATA_MAGIC);
    out[DH_VERSION..DH_CREATED].copy_from_slice(&DATA_VERSION.to_le_bytes());
    out[DH_FILE_ID..].copy_from_slice(&file_id.to_le_bytes());
    out
}

/// Validates a data file header and returns its file id.
pub fn decode_data_header(buf: &[u8]) -> Result<u32, FormatError> {
    need("data header", buf, DATA_HEADER_LEN)?;
    let magic: [u8; 4] = buf[..4].try_into().expect("4 bytes");
    if magic != DATA_MAGIC {
        return Err(FormatError::BadMagic {
            what: "data header",
            found: magic,
        });
    }
    let version = u32_at(buf, DH_VERSION);
    if version != DATA_VERSION {
        return Err(FormatError::BadVersion {
            what: "data",
            found: version,
        });
    }
    Ok(u32_at(buf, DH_FILE_ID))
}

// ---------------------------------------------------------------------------
// Data entry, 18 bytes followed by the key and the payload:
//
// | off | size | field                                               |
// |-----|------|-----------------------------------------------------|
// | 0   | 1    | key length                                          |
// | 1   | 4    | payload length                                      |
// | 5   | 4    | previous: offset of the previous data entry         |
// | 9   | 4    | crc of the payload (0 for delete records)           |
// | 13  | 1    | flags: bit 0 delete record, bit 1 truncated         |
// | 14  | 4    | timestamp                                           |
// | 18  | n    | key                                                 |
// | 18+n| len  | payload                                             |

const DE_LENGTH: usize = 1;
const DE_PREVIOUS: usize = DE_LENGTH + 4;
const DE_CRC: usize = DE_PREVIOUS + 4;
const DE_FLAGS: usize = DE_CRC + 4;
const DE_TIMESTAMP: usize = DE_FLAGS + 1;
/// Length of the fixed part of a data entry.
pub const DATA_ENTRY_FIXED: usize = DE_TIMESTAMP + 4;

/// The fixed part of a data entry; key and payload follow it on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataEntry {
    /// Length of the key that follows.
    pub key_len: u8,
    /// Payload length (0 for delete records).
    pub length: u32,
    /// Offset of the data entry written just before this one.
    pub previous: u32,
    /// [`crate::zdb_crc32`] of the payload.
    pub crc: u32,
    /// `FLAG_DELETED` for a delete record.
    pub flags: u8,
    /// Unix seconds of the write.
    pub timestamp: u32,
}

impl DataEntry {
    /// Size on disk of this entry with its key and payload.
    pub fn disk_len(&self) -> u64 {
        DATA_ENTRY_FIXED as u64 + u64::from(self.key_len) + u64::from(self.length)
    }

    /// Appends the fixed part followed by `key` (not the payload) to `out`.
    pub fn encode_into(&self, key: &[u8], out: &mut Vec<u8>) {
        debug_assert_eq!(key.len(), usize::from(self.key_len));
        out.push(self.key_len);
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.previous.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.push(self.flags);
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        out.extend_from_slice(key);
    }

    /// Decodes the fixed part at the start of `buf`.
    pub fn decode(buf: &[u8]) -> Result<DataEntry, FormatError> {
        need("data entry", buf, DATA_ENTRY_FIXED)?;
        Ok(DataEntry {
            key_len: buf[0],
            length: u32_at(buf, DE_LENGTH),
            previous: u32_at(buf, DE_PREVIOUS),
            crc: u32_at(buf, DE_CRC),
            flags: buf[DE_FLAGS],
            timestamp: u32_at(buf, DE_TIMESTAMP),
        })
    }
}

// ---------------------------------------------------------------------------
// Namespace descriptor `zdb-namespace`:
//
// | off  | size | field                                               |
// |------|------|-----------------------------------------------------|
// | 0    | 4    | version = 1                                         |
// | 4    | 1    | name length                                         |
// | 5    | 1    | password length (0 = none)                          |
// | 6    | 8    | maxsize in bytes (0 = unlimited)                    |
// | 14   | 1    | flags: 1 public, 2 worm, 4 extended (always set)    |
// | 15   | n    | name                                                |
// | 15+n | p    | password                                            |

/// Descriptor format version.
pub const DESCRIPTOR_VERSION: u32 = 1;
const ND_NAME_LEN: usize = 4;
const ND_PASSWORD_LEN: usize = ND_NAME_LEN + 1;
const ND_MAXSIZE: usize = ND_PASSWORD_LEN + 1;
const ND_FLAGS: usize = ND_MAXSIZE + 8;
const ND_FIXED: usize = ND_FLAGS + 1;
const ND_FLAG_PUBLIC: u8 = 1;
const ND_FLAG_WORM: u8 = 2;
const ND_FLAG_EXTENDED: u8 = 4;

/// The persistent properties of a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// Namespace name (at most 128 bytes, no `/`).
    pub name: Vec<u8>,
    /// Password, if any (at most 255 bytes).
    pub password: Option<Vec<u8>>,
    /// Limit on the sum of live payload sizes, 0 = unlimited.
    pub maxsize: u64,
    /// Readable without password.
    pub public: bool,
    /// Write once, read many: no overwrite and no delete.
    pub worm: bool,
}

impl Descriptor {
    /// A fresh namespace: public, no password, no limit, not WORM.
    pub fn new(name: &[u8]) -> Descriptor {
        Descriptor {
            name: name.to_vec(),
            password: None,
            maxsize: 0,
            public: true,
            worm: false,
        }
    }

    /// Encodes the descriptor file contents.
    pub fn encode(&self) -> Vec<u8> {
        let password = self.password.as_deref().unwrap_or(&[]);
        let mut out = Vec::with_capacity(ND_FIXED + self.name.len() + password.len());
        out.extend_from_slice(&DESCRIPTOR_VERSION.to_le_bytes());
        out.push(u8::try_from(self.name.len()).unwrap_or(u8::MAX));
        out.push(u8::try_from(password.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&self.maxsize.to_le_bytes());
        let mut flags = ND_FLAG_EXTENDED;
        if self.public {
            flags |= ND_FLAG_PUBLIC;
        }
        if self.worm {
            flags |= ND_FLAG_WORM;
        }
        out.push(flags);
        out.extend_from_slice(&self.name);
        out.extend_from_slice(password);
        out
    }

    /// Decodes a descriptor file. Trailing bytes (left by a longer earlier
    /// version of the file, which 0-db rewrites without truncating) are ignored.
    pub fn decode(buf: &[u8]) -> Result<Descriptor, FormatError> {
        need("namespace descriptor", buf, ND_FIXED)?;
        let version = u32_at(buf, 0);
        if version != DESCRIPTOR_VERSION {
            return Err(FormatError::BadVersion {
                what: "namespace descriptor",
                found: version,
            });
        }
        let name_len = usize::from(buf[ND_NAME_LEN]);
        let password_len = usize::from(buf[ND_PASSWORD_LEN]);
        need(
            "namespace descriptor",
            buf,
            ND_FIXED + name_len + password_len,
        )?;
        let flags = buf[ND_FLAGS];
        let name = buf[ND_FIXED..ND_FIXED + name_len].to_vec();
        let password = buf[ND_FIXED + name_len..ND_FIXED + name_len + password_len].to_vec();
        Ok(Descriptor {
            name,
            password: (!password.is_empty()).then_some(password),
            maxsize: u64_at(buf, ND_MAXSIZE),
            public: flags & ND_FLAG_PUBLIC != 0,
            worm: flags & ND_FLAG_WORM != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_sizes_match_the_c_server() {
        assert_eq!(INDEX_HEADER_LEN, 29);
        assert_eq!(INDEX_ENTRY_FIXED, 34);
        assert_eq!(SEQ_SLOT_LEN, 42);
        assert_eq!(DATA_HEADER_LEN, 28);
        assert_eq!(DATA_ENTRY_FIXED, 18);
        assert_eq!(IE_FLAGS, 13);
    }

    #[test]
    fn default_descriptor_bytes() {
        // `01000000 07 00 0000000000000000 05 "default"` (22 bytes).
        let bytes = Descriptor::new(b"default").encode();
        let mut expected = vec![1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
        expected.extend_from_slice(b"default");
        assert_eq!(bytes, expected);
        assert_eq!(
            Descriptor::decode(&bytes).unwrap(),
            Descriptor::new(b"default")
        );
    }

    #[test]
    fn descriptor_round_trip_with_password_and_trailing_bytes() {
        let desc = Descriptor {
            name: b"ns".to_vec(),
            password: Some(b"pw".to_vec()),
            maxsize: 1 << 40,
            public: false,
            worm: true,
        };
        let mut bytes = desc.encode();
        bytes.extend_from_slice(b"stale tail");
        assert_eq!(Descriptor::decode(&bytes).unwrap(), desc);
    }

    #[test]
    fn descriptor_rejects_truncation() {
        let bytes = Descriptor::new(b"name").encode();
        for cut in 0..bytes.len() {
            assert!(Descriptor::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn index_header_round_trip_and_errors() {
        let header = IndexHeader {
            file_id: 7,
            mode: Mode::Seq,
        };
        let bytes = header.encode();
        assert_eq!(&bytes[..4], b"IDX0");
        assert_eq!(IndexHeader::decode(&bytes).unwrap(), header);
        let mut bad = bytes;
        bad[0] = b'X';
        assert!(matches!(
            IndexHeader::decode(&bad),
            Err(FormatError::BadMagic { .. })
        ));
        let mut bad = bytes;
        bad[IH_MODE] = 9;
        assert_eq!(IndexHeader::decode(&bad), Err(FormatError::BadMode(9)));
        let mut bad = bytes;
        bad[4] = 3;
        assert!(matches!(
            IndexHeader::decode(&bad),
            Err(FormatError::BadVersion { .. })
        ));
    }

    #[test]
    fn index_entry_round_trip() {
        let entry = IndexEntry {
            key_len: 3,
            data_offset: 28,
            length: 5,
            previous: 29,
            flags: FLAG_DELETED,
            data_id: 2,
            timestamp: 1_700_000_000,
            crc: 0x74d8_f77b,
            parent_id: 1,
            parent_offset: 99,
        };
        let mut bytes = Vec::new();
        entry.encode_into(b"abc", &mut bytes);
        assert_eq!(bytes.len(), entry.disk_len());
        assert_eq!(IndexEntry::decode(&bytes).unwrap(), entry);
        assert_eq!(&bytes[INDEX_ENTRY_FIXED..], b"abc");
        assert_eq!(bytes[IE_FLAGS], FLAG_DELETED);
    }

    #[test]
    fn data_entry_round_trip() {
        let entry = DataEntry {
            key_len: 1,
            length: 10,
            previous: 28,
            crc: 1,
            flags: 0,
            timestamp: 5,
        };
        let mut bytes = Vec::new();
        entry.encode_into(b"k", &mut bytes);
        assert_eq!(bytes.len() as u64, entry.disk_len() - 10);
        assert_eq!(DataEntry::decode(&bytes).unwrap(), entry);
        assert_eq!(decode_data_header(&encode_data_header(4)).unwrap(), 4);
    }
}
