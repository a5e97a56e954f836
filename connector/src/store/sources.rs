//! Sources: where bills come from (an ERP, an upload channel). Each has inbound signing
//! secrets (several during a rotation), an optional callback endpoint and a JSON mapping.
//! Secrets are encrypted at rest with the instance key (`crate::secrets`).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use super::entities::source;
use super::{now, Scoped, Store, StoreError};
use crate::ids::{OrgId, SourceId};
use crate::secrets::SecretBox;
use crate::signing::WebhookSecret;

/// A source as shown by the API (never with its secrets).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Source {
    #[schema(value_type = String)]
    pub id: SourceId,
    #[schema(value_type = String)]
    pub org_id: OrgId,
    pub name: String,
    /// `erp`, `upload`, `email`… (free text, for people).
    pub kind: String,
    pub callback_url: Option<String>,
    /// Whether a JSON mapping is set (see `GET /v1/sources/{id}/mapping`).
    pub has_mapping: bool,
    /// Live inbound secrets: more than one during a rotation's grace period.
    pub active_secrets: usize,
    pub created_at: DateTime<Utc>,
}

/// One inbound signing secret, encrypted.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSecret {
    sealed: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
}

fn aad(source_id: &str, purpose: &str) -> Vec<u8> {
    format!("billbridge:source:{source_id}:{purpose}").into_bytes()
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn stored(m: &source::Model) -> Result<Vec<StoredSecret>, StoreError> {
    serde_json::from_str(&m.signing_secrets).map_err(corrupt)
}

fn live(secrets: Vec<StoredSecret>, at: DateTime<Utc>) -> Vec<StoredSecret> {
    secrets
        .into_iter()
        .filter(|s| s.expires_at.is_none_or(|e| e > at))
        .collect()
}

fn to_source(m: &source::Model) -> Result<Source, StoreError> {
    Ok(Source {
        id: m.id.parse().map_err(corrupt)?,
        org_id: m.org_id.parse().map_err(corrupt)?,
        name: m.name.clone(),
        kind: m.kind.clone(),
        callback_url: m.callback_url.clone(),
        has_mapping: m.mapping.is_some(),
        active_secrets: live(stored(m)?, now()).len(),
        created_at: m.created_at,
    })
}

/// A source row with what intake needs: its organization, live secrets and mapping.
pub struct IntakeSource {
    pub source: Source,
    pub secrets: Vec<WebhookSecret>,
    pub mapping: Option<adapters::JsonMapping>,
}

impl Store {
    /// Look a source up by id for intake (the signature, checked next, proves the caller).
    pub async fn intake_source(
        &self,
        id: &SourceId,
        keys: &SecretBox,
    ) -> Result<IntakeSource, StoreError> {
        let m = source::Entity::find_by_id(id.to_string())
            .one(self.connection())
            .await?
            .ok_or(StoreError::NotFound("source"))?;
        let secrets = live(stored(&m)?, now())
            .iter()
            .map(|s| {
                let plain = keys
                    .decrypt_string(&s.sealed, &aad(&m.id, "signing"))
                    .map_err(corrupt)?;
                use secrecy::ExposeSecret;
                WebhookSecret::parse(plain.expose_secret()).map_err(corrupt)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mapping = m
            .mapping
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(corrupt)?;
        Ok(IntakeSource {
            source: to_source(&m)?,
            secrets,
            mapping,
        })
    }
}

impl Scoped<'_> {
    /// This organization's source `id`, read on `conn` (a transaction or the pool).
    async fn source_model<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        id: &SourceId,
    ) -> Result<source::Model, StoreError> {
        source::Entity::find_by_id(id.to_string())
            .filter(source::Column::OrgId.eq(self.org.to_string()))
            .one(conn)
            .await?
            .ok_or(StoreError::NotFound("source"))
    }

    /// Create a source with a fresh inbound signing secret, returned once in plaintext.
    pub async fn create_source(
        &self,
        name: &str,
        kind: &str,
        keys: &SecretBox,
    ) -> Result<(Source, WebhookSecret), StoreError> {
        let id = SourceId::new();
        let secret = WebhookSecret::generate().map_err(corrupt)?;
        let sealed = seal(keys, id.as_str(), &secret)?;
        let secrets = vec![StoredSecret {
            sealed,
            created_at: now(),
            expires_at: None,
        }];
        let w = self.store.begin_write().await?;
        let m = source::ActiveModel {
            id: Set(id.to_string()),
            org_id: Set(self.org.to_string()),
            name: Set(name.to_string()),
            kind: Set(kind.to_string()),
            signing_secrets: Set(serde_json::to_string(&secrets).map_err(corrupt)?),
            callback_url: Set(None),
            callback_secret: Set(None),
            mapping: Set(None),
            created_at: Set(now()),
            updated_at: Set(now()),
        }
        .insert(&w.txn)
        .await
        .map_err(|e| match StoreError::from(e) {
            e if e.is_unique_violation() => {
                StoreError::Conflict(format!("a source named {name:?} already exists"))
            }
            e => e,
        })?;
        super::audit::append(
            &w.txn,
            super::audit::AuditEntry {
                org_id: Some(self.org.clone()),
                actor: "api".into(),
                action: "source.created".into(),
                source_id: Some(m.id.clone()),
                details: serde_json::json!({ "name": name, "kind": kind }),
                ..Default::default()
            },
        )
        .await?;
        w.commit().await?;
        Ok((to_source(&m)?, secret))
    }

    pub async fn get_source(&self, id: &SourceId) -> Result<Source, StoreError> {
        to_source(&self.source_model(self.store.connection(), id).await?)
    }

    pub async fn list_sources(&self) -> Result<Vec<Source>, StoreError> {
        source::Entity::find()
            .filter(source::Column::OrgId.eq(self.org.to_string()))
            .order_by_asc(source::Column::CreatedAt)
            .all(self.store.connection())
            .await?
            .iter()
            .map(to_source)
            .collect()
    }

    /// Add a new inbound secret; the current ones stay valid for `grace` (both are accepted
    /// meanwhile), then expire.
    pub async fn rotate_source_secret(
        &self,
        id: &SourceId,
        grace: chrono::Duration,
        keys: &SecretBox,
    ) -> Result<WebhookSecret, StoreError> {
        let w = self.store.begin_write().await?;
        let m = self.source_model(&w.txn, id).await?;
        let at = now();
        let mut secrets = live(stored(&m)?, at);
        for s in &mut secrets {
            let until = at + grace;
            s.expires_at = Some(s.expires_at.map_or(until, |e| e.min(until)));
        }
        let secret = WebhookSecret::generate().map_err(corrupt)?;
        secrets.push(StoredSecret {
            sealed: seal(keys, &m.id, &secret)?,
            created_at: at,
            expires_at: None,
        });
        let mut am: source::ActiveModel = m.into();
        am.signing_secrets = Set(serde_json::to_string(&secrets).map_err(corrupt)?);
        am.updated_at = Set(at);
        am.update(&w.txn).await?;
        super::audit::append(
            &w.txn,
            super::audit::AuditEntry {
                org_id: Some(self.org.clone()),
                actor: "api".into(),
                action: "source.secret_rotated".into(),
                source_id: Some(id.to_string()),
                details: serde_json::json!({ "grace_seconds": grace.num_seconds() }),
                ..Default::default()
            },
        )
        .await?;
        w.commit().await?;
        Ok(secret)
    }

    /// Set where outcome events go, and the secret that signs them (generated when not given).
    pub async fn set_source_callback(
        &self,
        id: &SourceId,
        url: &str,
        keys: &SecretBox,
    ) -> Result<WebhookSecret, StoreError> {
        let secret = WebhookSecret::generate().map_err(corrupt)?;
        let w = self.store.begin_write().await?;
        let m = self.source_model(&w.txn, id).await?;
        let sealed = keys
            .encrypt(
                secrecy::ExposeSecret::expose_secret(&secret.expose_whsec()).as_bytes(),
                &aad(&m.id, "callback"),
            )
            .map_err(corrupt)?;
        let mut am: source::ActiveModel = m.into();
        am.callback_url = Set(Some(url.to_string()));
        am.callback_secret = Set(Some(sealed));
        am.updated_at = Set(now());
        am.update(&w.txn).await?;
        super::audit::append(
            &w.txn,
            super::audit::AuditEntry {
                org_id: Some(self.org.clone()),
                actor: "api".into(),
                action: "source.callback_set".into(),
                source_id: Some(id.to_string()),
                details: serde_json::json!({ "url": url }),
                ..Default::default()
            },
        )
        .await?;
        w.commit().await?;
        Ok(secret)
    }

    /// Set (or clear) the JSON mapping used for this source's JSON payloads.
    pub async fn set_source_mapping(
        &self,
        id: &SourceId,
        mapping: Option<&adapters::JsonMapping>,
    ) -> Result<(), StoreError> {
        let w = self.store.begin_write().await?;
        let m = self.source_model(&w.txn, id).await?;
        let mut am: source::ActiveModel = m.into();
        am.mapping = Set(mapping
            .map(serde_json::to_string)
            .transpose()
            .map_err(corrupt)?);
        am.updated_at = Set(now());
        am.update(&w.txn).await?;
        w.commit().await?;
        Ok(())
    }

    /// The source's mapping, if any.
    pub async fn source_mapping(
        &self,
        id: &SourceId,
    ) -> Result<Option<adapters::JsonMapping>, StoreError> {
        let m = self.source_model(self.store.connection(), id).await?;
        m.mapping
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(corrupt)
    }
}

fn seal(keys: &SecretBox, source_id: &str, secret: &WebhookSecret) -> Result<String, StoreError> {
    keys.encrypt(
        secrecy::ExposeSecret::expose_secret(&secret.expose_whsec()).as_bytes(),
        &aad(source_id, "signing"),
    )
    .map_err(corrupt)
}
