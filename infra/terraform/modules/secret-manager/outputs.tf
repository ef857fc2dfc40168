output "secret_ids" {
  description = "Secret id -> full resource id (projects/.../secrets/...)."
  value       = { for key, secret in google_secret_manager_secret.this : key => secret.id }
}
