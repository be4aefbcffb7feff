"""Exceptions raised by workbook.

There is one exception type for bad input (data, parameters, arguments): :class:`BadInput`.
The command line turns it into a short message and exit code 2; everything else is exit 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """One validation finding about one rule of one table.

    ``severity`` is ``"error"`` (stops the run) or ``"warning"`` (reported, run goes on);
    ``count`` is how many rows break the rule and ``examples`` a few of their keys.
    """

    severity: str
    table: str
    column: str | None
    rule: str
    count: int = 0
    examples: tuple[str, ...] = field(default_factory=tuple)

    def message(self) -> str:
        # a command-line option reads "-p max_risks", a table or file "usage.actions"
        joiner = " " if self.table.startswith("-") else "."
        where = self.table if not self.column else f"{self.table}{joiner}{self.column}"
        text = f"{where}: {self.rule}"
        if self.count:
            text += f" ({self.count} row{'s' if self.count != 1 else ''}"
            if self.examples:
                text += ", e.g. " + ", ".join(self.examples)
            text += ")"
        return text


class BadInput(Exception):
    """Bad input: a data table, a parameters file or an argument breaks a rule.

    Carries ``table`` (where), ``column`` (what in it), ``rule``, ``count`` of offending rows and
    a few ``examples`` (keys), plus every :class:`Finding` when validation found several problems.
    ``table`` always names one of three things:

    - a data table: ``table`` is its name and ``column`` the column (``usage.actions: ...``);
    - a parameters or weights file: ``table`` is the file's path and ``column`` the key, dotted
      for nested keys (``params/health.yaml.dimensions.adoption.parts: ...``);
    - a command-line option or argument: ``table`` is the option as typed (``"--reason"``,
      ``"--as-of"``, ``"-p"``, ``"NAME"``; for a Python call, the argument's name) and ``column``
      the key it sets or None (``--reason: must ...``, ``-p max_risks: must ...``).
    """

    def __init__(self, table: str, column: str | None, rule: str, count: int = 0,
                 examples: tuple[str, ...] | list[str] = (), findings: list[Finding] | None = None):
        self.table = table
        self.column = column
        self.rule = rule
        self.count = count
        self.examples = tuple(examples)
        first = Finding("error", table, column, rule, count, self.examples)
        self.findings = list(findings) if findings else [first]
        super().__init__(self._text())

    @classmethod
    def from_findings(cls, findings: list[Finding]) -> "BadInput":
        errors = [f for f in findings if f.severity == "error"]
        first = errors[0]
        return cls(first.table, first.column, first.rule, first.count, first.examples, findings=findings)

    def _text(self) -> str:
        errors = [f for f in self.findings if f.severity == "error"]
        if len(errors) <= 1:
            return errors[0].message() if errors else Finding("error", self.table, self.column, self.rule,
                                                             self.count, self.examples).message()
        lines = [f"{len(errors)} problems in the input:"]
        lines += [f"  - {f.message()}" for f in errors]
        return "\n".join(lines)
