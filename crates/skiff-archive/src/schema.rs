//! The archive table's columns and partitioning: one Iceberg schema, from which the Arrow
//! schema (with the Parquet field ids Iceberg readers match columns by) is derived, so the
//! two can never disagree.

use std::sync::Arc;

use arrow_schema::SchemaRef as ArrowSchemaRef;
use iceberg::spec::{
    ListType, NestedField, PrimitiveType, Schema, StructType, Transform, Type, UnboundPartitionSpec,
};

use crate::error::ArchiveError;

/// Column names, in table order.
pub const COLUMNS: [&str; 8] = [
    "topic",
    "partition",
    "offset",
    "timestamp",
    "timestamp_type",
    "key",
    "value",
    "headers",
];

/// Hive-style folder names under `data/`: `partition=<p>/date=<yyyy-mm-dd>`.
pub const PARTITION_FOLDER: &str = "partition";
pub const DATE_FOLDER: &str = "date";

/// Field ids are part of the table format (readers match Parquet columns by id): never
/// renumber them.
pub fn table_schema() -> Result<Schema, ArchiveError> {
    let header = StructType::new(vec![
        NestedField::required(10, "key", Type::Primitive(PrimitiveType::String)).into(),
        NestedField::optional(11, "value", Type::Primitive(PrimitiveType::Binary)).into(),
    ]);
    let headers = ListType::new(NestedField::list_element(9, Type::Struct(header), true).into());
    let fields = vec![
        NestedField::required(1, "topic", Type::Primitive(PrimitiveType::String)),
        NestedField::required(2, "partition", Type::Primitive(PrimitiveType::Int)),
        NestedField::required(3, "offset", Type::Primitive(PrimitiveType::Long)),
        NestedField::required(4, "timestamp", Type::Primitive(PrimitiveType::Timestamptz)),
        NestedField::required(5, "timestamp_type", Type::Primitive(PrimitiveType::String)),
        NestedField::optional(6, "key", Type::Primitive(PrimitiveType::Binary)),
        NestedField::optional(7, "value", Type::Primitive(PrimitiveType::Binary)),
        NestedField::required(8, "headers", Type::List(headers)),
    ];
    Ok(Schema::builder()
        .with_schema_id(0)
        .with_fields(fields.into_iter().map(Arc::new))
        .build()?)
}

/// Identity on the Kafka partition, then the day of the record timestamp (UTC).
pub fn partition_spec() -> Result<UnboundPartitionSpec, ArchiveError> {
    Ok(UnboundPartitionSpec::builder()
        .with_spec_id(0)
        .add_partition_field(2, PARTITION_FOLDER, Transform::Identity)?
        .add_partition_field(4, DATE_FOLDER, Transform::Day)?
        .build())
}

pub fn arrow_schema(schema: &Schema) -> Result<ArrowSchemaRef, ArchiveError> {
    Ok(Arc::new(iceberg::arrow::schema_to_arrow_schema(schema)?))
}
