"""The Grafana dashboard, built from data: `python -m monitoring.grafana.dashboard`."""
