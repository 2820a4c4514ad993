"""`revizto-export`: the job API from a shell, as the original tool was driven from one.

`client.py` speaks HTTP to the job API; `follow.py` shows a job's progress; `cli.py` is
the command line. Nothing here imports the services: it is a client like any other.
"""
