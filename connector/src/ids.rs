//! Typed ids (svix style): a prefix that says what the id names, then a time-ordered UUID.
//! An id of one kind cannot be passed where another is expected, and a malformed id from a
//! URL is refused with a clear message instead of reaching a query.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A malformed id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind} id (expected {prefix}_ followed by 32 hex digits)")]
pub struct BadId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! typed_id {
    ($name:ident, $prefix:literal, $kind:literal) => {
        #[doc = concat!("Id of a ", $kind, " (`", $prefix, "_…`).")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn new() -> Self {
                $name(format!("{}_{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The UUID inside the id, hyphenated (for APIs that want a UUID, such as Qonto's
            /// `client_transfer_id`).
            pub fn uuid(&self) -> String {
                let hex = &self.0[$prefix.len() + 1..];
                uuid::Uuid::parse_str(hex)
                    .map(|u| u.hyphenated().to_string())
                    .unwrap_or_else(|_| hex.to_string())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl FromStr for $name {
            type Err = BadId;
            fn from_str(s: &str) -> Result<Self, BadId> {
                let ok = s.strip_prefix(concat!($prefix, "_")).is_some_and(|rest| {
                    rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit())
                });
                if ok {
                    Ok($name(s.to_string()))
                } else {
                    Err(BadId {
                        kind: $kind,
                        prefix: $prefix,
                        value: s.chars().take(80).collect(),
                    })
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = BadId;
            fn try_from(s: String) -> Result<Self, BadId> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(OrgId, "org", "organization");
typed_id!(SourceId, "src", "source");
typed_id!(BillId, "bill", "bill");
typed_id!(SupplierId, "sup", "supplier");
typed_id!(TokenId, "tok", "API token");
typed_id!(JobId, "job", "job");
typed_id!(RunId, "run", "payment run");
typed_id!(EventId, "msg", "event");
typed_id!(DeliveryId, "dlv", "webhook delivery");
typed_id!(ChunkId, "chk", "payment chunk");
typed_id!(TransferId, "trf", "transfer");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_other_kinds() {
        let id = BillId::new();
        assert_eq!(id.as_str().parse::<BillId>().unwrap(), id);
        assert!(id.as_str().parse::<OrgId>().is_err());
        assert!("bill_123".parse::<BillId>().is_err());
        assert!("bill_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
            .parse::<BillId>()
            .is_err());
    }
}
