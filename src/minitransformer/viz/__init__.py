"""Figures and widgets for the book. One style, no pyplot global state.

A chapter starts with::

    import minitransformer as mt
    from minitransformer import viz
    viz.setup()          # seed 0, Hangul font, plot defaults, missing glyph = error

- matplotlib (return ``Figure``): :func:`attention_heatmap`, :func:`positional_heatmap`,
  :func:`positional_curves`, :func:`training_curves`.
- plotly, sliders that work in the static HTML (return ``go.Figure``):
  :func:`attention_heatmap_plotly`, :func:`slider_heatmap`, :func:`positional_explorer`.
- ipywidgets, need a kernel (return a widget box that shows a "needs a kernel" note in the
  static HTML): :func:`live_attention_explorer`, :func:`live_positional_explorer`; for your
  own explorer, :func:`live_only` (the box with the note), :func:`live_view` (an HTML view to
  redraw by setting its ``value``) with :func:`heatmap_html`, :func:`bars_html` or
  :func:`curves_svg` (a few milliseconds per redraw), or :func:`show_figure` (a matplotlib
  figure, a few hundred milliseconds).
- the translator running in the reader's browser, no kernel (the published book only):
  :func:`browser_translator`.
- the package's real source on the page: :func:`show_source`, e.g.
  ``viz.show_source(mt.MultiHeadAttention.forward)``.
"""

from minitransformer.viz._style import (
    HANGUL_FONT,
    PLOTLY_FONT_FAMILY,
    figure_png,
    register_hangul_font,
    setup,
)
from minitransformer.viz.browser import BrowserTranslator, browser_translator
from minitransformer.viz.interactive import (
    attention_heatmap_plotly,
    positional_explorer,
    slider_heatmap,
    unique_labels,
)
from minitransformer.viz.live import (
    AttentionView,
    attention_states,
    live_attention_explorer,
    live_note_html,
    live_only,
    live_positional_explorer,
    live_view,
    random_self_attention,
    show_figure,
    transformer_attention,
    translator_attention,
)
from minitransformer.viz.live_html import bars_html, curves_svg, heatmap_html
from minitransformer.viz.source import SourceView, show_source, source_view
from minitransformer.viz.static import (
    as_array,
    attention_heatmap,
    loglog_times,
    positional_curves,
    positional_heatmap,
    training_curves,
)

__all__ = [
    "HANGUL_FONT",
    "PLOTLY_FONT_FAMILY",
    "AttentionView",
    "BrowserTranslator",
    "SourceView",
    "as_array",
    "attention_heatmap",
    "attention_heatmap_plotly",
    "attention_states",
    "bars_html",
    "browser_translator",
    "curves_svg",
    "figure_png",
    "heatmap_html",
    "live_attention_explorer",
    "live_note_html",
    "live_only",
    "live_positional_explorer",
    "live_view",
    "loglog_times",
    "positional_curves",
    "positional_explorer",
    "positional_heatmap",
    "random_self_attention",
    "register_hangul_font",
    "setup",
    "show_figure",
    "show_source",
    "slider_heatmap",
    "source_view",
    "training_curves",
    "transformer_attention",
    "translator_attention",
    "unique_labels",
]
