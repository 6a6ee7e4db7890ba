"""What the shop's code calls: Brevo's v3 API, its keys, its request models and its OpenAPI description."""
