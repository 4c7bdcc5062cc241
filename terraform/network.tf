# Security groups. Kafka is open only to the given CIDRs and security groups (and to the
# module's own client, trigger and Lambda groups); controller ports only to controllers and
# brokers; metrics only to the load balancer's health checks and the given scraper CIDRs.
# Egress: HTTPS (S3, ECR, CloudWatch Logs, Lambda, SSM) and the cluster's own ports.
#
# Clients reach the bootstrap load balancer, then every broker directly at its private address
# (what it advertises), so the same sources are allowed on both.

locals {
  # Static keys: ids of groups created in the same apply are unknown at plan time.
  kafka_client_groups = merge(
    { for i, id in var.allowed_client_security_group_ids : "given-${i}" => id },
    { module-client = aws_security_group.client.id },
    var.lambda_trigger == "skiff" ? { trigger = aws_security_group.trigger[0].id } : {},
    var.lambda_trigger == "aws_esm" ? { lambda-esm = aws_security_group.lambda[0].id } : {},
  )
  kafka_client_cidrs = { for cidr in var.allowed_client_cidrs : cidr => cidr }
  metrics_cidrs      = { for cidr in var.metrics_allowed_cidrs : cidr => cidr }
}

resource "aws_security_group" "controllers" {
  name        = "${var.name}-controllers"
  description = "Skiff controllers: Raft, broker API and admin on the controller port"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-controllers" })
}

resource "aws_security_group" "brokers" {
  name        = "${var.name}-brokers"
  description = "Skiff brokers: Kafka from allowed clients, metrics from the load balancer"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-brokers" })
}

resource "aws_security_group" "bootstrap" {
  name        = "${var.name}-bootstrap"
  description = "Skiff bootstrap load balancer: Kafka from allowed clients"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-bootstrap" })
}

resource "aws_security_group" "client" {
  #checkov:skip=CKV2_AWS_5:Made for the user's Kafka clients to attach (output client_security_group_id); nothing in the module uses it.
  name        = "${var.name}-kafka-client"
  description = "Attach to Kafka clients of the Skiff cluster: allowed on the Kafka port"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-kafka-client" })
}

resource "aws_security_group" "trigger" {
  count       = var.lambda_trigger == "skiff" ? 1 : 0
  name        = "${var.name}-trigger"
  description = "skiff trigger: Kafka client of the cluster that invokes the Lambda consumer"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-trigger" })
}

resource "aws_security_group" "lambda" {
  #checkov:skip=CKV2_AWS_5:Attached to the event source mapping's pollers through source_access_configuration (security_group:ID), which checkov does not follow.
  count       = var.lambda_trigger == "aws_esm" ? 1 : 0
  name        = "${var.name}-lambda-esm"
  description = "Lambda event source mapping pollers: Kafka client of the cluster"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-lambda-esm" })
}

# ---- controllers ----

resource "aws_vpc_security_group_ingress_rule" "controller_from_controllers" {
  security_group_id            = aws_security_group.controllers.id
  description                  = "Raft between controllers"
  ip_protocol                  = "tcp"
  from_port                    = var.controller_port
  to_port                      = var.controller_port
  referenced_security_group_id = aws_security_group.controllers.id
}

resource "aws_vpc_security_group_ingress_rule" "controller_from_brokers" {
  security_group_id            = aws_security_group.controllers.id
  description                  = "Broker API: proposals, state snapshot and watch"
  ip_protocol                  = "tcp"
  from_port                    = var.controller_port
  to_port                      = var.controller_port
  referenced_security_group_id = aws_security_group.brokers.id
}

