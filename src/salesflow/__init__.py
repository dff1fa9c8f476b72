"""salesflow: raw sales events to a trustworthy Bronze/Silver/Gold lakehouse and business answers."""

__version__ = "0.1.0"
