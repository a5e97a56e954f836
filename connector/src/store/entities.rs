//! sea-orm entities, one module per table (see the `migrations` crate for the schema).
//! Rows keep ids as strings; the store's API converts them to typed ids at its edge.

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, sea_orm::EnumIter, sea_orm::DeriveRelation)]
        pub enum Relation {}
        impl sea_orm::ActiveModelBehavior for ActiveModel {}
    };
}

pub mod organization {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organizations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub settings: String,
        pub created_at: ChronoDateTimeUtc,
    }
    no_relations!();
}

pub mod api_token {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: Option<String>,
        pub name: String,
        pub token_hash: String,
        pub created_at: ChronoDateTimeUtc,
        pub revoked_at: Option<ChronoDateTimeUtc>,
    }
    no_relations!();
}

pub mod source {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sources")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub name: String,
        pub kind: String,
        /// JSON array of `StoredSecret` (each secret encrypted at rest).
        pub signing_secrets: String,
        pub callback_url: Option<String>,
        pub callback_secret: Option<String>,
        pub mapping: Option<String>,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
        /// The callback secret before the last rotation, sealed; both sign until it expires.
        pub callback_previous_secret: Option<String>,
        pub callback_previous_expires_at: Option<ChronoDateTimeUtc>,
        /// Set when outcome webhooks to this source are disabled (410, or failing too long).
        pub callback_disabled_at: Option<ChronoDateTimeUtc>,
        pub callback_disabled_reason: Option<String>,
        /// When the current run of failed deliveries began (cleared by a success).
        pub callback_failing_since: Option<ChronoDateTimeUtc>,
    }
    no_relations!();
}

pub mod document {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "documents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sha256: String,
        pub content_type: String,
        pub size: i64,
        pub content: Vec<u8>,
        pub created_at: ChronoDateTimeUtc,
    }
    no_relations!();
}

pub mod supplier {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "suppliers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub identity: String,
        pub name: Option<String>,
        pub vat_id: Option<String>,
        pub siren: Option<String>,
        pub created_at: ChronoDateTimeUtc,
    }
    no_relations!();
}

pub mod supplier_iban {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "supplier_ibans")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub supplier_id: String,
        pub iban: String,
        /// `approved` or `pending` (seen on a bill, waiting for a person).
        pub status: String,
        pub first_bill_id: Option<String>,
        pub created_at: ChronoDateTimeUtc,
        pub decided_at: Option<ChronoDateTimeUtc>,
        pub decided_by: Option<String>,
    }
    no_relations!();
}

pub mod bill {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bills")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub source_id: String,
        pub external_id: Option<String>,
        pub status: String,
        pub hold_reasons: String,
        pub warnings: String,
        pub syntax: String,
        pub kind: String,
        pub type_code: Option<String>,
        pub number: Option<String>,
        pub issue_date: Option<Date>,
        pub due_date: Option<Date>,
        pub currency: Option<String>,
        pub amount_due: Option<String>,
        pub amount_cents: Option<i64>,
        pub seller_name: Option<String>,
        pub seller_vat_id: Option<String>,
        pub seller_siren: Option<String>,
        pub supplier_id: Option<String>,
        pub creditor_name: Option<String>,
        pub iban: Option<String>,
        pub bic: Option<String>,
        pub payment_reference: Option<String>,
        pub document_sha256: Option<String>,
        pub dedupe_key: Option<String>,
        pub bill: String,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }
    no_relations!();
}

pub mod bill_history {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bill_history")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub bill_id: String,
        pub org_id: String,
        pub at: ChronoDateTimeUtc,
        pub from_status: Option<String>,
        pub to_status: String,
        pub actor: String,
        pub reason: Option<String>,
    }
    no_relations!();
}

pub mod audit_log {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub org_id: Option<String>,
        pub at: ChronoDateTimeUtc,
        pub actor: String,
        pub action: String,
        pub bill_id: Option<String>,
        pub run_id: Option<String>,
        pub source_id: Option<String>,
        pub details: String,
    }
    no_relations!();
}

pub mod job {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: Option<String>,
        pub kind: String,
        pub payload: String,
        pub status: String,
        pub attempts: i32,
        pub max_attempts: i32,
        pub run_at: ChronoDateTimeUtc,
        pub locked_by: Option<String>,
        pub locked_until: Option<ChronoDateTimeUtc>,
        pub last_error: Option<String>,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
    }
    no_relations!();
}

pub mod inbound_key {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inbound_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub source_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub webhook_id: String,
        pub body_sha256: String,
        pub bill_id: Option<String>,
        pub created_at: ChronoDateTimeUtc,
    }
    no_relations!();
}

pub mod event {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub source_id: Option<String>,
        pub bill_id: Option<String>,
        pub run_id: Option<String>,
        #[sea_orm(column_name = "type")]
        pub event_type: String,
        /// The exact body sent: `{"type", "timestamp", "data"}`.
        pub payload: String,
        pub created_at: ChronoDateTimeUtc,
    }
    no_relations!();
}

pub mod delivery {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub event_id: String,
        pub event_type: String,
        pub org_id: String,
        pub source_id: String,
        pub bill_id: Option<String>,
        pub url: String,
        /// `pending`, `delivered`, `dead`, `canceled`.
        pub status: String,
        /// Every attempt ever made.
        pub attempts: i32,
        /// Attempts since the delivery was last (re)queued; drives the retry schedule.
        pub round_attempts: i32,
        pub next_attempt_at: ChronoDateTimeUtc,
        pub locked_by: Option<String>,
        pub locked_until: Option<ChronoDateTimeUtc>,
        pub last_status_code: Option<i32>,
        pub last_error: Option<String>,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
        pub delivered_at: Option<ChronoDateTimeUtc>,
    }
    no_relations!();
}

pub mod delivery_attempt {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "delivery_attempts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub delivery_id: String,
        pub org_id: String,
        pub at: ChronoDateTimeUtc,
        pub status_code: Option<i32>,
        pub duration_ms: i64,
        /// The first 20 KB of the answer.
        pub response_body: Option<String>,
        pub error: Option<String>,
    }
    no_relations!();
}
