//! Qonto connections per organization: the OAuth 2.0 tokens (sealed with the master key), a
//! `version` for compare-and-swap and a refresh lease so that only one instance refreshes a
//! token at a time (`qonto_connections`); and the pending authorizations started by
//! `POST /v1/qonto/connect`, keyed by the SHA-256 of their `state` (`qonto_oauth_states`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum QontoConnections {
    Table,
    OrgId,
    Environment,
    ApiBase,
    OauthBase,
    AuthKind,
    AccessToken,
    AccessExpiresAt,
    RefreshToken,
    Scope,
    Version,
    RefreshLockedBy,
    RefreshLockedUntil,
    ConnectedBy,
    ConnectedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum QontoOauthStates {
    Table,
    StateHash,
    OrgId,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(QontoConnections::Table)
                .col(string(QontoConnections::OrgId).primary_key())
                // `production`, `sandbox` or `custom`, with the base URLs as configured when
                // the organization connected: tokens only work where they were issued.
                .col(string(QontoConnections::Environment))
                .col(text(QontoConnections::ApiBase))
                .col(text(QontoConnections::OauthBase))
                // `oauth` or `api_key`.
                .col(string(QontoConnections::AuthKind))
                // Sealed (`v1:…`, XChaCha20-Poly1305, associated data bound to the org id).
                .col(text_null(QontoConnections::AccessToken))
                .col(timestamp_with_time_zone_null(
                    QontoConnections::AccessExpiresAt,
                ))
                .col(text_null(QontoConnections::RefreshToken))
                .col(text_null(QontoConnections::Scope))
                // Compare-and-swap: `UPDATE … WHERE org_id = ? AND version = ?`.
                .col(big_integer(QontoConnections::Version))
                // Refresh lease: one instance refreshes at a time.
                .col(string_null(QontoConnections::RefreshLockedBy))
                .col(timestamp_with_time_zone_null(
                    QontoConnections::RefreshLockedUntil,
                ))
                .col(string(QontoConnections::ConnectedBy))
                .col(timestamp_with_time_zone(QontoConnections::ConnectedAt))
                .col(timestamp_with_time_zone(QontoConnections::CreatedAt))
                .col(timestamp_with_time_zone(QontoConnections::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_qonto_connections_org")
                        .from(QontoConnections::Table, QontoConnections::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(QontoOauthStates::Table)
                .col(string(QontoOauthStates::StateHash).primary_key())
                .col(string(QontoOauthStates::OrgId))
                .col(string(QontoOauthStates::CreatedBy))
                .col(timestamp_with_time_zone(QontoOauthStates::CreatedAt))
                .col(timestamp_with_time_zone(QontoOauthStates::ExpiresAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_qonto_oauth_states_org")
                        .from(QontoOauthStates::Table, QontoOauthStates::OrgId)
                        .to(Organizations::Table, Organizations::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_qonto_oauth_states_org")
                .table(QontoOauthStates::Table)
                .col(QontoOauthStates::OrgId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(QontoOauthStates::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(QontoConnections::Table).to_owned())
            .await?;
        Ok(())
    }
}
