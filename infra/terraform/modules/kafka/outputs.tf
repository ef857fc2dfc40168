output "sasl_secret_ids" {
  description = "Secret ids of the SASL username and password."
  value       = module.sasl_secrets.secret_ids
}
