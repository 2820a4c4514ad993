"""Celery export workers (built in a later step)."""
