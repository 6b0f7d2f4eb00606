"""Every route's path, defined once (the simulator, the benches and the tests use them too)."""

WEBHOOK = "/api/webhooks/timemoto/pointage"
VERIFIER = "/api/database/verifier-tables-pointage"
HEALTH = "/health"
READY = "/ready"
METRICS = "/metrics"
OPENAPI = "/schema"
EXPORT = "/api/export"  # operators' (docs/contract.md §6, §7): {EXPORT}/YYYY-MM.xlsx and .csv
STATUS = "/status"  # operators' (docs/contract.md §6): the status page, HTML
API_STATUS = "/api/status"  # operators': the same facts as JSON
