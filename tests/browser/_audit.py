"""Measure one page at one width: axe-core in both themes, layout, figures, screenshots.

conftest.audit calls :func:`audit_page` once per page and width; test_a11y.py and
test_layout.py assert on what it found. Everything runs in the page (JavaScript), so one load
answers every question.
"""

from __future__ import annotations

import re
from pathlib import Path

from browser._site import SCREENSHOTS, THEMES, source_of

# axe-core as the pip package axe-playwright-python bundles it (no network, no npm).
AXE_JS = Path(__import__("axe_playwright_python").__file__).parent / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")

# Rendered width of the document; the elements that stick out of the viewport, widest first.
OVERFLOW = """() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.right <= width + 1) continue;
        let clipped = false;  // inside a box that scrolls or clips: that box is the one to see
        for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
            const style = getComputedStyle(p);
            if (/(auto|scroll|hidden|clip)/.test(style.overflowX)) { clipped = true; break; }
        }
        if (clipped) continue;
        const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
            (el.className && typeof el.className === 'string'
                ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
        out.push([name, Math.round(box.right)]);
    }
    out.sort((a, b) => b[1] - a[1]);
    return {scrollWidth: document.documentElement.scrollWidth, width: width,
            offenders: out.slice(0, 5)};
}"""

# Text elements of each plotly figure that a reader can see, as quadrilaterals on the screen
# (rotated tick labels stay rotated; the line box trimmed to the glyphs), and every pair that
# overlaps by more than 1.5 px.
PLOTLY_OVERLAPS = """() => {
    const visible = (t, root) => {
        if (!t.textContent.trim() || t.closest('.hoverlayer')) return false;
        for (let n = t; n && n !== root; n = n.parentElement) {
            const s = getComputedStyle(n);
            if (s.display === 'none' || s.visibility === 'hidden' || parseFloat(s.opacity) === 0)
                return false;
        }
        const s = getComputedStyle(t);
        if (parseFloat(s.fillOpacity) === 0 || /rgba\\([^)]*,\\s*0\\)$/.test(s.fill)) return false;
        const box = t.getBoundingClientRect();
        return box.width > 0 && box.height > 0;
    };
    const quad = (t) => {  // the glyphs' box: the line box less 15 % above and below
        const b = t.getBBox(), m = t.getScreenCTM();
        const top = b.y + 0.15 * b.height, bottom = b.y + 0.85 * b.height;
        return [[b.x, top], [b.x + b.width, top], [b.x + b.width, bottom],
                [b.x, bottom]].map(([x, y]) => [m.a * x + m.c * y + m.e,
                                                m.b * x + m.d * y + m.f]);
    };
    const depth = (p, q) => {  // least overlap along the edge normals (separating axes)
        let least = Infinity;
        for (const poly of [p, q]) {
            for (let i = 0; i < 4; i++) {
                const [x1, y1] = poly[i], [x2, y2] = poly[(i + 1) % 4];
                const len = Math.hypot(x2 - x1, y2 - y1) || 1;
                const nx = -(y2 - y1) / len, ny = (x2 - x1) / len;
                const pa = p.map(([x, y]) => x * nx + y * ny);
                const qa = q.map(([x, y]) => x * nx + y * ny);
                const o = Math.min(Math.max(...pa), Math.max(...qa)) -
                          Math.max(Math.min(...pa), Math.min(...qa));
                least = Math.min(least, o);
            }
        }
        return least;
    };
    const role = (t) => {
        const g = t.closest('[class]:not(text)');
        return g ? g.getAttribute('class').split(' ')[0] : '';
    };
    const out = [];
    document.querySelectorAll('.plotly-graph-div').forEach((root, index) => {
        if (!root.offsetParent) return;  // inside a collapsed output
        const texts = Array.from(root.querySelectorAll('svg text')).filter(t => visible(t, root));
        const quads = texts.map(quad);
        for (let i = 0; i < texts.length; i++) {
            for (let j = i + 1; j < texts.length; j++) {
                if (depth(quads[i], quads[j]) > 1.5) {
                    out.push({figure: index, a: texts[i].textContent, b: texts[j].textContent,
                              where: role(texts[i]) + ' / ' + role(texts[j])});
                }
            }
        }
    });
    return out;
}"""

