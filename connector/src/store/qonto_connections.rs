//! Qonto connections per organization (OAuth 2.0), in the database so that they survive
//! restarts and are shared by every instance on one PostgreSQL.
//!
//! * `qonto_connections`: one row per connected organization, its tokens sealed with the master
//!   key ([`SecretBox`], associated data bound to the organization id and to which token it is),
//!   a `version` for compare-and-swap and a refresh lease. [`DbTokenStore`] is the
//!   [`TokenStore`] the Qonto client refreshes through: the new refresh token is stored with
//!   `UPDATE … WHERE org_id = ? AND version = ?` before the new access token is used, and only
//!   the holder of the lease refreshes, so two instances never spend the same refresh token.
//! * `qonto_oauth_states`: authorizations started by `POST /v1/qonto/connect` (or
//!   `billbridge qonto connect`), keyed by the SHA-256 of their random `state`, bound to the
//!   organization, single use, expiring after [`AUTHORIZATION_TTL`].

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::{now, sha256_hex, Store, StoreError};
use crate::ids::OrgId;
use crate::qonto::{Environment, QontoConfig, QontoError, StoredTokens, TokenSet, TokenStore};
use crate::secrets::SecretBox;
use crate::store::audit::AuditEntry;

/// How long an authorize URL handed out by `POST /v1/qonto/connect` can be completed.
pub const AUTHORIZATION_TTL: Duration = Duration::from_secs(15 * 60);

/// `auth_kind` of a connection made with OAuth 2.0.
pub const AUTH_OAUTH: &str = "oauth";
/// `auth_kind` of an API-key connection (today only from configuration, never stored).
pub const AUTH_API_KEY: &str = "api_key";

/// sea-orm entities of the two tables (see migration `m20261127_000004_qonto_connections`).
pub mod entities {
    /// `qonto_connections`.
    pub mod qonto_connection {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "qonto_connections")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub org_id: String,
            /// `production`, `sandbox` or `custom`.
            pub environment: String,
            pub api_base: String,
            pub oauth_base: String,
            /// `oauth` or `api_key`.
            pub auth_kind: String,
            /// Sealed (`v1:…`).
            pub access_token: Option<String>,
            pub access_expires_at: Option<ChronoDateTimeUtc>,
            /// Sealed (`v1:…`).
            pub refresh_token: Option<String>,
            pub scope: Option<String>,
            pub version: i64,
            pub refresh_locked_by: Option<String>,
            pub refresh_locked_until: Option<ChronoDateTimeUtc>,
            pub connected_by: String,
            pub connected_at: ChronoDateTimeUtc,
            pub created_at: ChronoDateTimeUtc,
            pub updated_at: ChronoDateTimeUtc,
        }
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    }

    /// `qonto_oauth_states`.
    pub mod qonto_oauth_state {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "qonto_oauth_states")]
        pub struct Model {
            /// SHA-256 (hex) of the `state`; the state itself is never stored.
            #[sea_orm(primary_key, auto_increment = false)]
            pub state_hash: String,
            pub org_id: String,
            pub created_by: String,
            pub created_at: ChronoDateTimeUtc,
            pub expires_at: ChronoDateTimeUtc,
        }
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    }
}

use entities::{qonto_connection as conn, qonto_oauth_state as oauth_state};

/// Which Qonto deployment a connection belongs to: tokens only work where they were issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QontoTarget {
    /// `production`, `sandbox` or `custom`.
    pub environment: String,
    pub api_base: String,
    pub oauth_base: String,
}

impl QontoTarget {
    /// The deployment a configuration talks to.
    pub fn of(config: &QontoConfig) -> QontoTarget {
        let environment = match config.environment {
            Environment::Production => "production",
            Environment::Sandbox => "sandbox",
            Environment::Custom { .. } => "custom",
        };
        QontoTarget {
            environment: environment.to_string(),
            api_base: config.environment.api_base().to_string(),
            oauth_base: config.environment.oauth_base().to_string(),
        }
    }

    /// Whether a stored connection was made with this deployment.
    pub fn matches(&self, row: &conn::Model) -> bool {
        row.api_base == self.api_base && row.oauth_base == self.oauth_base
    }
}

fn access_aad(org: &str) -> Vec<u8> {
    format!("qonto_oauth_access:{org}").into_bytes()
}

fn refresh_aad(org: &str) -> Vec<u8> {
    format!("qonto_oauth_refresh:{org}").into_bytes()
}

