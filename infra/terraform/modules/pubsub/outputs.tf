output "event_topic_ids" {
  description = "Family -> event topic id."
  value       = { for family, topic in google_pubsub_topic.events : family => topic.id }
}

output "event_topic_names" {
  description = "Family -> event topic name (the input topics: what the Kafka bridge and producers publish to)."
  value       = { for family, topic in google_pubsub_topic.events : family => topic.name }
}

output "subscription_ids" {
  description = "Family -> the pipeline's subscription id (what the Dataflow job reads)."
  value       = { for family, sub in google_pubsub_subscription.pipeline : family => sub.id }
}

output "subscription_names" {
  description = "Family -> the pipeline's subscription name (monitoring filters use names)."
  value       = { for family, sub in google_pubsub_subscription.pipeline : family => sub.name }
}

output "dead_letter_topic_names" {
  description = "Family -> Pub/Sub delivery dead-letter topic name."
  value       = { for family, topic in google_pubsub_topic.dead_letter : family => topic.name }
}

output "dlq_topic_name" {
  description = "The pipeline's contract DLQ topic."
  value       = google_pubsub_topic.pipeline_output[var.dlq_topic].name
}

output "updates_topic_name" {
  description = "The live-updates topic (the API subscribes to it, one subscription per process)."
  value       = google_pubsub_topic.updates.name
}
