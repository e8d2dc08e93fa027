//! `tfgrid flist create` from an archive: a rootfs tarball, a `docker save` archive or an OCI image layout.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use flist::fl::FlWriter;
use flist::signature;
use flist::store::Router;
use identity::{default_key_path, KeyFile};

use crate::flist_cmd::human;

/// Converts the archive at `archive` into the flist `output`, uploading the
/// blocks `store` lacks, recording its routes and `tags` (`key=value`), and
/// signing it with the user's identity when `sign` is set.
pub(crate) fn create_from_archive(
    archive: &Path,
    output: &Path,
    store: &Router,
    tags: &[String],
    sign: bool,
    threads: Option<usize>,
) -> anyhow::Result<()> {
    let tags = tags
        .iter()
        .map(|tag| {
            tag.split_once('=')
                .with_context(|| format!("tag {tag:?} is not key=value"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = std::time::Instant::now();
    let mut writer =
        FlWriter::create(output).with_context(|| format!("create {}", output.display()))?;
    let tty = std::io::stderr().is_terminal();
    let report = |p: flist::pack::Progress| {
        let line = format!(
            "converting: {}/{} files, {} of {}, {} blocks uploaded",
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
        ..Default::default()
    };
    if let Some(n) = threads {
        options.threads = n;
    }
    let stats = flist::image::pack_archive(archive, &mut writer, store, &options)
        .with_context(|| format!("convert {}", archive.display()))?;
    if tty {
        eprintln!();
    }
    for (start, end, url) in store.routes() {
        writer.add_route(start, end, &url)?;
    }
    for (key, value) in tags {
        writer.set_tag(key, value)?;
    }
    writer.finish().context("write flist")?;
    let secs = started.elapsed().as_secs_f64();
    let pack = stats.pack;
    println!(
        "{}: {} files, {} dirs, {} symlinks, {} special, {} hardlinks, {} xattrs",
        output.display(),
        pack.files,
        pack.dirs,
        pack.symlinks,
        pack.specials,
        pack.hardlinks,
        pack.xattrs
    );
    println!(
        "{} in {} blocks; uploaded {} new blocks ({}); {:.1} s, {:.0} MB/s",
        human(pack.bytes),
        pack.blocks,
        pack.uploaded,
        human(pack.uploaded_bytes),
        secs,
        pack.bytes as f64 / 1e6 / secs.max(1e-9)
    );
    println!(
        "flattened {} layers, {} whiteouts applied",
        stats.layers, stats.whiteouts
    );
    if sign {
        let path = default_key_path();
        let key =
            KeyFile::load(&path).context("load your identity (create one with `tfgrid id new`)")?;
        let sig = signature::sign(output, &key.key).context("sign flist")?;
        println!("signed by {} ({})", key.key.public(), sig.display());
    }
    Ok(())
}
