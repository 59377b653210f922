"""The demo's stand-in SMS phone (the service itself runs in test_cli's `up --demo`)."""

import json
import urllib.request

from hms_otel.stack.demo import serve_sms_phone


def test_phone_says_each_firing_alert_message():
    heard: list[str] = []
    server, url = serve_sms_phone(heard.append)
    try:
        payload = {
            "status": "firing",
            "alerts": [
                {"status": "firing", "labels": {"alertname": "payment_latency_high"},
                 "annotations": {"message": "Payment latency 11k ms (>2 s)"}},
                {"status": "resolved", "labels": {"alertname": "old"}, "annotations": {"message": "over"}},
            ],
        }
        request = urllib.request.Request(
            f"{url}?to=%2B15551234", data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        server.shutdown()
    assert heard == ["SMS to +15551234: Payment latency 11k ms (>2 s)"]
