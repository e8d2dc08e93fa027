//! The text bodies of INFO and NSINFO, field for field as the C server
//! prints them (zos parses NSINFO as YAML, zstor splits it on `": "`).

use std::ffi::CString;
use std::fmt::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::Shared;
use crate::namespace::{LockState, Namespace};

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Free bytes for unprivileged users on the filesystem holding `path`.
fn free_space(path: &Path) -> Option<u64> {
    let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a valid NUL-terminated string and `st` is a
    // correctly sized out-parameter that statvfs fills on success.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    Some(st.f_bsize.saturating_mul(st.f_bavail))
}

/// NSINFO text.
pub(crate) fn nsinfo(ns: &Namespace, admin: bool) -> String {
    let stats = ns.stats();
    let desc = ns.descriptor();
    let mut s = String::with_capacity(1024);
    let _ = writeln!(s, "# namespace");
    let _ = writeln!(s, "name: {}", String::from_utf8_lossy(&desc.name));
    let _ = writeln!(s, "entries: {}", stats.entries);
    let _ = writeln!(s, "public: {}", yes_no(desc.public));
    let _ = writeln!(s, "worm: {}", yes_no(desc.worm));
    let _ = writeln!(
        s,
        "locked: {}",
        yes_no(ns.lock_state() != LockState::Unlocked)
    );
    let _ = writeln!(s, "password: {}", yes_no(desc.password.is_some()));
    let _ = writeln!(s, "data_size_bytes: {}", stats.used);
    let _ = writeln!(s, "data_size_mb: {:.2}", mb(stats.used));
    let _ = writeln!(s, "data_limits_bytes: {}", desc.maxsize);
    let _ = writeln!(s, "index_size_bytes: {}", stats.index_size);
    let _ = writeln!(s, "index_size_kb: {:.2}", stats.index_size as f64 / 1024.0);
    // The C server prints the counter byte-swapped; clients only display it.
    let _ = writeln!(
        s,
        "next_internal_id: 0x{:08x}",
        stats.next_internal_id.swap_bytes()
    );
    let _ = writeln!(s, "mode: {}", ns.mode());
    let _ = writeln!(s, "stats_index_io_errors: {}", stats.index_io_errors);
    let _ = writeln!(
        s,
        "stats_index_io_error_last: {}",
        stats.index_io_error_last
    );
    let _ = writeln!(s, "stats_index_faults: 0");
    let _ = writeln!(s, "stats_data_io_errors: {}", stats.data_io_errors);
    let _ = writeln!(s, "stats_data_io_error_last: {}", stats.data_io_error_last);
    let _ = writeln!(s, "stats_data_faults: 0");
    if desc.maxsize > 0 {
        let _ = writeln!(
            s,
            "space_available: {}",
            desc.maxsize.wrapping_sub(stats.used)
        );
    }
    if let Some(free) = free_space(ns.index_dir()) {
        let _ = writeln!(s, "index_disk_freespace_bytes: {free}");
        let _ = writeln!(s, "index_disk_freespace_mb: {:.2}", mb(free));
    }
    if let Some(free) = free_space(ns.data_dir()) {
        let _ = writeln!(s, "data_disk_freespace_bytes: {free}");
        let _ = writeln!(s, "data_disk_freespace_mb: {:.2}", mb(free));
    }
    if admin {
        let (index_active, data_active) = ns.active_paths();
        let _ = writeln!(s, "data_path: {}", ns.data_dir().display());
        let _ = writeln!(s, "data_active: {}", data_active.display());
        let _ = writeln!(s, "index_path: {}", ns.index_dir().display());
        let _ = writeln!(s, "index_active: {}", index_active.display());
        let _ = writeln!(s, "data_current_id: {}", ns.active_file_id());
        let _ = writeln!(s, "data_current_offset: {}", ns.active_data_len());
    }
    s
}

/// INFO text.
pub(crate) fn info(shared: &Shared) -> String {
    let c = &shared.counters;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let io = crate::append_file::io_counters();
    let mut s = String::with_capacity(1024);
    let _ = writeln!(s, "# server");
    let _ = writeln!(s, "server_name: 0-db (zdb)");
    let _ = writeln!(s, "server_revision: tfgrid-{}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(s, "engine_revision: tfgrid-{}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(s, "instance_id: {}", shared.instance_id);
    let _ = writeln!(s, "boot_time: {}", shared.boot_time);
    let _ = writeln!(s, "uptime: {}", now.saturating_sub(shared.boot_time));
    let _ = writeln!(s);
    let _ = writeln!(s, "# clients");
    let _ = writeln!(s, "clients_lifetime: {}", load(&c.clients_lifetime));
    let _ = writeln!(s);
    let _ = writeln!(s, "# internals");
    let _ = writeln!(s, "sequential_key_size: 8");
    let _ = writeln!(s, "data_version: 3");
    let _ = writeln!(s, "index_version: 4");
    let _ = writeln!(s);
    let _ = writeln!(s, "# stats");
    let _ = writeln!(s, "commands_executed: {}", load(&c.commands_executed));
    let _ = writeln!(s, "commands_failed: {}", load(&c.commands_failed));
    let _ = writeln!(
        s,
        "commands_unauthorized: {}",
        load(&c.commands_unauthorized)
    );
    let _ = writeln!(s, "index_disk_read_failed: {}", io.index_read_failed);
    let _ = writeln!(s, "index_disk_write_failed: {}", io.index_write_failed);
    let _ = writeln!(s, "data_disk_read_failed: {}", io.data_read_failed);
    let _ = writeln!(s, "data_disk_write_failed: {}", io.data_write_failed);
    for (name, bytes) in [
        ("index_disk_read", io.index_read),
        ("index_disk_write", io.index_written),
        ("data_disk_read", io.data_read),
        ("data_disk_write", io.data_written),
        ("network_rx", load(&c.network_rx)),
        ("network_tx", load(&c.network_tx)),
    ] {
        let _ = writeln!(s, "{name}_bytes: {bytes}");
        let _ = writeln!(s, "{name}_mb: {:.2}", mb(bytes));
    }
    s
}
