"""Alert delivery: Alertmanager's configuration, rendered from the ALERT_* settings.

Alertmanager does not expand environment variables in its configuration file, so
`python -m alerting render --out PATH` turns the deployment's `.env` settings into one
(`settings.py` reads and checks them, `config.py` builds the document, `render.py` writes
it with the secrets in files of their own).
"""
