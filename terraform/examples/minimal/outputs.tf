output "bootstrap_servers" {
  description = "Kafka bootstrap address."
  value       = module.skiff.bootstrap_servers
}

output "controller_addresses" {
  description = "Controller addresses."
  value       = module.skiff.controller_addresses
}
