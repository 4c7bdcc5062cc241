# Every option of the module: a customer-managed KMS key for the bucket, 3 controllers, 3-12
# brokers, Prometheus scrapers, and a Lambda consumer invoked by `skiff trigger` (or by AWS's
# event source mapping with lambda_trigger = "aws_esm"). terraform/README.md has its cost at
# 10 MB/s in with 3x fan-out.

provider "aws" {
  # The region (and credentials) come from the environment: AWS_REGION, AWS_PROFILE, ...
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# The bucket's key: the account administers it; the instance roles get Decrypt and
# GenerateDataKey from the module's IAM policies.
resource "aws_kms_key" "skiff" {
  description             = "Skiff ${var.name} bucket"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource is the key itself; this is AWS's default key policy (the account administers its key through IAM).
  #checkov:skip=CKV_AWS_356:Same: in a key policy "*" means this key only.
  #checkov:skip=CKV_AWS_109:Same: the account root administering its own key is AWS's default key policy.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy, "*" is this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

module "skiff" {
  source = "../.."

  name                  = var.name
  tags                  = { environment = "production", service = "skiff" }
  vpc_id                = var.vpc_id
  subnet_ids            = var.subnet_ids
  allowed_client_cidrs  = var.allowed_client_cidrs
  metrics_allowed_cidrs = var.metrics_allowed_cidrs
  image                 = var.image
  architecture          = "x86_64"

  controller_count           = 3
  controller_instance_type   = "m7i.large"
  controller_volume_size_gib = 50

  broker_instance_type                    = "c7i.large"
  broker_min_count                        = 3
  broker_max_count                        = 12
  broker_cpu_target_percent               = 60
  broker_network_in_target_mib_per_minute = 3072
  broker_cache_disk_gib                   = 100

  kms_key_arn                        = aws_kms_key.skiff.arn
  bucket_prefix                      = "skiff"
  bucket_versioning                  = true
  noncurrent_version_expiration_days = 7
  abort_incomplete_multipart_days    = 2
  log_retention_days                 = 90
  archive_glue_database              = "skiff_archive"
  cluster_secret_arn                 = var.cluster_secret_arn

  lambda_trigger            = var.lambda_trigger
  lambda_package_file       = var.lambda_package_file
  lambda_topics             = var.lambda_topics
  lambda_consumer_group     = "${var.name}-lambda"
  lambda_batch_size         = 500
  lambda_batching_window_ms = 500
  lambda_starting_position  = "TRIM_HORIZON"
  trigger_count             = 2
}
