"""How testgen chooses r: checked against a brute-force distance matrix on a few points."""

import numpy as np
import pytest

from robustkit import config as config_lib
from robustkit.testgen import runner
from robustkit.testgen.config import RadiusConfig
from robustkit.testgen.config import TestgenJob as Job


def _points(seed=0, n=24, dim=6):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, dim)).astype(np.float32), rng.integers(0, 3, size=n)


def _brute(queries, query_labels, refs, ref_labels, norm):
    """Every query's distance to every reference of another label (inf for the same label)."""
    diff = queries[:, None, :].astype(np.float64) - refs[None, :, :].astype(np.float64)
    d = np.sqrt((diff ** 2).sum(-1)) if norm == "l2" else np.abs(diff).max(-1)
    return np.where(query_labels[:, None] != ref_labels[None, :], d, np.inf)


def _job(**radius):
    return Job(space="pixel", radius=RadiusConfig(**radius))


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_global_r_is_half_the_brute_force_minimum_and_seeds_pass_the_2r_rule(norm):
    train, train_labels = _points(0)
    seeds, seed_labels = _points(1, n=10)
    radius = runner.choose_radius(_job(norm=norm), seeds, seed_labels, train, train_labels)
    pairwise = _brute(train, train_labels, train, train_labels, norm)
    r = pairwise.min() / 2.0
    assert radius.r == pytest.approx(r, rel=1e-6)
    # The 2r rule: a seed keeps r only when no training point of another label lies within 2r.
    nearest = _brute(seeds, seed_labels, train, train_labels, norm).min(axis=1)
    expected = np.where(nearest >= 2.0 * r, r, 0.0)
    np.testing.assert_allclose(radius.per_seed, expected, rtol=1e-6)


def test_the_2r_rule_drops_seeds_closer_than_2r_but_not_closer_than_r():
    # Two training points of different labels, 2 apart in L2: r = 1. A seed 1.5 from the
    # other label fails (1.5 < 2r) although it lies farther than r; one 3 away passes.
    train = np.array([[0.0, 0.0], [2.0, 0.0]], np.float32)
    train_labels = np.array([0, 1])
    seeds = np.array([[0.5, 0.0], [-1.0, 0.0]], np.float32)
    radius = runner.choose_radius(_job(), seeds, np.array([0, 0]), train, train_labels)
    assert radius.r == pytest.approx(1.0)
    np.testing.assert_allclose(radius.per_seed, [0.0, 1.0])


def test_drop_smallest_leaves_out_the_closest_distances():
    # Distances between differently labelled points: 0.1 (a near-duplicate pair), then 2.
    train = np.array([[0.0, 0.0], [0.1, 0.0], [2.1, 0.0]], np.float32)
    labels = np.array([0, 1, 0])
    seeds = np.array([[10.0, 0.0]], np.float32)
    # Per point: 0.1, 0.1, 2.0. Dropping the two smallest leaves 2.0.
    assert runner.choose_radius(_job(), seeds, np.array([1]), train, labels).r == pytest.approx(0.05)
    dropped = runner.choose_radius(_job(drop_smallest=2), seeds, np.array([1]), train, labels)
    assert dropped.r == pytest.approx(1.0) and "2 smallest dropped" in dropped.source
    with pytest.raises(config_lib.ConfigError, match="radius.value"):
        runner.choose_radius(_job(drop_smallest=3), seeds, np.array([1]), train, labels)


def test_radius_value_is_used_as_given_and_still_checked_against_2r():
    train, train_labels = _points(0)
    seeds, seed_labels = _points(1, n=10)
    nearest = _brute(seeds, seed_labels, train, train_labels, "l2").min(axis=1)
    value = float(np.median(nearest)) / 2.0  # About half the seeds pass their 2r check.
    radius = runner.choose_radius(_job(value=value), seeds, seed_labels, train, train_labels)
    assert radius.r == value and radius.source == "radius.value"
    np.testing.assert_allclose(radius.per_seed, np.where(nearest >= 2 * value, value, 0.0))
    assert 0 < np.count_nonzero(radius.per_seed) < len(seeds)


def test_local_mode_gives_each_seed_half_its_own_distance():
    train, train_labels = _points(0)
    seeds, seed_labels = _points(1, n=10)
    radius = runner.choose_radius(_job(mode="local", norm="linf"), seeds, seed_labels, train, train_labels)
    nearest = _brute(seeds, seed_labels, train, train_labels, "linf").min(axis=1)
    assert radius.r is None
    np.testing.assert_allclose(radius.per_seed, nearest / 2.0, rtol=1e-6)
    assert len(np.unique(radius.per_seed)) == len(seeds), "each seed has its own r"
