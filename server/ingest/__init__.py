"""Where an event enters: the tracker's endpoints, Brevo's v2 API, the one ingest path and the gate before it."""
