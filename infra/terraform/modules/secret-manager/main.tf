# Secret *containers* and who may read them. Payloads are added out of band
# (`gcloud secrets versions add`), never by Terraform, so no secret value ever lands in
# Terraform state or in the repository.

locals {
  accessor_grants = merge([
    for secret_id, secret in var.secrets : {
      for name, email in secret.accessors : "${secret_id}/${name}" => { secret_id = secret_id, email = email }
    }
  ]...)
}

resource "google_secret_manager_secret" "this" {
  for_each = var.secrets

  project   = var.project_id
  secret_id = each.key
  labels    = { env = var.env, managed-by = "terraform", system = "logistics" }
  annotations = {
    description = each.value.description
  }

  replication {
    user_managed {
      dynamic "replicas" {
        for_each = var.replica_locations
        content {
          location = replicas.value
        }
      }
    }
  }
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.accessor_grants

  project   = var.project_id
  secret_id = google_secret_manager_secret.this[each.value.secret_id].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${each.value.email}"
}
