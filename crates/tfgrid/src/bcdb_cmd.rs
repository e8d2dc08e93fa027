//! `tfgrid bcdb`: run a BCDB server (`serve`), or work on a ledger directory offline
//! (`verify` replays it and names anything changed).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bcdb::ledger::{verify_dir, Problem};
use bcdb::server::{Server, ServerConfig};
use clap::{Args, Subcommand};
use identity::PublicKey;

/// Flags of `tfgrid bcdb`.
#[derive(Debug, Args)]
pub(crate) struct BcdbArgs {
    #[command(subcommand)]
    command: BcdbCommand,
}

#[derive(Debug, Subcommand)]
enum BcdbCommand {
    /// Serve a BCDB over the Redis protocol: plain Redis commands on
    /// schema-less keys, the old BCDB hash commands, typed objects (SCHEMA.*,
    /// OBJ.*) and verified reads (LEDGER.*). A reply is sent once the writes it
    /// acknowledges are committed (fsynced); LEDGER.* hands out signed checkpoints covering
    /// every acknowledged write. See docs/bcdb.md.
    Serve(ServeArgs),
    /// Replay a ledger without trusting it: decode and check every entry,
    /// rebuild the Merkle tree, and check every signed checkpoint against it.
    /// Exits 1 and names each entry or checkpoint that does not hold.
    Verify {
        /// The ledger directory (its `data` and `index` 0-db roots).
        dir: PathBuf,
        /// The instance public key checkpoints must be signed with (hex or base58).
        #[arg(long)]
        key: String,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Data directory: the instance key (`instance-key.json`, created on
    /// first start) and the ledger.
    #[arg(long, env = "TFGRID_BCDB_DATA")]
    data: PathBuf,
    /// TCP address to listen on.
    #[arg(long, default_value = "127.0.0.1:9901", env = "TFGRID_BCDB_LISTEN")]
    listen: SocketAddr,
    /// Also listen on this unix socket.
    #[arg(long, env = "TFGRID_BCDB_SOCKET")]
    socket: Option<PathBuf>,
    /// fsync each batch before replying (false: a reply means the bytes
    /// reached the kernel, and a power cut may lose the last batches).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, env = "TFGRID_BCDB_SYNC")]
    sync: bool,
    /// Most clients served at once; more are refused with an error.
    #[arg(long, default_value_t = 1000, env = "TFGRID_BCDB_MAX_CLIENTS")]
    max_clients: usize,
    /// Sessions start anonymous: they read only what access lists grant to `*` and write
    /// only signed changes until they prove a key with AUTH.CHALLENGE and AUTH. Without
    /// this flag every session is the instance owner (bind to loopback, as by default).
    #[arg(long, env = "TFGRID_BCDB_REQUIRE_AUTH")]
    require_auth: bool,
}

/// Runs the server until SIGINT or SIGTERM, then closes the ledger.
fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = ServerConfig {
        data: args.data,
        tcp: Some(args.listen),
        socket: args.socket,
        sync: args.sync,
        max_clients: args.max_clients,
        require_auth: args.require_auth,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start async runtime")?;
    runtime.block_on(async move {
        let shutdown = crate::zdb_cmd::shutdown_signal()?;
        let server = Server::bind(config.clone())
            .await
            .context("start bcdb server")?;
        tracing::info!(
            "instance key {} (origin {})",
            server.instance_key().to_hex(),
            server.origin()
        );
        if let Some(addr) = server.local_addr() {
            tracing::info!("bcdb listening on {addr}");
        }
        if let Some(path) = &config.socket {
            tracing::info!("bcdb listening on unix socket {}", path.display());
        }
        tracing::info!(
            "data in {}, fsync {}",
            config.data.display(),
            if config.sync { "on" } else { "off" }
        );
        server.run(shutdown).await;
        Ok(ExitCode::SUCCESS)
    })
}

pub(crate) fn run(args: BcdbArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        BcdbCommand::Serve(args) => serve(args),
        BcdbCommand::Verify { dir, key } => {
            let key = PublicKey::parse(&key).context("--key")?;
            if !dir.join("data").is_dir() {
                anyhow::bail!("{} holds no ledger (no data directory)", dir.display());
            }
            let report = verify_dir(&dir, &key).context("replay the ledger")?;
            println!(
                "{} entries, {} checkpoints, root {}",
                report.entries,
                report.checkpoints,
                report
                    .root
                    .map_or_else(|| "(empty)".to_string(), hex::encode)
            );
            for problem in &report.problems {
                match problem {
                    Problem::Entry { seq, why } => println!("entry {seq}: {why}"),
                    Problem::Checkpoint {
                        index,
                        size,
                        since,
                        why,
                    } => println!(
                        "checkpoint {index} (size {size}): {why}; a change lies in entries {since}..{size}"
                    ),
                }
            }
            if report.problems.is_empty() {
                println!("ok: every entry and checkpoint holds");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("{} problems", report.problems.len());
                Ok(ExitCode::from(1))
            }
        }
    }
}
