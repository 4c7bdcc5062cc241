//! ACLs (see [`crate::acl`]): one proposal per CreateAcls or DeleteAcls request, so a
//! request's bindings change together in one Raft entry.

use serde::{Deserialize, Serialize};

use crate::acl::{AclBinding, AclError, AclFilter};

/// Stores each binding (one that already exists is a success, as in Kafka).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAcls(pub Vec<AclBinding>);

/// Removes every binding each filter matches; answers, per filter, the bindings it removed
/// (a binding two filters match is removed by, and reported for, the first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAcls(pub Vec<AclFilter>);

/// One result per binding of `CreateAcls`.
pub type AclsCreated = Vec<Result<(), AclError>>;
/// One list of removed bindings per filter of `DeleteAcls`.
pub type AclsDeleted = Vec<Vec<AclBinding>>;
