"""The durable spool the Elasticsearch writer falls back to."""

from __future__ import annotations

from pathlib import Path

from onionwatch.index.spool import Spool

from .corpus import corpus


def test_fifo_remove_bury_and_durability(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    spool = Spool(path)
    assert spool.oldest() is None and spool.pending() == 0
    assert not path.exists()  # nothing spooled, no file
    data = corpus(5)
    spool.append(data[:2], baseline=False)
    spool.append(data[2:], baseline=True)
    spool.close()

    spool = Spool(path)  # a new process sees the same queue
    try:
        assert spool.pending() == 5
        item = spool.oldest()
        assert item is not None
        first_id, baseline, observations = item
        assert (baseline, observations) == (False, data[:2])
        spool.bury(first_id, "mapping refused")
        assert spool.dead() == 1 and spool.pending() == 3
        item = spool.oldest()
        assert item is not None and item[1] is True and item[2] == data[2:]
        spool.remove(item[0])
        assert spool.oldest() is None and spool.pending() == 0
    finally:
        spool.close()
