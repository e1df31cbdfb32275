//! Signal readers: consumer-group lag from Kafka, consumer metrics from Prometheus or the pods.
