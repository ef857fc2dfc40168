# Budget alerts, the health alerts of what is deployed (signals.tf: the streaming job's lag and
# data freshness, its subscriptions' backlog, the DLQ and dead letters, the Kafka bridge, the API)
# and one dashboard with the same signals, all notifying the same channels.

data "google_project" "this" {
  project_id = var.project_id
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

    dynamic "condition_threshold" {
      for_each = each.value.condition == "above" ? [each.value] : []
      content {
        filter          = condition_threshold.value.filter
        comparison      = "COMPARISON_GT"
        threshold_value = condition_threshold.value.threshold
        duration        = condition_threshold.value.duration

        aggregations {
          alignment_period     = "60s"
          per_series_aligner   = condition_threshold.value.aligner
          cross_series_reducer = condition_threshold.value.reducer
        }
      }
    }

    dynamic "condition_absent" {
      for_each = each.value.condition == "absent" ? [each.value] : []
      content {
        filter   = condition_absent.value.filter
        duration = condition_absent.value.duration

        aggregations {
          alignment_period     = "60s"
          per_series_aligner   = condition_absent.value.aligner
          cross_series_reducer = condition_absent.value.reducer
        }
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
        for index, name in local.charted : {
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
                    filter = local.signals[name].filter
                    aggregation = merge(
                      { alignmentPeriod = "60s", perSeriesAligner = local.signals[name].aligner },
                      local.signals[name].reducer == null ? {} : { crossSeriesReducer = local.signals[name].reducer },
                    )
                  }
                }
              }]
              thresholds = local.signals[name].threshold == null ? [] : [{ value = local.signals[name].threshold }]
            }
          }
        }
      ]
    }
  })
}
