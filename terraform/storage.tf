# The bucket that holds every acknowledged record (segments/ under bucket_prefix) and the
# archive's Iceberg tables (archive/). Skiff deletes its own objects (the controller leader's
# garbage collection; under archive/, the brokers' archive jobs), so
# the bucket has NO expiration rule for current objects: an expiry would delete acknowledged
# data that the index still points at. `skiff store check` (run by each controller at start)
# refuses a bucket with such a rule.

resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_18:Server access logs need a second bucket the user owns; CloudTrail data events are the usual audit trail and are account-wide, not this module's choice.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage and PUT cost and needs a second region's bucket; it is the user's disaster-recovery choice, not a default.
  #checkov:skip=CKV2_AWS_62:Skiff does not consume S3 event notifications.
  #checkov:skip=CKV_AWS_145:SSE-KMS is used when kms_key_arn is given; the default SSE-S3 avoids a KMS request per object, which at Skiff's PUT rate costs more than the storage.
  bucket        = local.bucket_name
  force_destroy = var.bucket_force_destroy
  tags          = local.tags
}

resource "aws_s3_bucket_public_access_block" "data" {
  bucket                  = aws_s3_bucket.data.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # One KMS request per bucket key period instead of per object.
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id
  versioning_configuration {
    status = var.bucket_versioning ? "Enabled" : "Suspended"
  }
}

# Only housekeeping rules: unfinished multipart uploads, and (with versioning) versions that are
# no longer current. Neither can remove an object Skiff still references.
resource "aws_s3_bucket_lifecycle_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  rule {
    id     = "remove-noncurrent-versions"
    status = var.bucket_versioning ? "Enabled" : "Disabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    # Removes only delete markers with no version left behind them; never an object.
    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.data]
}

# Plain HTTP is refused for everyone, whatever their IAM rights.
resource "aws_s3_bucket_policy" "data" {
  bucket = aws_s3_bucket.data.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.data]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.data.arn, "${aws_s3_bucket.data.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# Athena reads the archive through this Glue database; brokers create and update one table per
# archived topic in it (--archive-glue-database).
resource "aws_glue_catalog_database" "archive" {
  count       = var.archive_glue_database == null ? 0 : 1
  name        = var.archive_glue_database
  description = "Skiff ${var.name}: Iceberg tables of archived topics (s3://${local.bucket_name}/${var.bucket_prefix}/archive/)"
  tags        = local.tags
}
