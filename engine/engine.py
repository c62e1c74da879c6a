"""The Engine: one shared model, and the runs of one prompt with interventions it makes.

The Engine: one loaded model, read and run with interventions by every session.

One Engine is shared by all sessions of the app. Runs install their hooks
under the engine's lock and remove them before releasing it, so concurrent
runs never see each other's interventions. Clean runs are cached per prompt
(a bounded LRU of :class:`Trace`), and runs with interventions restart from
them (see ``engine.forward``).

Prompts are never truncated: one longer than the model's context raises
:class:`PromptTooLongError`.

Runs of one prompt with interventions: compiled into hooks, run under the engine's lock, checked for NaN.

The Engine's run methods find the prompt's clean trace (the prefix cache) and call these. A run
without interventions is the clean run itself; a run whose output is not finite raises NonFiniteError
naming the intervention that most likely produced it.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Mapping, Sequence

import torch

from engine.adapter import Adapter, LRU, stored, use_attention
from engine.errors import EmptyPromptError, InterventionError, ModelLoadError, NonFiniteError, ShapeError
from engine.forward import clean_trace, layer_pattern, logits_with_mlp_change, run_last_logits, run_rows, run_site
from engine.generate import Generation, generate_ids
from engine.gradients import Zeroed, attribute_batch, check_attribution, token_logprobs, zero_masks
from engine.hooks import Hook, blame
from engine.hub import Progress, local_folder
from engine.interventions import Intervention, check_layer, check_layers, compile_hooks
from engine.loading import dtype_name, load_pretrained, resolve_device, resolve_dtype, stored_fingerprint
from engine.readout import RunResult
from engine.spec import ModelSpec, fingerprint as fingerprint_of
from engine.tokens import answer_ids, check_ids, check_text, continuation_ids, one_token, token_label
from engine.trace import (ACTIVATION_SITES, ActivationSite, Batch, CaptureSite, Captured, Trace, as_batch,
                          capture_batch, check_sites)


def check_samples(samples: int) -> None:
    """InterventionError unless ``samples`` is a whole number >= 1."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InterventionError(f"samples must be a whole number >= 1, got {samples!r}")


def check_activation_site(site: str) -> None:
    """InterventionError naming the choices unless ``site`` is one of :data:`ACTIVATION_SITES`."""
    if site not in ACTIVATION_SITES:
        raise InterventionError(f"unknown site {site!r}; choose one of {', '.join(ACTIVATION_SITES)}")


def _finite(x: torch.Tensor) -> bool:
    """Whether every value is finite; a finite sum proves it at a fraction of the cost."""
    return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


def _checked(x: torch.Tensor, hooks: Sequence[Hook]) -> torch.Tensor:
    """``x`` if every value is finite, else NonFiniteError blaming the likeliest of ``hooks``."""
    if not _finite(x):
        raise NonFiniteError(
            f"the run produced NaN or inf, most likely because of {blame(hooks)}; "
            "lower its intensity or scale")
    return x


def _compile(adapter: Adapter, spec: ModelSpec, trace: Trace, interventions: Sequence[Intervention],
             samples: int) -> list[Hook]:
    return compile_hooks(tuple(interventions), trace.n_pos, samples, spec, adapter.device, adapter.dtype)


def run_one(adapter: Adapter, spec: ModelSpec, lock, trace: Trace, interventions: Sequence[Intervention],
            samples: int, use_cache: bool) -> RunResult:
    """Last-position predictions on ``trace``'s prompt with ``interventions``, ``samples`` noise draws as one batch.

    ``use_cache`` restarts from the trace (the prefix cache); without it the whole prompt is rerun.
    """
    clean = trace.logits[-1].to("cpu", torch.float32)
    hooks = _compile(adapter, spec, trace, interventions, samples)
    if not hooks:
        return RunResult.from_logits(clean.unsqueeze(0), clean, samples)
    batch = samples if any(h.stochastic for h in hooks) else 1
    with lock, torch.no_grad():
        logits = run_last_logits(adapter, trace, hooks, batch, use_cache=use_cache)
    return RunResult.from_logits(_checked(logits.to("cpu", torch.float32), hooks), clean, samples)


