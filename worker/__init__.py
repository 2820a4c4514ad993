"""Celery export workers: plan a job, fan out per project, page through Revizto, write files."""
