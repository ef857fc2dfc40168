# The modules used to be called from this root directly; these blocks carry their state over to
# module.platform instead of destroying and recreating every resource. Once both dev and prod
# have been applied with it, delete this file in both and the test that checks it
# (tests/infra/test_terraform.py::test_moved_blocks_carry_every_module_into_the_platform).

moved {
  from = module.networking
  to   = module.platform.module.networking
}

moved {
  from = module.iam
  to   = module.platform.module.iam
}

moved {
  from = module.pubsub
  to   = module.platform.module.pubsub
}

moved {
  from = module.gcs
  to   = module.platform.module.gcs
}

moved {
  from = module.bigquery
  to   = module.platform.module.bigquery
}

moved {
  from = module.dataflow
  to   = module.platform.module.dataflow
}

moved {
  from = module.composer
  to   = module.platform.module.composer
}

moved {
  from = module.cloud_run
  to   = module.platform.module.cloud_run
}

moved {
  from = module.kafka
  to   = module.platform.module.kafka
}

moved {
  from = module.secrets
  to   = module.platform.module.secrets
}

moved {
  from = module.monitoring
  to   = module.platform.module.monitoring
}
