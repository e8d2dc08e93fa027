//! `tfgrid flist`: build, inspect, read, extract, sign and verify flists.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use flist::fl::{FlReader, FlWriter, Inode};
use flist::signature::{self, TrustPolicy};
use flist::store::{open_store, BlockStore, HttpStore, Router};
use identity::{default_key_path, KeyFile, PublicKey};

/// Flags of `tfgrid flist`.
#[derive(Debug, Args)]
pub(crate) struct FlistArgs {
    #[command(subcommand)]
    command: FlistCommand,
}

/// Which signers to accept.
#[derive(Debug, Args)]
struct TrustArgs {
    /// Accept flists signed by this key (hex or base58); repeatable.
    #[arg(long = "trusted-key")]
    trusted_keys: Vec<String>,
    /// File of trusted keys, one per line.
    #[arg(long)]
    trust_file: Option<PathBuf>,
}

/// Where blocks are.
#[derive(Debug, Args)]
struct StoreArgs {
    /// Block store, optionally for a range of ids: `[xx-yy=]URL`
    /// (`dir:///path`, `zdb://[:password@]host[:port]/namespace`, `http(s)://hub`);
    /// repeatable. Default: the routes recorded in the flist.
    #[arg(long = "store")]
    stores: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum FlistCommand {
    /// Build an flist from a directory, a tar/tar.gz/tar.zst archive, an OCI
    /// image layout archive or a `docker save` archive (no Docker needed),
    /// uploading only the blocks the stores lack.
    Create {
        /// The directory or archive to pack.
        source: PathBuf,
        /// The `.fl` to write.
        output: PathBuf,
        #[command(flatten)]
        stores: StoreArgs,
        /// Tag `key=value` written into the flist; repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Sign the result with your identity (see `tfgrid id`).
        #[arg(long)]
        sign: bool,
        /// Worker threads for reading, encrypting and uploading.
        #[arg(long)]
        threads: Option<usize>,
        /// Block compression: snappy (rfs compatible) or zstd (about a
        /// quarter smaller; only tfgrid reads it).
        #[arg(long, default_value = "snappy", value_parser = parse_codec)]
        block_codec: flist::block::Codec,
    },
    /// Show tags, routes, counts and signatures.
    Inspect {
        /// The flist.
        flist: PathBuf,
    },
    /// List a directory of the flist.
    Ls {
        /// The flist.
        flist: PathBuf,
        /// Directory inside the flist.
        #[arg(default_value = "/")]
        path: String,
        /// Mode, owner, size and time of each entry.
        #[arg(short, long)]
        long: bool,
        /// Descend into subdirectories.
        #[arg(short = 'R', long)]
        recursive: bool,
    },
    /// Write a file of the flist to standard output.
    Cat {
        /// The flist.
        flist: PathBuf,
        /// File inside the flist.
        path: String,
        #[command(flatten)]
        stores: StoreArgs,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Write the whole tree to a directory.
    Extract {
        /// The flist.
        flist: PathBuf,
        /// Destination directory (created; must be empty).
        dest: PathBuf,
        #[command(flatten)]
        stores: StoreArgs,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Mount an flist read-only (or writable with an overlay) with lazy,
    /// verified block fetching, until Ctrl-C.
    Mount(crate::flist_mount_cmd::MountArgs),
    /// Show what differs between two flists, path by path (exit 1 when
    /// they differ, as diff does).
    Diff {
        /// The first flist.
        a: PathBuf,
        /// The second flist.
        b: PathBuf,
    },
    /// Sign an flist with your identity (`<flist>.sig`).
    Sign {
        /// The flist.
        flist: PathBuf,
        /// Key file [default: your identity].
        #[arg(long, env = "TFGRID_IDENTITY")]
        identity: Option<PathBuf>,
    },
    /// Check an flist's signature against trusted keys.
    Verify {
        /// The flist.
        flist: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
    },
}

fn parse_codec(name: &str) -> Result<flist::block::Codec, String> {
    flist::block::Codec::parse(name)
        .ok_or_else(|| format!("unknown codec {name:?} (snappy or zstd)"))
}

impl TrustArgs {
    fn policy(&self) -> anyhow::Result<Option<TrustPolicy>> {
        if self.trusted_keys.is_empty() && self.trust_file.is_none() {
            return Ok(None);
        }
        let mut policy = match &self.trust_file {
            Some(path) => TrustPolicy::from_file(path).context("read trust file")?,
            None => TrustPolicy::default(),
        };
        for key in &self.trusted_keys {
            policy.trust(PublicKey::parse(key).with_context(|| format!("trusted key {key:?}"))?);
        }
        Ok(Some(policy))
    }

    /// Refuses the flist unless the policy (if any) trusts its signer.
    fn enforce(&self, flist: &Path) -> anyhow::Result<()> {
        match self.policy()? {
            Some(policy) => {
                let signer = signature::verify(flist, &policy).context("refusing flist")?;
                eprintln!("signed by trusted key {signer}");
            }
            None => {
                eprintln!("warning: no trusted keys given; the flist's signature is not checked")
            }
        }
        Ok(())
    }
}

/// A router over `--store` specs, or over the flist's own routes.
pub(crate) fn router(specs: &[String], reader: Option<&FlReader>) -> anyhow::Result<Router> {
    let mut router = Router::new();
    if specs.is_empty() {
        let Some(reader) = reader else {
            bail!("give at least one --store");
        };
        for (start, end, url) in reader.routes()? {
            let store = open_store(&url).with_context(|| format!("open store {url}"))?;
            router.add(start, end, store);
        }
        if router.routes().is_empty() {
            bail!("the flist records no store; give --store");
        }
        return Ok(router);
    }
    for spec in specs {
        let (start, end, url) =
            Router::parse_spec(spec).with_context(|| format!("store {spec:?}"))?;
        let store = open_store(&url).with_context(|| format!("open store {url}"))?;
        router.add(start, end, store);
    }
    Ok(router)
}

/// A router for writing: like [`router`], but `http(s)://` stores (a hub)
/// sign their uploads with your identity, which the hub must know.
fn upload_router(specs: &[String]) -> anyhow::Result<Router> {
    let is_http = |url: &str| url.starts_with("http://") || url.starts_with("https://");
    let mut key = None;
    let mut router = Router::new();
    for spec in specs {
        let (start, end, url) =
            Router::parse_spec(spec).with_context(|| format!("store {spec:?}"))?;
        if !is_http(&url) {
            router.add(
                start,
                end,
                open_store(&url).with_context(|| format!("open store {url}"))?,
            );
            continue;
        }
        if key.is_none() {
            let path = default_key_path();
            let file = KeyFile::load(&path).with_context(|| {
                format!(
                    "uploading to {url} needs your identity registered on that hub; load {}",
                    path.display()
                )
            })?;
            key = Some(file.key);
        }
        let store = HttpStore::open(&url)
            .with_context(|| format!("open store {url}"))?
            .with_signer(key.clone().expect("loaded above"));
        router.add(start, end, Box::new(store));
    }
    if router.is_empty() {
        bail!("give at least one --store");
    }
    Ok(router)
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn create(
    source: &Path,
    output: &Path,
    stores: &StoreArgs,
    tags: &[String],
    sign: bool,
    threads: Option<usize>,
    codec: flist::block::Codec,
) -> anyhow::Result<()> {
    let router = upload_router(&stores.stores)?;
    let started = std::time::Instant::now();
    let mut writer =
        FlWriter::create(output).with_context(|| format!("create {}", output.display()))?;
    let tty = std::io::stderr().is_terminal();
    let report = |p: flist::pack::Progress| {
        let line = format!(
            "packing: {}/{} files, {} of {}, {} blocks uploaded",
            p.files_done,
            p.files_total,
            human(p.bytes_done),
            human(p.bytes_total),
            p.uploaded
        );
        if tty {
            eprint!("\r{line}   ");
        } else {
            eprintln!("{line}");
        }
    };
    let mut options = flist::pack::PackOptions {
        progress: Some(&report),
        codec,
        ..Default::default()
    };
    if let Some(n) = threads {
        options.threads = n;
    }
    // A directory is walked; any file is read as an archive (tarball,
    // `docker save` or OCI layout), detected from its content.
    let (stats, layers) = if source.is_dir() {
        let stats = flist::pack::pack_dir(source, &mut writer, &router, &options)
            .with_context(|| format!("pack {}", source.display()))?;
        (stats, None)
    } else {
        let stats = flist::image::pack_archive(source, &mut writer, &router, &options)
            .with_context(|| format!("convert {}", source.display()))?;
        (stats.pack, Some((stats.layers, stats.whiteouts)))
    };
    if tty {
        eprintln!();
    }
    for (start, end, url) in router.routes() {
        writer.add_route(start, end, &url)?;
    }
    for tag in tags {
        let (key, value) = tag
            .split_once('=')
            .with_context(|| format!("tag {tag:?} is not key=value"))?;
        writer.set_tag(key, value)?;
    }
    writer.finish().context("write flist")?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}: {} files, {} dirs, {} symlinks, {} special, {} hardlinks, {} xattrs",
        output.display(),
        stats.files,
        stats.dirs,
        stats.symlinks,
        stats.specials,
        stats.hardlinks,
        stats.xattrs
    );
    println!(
        "{} in {} blocks; uploaded {} new blocks ({}); {:.1} s, {:.0} MB/s",
        human(stats.bytes),
        stats.blocks,
        stats.uploaded,
        human(stats.uploaded_bytes),
        secs,
        stats.bytes as f64 / 1e6 / secs.max(1e-9)
    );
    if let Some((layers, whiteouts)) = layers {
        println!("flattened {layers} layers, {whiteouts} whiteouts applied");
    }
    if sign {
        let path = default_key_path();
        let key =
            KeyFile::load(&path).context("load your identity (create one with `tfgrid id new`)")?;
        let sig = signature::sign(output, &key.key).context("sign flist")?;
        println!("signed by {} ({})", key.key.public(), sig.display());
    }
    Ok(())
}

fn type_char(inode: &Inode) -> char {
    match inode.mode & libc::S_IFMT {
        libc::S_IFDIR => 'd',
        libc::S_IFLNK => 'l',
        libc::S_IFCHR => 'c',
        libc::S_IFBLK => 'b',
        libc::S_IFIFO => 'p',
        libc::S_IFSOCK => 's',
        _ => '-',
    }
}

fn ls(
    reader: &FlReader,
    dir: &Inode,
    prefix: &str,
    long: bool,
    recursive: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut after = 0;
    let mut subdirs = Vec::new();
    loop {
        let page = reader.children(dir.ino, after, 1024)?;
        let Some(last) = page.last() else { break };
        after = last.ino;
        for child in page {
            let name = format!("{prefix}{}", String::from_utf8_lossy(&child.name));
            if long {
                let target = match reader.symlink_target(child.ino)? {
                    Some(t) if child.is_symlink() => format!(" -> {}", String::from_utf8_lossy(&t)),
                    _ => String::new(),
                };
                writeln!(
                    out,
                    "{}{:04o} {:>6} {:>6} {:>12} {:>11} {name}{target}",
                    type_char(&child),
                    child.mode & 0o7777,
                    child.uid,
                    child.gid,
                    child.size,
                    child.mtime
                )?;
            } else {
                writeln!(out, "{name}")?;
            }
            if recursive && child.is_dir() {
                subdirs.push((format!("{name}/"), child));
            }
        }
    }
    for (prefix, sub) in subdirs {
        ls(reader, &sub, &prefix, long, recursive, out)?;
    }
    Ok(())
}

fn resolve(reader: &FlReader, path: &str) -> anyhow::Result<Inode> {
    reader
        .resolve(path.as_bytes())?
        .with_context(|| format!("{path}: no such file in the flist"))
}

pub(crate) fn run(args: FlistArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        FlistCommand::Create {
            source,
            output,
            stores,
            tags,
            sign,
            threads,
            block_codec,
        } => {
            create(&source, &output, &stores, &tags, sign, threads, block_codec)?;
        }
        FlistCommand::Inspect { flist } => {
            let reader = FlReader::open(&flist)?;
            let counts = reader.counts()?;
            println!("{}", flist.display());
            println!("  {counts:?}");
            for (key, value) in reader.tags()? {
                println!("  tag {key} = {value}");
            }
            for (start, end, url) in reader.routes()? {
                println!("  route {start:02x}-{end:02x} {url}");
            }
            match signature::verify(&flist, &TrustPolicy::default()) {
                Err(signature::SignatureError::Untrusted { signers, .. }) => {
                    println!(
                        "  signed by {signers} (signatures verify; trust them with --trusted-key)"
                    )
                }
                Err(e) => println!("  signature: {e}"),
                Ok(key) => println!("  signed by {key}"),
            }
        }
        FlistCommand::Ls {
            flist,
            path,
            long,
            recursive,
        } => {
            let reader = FlReader::open(&flist)?;
            let dir = resolve(&reader, &path)?;
            if !dir.is_dir() {
                bail!("{path} is not a directory");
            }
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            ls(&reader, &dir, "", long, recursive, &mut out)?;
            out.flush()?;
        }
        FlistCommand::Cat {
            flist,
            path,
            stores,
            trust,
        } => {
            trust.enforce(&flist)?;
            let reader = FlReader::open(&flist)?;
            let inode = resolve(&reader, &path)?;
            if !inode.is_file() {
                bail!("{path} is not a regular file");
            }
            let store = router(&stores.stores, Some(&reader))?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            flist::extract::read_file(&reader, &store as &dyn BlockStore, &inode, &mut out)?;
        }
        FlistCommand::Extract {
            flist,
            dest,
            stores,
            trust,
        } => {
            trust.enforce(&flist)?;
            let reader = FlReader::open(&flist)?;
            let store = router(&stores.stores, Some(&reader))?;
            let stats = flist::extract::extract(&reader, &store, &dest, Default::default())?;
            println!("{stats:?}");
        }
        FlistCommand::Mount(args) => return crate::flist_mount_cmd::run(args),
        FlistCommand::Diff { a, b } => {
            let changes = flist::diff::diff(&FlReader::open(&a)?, &FlReader::open(&b)?)?;
            for change in &changes {
                match change {
                    flist::diff::Change::Added(p) => println!("+ {}", String::from_utf8_lossy(p)),
                    flist::diff::Change::Removed(p) => println!("- {}", String::from_utf8_lossy(p)),
                    flist::diff::Change::Modified(p, what) => {
                        println!("M {} ({})", String::from_utf8_lossy(p), what.join(", "))
                    }
                }
            }
            if !changes.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        FlistCommand::Sign { flist, identity } => {
            let path = identity.unwrap_or_else(default_key_path);
            let key = KeyFile::load(&path).context("load identity")?;
            let sig = signature::sign(&flist, &key.key)?;
            println!("signed by {} ({})", key.key.public(), sig.display());
        }
        FlistCommand::Verify { flist, trust } => {
            let Some(policy) = trust.policy()? else {
                bail!("give --trusted-key or --trust-file");
            };
            let signer = signature::verify(&flist, &policy)?;
            println!("{}: signed by trusted key {signer}", flist.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
