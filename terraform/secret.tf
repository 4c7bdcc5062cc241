# The controller API's shared secret (`--cluster-secret-file`): every controller and broker reads
# it from Secrets Manager (or an SSM SecureString parameter the user names) when its container
# starts and gives it to skiff as a file, so the controller API refuses unsigned requests. The
# module makes a random one unless `cluster_secret_arn` names an existing secret.

data "aws_secretsmanager_random_password" "cluster_secret" {
  count               = var.cluster_secret_arn == null ? 1 : 0
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "cluster" {
  #checkov:skip=CKV_AWS_149:Encrypted with the account's Secrets Manager key; the instance roles may read only this secret, and a customer-managed key would be one more key policy to keep in step with them.
  #checkov:skip=CKV2_AWS_57:Every controller and broker must hold the same value, read when its container starts: a rotation would split the cluster until all restart (see the README for rotating by hand).
  count                   = var.cluster_secret_arn == null ? 1 : 0
  name_prefix             = "${var.name}-cluster-secret-"
  description             = "Shared secret of the Skiff controller API (${var.name}): requests between controllers and brokers are signed with it."
  recovery_window_in_days = 7
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "cluster" {
  count         = var.cluster_secret_arn == null ? 1 : 0
  secret_id     = aws_secretsmanager_secret.cluster[0].id
  secret_string = data.aws_secretsmanager_random_password.cluster_secret[0].random_password

  lifecycle {
    # The data source makes a new value at every plan; the first one is kept.
    ignore_changes = [secret_string]
  }
}

locals {
  cluster_secret_arn = var.cluster_secret_arn == null ? aws_secretsmanager_secret.cluster[0].arn : var.cluster_secret_arn
  # "secretsmanager" or "ssm": how the instances fetch it.
  cluster_secret_service = split(":", local.cluster_secret_arn)[2]
  # SSM takes the parameter's name (with its leading slash), Secrets Manager the ARN.
  cluster_secret_id = local.cluster_secret_service == "ssm" ? replace(local.cluster_secret_arn, "/^arn:[^:]+:ssm:[^:]+:[0-9]+:parameter/", "/") : local.cluster_secret_arn
}
