"""NurtureDesk: lead nurturing on your laptop."""

__version__ = "0.1.0"
