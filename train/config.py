"""The configuration of ``python -m train.fit``: one TOML file -> typed ``FitConfig``.

A file may begin with ``extends = "base.toml"`` (relative to the file): it then states only what
differs from that base; its tables are merged over the base's, key by key (lists replace).
Tables (all optional; missing keys keep the defaults; unknown tables or keys are errors that
name the file, table and key):

    [model]        core.models.DVAEConfig (image_size, widths, layout = {blocks = [...]}, ...)
    [data]         DataConfig: where samples come from, batch size, semi/weak supervision
    [data.synthetic]  core.data.synthetic.SyntheticConfig: [data.synthetic.scene], .render, ...
    [schedule]     ScheduleConfig: disentangle_steps, embed_steps
    [optimizer]    OptimizerConfig: lr, betas, weight_decay, warmup_steps, cosine, min_lr_fraction
    [trainer]      TrainerConfig without max_steps/checkpoint_dir (from [schedule] and --out);
                   defaults as TrainerConfig's but FIT_TRAINER_DEFAULTS (device, grad_clip)
    [disentangle]  core.models.DisentangleConfig (loss weights of step 1)
    [embed]        core.models.EmbeddingConfig (loss weights of step 2)
    [grid]         GridConfig: the sample grid written at each evaluation
    [init]         InitConfig: start from a trained model's weights (fine-tuning)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.data.synthetic import SyntheticConfig
from core.models.config import DVAEConfig
from core.models.objectives import DisentangleConfig, EmbeddingConfig
from train.loop.optim import OptimizerConfig
from train.loop.schedule import ScheduleConfig
from core.config_io import ConfigError, from_table, read_toml, to_table
from train.loop.trainer import TrainerConfig

# [trainer] defaults of a fit run that differ from the generic TrainerConfig's: pick the GPU when
# there is one, clip the global gradient norm at 5 (every shipped config but tiny.toml does)
FIT_TRAINER_DEFAULTS: dict[str, Any] = {"device": "auto", "grad_clip": 5.0}

# [data] source: "synthetic", or "<kind>:<folder>" with one of these kinds
DATASET_KINDS = ("cached", "rhd", "stb", "freihand")


@dataclass
class DataConfig:
    """Where the samples come from and how much of them is labelled.

    ``source``: "synthetic" (rendered on the fly) or "cached:DIR", "rhd:DIR", "stb:DIR",
    "freihand:DIR". Semi/weak supervision applies to the embedding step: with ``unlabelled_dir``
    each batch holds ``round(batch_size * labelled_fraction)`` source samples and the rest photos
    from that folder; without it a fraction ``1 - labelled_fraction`` of the source's samples have
    their labels removed. ``weak_fraction`` of all samples keep only their 2D keypoints
    (``weak_fraction <= labelled_fraction``).
    """

    source: str = "synthetic"
    batch_size: int = 32
    seed: int = 0
    num_workers: int = 0         # DataLoader workers for datasets on disk
    labelled_fraction: float = 1.0
    weak_fraction: float = 0.0
    unlabelled_dir: str = ""
    skip_bad: bool = True        # skip unreadable dataset files (logged) instead of stopping
    render_device: str = ""      # synthetic: "" renders on the training device (the GPU when training there)
    # synthetic: renderer, scene, background and augmentation options (core.data.synthetic);
    # the render size is always [model]'s output size (decoder_image_size, else image_size)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.weak_fraction <= self.labelled_fraction <= 1.0:
            raise ValueError(f"need 0 <= weak_fraction ({self.weak_fraction}) <= labelled_fraction "
                             f"({self.labelled_fraction}) <= 1")
        if self.labelled_fraction == 0.0 and self.unlabelled_dir:
            raise ValueError("labelled_fraction 0 with unlabelled_dir leaves no labelled rows at all")
        self.source_kind()  # validates

    def source_kind(self) -> tuple[str, str]:
        """("synthetic", "") or (kind, folder) parsed from ``source``."""
        if self.source == "synthetic":
            return "synthetic", ""
        kind, sep, folder = self.source.partition(":")
        if not sep or kind not in DATASET_KINDS or not folder:
            raise ValueError(f"source must be 'synthetic' or '<kind>:<folder>' with kind in {DATASET_KINDS}, "
                             f"got {self.source!r}")
        return kind, folder


@dataclass
class InitConfig:
    """Where the model's weights start: ``weights`` "" is a fresh initialisation; otherwise a
    model file (``model.safetensors`` of a run, or "default" for the bundled model) whose
    architecture must equal ``[model]``. Fine-tuning: e.g. ``disentangle_steps = 0`` and more
    embedding steps on new data. Relative paths are read from the working directory."""

    weights: str = ""
    # Partial start: only these networks of the model (``DVAE`` attribute names, e.g.
    # "image_encoder", "pose_decoder") are loaded, the rest start fresh, and the two
    # architectures need only agree on them. Empty: the whole model, same architecture.
    modules: tuple[str, ...] = ()


@dataclass
class GridConfig:
    """The sample grid: ``columns`` evaluation samples, rows chosen by the model's grid renderer."""

    columns: int = 8
    tile: int = 0                # tile side in pixels (0: the model's image size, at least 96)


