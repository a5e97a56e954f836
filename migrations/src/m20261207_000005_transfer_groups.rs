//! Per-supplier grouping (an organization option): several bills of one supplier paid by one
//! Qonto transfer. Each bill keeps its own `transfers` row (DESIGN §3 invariant 1 — one live
//! transfer per bill — is unchanged); the rows of one Qonto transfer share `group_id`, the id of
//! the group's first row, which is also the `client_transfer_id` sent to Qonto. A row paid on
//! its own has no `group_id`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Transfers {
    Table,
    GroupId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Transfers::Table)
                .add_column(string_null(Transfers::GroupId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_transfers_group")
                .table(Transfers::Table)
                .col(Transfers::GroupId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_transfers_group")
                .table(Transfers::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Transfers::Table)
                .drop_column(Transfers::GroupId)
                .to_owned(),
        )
        .await
    }
}
