# Where the pipeline's container lives and how its jobs are launched. The image and the two Flex
# Template specs built from it (streaming: the long-running job; batch: backfills over gs:// files)
# are built by infra/scripts/deploy_dataflow.sh (they change with every commit); this module owns
# the long-lived parts and publishes the launch settings as one output, so the scripts and an
# operator read the same names.

locals {
  registry = "${var.region}-docker.pkg.dev/${var.project_id}/${var.repository_id}"
}

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption; CMEK needs an org KMS policy this project does not define
  project       = var.project_id
  location      = var.region
  repository_id = var.repository_id
  description   = "Logistics platform images: dataflow-pipeline (Flex Template) and analytics-api (${var.env})."
  format        = "DOCKER"
  labels        = { env = var.env, managed-by = "terraform", system = "logistics" }

  docker_config {
    immutable_tags = false # the deploy scripts move a per-commit tag and `latest` is never used
  }

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }

  cleanup_policies {
    id     = "drop-old-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "1209600s"
    }
  }
}

resource "google_artifact_registry_repository_iam_member" "dataflow_reader" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${var.dataflow_worker_email}"
}

resource "google_artifact_registry_repository_iam_member" "api_reader" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${var.api_email}"
}
