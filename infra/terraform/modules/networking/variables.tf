variable "project_id" {
  description = "Project that owns the network."
  type        = string
}

variable "region" {
  description = "Region of the subnet, router and NAT."
  type        = string
}

variable "env" {
  description = "Environment name (dev, prod); part of every resource name."
  type        = string
}

variable "subnet_cidr" {
  description = "Primary range of the data subnet (Dataflow workers, Composer 3 network attachment, Cloud Run egress)."
  type        = string
}

variable "flow_log_sampling" {
  description = "Fraction of VPC flow logs kept (cost vs. forensic detail)."
  type        = number
  default     = 0.5
}
