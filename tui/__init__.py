"""flashtop: a terminal monitor for Flashback AI LLM usage statistics."""

__version__ = "0.1.0"
