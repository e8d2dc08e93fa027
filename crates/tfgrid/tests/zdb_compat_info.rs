//! The INFO and NSINFO layouts of 0-db: every field name in order, and the
//! values that are known (counters, sizes, paths), against the real
//! `tfgrid zdb` binary.

mod support;

use support::compat::{
    assert_recent, check, check_rows, enter, open_server, Row, INVALID_ARG, OK, UNEXPECTED_ARGS,
    UNSUPPORTED,
};
use support::{bulk_text, Raw, Zdb};

/// `name: value` lines of an INFO/NSINFO body, in order; section lines
/// (`# …`) and blank lines kept as they are.
fn info_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| match l.split_once(": ") {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect()
}

/// The value of `name` in `lines`.
#[track_caller]
fn value<'a>(lines: &'a [(String, String)], name: &str) -> &'a str {
    lines
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {lines:?}"))
}

#[track_caller]
fn assert_two_decimals(name: &str, value: &str) {
    let ok = value.split_once('.').is_some_and(|(i, d)| {
        !i.is_empty()
            && i.bytes().all(|b| b.is_ascii_digit())
            && d.len() == 2
            && d.bytes().all(|b| b.is_ascii_digit())
    });
    assert!(ok, "{name}: {value:?} is not printed with 2 decimals");
}

/// INFO field names in order, up to the byte counters.
const INFO_FIELDS: &[&str] = &[
    "# server",
    "server_name",
    "server_revision",
    "engine_revision",
    "instance_id",
    "boot_time",
    "uptime",
    "",
    "# clients",
    "clients_lifetime",
    "",
    "# internals",
    "sequential_key_size",
    "data_version",
    "index_version",
    "",
    "# stats",
    "commands_executed",
    "commands_failed",
    "commands_unauthorized",
    "index_disk_read_failed",
    "index_disk_write_failed",
    "data_disk_read_failed",
    "data_disk_write_failed",
];

/// INFO byte counters; each is listed as `<name>_bytes` then `<name>_mb`.
const INFO_COUNTERS: &[&str] = &[
    "index_disk_read",
    "index_disk_write",
    "data_disk_read",
    "data_disk_write",
    "network_rx",
    "network_tx",
];

#[test]
fn info_fields_in_order() {
    let (_zdb, mut c) = open_server();
    check(&mut c, "info", &[b"FOOBAR"], UNSUPPORTED);
    check(&mut c, "info", &[b"BARFOO"], UNSUPPORTED);
    let text = bulk_text(&mut c, &[b"INFO"]);
    assert!(text.ends_with('\n'), "INFO ends with a newline: {text:?}");
    let lines = info_lines(&text);
    let names: Vec<&str> = lines.iter().map(|(k, _)| k.as_str()).collect();
    let sized: Vec<String> = INFO_COUNTERS
        .iter()
        .flat_map(|p| [format!("{p}_bytes"), format!("{p}_mb")])
        .collect();
    let mut expected = INFO_FIELDS.to_vec();
    expected.extend(sized.iter().map(String::as_str));
    assert_eq!(names, expected, "INFO field names and order:\n{text}");
    for (name, want) in [
        ("server_name", "0-db (zdb)"),
        ("sequential_key_size", "8"),
        ("data_version", "3"),
        ("index_version", "4"),
        // The two unknown commands above.
        ("commands_failed", "2"),
        ("commands_unauthorized", "0"),
    ] {
        assert_eq!(value(&lines, name), want, "INFO {name}");
    }
    let number = |name: &str| -> u64 { value(&lines, name).parse().unwrap() };
    assert_recent("boot_time", number("boot_time"));
    assert!(number("uptime") < 60);
    assert!(number("clients_lifetime") >= 1);
    assert!(value(&lines, "instance_id").parse::<u32>().is_ok());
    for name in sized.iter().filter(|n| n.ends_with("_mb")) {
        assert_two_decimals(name, value(&lines, name));
    }
    assert!(number("network_rx_bytes") > 0);
    // commands_executed counts this INFO too.
    let again = info_lines(&bulk_text(&mut c, &[b"INFO"]));
    let executed =
        |l: &[(String, String)]| -> u64 { value(l, "commands_executed").parse().unwrap() };
    assert_eq!(executed(&again), executed(&lines) + 1);
}

