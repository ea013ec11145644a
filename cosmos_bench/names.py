"""Names that become parts of file paths: model names, suite names.

A model or suite name is written into ``runs/<suite>/<model>/...`` and ``leaderboards/<suite>.md``,
so a name like ``../../x`` or ``/tmp/x`` would write outside the folders the user chose. One rule,
checked where names enter (YAML files, the store), keeps every such path one plain component.
"""

from __future__ import annotations

import re

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
NAME_RULE = "letters, digits, '-', '_' or '.', starting with a letter or digit (it is used in file paths)"


def is_safe_name(name: object) -> bool:
    """True when ``name`` can be used as one path component: no separators, never ``.``/``..``."""
    return isinstance(name, str) and NAME_RE.match(name) is not None
