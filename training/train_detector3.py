"""Rebuild detector 3 (frozen encoder heads + Forensic Self-Descriptions) from ../shared/data.

    make train        # or: .venv/bin/python -m training.train_detector3

Steps (cached under training/.cache/; the `train` extra provides torch for the twins and the
FSD filters):
1. `training.twins`: one aligned twin of every real photo, a round trip through the
   pretrained autoencoder taef2 (`../shared/models`, training data only); the project's own
   autoencoders are an experiment outside `make train` (`python -m training.twins
   --own-autoencoders`), none having reached the PSNR bar;
2. `training.embeddings`: the frozen encoder's embeddings of every view (clean, repost,
   resized) of every picture and twin;
3. `training.train_fsd`: the FSD filter bank (development photos only) and the descriptions;
4. `training.nested` over the 5 leave-source-out folds: the encoder head's configuration
   (feature set x L2 x crop set x twins on or off) with the best out-of-fold AUC; the stack
   rule (a branch joins only if it raises the pooled AUC by JOIN_GAIN and lowers it in no
   condition); the stack and threshold (TARGET_FPR of out-of-fold real photos) fitted on
   those out-of-fold scores, and each stack member's Platt calibration;
5. the head refitted on every fold with the chosen configuration; the FSD mixture on every
   real photo (stored, run only if FSD is in the stack);
6. weights + manifest into src/photoloupe/detect/weights/: the weights carry everything that
   decides a verdict (threshold, branches, feature and crop sets) and the manifest repeats it
   with the sha256 of the weights and of the encoder.

The benchmark (`benchmarks/detect.py`) repeats steps 4-5 inside each of its outer folds.
"""

from __future__ import annotations

import hashlib
import io
import json
import os

import numpy as np

from photoloupe.detect import encoder, ensemble
from photoloupe.detect.ensemble import MANIFEST_FILE, WEIGHTS_FILE
from training import branches, corpus, embeddings, nested, train_fsd, twins
from training.metrics import fit_platt
from training.train_detector import WEIGHTS_DIR

VERSION = "3.0.0"
# The branches the run-time detector (`photoloupe.detect.ensemble`) can run, so the only ones
# that may join the stack; the benchmark measures others (features, patch network) alone.
STACKABLE = ("encoder", "fsd")
NAME = "photoloupe-encoder-fsd"


def build_caches(workers: int) -> None:
    twins.build(workers)
    embeddings.build_corpus(workers)
    embeddings.build_twins(workers)
    train_fsd.descriptions(workers)


def platt_of(scores: nested.Scores) -> tuple[float, float]:
    y_of = nested.labels()
    keys = [k for k in scores if k[0] in nested.EVALUATION_VIEWS]
    return fit_platt(
        np.array([scores[k] for k in keys]), np.array([y_of[p] for _, p in keys], float)
    )


def main() -> None:
    workers = int(os.environ.get("WORKERS", "2"))
    build_caches(workers)
    enc = branches.EncoderBranch()
    fsd_branch = branches.FsdBranch()
    chosen = nested.choose(enc, nested.FOLDS)
    fsd_oof = nested.inner_scores(fsd_branch, "gmm", nested.FOLDS)
    per_branch = {"encoder": chosen.inner, "fsd": fsd_oof}
    members = nested.choose_stack(per_branch)
    stack = nested.fit_stack(per_branch, members)
    head = enc.head(chosen.config, nested.FOLDS)
    fsd_model = fsd_branch.model(nested.FOLDS)
    assert isinstance(fsd_model, train_fsd.fsd.FsdModel)
    buf = io.BytesIO()
    np.savez(
        buf,
        head_mean=head.mean.astype(np.float32),
        head_scale=head.scale.astype(np.float32),
        head_coef=head.coef.astype(np.float32),
        head_intercept=np.float32(head.intercept),
        fsd_filters=fsd_model.filters.astype(np.float64),
        fsd_mean=fsd_model.mean,
        fsd_components=fsd_model.components,
        fsd_weights=fsd_model.weights,
        fsd_means=fsd_model.means,
        fsd_precision_cholesky=fsd_model.precision_cholesky,
        fsd_z=np.array([fsd_model.z_mean, fsd_model.z_std]),
        stack_coef=np.asarray(stack.coef),
        stack_bias=np.float64(stack.bias),
        platt_encoder=np.asarray(platt_of(chosen.inner)),
        platt_fsd=np.asarray(platt_of(fsd_oof)),
        # What decides a verdict lives in the hashed file too: the manifest repeats it for
        # readers, and the loader refuses a manifest that disagrees with it.
        **ensemble.decision_arrays(
            threshold=round(stack.threshold, 6),
            branches=members,
            feature_set=head.feature_set,
            crop_set=chosen.config.split("|")[2],
        ),
    )
    blob = buf.getvalue()
    items = corpus.benchmark_items()
    source = encoder.CLIP_VIT_B16_INT8
    manifest = {
        "name": NAME,
        "version": VERSION,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "threshold": round(stack.threshold, 6),
        "branches": list(members),
        "feature_set": head.feature_set,
        "crop_set": chosen.config.split("|")[2],
        "encoder": {
            "distribution": source.distribution,
            "version": source.version,
            "file": source.member,
            "sha256": source.sha256,
            "architecture": source.architecture,
            "upstream": source.upstream,
            "licence": source.licence,
        },
        "training": {
            "ai_images": sum(1 for i in items if i.label == 1),
            "real_images": sum(1 for i in items if i.label == 0),
            "development_photos": len(corpus.development_photos()),
            "encoder_config": chosen.config,
            "encoder_inner_auc": {k: round(v, 4) for k, v in chosen.inner_auc.items()},
            "target_fpr": nested.TARGET_FPR,
            "twin_share": branches.encoder_heads.TWIN_SHARE,
        },
    }
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    (WEIGHTS_DIR / WEIGHTS_FILE).write_bytes(blob)
    (WEIGHTS_DIR / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", "utf-8")
    coefs = ", ".join(f"{c:.3f} x {b}" for b, c in zip(members, stack.coef, strict=True))
    print(
        f"wrote {WEIGHTS_FILE} ({len(blob) // 1024} KB): head {chosen.config}; stack {coefs} "
        f"+ {stack.bias:.3f}; threshold {stack.threshold:.3f}"
    )


if __name__ == "__main__":
    main()
