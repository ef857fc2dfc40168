# Ingestion topics, the pipeline's subscriptions, and two kinds of dead letters that must not be
# confused: Pub/Sub's *delivery* dead-letter topics (a message the pipeline could not ack after N
# tries) and the pipeline's *contract* DLQ (a message it read but that failed validation).
#
# A dead-letter topic without a subscription silently drops what lands on it, so every one gets a
# retained subscription; and Pub/Sub's own service agent must be allowed to publish there and to
# ack on the source subscription, or dead-lettering never happens (messages retry forever).

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  labels        = { env = var.env, managed-by = "terraform", system = "logistics" }
  pubsub_agent  = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  output_topics = toset([var.dlq_topic, var.alerts_topic])
}

resource "google_pubsub_topic" "events" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; CMEK needs an org KMS policy this project does not define
  for_each = var.event_topics

  project                    = var.project_id
  name                       = each.value
  labels                     = merge(local.labels, { family = each.key })
  message_retention_duration = var.message_retention
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; CMEK needs an org KMS policy this project does not define
  for_each = var.event_topics

  project = var.project_id
  name    = "${each.value}-dead-letter"
  labels  = merge(local.labels, { family = each.key, kind = "dead-letter" })
}

resource "google_pubsub_subscription" "pipeline" {
  for_each = var.event_topics

  project                    = var.project_id
  name                       = "${each.value}${var.subscription_suffix}"
  topic                      = google_pubsub_topic.events[each.key].id
  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = var.message_retention
  retain_acked_messages      = false
  labels                     = local.labels

  expiration_policy {
    ttl = "" # never expire: an idle pipeline must not lose its subscription
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = var.event_topics

  project                    = var.project_id
  name                       = "${each.value}-dead-letter-hold"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = var.message_retention
  ack_deadline_seconds       = 600
  labels                     = local.labels

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic" "pipeline_output" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; CMEK needs an org KMS policy this project does not define
  for_each = local.output_topics

  project = var.project_id
  name    = each.value
  labels  = local.labels
}

# Consumers of the contract DLQ (replay tooling) and alerts read from these.
resource "google_pubsub_subscription" "pipeline_output" {
  for_each = local.output_topics

  project                    = var.project_id
  name                       = "${each.value}-hold"
  topic                      = google_pubsub_topic.pipeline_output[each.key].id
  message_retention_duration = var.message_retention
  ack_deadline_seconds       = 60
  labels                     = local.labels

  expiration_policy {
    ttl = ""
  }
}

# New silver shipment/delivery rows, published by the pipeline once loaded. No subscription here:
# each API process creates (and deletes) its own, see modules/cloud-run and docs/api.md.
resource "google_pubsub_topic" "updates" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; CMEK needs an org KMS policy this project does not define
  project = var.project_id
  name    = var.updates_topic
  labels  = merge(local.labels, { kind = "live-updates" })
}

resource "google_pubsub_topic_iam_member" "pipeline_publishes_updates" {
  project = var.project_id
  topic   = google_pubsub_topic.updates.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${var.subscriber_email}"
}

resource "google_pubsub_subscription_iam_member" "pipeline_subscriber" {
  for_each = var.event_topics

  project      = var.project_id
  subscription = google_pubsub_subscription.pipeline[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${var.subscriber_email}"
}

# Beam's ReadFromPubSub reads subscription metadata before pulling.
resource "google_pubsub_subscription_iam_member" "pipeline_viewer" {
  for_each = var.event_topics

  project      = var.project_id
  subscription = google_pubsub_subscription.pipeline[each.key].name
  role         = "roles/pubsub.viewer"
  member       = "serviceAccount:${var.subscriber_email}"
}

resource "google_pubsub_topic_iam_member" "pipeline_publisher" {
  for_each = local.output_topics

  project = var.project_id
  topic   = google_pubsub_topic.pipeline_output[each.key].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${var.subscriber_email}"
}

resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  for_each = var.event_topics

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_acks_source" {
  for_each = var.event_topics

  project      = var.project_id
  subscription = google_pubsub_subscription.pipeline[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
