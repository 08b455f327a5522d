"""When side effects happen: Prefect flows and tasks over the outbox, reminders and escalation.

`flows.work` holds the plain functions (no Prefect), `flows.dispatch`, `flows.reminders` and
`flows.escalation` the Prefect flows that run them. Flow files use absolute imports because
Prefect loads them by file path.
"""
