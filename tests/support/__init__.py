"""What the tests share besides fixtures: servers as processes, the store, browsers, mail, the CLI, the guide's data."""
