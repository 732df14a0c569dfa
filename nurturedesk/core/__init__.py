"""The domain: pure Python, no Qt below this package."""
