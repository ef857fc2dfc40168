output "policy_tag_ids" {
  description = "Tag name -> policy tag resource name (projects/.../taxonomies/.../policyTags/...), as BigQuery schemas reference it."
  value       = { for name, tag in google_data_catalog_policy_tag.tag : name => tag.name }
}
