"""Where events land: bronze (Avro archive), silver (warehouse tables), the DLQ."""
