# What is alerted on and charted, as filters over what is actually deployed: the streaming job by
# the name deploy_dataflow.sh launches it under, the subscriptions that job reads (one per input
# topic), the Pub/Sub delivery dead-letter topics behind them, the contract DLQ topic, the Kafka
# bridge's Cloud Run service and the API's. Locals only (no resources, no providers): the test
# suite evaluates this file with the real `terraform console`.
#
# Kafka consumer lag is not here: the brokers are outside Google Cloud, so nothing reports it to
# Cloud Monitoring; a backlog shows up as the bridge being down or the input subscriptions aging.

locals {
  subscriptions = join(", ", [for name in values(var.subscription_names) : "\"${name}\""])
  dead_letters  = join(", ", [for name in values(var.dead_letter_topic_names) : "\"${name}\""])
  streaming_job = "resource.type=\"dataflow_job\" AND resource.label.job_name=\"${var.dataflow_job_name}\""
  bridge        = "resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"${var.kafka_bridge_service_name}\""

  # condition: "above" (threshold exceeded for `duration`) or "absent" (no data for `duration`:
  # the thing is not running at all). reducer: null, or summed across a resource's series.
  signals = {
    pipeline_lag = {
      title     = "Streaming job system lag (s)"
      filter    = "metric.type=\"dataflow.googleapis.com/job/system_lag\" AND ${local.streaming_job}"
      condition = "above"
      aligner   = "ALIGN_MAX"
      reducer   = null
      threshold = var.max_system_lag_seconds
      duration  = "300s"
    }
    data_freshness = {
      title     = "Streaming job data freshness: watermark age (s)"
      filter    = "metric.type=\"dataflow.googleapis.com/job/data_watermark_age\" AND ${local.streaming_job}"
      condition = "above"
      aligner   = "ALIGN_MAX"
      reducer   = null
      threshold = var.max_data_freshness_seconds
      duration  = "300s"
    }
    pipeline_not_running = {
      title     = "Streaming job reports no system lag (not running)"
      filter    = "metric.type=\"dataflow.googleapis.com/job/system_lag\" AND ${local.streaming_job}"
      condition = "absent"
      aligner   = "ALIGN_MAX"
      reducer   = null
      threshold = null
      duration  = "${var.not_running_after_seconds}s"
    }
    ingestion_backlog = {
      title     = "Oldest unacked message on the job's subscriptions (s)"
      filter    = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=one_of(${local.subscriptions})"
      condition = "above"
      aligner   = "ALIGN_MAX"
      reducer   = null
      threshold = var.max_oldest_unacked_seconds
      duration  = "300s"
    }
    dlq_rate = {
      title     = "Contract DLQ events/s (error rate)"
      filter    = "metric.type=\"pubsub.googleapis.com/topic/send_message_operation_count\" AND resource.type=\"pubsub_topic\" AND resource.label.topic_id=\"${var.dlq_topic_name}\""
      condition = "above"
      aligner   = "ALIGN_RATE"
      reducer   = null
      threshold = var.max_dlq_per_second
      duration  = "300s"
    }
    dead_letters = {
      title     = "Undeliverable messages dead-lettered/s"
      filter    = "metric.type=\"pubsub.googleapis.com/topic/send_message_operation_count\" AND resource.type=\"pubsub_topic\" AND resource.label.topic_id=one_of(${local.dead_letters})"
      condition = "above"
      aligner   = "ALIGN_RATE"
      reducer   = null
      threshold = 0
      duration  = "0s"
    }
    bridge_not_running = {
      title     = "Kafka bridge has no instance (not running)"
      filter    = "metric.type=\"run.googleapis.com/container/instance_count\" AND ${local.bridge}"
      condition = "absent"
      aligner   = "ALIGN_MAX"
      reducer   = "REDUCE_SUM"
      threshold = null
      duration  = "${var.not_running_after_seconds}s"
    }
    api_errors = {
      title     = "API 5xx/s"
      filter    = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"${var.api_service_name}\" AND metric.label.response_code_class=\"5xx\""
      condition = "above"
      aligner   = "ALIGN_RATE"
      reducer   = null
      threshold = var.max_api_5xx_per_second
      duration  = "300s"
    }
  }
  # Dashboard tiles, in order (a "not running" alert charts the same series as its neighbour).
  charted = ["pipeline_lag", "data_freshness", "ingestion_backlog", "dlq_rate", "dead_letters", "bridge_not_running", "api_errors"]
}
