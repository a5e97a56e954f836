//! Database migrations for billbridge. The same migrations run on SQLite (the embedded default)
//! and PostgreSQL: they are written with sea-query's schema builder, never in one dialect's SQL.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_initial;
mod m20261127_000002_payments;
mod m20261127_000003_webhooks;
mod m20261127_000004_qonto_connections;
mod m20261207_000005_transfer_groups;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_initial::Migration),
            Box::new(m20261127_000002_payments::Migration),
            Box::new(m20261127_000003_webhooks::Migration),
            Box::new(m20261127_000004_qonto_connections::Migration),
            Box::new(m20261207_000005_transfer_groups::Migration),
        ]
    }
}
