"""What is sent: SMTP delivery, the recovery and confirmation emails and the signed links in them."""
