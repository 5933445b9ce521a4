"""The built-in reference API (`authcli dev-server`)."""
