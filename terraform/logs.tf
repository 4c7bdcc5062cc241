# One log group per role; docker's awslogs driver writes each container's output there (one
# stream per instance or controller node). The Lambda function's group is created here too, so
# its retention is set before the first invocation creates it with none.

locals {
  log_groups = merge(
    {
      controllers = "/skiff/${var.name}/controllers"
      brokers     = "/skiff/${var.name}/brokers"
    },
    var.lambda_trigger == "skiff" ? { trigger = "/skiff/${var.name}/trigger" } : {},
    local.lambda_enabled ? { lambda = "/aws/lambda/${local.lambda_function_name}" } : {},
  )
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days input (at least 7 days, validated); these are operational logs, not an audit record, and a year would be the user's choice.
  #checkov:skip=CKV_AWS_158:Encrypted with log_kms_key_arn when given; otherwise CloudWatch Logs' own at-rest encryption.
  for_each          = local.log_groups
  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = local.tags
}
