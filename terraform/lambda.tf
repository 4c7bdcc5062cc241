# The Lambda consumer: a function from a zip or an ECR image, invoked with AWS's self-managed
# Kafka event either by `skiff trigger` (lambda_trigger = "skiff": an autoscaling group of
# trigger_count instances sharing one consumer group) or by AWS's event source mapping
# (lambda_trigger = "aws_esm": one mapping per topic, polling the bootstrap load balancer from
# the given subnets). The same function runs unchanged under both.

resource "aws_lambda_function" "consumer" {
  #checkov:skip=CKV_AWS_116:Failed batches go where the trigger sends them (skiff trigger --on-failure-topic, or the mapping's retry settings); a DLQ on the function would only catch asynchronous invocations, which neither trigger makes.
  #checkov:skip=CKV_AWS_117:The function itself needs no VPC access: the trigger (or the mapping's pollers) reaches Kafka; the function only receives events.
  #checkov:skip=CKV_AWS_173:The environment holds only what lambda_environment gives; Lambda encrypts it at rest with its own key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the user owns; the package is the user's input.
  count         = local.lambda_enabled ? 1 : 0
  function_name = local.lambda_function_name
  description   = "Skiff consumer of ${join(", ", var.lambda_topics)}"
  role          = aws_iam_role.lambda[0].arn
  package_type  = var.lambda_image_uri == null ? "Zip" : "Image"

  filename         = var.lambda_package_file
  source_code_hash = var.lambda_package_file == null ? null : filebase64sha256(var.lambda_package_file)
  handler          = var.lambda_image_uri == null ? var.lambda_handler : null
  runtime          = var.lambda_image_uri == null ? var.lambda_runtime : null
  image_uri        = var.lambda_image_uri
  architectures    = [var.architecture]

  memory_size                    = var.lambda_memory_mb
  timeout                        = var.lambda_timeout_s
  reserved_concurrent_executions = var.lambda_reserved_concurrency

  dynamic "environment" {
    for_each = length(var.lambda_environment) > 0 ? [1] : []
    content {
      variables = var.lambda_environment
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this["lambda"].name
  }

  tags       = local.tags
  depends_on = [aws_iam_role_policy.lambda]
}

# ---- lambda_trigger = "aws_esm" ----

resource "aws_lambda_event_source_mapping" "consumer" {
  for_each          = var.lambda_trigger == "aws_esm" ? toset(var.lambda_topics) : toset([])
  function_name     = aws_lambda_function.consumer[0].arn
  topics            = [each.value] # one topic per mapping (an ESM limit)
  starting_position = var.lambda_starting_position
  batch_size        = var.lambda_batch_size
  # The mapping takes whole seconds.
  maximum_batching_window_in_seconds = ceil(var.lambda_batching_window_ms / 1000)

  self_managed_event_source {
    endpoints = {
      KAFKA_BOOTSTRAP_SERVERS = local.bootstrap_servers
    }
  }

  self_managed_kafka_event_source_config {
    consumer_group_id = local.lambda_consumer_group
  }

  dynamic "source_access_configuration" {
    for_each = var.subnet_ids
    content {
      type = "VPC_SUBNET"
      uri  = "subnet:${source_access_configuration.value}"
    }
  }

  source_access_configuration {
    type = "VPC_SECURITY_GROUP"
    uri  = "security_group:${aws_security_group.lambda[0].id}"
  }

  tags = local.tags
}

# ---- lambda_trigger = "skiff" ----

resource "aws_launch_template" "trigger" {
  count                  = var.lambda_trigger == "skiff" ? 1 : 0
  name_prefix            = "${var.name}-trigger-"
  description            = "skiff trigger for ${local.lambda_function_name}"
  image_id               = local.ami_id
  instance_type          = var.trigger_instance_type
  ebs_optimized          = true
  update_default_version = true
  vpc_security_group_ids = [aws_security_group.trigger[0].id]

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance["trigger"].arn
  }

  monitoring {
    enabled = true
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_type           = "gp3"
      volume_size           = 20
      encrypted             = true
      delete_on_termination = true
    }
  }

  # Flags named after the event source mapping's settings (issue 16's `skiff trigger`).
  user_data = base64encode(templatefile("${path.module}/templates/skiff-instance.sh.tftpl", merge(local.container_common, {
    role           = "trigger"
    data_volume_id = ""
    kafka_port     = var.kafka_port
    log_group      = aws_cloudwatch_log_group.this["trigger"].name
    log_stream     = "INSTANCE_ID"
    args = concat(
      ["trigger", "--bootstrap", local.bootstrap_servers],
      flatten([for topic in var.lambda_topics : ["--topic", topic]]),
      [
        "--group", local.lambda_consumer_group,
        "--function-name", aws_lambda_function.consumer[0].arn,
        "--batch-size", tostring(var.lambda_batch_size),
        "--batching-window-ms", tostring(var.lambda_batching_window_ms),
        "--starting-position", var.lambda_starting_position,
      ],
    )
    env = {
      AWS_REGION         = local.region
      SKIFF_METRICS_ADDR = "0.0.0.0:${var.metrics_port}"
      SKIFF_LOG          = "info"
    }
  })))

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "${var.name}-trigger", "skiff:role" = "trigger" })
  }
  tags = local.tags
}

resource "aws_autoscaling_group" "trigger" {
  count                     = var.lambda_trigger == "skiff" ? 1 : 0
  name                      = "${var.name}-trigger"
  vpc_zone_identifier       = var.subnet_ids
  min_size                  = var.trigger_count
  max_size                  = var.trigger_count
  health_check_type         = "EC2"
  health_check_grace_period = 120

  launch_template {
    id      = aws_launch_template.trigger[0].id
    version = aws_launch_template.trigger[0].latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 0
    }
  }

  dynamic "tag" {
    for_each = merge(local.tags, { Name = "${var.name}-trigger" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  depends_on = [aws_autoscaling_group.broker, aws_iam_role_policy.instance]
}
