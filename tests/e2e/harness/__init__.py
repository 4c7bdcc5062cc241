"""Helpers for Skiff's end-to-end tests: the skiff process, object stores, records and client adapters."""
