# The platform's outputs under the root's names (what each is: modules/platform/outputs.tf).
output "bronze_uri" { value = module.platform.bronze_uri }
output "datasets" { value = module.platform.datasets }
output "contract_tables" { value = module.platform.contract_tables }
output "dataflow_launch" { value = module.platform.dataflow_launch }
output "dataflow_scaling" { value = module.platform.dataflow_scaling }
output "kafka_bridge_service" { value = module.platform.kafka_bridge_service }
output "images" { value = module.platform.images }
output "composer_dag_prefix" { value = module.platform.composer_dag_prefix }
output "api_uri" { value = module.platform.api_uri }
