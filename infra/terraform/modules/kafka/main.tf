# Connectivity to the external Kafka cluster the shipment/driver producers write to. Its only
# client is the Kafka bridge (modules/kafka-bridge, Cloud Run): it consumes the group and
# publishes to the Pub/Sub event topics the streaming Dataflow job reads, so the workers never
# talk to Kafka. Here: an egress rule that lets what carries the client tag (the bridge's
# instances, through Direct VPC egress) reach the brokers' SASL_SSL port, and the Secret Manager
# containers for the SASL credentials, readable by the bridge's service account only (mounted as
# its environment at start-up, never in Terraform state). The brokers see the traffic from the
# networking module's Cloud NAT.

resource "google_compute_firewall" "egress_to_brokers" {
  project            = var.project_id
  name               = "logistics-${var.env}-kafka-egress"
  network            = var.network_id
  direction          = "EGRESS"
  priority           = 1000
  destination_ranges = var.broker_cidrs
  target_tags        = [var.client_tag]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.broker_port)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Everything else in the VPC is refused the brokers (the VPC's implied egress rule would allow it),
# so the rule above is the only way to them, and a stray client is logged, not silently served.
resource "google_compute_firewall" "deny_other_egress_to_brokers" {
  project            = var.project_id
  name               = "logistics-${var.env}-kafka-egress-deny"
  network            = var.network_id
  direction          = "EGRESS"
  priority           = 1100
  destination_ranges = var.broker_cidrs

  deny {
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
      accessors   = { "kafka-bridge" = var.client_email }
    }
    "kafka-sasl-password" = {
      description = "SASL password of the logistics-pipeline consumer group"
      accessors   = { "kafka-bridge" = var.client_email }
    }
  }
}
