//! `tfgrid bcdb`: work on a BCDB ledger directory (`verify` replays it and names anything changed).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bcdb::ledger::{verify_dir, Problem};
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

pub(crate) fn run(args: BcdbArgs) -> anyhow::Result<ExitCode> {
    match args.command {
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
