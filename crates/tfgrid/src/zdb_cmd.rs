//! `tfgrid zdb`: run a 0-db server with the flags of the C `zdb` daemon.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use zdb::server::{Server, ServerConfig};
use zdb::{DbConfig, Hooks, Mode};

/// Flags of `tfgrid zdb`; names follow the C daemon so existing command
/// lines keep working.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct ZdbArgs {
    #[command(subcommand)]
    command: Option<ZdbCommand>,
    /// Data directory. Alone, it holds `data/` and `index/`; with --index it
    /// is the data root itself, as in the C daemon.
    #[arg(long, env = "TFGRID_ZDB_DATA")]
    data: Option<PathBuf>,
    /// Index root (namespace descriptors and index files).
    #[arg(long, env = "TFGRID_ZDB_INDEX")]
    index: Option<PathBuf>,
    /// TCP address to listen on.
    #[arg(long, default_value = "::", env = "TFGRID_ZDB_LISTEN")]
    listen: IpAddr,
    /// TCP port.
    #[arg(long, default_value_t = 9900, env = "TFGRID_ZDB_PORT")]
    port: u16,
    /// Unix socket path; disables TCP unless --dualnet.
    #[arg(long, env = "TFGRID_ZDB_SOCKET")]
    socket: Option<PathBuf>,
    /// Listen on both the unix socket and TCP.
    #[arg(long)]
    dualnet: bool,
    /// Force one key mode for every namespace: user, seq (or direct).
    /// Without it each namespace chooses (NSSET ns mode ...).
    #[arg(long, value_parser = parse_mode, env = "TFGRID_ZDB_MODE")]
    mode: Option<Mode>,
    /// Data file size before a new file pair starts (k/M/G suffixes,
    /// 512k to under 4G).
    #[arg(long, default_value = "256M", value_parser = parse_datasize, env = "TFGRID_ZDB_DATASIZE")]
    datasize: u64,
    /// Admin password; without it every client is admin.
    #[arg(long, env = "TFGRID_ZDB_ADMIN", hide_env_values = true)]
    admin: Option<String>,
    /// Give the default namespace the admin password (needs --admin).
    #[arg(long)]
    protect: bool,
    /// Size limit of the default namespace in bytes (0 = none).
    #[arg(long, default_value_t = 0)]
    maxsize: u64,
    /// Executable called on events (ready, jump-index, namespace-created, ...).
    #[arg(long)]
    hook: Option<PathBuf>,
    /// fsync every write batch before replying.
    #[arg(long)]
    sync: bool,
    /// fsync on a write when the last fsync is older than this many seconds.
    #[arg(long, default_value_t = 0)]
    synctime: u64,
    /// fsync before rotating to a new file pair.
    #[arg(long)]
    secure: bool,
    /// Start a new file pair every this many seconds in written namespaces.
    #[arg(long, default_value_t = 0)]
    rotate: u64,
    /// Most clients served at once.
    #[arg(long, default_value_t = 10_000)]
    max_clients: usize,
    /// Load the database, print what each namespace holds, and exit.
    #[arg(long)]
    dump: bool,
    /// Worker threads [default: half the cores, 1 to 4]. Commands run one
    /// at a time under the database lock, so extra threads only parse and
    /// move bytes; on small machines one thread leaves the other cores to
    /// the clients and the kernel.
    #[arg(long, env = "TFGRID_ZDB_THREADS")]
    threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
enum ZdbCommand {
    /// Rewrite namespaces offline, keeping only live values, and give back
    /// the space of deleted and overwritten ones. Refuses to run while a
    /// server holds the directories.
    Compact(CompactArgs),
}

#[derive(Debug, Args)]
struct CompactArgs {
    /// Data directory (as for `tfgrid zdb`).
    #[arg(long, env = "TFGRID_ZDB_DATA")]
    data: Option<PathBuf>,
    /// Index root (as for `tfgrid zdb`).
    #[arg(long, env = "TFGRID_ZDB_INDEX")]
    index: Option<PathBuf>,
    /// Data file size of the rewritten files.
    #[arg(long, default_value = "256M", value_parser = parse_datasize)]
    datasize: u64,
    /// Namespaces to compact (default: all).
    namespaces: Vec<String>,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "user" => Ok(Mode::User),
        "seq" | "direct" => Ok(Mode::Seq),
        other => Err(format!("invalid mode {other:?} (expected user or seq)")),
    }
}

/// `256M`, `512k`, `1G`, or plain bytes; bounds as in the C daemon.
pub(crate) fn parse_datasize(s: &str) -> Result<u64, String> {
    let digits = s.trim().chars().take_while(char::is_ascii_digit).count();
    let (num, suffix) = s.trim().split_at(digits);
    let n: u64 = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mult: u64 = match suffix.chars().next().map(|c| c.to_ascii_uppercase()) {
        None => 1,
        Some('K') => 1 << 10,
        Some('M') => 1 << 20,
        Some('G') => 1 << 30,
        Some('T') => 1 << 40,
        Some(_) => return Err(format!("invalid size suffix in {s:?}")),
    };
    let size = n
        .checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} too large"))?;
    if !(512 << 10..4 << 30).contains(&size) {
        return Err(format!(
            "datasize must be at least 512k and below 4G, got {size}"
        ));
    }
    Ok(size)
}

fn default_base() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/tfgrid/zdb");
    }
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data_home.join("tfgrid/zdb")
}

