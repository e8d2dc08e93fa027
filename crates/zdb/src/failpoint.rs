//! Crash injection for tests: `TFGRID_FAILPOINTS=name1,name2` makes the
//! process abort when it reaches a named point, so end-to-end tests can
//! check recovery from a crash at that exact step.

use std::sync::OnceLock;

fn enabled() -> &'static [String] {
    static POINTS: OnceLock<Vec<String>> = OnceLock::new();
    POINTS.get_or_init(|| {
        std::env::var("TFGRID_FAILPOINTS")
            .map(|v| v.split(',').map(str::to_owned).collect())
            .unwrap_or_default()
    })
}

/// Aborts the process if `name` is listed in `TFGRID_FAILPOINTS`.
pub(crate) fn hit(name: &str) {
    if enabled().iter().any(|p| p == name) {
        eprintln!("failpoint {name} reached: aborting");
        std::process::abort();
    }
}
