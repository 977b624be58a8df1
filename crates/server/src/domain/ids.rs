//! The ids of the server's rows, one type each, so a tenant's id cannot be passed where an
//! asset's is meant. A logger has two names that must not be mixed up: its hardware id (the
//! `logger_id` string it reports with, chosen by the device) and its row ([`LoggerRow`], which
//! the API calls the logger's `id`).
//!
//! Each is the row's integer key, in JSON a plain number; the store binds and reads them as
//! such (its `ToSql`/`FromSql` glue lives with the backend, not here).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

row_id!(
    /// A tenant: one company, whose data no other tenant sees.
    TenantId
);
row_id!(
    /// A user account (of one tenant).
    UserId
);
row_id!(
    /// An asset: one input of one logger, a machine.
    AssetId
);
row_id!(
    /// A logger's row; the API's `id` of a logger. Not its hardware `logger_id`.
    LoggerRow
);
