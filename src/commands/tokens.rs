//! `billbridge tokens create | list | revoke`: an organization's API tokens. A token's value is
//! printed once, when it is made; only its SHA-256 is stored.

use std::path::Path;

use anyhow::Context;
use connector::ids::TokenId;

use super::bills::print_table;
use super::sources::open_org;

pub async fn create(config: Option<&Path>, org: &str, name: &str) -> anyhow::Result<()> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.chars().count() <= 200,
        "--name must be 1 to 200 characters"
    );
    let (_, store, org) = open_org(config, org).await?;
    let (id, token) = store.create_token(Some(&org), name).await?;
    println!("token {id} ({name}) for {org}");
    println!("API token (shown once, keep it safe): {token}");
    Ok(())
}

pub async fn list(config: Option<&Path>, org: &str) -> anyhow::Result<()> {
    let (_, store, org) = open_org(config, org).await?;
    let tokens = store.scoped(&org).list_tokens().await?;
    if tokens.is_empty() {
        println!("no tokens");
        return Ok(());
    }
    let rows = tokens
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.name.clone(),
                t.created_at.format("%Y-%m-%d %H:%M").to_string(),
                t.revoked_at
                    .map(|r| format!("revoked {}", r.format("%Y-%m-%d %H:%M")))
                    .unwrap_or_else(|| "active".into()),
            ]
        })
        .collect();
    print_table(&["ID", "NAME", "CREATED (UTC)", "STATUS"], rows);
    Ok(())
}

pub async fn revoke(config: Option<&Path>, org: &str, id: &str) -> anyhow::Result<()> {
    let id: TokenId = id.parse()?;
    let (_, store, org) = open_org(config, org).await?;
    let t = store
        .scoped(&org)
        .revoke_token(&id, "cli")
        .await
        .with_context(|| format!("cannot revoke {id}"))?;
    println!(
        "token {} ({}) revoked; it no longer authenticates",
        t.id, t.name
    );
    Ok(())
}
