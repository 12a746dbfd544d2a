"""The in-app edge: `asgi_edge.py`, an ASGI wrapper shipped VERBATIM into the app's pod (request IDs, a JSON
access line per request written when the response ends, CORS enforced in the app).

`asgi_edge.py` runs alone in the user's image with the user's Python (3.9+): it imports nothing from
asgi_operator (an import-linter contract says so) and only the standard library (Starlette when present). The
operator reads it as a file (`SOURCE`) to render it into a ConfigMap; it never imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

MODULE: Final = "asgi_edge"
SOURCE: Final = Path(__file__).with_name(f"{MODULE}.py")
