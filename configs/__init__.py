"""Shipped YAML configs (train defaults, method/, data/, env/): package data so the CLI works anywhere."""
