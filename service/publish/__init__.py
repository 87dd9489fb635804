"""The CloudWatch metrics publisher: `python -m service.publish` (its own unit on the box).

Every APP_METRICS_INTERVAL seconds it scrapes the service's Prometheus endpoint and the host,
and sends the eight metrics of the shared contract in one PutMetricData call. Modules: `scrape`
(Prometheus text to interval figures), `host` (memory, disk, instance id), `cloudwatch` (the
metric data, pure), `breaker` (circuit breaker), `loop` (the publisher), `__main__` (the CLI).
"""
