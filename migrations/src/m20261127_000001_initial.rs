//! The connector's backbone: organizations, tokens, sources, documents, suppliers, bills and
//! their history, the audit log, the job outbox and inbound idempotency keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    Settings,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    OrgId,
    Name,
    TokenHash,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Sources {
    Table,
    Id,
    OrgId,
    Name,
    Kind,
    SigningSecrets,
    CallbackUrl,
    CallbackSecret,
    Mapping,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Sha256,
    ContentType,
    Size,
    Content,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Suppliers {
    Table,
    Id,
    OrgId,
    Identity,
    Name,
    VatId,
    Siren,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SupplierIbans {
    Table,
    Id,
    OrgId,
    SupplierId,
    Iban,
    Status,
    FirstBillId,
    CreatedAt,
    DecidedAt,
    DecidedBy,
}

#[derive(DeriveIden)]
enum Bills {
    Table,
    Id,
    OrgId,
    SourceId,
    ExternalId,
    Status,
    HoldReasons,
    Warnings,
    Syntax,
    Kind,
    TypeCode,
    Number,
    IssueDate,
    DueDate,
    Currency,
    AmountDue,
    AmountCents,
    SellerName,
    SellerVatId,
    SellerSiren,
    SupplierId,
    CreditorName,
    Iban,
    Bic,
    PaymentReference,
    DocumentSha256,
    DedupeKey,
    Bill,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BillHistory {
    Table,
    Id,
    BillId,
    OrgId,
    At,
    FromStatus,
    ToStatus,
    Actor,
    Reason,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    OrgId,
    At,
    Actor,
    Action,
    BillId,
    RunId,
    SourceId,
    Details,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    OrgId,
    Kind,
    Payload,
    Status,
    Attempts,
    MaxAttempts,
    RunAt,
    LockedBy,
    LockedUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InboundKeys {
    Table,
    SourceId,
    WebhookId,
    BodySha256,
    BillId,
    CreatedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Organizations::Table)
                .col(string(Organizations::Id).primary_key())
                .col(string(Organizations::Name))
                .col(text(Organizations::Settings))
                .col(timestamp_with_time_zone(Organizations::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(string(ApiTokens::Id).primary_key())
                .col(string_null(ApiTokens::OrgId))
                .col(string(ApiTokens::Name))
                .col(string_uniq(ApiTokens::TokenHash))
                .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                .foreign_key(&mut fk(
                    "fk_api_tokens_org",
                    (ApiTokens::Table, ApiTokens::OrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Sources::Table)
                .col(string(Sources::Id).primary_key())
                .col(string(Sources::OrgId))
                .col(string(Sources::Name))
                .col(string(Sources::Kind))
                .col(text(Sources::SigningSecrets))
                .col(text_null(Sources::CallbackUrl))
                .col(text_null(Sources::CallbackSecret))
                .col(text_null(Sources::Mapping))
                .col(timestamp_with_time_zone(Sources::CreatedAt))
                .col(timestamp_with_time_zone(Sources::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_sources_org",
                    (Sources::Table, Sources::OrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_sources_org_name")
                .table(Sources::Table)
                .col(Sources::OrgId)
                .col(Sources::Name)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Documents::Table)
                .col(string(Documents::Sha256).primary_key())
                .col(string(Documents::ContentType))
                .col(big_integer(Documents::Size))
                .col(blob(Documents::Content))
                .col(timestamp_with_time_zone(Documents::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Suppliers::Table)
                .col(string(Suppliers::Id).primary_key())
                .col(string(Suppliers::OrgId))
                .col(string(Suppliers::Identity))
                .col(text_null(Suppliers::Name))
                .col(string_null(Suppliers::VatId))
                .col(string_null(Suppliers::Siren))
                .col(timestamp_with_time_zone(Suppliers::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_suppliers_org",
                    (Suppliers::Table, Suppliers::OrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_suppliers_org_identity")
                .table(Suppliers::Table)
                .col(Suppliers::OrgId)
                .col(Suppliers::Identity)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SupplierIbans::Table)
                .col(string(SupplierIbans::Id).primary_key())
                .col(string(SupplierIbans::OrgId))
                .col(string(SupplierIbans::SupplierId))
                .col(string(SupplierIbans::Iban))
                .col(string(SupplierIbans::Status))
                .col(string_null(SupplierIbans::FirstBillId))
                .col(timestamp_with_time_zone(SupplierIbans::CreatedAt))
                .col(timestamp_with_time_zone_null(SupplierIbans::DecidedAt))
                .col(string_null(SupplierIbans::DecidedBy))
                .foreign_key(&mut fk(
                    "fk_supplier_ibans_supplier",
                    (SupplierIbans::Table, SupplierIbans::SupplierId),
                    (Suppliers::Table, Suppliers::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_supplier_ibans_supplier_iban")
                .table(SupplierIbans::Table)
                .col(SupplierIbans::SupplierId)
                .col(SupplierIbans::Iban)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Bills::Table)
                .col(string(Bills::Id).primary_key())
                .col(string(Bills::OrgId))
                .col(string(Bills::SourceId))
                .col(string_null(Bills::ExternalId))
                .col(string(Bills::Status))
                .col(text(Bills::HoldReasons))
                .col(text(Bills::Warnings))
                .col(string(Bills::Syntax))
                .col(string(Bills::Kind))
                .col(string_null(Bills::TypeCode))
                .col(string_null(Bills::Number))
                .col(date_null(Bills::IssueDate))
                .col(date_null(Bills::DueDate))
                .col(string_null(Bills::Currency))
                .col(string_null(Bills::AmountDue))
                .col(big_integer_null(Bills::AmountCents))
                .col(text_null(Bills::SellerName))
                .col(string_null(Bills::SellerVatId))
                .col(string_null(Bills::SellerSiren))
                .col(string_null(Bills::SupplierId))
                .col(text_null(Bills::CreditorName))
                .col(string_null(Bills::Iban))
                .col(string_null(Bills::Bic))
                .col(text_null(Bills::PaymentReference))
                .col(string_null(Bills::DocumentSha256))
                .col(string_null(Bills::DedupeKey))
                .col(text(Bills::Bill))
                .col(timestamp_with_time_zone(Bills::CreatedAt))
                .col(timestamp_with_time_zone(Bills::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_bills_org",
                    (Bills::Table, Bills::OrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_bills_source",
                    (Bills::Table, Bills::SourceId),
                    (Sources::Table, Sources::Id),
                ))
                .to_owned(),
        )
        .await?;
        // A repeat of the same ERP bill (same source, same external id) is one bill.
        m.create_index(
            Index::create()
                .name("ux_bills_source_external")
                .table(Bills::Table)
                .col(Bills::SourceId)
                .col(Bills::ExternalId)
                .unique()
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_bills_org_status", [Bills::OrgId, Bills::Status]),
            ("ix_bills_org_dedupe", [Bills::OrgId, Bills::DedupeKey]),
            ("ix_bills_org_due", [Bills::OrgId, Bills::DueDate]),
        ] {
            let mut idx = Index::create().name(name).table(Bills::Table).to_owned();
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx).await?;
        }

        m.create_table(
            Table::create()
                .table(BillHistory::Table)
                .col(big_pk_auto(BillHistory::Id))
                .col(string(BillHistory::BillId))
                .col(string(BillHistory::OrgId))
                .col(timestamp_with_time_zone(BillHistory::At))
                .col(string_null(BillHistory::FromStatus))
                .col(string(BillHistory::ToStatus))
                .col(string(BillHistory::Actor))
                .col(text_null(BillHistory::Reason))
                .foreign_key(&mut fk(
                    "fk_bill_history_bill",
                    (BillHistory::Table, BillHistory::BillId),
                    (Bills::Table, Bills::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_bill_history_bill")
                .table(BillHistory::Table)
                .col(BillHistory::BillId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(big_pk_auto(AuditLog::Id))
                .col(string_null(AuditLog::OrgId))
                .col(timestamp_with_time_zone(AuditLog::At))
                .col(string(AuditLog::Actor))
                .col(string(AuditLog::Action))
                .col(string_null(AuditLog::BillId))
                .col(string_null(AuditLog::RunId))
                .col(string_null(AuditLog::SourceId))
                .col(text(AuditLog::Details))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_audit_org_at", [AuditLog::OrgId, AuditLog::At]),
            ("ix_audit_bill", [AuditLog::BillId, AuditLog::At]),
            ("ix_audit_run", [AuditLog::RunId, AuditLog::At]),
        ] {
            let mut idx = Index::create().name(name).table(AuditLog::Table).to_owned();
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx).await?;
        }

        m.create_table(
            Table::create()
                .table(Jobs::Table)
                .col(string(Jobs::Id).primary_key())
                .col(string_null(Jobs::OrgId))
                .col(string(Jobs::Kind))
                .col(text(Jobs::Payload))
                .col(string(Jobs::Status))
                .col(integer(Jobs::Attempts))
                .col(integer(Jobs::MaxAttempts))
                .col(timestamp_with_time_zone(Jobs::RunAt))
                .col(string_null(Jobs::LockedBy))
                .col(timestamp_with_time_zone_null(Jobs::LockedUntil))
                .col(text_null(Jobs::LastError))
                .col(timestamp_with_time_zone(Jobs::CreatedAt))
                .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_jobs_status_run_at")
                .table(Jobs::Table)
                .col(Jobs::Status)
                .col(Jobs::RunAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(InboundKeys::Table)
                .col(string(InboundKeys::SourceId))
                .col(string(InboundKeys::WebhookId))
                .col(string(InboundKeys::BodySha256))
                .col(string_null(InboundKeys::BillId))
                .col(timestamp_with_time_zone(InboundKeys::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(InboundKeys::SourceId)
                        .col(InboundKeys::WebhookId),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            InboundKeys::Table.into_iden(),
            Jobs::Table.into_iden(),
            AuditLog::Table.into_iden(),
            BillHistory::Table.into_iden(),
            Bills::Table.into_iden(),
            SupplierIbans::Table.into_iden(),
            Suppliers::Table.into_iden(),
            Documents::Table.into_iden(),
            Sources::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