def run_many(adapter: Adapter, spec: ModelSpec, lock, trace: Trace, runs: Sequence[Sequence[Intervention]],
             samples: int, max_rows: int) -> list[RunResult]:
    """:func:`run_one` for each of ``runs``, as rows of batched forwards of at most ``max_rows`` rows."""
    clean = trace.logits[-1].to("cpu", torch.float32)
    compiled = [_compile(adapter, spec, trace, r, samples) for r in runs]
    rows = samples if any(h.stochastic for hooks in compiled for h in hooks) else 1
    results = [RunResult.from_logits(clean.unsqueeze(0), clean, samples)] * len(runs)
    for b, logits in run_rows(adapter, trace, compiled, rows, max_rows, lock).items():
        results[b] = RunResult.from_logits(_checked(logits, compiled[b]), clean, samples)
    return results


def activations(adapter: Adapter, spec: ModelSpec, lock, trace: Trace, interventions: Sequence[Intervention],
                site: str) -> torch.Tensor:
    """``(n_layers, pos, width)`` CPU float32 activations at ``site`` under ``interventions`` (noise sample 0)."""
    hooks = _compile(adapter, spec, trace, interventions, 1)
    if not hooks:
        return trace.stack(site).to("cpu", torch.float32, copy=True)
    with lock, torch.no_grad():
        acts = run_site(adapter, trace, hooks, site).to("cpu", torch.float32)
    return _checked(acts, hooks)


Prompt = str | Sequence[int]


