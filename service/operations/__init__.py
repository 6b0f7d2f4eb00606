"""The read side: what the operators' paths and the CLI ask of the service (the verifier's answer,
readiness, the status facts, a month's payroll), below http and above db. Reading never changes
state: alerts are the monitor's own loop's to evaluate."""
