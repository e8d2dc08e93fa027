//! `tfgrid`: the command line and daemons of the grid. Each subcommand is a
//! short module over one library call.

mod bcdb_cmd;
mod flist_cmd;
mod flist_mount_cmd;
mod hub_cmd;
mod id_cmd;
mod zdb_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// tfgrid: a decentralized cloud of farmer-run nodes.
#[derive(Debug, Parser)]
#[command(name = "tfgrid", version, about, long_about = None)]
struct Cli {
    /// Log more (repeat for trace level); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a 0-db server (Redis protocol, 0-db v2 on-disk format), or work on
    /// its files offline.
    Zdb(Box<zdb_cmd::ZdbArgs>),
    /// Create, show or import your ed25519 identity (24-word mnemonic).
    Id(id_cmd::IdArgs),
    /// Build, inspect, read, extract, sign and verify flists.
    Flist(flist_cmd::FlistArgs),
    /// Run the BCDB server (Redis protocol, typed objects, verifiable ledger), or verify a ledger directory.
    Bcdb(bcdb_cmd::BcdbArgs),
    /// Run the flist hub, or push, list and manage your flists on one.
    Hub(hub_cmd::HubArgs),
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Zdb(args) => zdb_cmd::run(*args),
        Command::Id(args) => id_cmd::run(args),
        Command::Flist(args) => flist_cmd::run(args),
        Command::Hub(args) => hub_cmd::run(args),
        Command::Bcdb(args) => bcdb_cmd::run(args),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tfgrid: {e:#}");
            ExitCode::from(2)
        }
    }
}
