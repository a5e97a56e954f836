//! Outcome webhooks: the event outbox (`events`), one delivery per event and endpoint
//! (`deliveries`, claimed with a lease) and every attempt (`delivery_attempts`); on `sources`, the
//! endpoint's state: the previous callback secret during a rotation, and why it is disabled.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sources {
    Table,
    CallbackPreviousSecret,
    CallbackPreviousExpiresAt,
    CallbackDisabledAt,
    CallbackDisabledReason,
    CallbackFailingSince,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    OrgId,
    SourceId,
    BillId,
    RunId,
    Type,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    EventId,
    EventType,
    OrgId,
    SourceId,
    BillId,
    Url,
    Status,
    Attempts,
    RoundAttempts,
    NextAttemptAt,
    LockedBy,
    LockedUntil,
    LastStatusCode,
    LastError,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    Id,
    DeliveryId,
    OrgId,
    At,
    StatusCode,
    DurationMs,
    ResponseBody,
    Error,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for col in [
            text_null(Sources::CallbackPreviousSecret),
            timestamp_with_time_zone_null(Sources::CallbackPreviousExpiresAt),
            timestamp_with_time_zone_null(Sources::CallbackDisabledAt),
            text_null(Sources::CallbackDisabledReason),
            timestamp_with_time_zone_null(Sources::CallbackFailingSince),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Sources::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(string(Events::Id).primary_key())
                .col(string(Events::OrgId))
                .col(string_null(Events::SourceId))
                .col(string_null(Events::BillId))
                .col(string_null(Events::RunId))
                .col(string(Events::Type))
                .col(text(Events::Payload))
                .col(timestamp_with_time_zone(Events::CreatedAt))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_events_org_id", vec![Events::OrgId, Events::Id]),
            ("ix_events_bill", vec![Events::BillId]),
            ("ix_events_run", vec![Events::RunId]),
        ] {
            let mut idx = Index::create().name(name).table(Events::Table).to_owned();
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx).await?;
        }

        m.create_table(
            Table::create()
                .table(Deliveries::Table)
                .col(string(Deliveries::Id).primary_key())
                .col(string(Deliveries::EventId))
                .col(string(Deliveries::EventType))
                .col(string(Deliveries::OrgId))
                .col(string(Deliveries::SourceId))
                .col(string_null(Deliveries::BillId))
                .col(text(Deliveries::Url))
                .col(string(Deliveries::Status))
                .col(integer(Deliveries::Attempts))
                .col(integer(Deliveries::RoundAttempts))
                .col(timestamp_with_time_zone(Deliveries::NextAttemptAt))
                .col(string_null(Deliveries::LockedBy))
                .col(timestamp_with_time_zone_null(Deliveries::LockedUntil))
                .col(integer_null(Deliveries::LastStatusCode))
                .col(text_null(Deliveries::LastError))
                .col(timestamp_with_time_zone(Deliveries::CreatedAt))
                .col(timestamp_with_time_zone(Deliveries::UpdatedAt))
                .col(timestamp_with_time_zone_null(Deliveries::DeliveredAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_deliveries_event")
                        .from(Deliveries::Table, Deliveries::EventId)
                        .to(Events::Table, Events::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            // Claiming due ones.
            (
                "ix_deliveries_status_next",
                vec![Deliveries::Status, Deliveries::NextAttemptAt],
            ),
            // Per-bill order: an earlier pending event of the same bill to the same endpoint.
            (
                "ix_deliveries_order",
                vec![
                    Deliveries::SourceId,
                    Deliveries::BillId,
                    Deliveries::Status,
                    Deliveries::EventId,
                ],
            ),
            (
                "ix_deliveries_org_id",
                vec![Deliveries::OrgId, Deliveries::Id],
            ),
            ("ix_deliveries_event", vec![Deliveries::EventId]),
        ] {
            let mut idx = Index::create()
                .name(name)
                .table(Deliveries::Table)
                .to_owned();
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx).await?;
        }
        // One delivery per event and endpoint.
        m.create_index(
            Index::create()
                .name("ux_deliveries_event_source")
                .table(Deliveries::Table)
                .col(Deliveries::EventId)
                .col(Deliveries::SourceId)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(DeliveryAttempts::Table)
                .col(big_pk_auto(DeliveryAttempts::Id))
                .col(string(DeliveryAttempts::DeliveryId))
                .col(string(DeliveryAttempts::OrgId))
                .col(timestamp_with_time_zone(DeliveryAttempts::At))
                .col(integer_null(DeliveryAttempts::StatusCode))
                .col(big_integer(DeliveryAttempts::DurationMs))
                .col(text_null(DeliveryAttempts::ResponseBody))
                .col(text_null(DeliveryAttempts::Error))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_delivery_attempts_delivery")
                        .from(DeliveryAttempts::Table, DeliveryAttempts::DeliveryId)
                        .to(Deliveries::Table, Deliveries::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_delivery_attempts_delivery")
                .table(DeliveryAttempts::Table)
                .col(DeliveryAttempts::DeliveryId)
                .col(DeliveryAttempts::Id)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            DeliveryAttempts::Table.into_iden(),
            Deliveries::Table.into_iden(),
            Events::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        for col in [
            Sources::CallbackPreviousSecret.into_iden(),
            Sources::CallbackPreviousExpiresAt.into_iden(),
            Sources::CallbackDisabledAt.into_iden(),
            Sources::CallbackDisabledReason.into_iden(),
            Sources::CallbackFailingSince.into_iden(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Sources::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
