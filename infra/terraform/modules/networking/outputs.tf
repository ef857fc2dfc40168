output "network_id" {
  description = "Self link id of the VPC."
  value       = google_compute_network.vpc.id
}

output "network_name" {
  description = "Name of the VPC."
  value       = google_compute_network.vpc.name
}

output "subnet_id" {
  description = "Id of the data subnet."
  value       = google_compute_subnetwork.data.id
}

output "subnet_self_link" {
  description = "Self link of the data subnet (Dataflow's --subnetwork wants this form)."
  value       = google_compute_subnetwork.data.self_link
}
