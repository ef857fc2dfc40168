output "sasl_secret_ids" {
  description = "Secret ids of the SASL username and password."
  value       = module.sasl_secrets.secret_ids
}

output "client_tag" {
  description = "Network tag the Kafka client must carry to pass the egress rule."
  value       = var.client_tag
}
