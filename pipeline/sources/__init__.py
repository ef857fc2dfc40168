"""Where raw records come from: files (embedded default), Kafka, Pub/Sub."""
