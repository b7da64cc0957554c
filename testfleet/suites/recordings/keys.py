"""Recorded keys, named as ``press`` names them (``Enter``, ``Control+a``, ``Space``).

The Recorder records DOM key values and codes (``Enter``, ``a``, ``KeyA``,
``ShiftLeft``, ``Numpad5``); Selenium IDE writes special keys in ``send keys``
as ``${KEY_ENTER}`` (selenium-webdriver's ``Key`` names). Keys WebDriver cannot
press (media keys, F13 and up, ...) raise ``Unmappable``.
"""

from __future__ import annotations

import re

from testfleet.suites.recordings.locators import Unmappable

MODIFIERS = ("Control", "Shift", "Alt", "Meta")
"""Held while the next key is pressed (``press`` writes them ``Control+a``)."""

_NAMED = {
    # Keys pressed by their own name, and the other values recorded for them.
    "Enter": "Enter",
    "\r": "Enter",
    "\n": "Enter",
    "NumpadEnter": "Enter",
    "Tab": "Tab",
    "Escape": "Escape",
    "Backspace": "Backspace",
    "Delete": "Delete",
    "Insert": "Insert",
    "Home": "Home",
    "End": "End",
    "PageUp": "PageUp",
    "PageDown": "PageDown",
    "ArrowUp": "ArrowUp",
    "ArrowDown": "ArrowDown",
    "ArrowLeft": "ArrowLeft",
    "ArrowRight": "ArrowRight",
    " ": "Space",
    "Space": "Space",
    "Pause": "Pause",
    "Help": "Help",
    "Cancel": "Cancel",
    "Clear": "Clear",
    # Modifiers: the left and the right key press the same one.
    "Control": "Control",
    "ControlLeft": "Control",
    "ControlRight": "Control",
    "Shift": "Shift",
    "ShiftLeft": "Shift",
    "ShiftRight": "Shift",
    "Alt": "Alt",
    "AltLeft": "Alt",
    "AltRight": "Alt",
    "Meta": "Meta",
    "MetaLeft": "Meta",
    "MetaRight": "Meta",
    # The keypad's operators (its digits match _CODE).
    "NumpadMultiply": "Multiply",
    "NumpadAdd": "Add",
    "NumpadSubtract": "Subtract",
    "NumpadDecimal": "Decimal",
    "NumpadDivide": "Divide",
    "NumpadEqual": "=",
    # Punctuation recorded by its code: the character the key types.
    "Semicolon": ";",
    "Equal": "=",
    "Comma": ",",
    "Minus": "-",
    "Period": ".",
    "Slash": "/",
    "Backquote": "`",
    "BracketLeft": "[",
    "Backslash": "\\",
    "BracketRight": "]",
    "Quote": "'",
}
_CODE = re.compile(r"^(?:Key([A-Z])|Digit([0-9])|Numpad([0-9])|(F(?:[1-9]|1[0-2])))$")


def recorder_key(key: str) -> str:
    """A Recorder ``keyDown``/``keyUp`` key as a ``press`` key name."""
    if key in _NAMED:
        return _NAMED[key]
    found = _CODE.match(key)
    if found:
        letter, digit, numpad, function = found.groups()
        if letter:
            return letter.lower()
        return digit or (f"Numpad{numpad}" if numpad else function)
    if len(key) == 1 and key.isprintable():
        return key
    raise Unmappable(f"the key {key!r} cannot be pressed through WebDriver")


_SIDE_KEYS = {
    "BACK_SPACE": "Backspace",
    "BACKSPACE": "Backspace",
    "TAB": "Tab",
    "RETURN": "Return",
    "ENTER": "Enter",
    "SHIFT": "Shift",
    "CONTROL": "Control",
    "ALT": "Alt",
    "META": "Meta",
    "COMMAND": "Meta",
    "PAUSE": "Pause",
    "ESCAPE": "Escape",
    "SPACE": "Space",
    "PAGE_UP": "PageUp",
    "PAGE_DOWN": "PageDown",
    "END": "End",
    "HOME": "Home",
    "ARROW_LEFT": "ArrowLeft",
    "LEFT": "ArrowLeft",
    "ARROW_UP": "ArrowUp",
    "UP": "ArrowUp",
    "ARROW_RIGHT": "ArrowRight",
    "RIGHT": "ArrowRight",
    "ARROW_DOWN": "ArrowDown",
    "DOWN": "ArrowDown",
    "INSERT": "Insert",
    "DELETE": "Delete",
    "SEMICOLON": "Semicolon",
    "EQUALS": "Equals",
    "MULTIPLY": "Multiply",
    "ADD": "Add",
    "SEPARATOR": "Separator",
    "SUBTRACT": "Subtract",
    "DECIMAL": "Decimal",
    "DIVIDE": "Divide",
    "CANCEL": "Cancel",
    "HELP": "Help",
    "CLEAR": "Clear",
    **{f"NUMPAD{n}": f"Numpad{n}" for n in range(10)},
    **{f"F{n}": f"F{n}" for n in range(1, 13)},
}
_SIDE_TOKEN = re.compile(r"\$\{KEY_(\w+)\}")
_RELEASE = "NULL"


def side_keys(value: str) -> str:
    """A ``send keys`` value (text and ``${KEY_*}``) as ``press`` keys, one per key typed.

    WebDriver holds a modifier from where it is sent until ``${KEY_NULL}`` or the end, so
    ``${KEY_SHIFT}ab`` is ``Shift+a Shift+b``; a modifier nothing followed is pressed alone.
    """
    held: list[str] = []
    used = False
    combos: list[str] = []
    for token in _tokens(value):
        if token == _RELEASE:
            if held and not used:
                combos.append("+".join(held))
            held, used = [], False
        elif token in MODIFIERS:
            held = [m for m in held if m != token] if token in held else [*held, token]
        else:
            combos.append("+".join([*held, token]))
            used = True
    if held and not used:
        combos.append("+".join(held))
    if not combos:
        raise Unmappable("send keys has no keys to send")
    return " ".join(combos)


def _tokens(value: str) -> list[str]:
    tokens: list[str] = []
    at = 0
    for match in _SIDE_TOKEN.finditer(value):
        tokens += [_char(c) for c in value[at : match.start()]]
        name = match.group(1)
        if name == _RELEASE:
            tokens.append(_RELEASE)
        elif name in _SIDE_KEYS:
            tokens.append(_SIDE_KEYS[name])
        else:
            raise Unmappable(f"${{KEY_{name}}} is not a key Selenium knows")
        at = match.end()
    tokens += [_char(c) for c in value[at:]]
    return tokens


def _char(char: str) -> str:
    if char == " ":
        return "Space"
    if char in "\r\n":
        return "Enter"
    if char == "\t":
        return "Tab"
    if not char.isprintable():
        raise Unmappable(f"the character {char!r} cannot be typed as a key")
    return char
