//! Payments: runs, their chunks (one Qonto bulk or single-transfer batch each), one transfer per
//! bill, and the local cache of Qonto beneficiaries.
//!
//! DESIGN §3 invariant 1 lives here: a partial unique index over `transfers(bill_id)` for every
//! live status, so no code path and no second instance can create a second live transfer for
//! a bill. Partial indexes are plain SQL that SQLite (≥ 3.8) and PostgreSQL both accept.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PaymentRuns {
    Table,
    Id,
    OrgId,
    Kind,
    Status,
    Execution,
    ScaMethod,
    Summary,
    BillCount,
    TotalCents,
    CreatedBy,
    Reason,
    CreatedAt,
    UpdatedAt,
    ConfirmedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum RunChunks {
    Table,
    Id,
    OrgId,
    RunId,
    Seq,
    Mode,
    Status,
    TrustedOnly,
    VopToken,
    VopAt,
    RequestBody,
    IdempotencyKey,
    KeyGeneration,
    ScaToken,
    ScaMethod,
    ScaStartedAt,
    QontoBulkId,
    FirstSentAt,
    ReplayedAt,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Transfers {
    Table,
    Id,
    OrgId,
    RunId,
    ChunkId,
    BillId,
    Status,
    Amount,
    AmountCents,
    Reference,
    Iban,
    CreditorName,
    BeneficiaryId,
    Trusted,
    VopResult,
    VopMatchedName,
    VopDecision,
    ScheduledDate,
    AttachmentId,
    QontoTransferId,
    FailureReason,
    CreatedAt,
    UpdatedAt,
    SubmittedAt,
    SettledAt,
}

#[derive(DeriveIden)]
enum Beneficiaries {
    Table,
    OrgId,
    Id,
    Iban,
    Name,
    Trusted,
    Status,
    RefreshedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PaymentRuns::Table)
                .col(string(PaymentRuns::Id).primary_key())
                .col(string(PaymentRuns::OrgId))
                .col(string(PaymentRuns::Kind))
                .col(string(PaymentRuns::Status))
                .col(string(PaymentRuns::Execution))
                .col(string_null(PaymentRuns::ScaMethod))
                .col(text(PaymentRuns::Summary))
                .col(integer(PaymentRuns::BillCount))
                .col(big_integer(PaymentRuns::TotalCents))
                .col(string(PaymentRuns::CreatedBy))
                .col(text_null(PaymentRuns::Reason))
                .col(timestamp_with_time_zone(PaymentRuns::CreatedAt))
                .col(timestamp_with_time_zone(PaymentRuns::UpdatedAt))
                .col(timestamp_with_time_zone_null(PaymentRuns::ConfirmedAt))
                .col(timestamp_with_time_zone_null(PaymentRuns::CompletedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_payment_runs_org_status")
                .table(PaymentRuns::Table)
                .col(PaymentRuns::OrgId)
                .col(PaymentRuns::Status)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RunChunks::Table)
                .col(string(RunChunks::Id).primary_key())
                .col(string(RunChunks::OrgId))
                .col(string(RunChunks::RunId))
                .col(integer(RunChunks::Seq))
                .col(string(RunChunks::Mode))
                .col(string(RunChunks::Status))
                .col(boolean(RunChunks::TrustedOnly))
                .col(text_null(RunChunks::VopToken))
                .col(timestamp_with_time_zone_null(RunChunks::VopAt))
                .col(text_null(RunChunks::RequestBody))
                .col(string_null(RunChunks::IdempotencyKey))
                .col(integer(RunChunks::KeyGeneration))
                .col(text_null(RunChunks::ScaToken))
                .col(string_null(RunChunks::ScaMethod))
                .col(timestamp_with_time_zone_null(RunChunks::ScaStartedAt))
                .col(string_null(RunChunks::QontoBulkId))
                .col(timestamp_with_time_zone_null(RunChunks::FirstSentAt))
                .col(timestamp_with_time_zone_null(RunChunks::ReplayedAt))
                .col(text_null(RunChunks::LastError))
                .col(timestamp_with_time_zone(RunChunks::CreatedAt))
                .col(timestamp_with_time_zone(RunChunks::UpdatedAt))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_run_chunks_run", [RunChunks::RunId, RunChunks::Seq]),
            (
                "ix_run_chunks_status",
                [RunChunks::Status, RunChunks::OrgId],
            ),
        ] {
            let mut idx = Index::create()
                .name(name)
                .table(RunChunks::Table)
                .to_owned();
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx).await?;
        }

        m.create_table(
            Table::create()
                .table(Transfers::Table)
                .col(string(Transfers::Id).primary_key())
                .col(string(Transfers::OrgId))
                .col(string(Transfers::RunId))
                .col(string_null(Transfers::ChunkId))
                .col(string(Transfers::BillId))
                .col(string(Transfers::Status))
                .col(string(Transfers::Amount))
                .col(big_integer(Transfers::AmountCents))
                .col(string(Transfers::Reference))
                .col(string(Transfers::Iban))
                .col(text(Transfers::CreditorName))
                .col(string_null(Transfers::BeneficiaryId))
                .col(boolean(Transfers::Trusted))
                .col(string_null(Transfers::VopResult))
                .col(text_null(Transfers::VopMatchedName))
                .col(string_null(Transfers::VopDecision))
                .col(date_null(Transfers::ScheduledDate))
                .col(string_null(Transfers::AttachmentId))
                .col(string_null(Transfers::QontoTransferId))
                .col(text_null(Transfers::FailureReason))
                .col(timestamp_with_time_zone(Transfers::CreatedAt))
                .col(timestamp_with_time_zone(Transfers::UpdatedAt))
                .col(timestamp_with_time_zone_null(Transfers::SubmittedAt))
                .col(timestamp_with_time_zone_null(Transfers::SettledAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_transfers_run")
                        .from(Transfers::Table, Transfers::RunId)
                        .to(PaymentRuns::Table, PaymentRuns::Id)
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_transfers_run", vec![Transfers::RunId]),
            ("ix_transfers_chunk", vec![Transfers::ChunkId]),
            (
                "ix_transfers_org_status",
                vec![Transfers::OrgId, Transfers::Status],
            ),
            ("ix_transfers_qonto", vec![Transfers::QontoTransferId]),
            ("ix_transfers_bill", vec![Transfers::BillId]),
        ] {
            let mut idx = Index::create()
                .name(name)
                .table(Transfers::Table)
                .to_owned();
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx).await?;
        }
        // Invariant 1: at most one live transfer per bill, enforced by the database.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_transfers_live_bill ON transfers (bill_id) \
                 WHERE status NOT IN ('failed', 'declined', 'canceled')",
            )
            .await?;

        m.create_table(
            Table::create()
                .table(Beneficiaries::Table)
                .col(string(Beneficiaries::OrgId))
                .col(string(Beneficiaries::Id))
                .col(string(Beneficiaries::Iban))
                .col(text(Beneficiaries::Name))
                .col(boolean(Beneficiaries::Trusted))
                .col(string(Beneficiaries::Status))
                .col(timestamp_with_time_zone(Beneficiaries::RefreshedAt))
                .primary_key(
                    Index::create()
                        .col(Beneficiaries::OrgId)
                        .col(Beneficiaries::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_beneficiaries_org_iban")
                .table(Beneficiaries::Table)
                .col(Beneficiaries::OrgId)
                .col(Beneficiaries::Iban)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Beneficiaries::Table.into_iden(),
            Transfers::Table.into_iden(),
            RunChunks::Table.into_iden(),
            PaymentRuns::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
