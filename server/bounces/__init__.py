"""What comes back after an email is sent: bounces and complaints, read from a mailbox or posted by a relay."""
