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
    /// When outcome webhooks to `callback_url` were disabled (410 Gone, or failing through the
    /// whole retry schedule); `POST /v1/sources/{id}/callback/enable` turns them back on.
    pub callback_disabled_at: Option<DateTime<Utc>>,
    /// Why they were disabled.
    pub callback_disabled_reason: Option<String>,
    /// Since when deliveries to the callback have been failing (absent when the last succeeded).
    pub callback_failing_since: Option<DateTime<Utc>>,
    /// Until when the callback secret replaced by the last rotation still signs (both are sent).
    pub callback_previous_secret_expires_at: Option<DateTime<Utc>>,
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
        callback_disabled_at: m.callback_disabled_at,
        callback_disabled_reason: m.callback_disabled_reason.clone(),
        callback_failing_since: m.callback_failing_since,
        callback_previous_secret_expires_at: m
            .callback_previous_expires_at
            .filter(|e| *e > now() && m.callback_previous_secret.is_some()),
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
        let sealed = seal(keys, id.as_str(), "signing", &secret)?;
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
            callback_previous_secret: Set(None),
            callback_previous_expires_at: Set(None),
            callback_disabled_at: Set(None),
            callback_disabled_reason: Set(None),
            callback_failing_since: Set(None),
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
            sealed: seal(keys, &m.id, "signing", &secret)?,
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
        let sealed = seal(keys, &m.id, "callback", &secret)?;
        let mut am: source::ActiveModel = m.into();
        am.callback_url = Set(Some(url.to_string()));
        am.callback_secret = Set(Some(sealed));
        // A new endpoint and secret start clean: no previous secret, enabled, not failing.
        am.callback_previous_secret = Set(None);
        am.callback_previous_expires_at = Set(None);
        am.callback_disabled_at = Set(None);
        am.callback_disabled_reason = Set(None);
        am.callback_failing_since = Set(None);
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

    /// Rotate the callback secret: a new one signs outcome webhooks from now on, and the current
    /// one keeps signing beside it for `grace` (each message carries both signatures), so the
    /// ERP can switch to the new secret whenever it likes within that time.
    pub async fn rotate_callback_secret(
        &self,
        id: &SourceId,
        grace: chrono::Duration,
        keys: &SecretBox,
    ) -> Result<WebhookSecret, StoreError> {
        let secret = WebhookSecret::generate().map_err(corrupt)?;
        let w = self.store.begin_write().await?;
        let m = self.source_model(&w.txn, id).await?;
        let Some(current) = m.callback_secret.clone() else {
            return Err(StoreError::Conflict(
                "this source has no callback; set one with PUT /v1/sources/{id}/callback".into(),
            ));
        };
        let sealed = seal(keys, &m.id, "callback", &secret)?;
        let at = now();
        let mut am: source::ActiveModel = m.into();
        am.callback_secret = Set(Some(sealed));
        am.callback_previous_secret = Set((grace > chrono::Duration::zero()).then_some(current));
        am.callback_previous_expires_at =
            Set((grace > chrono::Duration::zero()).then(|| at + grace));
        am.updated_at = Set(at);
        am.update(&w.txn).await?;
        super::audit::append(
            &w.txn,
            super::audit::AuditEntry {
                org_id: Some(self.org.clone()),
                actor: "api".into(),
                action: "source.callback_secret_rotated".into(),
                source_id: Some(id.to_string()),
                details: serde_json::json!({ "grace_seconds": grace.num_seconds() }),
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

/// Encrypt a source's secret, bound to the source and to its use (`signing` or `callback`).
fn seal(
    keys: &SecretBox,
    source_id: &str,
    purpose: &str,
    secret: &WebhookSecret,
) -> Result<String, StoreError> {
    keys.encrypt(
        secrecy::ExposeSecret::expose_secret(&secret.expose_whsec()).as_bytes(),
        &aad(source_id, purpose),
    )
    .map_err(corrupt)
}

/// The secrets that sign outcome webhooks to this source's callback right now: the current one,
/// then the previous one while its rotation grace period lasts.
pub(crate) fn callback_signing_secrets(
    m: &source::Model,
    keys: &SecretBox,
    at: DateTime<Utc>,
) -> Result<Vec<WebhookSecret>, StoreError> {
    let open = |sealed: &str| -> Result<WebhookSecret, StoreError> {
        let plain = keys
            .decrypt_string(sealed, &aad(&m.id, "callback"))
            .map_err(corrupt)?;
        WebhookSecret::parse(secrecy::ExposeSecret::expose_secret(&plain)).map_err(corrupt)
    };
    let mut out = Vec::with_capacity(2);
    if let Some(current) = &m.callback_secret {
        out.push(open(current)?);
    }
    if let (Some(previous), Some(until)) =
        (&m.callback_previous_secret, m.callback_previous_expires_at)
    {
        if until > at {
            out.push(open(previous)?);
        }
    }
    Ok(out)
}
