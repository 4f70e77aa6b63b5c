"""Errors raised by xlhedge: each names the argument and the rule it broke."""


class XlhedgeError(ValueError):
    """Bad input: the message names the argument and the rule."""


class InputError(XlhedgeError):
    """An argument broke a rule (``price must be > 0``)."""

    def __init__(self, argument: str, rule: str, got: object = None) -> None:
        self.argument = argument
        self.rule = rule
        message = f"{argument} {rule}"
        if got is not None:
            message += f" (got {got!r})"
        super().__init__(message)


class UnknownContractError(XlhedgeError):
    """A contract symbol that is not in the registry; names the closest known ones."""

    def __init__(self, symbol: str, suggestions: list[str]) -> None:
        self.symbol = symbol
        self.suggestions = suggestions
        message = f"unknown contract {symbol!r}"
        if suggestions:
            message += f" (did you mean {', '.join(suggestions)}?)"
        super().__init__(message)
