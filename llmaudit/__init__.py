"""llmaudit: an offline cost audit for LLM API traffic."""

__version__ = "0.1.0"
