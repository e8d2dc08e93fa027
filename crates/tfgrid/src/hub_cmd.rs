//! `tfgrid hub`: run the flist hub (`serve`), or use one: register, push, list, inspect, pull, and change your flists.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use hub::client::HubClient;
use hub::{Hub, HubConfig, JobStatus, Limits};
use identity::{default_key_path, KeyFile};

/// Flags of `tfgrid hub`.
#[derive(Debug, Args)]
pub(crate) struct HubArgs {
    /// The hub to talk to.
    #[arg(
        long,
        global = true,
        env = "TFGRID_HUB",
        default_value = "http://127.0.0.1:8080"
    )]
    hub: String,
    /// Your key file (see `tfgrid id`) [default: your identity].
    #[arg(long, global = true, env = "TFGRID_IDENTITY")]
    identity: Option<PathBuf>,
    #[command(subcommand)]
    command: HubCommand,
}

#[derive(Debug, Subcommand)]
enum HubCommand {
    /// Run a hub: HTTP API, HTML pages and block API over a data directory.
    Serve(Box<ServeArgs>),
    /// Print the hub's public key (trust it with `tfgrid flist mount --trusted-key`).
    Key,
    /// Register your key on the hub under a user name.
    Register {
        /// The user name (a-z, 0-9, -).
        name: String,
    },
    /// Push a tar / tar.gz / tar.zst, an OCI layout or `docker save` archive,
    /// or a `.fl` whose blocks the hub already has; the hub builds and signs the flist.
    /// A `.fl` pushed with a `.fl.sig` beside it keeps those signatures too.
    Push {
        /// The archive or `.fl`.
        file: PathBuf,
        /// Name on the hub [default: the file name without its extensions].
        #[arg(long)]
        name: Option<String>,
        /// Give up waiting for the conversion after this many seconds.
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
    },
    /// List a user's flists, or the users when no user is given.
    Ls {
        /// The user.
        user: Option<String>,
        /// Only flists with this tag.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Show an flist's metadata (files, size, signers, image config) as JSON.
    Info {
        /// `user/name`.
        flist: String,
    },
    /// Download an flist and its signature (`DEST` and `DEST.sig`).
    Pull {
        /// `user/name`.
        flist: String,
        /// Where to write the `.fl`.
        dest: PathBuf,
    },
    /// Delete one of your flists or links.
    Rm {
        /// Its name.
        name: String,
    },
    /// Rename one of your flists or links.
    Rename {
        /// Current name.
        name: String,
        /// New name.
        to: String,
    },
    /// Make NAME a link that follows TARGET (`user/name`, anyone's).
    Link {
        /// The link's name.
        name: String,
        /// `user/name` it follows.
        target: String,
    },
    /// Tag one of your flists (or remove the tag).
    Tag {
        /// The flist.
        name: String,
        /// The tag.
        tag: String,
        /// Remove the tag instead.
        #[arg(long)]
        remove: bool,
    },
}

/// Flags of `tfgrid hub serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Data directory (database, key, flists, spool, and blocks unless --store).
    #[arg(long, env = "TFGRID_HUB_DATA", default_value = "/var/lib/tfgrid/hub")]
    data: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "TFGRID_HUB_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Block store (`dir:///path`, `zdb://[:password@]host:port/namespace`) [default: dir://DATA/blocks].
    #[arg(long, env = "TFGRID_HUB_STORE")]
    store: Option<String>,
    /// Keep blocks in a 0-db the hub starts and owns (files in DATA/zdb, reached over the unix
    /// socket DATA/zdb/zdb.sock), instead of a dir store or --store.
    #[arg(long, conflicts_with = "store")]
    own_zdb: bool,
    /// URL nodes reach this hub at; recorded as the block route of the flists it builds [default: http://LISTEN].
    #[arg(long, env = "TFGRID_HUB_PUBLIC_URL")]
    public_url: Option<String>,
    /// Largest upload in bytes.
    #[arg(long, default_value_t = Limits::default().max_upload)]
    max_upload: u64,
    /// Most bytes an archive may expand to (a gzip bomb stops here).
    #[arg(long, default_value_t = Limits::default().max_expanded)]
    max_expanded: u64,
    /// Block API requests per second per client address (0: unlimited).
    #[arg(long, default_value_t = Limits::default().block_rate)]
    block_rate: u32,
    /// Conversions run at once.
    #[arg(long, default_value_t = Limits::default().conversions)]
    conversions: usize,
}

