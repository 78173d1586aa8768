"""Adversarial validation: config, model loading, the runner, sanity checks and the report.

`robustkit.validate_adv` is the entry point; `runner.validate(job, models)`
scores every model on the same examples and `report.write_all` writes
metrics.json, robust_accuracy.csv, the figures and report.html.
"""
