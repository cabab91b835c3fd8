"""The regulator's web console: server-rendered shells, a script that reads the audit API."""
