"""The job config: strict YAML round trip, defaults, and the chain it builds."""

import pytest

from audiokit.perturb.config import PerturbConfig


def test_round_trip_and_defaults(tmp_path):
    cfg = PerturbConfig.from_dict(
        {
            "mode": "search",
            "perturbations": [{"name": "noise", "snr_db": [10, 20]}, "gain"],
            "search": {"target": "keyword:canoe", "sampler": "ajailbench"},
        }
    )
    assert cfg.budget == 10  # the official budget for the official sampler
    cfg.search.sampler = "gp"
    assert cfg.budget == 30
    p = tmp_path / "apt.yaml"
    p.write_text(cfg.to_yaml())
    again = PerturbConfig.from_yaml(p)
    assert again == cfg
    chain = again.chain()
    assert [q.name for q in chain.perturbations] == ["noise", "gain"]
    assert chain.perturbations[0].space["snr_db"].low == 10
    assert PerturbConfig().chain().choose == 1  # the "all" preset: one perturbation per variant
    official = PerturbConfig.from_dict(
        {"mode": "search", "search": {"target": "x:y", "sampler": "ajailbench"}}
    )
    assert [q.name for q in official.chain().perturbations] == ["ajailbench"]


@pytest.mark.parametrize(
    "bad, key",
    [
        ({"mode": "train"}, "mode"),
        ({"variants": "3"}, "variants"),
        ({"search": {"budget": 0, "target": "x:y"}, "mode": "search"}, "search.budget"),
        ({"search": {"sampler": "gp", "nope": 1}}, "search.nope"),
        ({"preset": "all", "perturbations": ["gain"]}, "either preset"),
        ({"perturbations": "gain"}, "perturbations"),
    ],
)
def test_strict_validation_names_the_key(bad, key):
    with pytest.raises(ValueError, match=key):
        PerturbConfig.from_dict(bad)
