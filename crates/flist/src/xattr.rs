//! Extended attributes of a path, without following a final symlink.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Largest attribute list or value read (the kernel's own limit is 64 KiB).
const MAX_XATTR: usize = 64 * 1024;

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Every (name, value) of `path`. Filesystems without xattr support give
/// an empty list.
pub(crate) fn list(path: &Path) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let cpath = c_path(path)?;
    let mut names = vec![0u8; MAX_XATTR];
    // SAFETY: `names` is a writable buffer of the length passed.
    let n = unsafe { libc::llistxattr(cpath.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ENOTSUP) => Ok(Vec::new()),
            _ => Err(err),
        };
    }
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let cname = CString::new(name).expect("split on NUL");
        let mut value = vec![0u8; MAX_XATTR];
        // SAFETY: both strings are NUL-terminated; `value` is writable.
        let len = unsafe {
            libc::lgetxattr(
                cpath.as_ptr(),
                cname.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if len < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENODATA) {
                continue; // removed meanwhile
            }
            return Err(err);
        }
        value.truncate(len as usize);
        out.push((name.to_vec(), value));
    }
    Ok(out)
}

/// Sets one attribute on `path` (not following a final symlink).
pub(crate) fn set(path: &Path, name: &[u8], value: &[u8]) -> io::Result<()> {
    let cpath = c_path(path)?;
    let cname = CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "xattr name contains a NUL byte",
        )
    })?;
    // SAFETY: NUL-terminated strings and a readable value buffer.
    let rc = unsafe {
        libc::lsetxattr(
            cpath.as_ptr(),
            cname.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
