//! KIP-430 authorized operations: what a caller may do with a topic, group or the cluster, as
//! bit sets of Kafka's ACL operation codes. Skiff has no authorizer yet, so every caller may
//! do every operation Kafka defines for the resource; the security issue's ACLs will compute
//! them per caller.

const READ: i32 = 3;
const WRITE: i32 = 4;
const CREATE: i32 = 5;
const DELETE: i32 = 6;
const ALTER: i32 = 7;
const DESCRIBE: i32 = 8;
const CLUSTER_ACTION: i32 = 9;
const DESCRIBE_CONFIGS: i32 = 10;
const ALTER_CONFIGS: i32 = 11;
const IDEMPOTENT_WRITE: i32 = 12;

const fn bits(operations: &[i32]) -> i32 {
    let mut set = 0;
    let mut i = 0;
    while i < operations.len() {
        set |= 1 << operations[i];
        i += 1;
    }
    set
}

/// What Kafka lists for a TOPIC resource.
pub const TOPIC_OPERATIONS: i32 = bits(&[
    READ,
    WRITE,
    CREATE,
    DELETE,
    ALTER,
    DESCRIBE,
    DESCRIBE_CONFIGS,
    ALTER_CONFIGS,
]);

/// What Kafka lists for a GROUP resource.
pub const GROUP_OPERATIONS: i32 = bits(&[READ, DELETE, DESCRIBE]);

/// What Kafka lists for the CLUSTER resource.
pub const CLUSTER_OPERATIONS: i32 = bits(&[
    CREATE,
    ALTER,
    DESCRIBE,
    CLUSTER_ACTION,
    DESCRIBE_CONFIGS,
    ALTER_CONFIGS,
    IDEMPOTENT_WRITE,
]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_kafkas_operation_codes() {
        // DescribeGroups answered this value before the table existed; clients decode it to
        // READ, DELETE, DESCRIBE.
        assert_eq!(GROUP_OPERATIONS, (1 << 3) | (1 << 6) | (1 << 8));
        assert_eq!(TOPIC_OPERATIONS.count_ones(), 8);
        assert_eq!(CLUSTER_OPERATIONS.count_ones(), 7);
        assert_eq!(
            TOPIC_OPERATIONS & 0b111,
            0,
            "UNKNOWN, ANY and ALL are never granted bits"
        );
    }
}
