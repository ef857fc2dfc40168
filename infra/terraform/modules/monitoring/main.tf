# Budget alerts, the pipeline's health alerts (lag, backlog, error rate, dead letters, API
# errors) and one dashboard with the same signals, all notifying the same channels.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  subscriptions = join(", ", [for name in values(var.subscription_names) : "\"${name}\""])
  dead_letters  = join(", ", [for name in values(var.dead_letter_topic_names) : "\"${name}\""])

  signals = {
    pipeline_lag = {
      title     = "Pipeline system lag (s)"
      filter    = "metric.type=\"dataflow.googleapis.com/job/system_lag\" AND resource.type=\"dataflow_job\" AND resource.label.job_name=\"${var.dataflow_job_name}\""
      aligner   = "ALIGN_MAX"
      threshold = var.max_system_lag_seconds
      duration  = "300s"
    }
    ingestion_backlog = {
      title     = "Oldest unacked message (s)"
      filter    = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=one_of(${local.subscriptions})"
      aligner   = "ALIGN_MAX"
      threshold = var.max_oldest_unacked_seconds
      duration  = "300s"
    }
    dlq_rate = {
      title     = "Contract DLQ events/s (error rate)"
      filter    = "metric.type=\"pubsub.googleapis.com/topic/send_message_operation_count\" AND resource.type=\"pubsub_topic\" AND resource.label.topic_id=\"${var.dlq_topic_name}\""
      aligner   = "ALIGN_RATE"
      threshold = var.max_dlq_per_second
      duration  = "300s"
    }
    dead_letters = {
      title     = "Undeliverable messages dead-lettered/s"
      filter    = "metric.type=\"pubsub.googleapis.com/topic/send_message_operation_count\" AND resource.type=\"pubsub_topic\" AND resource.label.topic_id=one_of(${local.dead_letters})"
      aligner   = "ALIGN_RATE"
      threshold = 0
      duration  = "0s"
    }
    api_errors = {
      title     = "API 5xx/s"
      filter    = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"${var.api_service_name}\" AND metric.label.response_code_class=\"5xx\""
      aligner   = "ALIGN_RATE"
      threshold = var.max_api_5xx_per_second
      duration  = "300s"
    }
  }
  signal_order = ["pipeline_lag", "ingestion_backlog", "dlq_rate", "dead_letters", "api_errors"]
}

resource "google_monitoring_notification_channel" "email" {
  for_each = var.notification_emails

  project      = var.project_id
  display_name = "logistics ${var.env}: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
}

resource "google_monitoring_alert_policy" "signal" {
  for_each = local.signals

  project               = var.project_id
  display_name          = "logistics ${var.env}: ${each.value.title}"
  combiner              = "OR"
  notification_channels = [for channel in google_monitoring_notification_channel.email : channel.id]
  user_labels           = { env = var.env, system = "logistics" }

  conditions {
    display_name = each.value.title

    condition_threshold {
      filter          = each.value.filter
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = each.value.duration

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = each.value.aligner
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }
}

resource "google_billing_budget" "project" {
  billing_account = var.billing_account
  display_name    = "logistics-${var.env} monthly budget"

  budget_filter {
    projects = ["projects/${data.google_project.this.number}"]
  }

  amount {
    specified_amount {
      currency_code = "USD"
      units         = tostring(var.budget_amount_usd)
    }
  }

  threshold_rules {
    threshold_percent = 0.5
  }

  threshold_rules {
    threshold_percent = 0.9
  }

  threshold_rules {
    threshold_percent = 1.0
  }

  # Forecasts warn before the money is spent, not after.
  threshold_rules {
    threshold_percent = 1.0
    spend_basis       = "FORECASTED_SPEND"
  }

  all_updates_rule {
    monitoring_notification_channels = [for channel in google_monitoring_notification_channel.email : channel.id]
    disable_default_iam_recipients   = false
  }
}

resource "google_monitoring_dashboard" "pipeline" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "Logistics platform (${var.env})"
    mosaicLayout = {
      columns = 12
      tiles = [
        for index, name in local.signal_order : {
          xPos   = (index % 2) * 6
          yPos   = floor(index / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = local.signals[name].title
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = local.signals[name].filter
                    aggregation = { alignmentPeriod = "60s", perSeriesAligner = local.signals[name].aligner }
                  }
                }
              }]
              thresholds = [{ value = local.signals[name].threshold }]
            }
          }
        }
      ]
    }
  })
}
