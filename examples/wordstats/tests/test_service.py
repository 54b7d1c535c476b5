import json

from wordstats.service import METRICS, app


def call(path, query=""):
    seen = {}

    def start_response(status, headers):
        seen["status"] = status

    body = b"".join(app({"PATH_INFO": path, "QUERY_STRING": query}, start_response))
    return seen["status"], body


def test_count_answers_json():
    status, body = call("/count", "text=one+two+three")
    assert status == "200 OK"
    assert json.loads(body) == {"words": 3}


def test_health_and_unknown_paths():
    assert call("/healthz") == ("200 OK", b"ok\n")
    assert call("/nope")[0] == "404 Not Found"


def test_metrics_count_requests_by_status():
    call("/count", "text=a")
    status, body = call("/metrics")
    text = body.decode()
    assert status == "200 OK"
    assert 'http_requests_total{path="/count",status="200"}' in text
    assert f"http_request_duration_seconds_count {METRICS.total}" in text
