"""Writes a separation run's outputs: ``separation.json`` and ``closest_pairs.png`` (atomically)."""

import logging
from typing import Any, Dict, Mapping, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from robustkit import outputs  # noqa: E402
from robustkit.figures import save_png, show_image  # noqa: E402

log = logging.getLogger(__name__)


def _name(class_names: Sequence[str], label: int) -> str:
    return class_names[label] if 0 <= label < len(class_names) else str(label)


def closest_pairs_figure(record: Mapping[str, Any], images: Mapping[str, np.ndarray], class_names: Sequence[str],
                         path: str) -> bool:
    """Draws, per norm and pairing, the closest differently-labelled pairs side by side.

    Args:
      record: the separation record (``record[norm][pairing]['closest_pairs']``).
      images: ``{'train': images, 'test': images}`` the indices refer to (uint8 or [0, 1]).
      class_names: names by label.
      path: the PNG to write.

    Returns:
      False (and writes nothing) when there is no pair to draw.
    """
    blocks = [(norm, pairing, entry) for norm in ("linf", "l2") if norm in record
              for pairing, entry in record[norm].items()]
    rows = max((len(entry["closest_pairs"]) + len(entry["dropped"]) for _, _, entry in blocks), default=0)
    if not rows:
        return False
    cols = 3 * len(blocks) - 1  # Query, reference, and a narrow gap between blocks.
    ratios = ([1.0, 1.0, 0.35] * len(blocks))[:cols]
    height = 1.75 * rows + 0.9
    fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols + 0.4, height), squeeze=False,
                             gridspec_kw={"width_ratios": ratios})
    for ax in axes.ravel():
        ax.set_axis_off()
    unit = record.get("units", "")
    for b, (norm, pairing, entry) in enumerate(blocks):
        query_split = "train" if pairing == "train_train" else "test"
        shown = [(pair, True) for pair in entry["dropped"]] + [(pair, False) for pair in entry["closest_pairs"]]
        for row, (pair, dropped) in enumerate(shown):
            left, right = axes[row][3 * b], axes[row][3 * b + 1]
            for ax in (left, right):
                ax.set_axis_on()
            show_image(left, images[query_split][pair["query"]])
            show_image(right, images["train"][pair["reference"]])
            colour = "#999999" if dropped else "black"
            left.set_title(f"{query_split} {pair['query']}\n{_name(class_names, pair['query_label'])}", fontsize=6,
                           color=colour)
            right.set_title(f"train {pair['reference']}\n{_name(class_names, pair['reference_label'])}",
                            fontsize=6, color=colour)
            left.set_xlabel(f"{norm} {pair['distance']:.4g}" + (" (dropped)" if dropped else ""), fontsize=6,
                            color=colour)
        axes[0][3 * b].annotate(f"{norm}, {pairing.replace('_', '-')}: r = {entry['r']:.4g}" if entry["r"]
                                is not None else f"{norm}, {pairing}", xy=(0, 1.55), xycoords="axes fraction",
                                fontsize=8, fontweight="bold")
    fig.suptitle(f"closest differently-labelled pairs ({record.get('space')} space{', ' + unit if unit else ''})",
                 fontsize=9, y=1.0 - 0.12 / height)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.3 / height, top=1.0 - 1.15 / height, wspace=0.08, hspace=0.7)
    save_png(fig, path)
    return True


def console_lines(record: Mapping[str, Any]) -> str:
    """One line per norm and pairing: min, mean, r and the median."""
    lines = [f"separation in {record['space']} space ({record.get('units', '')})"]
    for norm in ("linf", "l2"):
        for pairing, entry in record.get(norm, {}).items():
            if entry["min"] is None:
                lines.append(f"  {norm:<4} {pairing:<11} no differently-labelled pairs")
                continue
            median = entry["percentiles"].get("50")
            lines.append(f"  {norm:<4} {pairing:<11} min {entry['min']:.6g}  r {entry['r']:.6g}  mean "
                         f"{entry['mean']:.6g}  median {median if median is None else f'{median:.6g}'}  "
                         f"({entry['count']} points, {entry['computation']['seconds']:.1f} s)")
    return "\n".join(lines)


def write_record(path: str, record: Dict[str, Any]) -> None:
    outputs.write_json(path, record)
