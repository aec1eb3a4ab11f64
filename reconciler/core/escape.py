"""Text from outside the tool, made safe for where it lands: one function per destination, used by every
writer to that destination. Pure.

Outside text is anything this tool did not write itself: file and directory names and YAML keys (from pull
requests), collaboration names (chosen by other companies), live values and error messages (from AWS),
and whatever a saved plan or report file holds.

- `printable`: control characters shown as escapes, so text can neither move the cursor, recolour,
  hyperlink (OSC 8) or write the clipboard (OSC 52) on a terminal, nor split one line into two.
- `terminal_line`: `printable`, and a line that GitHub's runner would read as a workflow command
  (`::name::`, or a legacy `##[name]`) is shown with its first colon or hash escaped.
- `command_data`, `command_property`: the runner's own escaping inside a workflow command we write.
- `inert`, `code`, `code_block`: Markdown that shows the text and nothing else (no HTML, comments,
  images, links, autolinks, mentions, table cells or fence breaks).
"""

from __future__ import annotations

import re

# C0, DEL and C1 controls; also the Unicode line and paragraph separators, which some readers break at.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return {"\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def printable(text: str) -> str:
    """`text` on one line with every control character as a visible escape (`\\x1b`, `\\n`)."""
    return _CONTROL.sub(_escaped, text)


# The runner reads a line as a command when, past leading white space, it starts with `::`; the legacy form
# `##[name]` is found anywhere in a line.
_COMMAND = re.compile(r"^(\s*):(?=:)")
_LEGACY_COMMAND = re.compile(r"#(?=#\[)")


def terminal_line(text: str) -> str:
    """One printed line (or several, at their own line breaks) that shows `text` and does nothing else."""

    def one(line: str) -> str:
        shown = _COMMAND.sub(lambda m: m.group(1) + "\\x3a", printable(line))
        return _LEGACY_COMMAND.sub("\\\\x23", shown)

    return "\n".join(one(line) for line in text.split("\n"))


def command_data(value: str) -> str:
    """A workflow command's message (after `::`), as the runner unescapes it; other controls printable."""
    return printable(value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def command_property(value: str) -> str:
    """A workflow command's property value (`file=…`), which also ends at `,` and `:`."""
    return command_data(value).replace(":", "%3A").replace(",", "%2C")


# Characters that can start Markdown or HTML syntax mid-line, or split a table cell (inert text never starts
# a line, so list and heading markers are safe; parentheses form a link only after `]`, which is escaped).
# As numeric references they show as themselves, and GitHub never reads them as structure.
_SYNTAX = frozenset("\\`*_{}[]#+!|~<>&\"'")
# GitHub links `www.` and `scheme://` in plain text: escaping the dot or the colon keeps them text.
_AUTOLINK = re.compile(r"(?i)\b(www)\.|:(?=//)")


def inert(text: str) -> str:
    """`text` for a PR comment or issue, shown as itself: it cannot add table cells, open or close HTML,
    embed images or links, or mention anyone (a zero-width space after `@`, as Dependabot does)."""
    out = []
    for char in printable(text):
        if char == "@":
            out.append("@&#8203;")
        elif char in _SYNTAX:
            out.append(f"&#{ord(char)};")
        else:
            out.append(char)
    return _AUTOLINK.sub(lambda m: f"{m.group(1)}&#46;" if m.group(1) else "&#58;", "".join(out))


_PLAIN = re.compile(r"[A-Za-z0-9_./=+-]*")


def code(text: str) -> str:
    """`text` as inline code: a backtick span when it is plain, else an HTML code element holding it inert
    (a backtick span would show entities raw, and a backtick in the text would end it)."""
    return f"`{text}`" if _PLAIN.fullmatch(text) else f"<code>{inert(text)}</code>"


def code_block(language: str, lines: list[str]) -> list[str]:
    """A fenced code block no line can end early: each line printable, the fence longer than any run of
    backticks inside. Code is shown raw, so nothing else needs escaping there."""
    shown = [printable(line) for line in lines]
    longest = max((len(run) for line in shown for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *shown, fence]
