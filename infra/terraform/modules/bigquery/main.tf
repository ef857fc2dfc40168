# Datasets per layer (`{env}_raw`, `{env}_clean`, `{env}_curated`, `{env}_features`) and the
# contract-owned tables from tables.tf. Gold tables are created by the SQL that builds them.

locals {
  labels = { env = var.env, managed-by = "terraform", system = "logistics" }
  day_ms = 24 * 60 * 60 * 1000

  grants = merge(
    merge([
      for layer, members in var.dataset_editors : {
        for name, email in members : "${layer}/editor/${name}" => { layer = layer, role = "roles/bigquery.dataEditor", email = email }
      }
    ]...),
    merge([
      for layer, members in var.dataset_viewers : {
        for name, email in members : "${layer}/viewer/${name}" => { layer = layer, role = "roles/bigquery.dataViewer", email = email }
      }
    ]...),
  )
}

resource "google_bigquery_dataset" "layer" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption; CMEK needs an org KMS policy this project does not define
  for_each = var.datasets

  project                    = var.project_id
  dataset_id                 = each.value
  location                   = var.location
  description                = "Logistics ${each.key} layer (${var.env})."
  delete_contents_on_destroy = false
  labels                     = merge(local.labels, { layer = each.key })
  # Tables the pipeline creates later (e.g. event_counts_5m) inherit the same retention.
  default_partition_expiration_ms = contains(var.expiring_layers, each.key) ? var.retention_days * local.day_ms : null
}

resource "google_bigquery_table" "contract" {
  #checkov:skip=CKV_GCP_121:protection is on by default and in prod; only dev turns it off, to be rebuilt from bronze
  #checkov:skip=CKV_GCP_80:Google-managed encryption; CMEK needs an org KMS policy this project does not define
  for_each = local.contract_tables

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.layer[each.value.layer].dataset_id
  table_id            = each.value.table_id
  description         = each.value.description
  schema              = each.value.schema
  clustering          = each.value.clustering
  deletion_protection = var.deletion_protection
  labels              = merge(local.labels, { layer = each.value.layer, contract = "generated" })

  dynamic "time_partitioning" {
    for_each = each.value.partitioning == null ? [] : [each.value.partitioning]
    content {
      type          = time_partitioning.value.type
      field         = time_partitioning.value.field
      expiration_ms = contains(var.expiring_layers, each.value.layer) ? var.retention_days * local.day_ms : null
    }
  }

  lifecycle {
    precondition {
      condition     = length(local.unknown_policy_tags) == 0
      error_message = "The generated schemas name policy tags the taxonomy does not have: ${join(", ", local.unknown_policy_tags)} (modules/data-catalog reads them from contracts/generated/bigquery/policy_tags.json)."
    }
  }
}

resource "google_bigquery_dataset_iam_member" "grant" {
  for_each = local.grants

  project    = var.project_id
  dataset_id = google_bigquery_dataset.layer[each.value.layer].dataset_id
  role       = each.value.role
  member     = "serviceAccount:${each.value.email}"
}
