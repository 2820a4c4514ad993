"""`make demo`: the whole exporter on one machine, against the sandbox, in one command."""
