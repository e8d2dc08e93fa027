//! Writable mounts: the kernel's overlayfs over a read-only flist mount, and the unmount helper both mounts use.
//!
//! As zos does it: the flist mount is the lower layer, a local directory
//! takes every change (copy-up on write, whiteouts for deletions), and the
//! merged view is mounted at the target. Needs root (`CAP_SYS_ADMIN`).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{io_err, is_root, MountError};

/// A mounted overlay; dropping it unmounts it (lazily if it is busy).
#[derive(Debug)]
pub struct OverlayHandle {
    target: PathBuf,
    mounted: bool,
}

impl OverlayHandle {
    /// Where the merged view is mounted (canonical path).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Unmounts the overlay. If it is busy it is detached lazily instead,
    /// and the error says so.
    pub fn unmount(mut self) -> Result<(), MountError> {
        self.mounted = false;
        unmount_or_detach(&self.target)
    }
}

impl Drop for OverlayHandle {
    fn drop(&mut self) {
        if self.mounted {
            if let Err(e) = unmount_or_detach(&self.target) {
                tracing::warn!("{e}");
            }
        }
    }
}

/// Unmounts `path`, waiting up to [`RELEASE_GRACE`] while it is busy: a
/// file closed just before (say, by a command that has just exited) keeps
/// the mount busy until the kernel has delivered its release.
pub(super) fn unmount_when_released(path: &Path) -> io::Result<()> {
    let deadline = std::time::Instant::now() + RELEASE_GRACE;
    loop {
        match unmount(path, false) {
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// How long an unmount waits for late file releases before giving up.
const RELEASE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Unmounts `path`; when still busy after the grace, detaches it and still reports the error.
fn unmount_or_detach(path: &Path) -> Result<(), MountError> {
    match unmount_when_released(path) {
        Ok(()) => Ok(()),
        Err(e) => {
            if let Err(e) = unmount(path, true) {
                tracing::error!(path = %path.display(), "failed to detach mount: {e}");
            }
            Err(io_err("unmount", path)(e))
        }
    }
}

/// Mounts an overlay at `target` with the flist mount `lower` as its
/// read-only layer, `upper` receiving changes and `work` as overlayfs's
/// scratch directory (same filesystem as `upper`, empty). `upper` and `work`
/// are created if missing.
pub fn mount_overlay(
    lower: &Path,
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<OverlayHandle, MountError> {
    for dir in [upper, work] {
        std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    let canonical = |p: &Path| p.canonicalize().map_err(io_err("find", p));
    let (lower, upper, work, target) = (
        canonical(lower)?,
        canonical(upper)?,
        canonical(work)?,
        canonical(target)?,
    );
    let mut data = b"lowerdir=".to_vec();
    escape_into(&mut data, &lower);
    data.extend_from_slice(b",upperdir=");
    escape_into(&mut data, &upper);
    data.extend_from_slice(b",workdir=");
    escape_into(&mut data, &work);
    let invalid = |_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte");
    let c_target = CString::new(target.as_os_str().as_bytes())
        .map_err(invalid)
        .map_err(io_err("mount overlay on", &target))?;
    let c_data = CString::new(data)
        .map_err(invalid)
        .map_err(io_err("mount overlay on", &target))?;
    // SAFETY: every pointer is a NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::mount(
            c"overlay".as_ptr(),
            c_target.as_ptr(),
            c"overlay".as_ptr(),
            0,
            c_data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(io_err("mount overlay on", &target)(
            io::Error::last_os_error(),
        ));
    }
    Ok(OverlayHandle {
        target,
        mounted: true,
    })
}

/// Appends `path` with overlayfs's separators (`,` and `:`) and `\` escaped.
fn escape_into(out: &mut Vec<u8>, path: &Path) {
    for &b in path.as_os_str().as_bytes() {
        if matches!(b, b'\\' | b',' | b':') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Unmounts `path` (`lazy`: detach now, finish when unused). Without root,
/// falls back to `fusermount3 -u` / `fusermount -u` for FUSE mounts.
pub(super) fn unmount(path: &Path, lazy: bool) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let flags = if lazy { libc::MNT_DETACH } else { 0 };
    // SAFETY: a NUL-terminated path that outlives the call.
    if unsafe { libc::umount2(c_path.as_ptr(), flags) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if is_root() || err.raw_os_error() != Some(libc::EPERM) {
        return Err(err);
    }
    let mut last = err;
    for tool in ["fusermount3", "fusermount"] {
        let mut cmd = Command::new(tool);
        cmd.arg("-u").arg("-q");
        if lazy {
            cmd.arg("-z");
        }
        match cmd.arg(path).output() {
            Ok(out) if out.status.success() => return Ok(()),
            Ok(out) => {
                let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
                return Err(io::Error::other(format!("{tool} -u: {msg}")));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_escaped() {
        let mut out = Vec::new();
        escape_into(&mut out, Path::new("/a,b:c\\d"));
        assert_eq!(out, b"/a\\,b\\:c\\\\d");
    }
}
