/* Plotly figures on a narrow screen (a phone, ~390 px): smaller fonts and margins, fewer ticks,
 * legends above the plot, subplot titles broken over two lines when they collide; at every
 * width, slider step labels hidden when they run into each other (the slider's current value
 * stays, in full), heatmap cell numbers dropped when the cells are too
 * small to hold them (hovering or tapping a cell still shows it). Wide again: the figure gets
 * its own layout back. Figures are relaid out only through Plotly's public API; the script
 * does nothing on pages without plotly. Sliders also work from the keyboard (see below).
 */
(function () {
  "use strict";
  var NARROW = 640; // px of figure width below which a figure is "narrow"
  var SMALL_FONT = 11;

  function copy(value) {
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }

  function axisNames(layout) {
    return Object.keys(layout).filter(function (key) {
      return /^[xy]axis\d*$/.test(key);
    });
  }

  /* The layout keys this script may change, as the figure's author set them. */
  function remember(gd) {
    var layout = gd.layout;
    var saved = {
      font: copy(layout.font),
      margin: copy(layout.margin),
      title: copy(layout.title),
      legend: copy(layout.legend),
      sliders: copy(layout.sliders),
      annotations: copy(layout.annotations),
      axes: {},
      traces: gd.data.map(function (trace) {
        return { texttemplate: copy(trace.texttemplate), colorbar: copy(trace.colorbar) };
      }),
    };
    axisNames(gd._fullLayout).forEach(function (name) {
      saved.axes[name] = copy(layout[name]) || {};
    });
    return saved;
  }

  function narrowUpdate(gd, saved) {
    var full = gd._fullLayout;
    var update = {};
    var base = (saved.font && saved.font.size) || full.font.size || 13;
    update["font.size"] = Math.min(base, SMALL_FONT);
    var margin = full.margin;
    update["margin.l"] = Math.min(margin.l, 48);
    update["margin.r"] = Math.min(margin.r, 12);
    if (full.title && full.title.text) {
      update["title.font.size"] = Math.min((full.title.font && full.title.font.size) || 17, 13);
      update["title.automargin"] = true;
      update["title.yref"] = "container";
      update["title.y"] = 0.995;
      update["title.yanchor"] = "top";
    }
    if (full.showlegend && gd.data.length > 1) {
      // Below everything, at the figure's bottom edge (legendRoom makes the margin for it).
      update["legend.orientation"] = "h";
      update["legend.x"] = 0;
      update["legend.xanchor"] = "left";
      update["legend.yref"] = "container";
      update["legend.y"] = 0;
      update["legend.yanchor"] = "bottom";
      update["legend.font.size"] = 10;
    }
    axisNames(full).forEach(function (name) {
      var axis = full[name];
      update[name + ".automargin"] = true;
      update[name + ".tickfont.size"] = 10;
      update[name + ".title.font.size"] = SMALL_FONT;
      if (axis.type === "linear" || axis.type === "log" || axis.type === "date") {
        update[name + ".nticks"] = 5;
      } else if (axis.type === "category" && name[0] === "x" && axis._categories) {
        // Labels side by side need ~6 px a character at 10 px: stand them up when they do not fit.
        var longest = axis._categories.reduce(function (most, label) {
          return Math.max(most, String(label).length);
        }, 0);
        var room = axis._length || gd.clientWidth;
        if (axis._categories.length * (longest * 6 + 6) > room) update[name + ".tickangle"] = -90;
      }
    });
    (full.annotations || []).forEach(function (note, index) {
      var size = (note.font && note.font.size) || base;
      update["annotations[" + index + "].font.size"] = Math.min(size, SMALL_FONT);
    });
    (full.sliders || []).forEach(function (slider, index) {
      var key = "sliders[" + index + "]";
      update[key + ".font.size"] = 9;
      update[key + ".currentvalue.font.size"] = SMALL_FONT;
    });
    return update;
  }

  /* Heatmap cell numbers need ~6 px per character of "0.00". */
  function traceUpdate(gd) {
    var templates = [];
    var indices = [];
    gd.data.forEach(function (trace, index) {
      if (trace.type !== "heatmap" || !trace.texttemplate) return;
      var columns = trace.x ? trace.x.length : trace.z && trace.z[0] ? trace.z[0].length : 0;
      var axis = gd._fullLayout[(trace.xaxis || "x").replace("x", "xaxis")];
      var cell = axis && columns ? axis._length / columns : Infinity;
      if (cell < 30) {
        templates.push("");
        indices.push(index);
      }
    });
    return { templates: templates, indices: indices };
  }

  /* Slider step labels that run into each other (many steps, or a narrow figure): drawn
   * transparent; the slider's current value above it names the step in full. */
  function thinSliderLabels(gd) {
    var update = {};
    gd.querySelectorAll("g.slider-group").forEach(function (group) {
      var datum = group.__data__;
      if (!datum || datum._index === undefined) return;
      var boxes = Array.prototype.map.call(
        group.querySelectorAll("g.slider-label-group text"),
        function (text) { return text.getBoundingClientRect(); }
      ).filter(function (box) { return box.width > 0; });
      boxes.sort(function (a, b) { return a.left - b.left; });
      for (var i = 1; i < boxes.length; i++) {
        if (boxes[i].left < boxes[i - 1].right + 2) {
          update["sliders[" + datum._index + "].font.color"] = "rgba(0,0,0,0)";
          return;
        }
      }
    });
    return Object.keys(update).length ? window.Plotly.relayout(gd, update) : null;
  }

  /* A legend moved to the bottom edge: the bottom margin grows by its height. */
  function legendRoom(gd) {
    var legend = gd.querySelector("g.legend");
    if (!legend || !gd.__bookNarrow || gd._fullLayout.legend.yref !== "container") return null;
    var height = Math.ceil(legend.getBoundingClientRect().height);
    if (!(height > 0)) return null;
    return window.Plotly.relayout(gd, { "margin.b": gd._fullLayout.margin.b + height + 8 });
  }

  /* Sliders below the plot start under the x axis' tick labels and title (long or stood-up
   * labels push the axis title down; the sliders are placed from the plot's bottom edge). */
  function clearSliders(gd) {
    var lowest = -Infinity;
    gd.querySelectorAll(".xaxislayer-above .xtick text, .g-xtitle text").forEach(function (t) {
      var box = t.getBoundingClientRect();
      if (box.height > 0) lowest = Math.max(lowest, box.bottom);
    });
    var groups = gd.querySelectorAll("g.slider-group");
    if (lowest === -Infinity || !groups.length) return null;
    var top = Infinity;
    groups.forEach(function (group) {
      top = Math.min(top, group.getBoundingClientRect().top);
    });
    var shift = Math.ceil(lowest + 6 - top);
    if (!(shift > 0)) return null;
    var update = { "margin.b": gd._fullLayout.margin.b + shift };
    (gd.layout.sliders || []).forEach(function (slider, index) {
      update["sliders[" + index + "].pad.t"] = ((slider.pad && slider.pad.t) || 0) + shift;
    });
    return window.Plotly.relayout(gd, update);
  }

  /* Subplot titles (annotations) that run into each other: break each at its middle space. */
  function splitCrowded(gd) {
    var notes = Array.prototype.slice.call(gd.querySelectorAll("g.annotation"));
    var boxes = notes.map(function (note) { return note.getBoundingClientRect(); });
    var update = {};
    for (var i = 0; i < notes.length; i++) {
      for (var j = i + 1; j < notes.length; j++) {
        var a = boxes[i];
        var b = boxes[j];
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) {
          [notes[i], notes[j]].forEach(function (note) {
            var index = +note.getAttribute("data-index");
            var text = String((gd.layout.annotations[index] || {}).text || "");
            if (text.indexOf("<br>") >= 0) return;
            var middle = text.length / 2;
            var best = -1;
            for (var k = 0; k < text.length; k++) {
              if (text[k] === " " && (best < 0 || Math.abs(k - middle) < Math.abs(best - middle))) {
                best = k;
              }
            }
            if (best > 0) {
              update["annotations[" + index + "].text"] =
                text.slice(0, best) + "<br>" + text.slice(best + 1);
            }
          });
        }
      }
    }
    return Object.keys(update).length ? window.Plotly.relayout(gd, update) : null;
  }

  function restoreUpdate(gd, saved) {
    var update = {
      font: saved.font || {},
      margin: saved.margin || {},
      title: saved.title || {},
      legend: saved.legend || {},
    };
    // Sliders: only their fonts (their active steps are the reader's, not the author's).
    (saved.sliders || []).forEach(function (slider, index) {
      update["sliders[" + index + "].font"] = slider.font || null;
      update["sliders[" + index + "].pad.t"] = (slider.pad && slider.pad.t) || 0;
      update["sliders[" + index + "].currentvalue.font"] =
        (slider.currentvalue && slider.currentvalue.font) || null;
    });
    if (saved.annotations) update.annotations = saved.annotations;
    Object.keys(saved.axes).forEach(function (name) {
      update[name] = saved.axes[name];
    });
    return update;
  }

  function adapt(gd) {
    if (!gd._fullLayout || !gd.data || gd.__bookBusy) return;
    var narrow = gd.clientWidth > 0 && gd.clientWidth < NARROW;
    if ((gd.__bookNarrow || false) === narrow) {
      if (!gd.hasAttribute("data-book-layout")) {
        gd.__bookBusy = true;
        Promise.resolve(thinSliderLabels(gd))
          .then(function () {
            return clearSliders(gd);
          })
          .then(finish, finish);
      }
      return;
    }
    function finish() {
      gd.__bookBusy = false;
      gd.setAttribute("data-book-layout", narrow ? "narrow" : "wide");
    }
    gd.__bookBusy = true;
    if (!gd.__bookSaved) gd.__bookSaved = remember(gd);
    var saved = gd.__bookSaved;
    var done;
    if (narrow) {
      done = window.Plotly.relayout(gd, narrowUpdate(gd, saved))
        .then(function () {
          var cells = traceUpdate(gd);
          if (cells.indices.length) {
            return window.Plotly.restyle(gd, { texttemplate: cells.templates }, cells.indices);
          }
        })
        .then(function () {
          return legendRoom(gd);
        })
        .then(function () {
          return splitCrowded(gd);
        })
        .then(function () {
          return thinSliderLabels(gd);
        })
        .then(function () {
          return clearSliders(gd);
        });
    } else {
      var indices = [];
      var templates = [];
      saved.traces.forEach(function (trace, index) {
        if (trace.texttemplate !== undefined) {
          indices.push(index);
          templates.push(trace.texttemplate);
        }
      });
      done = window.Plotly.relayout(gd, restoreUpdate(gd, saved))
        .then(function () {
          if (indices.length) {
            return window.Plotly.restyle(gd, { texttemplate: templates }, indices);
          }
        })
        .then(function () {
          return thinSliderLabels(gd);
        })
        .then(function () {
          return clearSliders(gd);
        });
    }
    gd.__bookNarrow = narrow;
    Promise.resolve(done).then(finish, finish);
  }

  /* Keyboard: each plotly slider gets a native range input (visually hidden, announced with the
   * slider's name and the step's label). Tab reaches it; clicking the drawn slider focuses it,
   * so the arrow keys (and Home/End) move the slider from there on. */
  function keyboardSliders(gd) {
    var sliders = (gd.layout && gd.layout.sliders) || [];
    if (!sliders.length || gd.__bookKeys) return;
    var box = document.createElement("div");
    box.className = "book-slider-keys";
    var inputs = sliders.map(function (slider, index) {
      var input = document.createElement("input");
      input.type = "range";
      input.min = "0";
      input.max = String(slider.steps.length - 1);
      input.step = "1";
      var name = ((slider.currentvalue && slider.currentvalue.prefix) || "slider " + (index + 1))
        .replace(/[:\s]+$/, "");
      input.setAttribute("aria-label", name);
      input.addEventListener("input", function () {
        var chosen = +input.value; // read now: redrawing the figure syncs the input
        var step = slider.steps[chosen];
        var method = step && step.method;
        var apply = ["restyle", "relayout", "update"].indexOf(method) >= 0
          ? window.Plotly[method].apply(null, [gd].concat(step.args || []))
          : Promise.resolve();
        input.__bookPending = (input.__bookPending || 0) + 1;
        Promise.resolve(apply)
          .then(function () {
            var active = {};
            active["sliders[" + index + "].active"] = chosen;
            return window.Plotly.relayout(gd, active);
          })
          .then(done, done);
        function done() {
          input.__bookPending -= 1;
          sync();
        }
      });
      box.appendChild(input);
      return input;
    });
    function sync() {
      var current = gd.layout.sliders || [];
      inputs.forEach(function (input, index) {
        var slider = current[index] || {};
        var active = slider.active || 0;
        if (!input.__bookPending && +input.value !== active) input.value = String(active);
        var label = slider.steps && slider.steps[active] ? slider.steps[active].label : "";
        input.setAttribute("aria-valuetext", String(label));
        input.disabled = slider.visible === false;
        input.hidden = slider.visible === false;
      });
    }
    sync();
    gd.on("plotly_afterplot", sync);
    gd.addEventListener("pointerup", function (event) {
      var group = event.target.closest && event.target.closest("g.slider-group");
      var datum = group && group.__data__;
      if (datum && inputs[datum._index]) inputs[datum._index].focus({ preventScroll: true });
    });
    gd.parentNode.insertBefore(box, gd.nextSibling);
    gd.__bookKeys = inputs;
  }

  // A figure with no title of its own is named for screen readers after what its axes show
  // (as viz.figure_png describes a matplotlib figure); its caption in the text says the rest.
  function describe(gd) {
    if (gd.getAttribute("aria-label") || !gd.layout) return;
    var title = gd.layout.title;
    if (title && (typeof title === "string" ? title : title.text)) return;
    var names = axisNames(gd.layout).map(function (name) {
      var axisTitle = gd.layout[name].title;
      var text = axisTitle && (typeof axisTitle === "string" ? axisTitle : axisTitle.text);
      return text ? name.replace("axis", "") + ": " + text.replace(/<[^>]*>/g, " ") : "";
    }).filter(Boolean);
    gd.setAttribute("role", "figure"); // it holds controls (sliders, the modebar): not "img"
    gd.setAttribute("aria-label", "Figure. " + (names.length ? names.join("; ") : "plot"));
  }

  function adaptAll() {
    if (!window.Plotly) return;
    document.querySelectorAll(".plotly-graph-div").forEach(function (gd) {
      describe(gd);
      adapt(gd);
      if (gd.on && gd.layout) keyboardSliders(gd);
    });
  }

  function start() {
    if (!window.Plotly) return;
    adaptAll();
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(adaptAll, 150);
    });
    if (window.ResizeObserver) {
      var observer = new ResizeObserver(function (entries) {
        entries.forEach(function (entry) {
          adapt(entry.target);
        });
      });
      document.querySelectorAll(".plotly-graph-div").forEach(function (gd) {
        observer.observe(gd);
      });
    }
    // Figures drawn after load (plotly's inline scripts run in order, but be safe).
    document.querySelectorAll(".plotly-graph-div").forEach(function (gd) {
      if (gd.on) gd.on("plotly_afterplot", function () { adapt(gd); });
    });
  }

  if (document.readyState === "complete") {
    start();
  } else {
    window.addEventListener("load", start);
  }
})();
