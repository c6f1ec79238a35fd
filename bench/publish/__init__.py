"""Reconciled data -> the published files: markdown, HTML, CSV/JSON and charts."""
