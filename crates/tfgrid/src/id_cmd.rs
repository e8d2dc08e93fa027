//! `tfgrid id`: create, show and import the user's ed25519 identity.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use identity::{default_key_path, KeyFile, KeyPair, Mnemonic};

/// Flags of `tfgrid id`.
#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// Key file [default: $XDG_CONFIG_HOME/tfgrid/identity.json].
    #[arg(long, global = true, env = "TFGRID_IDENTITY")]
    file: Option<PathBuf>,
    #[command(subcommand)]
    command: IdCommand,
}

#[derive(Debug, Subcommand)]
enum IdCommand {
    /// Create a new identity and print its public key and its 24 words
    /// (write them down: they are the only way to recover the key).
    New {
        /// 3bot id to record in the key file, if already registered.
        #[arg(long, default_value_t = 0)]
        threebot_id: u64,
    },
    /// Print the public key (hex and base58) of the identity.
    Show {
        /// Also print the 24 words (the secret key).
        #[arg(long)]
        mnemonic: bool,
    },
    /// Create the key file from 24 words read on standard input.
    Import {
        /// 3bot id to record in the key file.
        #[arg(long, default_value_t = 0)]
        threebot_id: u64,
    },
    /// Write the identity's secret as a raw 32-byte seed file (mode 0600, never replacing a
    /// file), the form nodes keep and clients without a BIP-39 word list read (the Python
    /// BCDB client: `Identity.from_key_file`).
    ExportSeed {
        /// The file to create.
        out: PathBuf,
    },
}

fn print_public(key: &KeyPair, path: &std::path::Path, threebot_id: u64) {
    println!("public key:        {}", key.public().to_hex());
    println!("public key base58: {}", key.public().to_base58());
    if threebot_id != 0 {
        println!("3bot id:           {threebot_id}");
    }
    println!("key file:          {}", path.display());
}

pub(crate) fn run(args: IdArgs) -> anyhow::Result<ExitCode> {
    let path = args.file.unwrap_or_else(default_key_path);
    match args.command {
        IdCommand::New { threebot_id } => {
            let file = KeyFile {
                key: KeyPair::generate(),
                threebot_id,
            };
            file.create(&path).context("create identity")?;
            print_public(&file.key, &path, threebot_id);
            println!();
            println!("Your 24 words (the only way to recover this identity; keep them offline):");
            println!("{}", file.key.mnemonic().phrase());
        }
        IdCommand::Show { mnemonic } => {
            let file = KeyFile::load(&path).context("load identity")?;
            print_public(&file.key, &path, file.threebot_id);
            if mnemonic {
                println!("mnemonic:          {}", file.key.mnemonic().phrase());
            }
        }
        IdCommand::Import { threebot_id } => {
            let mut text = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut text)
                .context("read the 24 words from standard input")?;
            if text.trim().is_empty() {
                bail!("no words on standard input (pipe or type the 24 words, then Ctrl-D)");
            }
            let mnemonic = Mnemonic::parse(&text).context("read mnemonic")?;
            let file = KeyFile {
                key: KeyPair::from_mnemonic(&mnemonic),
                threebot_id,
            };
            file.create(&path).context("create identity")?;
            print_public(&file.key, &path, threebot_id);
        }
        IdCommand::ExportSeed { out } => {
            let file = KeyFile::load(&path).context("load identity")?;
            file.create_raw(&out).context("write the seed file")?;
            print_public(&file.key, &out, file.threebot_id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
