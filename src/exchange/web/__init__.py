"""The gateway's web surface: REST, WebSocket and the page, a thin layer over the services."""
