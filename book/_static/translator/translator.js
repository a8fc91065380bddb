/* The book's Korean -> English translator, run in the reader's browser.
 *
 * A plain-JavaScript forward pass over the float32 weights that the book's build exports
 * from minitransformer.load_pretrained() (src/minitransformer/export.py): translator.json
 * (config, tensor names and shapes, both vocabularies) and translator.bin (the numbers).
 * Each function below mirrors one piece of the Python package:
 *
 *   normalizeText, tokenize   minitransformer.tokens (normalize_text, Vocab.encode_checked)
 *   splitParticles            minitransformer.data.split_particles
 *   linear, layerNorm         torch.nn.Linear, torch.nn.LayerNorm
 *   attention                 attention.scaled_dot_product_attention (masks: true = may attend)
 *   multiHeadAttention        attention.MultiHeadAttention
 *   residual                  layers.ResidualLayerNorm (post-LN or pre-LN, from the config)
 *   encode / decodeStep       model.Transformer.encode / decode (+ Encoder, Decoder), the
 *                             decoder one position at a time (keys and values kept)
 *   translate                 decoding.greedy_decode + trace_greedy (every step recorded)
 *
 * Arithmetic is done in float64 on float32 weights; tests/browser/test_translator_widget.py
 * checks the results against torch (logits within 1e-4, attention within 1e-5).
 */
