//! `tfgrid flist mount`: check an flist's signature, mount it read-only (or writable through an overlay) and serve it until interrupted.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use flist::fl::FlReader;
use flist::mount::{mount, mount_overlay, MountHandle, MountOptions};
use flist::signature::{self, TrustPolicy};
use identity::PublicKey;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Flags of `tfgrid flist mount`.
#[derive(Debug, Args)]
pub(crate) struct MountArgs {
    /// The flist (`.fl`).
    flist: PathBuf,
    /// Directory to mount it on.
    mountpoint: PathBuf,
    /// Block store, optionally for a range of ids: `[xx-yy=]URL`
    /// (`dir:///path`, `zdb://host[:port]/namespace`); repeatable.
    /// Default: the routes recorded in the flist.
    #[arg(long = "store")]
    stores: Vec<String>,
    /// Block cache directory, shared by mounts [default:
    /// /var/cache/tfgrid/flist as root, else $XDG_CACHE_HOME/tfgrid/flist].
    #[arg(long = "cache", value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Fetch every block into the cache in the background, so the mount
    /// keeps working if the store goes away.
    #[arg(long)]
    fill: bool,
    /// Make the mount writable with an overlay; changes go to --upper.
    #[arg(long)]
    writable: bool,
    /// Directory receiving the changes of a --writable mount (overlayfs's
    /// scratch directory is `<DIR>.work`) [default: <mountpoint>.upper].
    #[arg(long, value_name = "DIR", requires = "writable")]
    upper: Option<PathBuf>,
    /// Accept flists signed by this key (hex or base58); repeatable.
    #[arg(long = "trusted-key")]
    trusted_keys: Vec<String>,
    /// File of trusted keys, one per line.
    #[arg(long)]
    trust_file: Option<PathBuf>,
    /// Mount without checking the signature.
    #[arg(long)]
    allow_unsigned: bool,
}

/// Refuses the flist unless a trusted key signed it (or `--allow-unsigned`).
fn check_trust(args: &MountArgs) -> anyhow::Result<()> {
    let flist = args.flist.display();
    if args.allow_unsigned {
        eprintln!("warning: --allow-unsigned: the signature of {flist} is not checked");
        return Ok(());
    }
    let mut policy = match &args.trust_file {
        Some(path) => TrustPolicy::from_file(path).context("read trust file")?,
        None => TrustPolicy::default(),
    };
    for key in &args.trusted_keys {
        policy.trust(PublicKey::parse(key).with_context(|| format!("trusted key {key:?}"))?);
    }
    if policy.is_empty() {
        bail!(
            "refusing to mount {flist}: no trusted keys given, and unsigned or untrusted \
             flists do not mount (give --trusted-key or --trust-file, or --allow-unsigned)"
        );
    }
    let signer = signature::verify(&args.flist, &policy).with_context(|| {
        format!("refusing to mount {flist}: unsigned or untrusted flists do not mount")
    })?;
    eprintln!("signed by trusted key {signer}");
    Ok(())
}

/// `path` with `suffix` appended to its last component.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// SIGINT and SIGTERM, caught from before the mount so that an early
/// Ctrl-C still unmounts cleanly.
struct Signals {
    runtime: tokio::runtime::Runtime,
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn catch() -> anyhow::Result<Signals> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("start signal handling")?;
        let _context = runtime.enter();
        let interrupt = signal(SignalKind::interrupt()).context("catch SIGINT")?;
        let terminate = signal(SignalKind::terminate()).context("catch SIGTERM")?;
        Ok(Signals {
            runtime,
            interrupt,
            terminate,
        })
    }

    /// Waits for a signal, telling the user when a fill ends.
    fn wait(&mut self, handle: &MountHandle) {
        let Signals {
            runtime,
            interrupt,
            terminate,
        } = self;
        runtime.block_on(async {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut watching = handle.fill_progress().is_some();
            loop {
                tokio::select! {
                    _ = interrupt.recv() => break,
                    _ = terminate.recv() => break,
                    _ = tick.tick(), if watching => {
                        let Some(p) = handle.fill_progress().filter(|p| p.finished) else {
                            continue;
                        };
                        if p.is_complete() {
                            eprintln!("fill complete: all {} blocks are in the cache", p.total);
                        } else {
                            eprintln!(
                                "fill ended: {} of {} blocks cached, {} failed",
                                p.done, p.total, p.failed
                            );
                        }
                        watching = false;
                    }
                }
            }
        })
    }
}

/// Mounts, waits for a signal, unmounts (overlay first).
pub(crate) fn run(args: MountArgs) -> anyhow::Result<ExitCode> {
    check_trust(&args)?;
    let mut signals = Signals::catch()?;
    let reader = FlReader::open(&args.flist)
        .with_context(|| format!("open flist {}", args.flist.display()))?;
    let store = crate::flist_cmd::router(&args.stores, Some(&reader))?;
    drop(reader);
    let mut options = MountOptions {
        fill: args.fill,
        ..MountOptions::default()
    };
    if let Some(dir) = &args.cache {
        options.cache_dir = dir.clone();
    }
    let mountpoint = args
        .mountpoint
        .canonicalize()
        .with_context(|| format!("mountpoint {}", args.mountpoint.display()))?;
    let flist = args.flist.display();
    if !args.writable {
        let handle = mount(&args.flist, Box::new(store), &mountpoint, options)
            .with_context(|| format!("mount {flist} on {}", mountpoint.display()))?;
        eprintln!("mounted {flist} on {}", mountpoint.display());
        signals.wait(&handle);
        handle.unmount().context("unmount flist")?;
        return Ok(ExitCode::SUCCESS);
    }
    let upper = args
        .upper
        .clone()
        .unwrap_or_else(|| suffixed(&mountpoint, ".upper"));
    let work = suffixed(&upper, ".work");
    // The read-only layer goes in a hidden directory beside the mountpoint.
    let (parent, name) = match (mountpoint.parent(), mountpoint.file_name()) {
        (Some(parent), Some(name)) => (parent, name.to_string_lossy()),
        _ => bail!("cannot mount a writable flist on /"),
    };
    let lower = parent.join(format!(".{name}.flist-ro.{}", std::process::id()));
    std::fs::create_dir(&lower).with_context(|| format!("create {}", lower.display()))?;
    let served = (|| {
        let ro = mount(&args.flist, Box::new(store), &lower, options)
            .with_context(|| format!("mount {flist} on {}", lower.display()))?;
        let rw = mount_overlay(&lower, &upper, &work, &mountpoint)
            .with_context(|| format!("mount overlay on {}", mountpoint.display()))?;
        eprintln!(
            "mounted {flist} on {} (writable, changes in {})",
            mountpoint.display(),
            upper.display()
        );
        signals.wait(&ro);
        rw.unmount().context("unmount overlay")?;
        ro.unmount().context("unmount flist")
    })();
    if let Err(e) = std::fs::remove_dir(&lower) {
        eprintln!("warning: failed to remove {}: {e}", lower.display());
    }
    served?;
    Ok(ExitCode::SUCCESS)
}
