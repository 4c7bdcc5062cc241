//! The ACL bindings (snapshot format 9), and a revision that changes with them so brokers
//! rebuild their authorizer only when an ACL changed.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ControllerState;
use crate::acl::{AclBinding, AclError, AclFilter, MAX_ACLS};
use crate::command::{AclsCreated, AclsDeleted, CreateAcls, DeleteAcls};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclRegistry {
    bindings: BTreeSet<AclBinding>,
    /// Counts the commands that changed `bindings`.
    revision: u64,
}

impl AclRegistry {
    /// Every binding, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = &AclBinding> {
        self.bindings.iter()
    }

    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// Changes whenever the bindings do.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Bindings `filter` selects.
    pub fn matching<'a>(&'a self, filter: &'a AclFilter) -> impl Iterator<Item = &'a AclBinding> {
        self.bindings.iter().filter(|b| filter.matches(b))
    }

    fn create(&mut self, bindings: &[AclBinding]) -> AclsCreated {
        let before = self.revision;
        bindings
            .iter()
            .map(|binding| {
                binding.validate()?;
                if self.bindings.contains(binding) {
                    return Ok(());
                }
                if self.bindings.len() >= MAX_ACLS {
                    return Err(AclError::TooManyAcls(MAX_ACLS));
                }
                self.bindings.insert(binding.clone());
                // One step per command however many bindings it adds.
                self.revision = before + 1;
                Ok(())
            })
            .collect()
    }

    fn delete(&mut self, filters: &[AclFilter]) -> AclsDeleted {
        let mut answer = Vec::with_capacity(filters.len());
        for filter in filters {
            let removed: Vec<AclBinding> = self.matching(filter).cloned().collect();
            for binding in &removed {
                self.bindings.remove(binding);
            }
            answer.push(removed);
        }
        if answer.iter().any(|removed| !removed.is_empty()) {
            self.revision += 1;
        }
        answer
    }
}

impl ControllerState {
    pub(super) fn create_acls(&mut self, create: &CreateAcls) -> AclsCreated {
        self.acls.create(&create.0)
    }

    pub(super) fn delete_acls(&mut self, delete: &DeleteAcls) -> AclsDeleted {
        self.acls.delete(&delete.0)
    }

    /// The ACL bindings the authorizer decides from.
    pub fn acls(&self) -> &AclRegistry {
        &self.acls
    }
}
