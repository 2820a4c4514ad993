"""The job API: other systems submit, inspect, cancel and download export jobs over HTTP."""
