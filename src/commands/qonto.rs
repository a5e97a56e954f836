//! `billbridge qonto connect | status`: connect an organization to Qonto with OAuth 2.0 from
//! the command line. `connect` prints the authorize URL; once the person consents in Qonto,
//! Qonto redirects to the callback of a running `billbridge serve`
//! (`GET /v1/qonto/oauth/callback`, the `redirect_uri` of `[qonto.oauth]`), which stores the
//! tokens. Nothing secret is printed.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use connector::ids::OrgId;
use connector::qonto::{OAuthClient, QontoConfig, TracingAuditSink};
use connector::store::qonto_connections::QontoTarget;
use connector::store::Store;

use super::serve::settings;

async fn open(
    config: Option<&Path>,
    org: &str,
) -> anyhow::Result<(Store, OrgId, Option<QontoConfig>)> {
    let org: OrgId = org.parse()?;
    let settings = settings(config)?;
    let store = Store::connect(&settings.database_url, 2).await?;
    store.migrate().await?;
    store.get_org(&org).await.context("no such organization")?;
    Ok((store, org, settings.qonto))
}

/// The `[qonto]` configuration, when organizations connect with OAuth (as `serve` decides).
fn oauth_config(qonto: Option<&QontoConfig>) -> Option<&QontoConfig> {
    qonto.filter(|q| q.api_key.is_none() && q.oauth.is_some())
}

/// `billbridge qonto connect --org ORG [--qonto-organization-id UUID]`.
pub async fn connect(
    config: Option<&Path>,
    org: &str,
    qonto_organization_id: Option<&str>,
) -> anyhow::Result<()> {
    let (store, org, qonto) = open(config, org).await?;
    let q = oauth_config(qonto.as_ref()).ok_or_else(|| {
        anyhow::anyhow!(
            "organizations connect with OAuth only when [qonto.oauth] is configured without \
             [qonto.api_key] (see README, \"Connecting to Qonto\")"
        )
    })?;
    if let Some(id) = qonto_organization_id {
        anyhow::ensure!(
            uuid::Uuid::parse_str(id).is_ok(),
            "--qonto-organization-id must be a UUID"
        );
    }
    let oauth = OAuthClient::new(q, Arc::new(TracingAuditSink))?;
    let started = connector::http::qonto::start_authorization(
        &store,
        &oauth,
        &org,
        "cli",
        qonto_organization_id,
    )
    .await?;
    println!("Open this URL in a browser logged in to Qonto and authorize billbridge:");
    println!();
    println!("  {}", started.authorize_url);
    println!();
    println!(
        "Qonto then sends the browser to {}, where a running `billbridge serve` stores the \
         connection. The link works once, until {}.",
        started.redirect_uri,
        started.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    println!("Check with `billbridge qonto status --org {org}`.");
    Ok(())
}

/// `billbridge qonto status --org ORG`.
pub async fn status(config: Option<&Path>, org: &str) -> anyhow::Result<()> {
    let (store, org, qonto) = open(config, org).await?;
    let target = oauth_config(qonto.as_ref()).map(QontoTarget::of);
    let view = store
        .qonto_connection_view(&org, target.as_ref(), qonto.as_ref())
        .await?;
    println!("organization:      {}", view.organization_id);
    println!(
        "connected:         {}",
        if view.connected { "yes" } else { "no" }
    );
    println!("auth:              {}", view.auth_kind);
    println!("environment:       {}", view.environment);
    if !view.api_base.is_empty() {
        println!("api base:          {}", view.api_base);
    }
    if let Some(at) = view.connected_at {
        println!(
            "connected at:      {} by {}",
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            view.connected_by.as_deref().unwrap_or("?")
        );
    }
    if let Some(at) = view.access_expires_at {
        println!(
            "access token:      expires {} ({})",
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            if view.refreshable {
                "refreshed ahead of expiry"
            } else {
                "no refresh token: reconnect when it expires"
            }
        );
    }
    if let Some(scope) = &view.scope {
        println!("scopes:            {scope}");
    }
    if let Some(m) = &view.message {
        println!("note:              {m}");
    }
    Ok(())
}
