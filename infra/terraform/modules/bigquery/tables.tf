# The contract-owned tables, read from the schema files `logistics codegen` writes
# (contracts/generated/bigquery/<layer>/<table>.json). Nothing here is re-typed: fields,
# partitioning and clustering all come from the JSON, and a new event family's file becomes a
# new table on the next plan. This file holds only inputs and locals (no resources) so the test
# suite can evaluate it with the real `terraform console` without provider downloads.

variable "schema_dir" {
  description = "Directory holding <layer>/<table>.json BigQuery schemas generated from the contract registry."
  type        = string
}

locals {
  schema_documents = {
    for path in fileset(var.schema_dir, "*/*.json") :
    trimsuffix(path, ".json") => jsondecode(file("${var.schema_dir}/${path}"))
  }

  contract_tables = {
    for key, doc in local.schema_documents : key => {
      layer        = split("/", key)[0]
      table_id     = split("/", key)[1]
      description  = try(doc.description, "")
      schema       = jsonencode(doc.fields)
      partitioning = try(doc.timePartitioning, null)
      clustering   = try(doc.clustering, null)
    }
  }
}