fn seal(keys: &SecretBox, value: &SecretString, aad: &[u8]) -> Result<String, StoreError> {
    keys.encrypt(value.expose_secret().as_bytes(), aad)
        .map_err(|e| StoreError::Corrupt(format!("could not seal a Qonto token: {e}")))
}

/// What `take_qonto_authorization` found for a returned `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakenAuthorization {
    /// Started by `org` (through `created_by`) and not expired; it is now used up.
    Valid { org: OrgId, created_by: String },
    /// It existed but expired (it is removed).
    Expired,
    /// Never issued, or already used.
    Unknown,
}

/// A connection as shown to the organization: no secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QontoConnectionView {
    #[schema(value_type = String)]
    pub organization_id: OrgId,
    /// Whether payments can reach Qonto for this organization.
    pub connected: bool,
    /// `oauth` (per organization, `POST /v1/qonto/connect`) or `api_key` (from configuration).
    pub auth_kind: String,
    /// `production`, `sandbox`, `custom` (another base URL) or `builtin_sandbox`.
    pub environment: String,
    pub api_base: String,
    pub connected_at: Option<DateTime<Utc>>,
    pub connected_by: Option<String>,
    /// When the stored access token expires (it is refreshed ahead of that).
    pub access_expires_at: Option<DateTime<Utc>>,
    /// Whether a refresh token is stored (scope `offline_access`).
    pub refreshable: bool,
    /// Granted scopes, space-separated.
    pub scope: Option<String>,
    /// What to do next, when not connected.
    pub message: Option<String>,
}

impl Store {
    /// Records an authorization started for `org`: only the SHA-256 of `state` is kept, for
    /// [`AUTHORIZATION_TTL`]. Expired ones are swept on the way.
    pub async fn save_qonto_authorization(
        &self,
        org: &OrgId,
        state: &str,
        created_by: &str,
    ) -> Result<DateTime<Utc>, StoreError> {
        let at = now();
        let ttl = chrono::Duration::from_std(AUTHORIZATION_TTL)
            .unwrap_or_else(|_| chrono::Duration::minutes(15));
        let expires_at = at + ttl;
        let w = self.begin_write().await?;
        oauth_state::Entity::delete_many()
            .filter(oauth_state::Column::ExpiresAt.lt(at))
            .exec(&w.txn)
            .await?;
        oauth_state::ActiveModel {
            state_hash: Set(sha256_hex(state.as_bytes())),
            org_id: Set(org.to_string()),
            created_by: Set(created_by.to_string()),
            created_at: Set(at),
            expires_at: Set(expires_at),
        }
        .insert(&w.txn)
        .await?;
        w.commit().await?;
        Ok(expires_at)
    }

    /// Uses up a returned `state`: at most one caller gets [`TakenAuthorization::Valid`] for it.
    pub async fn take_qonto_authorization(
        &self,
        state: &str,
    ) -> Result<TakenAuthorization, StoreError> {
        let hash = sha256_hex(state.as_bytes());
        let w = self.begin_write().await?;
        let Some(row) = oauth_state::Entity::find_by_id(hash.clone())
            .one(&w.txn)
            .await?
        else {
            return Ok(TakenAuthorization::Unknown);
        };
        let gone = oauth_state::Entity::delete_many()
            .filter(oauth_state::Column::StateHash.eq(hash))
            .exec(&w.txn)
            .await?
            .rows_affected;
        w.commit().await?;
        if gone != 1 {
            // Another request took it between our read and our delete.
            return Ok(TakenAuthorization::Unknown);
        }
        if row.expires_at <= now() {
            return Ok(TakenAuthorization::Expired);
        }
        let org = row
            .org_id
            .parse()
            .map_err(|e: crate::ids::BadId| StoreError::Corrupt(e.to_string()))?;
        Ok(TakenAuthorization::Valid {
            org,
            created_by: row.created_by,
        })
    }

