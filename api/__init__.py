"""The job API (built in a later step)."""
