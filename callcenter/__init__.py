"""callcenter: an SLA-driven service-desk phone line on top of Asterisk."""

__version__ = "0.1.0"
