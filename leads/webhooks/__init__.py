"""The webhook worker: deliveries made from the change feed, signed and sent."""