    /// Stores (or replaces) `org`'s OAuth tokens after a code exchange; the version moves on,
    /// so a refresh in flight with the old tokens loses its compare-and-swap.
    pub async fn save_qonto_connection(
        &self,
        keys: &SecretBox,
        target: &QontoTarget,
        org: &OrgId,
        tokens: &TokenSet,
        connected_by: &str,
    ) -> Result<(), StoreError> {
        let id = org.to_string();
        let access = seal(keys, &tokens.access_token, &access_aad(&id))?;
        let refresh = match &tokens.refresh_token {
            Some(r) => Some(seal(keys, r, &refresh_aad(&id))?),
            None => None,
        };
        let at = now();
        let w = self.begin_write().await?;
        let existing = conn::Entity::find_by_id(id.clone()).one(&w.txn).await?;
        match existing {
            Some(row) => {
                let done = conn::Entity::update_many()
                    .col_expr(
                        conn::Column::Environment,
                        Expr::value(target.environment.clone()),
                    )
                    .col_expr(conn::Column::ApiBase, Expr::value(target.api_base.clone()))
                    .col_expr(
                        conn::Column::OauthBase,
                        Expr::value(target.oauth_base.clone()),
                    )
                    .col_expr(conn::Column::AuthKind, Expr::value(AUTH_OAUTH))
                    .col_expr(conn::Column::AccessToken, Expr::value(Some(access)))
                    .col_expr(
                        conn::Column::AccessExpiresAt,
                        Expr::value(Some(tokens.expires_at)),
                    )
                    .col_expr(conn::Column::RefreshToken, Expr::value(refresh))
                    .col_expr(conn::Column::Scope, Expr::value(tokens.scope.clone()))
                    .col_expr(conn::Column::Version, Expr::value(row.version + 1))
                    .col_expr(
                        conn::Column::RefreshLockedBy,
                        Expr::value(Option::<String>::None),
                    )
                    .col_expr(
                        conn::Column::RefreshLockedUntil,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .col_expr(conn::Column::ConnectedBy, Expr::value(connected_by))
                    .col_expr(conn::Column::ConnectedAt, Expr::value(at))
                    .col_expr(conn::Column::UpdatedAt, Expr::value(at))
                    .filter(conn::Column::OrgId.eq(id.clone()))
                    .filter(conn::Column::Version.eq(row.version))
                    .exec(&w.txn)
                    .await?
                    .rows_affected;
                if done != 1 {
                    return Err(StoreError::Conflict(
                        "the Qonto connection changed while connecting; try again".into(),
                    ));
                }
            }
            None => {
                conn::ActiveModel {
                    org_id: Set(id.clone()),
                    environment: Set(target.environment.clone()),
                    api_base: Set(target.api_base.clone()),
                    oauth_base: Set(target.oauth_base.clone()),
                    auth_kind: Set(AUTH_OAUTH.to_string()),
                    access_token: Set(Some(access)),
                    access_expires_at: Set(Some(tokens.expires_at)),
                    refresh_token: Set(refresh),
                    scope: Set(tokens.scope.clone()),
                    version: Set(1),
                    refresh_locked_by: Set(None),
                    refresh_locked_until: Set(None),
                    connected_by: Set(connected_by.to_string()),
                    connected_at: Set(at),
                    created_at: Set(at),
                    updated_at: Set(at),
                }
                .insert(&w.txn)
                .await
                .map_err(|e| {
                    let e = StoreError::from(e);
                    if e.is_unique_violation() {
                        StoreError::Conflict(
                            "the Qonto connection changed while connecting; try again".into(),
                        )
                    } else {
                        e
                    }
                })?;
            }
        }
        crate::store::audit::append(
            &w.txn,
            AuditEntry {
                org_id: Some(org.clone()),
                actor: connected_by.to_string(),
                action: "qonto.connected".into(),
                details: serde_json::json!({
                    "auth_kind": AUTH_OAUTH,
                    "environment": target.environment,
                    "api_base": target.api_base,
                    "scope": tokens.scope,
                    "access_expires_at": tokens.expires_at,
                }),
                ..Default::default()
            },
        )
        .await?;
        w.commit().await
    }

    /// Removes `org`'s stored Qonto connection and its pending authorizations. `false` when
    /// there was no connection.
    pub async fn delete_qonto_connection(
        &self,
        org: &OrgId,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let w = self.begin_write().await?;
        let gone = conn::Entity::delete_many()
            .filter(conn::Column::OrgId.eq(org.to_string()))
            .exec(&w.txn)
            .await?
            .rows_affected;
        oauth_state::Entity::delete_many()
            .filter(oauth_state::Column::OrgId.eq(org.to_string()))
            .exec(&w.txn)
            .await?;
        if gone > 0 {
            crate::store::audit::append(
                &w.txn,
                AuditEntry {
                    org_id: Some(org.clone()),
                    actor: actor.to_string(),
                    action: "qonto.disconnected".into(),
                    details: serde_json::json!({}),
                    ..Default::default()
                },
            )
            .await?;
        }
        w.commit().await?;
        Ok(gone > 0)
    }

    /// The stored connection row of `org` (sealed tokens; never shown as is).
    pub async fn qonto_connection_row(
        &self,
        org: &OrgId,
    ) -> Result<Option<conn::Model>, StoreError> {
        Ok(conn::Entity::find_by_id(org.to_string())
            .one(self.connection())
            .await?)
    }

    /// How `org` reaches Qonto, without secrets: through its stored OAuth connection when
    /// `oauth` is the deployment organizations connect to, else through `config` (`None`: the
    /// built-in sandbox).
    pub async fn qonto_connection_view(
        &self,
        org: &OrgId,
        oauth: Option<&QontoTarget>,
        config: Option<&QontoConfig>,
    ) -> Result<QontoConnectionView, StoreError> {
        let mut view = QontoConnectionView {
            organization_id: org.clone(),
            connected: false,
            auth_kind: AUTH_OAUTH.into(),
            environment: String::new(),
            api_base: String::new(),
            connected_at: None,
            connected_by: None,
            access_expires_at: None,
            refreshable: false,
            scope: None,
            message: None,
        };
        if let Some(target) = oauth {
            self.oauth_view(org, target, &mut view).await?;
            return Ok(view);
        }
        let Some(config) = config else {
            view.connected = true;
            view.auth_kind = AUTH_API_KEY.into();
            view.environment = "builtin_sandbox".into();
            view.message = Some("sandbox mode: payments go to the built-in Qonto sandbox".into());
            return Ok(view);
        };
        let target = QontoTarget::of(config);
        view.environment = target.environment.clone();
        view.api_base = target.api_base.clone();
        if config.api_key.is_some() {
            view.connected = true;
            view.auth_kind = AUTH_API_KEY.into();
            view.message =
                Some("the API key of [qonto.api_key] is used for every organization".into());
            return Ok(view);
        }
        view.message =
            Some("no Qonto credentials are configured ([qonto.api_key] or [qonto.oauth])".into());
        Ok(view)
    }

    async fn oauth_view(
        &self,
        org: &OrgId,
        target: &QontoTarget,
        view: &mut QontoConnectionView,
    ) -> Result<(), StoreError> {
        view.environment = target.environment.clone();
        view.api_base = target.api_base.clone();
        match self.qonto_connection_row(org).await? {
            Some(row) if target.matches(&row) => {
                view.connected = row.access_token.is_some();
                view.connected_at = Some(row.connected_at);
                view.connected_by = Some(row.connected_by);
                view.access_expires_at = row.access_expires_at;
                view.refreshable = row.refresh_token.is_some();
                view.scope = row.scope;
            }
            Some(row) => {
                view.message = Some(format!(
                    "connected to Qonto at {}, but this instance is configured for {}: connect again with POST /v1/qonto/connect",
                    row.api_base, target.api_base
                ));
            }
            None => {
                view.message = Some("not connected: POST /v1/qonto/connect".into());
            }
        }
        Ok(())
    }
}

/// The [`TokenStore`] of OAuth tokens in `qonto_connections` (credential id = organization id),
/// sealed at rest, with compare-and-swap on `version` and a refresh lease per organization.
#[derive(Clone)]
pub struct DbTokenStore {
    store: Store,
    keys: SecretBox,
    target: QontoTarget,
}

impl std::fmt::Debug for DbTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbTokenStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

fn store_err(e: impl std::fmt::Display) -> QontoError {
    QontoError::TokenStore(e.to_string())
}

impl DbTokenStore {
    /// Tokens of the deployment `target` in `store`, sealed with `keys`.
    pub fn new(store: Store, keys: SecretBox, target: QontoTarget) -> DbTokenStore {
        DbTokenStore {
            store,
            keys,
            target,
        }
    }

