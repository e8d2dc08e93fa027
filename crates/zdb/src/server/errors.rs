//! Engine errors as the exact 0-db reply texts: the one place where a
//! library error becomes wire bytes.

use crate::namespace::{DelError, HistoryError, ReadError, ScanError, SetError};

pub(crate) const FROZEN: &str = "Namespace is temporarily frozen (read-write disabled)";
pub(crate) const LOCKED: &str = "Namespace is temporarily locked (read-only)";
pub(crate) const READ_ONLY: &str = "Namespace is in read-only mode";
pub(crate) const UNEXPECTED_ARGS: &str = "Unexpected arguments";
pub(crate) const INVALID_ARGUMENT: &str = "Invalid argument";
pub(crate) const INVALID_ARGUMENTS: &str = "Invalid arguments";
pub(crate) const MISSING_ARGUMENTS: &str = "Missing arguments";
pub(crate) const INVALID_KEY: &str = "Invalid key";
pub(crate) const KEY_NOT_FOUND: &str = "Key not found";
pub(crate) const INTERNAL: &str = "Internal Error";
pub(crate) const NS_NOT_FOUND: &str = "Namespace not found";
pub(crate) const NS_TOO_LONG: &str = "Namespace too long";
pub(crate) const ARG_TOO_LONG: &str = "Argument too long";
pub(crate) const ACCESS_DENIED: &str = "Access denied";
pub(crate) const NO_CHALLENGE: &str = "No CHALLENGE requested, secure authentication not available";
pub(crate) const ONLY_SECURE: &str = "Only SECURE extra method supported";
pub(crate) const INVALID_HASH_LEN: &str = "Invalid hash length";
pub(crate) const PASSWORD_TOO_LONG: &str = "Password too long";

pub(crate) fn set_error(e: &SetError) -> &'static str {
    match e {
        SetError::Frozen => FROZEN,
        SetError::Locked => LOCKED,
        SetError::Worm => "Namespace is protected by worm mode",
        SetError::NoSpace => "No space left on this namespace",
        SetError::KeyNeeded => "Invalid argument, key needed",
        SetError::OnlyUpdate => "Invalid key, only update authorized",
        SetError::Data(_) => "Cannot write data right now",
        SetError::Index(_) => "Cannot write index right now",
    }
}

pub(crate) fn del_error(e: &DelError) -> &'static str {
    match e {
        DelError::Frozen => FROZEN,
        DelError::Locked => LOCKED,
        DelError::NotFound => KEY_NOT_FOUND,
        DelError::Worm => "Cannot delete a key when namespace is in worm mode",
        DelError::Data(_) => "Cannot delete key (data)",
        DelError::Index(_) => "Cannot delete key (index)",
    }
}

pub(crate) fn read_error(e: &ReadError) -> &'static str {
    match e {
        ReadError::Frozen => FROZEN,
        ReadError::Index(_) => INTERNAL,
    }
}

pub(crate) fn scan_error(e: &ScanError) -> &'static str {
    match e {
        ScanError::Frozen => FROZEN,
        ScanError::BadCursor => "Invalid key format",
        ScanError::End => "No more data",
        ScanError::NotFound => KEY_NOT_FOUND,
        ScanError::Index(_) => INTERNAL,
    }
}

pub(crate) fn history_error(e: &HistoryError) -> &'static str {
    match e {
        HistoryError::Frozen => FROZEN,
        HistoryError::NotFound => KEY_NOT_FOUND,
        HistoryError::End => "No more history",
        HistoryError::BadCursor => "Invalid arguments (index query)",
        HistoryError::OtherKey => "Invalid arguments (invalid key)",
        HistoryError::Data(_) | HistoryError::Index(_) => INTERNAL,
    }
}
