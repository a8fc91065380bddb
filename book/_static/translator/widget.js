/* The "type your own sentence" widget: mounts on every <div class="mt-browser-translator">
 * that minitransformer.viz.browser_translator() wrote into a page, and runs the translator of
 * translator.js on each edit. Drawn with the plotly.js the book already serves. */
(function () {
  "use strict";

  let counter = 0;

  function element(tag, attributes = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  // viz.unique_labels: plotly merges repeated category labels, so number them ("0:the").
  const uniqueLabels = (tokens) => tokens.map((token, index) => `${index}:${token}`);

  function meanOfHeads(row, H, S) {
    const mean = new Array(S).fill(0);
    for (let h = 0; h < H; h++) for (let s = 0; s < S; s++) mean[s] += row[h * S + s] / H;
    return mean;
  }

  class TranslatorWidget {
    constructor(root) {
      this.root = root;
      this.config = JSON.parse(root.dataset.config || "{}");
      this.id = `mt-bt-${++counter}`;
      this.timings = []; // milliseconds from an edit to the drawn translation and heatmap
      root.mtWidget = this;
      this.build();
    }

    build() {
      const id = this.id;
      this.input = element("input", { type: "text", id: `${id}-text`, lang: "ko",
        autocomplete: "off", spellcheck: "false", "aria-describedby": `${id}-tokens` });
      this.input.value = this.config.sentence || "";
      this.status = element("p", { class: "mt-bt-status", role: "status", "aria-live": "polite",
        text: "Loading the translator…" });
      this.tokens = element("p", { class: "mt-bt-tokens", id: `${id}-tokens` });
      this.translation = element("output", { class: "mt-bt-translation", for: `${id}-text`,
        "aria-live": "polite", lang: "en" });
      this.layer = element("select", { id: `${id}-layer` });
      this.head = element("select", { id: `${id}-head` });
      this.heatmap = element("div", { class: "mt-bt-heatmap", role: "img", id: `${id}-map` });
      this.summary = element("p", { class: "mt-bt-summary", id: `${id}-summary` });
      this.step = element("input", { type: "range", id: `${id}-step`, min: "1", max: "1",
        value: "1", step: "1" });
      this.stepText = element("output", { for: `${id}-step`, class: "mt-bt-step-text" });
      this.topTable = element("table", { class: "mt-bt-top" });
      this.controls = element("div", { class: "mt-bt-controls", hidden: "" }, [
        element("div", { class: "mt-bt-row" }, [
          element("label", { for: `${id}-layer`, text: "Layer " }), this.layer,
          element("label", { for: `${id}-head`, text: "Head " }), this.head,
        ]),
        this.heatmap, this.summary,
        element("div", { class: "mt-bt-row" }, [
          element("label", { for: `${id}-step`, text: "Decoding step " }), this.step,
        ]),
        this.stepText, this.topTable,
      ]);
      this.about = element("p", { class: "mt-bt-about" });
      this.root.replaceChildren(
        element("label", { for: `${id}-text`, class: "mt-bt-label",
          text: "Korean sentence (한국어 문장) — type, and the translation follows every edit" }),
        this.input, this.status, this.tokens,
        element("p", { class: "mt-bt-out" }, [
          element("span", { class: "mt-bt-out-label", text: "English: " }), this.translation]),
        this.controls, this.about,
      );
      this.root.classList.add("mt-bt-mounted");
    }

    async start() {
      if (!window.MiniTransformer) return this.fail("the translator script did not load");
      if (!window.Plotly) return this.fail("plotly.js, which draws the heatmap, did not load");
      try {
        this.model = await window.MiniTransformer.model();
      } catch (error) {
        return this.fail(`the model could not be loaded: ${error.message}`);
      }
      const c = this.model.config;
      for (let n = 0; n < c.num_layers; n++) {
        this.layer.append(element("option", { value: String(n), text: String(n) }));
      }
      this.head.append(element("option", { value: "mean", text: "mean of heads" }));
      for (let h = 0; h < c.num_heads; h++) {
        this.head.append(element("option", { value: String(h), text: String(h) }));
      }
      const layer = this.config.layer ?? -1;
      this.layer.value = String(layer < 0 ? c.num_layers + layer : layer);
      this.head.value = this.config.head == null ? "mean" : String(this.config.head);
      const m = this.model.manifest;
      this.about.textContent =
        `Running in your browser: a JavaScript forward pass (translator.js) over the ` +
        `${m.num_parameters.toLocaleString("en")} float32 parameters of the book's translator ` +
        `(${Math.round(m.weights_bytes / 1024)} KiB, D=${c.d_model}, H=${c.num_heads}, ` +
        `N=${c.num_layers}), exported from minitransformer.load_pretrained(); greedy decoding, ` +
        `as translator.translate(). No server, no Python.`;
      this.input.addEventListener("input", (event) => this.schedule(event.timeStamp));
      this.layer.addEventListener("change", () => this.draw());
      this.head.addEventListener("change", () => this.draw());
      this.step.addEventListener("input", () => this.showStep(true));
      this.controls.hidden = false;
      this.status.textContent = "";
      await this.update(performance.now());
      this.root.dataset.ready = "true";
    }

    fail(reason) {
      this.status.textContent = `The in-browser translator cannot run here: ${reason}. ` +
        "The precomputed figures on this page still work.";
      this.status.classList.add("mt-bt-error");
      this.input.disabled = true;
      this.root.dataset.ready = "failed";
    }

    schedule(since) {
      // translate at once; an edit made while the heatmap is still being drawn is
      // translated right after it (one update for all the edits of that moment)
      if (this.busy) {
        if (this.waiting === undefined) this.waiting = since;
        return;
      }
      this.busy = true;
      this.update(since).finally(() => {
        this.busy = false;
        const next = this.waiting;
        this.waiting = undefined;
        if (next !== undefined) this.schedule(next);
      });
    }

    async update(since) {
      let result;
      try {
        result = this.model.translate(this.input.value);
      } catch (error) {
        this.result = null;
        this.translation.textContent = "";
        this.tokens.textContent = "";
        this.status.textContent = /empty/.test(error.message)
          ? "Type at least one Korean word." : `Cannot translate this: ${error.message}.`;
        this.controls.hidden = true;
        return;
      }
      this.result = result;
      this.status.textContent = "";
      this.controls.hidden = false;
      this.showTokens(result);
      this.translation.textContent = result.text || "(nothing: the first word chosen was <eos>)";
      this.step.max = String(result.steps.length);
      this.step.value = String(result.steps.length);
      await this.draw();
      this.timings.push(performance.now() - since);
      this.root.dataset.updates = String(this.timings.length);
    }

    showTokens(result) {
      const chips = result.words.map((word, i) => {
        const unknown = result.ids[i] === window.MiniTransformer.UNK_ID;
        return element("span", { class: unknown ? "mt-bt-chip mt-bt-unk" : "mt-bt-chip", lang: "ko",
          text: unknown ? `${word} → ${result.tokens[i]}` : result.tokens[i] });
      });
      const parts = [element("span", { text: "The model reads: " })];
      chips.forEach((chip, i) => { if (i) parts.push(" "); parts.push(chip); });
      if (result.unknown.length) {
        parts.push(element("span", { class: "mt-bt-unk-note",
          text: ` — ${result.unknown.length === 1 ? "1 word" : result.unknown.length + " words"} ` +
                `not in its vocabulary, read as <unk>: ${result.unknown.join(", ")}` }));
      }
      this.tokens.replaceChildren(...parts);
    }

    rows() {
      const r = this.result, layer = Number(this.layer.value);
      const H = this.model.config.num_heads, S = r.ids.length;
      return r.steps.map((step) => {
        const row = step.crossAttention[layer];
        if (this.head.value === "mean") return meanOfHeads(row, H, S);
        const h = Number(this.head.value);
        return Array.from(row.subarray(h * S, (h + 1) * S));
      });
    }

    // The cross-attention of every decoding step: row t = the decoder position fed
    // decoderTokens[t] (<sos>, then the words written), which predicts the next word.
    async draw() {
      const r = this.result;
      if (!r) return;
      const vocab = this.model.tgtVocab;
      const fed = r.steps.map((step) => vocab[step.prefix[step.prefix.length - 1]]);
      const z = this.rows();
      const xs = uniqueLabels(r.tokens), ys = uniqueLabels(fed);
      const headText = this.head.value === "mean" ? "mean of heads" : `head ${this.head.value}`;
      const title = `Cross-attention, layer ${this.layer.value}, ${headText}`;
      const narrow = this.heatmap.clientWidth > 0 && this.heatmap.clientWidth < 560; // a phone
      const current = Number(this.step.value) - 1;
      const fontFamily = this.config.fontFamily || "sans-serif";
      const annotate = xs.length <= 12 && ys.length <= 12;
      const data = [{
        type: "heatmap", z, x: xs, y: ys, zmin: 0, zmax: 1,
        colorscale: this.config.colorscale || "Viridis", colorbar: { thickness: 14 },
        hovertemplate: "query %{y}<br>key %{x}<br>%{z:.3f}<extra></extra>",
        texttemplate: annotate ? "%{z:.2f}" : "", textfont: { size: 11 },
      }];
      const layout = {
        title: { text: narrow ? title.replace(", layer", "<br>layer") : title, x: 0, xanchor: "left" },
        height: Math.round(Math.min(Math.max(260 + 28 * ys.length, 360), 760)),
        margin: { l: 70, r: 30, t: 50, b: 40 },
        font: { family: fontFamily, size: 13, color: "#222222" },
        paper_bgcolor: "white", plot_bgcolor: "white",
        xaxis: { title: { text: "key (Korean word)" }, type: "category", automargin: true,
                 tickangle: xs.length > 8 || narrow ? -45 : 0 },
        yaxis: { title: { text: "query (decoder input)" }, type: "category", autorange: "reversed",
                 automargin: true },
        shapes: [{ type: "rect", xref: "paper", x0: 0, x1: 1, yref: "y", y0: current - 0.5,
                   y1: current + 0.5, line: { color: "#ff4d4d", width: 2 } }],
      };
      this.heatmap.setAttribute("aria-label", `${title} for “${this.input.value}”. ` +
        "Rows: decoder inputs; columns: Korean words; brighter = larger weight (0 to 1).");
      this.summary.textContent = "Strongest source word per step: " + z.map((row, t) => {
        let best = 0;
        for (let s = 1; s < row.length; s++) if (row[s] > row[best]) best = s;
        const written = vocab[r.steps[t].token];
        return `${written} ← ${r.tokens[best]} (${row[best].toFixed(2)})`;
      }).join("; ") + ".";
      this.showStep(false); // the heatmap below is redrawn with the highlighted row anyway
      await window.Plotly.react(this.heatmap, data, layout,
        { displayModeBar: false, responsive: true });
    }

    showStep(moveHighlight) {
      const r = this.result;
      if (!r) return;
      const vocab = this.model.tgtVocab;
      const t = Number(this.step.value) - 1, step = r.steps[t];
      const written = step.prefix.map((id) => vocab[id]).join(" ");
      const chosen = vocab[step.token];
      const text = `Step ${step.step} of ${r.steps.length}: the decoder had written “${written}” ` +
        `and chose “${chosen}” (p = ${step.probabilities[step.token].toFixed(3)}).`;
      this.stepText.textContent = text;
      this.step.setAttribute("aria-valuetext", `step ${step.step}: ${chosen}`);
      const top = this.model.topWords(step.probabilities, 5);
      const body = top.map((item) => element("tr", item.id === step.token ? { class: "mt-bt-chosen" } : {}, [
        element("td", { text: item.word, lang: "en" }),
        element("td", { class: "mt-bt-p" }, [item.p.toFixed(3), " ", element("span", {
          class: "mt-bt-bar", "aria-hidden": "true", style: `width: ${(6 * item.p).toFixed(2)}em` })]),
      ]));
      this.topTable.replaceChildren(
        element("caption", { text: `Top 5 next words at step ${step.step}` }),
        element("thead", {}, [element("tr", {}, [
          element("th", { scope: "col", text: "word" }),
          element("th", { scope: "col", text: "probability" })])]),
        element("tbody", {}, body),
      );
      if (moveHighlight && this.heatmap.data) { // move the highlighted row, nothing else
        window.Plotly.relayout(this.heatmap, { "shapes[0].y0": t - 0.5, "shapes[0].y1": t + 0.5 });
      }
    }
  }

  function mountAll() {
    for (const root of document.querySelectorAll(".mt-browser-translator:not(.mt-bt-mounted)")) {
      new TranslatorWidget(root).start();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
