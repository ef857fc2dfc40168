# Managed Airflow for the gold DAGs (marts_daily, reconciliation, sla_monitoring).
#
# Composer 3 on an Airflow 3 image: Composer 2 only runs Airflow 2, and the project's DAGs are
# written against the Airflow 3 SDK (`from airflow.sdk import DAG`). sync_dags.sh uploads the `dags` package plus the
# project packages it imports into the bucket's dags/ folder, which Airflow puts on sys.path.

resource "google_composer_environment" "airflow" {
  project = var.project_id
  name    = "logistics-${var.env}"
  region  = var.region
  labels  = { env = var.env, managed-by = "terraform", system = "logistics" }

  storage_config {
    bucket = var.bucket
  }

  config {
    environment_size           = var.environment_size
    enable_private_environment = true

    software_config {
      image_version = var.image_version
      pypi_packages = var.pypi_packages
      env_variables = merge({ LOGISTICS_ENV = var.env }, var.env_variables)
      airflow_config_overrides = {
        # A newly synced DAG must not backfill on its own.
        "core-dags_are_paused_at_creation" = "True"
        "scheduler-catchup_by_default"     = "False"
      }
    }

    node_config {
      network         = var.network_id
      subnetwork      = var.subnetwork_id
      service_account = var.service_account_email
    }

    workloads_config {
      worker {
        cpu        = 1
        memory_gb  = 4
        storage_gb = 5
        min_count  = var.worker_min_count
        max_count  = var.worker_max_count
      }
    }
  }
}
