# The network every data-plane component runs in: one custom-mode VPC, one regional subnet with
# Private Google Access (workers reach BigQuery/GCS/Pub/Sub without public IPs), Cloud NAT for the
# one outbound connection that leaves Google (the Kafka bridge's, to the external brokers, through
# Direct VPC egress), and firewall rules that allow only what Dataflow needs between its own workers.

resource "google_compute_network" "vpc" {
  project                 = var.project_id
  name                    = "logistics-${var.env}-vpc"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

resource "google_compute_subnetwork" "data" {
  project                  = var.project_id
  name                     = "logistics-${var.env}-data"
  region                   = var.region
  network                  = google_compute_network.vpc.id
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_5_MIN"
    flow_sampling        = var.flow_log_sampling
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_router" "nat" {
  project = var.project_id
  name    = "logistics-${var.env}-router"
  region  = var.region
  network = google_compute_network.vpc.id
}

resource "google_compute_router_nat" "nat" {
  project                            = var.project_id
  name                               = "logistics-${var.env}-nat"
  router                             = google_compute_router.nat.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "LIST_OF_SUBNETWORKS"

  subnetwork {
    name                    = google_compute_subnetwork.data.id
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# Dataflow workers shuffle data to each other on 12345-12346; nothing else may reach them.
resource "google_compute_firewall" "dataflow_internal" {
  project   = var.project_id
  name      = "logistics-${var.env}-dataflow-internal"
  network   = google_compute_network.vpc.id
  direction = "INGRESS"
  priority  = 1000

  allow {
    protocol = "tcp"
    ports    = ["12345-12346"]
  }

  source_tags = ["dataflow"]
  target_tags = ["dataflow"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Explicit, logged default-deny for ingress, so a later permissive rule is a visible diff.
resource "google_compute_firewall" "deny_all_ingress" {
  project       = var.project_id
  name          = "logistics-${var.env}-deny-all-ingress"
  network       = google_compute_network.vpc.id
  direction     = "INGRESS"
  priority      = 65534
  source_ranges = ["0.0.0.0/0"]

  deny {
    protocol = "all"
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}
