# The analytics API (GraphQL + REST) on Cloud Run: scale 0-10, IAM-authenticated (never
# --allow-unauthenticated: only the named invokers may call it), egress to private ranges through
# a VPC connector.
#
# GraphQL subscriptions are WebSockets: Cloud Run counts an open socket as a request in flight,
# so `timeout` caps a socket's life (clients reconnect; graphql-ws does it by itself) and
# `max_instance_request_concurrency` counts sockets too. Each instance pulls the updates topic
# through a subscription of its own in the background: CPU stays allocated between requests.
# docs/api.md: "Subscriptions on Cloud Run".

resource "google_vpc_access_connector" "api" {
  project       = var.project_id
  name          = "api-${var.env}"
  region        = var.region
  network       = var.network_name
  ip_cidr_range = var.connector_cidr
  machine_type  = "e2-micro"
  min_instances = 2
  max_instances = 3
}

resource "google_cloud_run_v2_service" "api" {
  project             = var.project_id
  name                = var.service_name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection
  labels              = { env = var.env, managed-by = "terraform", system = "logistics" }

  template {
    service_account                  = var.service_account_email
    timeout                          = "${var.request_timeout_seconds}s"
    max_instance_request_concurrency = var.max_concurrency

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    vpc_access {
      connector = google_vpc_access_connector.api.id
      egress    = "PRIVATE_RANGES_ONLY"
    }

    containers {
      image = var.image

      ports {
        container_port = 8080
      }

      env {
        name  = "LOGISTICS_ENV"
        value = var.env
      }

      dynamic "env" {
        for_each = var.env_variables
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.secret_env_variables
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # The updates topic is pulled in the background: throttled CPU between requests would let
        # messages pile up and arrive late, in a burst, at the next subscriber.
        cpu_idle = false
      }

      startup_probe {
        http_get {
          path = "/health"
        }
      }

      liveness_probe {
        http_get {
          path = "/health"
        }
      }
    }
  }

  lifecycle {
    # deploy_api.sh owns the image (one revision per commit); Terraform owns everything else.
    ignore_changes = [template[0].containers[0].image, client, client_version]
  }
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = var.invokers

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.api.name
  role     = "roles/run.invoker"
  member   = each.value
}

# Live updates: each instance creates a subscription on the updates topic at start-up and deletes it
# at shutdown (names: <topic>-api-live-<host>-<pid>-<random>; one left by a killed instance expires
# after a day unused). Attaching a subscription to the topic is a topic permission; creating,
# reading and deleting subscriptions are project permissions, so the custom role below is bound
# with a condition: only subscriptions named like the API's, never the pipeline's.
resource "google_pubsub_topic_iam_member" "api_attaches_to_updates" {
  project = var.project_id
  topic   = var.updates_topic
  role    = "roles/pubsub.subscriber"
  member  = "serviceAccount:${var.service_account_email}"
}

resource "google_project_iam_custom_role" "live_updates" {
  project     = var.project_id
  role_id     = "analyticsApiLiveUpdates_${var.env}"
  title       = "Analytics API live updates (${var.env})"
  description = "Create, pull and delete the API's own subscriptions on the updates topic."
  permissions = [
    "pubsub.subscriptions.create",
    "pubsub.subscriptions.consume",
    "pubsub.subscriptions.delete",
    "pubsub.subscriptions.get",
  ]
}

resource "google_project_iam_member" "api_live_updates" {
  project = var.project_id
  role    = google_project_iam_custom_role.live_updates.id
  member  = "serviceAccount:${var.service_account_email}"

  condition {
    title       = "only-api-live-subscriptions"
    description = "Subscriptions the API processes create on the updates topic."
    expression  = "resource.name.startsWith(\"projects/${var.project_id}/subscriptions/${var.updates_topic}-api-live-\")"
  }
}
