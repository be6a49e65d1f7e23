# -*- test-case-name: tests.web.test_status -*-
"""
The status buttons' catalogue: the states, the icon sets, the words the
buttons show, and where their pictures lie.  Shared by the directory (a
company's icon set), the web side (the answers) and the drawing script
(L{openmessenger.web.iconart}), none of which imports another for it.
"""

import os

STATES = ("online", "away", "xa", "dnd", "offline")
LABELS = {
    "en": {"online": "Online", "away": "Away", "xa": "Extended away",
           "dnd": "Do not disturb", "offline": "Offline"},
    "de": {"online": "Online", "away": "Kurz abwesend", "xa": "Länger abwesend",
           "dnd": "Bitte nicht stören", "offline": "Offline"},
}
ICONSETS = ("label", "button", "dot", "mono")
#: Sets whose pictures carry words (one picture per language).
WORDED = ("label", "button", "mono")
#: The folder of the committed pictures.
PICTURES = os.path.join(os.path.dirname(__file__), "web", "status")


def fileName(iconset, state, lang, extension, scale=1):
    """
    A picture's path inside L{PICTURES}.
    """
    suffix = f"-{lang}" if iconset in WORDED else ""
    density = "@2x" if scale == 2 else ""
    return f"{iconset}/{state}{suffix}{density}.{extension}"
