"""The token service: the only owner of the Revizto refresh token (built in the next step)."""
