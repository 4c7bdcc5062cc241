# Least privilege. Object actions are allowed only on keys under bucket_prefix, listing only
# with that prefix; controllers (whose leader garbage-collects) may delete, brokers may not.
# The trigger may invoke only its function. No data action has a "*" resource: the only "*"
# resources are actions AWS does not scope (ecr:GetAuthorizationToken, EC2 Describe* calls
# of the event source mapping's network interfaces, X-Ray segments).

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

locals {
  instance_roles = merge(
    { controller = "controllers", broker = "brokers" },
    var.lambda_trigger == "skiff" ? { trigger = "trigger" } : {},
  )
}

resource "aws_iam_role" "instance" {
  for_each           = local.instance_roles
  name               = "${var.name}-${each.key}"
  description        = "Skiff ${each.key} instances"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
  tags               = local.tags
}

resource "aws_iam_instance_profile" "instance" {
  for_each = local.instance_roles
  name     = "${var.name}-${each.key}"
  role     = aws_iam_role.instance[each.key].name
  tags     = local.tags
}

resource "aws_iam_role_policy_attachment" "ssm" {
  for_each   = var.enable_ssm ? local.instance_roles : {}
  role       = aws_iam_role.instance[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

data "aws_iam_policy_document" "instance" {
  for_each = local.instance_roles

  # Segment objects: controllers read (store check), write (store check probes) and delete
  # (garbage collection); brokers read and write.
  dynamic "statement" {
    for_each = each.key == "trigger" ? [] : [each.key]
    content {
      sid       = "SkiffObjectsUnderPrefix"
      actions   = statement.value == "controller" ? ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] : ["s3:GetObject", "s3:PutObject"]
      resources = [local.prefix_objects]
    }
  }

  # Brokers run the archive jobs, which delete the files of their failed passes and those the
  # archive's retention removed: only under archive/.
  dynamic "statement" {
    for_each = each.key == "broker" ? [each.key] : []
    content {
      sid       = "DeleteArchiveFilesUnderPrefix"
      actions   = ["s3:DeleteObject"]
      resources = [local.prefix_archive_objects]
    }
  }

  # Brokers keep each archived topic's table current in the Glue database, and only there.
  dynamic "statement" {
    for_each = each.key == "broker" && var.archive_glue_database != null ? [each.key] : []
    content {
      sid     = "RegisterArchiveTablesInGlue"
      actions = ["glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable"]
      resources = [
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${var.archive_glue_database}",
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.archive_glue_database}/*",
      ]
    }
  }

  # Listing only under the prefix. It also makes a GET or HEAD of a missing key under the
  # prefix answer 404 rather than 403, which the store's start-up probe relies on.
  dynamic "statement" {
    for_each = each.key == "trigger" ? [] : [each.key]
    content {
      sid       = "ListUnderPrefix"
      actions   = ["s3:ListBucket"]
      resources = [local.bucket_arn]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${var.bucket_prefix}/*"]
      }
    }
  }

  # What `skiff store check` reads before a controller starts: lifecycle rules, versioning,
  # default encryption.
  dynamic "statement" {
    for_each = each.key == "controller" ? [each.key] : []
    content {
      sid       = "ReadBucketSettings"
      actions   = ["s3:GetLifecycleConfiguration", "s3:GetBucketVersioning", "s3:GetEncryptionConfiguration"]
      resources = [local.bucket_arn]
    }
  }

  dynamic "statement" {
    for_each = each.key != "trigger" && var.kms_key_arn != null ? [each.key] : []
    content {
      sid       = "BucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
    }
  }

  # The controller API's shared secret, read when a controller's or broker's container starts.
  dynamic "statement" {
    for_each = each.key == "trigger" ? [] : [each.key]
    content {
      sid       = "ReadClusterSecret"
      actions   = local.cluster_secret_service == "ssm" ? ["ssm:GetParameter"] : ["secretsmanager:GetSecretValue"]
      resources = [local.cluster_secret_arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "trigger" ? [each.key] : []
    content {
      sid       = "InvokeOnlyTheConsumer"
      actions   = ["lambda:InvokeFunction"]
      resources = [aws_lambda_function.consumer[0].arn]
    }
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[each.value].arn}:*"]
  }

  dynamic "statement" {
    for_each = local.ecr_repository == null ? [] : [local.ecr_repository]
    content {
      sid       = "PullSkiffImage"
      actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.ecr_repository == null ? [] : [local.ecr_repository]
    content {
      sid       = "EcrLogin"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"] # GetAuthorizationToken has no resource-level permissions.
    }
  }
}

resource "aws_iam_role_policy" "instance" {
  for_each = local.instance_roles
  name     = "skiff-${each.key}"
  role     = aws_iam_role.instance[each.key].id
  policy   = data.aws_iam_policy_document.instance[each.key].json
}

# ---- the Lambda consumer's execution role ----

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "lambda" {
  count              = local.lambda_enabled ? 1 : 0
  name               = "${var.name}-consumer"
  description        = "Skiff Lambda consumer"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "lambda" {
  count = local.lambda_enabled ? 1 : 0

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this["lambda"].arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions for these.
  }

  # The event source mapping polls from network interfaces in the given subnets, created under
  # the function's role.
  dynamic "statement" {
    for_each = var.lambda_trigger == "aws_esm" ? [1] : []
    content {
      sid = "EventSourceMappingNetworkLookups"
      actions = [
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
      ]
      resources = ["*"] # EC2 Describe* calls have no resource-level permissions.
    }
  }

  dynamic "statement" {
    for_each = var.lambda_trigger == "aws_esm" ? [1] : []
    content {
      sid     = "EventSourceMappingNetworkInterfaces"
      actions = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"]
      resources = concat(
        ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"],
        [for subnet in var.subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/${subnet}"],
        [for sg in aws_security_group.lambda : sg.arn],
      )
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  count  = local.lambda_enabled ? 1 : 0
  name   = "skiff-consumer"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.lambda[0].json
}
