"""The identity probes without a model: every probe id is unique and names its kind once."""

from __future__ import annotations

from harness.evaluators import identity


def test_probe_ids_are_unique_and_name_their_kind_once(tunegate, identity_spec):
    probes = identity.load_probes(tunegate.settings.fixtures, identity_spec)
    ids = [p.id for p in probes]
    assert len(set(ids)) == len(ids) and all(p.id.startswith(f"{p.kind}-") for p in probes)
    assert not [i for i in ids if i.startswith(("locality-locality-", "held_out-held_out-"))]
    assert "locality-en-lang-007" in ids and "held_out-who-could-you-tell" in ids
