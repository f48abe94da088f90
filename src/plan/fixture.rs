//! Plan values for the unit tests of the stages that take a plan (apply's scheduling and
//! evidence, the renderers): ids made from small numbers, so a test reads as its data.

use crate::ids::{GroupId, SkuId, UserId};
use crate::plan::{Principal, SkuName};

/// SKU `part` with the id made from `n`.
pub(crate) fn sku(n: u128, part: &str) -> SkuName {
    SkuName {
        part_number: part.into(),
        id: SkuId(uuid::Uuid::from_u128(n)),
    }
}

/// User `name` with the id made from `n`.
pub(crate) fn user(n: u128, name: &str) -> Principal {
    Principal::User {
        id: UserId(uuid::Uuid::from_u128(n)),
        name: name.into(),
    }
}

/// Group `name` with the id made from `n`.
pub(crate) fn group(n: u128, name: &str) -> Principal {
    Principal::Group {
        id: GroupId(uuid::Uuid::from_u128(n)),
        name: name.into(),
    }
}
