"""Exact nearest other-label distances: known answers, tiling, arithmetic, real data against brute force."""

import numpy as np
import pytest
import tensorflow as tf

from robustkit.separation import bounds, exact, kernels, l2
from tests.separation import reference

# Labels 0, 0, 1, 1. Differently labelled pairs and their (L2, L-inf) distances:
# a-c (5, 4), a-d (10, 8), b-c (sqrt 18, 3), b-d (sqrt 85, 7).
POINTS = np.array([[0, 0], [0, 1], [3, 4], [6, 8]], np.float32)
LABELS = np.array([0, 0, 1, 1])


def test_hand_made_points_have_the_distances_worked_out_by_hand():
    found = exact.nearest_other_label(POINTS, LABELS, POINTS, LABELS, tile_size=3)
    np.testing.assert_allclose(found["l2"].distance, [5.0, np.sqrt(18.0), np.sqrt(18.0), np.sqrt(85.0)], rtol=1e-15)
    np.testing.assert_array_equal(found["l2"].index, [2, 2, 1, 1])
    np.testing.assert_array_equal(found["linf"].distance, [4.0, 3.0, 3.0, 7.0])
    np.testing.assert_array_equal(found["linf"].index, [2, 2, 1, 1])


def test_uint8_images_are_measured_in_pixel_units_of_0_1():
    images = (POINTS * 10).astype(np.uint8).reshape(4, 1, 2, 1)
    for arithmetic in ("int8", "float32"):
        found = exact.nearest_other_label(images, LABELS, images, LABELS, arithmetic=arithmetic)
        np.testing.assert_array_equal(found["l2"].distance, np.sqrt([2500.0, 1800.0, 1800.0, 8500.0]) / 255.0)
        np.testing.assert_array_equal(found["linf"].distance, np.array([40.0, 30.0, 30.0, 70.0]) / 255.0)


def test_duplicates_across_classes_and_lone_classes():
    images = np.array([[5, 5], [5, 5], [9, 9]], np.uint8)
    found = exact.nearest_other_label(images, [0, 1, 1], images, [0, 1, 1])
    assert found["l2"].distance[0] == 0.0 and found["linf"].distance[1] == 0.0
    alone = exact.nearest_other_label(images, [2, 2, 2], images, [2, 2, 2])
    assert np.all(np.isinf(alone["l2"].distance)) and np.all(alone["linf"].index == -1)


@pytest.mark.parametrize("arithmetic", ["int8", "float32"])
def test_tiled_and_untiled_results_are_identical(arithmetic):
    rng = np.random.default_rng(0)
    refs = rng.integers(0, 256, size=(150, 6, 6, 1), dtype=np.uint8)
    ref_labels = rng.integers(0, 3, size=150)
    queries, query_labels = refs[:70], ref_labels[:70]
    whole = exact.nearest_other_label(queries, query_labels, refs, ref_labels, tile_size=1000, arithmetic=arithmetic)
    for tile in (7, 33):
        tiled = exact.nearest_other_label(queries, query_labels, refs, ref_labels, tile_size=tile,
                                          arithmetic=arithmetic)
        for norm in ("l2", "linf"):
            np.testing.assert_array_equal(tiled[norm].distance, whole[norm].distance)
    expected = reference.nearest_other_label(queries, query_labels, refs, ref_labels)
    np.testing.assert_array_equal(whole["l2"].distance, expected["l2"] / 255.0)
    np.testing.assert_array_equal(whole["linf"].distance, expected["linf"] / 255.0)
    expected = reference.nearest_other_label(refs, ref_labels, refs, ref_labels)  # train-train: tile pairs once
    for tile in (7, 33, 1000):
        found = exact.nearest_other_label(refs, ref_labels, refs, ref_labels, tile_size=tile, arithmetic=arithmetic)
        assert found["l2"].stats["symmetric"] and found["linf"].stats["symmetric"]
        np.testing.assert_array_equal(found["l2"].distance, expected["l2"] / 255.0)
        np.testing.assert_array_equal(found["linf"].distance, expected["linf"] / 255.0)


def test_real_fashion_mnist_agrees_exactly_with_brute_force():
    train, test = reference.fashion_mnist("train", 600), reference.fashion_mnist("test", 300)
    if train is None or test is None:
        pytest.skip(f"the offline Fashion-MNIST ({reference.fashion_mnist_dir()}: $FASHION_MNIST_DIR or Debian's "
                    "dataset-fashion-mnist) is not installed")
    (x, y), (xt, yt) = train, test
    for queries, labels in ((x, y), (xt, yt)):  # train-train, then test-train
        expected = reference.nearest_other_label(queries, labels, x, y)
        for arithmetic in ("int8", "float32"):
            found = exact.nearest_other_label(queries, labels, x, y, tile_size=256, arithmetic=arithmetic)
            np.testing.assert_array_equal(found["l2"].distance, expected["l2"] / 255.0)
            np.testing.assert_array_equal(found["linf"].distance, expected["linf"] / 255.0)
            d = x[found["linf"].index].reshape(len(queries), -1).astype(int) - queries.reshape(len(queries), -1)
            np.testing.assert_array_equal(np.abs(d).max(axis=1), expected["linf"])  # the index is a nearest one


