//! `billbridge ingest FILE|DIR --source S` and `billbridge sources create`: onboard a backlog of
//! bills straight into the database (no HTTP, no signature: this is the operator's own access).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use connector::ids::{OrgId, SourceId};
use connector::intake::Received;
use connector::secrets::SecretBox;
use connector::store::bills::{code, IntakeOutcome};
use connector::store::Store;
use indicatif::{ProgressBar, ProgressStyle};
use secrecy::ExposeSecret;

use super::serve::settings;

async fn open(config: Option<&Path>) -> anyhow::Result<(Store, SecretBox)> {
    let settings = settings(config)?;
    let store = Store::connect(&settings.database_url, 2).await?;
    store.migrate().await?;
    let keys = SecretBox::load(&settings.key_file)?;
    Ok((store, keys))
}

pub async fn sources_create(
    config: Option<&Path>,
    org: &str,
    name: &str,
    kind: &str,
) -> anyhow::Result<()> {
    let org: OrgId = org.parse()?;
    let (store, keys) = open(config).await?;
    store.get_org(&org).await.context("no such organization")?;
    let (source, secret) = store.scoped(&org).create_source(name, kind, &keys).await?;
    println!("source {} ({})", source.id, source.name);
    println!(
        "signing secret (shown once, give it to the ERP): {}",
        secret.expose_whsec().expose_secret()
    );
    Ok(())
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            collect(&p, out)?;
        }
    } else if matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("xml" | "pdf" | "json")
    ) || path.is_file() && out.is_empty()
    {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Ingest every `.xml`, `.pdf` and `.json` file under `paths`. Returns true when every file
/// was accepted (as a new bill or a repeat).
pub async fn ingest(
    config: Option<&Path>,
    paths: &[PathBuf],
    source: &str,
) -> anyhow::Result<bool> {
    let source: SourceId = source.parse()?;
    let (store, keys) = open(config).await?;
    let src = store
        .intake_source(&source, &keys)
        .await
        .context("no such source")?;
    let mut files = Vec::new();
    for p in paths {
        anyhow::ensure!(p.exists(), "{} does not exist", p.display());
        collect(p, &mut files)?;
    }
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut ready, mut repeats) = (0usize, 0usize);
    let mut held: BTreeMap<String, usize> = BTreeMap::new();
    let mut rejected: Vec<(String, String)> = Vec::new();
    for file in &files {
        bar.set_message(
            file.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string(),
        );
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let content_type = match adapters::sniff(&bytes) {
            Some(adapters::Format::Pdf) => "application/pdf",
            Some(adapters::Format::Json) => "application/json",
            Some(adapters::Format::Xml) => "application/xml",
            None => "application/octet-stream",
        };
        let received = connector::intake::receive(
            &store,
            &src,
            connector::intake::Document {
                content_type,
                body: &bytes,
                external_id: None,
                webhook_id: None,
                max_bytes: adapters::DEFAULT_MAX_BYTES,
                actor: "ingest",
            },
        )
        .await?;
        match received {
            Received::Rejected(e) => rejected.push((file.display().to_string(), e.to_string())),
            Received::Recorded(outcome) => match *outcome {
                IntakeOutcome::Existing(_) => repeats += 1,
                IntakeOutcome::Created(v) if v.status == "ready" => ready += 1,
                IntakeOutcome::Created(v) => {
                    for h in &v.hold_reasons {
                        *held.entry(code(h)).or_default() += 1;
                    }
                    *held.entry(String::new()).or_default() += 1;
                }
            },
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let held_total = held.remove("").unwrap_or(0);
    println!(
        "{} file(s): {ready} ready to pay, {held_total} held, {repeats} already known, {} rejected",
        files.len(),
        rejected.len()
    );
    for (reason, n) in &held {
        println!("  held {reason}: {n}");
    }
    for (file, why) in &rejected {
        println!("  rejected {file}: {why}");
    }
    Ok(rejected.is_empty())
}
