"""The sending setup: whether emails can really go out (mail server, worker, sender, public URL, secret key, DKIM),
as `flask doctor`, the dashboard's Sending setup card and the start-up warnings tell it."""
