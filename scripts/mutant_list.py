"""The deliberate breakages `scripts/mutants.py` applies: one per README feature that has a test.

Each replaces one exact snippet (it must occur exactly once in its file) by a
version that breaks the feature quietly: the code still runs, the answer is
wrong. ``tests`` are the pytest node ids that must fail because of it.
"""

import dataclasses
from typing import Tuple


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One breakage: in ``path``, ``original`` becomes ``replacement``; ``tests`` must then fail."""

    name: str
    feature: str
    path: str
    original: str
    replacement: str
    tests: Tuple[str, ...]


_RADIUS = "tests/testgen/test_radius.py"

MUTANTS: Tuple[Mutant, ...] = (
    Mutant("export_resize", "serve_encoded resizes images of another size",
           "robustkit/training/export.py",
           'tf.image.resize(image, [height, width], method="bilinear", antialias=True)',
           "tf.image.resize_with_crop_or_pad(image, height, width)",
           ("tests/training/test_export.py::test_encoded_images_of_another_size_are_resized",)),
    Mutant("plateau_ignores_loss", "until_plateau moves on when the training loss stalls",
           "robustkit/training/phases.py",
           "if loss < self._best * (1.0 - phase.min_delta):",
           "if False:",
           ("tests/training/test_phases.py::test_plateau_waits_while_the_loss_keeps_improving",)),
    Mutant("precision_not_applied", "train.precision: mixed_bfloat16",
           "robustkit/training/loop.py",
           "keras.mixed_precision.set_global_policy(job.train.precision)",
           "keras.mixed_precision.global_policy()",
           ("tests/training/test_precision.py::test_mixed_bfloat16_is_applied_recorded_and_restored",)),
    Mutant("augment_flip_axis", "data.augment.flip_prob flips left-right",
           "robustkit/data/augment.py",
           "lambda x, _: tf.reverse(x, axis=[2])",
           "lambda x, _: tf.reverse(x, axis=[1])",
           ("tests/data/test_augment.py::test_flip_prob_one_reverses_width",)),
    Mutant("corruption_severity", "data.severity picks MNIST-C's parameter",
           "robustkit/data/corruptions.py",
           "return x + _BRIGHTNESS[severity - 1]",
           "return x + _BRIGHTNESS[min(severity, 4)]",
           ("tests/data/test_corruptions.py::test_known_answers",)),
    Mutant("atomic_dir_leaves_partial", "outputs appear whole or not at all",
           "robustkit/outputs.py",
           "    finally:\n        shutil.rmtree(tmp, ignore_errors=True)",
           "    finally:\n        pass",
           ("tests/test_outputs.py::test_atomic_dir_appears_only_when_complete",)),
    Mutant("config_no_suggestion", "an unknown key fails naming the nearest known key",
           "robustkit/config.py",
           "close = difflib.get_close_matches(str(name), list(fields), n=1, cutoff=0.6)",
           "close = []",
           ("tests/test_config.py::test_misspelt_key_suggests_the_nearest",)),
    Mutant("separation_r_is_min", "separation: r = min / 2",
           "robustkit/separation/summary.py",
           '"r": low / 2.0,',
           '"r": low,',
           ("tests/separation/test_summary.py::test_describe_reports_min_mean_r_and_percentiles",)),
    Mutant("testgen_global_r_not_halved", "testgen: global r is half the smallest other-label distance",
           "robustkit/testgen/run.py",
           "r = float(distances[0]) / 2.0",
           "r = float(distances[0])",
           (f"{_RADIUS}::test_global_r_is_half_the_brute_force_minimum_and_seeds_pass_the_2r_rule",)),
    Mutant("testgen_2r_rule_is_r", "testgen: a seed keeps r only if no other label lies within 2r",
           "robustkit/testgen/run.py",
           "np.where(other.distance >= 2.0 * r, r, 0.0)",
           "np.where(other.distance >= r, r, 0.0)",
           (f"{_RADIUS}::test_the_2r_rule_drops_seeds_closer_than_2r_but_not_closer_than_r",)),
    Mutant("testgen_drop_smallest_ignored", "testgen: radius.drop_smallest",
           "robustkit/testgen/run.py",
           "[job.radius.drop_smallest:]",
           "[0:]",
           (f"{_RADIUS}::test_drop_smallest_leaves_out_the_closest_distances",)),
    Mutant("testgen_radius_value_ignored", "testgen: radius.value",
           "robustkit/testgen/run.py",
           "if job.radius.value is not None:",
           "if False:",
           (f"{_RADIUS}::test_radius_value_is_used_as_given_and_still_checked_against_2r",)),
    Mutant("testgen_local_r_not_halved", "testgen: radius.mode local, each seed's own r",
           "robustkit/testgen/run.py",
           "other.distance / 2.0, 0.0)",
           "other.distance, 0.0)",
           (f"{_RADIUS}::test_local_mode_gives_each_seed_half_its_own_distance",)),
    Mutant("closure_linear_uses_chain", "CVAE closure: Q(Q(x, P(x, y)), P(x, y)) against Q(x, P(x, z))",
           "robustkit/generative/evaluate.py",
           "cvae.encode(a, b)), qy, x, y)",
           "cvae.encode(a, b)), qy, y, z)",
           ("tests/generative/test_evaluate.py::test_closure_of_a_hand_made_model_with_known_nonzero_errors",)),
    Mutant("approximation_ignores_prior_scale", "CVAE approximation error in the prior-normalised ball",
           "robustkit/generative/evaluate.py",
           "cvae.generate(x, mean + std * u)",
           "cvae.generate(x, mean + u)",
           ("tests/generative/test_evaluate.py::test_coverage_and_approximation_error_of_a_hand_made_model",)),
    Mutant("coverage_unnormalised", "CVAE coverage: the recognition code normalised by the prior",
           "robustkit/generative/evaluate.py",
           "return (cvae.encode(x, y) - prior.mean()) / prior.stddev()",
           "return cvae.encode(x, y) - prior.mean()",
           ("tests/generative/test_evaluate.py::test_coverage_and_approximation_error_of_a_hand_made_model",)),
    Mutant("learned_set_weight_swapped", "learned_set.weight: (1 - weight) * clean + weight * perturbed",
           "robustkit/training/learned_set.py",
           "tf.fill([batch], 2.0 * (1.0 - weight)), tf.fill([batch], 2.0 * weight)",
           "tf.fill([batch], 2.0 * weight), tf.fill([batch], 2.0 * (1.0 - weight))",
           ("tests/training/test_learned_set.py::test_the_first_step_loss_is_the_weighted_clean_and_perturbed_loss",)),
    Mutant("integrated_gradients_baseline", "explain: integrated_gradients baseline",
           "robustkit/explain/saliency.py",
           "baseline + a * (x[None] - baseline)",
           "a * x[None]",
           ("tests/explain/test_saliency.py::test_integrated_gradients_sum_to_the_logit_difference",)),
    Mutant("learned_set_perturbed_accuracy_of_clean", "learned_set: history and metrics add perturbed_accuracy",
           "robustkit/training/learned_set.py",
           "self.perturbed_accuracy.update_state(labels, perturbed_logits)",
           "self.perturbed_accuracy.update_state(labels, clean_logits)",
           ("tests/training/test_learned_set.py::test_train_cli_against_an_exported_set",)),
    Mutant("testgen_check_against_largest_r", "testgen: a test is kept only within its own seed's r",
           "robustkit/testgen/generate.py",
           "keep = _accept(distances < radius[owner], owner, accepted, options.per_seed)",
           "keep = _accept(distances < radius.max(), owner, accepted, options.per_seed)",
           ("tests/testgen/test_generate.py::test_latent_tests_are_checked_against_their_own_seed_r",)),
    Mutant("latent_codes_are_stddevs", "separation/testgen latent space: codes are posterior means",
           "robustkit/separation/latent.py",
           'means.append(out["mean"].numpy())',
           'means.append(out["stddev"].numpy())',
           ("tests/separation/test_latent.py::test_codec_codes_are_the_vae_posterior_means",)),
)