def test_scikit_learn_brute_force_agrees_exactly():
    sklearn_neighbors = pytest.importorskip("sklearn.neighbors", reason="scikit-learn (the dev extra) is not installed")
    train = reference.fashion_mnist("train", 400)
    if train is None:
        pytest.skip(f"the offline Fashion-MNIST ({reference.fashion_mnist_dir()}) is not installed")
    x, y = train
    flat = x.reshape(len(x), -1).astype(np.float64)  # 0..255: sklearn's arithmetic is exact on integers
    found = exact.nearest_other_label(x, y, x, y, tile_size=128)
    for norm, metric in (("l2", "euclidean"), ("linf", "chebyshev")):
        theirs = np.empty(len(x))
        for label in np.unique(y):  # Yang et al.'s protocol: one fit per class, on the other classes
            model = sklearn_neighbors.NearestNeighbors(n_neighbors=1, algorithm="brute", metric=metric)
            theirs[y == label] = model.fit(flat[y != label]).kneighbors(flat[y == label])[0][:, 0]
        np.testing.assert_array_equal(found[norm].distance, theirs / 255.0)


def test_float_codes_find_the_true_nearest_neighbour():
    rng = np.random.default_rng(1)
    refs = (rng.normal(size=(400, 8)) * 30 + 100).astype(np.float32)  # far from the origin: a loose float32 bound
    labels = rng.integers(0, 4, size=400)
    refs[7] = refs[3] + np.float32(1e-3)  # a near-duplicate across labels
    labels[7], labels[3] = 0, 1
    found = exact.nearest_other_label(refs, labels, refs, labels, tile_size=64)
    expected = reference.nearest_other_label(refs, labels, refs, labels)
    np.testing.assert_allclose(found["l2"].distance, expected["l2"], rtol=1e-12)
    np.testing.assert_array_equal(found["linf"].distance, expected["linf"])
    assert found["l2"].index[3] == 7 and found["l2"].stats["arithmetic"] == "float32"


def test_the_float32_error_bound_holds_for_computed_tiles():
    rng = np.random.default_rng(2)
    q = (rng.normal(size=(64, 300)) * 50).astype(np.float32)
    r = (rng.normal(size=(64, 300)) * 50 + 20).astype(np.float32)
    qn = np.einsum("ij,ij->i", q.astype(np.float64), q.astype(np.float64))
    rn = np.einsum("ij,ij->i", r.astype(np.float64), r.astype(np.float64))
    labels = tf.constant(np.zeros(64, np.int32))
    d = kernels.l2_float32(q, qn.astype(np.float32), labels, tf.zeros([64]), r, rn.astype(np.float32), labels + 1,
                           tf.zeros([64]))[0]
    diff = q.astype(np.float64)[:, None] - r.astype(np.float64)[None]
    error = np.abs(d.numpy() - np.einsum("qrd,qrd->qr", diff, diff))
    delta = bounds.squared_distance_error(300, qn, rn.max())
    assert np.all(error <= delta[:, None])
    assert error.max() > 0  # float32 did round: the test compares something


def test_a_broken_bound_is_reported_not_hidden():
    with pytest.raises(FloatingPointError, match="proven bound"):
        l2.check_bound(np.array([10.0]), np.array([9.0]), np.array([0.5]))


def test_bad_arguments_fail_clearly():
    with pytest.raises(ValueError, match="unknown norms"):
        exact.nearest_other_label(POINTS, LABELS, POINTS, LABELS, norms=["l1"])
    with pytest.raises(ValueError, match="int8 arithmetic needs uint8"):
        exact.nearest_other_label(POINTS, LABELS, POINTS, LABELS, arithmetic="int8")
    with pytest.raises(ValueError, match="non-negative"):
        exact.nearest_other_label(POINTS, -LABELS - 1, POINTS, LABELS)
    with pytest.raises(ValueError, match="both be uint8"):
        exact.nearest_other_label(POINTS.astype(np.uint8), LABELS, POINTS, LABELS)


@pytest.mark.parametrize("arithmetic", ["int8", "float32"])
def test_two_logical_cpus_share_the_tile_pairs_and_agree_with_brute_force(arithmetic):
    from robustkit import distribute
    from robustkit.replicas import BatchMap
    from robustkit.sections import DistributeConfig

    two = BatchMap(distribute.make_strategy(DistributeConfig(strategy="mirrored", devices=["/cpu:0", "/cpu:1"])))
    rng = np.random.default_rng(1)
    refs = rng.integers(0, 256, size=(90, 5, 5, 1), dtype=np.uint8)
    ref_labels = rng.integers(0, 3, size=90)
    expected = reference.nearest_other_label(refs, ref_labels, refs, ref_labels)
    one = exact.nearest_other_label(refs, ref_labels, refs, ref_labels, tile_size=13, arithmetic=arithmetic)
    shared = exact.nearest_other_label(refs, ref_labels, refs, ref_labels, tile_size=13, arithmetic=arithmetic,
                                       batch_map=two)
    assert shared["l2"].stats["tiles"] > 2  # several groups of two tile pairs
    for norm in ("l2", "linf"):
        np.testing.assert_array_equal(shared[norm].distance, one[norm].distance)
        np.testing.assert_array_equal(shared[norm].index, one[norm].index)
        np.testing.assert_array_equal(shared[norm].distance, expected[norm] / 255.0)