class Engine:
    """A causal LM plus tokenizer behind the field's vocabulary. Load with :meth:`Engine.load`.

    ``model`` and ``tokenizer`` are shared and never mutated after construction. Anyone
    calling ``model`` directly while runs may be in flight should hold ``lock``. The model
    runs on its own device and dtype; everything public takes and returns CPU float32.
    """

    def __init__(self, model, tokenizer, name: str = "model", max_traces: int = 64,
                 max_trace_bytes: int = 1 << 30, fingerprint: str | None = None, attention: str = "sdpa") -> None:
        self.attention = use_attention(model, attention)  # see engine.adapter: "sdpa", or "eager"
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.lock = threading.RLock()
        self._adapter = Adapter(model)
        a = self._adapter
        self.device, self.dtype = a.device, a.dtype
        self.spec = ModelSpec(
            name=name, family=a.family, n_layers=a.n_layers, n_heads=a.n_heads, d_model=a.d_model,
            d_head=a.d_head, d_mlp=a.d_mlp, d_vocab=a.d_vocab, n_ctx=a.n_ctx,
            fingerprint=fingerprint or fingerprint_of(model.config, self.W_U),
            device=str(a.device), dtype=dtype_name(a.dtype))
        self._traces: LRU[Trace] = LRU(max_traces, max_trace_bytes, size=lambda t: t.nbytes)
        self._encoded: LRU[tuple[int, ...]] = LRU(4096)

    @classmethod
    def load(cls, name_or_path: str | Path, device: str = "cpu", dtype: str = "float32", *,
             offline: bool = False, device_map: str | dict | None = None, offload_folder: str | Path | None = None,
             max_memory: dict | None = None, progress: Progress | None = None, **kwargs) -> "Engine":
        """Load from a local folder or a Hugging Face name (cached, else downloaded; see ``engine.hub``).

        ``device``: "auto" (a GPU when there is one), "cpu", "cuda", "cuda:N" or "mps"; ``dtype``:
        "float32", "bfloat16" or "float16": weights are read straight into it on the device.
        ``device_map="auto"`` (or an explicit map) spreads a large model over GPUs, CPU and disk
        (``offload_folder``; ``max_memory`` caps each, e.g. ``{0: "70GiB", "cpu": "100GiB"}``).
        ``offline`` (or HF_HUB_OFFLINE=1) never downloads; ``progress(done, total, file)`` follows a
        download. The fingerprint comes from the stored weights, so lenses and clusters fit the model
        in every precision. Raises ModelLoadError saying where it looked, how to fetch the model, or
        what to pass instead of an unknown device or dtype.
        """
        where, precision = resolve_device(device), resolve_dtype(dtype)
        folder = local_folder(str(name_or_path), offline=offline, progress=progress)
        model, tokenizer = load_pretrained(folder, precision, where, device_map, offload_folder, max_memory)
        return cls(model, tokenizer, name=str(name_or_path), fingerprint=stored_fingerprint(model, folder), **kwargs)

    @property
    def adapter(self) -> Adapter:
        """The family adapter (named modules and weights); hooks go through :meth:`capture` and :meth:`run`."""
        return self._adapter

    # Tokens ------------------------------------------------------------------
    def encode(self, prompt: str) -> list[int]:
        """Token ids of ``prompt`` (with the tokenizer's usual special tokens).

        Raises EmptyPromptError for an empty or blank prompt and PromptTooLongError when it has
        more tokens than the model's context; it is never truncated.
        """
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        self._need_tokenizer()
        with self.lock:
            cached = self._encoded.get(prompt)
        if cached is not None:
            return list(cached)
        if not prompt.strip():
            raise EmptyPromptError("the prompt is empty; type some text")
        ids = tuple(int(i) for i in self.tokenizer.encode(prompt))
        self._check_tokens(ids)
        with self.lock:
            self._encoded.put(prompt, ids)
        return list(ids)

    def token_ids(self, text: str, what: str = "text") -> list[int]:
        """Ids of ``text`` as it continues a prompt: what the model reads and predicts for it mid-prompt.

        No BOS or other special tokens, and no word-start piece ``▁`` that SentencePiece
        tokenizers put before standalone text. Answers carry their leading space (" Paris").
        Raises EmptyPromptError (naming ``what``) for an empty text.
        """
        check_text(text, what)
        self._need_tokenizer()
        ids = continuation_ids(self.tokenizer, text)
        if not ids:
            raise EmptyPromptError(f"the {what} is empty; type a word (with its leading space, e.g. ' Paris')")
        return ids

    def token_id(self, text: str, what: str = "answer", first: bool = False, prompt: Prompt | None = None) -> int:
        """The token the model would predict for ``text`` (e.g. " Paris") after ``prompt``: read off the joint
        encoding of prompt + text (without a text prompt, as :meth:`token_ids` reads it mid-prompt).

        Raises MultiTokenError naming the tokens when ``text`` is several tokens, unless ``first`` asks for
        the first of them (the metric of answers longer than a token), and whenever the first is a bare space
        or word-start marker: never a token that does not start the answer.
        """
        if not isinstance(prompt, str):
            return one_token(self.tokenizer, self.token_ids(text, what), None, text, what, first)
        check_text(text, what)
        head = self.encode(prompt)
        ids, note = answer_ids(self.tokenizer, head, prompt, text, what)
        return one_token(self.tokenizer, ids, head, text, what, first, prompt, note)

    def token_strs(self, ids: Sequence[int]) -> list[str]:
        """Each token's own text, e.g. ``[" Paris", ","]``; part of a character shows its bytes, ``"<0xF0>"``."""
        self._need_tokenizer()
        return [token_label(self.tokenizer, i) for i in ids]

    def _need_tokenizer(self) -> None:
        if self.tokenizer is None:
            raise ModelLoadError("this engine was built without a tokenizer; pass token ids instead of text")

    def _check_tokens(self, ids: Sequence[int]) -> None:
        check_ids(ids, self.spec.n_ctx, self._adapter.embed_tokens.num_embeddings)

    def _as_batch(self, batch: Batch | Sequence[Sequence[int]]) -> Batch:
        """``batch``, or its id lists checked like a prompt's and right-padded."""
        return as_batch(batch, self.spec.n_ctx, self._adapter.embed_tokens.num_embeddings)

    def _tokens(self, prompt: Prompt) -> tuple[int, ...]:
        if isinstance(prompt, str):
            return tuple(self.encode(prompt))
        ids = tuple(int(i) for i in prompt)
        self._check_tokens(ids)
        return ids

    # Reading -----------------------------------------------------------------
    def trace(self, prompt: Prompt) -> Trace:
        """Every activation of the clean run on ``prompt`` (text or token ids), on the CPU in float32.

        Cached per prompt; on a CPU float32 model the tensors are shared with the cache: treat
        them as read-only. Raises EmptyPromptError, PromptTooLongError (never truncates) or
        OutOfRangeError (bad token id).
        """
        return self._trace(prompt).to("cpu", torch.float32)

    def _trace(self, prompt: Prompt) -> Trace:
        """The cached clean trace on the model's device and dtype (the prefix cache)."""
        tokens = self._tokens(prompt)
        with self.lock:
            trace = self._traces.get(tokens)
            if trace is None:
                with torch.no_grad():
                    trace = clean_trace(self._adapter, tokens)
                if not torch.isfinite(trace.logits).all():
                    raise NonFiniteError(
                        "the model itself produces NaN or inf on this prompt; its weights may be corrupt")
                self._traces.put(tokens, trace)
        return trace

    def pattern(self, prompt: Prompt, layer: int) -> torch.Tensor:
        """``(n_heads, pos, pos)`` attention probabilities (query, key) of block ``layer`` on ``prompt``, CPU float32.

        Only that layer's attention is rerun, from the cached trace, with its probabilities asked for:
        no run keeps patterns, whose memory grows with the square of the prompt.
        """
        layer = self.check_layer(layer, "pattern")
        trace = self._trace(prompt)
        with self.lock, torch.no_grad():
            return layer_pattern(self._adapter, trace, layer).to("cpu", torch.float32)

    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(..., d_model)`` -> ``(..., d_model)`` through the model's final norm."""
        self._check_width(x)
        return self._adapter.final_norm(x.to(self.device, self.dtype)).to(x.device, torch.float32)

    def unembed(self, x: torch.Tensor, norm: bool = True) -> torch.Tensor:
        """``x``: ``(..., d_model)`` -> ``(..., d_vocab)`` logits: final norm (if ``norm``), then W_U (+ bias)."""
        self._check_width(x)
        return self._adapter.unembed(x.to(self.device, self.dtype), norm=norm).to(x.device, torch.float32)

    def _check_width(self, x: torch.Tensor) -> None:
        if x.shape[-1:] != (self.spec.d_model,):
            raise ShapeError(f"expected (..., d_model={self.spec.d_model}), got {tuple(x.shape)}")

    @property
    def W_U(self) -> torch.Tensor:
        """``(d_model, d_vocab)`` unembedding, CPU float32 (a read-only view of CPU float32 weights)."""
        return stored(self._adapter.lm_head).T.to("cpu", torch.float32)

    @property
    def W_E(self) -> torch.Tensor:
        """``(d_vocab, d_model)`` token embedding, CPU float32 (a read-only view of CPU float32 weights)."""
        return stored(self._adapter.embed_tokens).to("cpu", torch.float32)

    def check_layer(self, layer: int, what: object = None) -> int:
        """``layer`` as an int; OutOfRangeError ("this model has layers 0-N") unless the model has it."""
        return check_layer(layer, self.spec.n_layers, what)

    def W_out(self, layer: int) -> torch.Tensor:
        """``(d_mlp, d_model)`` MLP output weights of block ``layer``, CPU float32 (a read-only view)."""
        check_layer(layer, self.spec.n_layers, "W_out")
        return self._adapter.W_out(layer).to("cpu", torch.float32)

    def training_copy(self) -> torch.nn.Module:
        """A private deep copy of the model on the CPU in float32, gradients on, without any hook: for work
        that differentiates in the weights (e.g. per-example gradients) and must never touch the shared model."""
        with self.lock:
            model = copy.deepcopy(self.model)
        for module in model.modules():
            module._forward_hooks.clear()
            module._forward_pre_hooks.clear()
        return model.to("cpu", torch.float32).requires_grad_(True)

    # Running -----------------------------------------------------------------
    def run(self, prompt: Prompt, interventions: Sequence[Intervention] = (),
            samples: int = 1) -> RunResult:
        """Last-position predictions on ``prompt`` with ``interventions``; ``samples`` noise draws as one batch.

        Without noise every sample is the same run. Raises NonFiniteError naming the intervention
        that most likely produced NaN or inf.
        """
        check_samples(samples)
        return run_one(self._adapter, self.spec, self.lock, self._trace(prompt), interventions, samples, True)

    def run_full(self, prompt: Prompt, interventions: Sequence[Intervention] = (),
                 samples: int = 1) -> RunResult:
        """Like :meth:`run`, but a plain hooked forward over the whole prompt (the slow reference)."""
        check_samples(samples)
        return run_one(self._adapter, self.spec, self.lock, self._trace(prompt), interventions, samples, False)

    def generate(self, prompt: Prompt, interventions: Sequence[Intervention] = (), max_new_tokens: int = 20,
                 temperature: float = 0.0, top_k: int | None = None, seed: int = 0,
                 stop_at_eos: bool = True) -> Generation:
        """``prompt`` continued by up to ``max_new_tokens`` tokens under ``interventions`` (greedy at temperature 0,
        else sampled, seeded per call), one position per token through a key/value cache; stops after EOS
        unless ``stop_at_eos`` is False.
        What "all" and "last" positions cover in generated tokens: see ``engine.generate``."""
        tokens = self._tokens(prompt)
        eos = getattr(self.tokenizer, "eos_token_id", None) if stop_at_eos else None
        new = generate_ids(self._adapter, self.spec, self.lock, tokens, tuple(interventions), max_new_tokens,
                           temperature, top_k, seed, eos)
        text = self.tokenizer.decode(new, skip_special_tokens=True) if self.tokenizer is not None else ""
        return Generation(prompt_ids=tokens, new_ids=tuple(new), text=text)

    def capture(self, batch: Batch | Sequence[Sequence[int]], layers: Sequence[int] | None = None,
                sites: Sequence[CaptureSite] = ("head_writes", "resid_post")) -> Captured:
        """One clean forward of many token sequences (a :class:`Batch`, or lists of ids to right-pad),
        keeping ``sites`` at ``layers`` (default: all) at every real position; see :class:`Captured`.

        Hooks and the lock stay inside the engine: they are held for the forward and released,
        also on error. Raises OutOfRangeError for a layer the model lacks or a sequence too long.
        """
        sites = check_sites(sites)
        batch = self._as_batch(batch)
        layers = check_layers(layers, self.spec.n_layers)
        with self.lock, torch.no_grad():
            return capture_batch(self._adapter, batch, layers, sites)

    def run_batch(self, prompt: Prompt, runs: Sequence[Sequence[Intervention]], samples: int = 1,
                  max_rows: int = 256) -> list[RunResult]:
        """``[self.run(prompt, r, samples) for r in runs]``, computed as rows of batched forwards.

        Each result equals its one-run result up to float rounding (the tests hold them to atol
        1e-4). At most ``max_rows`` rows (runs x noise samples) go through one forward.
        """
        check_samples(samples)
        return run_many(self._adapter, self.spec, self.lock, self._trace(prompt), runs, samples, max_rows)

    def attribute(self, seqs: Sequence[Sequence[int]], targets: Sequence[int], site: str = "mlp_post",
                  objective: str = "logit", *, against: Sequence[Sequence[int]] | None = None,
                  positions: str = "last", zeroed: Zeroed | None = None) -> torch.Tensor:
        """``(n_seqs, n_layers, width)`` activation x gradient of each sequence's ``targets`` token at its
        last position, for every unit of ``site`` (mlp_post, mlp_in or mlp_out): the first-order effect
        of zeroing it (attribution patching). ``objective`` is "logit" or "logprob"; ``against`` (rival
        tokens per sequence), ``positions`` ("last" or "all") and ``zeroed`` ({layer: units} held at zero)
        are explained in ``engine.gradients``."""
        check_attribution(site, objective, len(targets), len(seqs), positions, against)
        keep = zero_masks(zeroed, self.spec.n_layers, site, self.spec.d_mlp, self.spec.d_model)
        padded = self._as_batch(seqs)
        batch = Batch(padded.ids.to(self.device), padded.mask.to(self.device))
        with self.lock:
            out = attribute_batch(self._adapter, batch, torch.tensor(list(targets), device=self.device), site,
                                  objective, against=against, positions=positions, keep=keep)
        return out.to("cpu", torch.float32)

    def run_activations(self, prompt: Prompt, interventions: Sequence[Intervention],
                        site: ActivationSite) -> torch.Tensor:
        """``(n_layers, pos, width)`` activations at ``site`` under ``interventions`` (noise sample 0).

        ``site``: resid_pre, resid_mid, resid_post, attn_out, mlp_in, mlp_post or mlp_out.
        """
        check_activation_site(site)
        return activations(self._adapter, self.spec, self.lock, self._trace(prompt), interventions, site)

    def mlp_change_logits(self, prompt: Prompt, layer: int, change: torch.Tensor) -> torch.Tensor:
        """``(d_vocab,)`` float32 last-position logits with ``change`` ``(pos, d_model)`` added to block ``layer``'s
        MLP output, differentiable in ``change`` (for training weight edits; see ``edit/``). The change may
        live on any device in any dtype: it is cast to the model's at the boundary, the logits back to its device.

        Take gradients with ``torch.autograd.grad`` for your own tensors only: ``backward()`` would
        write ``.grad`` into the shared model. Raises ShapeError for a change of the wrong shape.
        """
        trace = self._trace(prompt)
        layer = self.check_layer(layer, "mlp_change_logits")
        if tuple(change.shape) != (trace.n_pos, self.spec.d_model):
            raise ShapeError(f"the change must be (pos={trace.n_pos}, d_model={self.spec.d_model}), "
                             f"got {tuple(change.shape)}")
        with self.lock, torch.enable_grad():
            return logits_with_mlp_change(self._adapter, trace, layer, change).to(change.device, torch.float32)

    def token_logprobs(self, seqs: Sequence[Sequence[int]], deltas: Mapping[int, torch.Tensor] | None = None,
                       grad: bool = False) -> torch.Tensor:
        """``(n_seqs, max_len - 1)`` float32 log p(next token) at every position of each token sequence (0 past its
        end), with ``deltas`` ``{layer: (d_mlp, d_model)}`` added to those layers' ``W_out`` for this call only.

        With ``grad`` the result is differentiable in the deltas (for unlearning and scoring weight changes; see
        ``engine.gradients``); the shared model is never written. Raises OutOfRangeError for a layer the model
        lacks and ShapeError for a delta of the wrong shape.
        """
        checked = {}
        for layer, delta in (deltas or {}).items():
            layer = self.check_layer(layer, "token_logprobs")
            if tuple(delta.shape) != (self.spec.d_mlp, self.spec.d_model):
                raise ShapeError(f"the delta of layer {layer} must be (d_mlp={self.spec.d_mlp}, "
                                 f"d_model={self.spec.d_model}), got {tuple(delta.shape)}")
            checked[layer] = delta
        batch = self._as_batch(seqs)
        with self.lock, torch.set_grad_enabled(grad):
            out = token_logprobs(self._adapter, batch, checked)
        device = next(iter(checked.values())).device if checked else torch.device("cpu")
        return out.to(device, torch.float32)
