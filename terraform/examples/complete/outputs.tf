output "bootstrap_servers" {
  description = "Kafka bootstrap address."
  value       = module.skiff.bootstrap_servers
}

output "controller_addresses" {
  description = "Controller addresses."
  value       = module.skiff.controller_addresses
}

output "controller_metrics_endpoints" {
  description = "Prometheus endpoints of the controllers."
  value       = module.skiff.controller_metrics_endpoints
}

output "object_store_url" {
  description = "The bucket and prefix, for skiff store check."
  value       = module.skiff.object_store_url
}

output "client_security_group_id" {
  description = "Attach to Kafka clients."
  value       = module.skiff.client_security_group_id
}

output "lambda_function_arn" {
  description = "The Lambda consumer."
  value       = module.skiff.lambda_function_arn
}
