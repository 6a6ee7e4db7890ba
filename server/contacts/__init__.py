"""Who a contact is: identity, attributes, addresses, privacy and how long their data is kept."""
