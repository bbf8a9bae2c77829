"""Builds the extraction pipeline from ``data/pipeline.cfg`` (once per process, lazily)."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import load_config, load_model_from_config, registry

from onionwatch.errors import ExtractionError

# registration of factories, tokenizer and misc functions happens on import of these modules
from onionwatch.extractors import drugs, prices, quantities, tokenizer, vendors  # noqa: F401
from onionwatch.extractors.lexicon import load_lexicon

log = logging.getLogger(__name__)


@registry.misc("onionwatch.lexicon_patterns.v1")  # type: ignore[untyped-decorator]
def lexicon_patterns(path: str | None = None) -> list[dict[str, Any]]:
    return load_lexicon(path).patterns()


def config_path() -> Path:
    return Path(str(resources.files("onionwatch.extractors") / "data" / "pipeline.cfg"))


def _log_and_skip(proc_name: str, proc: Any, docs: Iterable[Doc], exc: Exception) -> None:
    # one bad document must not stop a batch: it is left out of the stream and reported
    for doc in docs:
        log.warning("extraction component %s failed on doc %r: %s", proc_name, doc.text[:80], exc)


def build_pipeline(overrides: dict[str, Any] | None = None) -> Language:
    try:
        config = load_config(config_path(), overrides=overrides or {})
        nlp = load_model_from_config(config, auto_fill=True, validate=True)
        nlp.initialize()
    except (OSError, ValueError, KeyError) as exc:
        raise ExtractionError(f"cannot build the extraction pipeline: {exc}") from exc
    handler: Any = _log_and_skip  # spaCy types the handler as never returning
    nlp.set_error_handler(handler)
    return nlp


@lru_cache(maxsize=1)
def get_pipeline() -> Language:
    """The process-wide pipeline (built on first use)."""
    nlp = build_pipeline()
    # The vocab, lexicon and matcher tables live as long as the process; moving them out of the
    # collector's generations keeps every later collection from rescanning them (measured: about
    # 15 % of enrich's CPU time went to the collector re-walking these objects). The price: any
    # other object alive right now that later becomes cyclic garbage is not reclaimed (bounded,
    # once per process).
    gc.collect()
    gc.freeze()
    return nlp
