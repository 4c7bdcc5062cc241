output "bootstrap_servers" {
  description = "Kafka bootstrap address (the internal load balancer). Clients then connect to each broker at its private address."
  value       = local.bootstrap_servers
}

output "bucket_name" {
  description = "The S3 bucket holding every record."
  value       = aws_s3_bucket.data.bucket
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.data.arn
}

output "object_store_url" {
  description = "The object store as Skiff names it (--object-store), e.g. for `skiff store check`."
  value       = local.object_store
}

output "controller_addresses" {
  description = "Controller HTTP addresses (stable across instance replacement), for `skiff controller admin -c` and `skiff broker --controllers`."
  value       = local.controller_addresses
}

output "controller_metrics_endpoints" {
  description = "Prometheus endpoints of the controllers."
  value       = [for id in local.controller_ids : "http://${local.controller_ips[id]}:${var.metrics_port}/metrics"]
}

output "broker_metrics_port" {
  description = "Brokers serve Prometheus metrics at http://<instance private address>:<this port>/metrics; discover instances by the autoscaling group (EC2 service discovery with tag skiff:role=broker)."
  value       = var.metrics_port
}

output "broker_autoscaling_group_name" {
  description = "Name of the brokers' autoscaling group."
  value       = aws_autoscaling_group.broker.name
}

output "client_security_group_id" {
  description = "Security group to attach to Kafka clients: its members may reach the load balancer and every broker."
  value       = aws_security_group.client.id
}

output "lambda_function_arn" {
  description = "ARN of the Lambda consumer (null when lambda_trigger is \"none\")."
  value       = local.lambda_enabled ? aws_lambda_function.consumer[0].arn : null
}

output "log_groups" {
  description = "CloudWatch log groups by role."
  value       = { for role, group in aws_cloudwatch_log_group.this : role => group.name }
}

output "cluster_secret_arn" {
  description = "ARN of the controller API's shared secret (the module's Secrets Manager secret, or cluster_secret_arn): fetch it into a file for --cluster-secret-file of skiff controller admin or skiff archive run."
  value       = local.cluster_secret_arn
}