(function () {
  "use strict";

  const SCRIPT_URL = document.currentScript ? document.currentScript.src : window.location.href;
  const BASE_URL = new URL(".", SCRIPT_URL).href;
  const PAD_ID = 0, SOS_ID = 1, EOS_ID = 2, UNK_ID = 3;

  // --- text -> words (the contract of minitransformer.tokens.normalize_text) --------------
  // Python's str.split() splits on the characters for which str.isspace() is true.
  const WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
  const PUNCTUATION = /\p{P}/gu; // every character whose Unicode general category starts with P

  function normalizeText(text) {
    return String(text).normalize("NFC").replace(PUNCTUATION, " ");
  }

  function splitWords(text) {
    return normalizeText(text).split(WHITESPACE).filter((word) => word.length > 0);
  }

  // data.split_particles: a word the vocabulary lacks, made of a known noun and one of the
  // particles (tried in the manifest's order), becomes the two words (민수가 -> 민수 가).
  function splitParticles(words, known, particles) {
    const out = [];
    for (const word of words) {
      let split = null;
      if (!known.has(word)) {
        for (const ending of particles) {
          const stem = word.slice(0, word.length - ending.length);
          if (word.endsWith(ending) && known.has(stem) && known.has(ending)) {
            split = [stem, ending];
            break;
          }
        }
      }
      if (split) out.push(...split);
      else out.push(word);
    }
    return out;
  }

  // --- small dense algebra: row-major Float64Array activations, Float32Array weights -------
  // x: (T, inDim), weight: (outDim, inDim) as in torch, bias: (outDim) or null -> (T, outDim)
  function linear(x, T, weight, bias, outDim, inDim) {
    const y = new Float64Array(T * outDim);
    for (let t = 0; t < T; t++) {
      const xo = t * inDim;
      for (let o = 0; o < outDim; o++) {
        const wo = o * inDim;
        let sum = bias ? bias[o] : 0;
        for (let i = 0; i < inDim; i++) sum += x[xo + i] * weight[wo + i];
        y[t * outDim + o] = sum;
      }
    }
    return y;
  }

  function layerNorm(x, T, D, norm, eps) {
    const y = new Float64Array(T * D);
    for (let t = 0; t < T; t++) {
      let mean = 0;
      for (let d = 0; d < D; d++) mean += x[t * D + d];
      mean /= D;
      let variance = 0; // biased, as torch.nn.LayerNorm
      for (let d = 0; d < D; d++) variance += (x[t * D + d] - mean) ** 2;
      variance /= D;
      const scale = 1 / Math.sqrt(variance + eps);
      for (let d = 0; d < D; d++) {
        y[t * D + d] = (x[t * D + d] - mean) * scale * norm.weight[d] + norm.bias[d];
      }
    }
    return y;
  }

  function add(a, b) {
    const y = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
    return y;
  }

  // softmax(Q K^T / sqrt(Dh)) V for every head. q: (T, D), k, v: (S, D), head h owns the
  // columns h*Dh .. (h+1)*Dh. allowed(t, s): true = query t may attend to key s. A row that
  // may see no key gets all-zero weights (as the package). Returns heads (T, D) and weights
  // (H, T, S).
  function attention(q, k, v, T, S, H, Dh, allowed) {
    const D = H * Dh;
    const heads = new Float64Array(T * D);
    const weights = new Float64Array(H * T * S);
    const scores = new Float64Array(S);
    const root = Math.sqrt(Dh);
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        let max = -Infinity;
        for (let s = 0; s < S; s++) {
          if (!allowed(t, s)) { scores[s] = -Infinity; continue; }
          let dot = 0;
          for (let i = 0; i < Dh; i++) dot += q[t * D + h * Dh + i] * k[s * D + h * Dh + i];
          scores[s] = dot / root;
          if (scores[s] > max) max = scores[s];
        }
        const row = (h * T + t) * S;
        if (max === -Infinity) continue; // no key allowed: weights stay 0, output stays 0
        let total = 0;
        for (let s = 0; s < S; s++) {
          const e = scores[s] === -Infinity ? 0 : Math.exp(scores[s] - max);
          weights[row + s] = e;
          total += e;
        }
        for (let s = 0; s < S; s++) weights[row + s] /= total;
        for (let i = 0; i < Dh; i++) {
          let sum = 0;
          for (let s = 0; s < S; s++) sum += weights[row + s] * v[s * D + h * Dh + i];
          heads[t * D + h * Dh + i] = sum;
        }
      }
    }
    return { heads, weights };
  }

  class Model {
    constructor(manifest, buffer) {
      this.manifest = manifest;
      this.config = manifest.config;
      this.srcVocab = manifest.src_vocab;
      this.tgtVocab = manifest.tgt_vocab;
      this.srcIndex = new Map(this.srcVocab.map((word, id) => [word, id]));
      this.particles = manifest.particles || [];
      const all = new Float32Array(buffer);
      this.tensors = new Map();
      for (const entry of manifest.tensors) {
        if (entry.same_as) { this.tensors.set(entry.name, this.tensors.get(entry.same_as)); continue; }
        this.tensors.set(entry.name, all.subarray(entry.offset, entry.offset + entry.length));
      }
    }

    tensor(name, optional = false) {
      const value = this.tensors.get(name);
      if (value === undefined && !optional) throw new Error(`the model file has no tensor ${name}`);
      return value || null;
    }

    linearOf(prefix) {
      return { weight: this.tensor(`${prefix}.weight`), bias: this.tensor(`${prefix}.bias`, true) };
    }

    normOf(prefix) {
      return { weight: this.tensor(`${prefix}.weight`), bias: this.tensor(`${prefix}.bias`) };
    }

    // Vocab.encode_checked: every word's id, <unk> (3) for a word the vocabulary lacks.
    tokenize(text) {
      const words = splitParticles(splitWords(text), this.srcIndex, this.particles);
      const ids = words.map((word) => (this.srcIndex.has(word) ? this.srcIndex.get(word) : UNK_ID));
      return {
        words,
        ids,
        tokens: ids.map((id) => this.srcVocab[id]),
        unknown: words.filter((word) => !this.srcIndex.has(word)),
      };
    }

    // embedding * sqrt(D) + positional table[start : start + T] (positional.PositionalEncoding,
    // LearnedPositionalEmbedding)
    embed(ids, side, start = 0) {
      const D = this.config.d_model;
      const table = this.tensor(`${side}_embedding.weight`);
      const positions = this.tensor(`${side}_positions.table`);
      const x = new Float64Array(ids.length * D);
      const scale = Math.sqrt(D);
      for (let t = 0; t < ids.length; t++) {
        for (let d = 0; d < D; d++) {
          x[t * D + d] = table[ids[t] * D + d] * scale + positions[(start + t) * D + d];
        }
      }
      return x;
    }

    // MultiHeadAttention: Q = query W^Q, K = key W^K, V = value W^V, heads, then W^O.
    multiHeadAttention(prefix, query, T, memory, S, allowed) {
      const D = this.config.d_model, H = this.config.num_heads, Dh = D / H;
      const wq = this.linearOf(`${prefix}.w_q`), wk = this.linearOf(`${prefix}.w_k`);
      const wv = this.linearOf(`${prefix}.w_v`), wo = this.linearOf(`${prefix}.w_o`);
      const q = linear(query, T, wq.weight, wq.bias, D, D);
      const k = linear(memory, S, wk.weight, wk.bias, D, D);
      const v = linear(memory, S, wv.weight, wv.bias, D, D);
      const { heads, weights } = attention(q, k, v, T, S, H, Dh, allowed);
      return { out: linear(heads, T, wo.weight, wo.bias, D, D), weights };
    }

    // FeedForward: relu(x W1 + b1) W2 + b2
    feedForward(prefix, x, T) {
      const D = this.config.d_model, F = this.config.d_ff;
      const l1 = this.linearOf(`${prefix}.linear1`), l2 = this.linearOf(`${prefix}.linear2`);
      const hidden = linear(x, T, l1.weight, l1.bias, F, D);
      for (let i = 0; i < hidden.length; i++) if (hidden[i] < 0) hidden[i] = 0;
      return linear(hidden, T, l2.weight, l2.bias, D, F);
    }

    // ResidualLayerNorm: post-LN LayerNorm(x + sublayer(x)), pre-LN x + sublayer(LayerNorm(x))
    residual(normPrefix, x, T, sublayer) {
      const D = this.config.d_model, eps = this.config.layer_norm_eps;
      const norm = this.normOf(`${normPrefix}.norm`);
      if (this.config.norm_first) {
        const result = sublayer(layerNorm(x, T, D, norm, eps));
        return { x: add(x, result.out), weights: result.weights };
      }
      const result = sublayer(x);
      return { x: layerNorm(add(x, result.out), T, D, norm, eps), weights: result.weights };
    }

    finalNorm(prefix, x, T) {
      if (!this.config.norm_first) return x; // post-LN layers already end normalised
      return layerNorm(x, T, this.config.d_model, this.normOf(`${prefix}.final_norm`),
                       this.config.layer_norm_eps);
    }

    checkIds(name, ids, vocabSize) {
      if (ids.length === 0) throw new Error("cannot translate an empty sentence");
      if (ids.length > this.config.max_len) {
        throw new Error(`${name} has length ${ids.length}, longer than max_len=${this.config.max_len}`);
      }
      for (const id of ids) {
        if (!(id >= 0 && id < vocabSize)) throw new Error(`${name} holds id ${id} outside the vocabulary`);
      }
    }

    // Transformer.encode: source ids (S) -> memory (S, D) and N encoder maps (H, S, S).
    encode(sourceIds) {
      this.checkIds("source_ids", sourceIds, this.config.src_vocab_size);
      const S = sourceIds.length;
      const real = sourceIds.map((id) => id !== this.config.pad_id); // padding mask
      const allowed = (t, s) => real[s];
      let x = this.embed(sourceIds, "source");
      const maps = [];
      for (let n = 0; n < this.config.num_layers; n++) {
        const layer = `encoder.layers.${n}`;
        const a = this.residual(`${layer}.attention_block`, x, S,
          (h) => this.multiHeadAttention(`${layer}.self_attention`, h, S, h, S, allowed));
        maps.push(a.weights);
        x = this.residual(`${layer}.feed_forward_block`, a.x, S,
          (h) => ({ out: this.feedForward(`${layer}.feed_forward`, h, S), weights: null })).x;
      }
      return { memory: this.finalNorm("encoder", x, S), S, real, attention: maps };
    }

    // The decoder, one position at a time. The package re-reads the whole prefix at every
    // step (Transformer.decode); here each step computes only the newest position and keeps
    // the keys and values of the earlier ones (a key/value cache). The result is the same:
    // the masked self-attention of position t reads positions <= t only, so appending a word
    // changes nothing before it, and every other sublayer acts on each position separately.
    startDecoding(encoded) {
      const D = this.config.d_model, L = this.config.max_len, S = encoded.S;
      const layers = [];
      for (let n = 0; n < this.config.num_layers; n++) {
        const cross = `decoder.layers.${n}.cross_attention`;
        const wk = this.linearOf(`${cross}.w_k`), wv = this.linearOf(`${cross}.w_v`);
        layers.push({
          selfKeys: new Float64Array(L * D), selfValues: new Float64Array(L * D),
          crossKeys: linear(encoded.memory, S, wk.weight, wk.bias, D, D), // K = memory W^K
          crossValues: linear(encoded.memory, S, wv.weight, wv.bias, D, D), // V = memory W^V
        });
      }
      return { encoded, layers, ids: [] };
    }

    // Feed the next decoder input (token id) -> the logits (V) of the word after it, and its
    // row of every decoder self-attention map (H, T) and cross-attention map (H, S).
    decodeStep(state, token) {
      const D = this.config.d_model, H = this.config.num_heads, Dh = D / H;
      const S = state.encoded.S;
      const t = state.ids.length; // this position
      state.ids.push(token);
      this.checkIds("target_ids", state.ids, this.config.tgt_vocab_size);
      const real = state.ids.map((id) => id !== this.config.pad_id);
      const selfAllowed = (_, s) => real[s]; // look-ahead (only s <= t is cached) AND padding
      const crossAllowed = (_, s) => state.encoded.real[s];
      let x = this.embed([token], "target", t);
      const selfRows = [], crossRows = [];
      for (let n = 0; n < this.config.num_layers; n++) {
        const layer = `decoder.layers.${n}`, cache = state.layers[n];
        const a = this.residual(`${layer}.self_attention_block`, x, 1, (h) => {
          const p = `${layer}.self_attention`;
          const wq = this.linearOf(`${p}.w_q`), wk = this.linearOf(`${p}.w_k`);
          const wv = this.linearOf(`${p}.w_v`), wo = this.linearOf(`${p}.w_o`);
          cache.selfKeys.set(linear(h, 1, wk.weight, wk.bias, D, D), t * D);
          cache.selfValues.set(linear(h, 1, wv.weight, wv.bias, D, D), t * D);
          const q = linear(h, 1, wq.weight, wq.bias, D, D);
          const { heads, weights } = attention(q, cache.selfKeys, cache.selfValues, 1, t + 1, H, Dh,
                                               selfAllowed);
          return { out: linear(heads, 1, wo.weight, wo.bias, D, D), weights };
        });
        const c = this.residual(`${layer}.cross_attention_block`, a.x, 1, (h) => {
          const p = `${layer}.cross_attention`;
          const wq = this.linearOf(`${p}.w_q`), wo = this.linearOf(`${p}.w_o`);
          const q = linear(h, 1, wq.weight, wq.bias, D, D);
          const { heads, weights } = attention(q, cache.crossKeys, cache.crossValues, 1, S, H, Dh,
                                               crossAllowed);
          return { out: linear(heads, 1, wo.weight, wo.bias, D, D), weights };
        });
        x = this.residual(`${layer}.feed_forward_block`, c.x, 1,
          (h) => ({ out: this.feedForward(`${layer}.feed_forward`, h, 1), weights: null })).x;
        selfRows.push(a.weights); // (H, 1, t + 1)
        crossRows.push(c.weights); // (H, 1, S)
      }
      x = this.finalNorm("decoder", x, 1);
      const out = this.linearOf("output_projection");
      const logits = linear(x, 1, out.weight, out.bias, this.config.tgt_vocab_size, D);
      return { logits, selfAttention: selfRows, crossAttention: crossRows };
    }

    // decoding.default_max_len: 2 S + 10 words at most, within the positional table
    maxSteps(S) {
      return Math.max(Math.min(2 * S + 10, this.config.max_len - 1), 1);
    }

    // Greedy decoding, every step recorded (decoding.trace_greedy): the step that writes
    // <eos> is the last record. Returns the tokenisation, the translation and the steps.
    translate(text) {
      const source = this.tokenize(text);
      const encoded = this.encode(source.ids);
      const steps = [];
      const prefix = [SOS_ID];
      const limit = this.maxSteps(source.ids.length);
      const state = this.startDecoding(encoded);
      for (let step = 1; step <= limit; step++) {
        const out = this.decodeStep(state, prefix[prefix.length - 1]);
        let token = 0;
        for (let v = 1; v < out.logits.length; v++) if (out.logits[v] > out.logits[token]) token = v;
        steps.push({ step, prefix: prefix.slice(), token, logits: out.logits,
                     probabilities: softmax(out.logits), selfAttention: out.selfAttention,
                     crossAttention: out.crossAttention });
        if (token === EOS_ID) break;
        prefix.push(token);
      }
      const output = steps.map((s) => s.token).filter((id) => id !== EOS_ID);
      return {
        ...source,
        encoderAttention: encoded.attention,
        steps,
        outputIds: output,
        // Vocab.decode: <sos> and <pad> are dropped from the text
        text: output.filter((id) => id !== PAD_ID && id !== SOS_ID)
          .map((id) => this.tgtVocab[id]).join(" "),
      };
    }

    topWords(probabilities, k = 5) {
      const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a] || a - b);
      return order.slice(0, k).map((id) => ({ word: this.tgtVocab[id], id, p: probabilities[id] }));
    }
  }

  function softmax(logits) {
    let max = -Infinity;
    for (const value of logits) if (value > max) max = value;
    const p = new Float64Array(logits.length);
    let total = 0;
    for (let i = 0; i < logits.length; i++) { p[i] = Math.exp(logits[i] - max); total += p[i]; }
    for (let i = 0; i < p.length; i++) p[i] /= total;
    return p;
  }

  async function fetchOrExplain(url, kind) {
    let response;
    try {
      response = await fetch(url);
    } catch (error) {
      throw new Error(`could not fetch ${kind} (${url}): ${error.message}`);
    }
    if (!response.ok) throw new Error(`could not fetch ${kind} (${url}): HTTP ${response.status}`);
    return response;
  }

  // Fetch the manifest and the weights next to this script; check sizes and format.
  async function load(baseUrl = BASE_URL) {
    const started = performance.now();
    const manifestUrl = new URL("translator.json", baseUrl);
    const manifest = await (await fetchOrExplain(manifestUrl, "the model description")).json();
    if (manifest.format !== 1 || manifest.dtype !== "float32" || manifest.byte_order !== "little") {
      throw new Error(`unsupported model file (format ${manifest.format}, ${manifest.dtype})`);
    }
    const weightsUrl = new URL(manifest.weights_file, manifestUrl);
    const buffer = await (await fetchOrExplain(weightsUrl, "the model weights")).arrayBuffer();
    if (buffer.byteLength !== manifest.weights_bytes) {
      throw new Error(`the weights file has ${buffer.byteLength} bytes, expected ${manifest.weights_bytes}`);
    }
    const model = new Model(manifest, buffer);
    model.loadMilliseconds = performance.now() - started;
    return model;
  }

  let loading = null;
  window.MiniTransformer = {
    BASE_URL, PAD_ID, SOS_ID, EOS_ID, UNK_ID,
    normalizeText, splitWords, splitParticles, softmax, Model, load,
    // One shared load per page (every widget on the page uses the same model).
    model() {
      if (!loading) loading = load();
      return loading;
    },
  };
})();
