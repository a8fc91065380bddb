"""The translator that runs in the reader's browser, with no kernel.

``viz.browser_translator()`` (last line of a cell) displays a placeholder that the published
book turns into a widget: a text box preset with the notes' sentence; on every edit the
shipped translator, exported by the build as float32 weights (``minitransformer.export``) and
run by a JavaScript forward pass (``book/_static/translator/translator.js``), tokenises,
decodes greedily and draws the translation, the cross-attention of every step and the top-5
next words of each step. The book's Sphinx extension ``book/_ext/browser_translator.py``
exports the model and loads the scripts on the pages that hold the placeholder.

Outside the published book (Jupyter, VS Code) those files are not there: the placeholder
says so and points to the kernel's own explorer.
"""

from __future__ import annotations

import html
import json

from minitransformer.data import NOTES_SOURCE
from minitransformer.viz._style import PLOTLY_FONT_FAMILY, PROBABILITY_COLORSCALE

BROWSER_CLASS = "mt-browser-translator"
FALLBACK = (
    "<p class='mt-bt-fallback'><strong>In-browser translator.</strong> This box becomes a "
    "translator you can type into when the page is read in the published HTML book, in a "
    "browser with JavaScript on: the model runs there, with no Python kernel. Here it has "
    "nothing to run (the book's <code>_static/translator</code> files are only in the "
    "published site); with a kernel, use <code>viz.live_attention_explorer("
    "viz.translator_attention(mt.load_pretrained()), sentence)</code> instead.</p>"
)


class BrowserTranslator:
    """The widget's placeholder; displays as HTML (``_repr_html_``)."""

    def __init__(self, sentence: str, layer: int, head: int | None) -> None:
        self.sentence = sentence
        self.layer = layer
        self.head = head

    def config(self) -> dict:
        """What the widget's JavaScript reads: the preset text and the book's figure style."""
        return {
            "sentence": self.sentence,
            "layer": self.layer,
            "head": self.head,
            "colorscale": PROBABILITY_COLORSCALE,
            "fontFamily": PLOTLY_FONT_FAMILY,
        }

    def _repr_html_(self) -> str:
        data = html.escape(json.dumps(self.config(), ensure_ascii=False), quote=True)
        return f'<div class="{BROWSER_CLASS}" data-config="{data}" lang="en">{FALLBACK}</div>'

    def __repr__(self) -> str:
        return (
            f"BrowserTranslator(sentence={self.sentence!r}, layer={self.layer}, head={self.head})"
        )


def browser_translator(
    sentence: str = NOTES_SOURCE, *, layer: int = -1, head: int | None = None
) -> BrowserTranslator:
    """The in-browser translator widget, preset with ``sentence``.

    layer: the decoder layer whose cross-attention is drawn first (-1 = the last);
    head: the head drawn first, or None for the mean of the heads. The reader can change all
    three on the page.
    """
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
    for name, value in (("layer", layer), ("head", head)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{name} must be an int{' or None' if name == 'head' else ''}, "
                            f"got {type(value).__name__}")  # fmt: skip
    if layer is None:
        raise TypeError("layer must be an int (-1 = the last layer), got None")
    config = _shipped_config()
    N, H = config["num_layers"], config["num_heads"]
    if not -N <= layer < N:
        raise ValueError(f"layer={layer} must be in -{N}..{N - 1} (the translator has {N} layers)")
    if head is not None and not 0 <= head < H:
        raise ValueError(f"head={head} must be in 0..{H - 1} (or None for the mean of the heads)")
    return BrowserTranslator(sentence, layer, head)


def _shipped_config() -> dict:
    """The shipped translator's config, read from its metadata file (no weights loaded)."""
    from minitransformer.pretrained import CHECKPOINT_DIR, METADATA_FILE

    metadata = json.loads((CHECKPOINT_DIR / METADATA_FILE).read_text(encoding="utf-8"))
    return metadata["config"]