pub(crate) fn run(args: HubArgs) -> anyhow::Result<ExitCode> {
    let client = || HubClient::new(&args.hub);
    let signed = || -> anyhow::Result<HubClient> {
        let path = args.identity.clone().unwrap_or_else(default_key_path);
        let key = KeyFile::load(&path)
            .with_context(|| {
                format!(
                    "load your identity {} (create one with `tfgrid id new`)",
                    path.display()
                )
            })?
            .key;
        Ok(client().with_key(key))
    };
    match args.command {
        HubCommand::Serve(serve_args) => return serve(*serve_args),
        HubCommand::Key => println!("{}", client().info()?.public_key),
        HubCommand::Register { name } => {
            let user = signed()?.register(&name)?;
            println!("registered {} as {}", user.key, user.name);
        }
        HubCommand::Push {
            file,
            name,
            timeout,
        } => push(&signed()?, &file, name, timeout)?,
        HubCommand::Ls { user: None, tag: _ } => {
            for u in client().users()? {
                println!("{}\t{} flists\t{}", u.name, u.flists, u.key);
            }
        }
        HubCommand::Ls {
            user: Some(user),
            tag,
        } => {
            for e in client().list(&user, tag.as_deref())? {
                let what = match &e.target {
                    Some(target) => format!("-> {target}"),
                    None => format!("{} bytes", e.size),
                };
                let tags = if e.tags.is_empty() {
                    String::new()
                } else {
                    format!("\t[{}]", e.tags.join(", "))
                };
                println!("{}\t{what}{tags}", e.name);
            }
        }
        HubCommand::Info { flist } => {
            let (user, name) = split_flist(&flist)?;
            let info = client().flist_info(user, name)?;
            println!("{}", serde_json::to_string_pretty(&info)?);
        }
        HubCommand::Pull { flist, dest } => {
            let (user, name) = split_flist(&flist)?;
            client().download(user, name, &dest)?;
            println!("{} (signature in {}.sig)", dest.display(), dest.display());
        }
        HubCommand::Rm { name } => {
            let c = signed()?;
            c.delete(&own_name(&c)?, &name)?;
        }
        HubCommand::Rename { name, to } => {
            let c = signed()?;
            c.rename(&own_name(&c)?, &name, &to)?;
        }
        HubCommand::Link { name, target } => {
            let c = signed()?;
            c.link(&own_name(&c)?, &name, &target)?;
        }
        HubCommand::Tag { name, tag, remove } => {
            let c = signed()?;
            c.tag(&own_name(&c)?, &name, &tag, !remove)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn split_flist(flist: &str) -> anyhow::Result<(&str, &str)> {
    flist
        .split_once('/')
        .filter(|(u, n)| !u.is_empty() && !n.is_empty())
        .with_context(|| format!("{flist:?}: give an flist as user/name"))
}

/// The user name the signing key is registered as.
fn own_name(client: &HubClient) -> anyhow::Result<String> {
    let key = client.public_key().context("no identity")?;
    client
        .users()?
        .into_iter()
        .find(|u| u.key == key.to_hex())
        .map(|u| u.name)
        .with_context(|| {
            format!(
                "key {} is not registered on this hub (tfgrid hub register NAME)",
                key.to_hex()
            )
        })
}

/// The flist name a file is pushed as by default.
fn default_name(file: &Path) -> anyhow::Result<String> {
    let base = file
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: not a file name", file.display()))?;
    let mut name = base;
    for ext in [".gz", ".zst", ".tgz", ".tar", ".fl"] {
        name = name.strip_suffix(ext).unwrap_or(name);
    }
    if name.is_empty() {
        bail!("{base}: give the flist a name with --name");
    }
    Ok(name.to_string())
}

fn push(client: &HubClient, file: &Path, name: Option<String>, timeout: u64) -> anyhow::Result<()> {
    let name = match name {
        Some(name) => name,
        None => default_name(file)?,
    };
    let user = own_name(client)?;
    let size = std::fs::metadata(file)
        .with_context(|| format!("read {}", file.display()))?
        .len();
    eprintln!(
        "uploading {} ({:.1} MB) as {user}/{name}",
        file.display(),
        size as f64 / 1e6
    );
    let job = client.push(&user, &name, file)?;
    let mut last = String::new();
    let done = client.wait(&job.id, Duration::from_secs(timeout), |status| {
        let line = progress_line(status);
        if line != last {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r{line}   ");
            let _ = err.flush();
            last = line;
        }
    })?;
    eprintln!();
    println!(
        "pushed {user}/{name}: {} files, {} new blocks, digest {}",
        done.files_done,
        done.blocks_uploaded,
        done.digest.unwrap_or_default()
    );
    // A .fl pushed with its own signature keeps it beside the hub's.
    let sig = flist::signature::signature_path(file);
    if sig.exists() {
        client
            .add_signature(&user, &name, &sig)
            .with_context(|| format!("add the signatures of {}", sig.display()))?;
        println!("added the signatures of {}", sig.display());
    }
    Ok(())
}

fn progress_line(status: &JobStatus) -> String {
    format!(
        "{}: {}/{} files, {:.1}/{:.1} MB, {} new blocks",
        status.stage,
        status.files_done,
        status.files_total,
        status.bytes_done as f64 / 1e6,
        status.bytes_total as f64 / 1e6,
        status.blocks_uploaded
    )
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let zdb_dir = args.data.join("zdb");
    let zdb_socket = zdb_dir.join("zdb.sock");
    let store = match args.own_zdb {
        true => Some(format!("zdb://{}", zdb_socket.display())),
        false => args.store,
    };
    let config = HubConfig {
        data_dir: args.data,
        store,
        public_url: args.public_url,
        limits: Limits {
            max_upload: args.max_upload,
            max_expanded: args.max_expanded,
            block_rate: args.block_rate,
            conversions: args.conversions,
            ..Limits::default()
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start async runtime")?;
    runtime.block_on(async move {
        let shutdown = crate::zdb_cmd::shutdown_signal()?;
        // The hub locks its data directory first, so a second hub on it
        // fails before it could touch the running one's 0-db socket.
        let hub = Hub::bind(&config, args.listen)
            .await
            .context("start the hub")?;
        let (stop_zdb, zdb_stopped) = tokio::sync::watch::channel(false);
        let own_zdb = if args.own_zdb {
            std::fs::create_dir_all(&zdb_dir)
                .with_context(|| format!("create {}", zdb_dir.display()))?;
            let mut zdb_config = zdb::server::ServerConfig::local(&zdb_dir);
            zdb_config.tcp = None;
            zdb_config.socket = Some(zdb_socket.clone());
            // Every block is on disk before it is acknowledged, so an flist
            // published after its blocks never names a block lost in a crash.
            zdb_config.db.sync_on_rotate = true;
            zdb_config.sync = true;
            let server = zdb::server::Server::bind(zdb_config, None)
                .await
                .context("start the hub's 0-db")?;
            tracing::info!("blocks in the hub's own 0-db at {}", zdb_socket.display());
            let mut stopped = zdb_stopped.clone();
            Some(tokio::spawn(server.run(async move {
                let _ = stopped.changed().await;
            })))
        } else {
            None
        };
        tracing::info!(
            "hub listening on http://{}, key {}, data in {}",
            hub.local_addr(),
            hub.state().key().public().to_hex(),
            config.data_dir.display()
        );
        let served = hub.serve(shutdown).await.context("serve");
        let _ = stop_zdb.send(true);
        if let Some(task) = own_zdb {
            let _ = task.await;
        }
        served?;
        tracing::info!("hub stopped");
        Ok(ExitCode::SUCCESS)
    })
}
