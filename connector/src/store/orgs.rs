//! Organizations and API tokens (stored as SHA-256 hashes: the tokens are 256-bit random
//! strings, so a fast hash is enough and a lookup by hash is a plain indexed query).

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use super::entities::{api_token, organization};
use super::{now, sha256_hex, Scoped, Store, StoreError};
use crate::ids::{OrgId, TokenId};

/// An organization (a tenant: one Qonto organization and its bills).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Organization {
    #[schema(value_type = String, example = "org_0193a5c8e7d27c3c9f3a1b2c3d4e5f60")]
    pub id: OrgId,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Who an API token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The bootstrap/admin token: manages organizations.
    Admin,
    /// A token of one organization.
    Org(OrgId),
}

fn to_org(m: organization::Model) -> Result<Organization, StoreError> {
    Ok(Organization {
        id: m
            .id
            .parse()
            .map_err(|e: crate::ids::BadId| StoreError::Corrupt(e.to_string()))?,
        name: m.name,
        created_at: m.created_at,
    })
}

/// A new random API token: `bb_` + 43 characters of URL-safe base64 (256 bits).
pub fn new_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    // getrandom only fails when the OS has no entropy source at all; nothing safe can go on.
    if getrandom::fill(&mut bytes).is_err() {
        panic!("the operating system's random number generator is unavailable");
    }
    format!(
        "bb_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

impl Store {
    pub async fn create_org(&self, name: &str) -> Result<Organization, StoreError> {
        let w = self.begin_write().await?;
        let m = organization::ActiveModel {
            id: Set(OrgId::new().to_string()),
            name: Set(name.to_string()),
            settings: Set("{}".to_string()),
            created_at: Set(now()),
        }
        .insert(&w.txn)
        .await?;
        w.commit().await?;
        to_org(m)
    }

    pub async fn list_orgs(&self) -> Result<Vec<Organization>, StoreError> {
        organization::Entity::find()
            .order_by_asc(organization::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_org)
            .collect()
    }

    pub async fn get_org(&self, id: &OrgId) -> Result<Organization, StoreError> {
        organization::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound("organization"))
            .and_then(to_org)
    }

    /// Create a token for an organization (or an admin token with `None`); returns the
    /// plaintext, which is shown once and never stored.
    pub async fn create_token(
        &self,
        org: Option<&OrgId>,
        name: &str,
    ) -> Result<(TokenId, String), StoreError> {
        let token = new_token();
        let id = TokenId::new();
        let w = self.begin_write().await?;
        api_token::ActiveModel {
            id: Set(id.to_string()),
            org_id: Set(org.map(ToString::to_string)),
            name: Set(name.to_string()),
            token_hash: Set(sha256_hex(token.as_bytes())),
            created_at: Set(now()),
            revoked_at: Set(None),
        }
        .insert(&w.txn)
        .await?;
        w.commit().await?;
        Ok((id, token))
    }

    /// Who a presented token speaks for, if it is a live token.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        let found = api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
            .filter(api_token::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?;
        Ok(match found {
            None => None,
            Some(t) => match t.org_id {
                None => Some(Principal::Admin),
                Some(org) => Some(Principal::Org(
                    org.parse()
                        .map_err(|e: crate::ids::BadId| StoreError::Corrupt(e.to_string()))?,
                )),
            },
        })
    }
}

/// An API token as listed (never its value, which is shown once, nor its hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: TokenId,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn to_token(m: api_token::Model) -> Result<TokenInfo, StoreError> {
    Ok(TokenInfo {
        id: m
            .id
            .parse()
            .map_err(|e: crate::ids::BadId| StoreError::Corrupt(e.to_string()))?,
        name: m.name,
        created_at: m.created_at,
        revoked_at: m.revoked_at,
    })
}

impl Scoped<'_> {
    /// The organization's API tokens, oldest first, revoked ones included.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        api_token::Entity::find()
            .filter(api_token::Column::OrgId.eq(self.org.to_string()))
            .order_by_asc(api_token::Column::CreatedAt)
            .order_by_asc(api_token::Column::Id)
            .all(self.store.connection())
            .await?
            .into_iter()
            .map(to_token)
            .collect()
    }

    /// Revoke one of the organization's tokens: it stops authenticating at once. Revoking a
    /// token twice is a conflict (it says when it was revoked).
    pub async fn revoke_token(&self, id: &TokenId, actor: &str) -> Result<TokenInfo, StoreError> {
        let w = self.store.begin_write().await?;
        let m = api_token::Entity::find_by_id(id.to_string())
            .filter(api_token::Column::OrgId.eq(self.org.to_string()))
            .one(&w.txn)
            .await?
            .ok_or(StoreError::NotFound("API token"))?;
        if let Some(at) = m.revoked_at {
            return Err(StoreError::Conflict(format!(
                "token {} was already revoked at {}",
                m.id,
                at.format("%Y-%m-%d %H:%M:%S UTC")
            )));
        }
        let mut am: api_token::ActiveModel = m.into();
        am.revoked_at = Set(Some(now()));
        let m = am.update(&w.txn).await?;
        super::audit::append(
            &w.txn,
            super::audit::AuditEntry {
                org_id: Some(self.org.clone()),
                actor: actor.to_string(),
                action: "token.revoked".into(),
                details: serde_json::json!({ "token_id": m.id, "name": m.name }),
                ..Default::default()
            },
        )
        .await?;
        w.commit().await?;
        to_token(m)
    }
}