    fn open(&self, row: &conn::Model) -> Result<Option<StoredTokens>, QontoError> {
        let (Some(access), Some(expires_at)) = (&row.access_token, row.access_expires_at) else {
            return Ok(None);
        };
        let access_token = self
            .keys
            .decrypt_string(access, &access_aad(&row.org_id))
            .map_err(store_err)?;
        let refresh_token = match &row.refresh_token {
            Some(r) => Some(
                self.keys
                    .decrypt_string(r, &refresh_aad(&row.org_id))
                    .map_err(store_err)?,
            ),
            None => None,
        };
        Ok(Some(StoredTokens {
            tokens: TokenSet {
                access_token,
                refresh_token,
                expires_at,
                scope: row.scope.clone(),
            },
            version: u64::try_from(row.version).map_err(store_err)?,
        }))
    }
}

#[async_trait]
impl TokenStore for DbTokenStore {
    async fn load(&self, credential_id: &str) -> crate::qonto::Result<Option<StoredTokens>> {
        let row = conn::Entity::find_by_id(credential_id.to_string())
            .one(self.store.connection())
            .await
            .map_err(store_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        if row.auth_kind != AUTH_OAUTH {
            return Ok(None);
        }
        if !self.target.matches(&row) {
            return Err(QontoError::Config(format!(
                "organization connected to Qonto at {}, but this instance is configured for {}: \
                 connect again with POST /v1/qonto/connect",
                row.api_base, self.target.api_base
            )));
        }
        self.open(&row)
    }

    async fn compare_and_swap(
        &self,
        credential_id: &str,
        expected_version: Option<u64>,
        new: TokenSet,
    ) -> crate::qonto::Result<Option<u64>> {
        let org: OrgId = credential_id.parse().map_err(store_err)?;
        let Some(expected) = expected_version else {
            // First tokens of the organization: the connect path.
            return match self
                .store
                .save_qonto_connection(&self.keys, &self.target, &org, &new, "oauth")
                .await
            {
                Ok(()) => Ok(Some(1)),
                Err(StoreError::Conflict(_)) => Ok(None),
                Err(e) => Err(store_err(e)),
            };
        };
        let expected = i64::try_from(expected).map_err(store_err)?;
        let access =
            seal(&self.keys, &new.access_token, &access_aad(credential_id)).map_err(store_err)?;
        let refresh = match &new.refresh_token {
            Some(r) => Some(seal(&self.keys, r, &refresh_aad(credential_id)).map_err(store_err)?),
            None => None,
        };
        let w = self.store.begin_write().await.map_err(store_err)?;
        let done = conn::Entity::update_many()
            .col_expr(conn::Column::AccessToken, Expr::value(Some(access)))
            .col_expr(
                conn::Column::AccessExpiresAt,
                Expr::value(Some(new.expires_at)),
            )
            .col_expr(conn::Column::RefreshToken, Expr::value(refresh))
            .col_expr(conn::Column::Scope, Expr::value(new.scope.clone()))
            .col_expr(conn::Column::Version, Expr::value(expected + 1))
            .col_expr(conn::Column::UpdatedAt, Expr::value(now()))
            .filter(conn::Column::OrgId.eq(credential_id))
            .filter(conn::Column::Version.eq(expected))
            .exec(&w.txn)
            .await
            .map_err(store_err)?
            .rows_affected;
        w.commit().await.map_err(store_err)?;
        Ok((done == 1).then_some(expected as u64 + 1))
    }

    async fn try_lock_refresh(
        &self,
        credential_id: &str,
        ttl: Duration,
    ) -> crate::qonto::Result<Option<String>> {
        let lease = uuid::Uuid::new_v4().simple().to_string();
        let at = now();
        let until = at + chrono::Duration::from_std(ttl).map_err(store_err)?;
        let w = self.store.begin_write().await.map_err(store_err)?;
        let taken = conn::Entity::update_many()
            .col_expr(
                conn::Column::RefreshLockedBy,
                Expr::value(Some(lease.clone())),
            )
            .col_expr(conn::Column::RefreshLockedUntil, Expr::value(Some(until)))
            .filter(conn::Column::OrgId.eq(credential_id))
            .filter(
                sea_orm::Condition::any()
                    .add(conn::Column::RefreshLockedUntil.is_null())
                    .add(conn::Column::RefreshLockedUntil.lt(at)),
            )
            .exec(&w.txn)
            .await
            .map_err(store_err)?
            .rows_affected;
        w.commit().await.map_err(store_err)?;
        Ok((taken == 1).then_some(lease))
    }

    async fn unlock_refresh(&self, credential_id: &str, lease: &str) -> crate::qonto::Result<()> {
        let w = self.store.begin_write().await.map_err(store_err)?;
        conn::Entity::update_many()
            .col_expr(
                conn::Column::RefreshLockedBy,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                conn::Column::RefreshLockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(conn::Column::OrgId.eq(credential_id))
            .filter(conn::Column::RefreshLockedBy.eq(lease))
            .exec(&w.txn)
            .await
            .map_err(store_err)?;
        w.commit().await.map_err(store_err)?;
        Ok(())
    }
}
