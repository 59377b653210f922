"""The notifier: Alertmanager's webhook receiver that words every alert the same
way for SMS, Teams, Slack and webhooks, adds the probable source from the logs,
and never loses a message (journal, retries, resume after restart).

- :mod:`~hms_otel.notify.message`: the text (``[HMS-OPS] ALERT – payment_latency_ms 2.9 s (>2 s)``)
- :mod:`~hms_otel.notify.providers`: Twilio-compatible SMS, Teams Workflows, Slack, JSON webhook, local print
- :mod:`~hms_otel.notify.journal` / :mod:`~hms_otel.notify.delivery`: on-disk journal, retries
- :mod:`~hms_otel.notify.source`: probable source from VictoriaLogs
- :mod:`~hms_otel.notify.server`: the HTTP receiver (``hms-ops notifier``)
"""
