"""The read-only HTTP side of the daemon: /metrics, the JSON API, /healthz and the status page."""
