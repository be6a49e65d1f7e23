"""
Make wokkel 18.0.0 importable on current Twisted.

wokkel was last released in 2018.  Current Twisted dropped C{_PY3} from
C{twisted.python.compat}, deprecated the Python 2 aliases still there
(C{unicode}, C{iteritems}, ...), and moved C{twisted.python.constants} out
into the C{constantly} package.  Importing this module restores the missing
names and silences the deprecation warnings that wokkel's imports of the old
aliases would print on every start.  Our modules import wokkel through here
(C{from openmessenger.compat import wokkel}), so the order cannot go wrong.
"""

import sys
import warnings

import constantly
from twisted.python import compat

compat._PY3 = True
sys.modules.setdefault("twisted.python.constants", constantly)
warnings.filterwarnings(
    "ignore",
    message=r"twisted\.python\.compat\.\w+ was deprecated",
    category=DeprecationWarning,
)

import wokkel  # noqa: E402  (only after the names are back)

__all__ = ["wokkel"]