fn roots(data: &Option<PathBuf>, index: &Option<PathBuf>) -> (PathBuf, PathBuf) {
    match (data, index) {
        (Some(data), Some(index)) => (data.clone(), index.clone()),
        (None, Some(index)) => (default_base().join("data"), index.clone()),
        (data, None) => {
            let base = data.clone().unwrap_or_else(default_base);
            (base.join("data"), base.join("index"))
        }
    }
}

fn compact(args: CompactArgs) -> anyhow::Result<ExitCode> {
    let mut db = zdb::Db::open(offline_config(&args.data, &args.index, args.datasize))
        .context("open zdb directories")?;
    let mut total = 0u64;
    let mut found = Vec::new();
    for ns in db.namespaces_mut() {
        let name = String::from_utf8_lossy(ns.name()).into_owned();
        if !args.namespaces.is_empty() && !args.namespaces.contains(&name) {
            continue;
        }
        found.push(name.clone());
        eprint!("compacting {name} ... ");
        let stats = ns
            .compact()
            .with_context(|| format!("compact namespace {name}"))?;
        eprintln!(
            "{} live entries, {} -> {} bytes",
            stats.entries, stats.bytes_before, stats.bytes_after
        );
        total += stats.reclaimed();
    }
    for wanted in &args.namespaces {
        if !found.contains(wanted) {
            bail!("no namespace called {wanted:?}");
        }
    }
    println!("reclaimed {total} bytes");
    Ok(ExitCode::SUCCESS)
}

/// Storage settings for opening the directories without serving.
fn offline_config(data: &Option<PathBuf>, index: &Option<PathBuf>, datasize: u64) -> DbConfig {
    let (data_root, index_root) = roots(data, index);
    DbConfig {
        data_root,
        index_root,
        mode: None,
        datasize,
        default_password: None,
        default_maxsize: 0,
        sync_on_rotate: true,
        hooks: Arc::new(Hooks::none()),
    }
}

/// `--dump`: one line per namespace.
fn dump(args: &ZdbArgs) -> anyhow::Result<ExitCode> {
    let db = zdb::Db::open(offline_config(&args.data, &args.index, args.datasize))
        .context("open zdb directories")?;
    println!("namespace\tmode\tentries\tdata_bytes\tfiles\tpublic\tpassword");
    for ns in db.namespaces() {
        let stats = ns.stats();
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            String::from_utf8_lossy(ns.name()),
            ns.mode(),
            stats.entries,
            stats.used,
            ns.active_file_id() + 1,
            ns.descriptor().public,
            ns.descriptor().password.is_some(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Half the cores, between 1 and 4 (measured: on 2 cores one worker serves
/// unpipelined clients about 30% faster than two; see BENCHMARKS.md).
fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).clamp(1, 4)
}

/// Raises the open-file limit to its hard maximum: every client and every
/// data file of every namespace holds a descriptor.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::warn!("failed to raise the open-file limit");
            }
        }
    }
}

pub(crate) fn run(args: ZdbArgs) -> anyhow::Result<ExitCode> {
    if let Some(ZdbCommand::Compact(compact_args)) = args.command {
        return compact(compact_args);
    }
    if args.dump {
        return dump(&args);
    }
    if args.protect && args.admin.is_none() {
        bail!("--protect needs --admin");
    }
    let (data_root, index_root) = roots(&args.data, &args.index);
    let tcp =
        (args.socket.is_none() || args.dualnet).then(|| SocketAddr::new(args.listen, args.port));
    let config = ServerConfig {
        db: DbConfig {
            data_root,
            index_root,
            mode: args.mode,
            datasize: args.datasize,
            default_password: None,
            default_maxsize: args.maxsize,
            sync_on_rotate: args.secure,
            hooks: Arc::new(Hooks::none()),
        },
        tcp,
        socket: args.socket.clone(),
        admin: args.admin.clone().map(String::into_bytes),
        protect: args.protect,
        sync: args.sync,
        sync_time: (args.synctime > 0).then(|| Duration::from_secs(args.synctime)),
        rotate: (args.rotate > 0).then(|| Duration::from_secs(args.rotate)),
        max_clients: args.max_clients,
    };
    raise_fd_limit();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.worker_threads(args.threads.unwrap_or_else(default_threads).max(1));
    let runtime = runtime
        .enable_all()
        .build()
        .context("start async runtime")?;
    runtime.block_on(async move {
        let shutdown = shutdown_signal()?;
        let server = Server::bind(config.clone(), args.hook.clone())
            .await
            .context("start zdb server")?;
        if let Some(addr) = server.local_addr() {
            tracing::info!("zdb listening on {addr}");
        }
        if let Some(path) = &config.socket {
            tracing::info!("zdb listening on unix socket {}", path.display());
        }
        tracing::info!(
            "data in {}, index in {}",
            config.db.data_root.display(),
            config.db.index_root.display()
        );
        server.run(shutdown).await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Installs the SIGINT and SIGTERM handlers now (so a signal that arrives
/// while the server starts is not lost) and returns a future that resolves
/// on the first of them.
pub(crate) fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("watch SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::parse_datasize;

    fn check(input: &str, expected: Result<u64, ()>) {
        assert_eq!(parse_datasize(input).map_err(|_| ()), expected, "{input:?}");
    }

    #[test]
    fn datasize_suffixes_and_bounds() {
        check("256M", Ok(256 << 20));
        check("512k", Ok(512 << 10));
        check("1G", Ok(1 << 30));
        check("524288", Ok(524_288));
        check("511k", Err(()));
        check("4G", Err(()));
        check("abc", Err(()));
        check("10X", Err(()));
    }
}