# Every state of every slider, on a model of the figure's data: each step's arguments are
# applied the way plotly applies them (restyle: {attribute: [value per trace]}, trace indices;
# relayout: only which sliders are visible matters here; update: both), without redrawing, and
# each visible trace must still have data. A slider whose steps change which traces or sliders
# are visible (D in the positional explorer) is "structural": for each of its steps, every
# other visible slider is walked too, so a combination that draws nothing shows.
# (test_site.py moves every slider for real and checks that the drawing changes.)
DEAD_STATES = """() => {
    const KEYS = ['visible', 'x', 'y', 'z', 'values', 'text'];
    const hasData = (trace) => {
        for (const key of ['z', 'y', 'values', 'x', 'text']) {
            if (!(key in trace) || trace[key] == null) continue;
            const flat = [trace[key]].flat(3);
            return flat.some(v => v !== null && v !== '' && !(typeof v === 'number' &&
                                                              !isFinite(v)));
        }
        return false;
    };
    const restyle = (state, update, indices) => {
        const targets = indices == null ? state.traces.map((_, i) => i)
                                        : [].concat(indices);
        for (const [key, value] of Object.entries(update || {})) {
            if (!KEYS.includes(key)) continue;
            targets.forEach((trace, n) => {
                state.traces[trace][key] = Array.isArray(value) ? value[n % value.length]
                                                                : value;
            });
        }
    };
    const relayout = (state, update) => {
        for (const [key, value] of Object.entries(update || {})) {
            const match = key.match(/^sliders\\[(\\d+)\\]\\.visible$/);
            if (match) state.sliders[+match[1]] = value !== false;
        }
    };
    const apply = (state, step) => {
        if (step.method === 'restyle') restyle(state, step.args[0], step.args[1]);
        else if (step.method === 'relayout') relayout(state, step.args[0]);
        else if (step.method === 'update') {
            restyle(state, step.args[0], step.args[2]);
            relayout(state, step.args[1]);
        }
    };
    const empty = (state) => state.traces
        .filter(t => t.visible !== false && t.visible !== 'legendonly')
        .filter(t => !hasData(t)).map(t => t.name || t.type);
    const structural = (slider) => slider.steps.some(step => step.method !== 'restyle' ||
        Object.keys(step.args[0] || {}).includes('visible'));
    const out = [];
    document.querySelectorAll('.plotly-graph-div').forEach((gd, index) => {
        const sliders = gd.layout.sliders || [];
        const state = {
            traces: gd.data.map(t => Object.fromEntries(
                [...KEYS, 'name', 'type'].filter(k => k in t).map(k => [k, t[k]]))),
            sliders: sliders.map(s => s.visible !== false),
        };
        const walk = (i, context) => {
            for (const step of sliders[i].steps) {
                const copy = {traces: state.traces.map(t => ({...t})),
                              sliders: [...state.sliders]};
                apply(copy, step);
                const missing = empty(copy);
                if (missing.length) out.push({figure: index, slider: i, step: String(step.label),
                                              with: context, empty: missing});
            }
        };
        sliders.forEach((slider, i) => {
            if (!structural(slider)) {
                if (state.sliders[i]) walk(i, '');
                return;
            }
            const saved = {traces: state.traces.map(t => ({...t})), sliders: [...state.sliders]};
            for (const step of slider.steps) {
                apply(state, step);
                const missing = empty(state);
                if (missing.length) out.push({figure: index, slider: i, step: String(step.label),
                                              with: '', empty: missing});
                sliders.forEach((other, j) => {
                    if (j !== i && state.sliders[j] && !structural(other))
                        walk(j, `slider ${i} at ${step.label}`);
                });
            }
            state.traces = saved.traces;
            state.sliders = saved.sliders;
        });
    });
    return out;
}"""

