"""The shop's catalogue and orders, through Brevo's v3 e-commerce API."""
