"""Small pieces every HTTP service here shares: problem+json errors, the WSGI server, logging."""
