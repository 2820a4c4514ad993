"""The token service: the only owner of the Revizto refresh token, shared safely by every worker."""
