# The Kafka bridge: `logistics kafka-bridge` on Cloud Run. It consumes the Kafka group and
# publishes each record to its event family's Pub/Sub topic, which the streaming Dataflow job
# reads like any other publisher's; offsets are committed after Pub/Sub acknowledged the batch
# (logistics/cli/kafka_bridge.py, pipeline/sources/kafka_bridge.py). A consumer, not a server:
#
# - one instance always on (min_instance_count = 1) with CPU allocated outside requests
#   (cpu_idle = false): the consumer loop runs between the health checks, never throttled;
# - no public ingress: Cloud Run's own probes call GET / (the bridge's health answer), nobody else;
# - Direct VPC egress for all traffic, tagged with the kafka module's client tag: the brokers'
#   firewall rule lets only that tag through, and the networking module's Cloud NAT gives the
#   brokers a stable source;
# - SASL credentials from Secret Manager (modules/kafka creates them; only this account reads
#   them), mounted as LOGISTICS_KAFKA__SASL_USERNAME / _PASSWORD: values never enter state.
#
# What runs (the pipeline image of a commit, and its entry point `python -m logistics.cli.main
# kafka-bridge`, since the image's ENTRYPOINT is Beam's worker boot) belongs to the deploy:
# infra/scripts/deploy_dataflow.sh rolls the bridge with the job's image. Terraform creates the
# service on a placeholder image and owns everything else.
#
# No Artifact Registry grant here: Cloud Run's service agent pulls images from the project's own
# registry, not the runtime account.

locals {
  labels = { env = var.env, managed-by = "terraform", system = "logistics" }
  # The settings the bridge reads on top of config/<env>.yaml (topics and consumer group come
  # from there: kafka.topics, kafka.consumer_group).
  env_variables = {
    LOGISTICS_ENV                      = var.env
    LOGISTICS_KAFKA__BOOTSTRAP_SERVERS = var.bootstrap_servers
    LOGISTICS_KAFKA__SECURITY_PROTOCOL = "SASL_SSL"
  }
  secret_env_variables = {
    LOGISTICS_KAFKA__SASL_USERNAME = var.sasl_secret_ids.username
    LOGISTICS_KAFKA__SASL_PASSWORD = var.sasl_secret_ids.password
  }
}

resource "google_cloud_run_v2_service" "bridge" {
  project             = var.project_id
  name                = var.service_name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = var.deletion_protection
  labels              = local.labels

  template {
    service_account = var.service_account_email
    labels          = local.labels

    scaling {
      min_instance_count = 1
      max_instance_count = var.max_instances
    }

    vpc_access {
      egress = "ALL_TRAFFIC"
      network_interfaces {
        network    = var.network_id
        subnetwork = var.subnetwork_id
        tags       = [var.network_tag]
      }
    }

    containers {
      image = var.bootstrap_image

      ports {
        container_port = 8080
      }

      dynamic "env" {
        for_each = local.env_variables
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = local.secret_env_variables
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
        cpu_idle          = false
        startup_cpu_boost = true
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
      }

      startup_probe {
        http_get {
          path = "/"
        }
      }

      liveness_probe {
        period_seconds = 30
        http_get {
          path = "/"
        }
      }
    }
  }

  lifecycle {
    # deploy_dataflow.sh owns what runs (image and its entry point); Terraform owns the rest.
    ignore_changes = [
      template[0].containers[0].image,
      template[0].containers[0].command,
      template[0].containers[0].args,
      client,
      client_version,
    ]
  }
}

# The bridge publishes to the event topics only: never the DLQ, alerts or updates topics, which
# are the pipeline's outputs.
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = var.input_topics

  project = var.project_id
  topic   = each.value
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${var.service_account_email}"
}
