"""The translator in the page: the JavaScript forward pass equals the Python package, and the
widget works in headless Chromium with no network.

The page's model (book/_static/translator/translator.js over the weights the build exported)
is compared with torch on every held-out sentence and on sentences with unknown words and
punctuation: identical translations and tokens, logits within 1e-4, attention weights within
1e-5 (encoder self-attention, and at every decoding step the decoder self-attention and the
cross-attention of the position that predicts the next word).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pytest
import torch

import minitransformer as mt
from minitransformer.data import NOTES_SOURCE, split_particles
from minitransformer.decoding import inference_mode
from minitransformer.tokens import EOS_ID, SOS_ID

pytestmark = pytest.mark.browser

PAGE = "book/sliders.html"
LOGIT_TOLERANCE = 1e-4
ATTENTION_TOLERANCE = 1e-5
# Console errors that are not ours (as in test_site.py).
ALLOWED_CONSOLE_ERRORS = (r"Identifier 'THEBE_JS_URL' has already been declared",)

# Unknown words, Unicode punctuation (P*), symbols that are not punctuation (S*: "~", "+"),
# odd whitespace, decomposed Hangul (NFD), a typed special token, one word, only unknowns.
EDGE_SENTENCES = [
    "어제 카페 갔었어, 거기 사람 많더라!",
    "어제… 카페 「갔었어」 거기 사람 많더라?",
    "어제 커피숍 갔었어 거기 사람 많더라",
    "  어제   카페\t갔었어\n거기\u3000사람 많더라  ",
    unicodedata.normalize("NFD", NOTES_SOURCE),
    '어제 카페-갔었어 (거기) 사람 "많더라"',
    "어제 카페 ~ 갔었어 + 거기",
    "안녕하세요 반가워요",
    "<pad> 카페",
    "카페",
    "사람 사람 사람 사람 사람 사람 사람 사람 사람 사람 사람 사람",
    "어제 공원에서 민수가 지수를 만났어 걔 피곤하더라",  # particles typed onto the nouns
    "어제 우주에서 형이 고양이를 봤어",  # an unknown noun keeps its particle
]

JS_TRACE = """async (sentences) => {
    const model = await window.MiniTransformer.model();
    const list = (array) => Array.from(array);
    return sentences.map((text) => {
        try {
            const r = model.translate(text);
            return {
                text: r.text, words: r.words, tokens: r.tokens, unknown: r.unknown,
                ids: r.ids, output: r.outputIds, encoder: r.encoderAttention.map(list),
                steps: r.steps.map((s) => ({ token: s.token, logits: list(s.logits),
                    self: s.selfAttention.map(list), cross: s.crossAttention.map(list) })),
            };
        } catch (error) {
            return { error: error.message };
        }
    });
}"""


def python_words(text: str, translator: mt.Translator) -> list[str]:
    """The Python translator's reading of ``text`` (NFC, punctuation -> space, whitespace,
    particles typed onto a known noun split off)."""
    return split_particles(mt.normalize_text(text), translator.src_vocab.stoi)


def python_trace(translator: mt.Translator, words: list[str], chosen: list[int]) -> dict:
    """What the JavaScript records, from torch: one teacher-forced pass over ``<sos>`` and the
    words ``chosen`` at every step but the last. Row t of a causal decoder's pass is what
    greedy step t + 1 computes (later words cannot change it): its logits, and the last query
    row of each decoder map at that step."""
    model = translator.model
    ids = translator.src_vocab.encode(words)
    decoder_input = [SOS_ID, *chosen[:-1]]
    with inference_mode(model):
        out = model(torch.tensor([ids]), torch.tensor([decoder_input]), return_attention=True)
    maps = out.attention
    steps = [
        {
            "logits": out.logits[0, t].numpy(),
            "self": [m[0, :, t, : t + 1].numpy() for m in maps.decoder_self],
            "cross": [m[0, :, t, :].numpy() for m in maps.cross],
        }
        for t in range(len(decoder_input))
    ]
    return {"ids": ids, "encoder": [m[0].numpy() for m in maps.encoder], "steps": steps}


def _unexpected(errors: list[str]) -> list[str]:
    return [e for e in errors if not any(re.search(p, e) for p in ALLOWED_CONSOLE_ERRORS)]


def _open(probe, site_url: str):
    page = probe.page
    response = page.goto(site_url + PAGE, wait_until="load")
    assert response is not None and response.ok
    widget = page.locator(".mt-browser-translator")
    assert widget.count() == 1, f"{PAGE} should hold one in-browser translator"
    page.wait_for_selector(".mt-browser-translator[data-ready]", timeout=20_000)
    assert widget.get_attribute("data-ready") == "true", widget.inner_text()
    return page, widget


def compare(js: dict, py: dict, translator: mt.Translator, text: str) -> tuple[float, float]:
    """Assert one sentence agrees; returns the largest logit and attention differences."""
    words = python_words(text, translator)
    assert js["words"] == words, text
    assert js["ids"] == py["ids"], text
    assert js["tokens"] == translator.src_vocab.tokens(py["ids"], strip=False), text
    result = translator.translate_result(text)  # Python's own normalisation, from the raw text
    assert js["words"] == result.source_words, text
    assert js["unknown"] == result.unknown == translator.unknown_words(words), text
    if result.all_unknown:  # Python says so with a warning (the page shows the unknown words)
        with pytest.warns(mt.UnknownWordsWarning, match="none of the words"):
            assert js["text"] == result.text == translator.translate(text), text
    else:
        assert js["text"] == result.text == translator.translate(text), text
    # greedy: each step's word is the argmax of torch's logits, <eos> last (or the length limit)
    tokens = [s["token"] for s in js["steps"]]
    assert tokens == [int(np.argmax(s["logits"])) for s in py["steps"]], text
    assert js["output"] == (tokens[:-1] if tokens[-1] == EOS_ID else tokens), text
    worst_logit = worst_attention = 0.0
    for ours, theirs in zip(js["encoder"], py["encoder"], strict=True):
        worst_attention = max(worst_attention, np.abs(np.array(ours) - theirs.ravel()).max())
    for js_step, py_step in zip(js["steps"], py["steps"], strict=True):
        difference = np.abs(np.array(js_step["logits"]) - py_step["logits"]).max()
        worst_logit = max(worst_logit, difference)
        for kind in ("self", "cross"):
            for ours, theirs in zip(js_step[kind], py_step[kind], strict=True):
                difference = np.abs(np.array(ours) - theirs.ravel()).max()
                worst_attention = max(worst_attention, difference)
    assert worst_logit <= LOGIT_TOLERANCE, f"{text}: logits differ by {worst_logit:.2e}"
    assert worst_attention <= ATTENTION_TOLERANCE, f"{text}: attention: {worst_attention:.2e}"
    return worst_logit, worst_attention


def test_page_model_equals_python_on_held_out_and_edge_sentences(probe, site_url, translator):
    page, _ = _open(probe, site_url)
    recipe = translator.metadata["recipe"]
    corpus = mt.pretrained.recipe_corpus(recipe)
    held_out = [pair.source_text for pair in corpus.held_out]
    assert len(held_out) == recipe["num_held_out"] == 500
    sentences = held_out + EDGE_SENTENCES
    worst = [0.0, 0.0]
    same = 0
    for start in range(0, len(sentences), 50):
        batch = sentences[start : start + 50]
        results = page.evaluate(JS_TRACE, batch)
        for text, js in zip(batch, results, strict=True):
            assert "error" not in js, f"{text}: {js.get('error')}"
            chosen = [s["token"] for s in js["steps"]]
            py = python_trace(translator, python_words(text, translator), chosen)
            for k, value in enumerate(compare(js, py, translator, text)):
                worst[k] = max(worst[k], value)
            same += text in held_out  # compare() asserted js["text"] == translator.translate
    assert same == len(held_out)  # 500/500 held-out translations equal the Python ones
    print(f"\nworst logit difference {worst[0]:.2e}, worst attention difference {worst[1]:.2e}")
    assert not _unexpected(probe.errors), probe.errors
    assert not probe.blocked, probe.blocked


def test_page_model_refuses_what_python_refuses(probe, site_url, translator):
    page, _ = _open(probe, site_url)
    too_long = " ".join(["카페"] * (translator.config.max_len + 6))
    for text in ("", "?! …", too_long):
        (js,) = page.evaluate(JS_TRACE, [text])
        with pytest.raises(ValueError) as python_error:
            translator.translate(python_words(text, translator))
        assert "error" in js, text
        if "empty" in str(python_error.value):
            assert "empty" in js["error"]
        else:
            assert f"max_len={translator.config.max_len}" in js["error"]
            assert f"max_len={translator.config.max_len}" in str(python_error.value)


def _heatmap_rows(page) -> list[list[float]]:
    return page.evaluate("() => document.querySelector('.mt-bt-heatmap').data[0].z")


def test_widget_shows_the_python_translation_and_attention(probe, site_url, translator):
    page, widget = _open(probe, site_url)
    box = page.get_by_label("Korean sentence")
    assert box.input_value() == NOTES_SOURCE
    expected = translator.translate(NOTES_SOURCE)
    assert widget.locator(".mt-bt-translation").inner_text() == expected
    # the heatmap: last layer, mean of heads, one row per step, fixed 0-1 Viridis, Hangul keys
    attention = translator.attention(NOTES_SOURCE)  # the Python figures' maps
    rows = np.array(_heatmap_rows(page))
    python_rows = attention.cross[-1].mean(dim=0).numpy()  # last layer, mean of heads
    assert rows.shape == python_rows.shape == (len(expected.split()) + 1, 6)
    np.testing.assert_allclose(rows, python_rows, atol=ATTENTION_TOLERANCE)
    figure = page.evaluate(
        """() => { const el = document.querySelector('.mt-bt-heatmap');
                   const t = el.data[0];
                   return { x: t.x, y: t.y, zmin: t.zmin, zmax: t.zmax,
                            scale: el._fullData[0].colorscale,
                            drawn: el.querySelectorAll('.main-svg').length > 0 }; }"""
    )
    assert figure["drawn"] and (figure["zmin"], figure["zmax"]) == (0, 1)
    assert figure["x"] == [f"{i}:{w}" for i, w in enumerate(NOTES_SOURCE.split())]
    assert figure["y"] == [f"{i}:{w}" for i, w in enumerate(attention.decoder_tokens)]
    assert figure["scale"][0][1].lower() in ("#440154", "rgb(68,1,84)")  # Viridis starts there
    assert "Strongest source word per step" in widget.locator(".mt-bt-summary").inner_text()
    assert not _unexpected(probe.errors), probe.errors
    assert not probe.blocked, probe.blocked


def test_widget_follows_every_edit_and_names_unknown_words(probe, site_url, translator):
    page, widget = _open(probe, site_url)
    box = page.get_by_label("Korean sentence")
    box.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("어제 커피숍 갔었어!")
    text = "어제 커피숍 갔었어!"
    words = python_words(text, translator)
    expected = translator.translate(words)
    page.wait_for_function(
        "(t) => document.querySelector('.mt-bt-translation').textContent === t", arg=expected
    )
    assert int(widget.get_attribute("data-updates")) >= 2  # the preset, then the edits
    tokens = widget.locator(".mt-bt-tokens").inner_text()
    assert "커피숍 → <unk>" in tokens and "read as <unk>: 커피숍" in tokens
    assert "!" not in tokens  # punctuation is not a word
    assert len(_heatmap_rows(page)[0]) == len(words)
    assert not _unexpected(probe.errors), probe.errors


def test_widget_is_keyboard_operable_and_labelled(probe, site_url, translator):
    page, widget = _open(probe, site_url)
    trace = translator.trace(NOTES_SOURCE)
    step = page.get_by_label("Decoding step")
    assert step.get_attribute("max") == str(len(trace))
    step.focus()
    page.keyboard.press("Home")
    text = widget.locator(".mt-bt-step-text").inner_text()
    assert text.startswith(f"Step 1 of {len(trace)}: the decoder had written “<sos>”")
    # the top-5 table of step 1 is the Python trace's
    cells = widget.locator("table.mt-bt-top tbody tr td:first-child").all_inner_texts()
    assert cells == [word for word, _ in translator.top_words(trace[0].probabilities, 5)]
    page.keyboard.press("ArrowRight")
    assert widget.locator(".mt-bt-step-text").inner_text().startswith("Step 2 of")
    assert "step 2" in step.get_attribute("aria-valuetext")
    # layer and head menus by keyboard: the heatmap title follows
    head = page.get_by_label("Head", exact=True)
    head.focus()
    page.keyboard.press("ArrowDown")  # mean of heads -> head 0
    page.wait_for_timeout(200)
    assert head.input_value() == "0"
    title = page.evaluate("() => document.querySelector('.mt-bt-heatmap').layout.title.text")
    assert title.startswith("Cross-attention, layer 1, head 0")
    layer = page.get_by_label("Layer", exact=True)
    layer.focus()
    page.keyboard.press("ArrowUp")
    page.wait_for_timeout(200)
    assert layer.input_value() == "0"
    assert "layer 0" in widget.locator(".mt-bt-heatmap").get_attribute("aria-label")
    # every control has an accessible name; the live regions are marked
    for control in widget.locator("input, select").all():
        assert control.evaluate("(el) => el.labels && el.labels.length > 0"), control
    assert widget.locator("[role=status][aria-live=polite]").count() == 1
    assert not _unexpected(probe.errors), probe.errors


def test_widget_says_so_when_the_model_cannot_load(probe, site_url):
    page = probe.page
    page.route("**/translator/translator.bin", lambda route: route.abort())
    page.goto(site_url + PAGE, wait_until="load")
    page.wait_for_selector(".mt-browser-translator[data-ready]", timeout=20_000)
    widget = page.locator(".mt-browser-translator")
    assert widget.get_attribute("data-ready") == "failed"
    status = widget.locator(".mt-bt-status").inner_text()
    assert "cannot run here" in status and "model weights" in status
    assert "precomputed figures on this page still work" in status
    assert page.get_by_label("Korean sentence").is_disabled()