# Images and plotly figures in the page's content, and whether each says what it shows.
UNDESCRIBED_FIGURES = """() => {
    const out = [];
    const main = document.querySelector('main') || document.body;
    const caption = (el) => {
        const figure = el.closest('figure');
        const text = figure && figure.querySelector('figcaption');
        return text ? text.textContent.trim() : '';
    };
    main.querySelectorAll('img').forEach((img) => {
        const alt = (img.getAttribute('alt') || '').trim();
        const fileName = /\\.(png|jpe?g|svg|gif)$/i.test(alt);
        if ((alt && !fileName) || caption(img) || img.getAttribute('role') === 'presentation')
            return;
        out.push('img ' + (img.getAttribute('src') || '').split('/').pop());
    });
    main.querySelectorAll('.plotly-graph-div').forEach((gd, index) => {
        const label = (gd.getAttribute('aria-label') || '').trim();
        const title = gd.layout && gd.layout.title &&
            (typeof gd.layout.title === 'string' ? gd.layout.title : gd.layout.title.text);
        if (label || (title && title.trim()) || caption(gd)) return;
        out.push('plotly figure ' + index);
    });
    return out;
}"""

# The page's prose: the article without code cells (their inputs and outputs).
PROSE_TEXT = """() => {
    const article = (document.querySelector('article') || document.body).cloneNode(true);
    article.querySelectorAll('div.cell, script, style, .headerlink').forEach(n => n.remove());
    return article.textContent;
}"""

_TAG_NAMES = (
    "a abbr b br code details div em i img kbd li ol p pre s small span strong sub summary sup "
    "table tbody td th thead tr u ul figure figcaption mark q hr dl dt dd center font"
)
HTML_TAGS = set(_TAG_NAMES.split())
ANGLE_TOKEN = re.compile(r"<([A-Za-z][A-Za-z0-9_-]*)>")


def markdown_tokens(source: Path) -> dict[str, int]:
    """How often each ``<token>`` (not an HTML tag) occurs in the prose of a source file."""
    if source.suffix == ".ipynb":
        import nbformat

        notebook = nbformat.read(source, as_version=4)
        text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    else:
        text = source.read_text(encoding="utf-8")
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # fenced code is not prose
    text = re.sub(r"\{[\w:-]+\}`[^`]*<[^`]*>`", "", text)  # a role's target: {ref}`x <y>`
    counts: dict[str, int] = {}
    for match in ANGLE_TOKEN.finditer(text):
        if match.group(1).lower() not in HTML_TAGS:
            counts[match.group(0)] = counts.get(match.group(0), 0) + 1
    return counts


def ready(page) -> None:
    """The page as a reader sees it once it has loaded: its fonts in, MathJax done typesetting,
    and on a page with the in-page translator, the model's files fetched (the one thing a page
    fetches after its load event)."""
    page.evaluate(
        """() => Promise.all([document.fonts.ready,
                              window.MathJax?.startup?.promise]).then(() => true)"""
    )
    if page.locator(".mt-browser-translator").count():
        page.wait_for_load_state("networkidle")