@dataclass
class FitConfig:
    """Everything ``train.fit`` needs besides the command line."""

    model: DVAEConfig = field(default_factory=DVAEConfig)
    data: DataConfig = field(default_factory=DataConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(**FIT_TRAINER_DEFAULTS))
    disentangle: DisentangleConfig = field(default_factory=DisentangleConfig)
    embed: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    init: InitConfig = field(default_factory=InitConfig)

    @property
    def total_samples(self) -> int:
        """Samples seen over both steps on one process (x processes under torchrun)."""
        return (self.schedule.disentangle_steps + self.schedule.embed_steps) * self.data.batch_size

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible (stored in checkpoints)."""
        out = to_table(self)
        out["model"] = self.model.to_dict()
        out["disentangle"] = self.disentangle.to_dict()
        out["embed"] = self.embed.to_dict()
        return out


def _from_dict(build: Callable[[dict[str, Any]], Any], table: Any, where: str) -> Any:
    """Use a core config's own ``from_dict``, with the file and table in its errors."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {type(table).__name__}")
    try:
        return build(table)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _subtable(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    return data if isinstance(data, dict) else {}


def parse_fit_config(data: dict[str, Any], source: str = "<config>") -> FitConfig:
    """A parsed TOML document -> ``FitConfig``; ``source`` names the file in errors."""
    known = ("model", "data", "schedule", "optimizer", "trainer", "disentangle", "embed", "grid", "init")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown table(s) {unknown}; known tables: {list(known)}")
    trainer_table = dict(data.get("trainer", {}))
    for key, set_by in (("max_steps", "[schedule]"), ("checkpoint_dir", "--out")):
        if key in trainer_table:
            raise ConfigError(f"{source} [trainer]: '{key}' is set by {set_by}, remove it here")
    trainer_table = {**FIT_TRAINER_DEFAULTS, **trainer_table}
    if "size" in _subtable(data, "data", "synthetic", "render"):
        raise ConfigError(f"{source} [data.synthetic.render]: 'size' is set by [model] image_size (or decoder_image_size), remove it here")
    return FitConfig(
        model=_from_dict(DVAEConfig.from_dict, data.get("model", {}), f"{source} [model]"),
        data=from_table(DataConfig, data.get("data", {}), f"{source} [data]"),
        schedule=from_table(ScheduleConfig, data.get("schedule", {}), f"{source} [schedule]"),
        optimizer=from_table(OptimizerConfig, data.get("optimizer", {}), f"{source} [optimizer]"),
        trainer=from_table(TrainerConfig, trainer_table, f"{source} [trainer]"),
        disentangle=_from_dict(DisentangleConfig.from_dict, data.get("disentangle", {}), f"{source} [disentangle]"),
        embed=_from_dict(EmbeddingConfig.from_dict, data.get("embed", {}), f"{source} [embed]"),
        grid=from_table(GridConfig, data.get("grid", {}), f"{source} [grid]"),
        init=from_table(InitConfig, data.get("init", {}), f"{source} [init]"),
    )


def load_fit_config(path: Path | str) -> FitConfig:
    """Read and check a TOML config file, merged over the base its ``extends`` key names
    (``core.config_io.read_toml``); errors name the file."""
    return parse_fit_config(read_toml(path), str(path))
