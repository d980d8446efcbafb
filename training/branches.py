"""Detector 3's branches as `training.nested.Branch`es: each fits on some folds, scores others.

- `EncoderBranch`: logistic heads on the frozen CLIP encoder's embeddings
  (`training.encoder_heads`), with or without the aligned twins;
- `FsdBranch`: Forensic Self-Descriptions scored by a mixture fitted on real photos only
  (`training.train_fsd`); it never sees an AI picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from photoloupe.detect import encoder
from photoloupe.detect.heads import FEATURE_SETS
from training import corpus, embeddings, encoder_heads, nested, train_fsd

CODE_VERSION = "1"


# Which of a picture's crops its score averages: each crop costs one pass of the encoder
# (about 0.14 s on one core). "resized" is the whole picture shrunk to 224, "centre" the
# crop at full resolution in the middle, "all" adds up to two more along the diagonal.
CROP_SETS = {"resized": 1, "resized+centre": 2, "all": 4}


def crop_subset(logits: list[float], crop_set: str) -> list[float]:
    """The crops of `crop_set` among a view's crop logits (resized first, centre second)."""
    return logits[: CROP_SETS[crop_set]]


TWIN_OPTIONS = ("twins", "no-twins")


def _uses_twins(config: str) -> bool:
    return config.split("|")[3] == "twins"


def with_twins(config: str, twins: bool) -> str:
    """The same configuration, with or without the twins."""
    return "|".join([*config.split("|")[:3], TWIN_OPTIONS[0 if twins else 1]])


@dataclass
class EncoderBranch:
    """Configurations: feature set | L2 | crop set | whether the aligned twins are trained on
    (the benchmark's first run forced the twins in and found them harmful on the held-out
    folds; from then on they are a choice of the inner cross-validation like the rest)."""

    name: str = "encoder"
    feature_sets: tuple[str, ...] = FEATURE_SETS
    l2_grid: tuple[float, ...] = encoder_heads.L2_GRID
    crop_sets: tuple[str, ...] = tuple(CROP_SETS)
    twin_options: tuple[str, ...] = TWIN_OPTIONS

    def configs(self) -> tuple[str, ...]:
        return tuple(
            f"{fs}|{l2:g}|{cs}|{tw}"
            for fs in self.feature_sets
            for l2 in self.l2_grid
            for cs in self.crop_sets
            for tw in self.twin_options
        )

    def cost(self, config: str) -> float:
        """Encoder passes per picture: the benchmark prefers the cheapest near-best config."""
        return float(CROP_SETS[config.split("|")[2]])

    def _key(self, config: str, train: tuple[int, ...], score: tuple[int, ...]) -> str:
        head = "|".join(config.split("|")[:2])  # the crop set does not change the head
        rows = encoder_heads.load_rows()
        return (
            f"rows {len(rows.path)} twins {int(rows.twin.sum())} "
            f"encoder v{CODE_VERSION} heads v{embeddings.CODE_VERSION} "
            f"{encoder.CLIP_VIT_B16_INT8.sha256[:12]} {head} twins={_uses_twins(config)} "
            f"share={encoder_heads.TWIN_SHARE:.4f} train={train} score={score}"
        )

    def head(self, config: str, train: tuple[int, ...]) -> encoder_heads.Head:
        feature_set, l2 = config.split("|")[:2]
        return encoder_heads.train_head(
            encoder_heads.load_rows(), list(train), feature_set, float(l2), _uses_twins(config)
        )

    def crops(
        self, config: str, train: tuple[int, ...], score: tuple[int, ...]
    ) -> dict[tuple[str, str], list[float]]:
        """Each crop's logit for the pictures of `score` (cached)."""

        def compute() -> dict[tuple[str, str], list[float]]:
            return encoder_heads.crop_scores(
                encoder_heads.load_rows(),
                self.head(config, train),
                list(score),
                nested.EVALUATION_VIEWS,
            )

        return nested.cached("encoder-crops", self._key(config, train, score), compute)

    def fit_and_score(
        self, config: str, train: tuple[int, ...], score: tuple[int, ...]
    ) -> nested.Scores:
        crop_set = config.split("|")[2]
        crops = self.crops(config, train, score)
        return {k: float(np.mean(crop_subset(v, crop_set))) for k, v in crops.items()}


FSD_TRAINING_VIEWS = ("clean", "train0", "train1", "train2")


