"""Writes a validation's outputs: metrics.json, robust_accuracy.csv, the figures and report.html.

Every file is written atomically (`robustkit.outputs`). The console table
(`console_table`) follows the ``base model accuracy: ...`` lines of the
Tiny-ImageNet classifier report, "Adversarially-Trained Classifier", one block per attack.
"""

import csv
import html
import io
import json
import os
from typing import Any, Dict, List, Optional

from robustkit import html_page, outputs, versions
from robustkit.evaluation import plots, robustbench
from robustkit.evaluation import corruption_report
from robustkit.evaluation.scoring import Results

FILES = ("metrics.json", "robust_accuracy.csv", "accuracy_vs_eps.png", "examples.png", "report.html")


def _fmt(value: Optional[float], digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _eps(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:g}"


def sanity_summary(results: Results) -> Dict[str, int]:
    verdicts = [c["passed"] for c in results.sanity]
    return {"passed": verdicts.count(True), "failed": verdicts.count(False), "skipped": verdicts.count(None)}


def metrics(results: Results, seed: int, command: str) -> Dict[str, Any]:
    """The metrics.json record: what was measured, on how many examples, with which versions."""
    models = {}
    for name in results.models:
        attacks: Dict[str, List[Dict[str, Any]]] = {}
        for row in results.rows:
            if row.model != name:
                continue
            entry = {k: getattr(row, k) for k in ("epsilon", "accuracy", "success_rate", "examples", "mean_linf",
                                                  "mean_l2", "target_hit_rate")}
            attacks.setdefault(row.attack, []).append({**entry, **row.extras})
        models[name] = {**results.models_info.get(name, {}), "attacks": attacks,
                        "worst_case": results.worst_case.get(name, {}), "input_gradients": results.gradients.get(name),
                        "large_epsilon_pgd": results.large_epsilon.get(name),
                        "autoattack": results.autoattack.get(name, [])}
    attacks_info = {label: {k: v for k, v in vars(info).items() if k != "label"}
                    for label, info in results.attacks.items()}
    return {
        "examples": results.num_examples,
        "seed": seed,
        "data": results.data,
        "models": models,
        "attacks": attacks_info,
        "sanity": {**sanity_summary(results), "checks": results.sanity},
        "versions": versions.library_versions(),
        "command": command,
    }


def csv_text(results: Results) -> str:
    """robust_accuracy.csv: one row per model, attack and epsilon, plus clean and worst-case rows."""
    extras = sorted({k for r in results.rows for k in r.extras})
    fields = ["model", "attack", "attack_name", "norm", "epsilon", "examples", "accuracy", "success_rate",
              "target_hit_rate", "mean_linf", "mean_l2", *extras]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for name in results.models:
        writer.writerow({"model": name, "attack": "clean", "attack_name": "clean", "epsilon": 0.0,
                         "examples": results.num_examples, "accuracy": results.clean_accuracy(name)})
    for row in results.rows:
        writer.writerow({"model": row.model, "attack": row.attack, "attack_name": row.name, "norm": row.norm,
                         "epsilon": row.epsilon, "examples": row.examples, "accuracy": row.accuracy,
                         "success_rate": row.success_rate, "target_hit_rate": row.target_hit_rate,
                         "mean_linf": row.mean_linf, "mean_l2": row.mean_l2, **row.extras})
    for name in results.models:
        for norm, rows in results.worst_case.get(name, {}).items():
            for r in rows:
                writer.writerow({"model": name, "attack": f"worst_case_{norm}", "attack_name": "worst_case",
                                 "norm": norm, "epsilon": r["epsilon"], "examples": results.num_examples,
                                 "accuracy": r["accuracy"]})
    return buffer.getvalue()


def console_table(results: Results) -> str:
    """Per attack, per epsilon: ``<model> model accuracy: ...`` for every model.

    The layout of the accuracy lines of "Adversarially-Trained Classifier".
    """
    width = max(len(m) for m in results.models) + len(" model accuracy:")
    lines = [f"clean ({results.num_examples} examples)"]
    lines += [f"  {(m + ' model accuracy:').ljust(width)} {results.clean_accuracy(m):.6f}" for m in results.models]
    for label, info in results.attacks.items():
        lines.append(f"{label}: {info.description} on {info.examples} examples")
        epsilons = sorted({r.epsilon for r in results.rows if r.attack == label},
                          key=lambda e: -1.0 if e is None else e)
        for eps in epsilons:
            cells = "   ".join(
                f"{m} model accuracy: {results.accuracy(m, label, eps):.6f}" for m in results.models
            )
            lines.append(f"  epsilon {_eps(eps):<6} {cells}" if eps is not None else f"  {cells}")
    for norm in sorted({n for m in results.models for n in results.worst_case.get(m, {})}):
        lines.append(f"worst case over {norm} attacks (per example)")
        for i, row in enumerate(results.worst_case[results.models[0]].get(norm, [])):
            cells = "   ".join(
                f"{m} model accuracy: {results.worst_case[m][norm][i]['accuracy']:.6f}" for m in results.models
            )
            lines.append(f"  epsilon {_eps(row['epsilon']):<6} {cells}")
    for name in results.models:
        for entry in results.autoattack.get(name, []):
            stages = ", ".join(f"{s['stage']} {s['accuracy']:.4f}" for s in entry["stages"])
            lines.append(f"autoattack {entry['version']} ({entry['attack']}) on {name} at epsilon "
                         f"{_eps(entry['epsilon'])}: clean {entry['clean_accuracy']:.4f}, after {stages}")
    lines += corruption_report.console_lines(results)
    summary = sanity_summary(results)
    lines.append(f"sanity checks: {summary['passed']} passed, {summary['failed']} failed, "
                 f"{summary['skipped']} skipped")
    for check in results.sanity:
        if check["passed"] is False:
            lines.append(f"  FAILED {check['name']} ({check['model']}): {check['details']}")
    return "\n".join(lines)


def _table(header: List[str], rows: List[List[str]]) -> str:
    return html_page.table(header, rows, fmt=html_page.markup)  # Cells are formatted (and escaped) above.


def html_text(results: Results, record: Dict[str, Any], has_examples: bool) -> str:
    """report.html: the tables, the sanity checks and both figures, in one page."""
    e = html.escape
    models = results.models
    parts = [f"<h1>Adversarial validation: {e(', '.join(models))}</h1>",
             f"<p>{results.num_examples} examples of {e(str(results.data.get('name')))}:"
             f"{e(str(results.data.get('split')))}, images {e(str(results.data.get('image_shape')))}, "
             f"seed {record['seed']}. Every model is scored on the same examples.</p>", "<h2>Models</h2>"]
    parts.append(_table(["model", "path", "clean accuracy", "input range", "notes"], [
        [e(m), e(results.models_info[m]["path"]), _fmt(results.clean_accuracy(m)),
         e(results.models_info[m]["input_range"]), "<br>".join(e(n) for n in results.models_info[m]["notes"])]
        for m in models]))
    summary = sanity_summary(results)
    parts.append(f"<h2>Sanity checks: {summary['passed']} passed, {summary['failed']} failed, "
                 f"{summary['skipped']} skipped</h2>")
    verdict = {True: '<span class="pass">passed</span>', False: '<span class="fail">FAILED</span>',
               None: '<span class="skip">skipped</span>'}
    parts.append(_table(["check", "model", "result", "numbers"], [
        [e(c["name"]), e(c["model"]), verdict[c["passed"]], e(c["details"])] for c in results.sanity]))
    parts.append('<h2>Accuracy against epsilon</h2><img src="accuracy_vs_eps.png" alt="accuracy against epsilon">')
    for label, info in results.attacks.items():
        parts.append(f"<h3>{e(label)}: {e(info.description)} ({info.examples} examples, {info.seconds:.1f} s)</h3>")
        header = ["epsilon"] + [f"{m} accuracy" for m in models] + [f"{m} success rate" for m in models]
        extras = sorted({k for r in results.rows if r.attack == label for k in r.extras if k.startswith("mean_")})
        header += [f"{m} {k}" for m in models for k in extras]
        table_rows = []
        for eps in sorted({r.epsilon for r in results.rows if r.attack == label}, key=lambda x: x or 0.0):
            rows = {r.model: r for r in results.rows if r.attack == label and r.epsilon == eps}
            table_rows.append([_eps(eps)] + [_fmt(rows[m].accuracy) for m in models]
                              + [_fmt(rows[m].success_rate) for m in models]
                              + [_fmt(rows[m].extras.get(k), 3) for m in models for k in extras])
        parts.append(_table(header, table_rows))
    for norm in sorted({n for m in models for n in results.worst_case.get(m, {})}):
        parts.append(f"<h3>Worst case per example over {e(norm)} attacks</h3>")
        first = results.worst_case[models[0]][norm]
        parts.append(_table(["epsilon"] + models, [
            [_eps(r["epsilon"])] + [_fmt(results.worst_case[m][norm][i]["accuracy"]) for m in models]
            for i, r in enumerate(first)]))
    parts += _autoattack_html(results)
    parts += corruption_report.html_section(results)
    if has_examples:
        parts.append('<h2>Examples</h2><img src="examples.png" alt="adversarial examples">')
    parts.append("<h2>Attack parameters</h2><pre>" + e(json.dumps(record["attacks"], indent=2)) + "</pre>")
    parts.append("<h2>Versions</h2><pre>" + e(json.dumps(record["versions"], indent=2)) + "</pre>")
    parts.append(f"<p>Command: <code>{e(record['command'])}</code></p>")
    return html_page.page("robustkit validation", parts)


def _autoattack_html(results: Results) -> List[str]:
    """Per model and AutoAttack run: the robust accuracy after every stage and its cost."""
    e = html.escape
    parts = []
    for name in results.models:
        for entry in results.autoattack.get(name, []):
            parts.append(f"<h3>AutoAttack {e(entry['version'])} ({e(entry['attack'])}) on {e(name)}, "
                         f"{e(entry['norm'])} epsilon {_eps(entry['epsilon'])}, {entry['examples']} examples</h3>")
            rows = [["clean", _fmt(entry["clean_accuracy"]), "-", "-", "-"]]
            rows += [[e(s["stage"]), _fmt(s["accuracy"]), str(s["examples"]), str(s["fooled"]), f"{s['seconds']:.1f}"]
                     for s in entry["stages"]]
            parts.append(_table(["after stage", "robust accuracy", "examples attacked", "fooled", "seconds"], rows))
    if parts:
        parts.insert(0, "<h2>AutoAttack, stage by stage</h2>")
    return parts


def write_all(results: Results, out_dir: str, seed: int, command: str) -> Dict[str, str]:
    """Writes every output into ``out_dir``; returns file name -> path of what was written."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, name) for name in FILES}
    record = metrics(results, seed, command)
    paths.update(corruption_report.write(results, record, out_dir))  # Adds the corruption metrics to record.
    outputs.write_json(paths["metrics.json"], record)
    outputs.write_text(paths["robust_accuracy.csv"], csv_text(results))
    plots.accuracy_vs_epsilon(results, paths["accuracy_vs_eps.png"])
    has_examples = plots.adversarial_examples(results, paths["examples.png"])
    if not has_examples:
        del paths["examples.png"]
    outputs.write_text(paths["report.html"], html_text(results, record, has_examples))
    for model, path in robustbench.write_records(results, out_dir, seed, command).items():
        paths[f"robustbench/{model}.json"] = path
    return paths
