# Controllers: one EC2 instance per node, each in its own subnet (zone), with
#   - a network interface created on its own, so the node's address (what --peers and the
#     brokers' --controllers name) survives replacing the instance, and
#   - an EBS data volume created on its own, so the Raft log and snapshots survive it too.
# Replacing a controller (new AMI, new image, a failed host) is therefore a restart of the same
# node with the same data: `terraform apply -replace='module.skiff.aws_instance.controller["2"]'`,
# one node at a time. AMI and user-data changes are ignored otherwise, so that one apply never
# restarts all nodes at once (see README: upgrades).

resource "aws_network_interface" "controller" {
  for_each        = local.controller_subnets
  subnet_id       = each.value
  security_groups = [aws_security_group.controllers.id]
  description     = "Skiff controller ${each.key} (stable address)"
  tags            = merge(local.tags, { Name = "${var.name}-controller-${each.key}" })

  lifecycle {
    precondition {
      condition     = length(distinct([for s in var.subnet_ids : data.aws_subnet.selected[s].availability_zone])) >= 3
      error_message = "subnet_ids must span at least 3 availability zones, so that the controllers are spread over zones."
    }
    precondition {
      condition     = alltrue([for s in var.subnet_ids : data.aws_subnet.selected[s].vpc_id == var.vpc_id])
      error_message = "Every subnet in subnet_ids must belong to vpc_id."
    }
  }
}

resource "aws_ebs_volume" "controller" {
  #checkov:skip=CKV_AWS_189:Encrypted with the account's EBS key; the volume holds the Raft log (metadata, no records), and a customer-managed key here would be one more key policy to get right for EC2.
  #checkov:skip=CKV2_AWS_9:Backups of the Raft volume are a user choice (AWS Backup plan); the cluster survives the loss of a minority of volumes, and all record data is in S3.
  for_each          = local.controller_subnets
  availability_zone = data.aws_subnet.selected[each.value].availability_zone
  size              = var.controller_volume_size_gib
  type              = "gp3"
  iops              = var.controller_volume_iops
  encrypted         = true
  tags              = merge(local.tags, { Name = "${var.name}-controller-${each.key}-data" })
}

resource "aws_instance" "controller" {
  for_each                = local.controller_subnets
  ami                     = local.ami_id
  instance_type           = var.controller_instance_type
  iam_instance_profile    = aws_iam_instance_profile.instance["controller"].name
  monitoring              = true
  ebs_optimized           = true
  disable_api_termination = false

  primary_network_interface {
    network_interface_id = aws_network_interface.controller[each.key].id
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = 20
    encrypted   = true
  }

  user_data = templatefile("${path.module}/templates/skiff-instance.sh.tftpl", merge(local.container_common, local.cluster_secret_settings, {
    role           = "controller"
    data_volume_id = aws_ebs_volume.controller[each.key].id
    kafka_port     = var.kafka_port
    log_group      = aws_cloudwatch_log_group.this["controllers"].name
    log_stream     = "controller-${each.key}"
    args           = concat(["controller"], var.allow_unsafe_bucket ? ["--allow-unsafe-store"] : [])
    env = {
      SKIFF_NODE_ID        = each.key
      SKIFF_LISTEN         = "${aws_network_interface.controller[each.key].private_ip}:${var.controller_port}"
      SKIFF_PEERS          = local.controller_peers
      SKIFF_DATA_DIR       = "/var/lib/skiff"
      SKIFF_OBJECT_STORE   = local.object_store
      SKIFF_S3_REGION      = local.region
      SKIFF_METRICS_ADDR   = "0.0.0.0:${var.metrics_port}"
      SKIFF_GC_INTERVAL_MS = tostring(var.controller_gc_interval_minutes * 60000)
      SKIFF_LOG            = "info"
    }
  }))

  tags        = merge(local.tags, { Name = "${var.name}-controller-${each.key}", "skiff:role" = "controller" })
  volume_tags = merge(local.tags, { Name = "${var.name}-controller-${each.key}-root" })

  lifecycle {
    ignore_changes = [ami, user_data]
  }

  depends_on = [aws_iam_role_policy.instance, aws_s3_bucket_lifecycle_configuration.data, aws_secretsmanager_secret_version.cluster]
}

resource "aws_volume_attachment" "controller" {
  for_each    = local.controller_subnets
  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.controller[each.key].id
  instance_id = aws_instance.controller[each.key].id
  # Detach only after the instance stopped, so the Raft log is closed first.
  stop_instance_before_detaching = true
}
