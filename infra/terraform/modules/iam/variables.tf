variable "project_id" {
  description = "Project that owns the service accounts."
  type        = string
}

variable "env" {
  description = "Environment name; suffix of every account id."
  type        = string
}
