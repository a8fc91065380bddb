/* Live Code: turn a chapter's code cells into cells that run on a Jupyter kernel (Thebe).
 *
 * The launch menu's "Live Code" button calls initThebe(). Thebe itself is served from this site
 * (_static/thebe/, see book/_ext/live_code.py); where it connects comes from the page's
 * <script type="text/x-thebe-config"> (Binder on the published site).
 */
(function () {
  "use strict";

  function button() {
    return document.querySelector(".thebe-launch-button");
  }

  function say(text) {
    const el = button();
    if (el) el.textContent = text;
  }

  function loadThebe() {
    if (window.thebe && window.thebe.bootstrap) return Promise.resolve();
    return new Promise(function (resolve, reject) {
      const css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = THEBE_JS_URL.replace(/index\.js$/, "thebe.css");
      document.head.appendChild(css);
      const script = document.createElement("script");
      script.src = THEBE_JS_URL;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error("could not load " + THEBE_JS_URL)); };
      document.head.appendChild(script);
    });
  }

  // Each code cell: its source <pre> becomes executable and gets exactly one output area.
  // Thebe pairs the n-th executable source with the n-th [data-output] element of the whole
  // page (not of the cell), so a cell without a static output (the setup call) still needs an
  // (empty) output element, or every later cell draws its output under the next cell.
  function markCells() {
    document.querySelectorAll(thebe_selector).forEach(function (cell) {
      const source = cell.querySelector(thebe_selector_input);
      if (!source || source.hasAttribute("data-executable")) return;
      source.setAttribute("data-executable", "true");
      source.setAttribute("data-language", "python");
      let output = cell.querySelector(thebe_selector_output);
      if (!output) {
        output = document.createElement("div");
        output.className = "cell_output docutils container";
        const input = source.closest(".cell_input") || source;
        input.insertAdjacentElement("afterend", output);
      }
      output.setAttribute("data-output", "");
      cell.querySelectorAll("button.copybtn").forEach(function (copy) { copy.remove(); });
    });
  }

  // Thebe's widget manager fetches require.js from a CDN before it renders ipywidgets; the
  // site serves the same file (npm requirejs 2.3.6, pinned in book/_ext/npm-assets.json).
  const REQUIRE_FROM_CDN = /^https:\/\/cdnjs\.cloudflare\.com\/ajax\/libs\/require\.js\//;
  function serveRequireLocally() {
    if (window.fetch.liveCodeLocal) return;
    const fetchFromNetwork = window.fetch.bind(window);
    const local = THEBE_JS_URL.replace(/index\.js$/, "require.js");
    const localFetch = function (input, init) {
      const url = typeof input === "string" ? input : input && input.url;
      return fetchFromNetwork(REQUIRE_FROM_CDN.test(url || "") ? local : input, init);
    };
    localFetch.liveCodeLocal = true;
    window.fetch = localFetch;
  }

  window.initThebe = function () {
    say("Starting Live Code…");
    serveRequireLocally();
    loadThebe()
      .then(function () {
        markCells();
        const page = window.thebe.getPageConfig ? window.thebe.getPageConfig() || {} : {};
        window.thebe.on("status", function (event, data) {
          if (data && data.status) say("Live Code: " + data.status);
        });
        return window.thebe.bootstrap({
          useBinder: page.useBinder !== false,
          requestKernel: true,
          // Thebe's default typesetter loads MathJax 2 from a CDN; with no URL it leaves live
          // LaTeX output as text (the page's own MathJax 3 still typesets the prose).
          mathjaxUrl: "",
        });
      })
      .then(function () { say("Live Code: ready"); })
      .catch(function (error) {
        say("Live Code could not start: " + error.message);
      });
  };
})();
