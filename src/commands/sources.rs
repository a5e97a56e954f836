//! `billbridge sources list | rotate-secret | set-callback | set-mapping | show-mapping`:
//! a source's settings straight on the database (the operator's own access). New secrets are
//! printed once, when they are made; nothing prints a stored one.

use std::path::Path;

use anyhow::Context;
use connector::config::Settings;
use connector::ids::{OrgId, SourceId};
use connector::secrets::SecretBox;
use connector::store::{Store, StoreError};
use secrecy::ExposeSecret;

use super::bills::print_table;
use super::serve::settings;

/// The settings, the store (migrated) and the organization, which must exist.
pub(super) async fn open_org(
    config: Option<&Path>,
    org: &str,
) -> anyhow::Result<(Settings, Store, OrgId)> {
    let org: OrgId = org.parse()?;
    let settings = settings(config)?;
    let store = Store::connect(&settings.database_url, 2).await?;
    store.migrate().await?;
    match store.get_org(&org).await {
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => anyhow::bail!("no such organization: {org}"),
        Err(e) => return Err(e.into()),
    }
    Ok((settings, store, org))
}

async fn open(config: Option<&Path>, org: &str) -> anyhow::Result<(Store, OrgId, SecretBox)> {
    let (settings, store, org) = open_org(config, org).await?;
    let keys = SecretBox::load(&settings.key_file)?;
    Ok((store, org, keys))
}

/// A URL for display: any password in it replaced by `***`.
fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// One line per source: id, name, kind, live signing secrets, callback, mapping, created.
pub async fn list(config: Option<&Path>, org: &str) -> anyhow::Result<()> {
    let (_, store, org) = open_org(config, org).await?;
    let sources = store.scoped(&org).list_sources().await?;
    if sources.is_empty() {
        println!("no sources (create one with `billbridge sources create --org {org} NAME`)");
        return Ok(());
    }
    let rows = sources
        .iter()
        .map(|s| {
            let callback = match (&s.callback_url, s.callback_disabled_at) {
                (None, _) => "-".to_string(),
                (Some(u), Some(at)) => format!("{} (disabled {})", shown_url(u), when(at)),
                (Some(u), None) => match s.callback_failing_since {
                    Some(since) => format!("{} (failing since {})", shown_url(u), when(since)),
                    None => shown_url(u),
                },
            };
            vec![
                s.id.to_string(),
                s.name.clone(),
                s.kind.clone(),
                s.active_secrets.to_string(),
                callback,
                if s.has_mapping { "yes" } else { "no" }.to_string(),
                s.created_at.format("%Y-%m-%d").to_string(),
            ]
        })
        .collect();
    print_table(
        &[
            "ID", "NAME", "KIND", "SECRETS", "CALLBACK", "MAPPING", "CREATED",
        ],
        rows,
    );
    Ok(())
}

/// A new inbound signing secret; the current ones stay valid for `grace_hours`.
pub async fn rotate_secret(
    config: Option<&Path>,
    org: &str,
    source: &str,
    grace_hours: u32,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        grace_hours <= 720,
        "--grace-hours must be between 0 and 720 (30 days)"
    );
    let id: SourceId = source.parse()?;
    let (store, org, keys) = open(config, org).await?;
    let grace = chrono::Duration::hours(i64::from(grace_hours));
    let secret = store
        .scoped(&org)
        .rotate_source_secret(&id, grace, &keys)
        .await
        .with_context(|| format!("rotating the signing secret of {id}"))?;
    println!("new signing secret for {id} (shown once, give it to the ERP):");
    println!("{}", secret.expose_whsec().expose_secret());
    if grace_hours == 0 {
        println!("the previous secret(s) no longer sign");
    } else {
        println!(
            "the previous secret(s) are accepted too until {}",
            when(chrono::Utc::now() + grace)
        );
    }
    Ok(())
}

/// Where outcome events go; a new callback secret signs them (printed once).
pub async fn set_callback(
    config: Option<&Path>,
    org: &str,
    source: &str,
    url: &str,
) -> anyhow::Result<()> {
    let id: SourceId = source.parse()?;
    let url = reqwest::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .with_context(|| format!("{url:?} is not an absolute http(s) URL"))?;
    let (store, org, keys) = open(config, org).await?;
    let secret = store
        .scoped(&org)
        .set_source_callback(&id, url.as_str(), &keys)
        .await
        .with_context(|| format!("setting the callback of {id}"))?;
    println!(
        "outcome events of {id} now go to {}",
        shown_url(url.as_str())
    );
    println!("callback secret (shown once, the ERP verifies billbridge's events with it):");
    println!("{}", secret.expose_whsec().expose_secret());
    Ok(())
}

/// Set the JSON mapping from a file (validated first), or clear it.
pub async fn set_mapping(
    config: Option<&Path>,
    org: &str,
    source: &str,
    file: Option<&Path>,
) -> anyhow::Result<()> {
    let id: SourceId = source.parse()?;
    let mapping = match file {
        None => None,
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let mapping: adapters::JsonMapping = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a mapping", file.display()))?;
            mapping.validate().map_err(|e| {
                anyhow::anyhow!("{} is not a valid mapping: {}", file.display(), e.message)
            })?;
            Some(mapping)
        }
    };
    let (store, org, _) = open(config, org).await?;
    store
        .scoped(&org)
        .set_source_mapping(&id, mapping.as_ref())
        .await
        .with_context(|| format!("setting the mapping of {id}"))?;
    match &mapping {
        Some(m) => println!(
            "mapping of {id} set ({} field(s)); its JSON bills are read through it",
            m.fields.len()
        ),
        None => println!("mapping of {id} cleared; its JSON bills are read as canonical JSON"),
    }
    Ok(())
}

/// Print the source's JSON mapping (an error when it has none).
pub async fn show_mapping(config: Option<&Path>, org: &str, source: &str) -> anyhow::Result<()> {
    let id: SourceId = source.parse()?;
    let (_, store, org) = open_org(config, org).await?;
    match store
        .scoped(&org)
        .source_mapping(&id)
        .await
        .with_context(|| format!("reading the mapping of {id}"))?
    {
        Some(m) => println!("{}", serde_json::to_string_pretty(&m)?),
        None => {
            anyhow::bail!("source {id} has no mapping (its JSON bills are read as canonical JSON)")
        }
    }
    Ok(())
}
