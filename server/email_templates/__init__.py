"""A shop's email templates, written in Brevo's template language and rendered in a sandbox."""
