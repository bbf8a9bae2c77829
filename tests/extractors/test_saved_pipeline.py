"""A saved pipeline keeps the market tokenizer, the lexicon patterns and the components."""

from __future__ import annotations

from pathlib import Path

import spacy

from onionwatch.extractors.pipeline import build_pipeline


def test_round_trip_through_disk(tmp_path: Path) -> None:
    nlp = build_pipeline()
    nlp.to_disk(tmp_path / "pipe")
    loaded = spacy.load(tmp_path / "pipe")
    assert loaded.pipe_names == nlp.pipe_names
    assert [t.text for t in loaded("100x M30 7gs 500ug")] == ["100", "x", "M30", "7", "gs", "500", "ug"]
    doc = loaded("Pressed M30 blues x100, no fent")
    assert [(s.text, s.id_, s.label_) for s in doc.ents] == [
        ("M30", "fentanyl", "fentanyl_class"),
        ("blues", "fentanyl", "fentanyl_class"),
    ]
