"""The error hierarchy; the CLI maps each to an exit code."""


class LlmAuditError(Exception):
    """Base of every error llmaudit reports to the user without a traceback."""

    exit_code = 2


class InputError(LlmAuditError):
    """An input cannot be read at all: missing file, undetectable format, bad flag value."""


class ConfigError(LlmAuditError):
    """A configuration or price file is invalid."""


class PricingError(LlmAuditError):
    """Prices cannot be resolved as configured."""


class StrictModeError(LlmAuditError):
    """--strict was given and some records were rejected."""

    exit_code = 1
