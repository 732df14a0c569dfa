"""The Qt client. Only this package imports Qt; it calls core services and never runs SQL."""
