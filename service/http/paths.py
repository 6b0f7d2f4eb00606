"""Every route's path, defined once (the simulator, the benches and the tests use them too)."""

WEBHOOK = "/api/webhooks/timemoto/pointage"
VERIFIER = "/api/database/verifier-tables-pointage"
HEALTH = "/health"
READY = "/ready"
METRICS = "/metrics"
OPENAPI = "/schema"