def _settle_plotly(page) -> None:
    """Wait until plotly-narrow.js has laid every figure out for this width."""
    if not page.locator(".plotly-graph-div").count():
        return
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
            .every(gd => !gd.offsetParent || gd.hasAttribute('data-book-layout'))""",
        timeout=10_000,
    )
    page.wait_for_timeout(200)


# Colour contrast of the tokens of code: highlighted code blocks and the API reference's
# signatures (CODE_BLOCKS; every element in them with visible text of its own), against the
# background they are drawn on: the first opaque background among its ancestors, with the
# translucent ones between composited over it. axe-core's color-contrast rule judges the same
# pairs element by element, which costs seconds on a page of code; these blocks are flat (no
# image, no overlap, one background), so the ratio is computed here once per distinct colour
# pair (test_a11y checks that both agree).
CODE_BLOCKS = (".highlight pre", "dt.sig")
CODE_CONTRAST = """(blocks) => {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 1;
    const ctx = canvas.getContext('2d', {willReadFrequently: true});
    const rgba = (css) => {  // any CSS colour -> [r, g, b, a] with a in 0..1
        ctx.clearRect(0, 0, 1, 1);
        ctx.fillStyle = '#000';
        ctx.fillStyle = css;
        ctx.fillRect(0, 0, 1, 1);
        const d = ctx.getImageData(0, 0, 1, 1).data;
        return [d[0], d[1], d[2], d[3] / 255];
    };
    const over = (top, bottom) => top.slice(0, 3).map(
        (c, i) => c * top[3] + bottom[i] * (1 - top[3])).concat([1]);
    const background = (el) => {
        const layers = [];
        for (let n = el; n; n = n.parentElement) {
            const c = rgba(getComputedStyle(n).backgroundColor);
            if (c[3] > 0) layers.push(c);
            if (c[3] >= 1) break;
        }
        let colour = [255, 255, 255, 1];  // the canvas under the page
        for (const layer of layers.reverse()) colour = over(layer, colour);
        return colour;
    };
    const luminance = (c) => {
        const [r, g, b] = c.slice(0, 3).map((v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const pairs = new Map();
    let tokens = 0;
    const selector = blocks.map((b) => b + ', ' + b + ' *').join(', ');
    for (const el of document.querySelectorAll(selector)) {
        const own = Array.from(el.childNodes).some(
            (n) => n.nodeType === 3 && n.textContent.trim());
        if (!own) continue;
        const style = getComputedStyle(el);
        let opacity = 1;
        for (let n = el; n; n = n.parentElement) opacity *= parseFloat(getComputedStyle(n).opacity);
        // as axe: what the reader cannot see (a folded block) is not judged
        if (!el.getClientRects().length || style.visibility !== 'visible' || opacity === 0)
            continue;
        tokens += 1;
        const bg = background(el);
        let fg = rgba(style.color);
        fg = over([fg[0], fg[1], fg[2], fg[3] * opacity], bg);
        const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
        const large = size >= 24 || (bold && size >= 18.66);
        const key = fg.join() + '|' + bg.join() + '|' + large;
        if (!pairs.has(key)) {
            const [a, b] = [luminance(fg), luminance(bg)];
            const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
            pairs.set(key, {ratio, need: large ? 3 : 4.5, fg, bg, nodes: []});
        }
        const pair = pairs.get(key);
        if (pair.nodes.length < 4)
            pair.nodes.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
                            + ' ' + JSON.stringify(el.textContent.slice(0, 20)));
        pair.count = (pair.count || 0) + 1;
    }
    const failing = Array.from(pairs.values()).filter((p) => p.ratio < p.need);
    return {tokens, pairs: pairs.size, failing: failing.map((p) => ({
        ratio: Math.round(p.ratio * 100) / 100, need: p.need, count: p.count,
        fg: p.fg.map(Math.round), bg: p.bg.map(Math.round), nodes: p.nodes}))};
}"""

# How many elements the reader can see: the themes change colours only, and the dark run of
# axe relies on that (test_a11y compares the two counts).
# Two things on a page follow the viewport, which the full-page screenshot of the first theme
# resizes: the in-page table of contents unfolds the section in view (the theme's scrollspy),
# and a plotly figure lays itself out again and may thin out its tick labels. The count leaves
# out the table's nested lists and the inside of each figure's SVG (the figure itself counts).
VISIBLE_ELEMENTS = """() => Array.from(document.querySelectorAll('body *'))
    .filter((el) => el.getClientRects().length > 0 && !el.closest('.section-nav .section-nav')
                    && !el.closest('.plotly-graph-div svg'))
    .length"""

# The rules whose outcome depends on colours; in the dark theme only these run again.
COLOUR_RULES = ("color-contrast", "link-in-text-block")


def _violations(result: dict) -> list[dict]:
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [", ".join(map(str, n["target"])) for n in v["nodes"][:4]],
            "count": len(v["nodes"]),
        }
        for v in result["violations"]
    ]


def code_contrast(page) -> list[dict]:
    """CODE_CONTRAST's failing colour pairs, in the shape of axe's violations."""
    found = page.evaluate(CODE_CONTRAST, list(CODE_BLOCKS))
    return [
        {
            "id": "code-token-contrast",
            "impact": "serious",
            "help": f"code token contrast {f['ratio']} < {f['need']} "
            f"(rgb{tuple(f['fg'][:3])} on rgb{tuple(f['bg'][:3])})",
            "targets": f["nodes"],
            "count": f["count"],
        }
        for f in found["failing"]
    ]


def _axe(page, *, all_rules: bool) -> tuple[int, list[dict]]:
    """axe-core on the page; the tokens of code (CODE_BLOCKS) judged by CODE_CONTRAST instead.

    all_rules: every rule (the experimental ones too: label-content-name-mismatch is one);
    otherwise only COLOUR_RULES (the second theme: nothing but colours has changed).
    """
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    # Two runs, one after the other (axe runs one at a time): colour contrast outside the
    # code, then the other rules on the whole page.
    result = page.evaluate(
        """async ([allRules, colourRules, code]) => {
            const options = (extra) => ({resultTypes: ['violations'], ...extra});
            const contrast = await axe.run({exclude: code.map((c) => [c])},
                                           options({runOnly: colourRules.slice(0, 1)}));
            const rules = Object.fromEntries(axe.getRules(['experimental'])
                .map(r => [r.ruleId, {enabled: true}]));
            rules['color-contrast'] = {enabled: false};
            const rest = await axe.run(document, options(
                allRules ? {rules} : {runOnly: colourRules.slice(1)}));
            const count = (r) => r.passes.length + r.violations.length + r.incomplete.length;
            return {violations: contrast.violations.concat(rest.violations),
                    rules: count(contrast) + count(rest)};
        }""",
        [all_rules, list(COLOUR_RULES), list(CODE_BLOCKS)],
    )
    return result["rules"], _violations(result) + code_contrast(page)


def audit_page(context, site_url: str, page_path: str, width: str, checks=None) -> dict:
    """Everything measured on one load of the page at one width (see the module's docstring).

    checks(page, page_path): more assertions to run on this load, last (at desktop width);
    the AssertionError's message, or None, is ``report["checks"]``.
    """
    context.blocked_requests.clear()
    page = context.new_page()
    errors: list[str] = []
    # The page's own errors; not axe's: it fetches the stylesheets again to read their rules,
    # and resolves pydata-sphinx-theme's @import of basic.css against the page (a 404).
    axe_running = [False]
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda m: m.type == "error" and not axe_running[0] and errors.append(f"console: {m.text}"),
    )
    try:
        response = page.goto(site_url + page_path, wait_until="load")
        assert response is not None and response.ok, (
            f"{page_path}: HTTP {response and response.status}"
        )
        ready(page)
        report: dict = {"errors": errors}
        _settle_plotly(page)
        page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
        report["overflow"] = page.evaluate(OVERFLOW)
        report["overlaps"] = page.evaluate(PLOTLY_OVERLAPS)
        report["axe"] = {}
        name = page_path.replace("/", "__").removesuffix(".html")
        for theme in THEMES:
            page.emulate_media(color_scheme=theme)
            page.wait_for_function(
                "mode => document.documentElement.dataset.theme === mode", arg=theme
            )
            # The theme fades its colours in (CSS transitions): audit the colours it ends at.
            page.wait_for_function(
                "() => document.getAnimations().every(a => a.playState !== 'running')"
            )
            page.wait_for_timeout(100)
            axe_running[0] = True
            rules, report["axe"][theme] = _axe(page, all_rules=theme == THEMES[0])
            axe_running[0] = False
            report.setdefault("axe_rules", rules)
            report.setdefault("visible", {})[theme] = page.evaluate(VISIBLE_ELEMENTS)
            shot = SCREENSHOTS / f"{name}.{width}.{theme}.jpg"
            # JPEG stops at 65,535 px: a very long page (the experiments reference on a phone)
            # is shot down to that height.
            size = page.evaluate("() => [document.documentElement.scrollWidth, "
                                 "document.documentElement.scrollHeight]")  # fmt: skip
            clip = {"x": 0, "y": 0, "width": size[0], "height": min(size[1], 65_000)}
            page.screenshot(path=str(shot), full_page=True, clip=clip, type="jpeg", quality=70)
        if width == "desktop":
            report["undescribed"] = page.evaluate(UNDESCRIBED_FIGURES)
            report["prose"] = page.evaluate(PROSE_TEXT)
            report["dead_states"] = page.evaluate(DEAD_STATES)
        if checks is not None:
            try:
                checks(page, page_path)
                report["checks"] = None
            except AssertionError as error:
                report["checks"] = f"{error}"
        report["blocked"] = list(context.blocked_requests)
        return report
    finally:
        page.close()


def swallowed_tokens(page_path: str, prose: str) -> dict[str, tuple[int, int]]:
    """Tokens like ``<pad>`` that the source's Markdown has more often than the page shows."""
    source = source_of(page_path)
    if source is None:
        return {}
    return {
        token: (count, prose.count(token))
        for token, count in markdown_tokens(source).items()
        if prose.count(token) < count
    }
