"""``docs/results.md`` from the experiments' numbers: every table, picture and how they were made."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from core.metrics import PoseMetrics
from train.doc_sections import markers, write_section
from train.experiments.breakdown import ErrorBreakdown
from train.experiments.probe import ContentSwap, LatentSwaps
from train.experiments.training import TrainedModel

START, END = markers("experiments")

SECTIONS = (
    "## How these numbers were made",
    "## 1. dVAE and its peers at an equal budget",
    "## 2. Semi-supervised",
    "## 3. Weakly supervised",
    "## 4. Synthesis pose fidelity",
    "## 5. Disentanglement",
    "## 6. Pictures",
    "## Published numbers on real data",
)
PUBLISHED = (
    ("Zimmermann & Brox, ICCV'17", "0.675", "0.948"),
    ("Spurr et al., CVPR'18 (cross-modal VAE)", "0.849", "0.983"),
    ("dVAE, CVPR'19", "0.849", "0.991"),
    ("Yang et al., ICCV'19 (aligned latent spaces)", "0.943", "0.996"),
)


@dataclass
class Evaluated:
    """A trained model and its metrics on the synthetic test set."""

    trained: TrainedModel
    metrics: PoseMetrics
    checkpoint: Path | None = None


@dataclass
class ExperimentResults:
    """Everything the report shows."""

    command: str
    machine: str
    date: str
    setup_lines: list[str]
    main: list[Evaluated] = field(default_factory=list)
    breakdown: dict[str, ErrorBreakdown] = field(default_factory=dict)  # section 1's models by name
    dvae_embed_steps: int = 0          # of the dVAE's steps, those that train its image encoder on pose
    semi: list[Evaluated] = field(default_factory=list)
    weak: list[Evaluated] = field(default_factory=list)
    fidelity: dict[str, PoseMetrics] = field(default_factory=dict)
    background: dict[str, ContentSwap] = field(default_factory=dict)
    latent: dict[str, LatentSwaps] = field(default_factory=dict)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (caption, path relative to results.md)
    seconds: float = 0.0


def _num(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def metrics_table(rows: list[Evaluated]) -> list[str]:
    lines = ["| model | 3D error mean (mm) | median (mm) | AUC 20-50 | AUC 0-50 | PA-EPE (mm) | 2D error (px) "
             "| samples | train steps x batch | train time (s) | parameters |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        m, t = row.metrics, row.trained
        lines.append(f"| {t.name} | {_num(m.epe_mean_mm)} | {_num(m.epe_median_mm)} | {_num(m.auc_20_50, 3)} "
                     f"| {_num(m.auc_0_50, 3)} | {_num(m.pa_epe_mean_mm)} | {_num(m.px_mean)} | {m.n} "
                     f"| {t.steps} x {t.samples // max(t.steps, 1)} | {t.seconds:.0f} | {t.parameters:,} |")
    return lines


def _setup(results: ExperimentResults) -> list[str]:
    return [SECTIONS[0], "", f"Command: `{results.command}`", "", f"Machine: {results.machine}. Date: {results.date}. "
            f"Wall time of the whole command: {results.seconds / 60:.1f} min.", "",
            *[f"- {line}" for line in results.setup_lines], ""]


def _main(results: ExperimentResults) -> list[str]:
    return [SECTIONS[1], "",
            "Same synthetic training stream, same image encoder class (`core.models.ImageEncoder`), same pose "
            "output construction (`R(viewpoint) @ canonical pose`), same optimiser and number of samples; the dVAE "
            "spends its steps on its two training steps. Evaluated on the fixed synthetic test set with the "
            "hand3d protocol (palm root, prediction scaled to the ground truth's middle MCP->PIP bone, visible "
            "keypoints only; `python -m train.evaluate`).", "", *metrics_table(results.main), "",
            *_breakdown(results)]


def _breakdown(results: ExperimentResults) -> list[str]:
    if not results.breakdown:
        return []
    lines = ["### Where the errors come from", "",
             "Each model's 3D pose is `R(viewpoint) @ canonical pose`, mirrored for a left hand. Putting the truth "
             "in place of one factor at a time shows which factor carries the error (mean palm-relative joint "
             "distance at the true hand scale, no rescaling, every joint; the whole test set). For the dVAE, "
             "the last column sends the true labels through its label encoders and decoders (no image): the floor "
             "its image encoder can reach in the embedding step.", "",
             "| model | as estimated (mm) | true side (mm) | true viewpoint + side (mm) | true canonical pose (mm) "
             "| viewpoint error (deg) | side right | labels through the latent (mm) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, b in results.breakdown.items():
        trip = "" if b.label_round_trip_mm is None else _num(b.label_round_trip_mm)
        lines.append(f"| {name} | {_num(b.estimated_mm)} | {_num(b.true_side_mm)} | {_num(b.true_viewpoint_mm)} | {_num(b.true_canonical_mm)} "
                     f"| {_num(b.viewpoint_error_deg, 1)} | {b.handedness_correct:.1%} | {trip} |")
    return lines + [""] + _comparison(results)


def _comparison(results: ExperimentResults) -> list[str]:
    """The dVAE against direct regression in words, with the numbers behind the difference."""
    rows = {e.trained.name: e for e in results.main}
    dvae, direct = rows.get("dVAE"), rows.get("direct regression")
    if dvae is None or direct is None or "dVAE" not in results.breakdown:
        return []
    gap = dvae.metrics.epe_mean_mm - direct.metrics.epe_mean_mm
    verdict = "worse than" if gap > 0 else "no worse than"
    b, d = results.breakdown["dVAE"], results.breakdown.get("direct regression")
    text = (f"**The dVAE is {verdict} direct regression here**: {_num(dvae.metrics.epe_mean_mm)} mm against "
            f"{_num(direct.metrics.epe_mean_mm)} mm mean 3D error ({gap:+.2f} mm). Its image encoder learns pose "
            f"only in the embedding step, {results.dvae_embed_steps} of its {dvae.trained.steps} steps, while "
            f"the baselines' encoders learn it in all {direct.trained.steps}; and it reads pose through the "
            f"latent, whose label round trip alone costs {_num(b.label_round_trip_mm)} mm.")
    if d is not None:
        text += (f" With the true side of the hand its error becomes {_num(b.true_side_mm)} mm (direct regression: "
                 f"{_num(d.true_side_mm)} mm); with the true viewpoint and side, {_num(b.true_viewpoint_mm)} mm "
                 f"({_num(d.true_viewpoint_mm)} mm); with the true canonical pose, "
                 f"{_num(b.true_canonical_mm)} mm ({_num(d.true_canonical_mm)} mm).")
    return [text, ""]


def _semi(results: ExperimentResults) -> list[str]:
    return [SECTIONS[2], "",
            "A fixed pool of synthetic training samples; the same fixed subset (the share is in the row names) "
            "keeps its labels in both runs. "
            "Adding the rest as unlabelled images (the plain ELBO in the embedding step) against training "
            "on the labelled subset alone, at the same number of steps.", "", *metrics_table(results.semi), ""]


def _weak(results: ExperimentResults) -> list[str]:
    return [SECTIONS[3], "",
            "The same pool and labelled subset: it keeps its 3D labels; the rest keeps only its 2D keypoints "
            "(the reprojection term of the embedding step) or is left out.", "", *metrics_table(results.weak), ""]


def _fidelity(results: ExperimentResults) -> list[str]:
    lines = [SECTIONS[4], "",
             "The direct-regression baseline judges the dVAE's syntheses: the dVAE draws each test pose (pose and "
             "viewpoint through its label encoders, content from the sample's content tag); the judge's error "
             "against the conditioning pose is next to its error on the real renders of the same poses (every "
             "joint counts).", "",
             "| judge input | 3D error mean (mm) | AUC 20-50 | PA-EPE (mm) | samples |", "|---|---|---|---|---|"]
    for name, m in results.fidelity.items():
        lines.append(f"| {name} | {_num(m.epe_mean_mm)} | {_num(m.auc_20_50, 3)} | {_num(m.pa_epe_mean_mm)} | {m.n} |")
    return lines + [""]


def _disentanglement(results: ExperimentResults) -> list[str]:
    lines = [SECTIONS[5], "",
             "**Content changed in the input.** The renderer draws each test hand again, identical in pose, "
             "shape, viewpoint and framing, with another background, skin tone and lighting: how far each "
             "model's estimated 3D pose moves, next to how far the "
             "estimates of two different test hands lie apart (mean palm-relative joint distance, mm; lower "
             "shift = pose estimate more independent of content).", "",
             "| model | pose shift, content changed (mm) | different hands (mm) | ratio |", "|---|---|---|---|"]
    for name, swap in results.background.items():
        lines.append(f"| {name} | {_num(swap.shift_mm)} | {_num(swap.reference_mm)} "
                     f"| {_num(swap.shift_mm / swap.reference_mm if swap.reference_mm else float('nan'), 3)} |")
    lines += ["", "**Blocks changed in the dVAE's latent.** Swapping only the content (+ free) blocks of two test "
              "latents and decoding: how far the judge's 3D pose estimate of the decoded image moves. Swapping "
              "only the viewpoint block: how far the canonical pose read back from the decoded image moves, and how "
              "far the read-back viewpoint turns.", "",
              "| judge | 3D pose shift, content swapped (mm) | different samples (mm) | canonical pose shift, "
              "viewpoint swapped (mm) | different samples (mm) | viewpoint turn (deg) |",
              "|---|---|---|---|---|---|"]
    for name, s in results.latent.items():
        lines.append(f"| {name} | {_num(s.content_pose_shift_mm)} | {_num(s.content_reference_mm)} "
                     f"| {_num(s.viewpoint_canonical_shift_mm)} | {_num(s.viewpoint_reference_mm)} "
                     f"| {_num(s.viewpoint_turn_deg, 1)} |")
    return lines + [""]


def _pictures(results: ExperimentResults) -> list[str]:
    lines = [SECTIONS[6], ""]
    for caption, path in results.figures:
        lines += [f"**{caption}**", "", f"![{caption}]({path})", ""]
    return lines


def _published() -> list[str]:
    lines = [SECTIONS[7], "",
             "For context only (AUC of PCK 20-50 mm; the papers' numbers, not reproduced here). Our tables above "
             "are on synthetic renders; on real data run, for each trained checkpoint in the work folder:", "",
             "```bash", "python -m train.evaluate --checkpoint CHECKPOINT --dataset rhd:RHD_published_v2 --json",
             "python -m train.evaluate --checkpoint CHECKPOINT --dataset stb:STB --json", "```", "",
             "| method | RHD | STB |", "|---|---|---|"]
    return lines + [f"| {m} | {r} | {s} |" for m, r, s in PUBLISHED] + [""]


def render_markdown(results: ExperimentResults) -> str:
    """The experiments' section of ``results.md`` (between its markers)."""
    parts = [START, "## The method against its peers", "",
             "Written by `python -m train.experiments --out docs` (the command below); rerun it to refresh every "
             "number and picture of this section, up to \"Published numbers on real data\". The dVAE against "
             "direct regression and the cross-modal VAE at an equal budget (tiny networks on a CPU, not the "
             "bundled model); synthetic numbers measure the methods on our renderer's hands, not on real photos.",
             ""]
    for section in (_setup, _main, _semi, _weak, _fidelity, _disentanglement, _pictures):
        parts += section(results)
    parts += _published()
    return "\n".join(parts).rstrip() + "\n\n" + END


def write_report(results: ExperimentResults, path: Path) -> Path:
    """Write the experiments' section into ``results.md`` (a new file starts with a title); every
    other part of the file, the other commands' sections among them, stays as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("# Results\n", encoding="utf-8")
    write_section(path, render_markdown(results), START, END)
    return path