/// NSINFO fields every client sees.
const NSINFO_BASE: &[&str] = &[
    "# namespace",
    "name",
    "entries",
    "public",
    "worm",
    "locked",
    "password",
    "data_size_bytes",
    "data_size_mb",
    "data_limits_bytes",
    "index_size_bytes",
    "index_size_kb",
    "next_internal_id",
    "mode",
    "stats_index_io_errors",
    "stats_index_io_error_last",
    "stats_index_faults",
    "stats_data_io_errors",
    "stats_data_io_error_last",
    "stats_data_faults",
];

/// NSINFO free space of the disks, after `space_available` when set.
const NSINFO_DISK: &[&str] = &[
    "index_disk_freespace_bytes",
    "index_disk_freespace_mb",
    "data_disk_freespace_bytes",
    "data_disk_freespace_mb",
];

/// NSINFO fields only an admin sees, last.
const NSINFO_ADMIN: &[&str] = &[
    "data_path",
    "data_active",
    "index_path",
    "index_active",
    "data_current_id",
    "data_current_offset",
];

/// Known NSINFO values of namespace `n` after the rows of the test.
const NSINFO_VALUES: &[(&str, &str)] = &[
    ("name", "n"),
    ("entries", "2"),
    ("public", "yes"),
    ("worm", "no"),
    ("locked", "no"),
    ("password", "no"),
    ("data_size_bytes", "8"),
    ("data_size_mb", "0.00"),
    ("data_limits_bytes", "100"),
    ("index_size_bytes", "131"),
    ("index_size_kb", "0.13"),
    ("next_internal_id", "0x200000000000000"),
    ("mode", "userkey"),
    ("stats_index_io_errors", "0"),
    ("stats_index_faults", "0"),
    ("stats_data_io_errors", "0"),
    ("stats_data_faults", "0"),
    ("space_available", "92"),
    ("data_current_id", "0"),
    // Header 28 + (18 + 1 + 3) + (18 + 2 + 5).
    ("data_current_offset", "75"),
];

#[test]
fn nsinfo_fields_in_order_and_values() {
    let zdb = Zdb::start(&["--admin", "secret"]);
    let mut c = Raw::connect(zdb.addr());
    check(&mut c, "nsinfo", &[b"AUTH", b"secret"], OK);
    enter(&mut c, "n");
    #[rustfmt::skip]
    check_rows(&mut c, &[
        Row("nsinfo", &[b"SET", b"a", b"xyz"], b"$1\r\na\r\n"),
        Row("nsinfo", &[b"SET", b"bb", b"12345"], b"$2\r\nbb\r\n"),
        Row("nsinfo", &[b"NSSET", b"n", b"maxsize", b"100"], OK),
    ]);
    let text = bulk_text(&mut c, &[b"NSINFO", b"n"]);
    let lines = info_lines(&text);
    let names: Vec<&str> = lines.iter().map(|(k, _)| k.as_str()).collect();
    let expected = [NSINFO_BASE, &["space_available"], NSINFO_DISK, NSINFO_ADMIN].concat();
    assert_eq!(names, expected, "NSINFO (admin, maxsize) fields:\n{text}");
    let path = |root: std::path::PathBuf, rel: &str| root.join(rel).display().to_string();
    let paths = [
        ("data_path", path(zdb.data_root(), "n")),
        ("data_active", path(zdb.data_root(), "n/d0")),
        ("index_path", path(zdb.index_root(), "n")),
        ("index_active", path(zdb.index_root(), "n/i0")),
    ];
    let known = NSINFO_VALUES
        .iter()
        .map(|&(name, want)| (name, want.to_owned()));
    for (name, want) in known.chain(paths) {
        assert_eq!(value(&lines, name), want, "NSINFO {name}:\n{text}");
    }
    for &name in NSINFO_DISK {
        let v = value(&lines, name);
        if name.ends_with("_mb") {
            assert_two_decimals(name, v);
        } else {
            assert!(v.parse::<u64>().unwrap() > 0, "{name}: {v}");
        }
    }
    // Without admin rights and without maxsize: only the base and disk fields.
    check(&mut c, "nsinfo", &[b"NSSET", b"n", b"maxsize", b"0"], OK);
    let mut plain = Raw::connect(zdb.addr());
    let text = bulk_text(&mut plain, &[b"NSINFO", b"n"]);
    let names: Vec<String> = info_lines(&text).into_iter().map(|(k, _)| k).collect();
    let expected = [NSINFO_BASE, NSINFO_DISK].concat();
    assert_eq!(
        names, expected,
        "NSINFO (no admin, no maxsize) fields:\n{text}"
    );
    check(&mut plain, "nsinfo", &[b"NSINFO"], UNEXPECTED_ARGS);
    check(&mut plain, "nsinfo", &[b"NSINFO", b""], INVALID_ARG);
}
