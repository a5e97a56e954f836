//! `billbridge serve`, `billbridge migrate`, `billbridge orgs …`, `billbridge sandbox`.

use std::path::Path;

use anyhow::Context;
use connector::config::{RawSettings, Settings};
use connector::http::Application;
use connector::store::Store;

pub fn settings(config: Option<&Path>) -> anyhow::Result<Settings> {
    Ok(RawSettings::load(config)?.validate()?)
}

pub async fn serve(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = settings(config)?;
    connector::telemetry::init(settings.log_format, &settings.log_level);
    let bind = settings.bind;
    let app = Application::build(settings)
        .await
        .context("starting billbridge")?;
    tracing::info!(%bind, port = app.port(), "billbridge is listening");
    app.run().await?;
    Ok(())
}

pub async fn migrate(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = settings(config)?;
    let store = Store::connect(&settings.database_url, 1).await?;
    let pending = store.pending_migrations().await?;
    store.migrate().await?;
    if pending.is_empty() {
        println!("the database is up to date");
    } else {
        println!(
            "applied {} migration(s): {}",
            pending.len(),
            pending.join(", ")
        );
    }
    Ok(())
}

async fn store(config: Option<&Path>) -> anyhow::Result<Store> {
    let settings = settings(config)?;
    let store = Store::connect(&settings.database_url, 2).await?;
    store.migrate().await?;
    Ok(store)
}

pub async fn orgs_create(config: Option<&Path>, name: &str) -> anyhow::Result<()> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.chars().count() <= 200,
        "the name must be 1 to 200 characters"
    );
    let store = store(config).await?;
    let org = store.create_org(name).await?;
    let (_, token) = store.create_token(Some(&org.id), "cli").await?;
    println!("organization {} ({})", org.id, org.name);
    println!("API token (shown once, keep it safe): {token}");
    Ok(())
}

pub async fn orgs_list(config: Option<&Path>) -> anyhow::Result<()> {
    let store = store(config).await?;
    for org in store.list_orgs().await? {
        println!(
            "{}\t{}\t{}",
            org.id,
            org.created_at.format("%Y-%m-%d"),
            org.name
        );
    }
    Ok(())
}

pub async fn admin_token(config: Option<&Path>, name: &str) -> anyhow::Result<()> {
    let store = store(config).await?;
    let (_, token) = store.create_token(None, name).await?;
    println!("admin token (shown once, keep it safe): {token}");
    Ok(())
}

pub async fn sandbox(port: u16) -> anyhow::Result<()> {
    sandbox::serve(sandbox::SandboxConfig::default(), port).await?;
    Ok(())
}
