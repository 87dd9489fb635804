"""Files for a self-hosted Prometheus, Alertmanager and Grafana; the dashboard is built here."""
