"""Gunicorn settings for the web tier (`make serve`): threaded workers, so that a slow client holds one
thread, never a whole worker, and only until the app's body deadline (SIBYL_BODY_TIMEOUT) passes."""

worker_class = "gthread"
threads = 4
timeout = 30
keepalive = 5
