"""Helpers the tests share: free ports, waiting on conditions, real processes."""
