# Brokers: stateless, so an autoscaling group of identical instances that scales on CPU and on
# bytes received. An internal Network Load Balancer gives clients one stable bootstrap address;
# after the first Metadata request clients connect to each broker directly at its private
# address (what it advertises), which the same allowed sources can reach. The group
# coordinator of a consumer group is one of these brokers (FindCoordinator names it).

resource "aws_launch_template" "broker" {
  name_prefix            = "${var.name}-broker-"
  description            = "Skiff broker"
  image_id               = local.ami_id
  instance_type          = var.broker_instance_type
  ebs_optimized          = true
  update_default_version = true
  vpc_security_group_ids = [aws_security_group.brokers.id]

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance["broker"].arn
  }

  monitoring {
    enabled = true # per-minute metrics for the network-in scaling policy
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
      volume_size           = var.broker_cache_disk_gib
      encrypted             = true
      delete_on_termination = true
    }
  }

  user_data = base64encode(templatefile("${path.module}/templates/skiff-instance.sh.tftpl", merge(local.container_common, local.cluster_secret_settings, {
    role           = "broker"
    data_volume_id = ""
    kafka_port     = var.kafka_port
    log_group      = aws_cloudwatch_log_group.this["brokers"].name
    log_stream     = "INSTANCE_ID"
    args           = ["broker"]
    env = merge({
      SKIFF_CONTROLLERS        = join(",", local.controller_addresses)
      SKIFF_DATA_DIR           = "/var/lib/skiff"
      SKIFF_OBJECT_STORE       = local.object_store
      SKIFF_S3_REGION          = local.region
      SKIFF_METRICS_ADDR       = "0.0.0.0:${var.metrics_port}"
      SKIFF_CACHE_DISK_BYTES   = "${floor(var.broker_cache_disk_gib / 2)}GiB"
      SKIFF_CACHE_MEMORY_BYTES = "1GiB"
      SKIFF_LOG                = "info"
      }, var.archive_glue_database == null ? {} : {
      SKIFF_ARCHIVE_GLUE_DATABASE = var.archive_glue_database
    }, var.broker_extra_env)
  })))

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "${var.name}-broker", "skiff:role" = "broker" })
  }
  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.tags, { Name = "${var.name}-broker" })
  }
  tags = local.tags
}

resource "aws_autoscaling_group" "broker" {
  name                      = "${var.name}-brokers"
  vpc_zone_identifier       = var.subnet_ids
  min_size                  = var.broker_min_count
  max_size                  = var.broker_max_count
  target_group_arns         = [aws_lb_target_group.broker.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 300
  default_instance_warmup   = 120
  # A terminated broker's clients move to the others once its lease lapses (5 s); SIGTERM
  # first lets it flush and commit what it holds (the unit stops the container with 60 s).
  termination_policies = ["OldestLaunchTemplate", "OldestInstance"]

  launch_template {
    id      = aws_launch_template.broker.id
    version = aws_launch_template.broker.latest_version
  }

  # A new image or AMI rolls the group a third at a time.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 66
      instance_warmup        = 120
    }
  }

  dynamic "tag" {
    for_each = merge(local.tags, { Name = "${var.name}-broker" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    ignore_changes = [desired_capacity] # owned by the scaling policies
  }

  # Brokers need the controllers' addresses and a bucket that passed the controllers' checks.
  depends_on = [aws_instance.controller, aws_iam_role_policy.instance]
}

resource "aws_autoscaling_policy" "broker_cpu" {
  name                   = "${var.name}-brokers-cpu"
  autoscaling_group_name = aws_autoscaling_group.broker.name
  policy_type            = "TargetTrackingScaling"
  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = var.broker_cpu_target_percent
  }
}

resource "aws_autoscaling_policy" "broker_network_in" {
  name                   = "${var.name}-brokers-network-in"
  autoscaling_group_name = aws_autoscaling_group.broker.name
  policy_type            = "TargetTrackingScaling"
  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageNetworkIn"
    }
    target_value = var.broker_network_in_target_mib_per_minute * 1048576
  }
}

# ---- bootstrap load balancer ----

resource "aws_lb" "bootstrap" {
  #checkov:skip=CKV_AWS_91:NLB access logs need a log bucket the user owns; Kafka clients only make bootstrap connections through this load balancer.
  name                             = "${var.name}-bootstrap"
  load_balancer_type               = "network"
  internal                         = true # brokers advertise private addresses: a client that cannot reach them must not bootstrap
  subnets                          = var.subnet_ids
  security_groups                  = [aws_security_group.bootstrap.id]
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.load_balancer_deletion_protection
  tags                             = local.tags
}

resource "aws_lb_target_group" "broker" {
  name                 = "${var.name}-brokers"
  port                 = var.kafka_port
  protocol             = "TCP"
  vpc_id               = var.vpc_id
  target_type          = "instance"
  deregistration_delay = 30
  # Clients keep their broker connections (those go to the advertised address), so a broker
  # leaving the bootstrap pool only stops new bootstrap connections.
  connection_termination = false

  health_check {
    protocol            = "HTTP"
    port                = tostring(var.metrics_port)
    path                = "/metrics"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = local.tags
}

resource "aws_lb_listener" "kafka" {
  #checkov:skip=CKV_AWS_2:Kafka is a TCP protocol; TLS would have to end at the brokers (which also serve clients directly), not at the load balancer.
  #checkov:skip=CKV_AWS_103:Same: a TLS listener here would not cover the direct broker connections.
  load_balancer_arn = aws_lb.bootstrap.arn
  port              = var.kafka_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.broker.arn
  }

  tags = local.tags
}
