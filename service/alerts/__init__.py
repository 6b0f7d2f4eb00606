"""The operators' alerts at work: the monitor that watches the service, the notifier that posts."""
