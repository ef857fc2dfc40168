# Column-level security for BigQuery: a policy-tag taxonomy holding the tags the generated table
# schemas use (contracts/generated/bigquery/policy_tags.json, written by `logistics codegen` from
# the registry's PII rules), and who may read the columns under each tag. A principal without
# Fine-Grained Reader on a tag gets an access error when a query selects a column under it.

locals {
  # tag name (as the schemas' policyTags.names spell it) -> description
  policy_tags = jsondecode(file(var.policy_tags_file))

  reader_grants = {
    for pair in setproduct(keys(local.policy_tags), keys(var.fine_grained_readers)) :
    "${pair[0]}/${pair[1]}" => { tag = pair[0], email = var.fine_grained_readers[pair[1]] }
  }
}

resource "google_data_catalog_taxonomy" "personal_data" {
  project                = var.project_id
  region                 = var.location # a taxonomy tags columns of datasets in its own location only
  display_name           = "logistics-${var.env}-personal-data"
  description            = "Personal data the logistics contracts protect (generated from contracts/registry.yaml)."
  activated_policy_types = ["FINE_GRAINED_ACCESS_CONTROL"]
}

resource "google_data_catalog_policy_tag" "tag" {
  for_each = local.policy_tags

  taxonomy     = google_data_catalog_taxonomy.personal_data.id
  display_name = each.key
  description  = each.value
}

resource "google_data_catalog_policy_tag_iam_member" "fine_grained_reader" {
  for_each = local.reader_grants

  policy_tag = google_data_catalog_policy_tag.tag[each.value.tag].name
  role       = "roles/datacatalog.categoryFineGrainedReader"
  member     = "serviceAccount:${each.value.email}"
}