resource "aws_vpc_security_group_ingress_rule" "controller_metrics" {
  for_each          = local.metrics_cidrs
  security_group_id = aws_security_group.controllers.id
  description       = "Prometheus scrapers"
  ip_protocol       = "tcp"
  from_port         = var.metrics_port
  to_port           = var.metrics_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "controller_to_controllers" {
  security_group_id            = aws_security_group.controllers.id
  description                  = "Raft between controllers"
  ip_protocol                  = "tcp"
  from_port                    = var.controller_port
  to_port                      = var.controller_port
  referenced_security_group_id = aws_security_group.controllers.id
}

resource "aws_vpc_security_group_egress_rule" "controller_https" {
  security_group_id = aws_security_group.controllers.id
  description       = "HTTPS to S3, ECR, CloudWatch Logs and SSM"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# ---- brokers ----

resource "aws_vpc_security_group_ingress_rule" "broker_kafka_from_cidrs" {
  for_each          = local.kafka_client_cidrs
  security_group_id = aws_security_group.brokers.id
  description       = "Kafka from allowed client networks"
  ip_protocol       = "tcp"
  from_port         = var.kafka_port
  to_port           = var.kafka_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "broker_kafka_from_groups" {
  for_each                     = local.kafka_client_groups
  security_group_id            = aws_security_group.brokers.id
  description                  = "Kafka from allowed client security group ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = var.kafka_port
  to_port                      = var.kafka_port
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_ingress_rule" "broker_kafka_from_bootstrap" {
  security_group_id            = aws_security_group.brokers.id
  description                  = "Kafka bootstrap connections through the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.kafka_port
  to_port                      = var.kafka_port
  referenced_security_group_id = aws_security_group.bootstrap.id
}

resource "aws_vpc_security_group_ingress_rule" "broker_health_check" {
  security_group_id            = aws_security_group.brokers.id
  description                  = "Load balancer health checks on the metrics port"
  ip_protocol                  = "tcp"
  from_port                    = var.metrics_port
  to_port                      = var.metrics_port
  referenced_security_group_id = aws_security_group.bootstrap.id
}

resource "aws_vpc_security_group_ingress_rule" "broker_metrics" {
  for_each          = local.metrics_cidrs
  security_group_id = aws_security_group.brokers.id
  description       = "Prometheus scrapers"
  ip_protocol       = "tcp"
  from_port         = var.metrics_port
  to_port           = var.metrics_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "broker_to_controllers" {
  security_group_id            = aws_security_group.brokers.id
  description                  = "Controller broker API"
  ip_protocol                  = "tcp"
  from_port                    = var.controller_port
  to_port                      = var.controller_port
  referenced_security_group_id = aws_security_group.controllers.id
}

resource "aws_vpc_security_group_egress_rule" "broker_https" {
  security_group_id = aws_security_group.brokers.id
  description       = "HTTPS to S3, ECR, CloudWatch Logs and SSM"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# ---- bootstrap load balancer ----

resource "aws_vpc_security_group_ingress_rule" "bootstrap_from_cidrs" {
  for_each          = local.kafka_client_cidrs
  security_group_id = aws_security_group.bootstrap.id
  description       = "Kafka bootstrap from allowed client networks"
  ip_protocol       = "tcp"
  from_port         = var.kafka_port
  to_port           = var.kafka_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "bootstrap_from_groups" {
  for_each                     = local.kafka_client_groups
  security_group_id            = aws_security_group.bootstrap.id
  description                  = "Kafka bootstrap from allowed client security group ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = var.kafka_port
  to_port                      = var.kafka_port
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "bootstrap_to_brokers" {
  security_group_id            = aws_security_group.bootstrap.id
  description                  = "Kafka to brokers"
  ip_protocol                  = "tcp"
  from_port                    = var.kafka_port
  to_port                      = var.kafka_port
  referenced_security_group_id = aws_security_group.brokers.id
}

resource "aws_vpc_security_group_egress_rule" "bootstrap_health_check" {
  security_group_id            = aws_security_group.bootstrap.id
  description                  = "Health checks on the brokers' metrics port"
  ip_protocol                  = "tcp"
  from_port                    = var.metrics_port
  to_port                      = var.metrics_port
  referenced_security_group_id = aws_security_group.brokers.id
}

# ---- Kafka clients made by the module, and the one users attach ----

resource "aws_vpc_security_group_egress_rule" "client_to_bootstrap" {
  security_group_id            = aws_security_group.client.id
  description                  = "Kafka bootstrap"
  ip_protocol                  = "tcp"
  from_port                    = var.kafka_port
  to_port                      = var.kafka_port
  referenced_security_group_id = aws_security_group.bootstrap.id
}

resource "aws_vpc_security_group_egress_rule" "client_to_brokers" {
  security_group_id            = aws_security_group.client.id
  description                  = "Kafka to every broker"
  ip_protocol                  = "tcp"
  from_port                    = var.kafka_port
  to_port                      = var.kafka_port
  referenced_security_group_id = aws_security_group.brokers.id
}

resource "aws_vpc_security_group_egress_rule" "trigger_kafka" {
  for_each = var.lambda_trigger == "skiff" ? {
    bootstrap = aws_security_group.bootstrap.id
    brokers   = aws_security_group.brokers.id
  } : {}
  security_group_id            = aws_security_group.trigger[0].id
  description                  = "Kafka to the ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = var.kafka_port
  to_port                      = var.kafka_port
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "trigger_https" {
  count             = var.lambda_trigger == "skiff" ? 1 : 0
  security_group_id = aws_security_group.trigger[0].id
  description       = "HTTPS to Lambda, ECR, CloudWatch Logs and SSM"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "trigger_metrics" {
  for_each          = var.lambda_trigger == "skiff" ? local.metrics_cidrs : {}
  security_group_id = aws_security_group.trigger[0].id
  description       = "Prometheus scrapers"
  ip_protocol       = "tcp"
  from_port         = var.metrics_port
  to_port           = var.metrics_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "lambda_kafka" {
  for_each = var.lambda_trigger == "aws_esm" ? {
    bootstrap = aws_security_group.bootstrap.id
    brokers   = aws_security_group.brokers.id
  } : {}
  security_group_id            = aws_security_group.lambda[0].id
  description                  = "Kafka to the ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = var.kafka_port
  to_port                      = var.kafka_port
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "lambda_https" {
  count             = var.lambda_trigger == "aws_esm" ? 1 : 0
  security_group_id = aws_security_group.lambda[0].id
  description       = "HTTPS to Lambda and STS (the event source mapping's own calls)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
