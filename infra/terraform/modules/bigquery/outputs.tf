output "dataset_ids" {
  description = "Logical dataset -> dataset id."
  value       = { for layer, dataset in google_bigquery_dataset.layer : layer => dataset.dataset_id }
}

output "contract_table_ids" {
  description = "<layer>/<table> -> fully qualified table id, for every generated schema."
  value       = { for key, table in google_bigquery_table.contract : key => table.id }
}
