# Skiff on AWS: one S3 bucket, controller_count controllers (EC2, fixed ENIs, EBS data volumes,
# one per zone), stateless brokers in an autoscaling group behind an internal Network Load
# Balancer, and an optional Lambda consumer invoked by `skiff trigger` or AWS's event source
# mapping. Every process is the same container image, run by docker on Amazon Linux 2023.
#
# Files: storage.tf (bucket), network.tf (security groups), iam.tf, logs.tf, controllers.tf,
# brokers.tf (autoscaling group and load balancer), lambda.tf, templates/ (instance user data).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_vpc" "this" {
  id = var.vpc_id
}

data "aws_subnet" "selected" {
  for_each = toset(var.subnet_ids)
  id       = each.value
}

data "aws_ssm_parameter" "al2023_ami" {
  count = var.ami_id == null ? 1 : 0
  name  = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${var.architecture}"
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  tags = merge({ "skiff:cluster" = var.name }, var.tags)

  ami_id = var.ami_id != null ? var.ami_id : nonsensitive(data.aws_ssm_parameter.al2023_ami[0].value)

  # ---- storage ----
  bucket_name    = coalesce(var.bucket_name, "${var.name}-${local.account_id}-${local.region}")
  bucket_arn     = "arn:${local.partition}:s3:::${local.bucket_name}"
  object_store   = "s3://${local.bucket_name}/${var.bucket_prefix}"
  prefix_objects = "${local.bucket_arn}/${var.bucket_prefix}/*"
  # Archive tables (Iceberg): brokers' archive jobs delete what their failed passes and the
  # archive's own retention leave here, so brokers may delete under this prefix only.
  prefix_archive_objects = "${local.bucket_arn}/${var.bucket_prefix}/archive/*"

  # ---- controllers: node i (1-based) in subnet i-1 (mod the subnet count) ----
  controller_ids = [for i in range(var.controller_count) : tostring(i + 1)]
  controller_subnets = {
    for i in range(var.controller_count) : tostring(i + 1) => var.subnet_ids[i % length(var.subnet_ids)]
  }
  controller_ips = { for id, eni in aws_network_interface.controller : id => eni.private_ip }
  controller_peers = join(",", [
    for id in local.controller_ids : "${id}=${local.controller_ips[id]}:${var.controller_port}"
  ])
  controller_addresses = [for id in local.controller_ids : "${local.controller_ips[id]}:${var.controller_port}"]

  # ---- Kafka ----
  bootstrap_servers = "${aws_lb.bootstrap.dns_name}:${var.kafka_port}"

  # ---- image pull: an ECR image of this account gets scoped pull rights ----
  ecr_match      = try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([^:@]+)", var.image), null)
  ecr_repository = local.ecr_match == null ? null : "arn:${local.partition}:ecr:${local.ecr_match[1]}:${local.ecr_match[0]}:repository/${local.ecr_match[2]}"
  ecr_registry   = local.ecr_match == null ? "" : "${local.ecr_match[0]}.dkr.ecr.${local.ecr_match[1]}.amazonaws.com"

  # ---- Lambda consumer ----
  lambda_enabled        = var.lambda_trigger != "none"
  lambda_function_name  = "${var.name}-consumer"
  lambda_consumer_group = coalesce(var.lambda_consumer_group, "${var.name}-lambda")

  # The settings every container gets: where the objects are and how to log.
  container_common = {
    image        = var.image
    ecr_registry = local.ecr_registry
    region       = local.region
    # Controllers and brokers only: the trigger speaks Kafka, not the controller API.
    cluster_secret_service = ""
    cluster_secret_id      = ""
  }
  cluster_secret_settings = {
    cluster_secret_service = local.cluster_secret_service
    cluster_secret_id      = local.cluster_secret_id
  }
}
