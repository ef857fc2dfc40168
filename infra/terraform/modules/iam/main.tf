# One service account per workload, with only the project-level roles that cannot be scoped to a
# single resource. Data access (a bucket, a dataset, a subscription, a secret) is granted in the
# module that owns that resource, from the emails this module outputs, so every grant sits next to
# the thing it opens and nothing here says "editor of everything".

locals {
  accounts = {
    "dataflow-worker" = {
      display_name = "Dataflow streaming pipeline workers"
      # dataflow.worker: run work items; metricWriter/logWriter: the job's own telemetry;
      # bigquery.jobUser: load/Storage Write jobs are billed to the project.
      project_roles = [
        "roles/dataflow.worker",
        "roles/bigquery.jobUser",
        "roles/monitoring.metricWriter",
        "roles/logging.logWriter",
      ]
    }
    "composer-worker" = {
      display_name = "Cloud Composer (Airflow) workers: gold builds and Dataflow launches"
      project_roles = [
        "roles/composer.worker",
        "roles/bigquery.jobUser",
        "roles/dataflow.developer",
        "roles/monitoring.metricWriter",
        "roles/logging.logWriter",
      ]
    }
    "analytics-api" = {
      display_name = "Cloud Run analytics API (read-only)"
      # jobUser lets it run queries; what it may read is granted per dataset as dataViewer.
      project_roles = [
        "roles/bigquery.jobUser",
        "roles/monitoring.metricWriter",
        "roles/logging.logWriter",
      ]
    }
    "kafka-bridge" = {
      display_name = "Cloud Run Kafka bridge (Kafka consumer group -> Pub/Sub)"
      # No project role: Cloud Run collects its stdout/stderr itself; it may publish to the event
      # topics and read the SASL secrets, granted on those resources (modules/kafka-bridge, kafka).
      project_roles = []
    }
  }

  project_bindings = merge([
    for name, account in local.accounts : {
      for role in account.project_roles : "${name}/${role}" => { account = name, role = role }
    }
  ]...)
}

resource "google_service_account" "workload" {
  for_each = local.accounts

  project      = var.project_id
  account_id   = "${each.key}-${var.env}"
  display_name = "${each.value.display_name} (${var.env})"
}

resource "google_project_iam_member" "workload" {
  for_each = local.project_bindings

  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.workload[each.value.account].email}"
}

# Composer launches Dataflow jobs that run *as* dataflow-worker: it needs actAs on that one
# account only (a project-level serviceAccountUser would let it impersonate every account).
resource "google_service_account_iam_member" "composer_acts_as_dataflow" {
  service_account_id = google_service_account.workload["dataflow-worker"].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.workload["composer-worker"].email}"
}
