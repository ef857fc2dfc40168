# Connectivity to the external Kafka cluster the shipment/driver producers write to: an egress
# rule that lets only Dataflow workers reach the brokers' SASL_SSL port, and Secret Manager
# entries for the SASL credentials (read by the pipeline at start-up, never baked into the
# template parameters). The brokers see the traffic from the networking module's Cloud NAT.

resource "google_compute_firewall" "egress_to_brokers" {
  project            = var.project_id
  name               = "logistics-${var.env}-kafka-egress"
  network            = var.network_id
  direction          = "EGRESS"
  priority           = 1000
  destination_ranges = var.broker_cidrs
  target_tags        = ["dataflow"]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.broker_port)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

module "sasl_secrets" {
  source = "../secret-manager"

  project_id        = var.project_id
  env               = var.env
  replica_locations = [var.region]
  secrets = {
    "kafka-sasl-username" = {
      description = "SASL username of the logistics-pipeline consumer group"
      accessors   = { "dataflow-worker" = var.consumer_email }
    }
    "kafka-sasl-password" = {
      description = "SASL password of the logistics-pipeline consumer group"
      accessors   = { "dataflow-worker" = var.consumer_email }
    }
  }
}
