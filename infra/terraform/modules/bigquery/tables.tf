# The contract-owned tables, read from the schema files `logistics codegen` writes
# (contracts/generated/bigquery/<layer>/<table>.json). Nothing here is re-typed: fields,
# partitioning and clustering all come from the JSON, and a new event family's file becomes a
# new table on the next plan. This file holds only inputs and locals (no resources) so the test
# suite can evaluate it with the real `terraform console` without provider downloads.

variable "schema_dir" {
  description = "Directory holding <layer>/<table>.json BigQuery schemas generated from the contract registry."
  type        = string
}

variable "policy_tag_ids" {
  description = "Policy tag name, as the generated schemas' policyTags.names spell it -> its Data Catalog resource name (modules/data-catalog)."
  type        = map(string)
}

locals {
  schema_documents = {
    for path in fileset(var.schema_dir, "*/*.json") :
    trimsuffix(path, ".json") => jsondecode(file("${var.schema_dir}/${path}"))
  }

  # Column-level security: codegen names a tag on each column holding protected personal data;
  # the table gets the tag's resource name in its place. A field without policyTags is unchanged.
  contract_tables = {
    for key, doc in local.schema_documents : key => {
      layer       = split("/", key)[0]
      table_id    = split("/", key)[1]
      description = try(doc.description, "")
      schema = jsonencode([
        for field in doc.fields : merge(field, try(
          { policyTags = { names = [for name in field.policyTags.names : var.policy_tag_ids[name]] } }, {}
        ))
      ])
      partitioning = try(doc.timePartitioning, null)
      clustering   = try(doc.clustering, null)
    }
  }

  # Tags the schemas name that policy_tag_ids lacks: the tables' precondition refuses to plan them.
  policy_tag_names    = toset(flatten([for doc in values(local.schema_documents) : [for field in doc.fields : try(field.policyTags.names, [])]]))
  unknown_policy_tags = setsubtract(local.policy_tag_names, keys(var.policy_tag_ids))
}