@dataclass
class FsdBranch:
    name: str = "fsd"
    _descriptions: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def configs(self) -> tuple[str, ...]:
        return ("gmm",)

    def cost(self, config: str) -> float:
        return 0.0

    def descriptions(self) -> dict[str, dict[str, np.ndarray]]:
        if not self._descriptions:
            self._descriptions.update(train_fsd.descriptions())
        return self._descriptions

    def model(self, train: tuple[int, ...]) -> object:
        described = self.descriptions()
        real = [i for i in corpus.benchmark_items() if i.label == 0 and i.fold in train]
        weights = corpus.source_weights(real)
        rows, w = [], []
        for item in real:
            views = described.get(item.path, {})
            chosen = [views[v] for v in FSD_TRAINING_VIEWS if v in views]
            rows += chosen
            w += [weights[item.path] / max(1, len(chosen))] * len(chosen)
        return train_fsd.model_from(train_fsd.learn_filters(), np.stack(rows), np.array(w))

    def fit_and_score(
        self, config: str, train: tuple[int, ...], score: tuple[int, ...]
    ) -> nested.Scores:
        filters = train_fsd.learn_filters()

        def compute() -> nested.Scores:
            from photoloupe.detect.fsd import FsdModel

            model = self.model(train)
            assert isinstance(model, FsdModel)
            described = self.descriptions()
            out: nested.Scores = {}
            for item in corpus.benchmark_items():
                if item.fold not in score:
                    continue
                for view in nested.EVALUATION_VIEWS:
                    d = described.get(item.path, {}).get(view)
                    if d is not None:
                        out[(view, item.path)] = -model.z_score(d)
            return out

        key = (
            f"fsd v{CODE_VERSION} filters {train_fsd.filters_digest(filters)} "
            f"described {len(self.descriptions())} "
            f"pca {train_fsd.PCA_DIMENSIONS} m {train_fsd.MIXTURE_COMPONENTS} "
            f"train={train} score={score}"
        )
        return nested.cached(self.name, key, compute)


FEATURES_TRAINING_VIEWS = ("clean", "train0", "train1", "train2")


@dataclass
class FeaturesBranch:
    """Detector 2's hand-crafted residual features with a logistic regression, refitted on
    detector 3's corpus, views and folds (benchmark only: it measures the features alone and
    whether they add anything to the stack)."""

    name: str = "features"
    _tiles: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def configs(self) -> tuple[str, ...]:
        return ("logistic",)

    def cost(self, config: str) -> float:
        return 0.0

    def tiles(self) -> dict[str, dict[str, np.ndarray]]:
        if not self._tiles:
            from training import feature_views

            self._tiles.update(feature_views.features())
        return self._tiles

    def fit_and_score(
        self, config: str, train: tuple[int, ...], score: tuple[int, ...]
    ) -> nested.Scores:
        from training import feature_views

        def compute() -> nested.Scores:
            from training.metrics import fit_logistic
            from training.train_detector import L2

            tiles = self.tiles()
            items = [i for i in corpus.benchmark_items() if i.fold in train]
            weights = corpus.source_weights(items)
            x, y, w = [], [], []
            for item in items:
                views = tiles.get(item.path, {})
                chosen = [views[v] for v in FEATURES_TRAINING_VIEWS if v in views]
                n = sum(len(t) for t in chosen)
                for t in chosen:
                    x.append(t)
                    y += [item.label] * len(t)
                    w += [weights[item.path] / max(1, n)] * len(t)
            xs = np.concatenate(x).astype(np.float64)
            mean, scale = xs.mean(axis=0), xs.std(axis=0) + 1e-6
            coef, bias = fit_logistic((xs - mean) / scale, np.array(y, float), L2, np.array(w))
            out: nested.Scores = {}
            for item in corpus.benchmark_items():
                if item.fold not in score:
                    continue
                for view in nested.EVALUATION_VIEWS:
                    t = tiles.get(item.path, {}).get(view)
                    if t is not None:
                        out[(view, item.path)] = float((((t - mean) / scale) @ coef + bias).mean())
            return out

        key = (
            f"features v{CODE_VERSION} cache {feature_views.CODE_VERSION} {len(self.tiles())} "
            f"train={train} score={score}"
        )
        return nested.cached(self.name, key, compute)


@dataclass
class PatchBranch:
    """The LaDeDa-style patch network (`training.train_patch`): one network per set of
    excluded folds, cached; it scores only pictures of the folds it was trained without."""

    name: str = "patch"
    _bank: list[object] = field(default_factory=list)

    def configs(self) -> tuple[str, ...]:
        return ("tiny",)

    def cost(self, config: str) -> float:
        return 0.0

    def fit_and_score(
        self, config: str, train: tuple[int, ...], score: tuple[int, ...]
    ) -> nested.Scores:
        from training import train_patch

        if not self._bank:
            self._bank.append(train_patch.build_bank())
        bank = self._bank[0]
        assert isinstance(bank, train_patch.PatchBank)
        excluded = tuple(sorted(set(nested.FOLDS) - set(train)))
        scores = train_patch.scores_without(bank, excluded)
        items = {i.path: i for i in corpus.benchmark_items()}
        return {k: v for k, v in scores.items() if items[k[1]].fold in score}
