"""The demo (:func:`demo`): one short pruned MLP on Fashion-MNIST, analyzed, lesioned and
reported, printing each step."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from modcut.report import build_report
from modcut.study.analysis import Log, analyze, print_step
from modcut.study.lesions import lesion_study
from modcut.study.reproduction import analysis_done, ensure_trained, lesion_done, variant_config


def demo(
    out_dir: str | os.PathLike[str] = "demo",
    *,
    epochs: int = 2,
    prune_epochs: int = 2,
    n_shuffles: int = 1000,
    shuffle: str = "layer_nonzero",
    n_random: int = 50,
    k: int = 12,
    n_jobs: int | None = -1,
    seed: int = 0,
    data_root: str | None = None,
    train_overrides: dict[str, Any] | None = None,
    progress: bool | None = None,
    log: Log | None = print_step,
) -> dict[str, Path]:
    """Train one pruned MLP on Fashion-MNIST with short settings, analyze, lesion, report.

    Writes ``<out_dir>/run/checkpoint.pt`` and ``<out_dir>/analysis/`` (see the
    module docstring); re-running reuses a finished training run and analysis.
    ``train_overrides``: further ``TrainConfig`` fields (tests use a smaller network).

    Returns
    -------
    The files written by :func:`analyze` and :func:`lesion_study`.
    """
    say = log or (lambda _m: None)
    out = Path(out_dir)
    t_all = time.perf_counter()
    say(f"modcut demo: output in {out.resolve()}")
    config = variant_config(
        "control",
        "fashion",
        seed,
        epochs=epochs,
        prune_epochs=prune_epochs,
        data_root=data_root,
        **(train_overrides or {}),
    )
    hidden = "-".join(str(h) for h in config.hidden)
    say(
        f"[1/3] training a pruned MLP ({hidden} hidden units) on Fashion-MNIST "
        f"({config.epochs} epochs + {config.prune_epochs} pruning epochs, seed {seed})"
    )
    ckpt = ensure_trained(config, out / "run", say, progress)
    adir = out / "analysis"
    say(f"[2/3] clusterability with {n_shuffles} '{shuffle}' shuffles")
    if analysis_done(adir, ckpt, k, n_shuffles, shuffle, seed):
        say(f"  reusing {adir / 'clusterability.json'}")
        paths: dict[str, Path] = {"report": adir / "report.html"}
    else:
        paths = analyze(
            ckpt,
            adir,
            k=k,
            n_shuffles=n_shuffles,
            shuffle=shuffle,
            seed=seed,
            n_jobs=n_jobs,
            progress=progress,
            log=lambda m: say("  " + m),
        )
    say(f"[3/3] lesion tests ({n_random} random lesions per sub-module)")
    if lesion_done(adir, n_random, seed):
        say(f"  reusing {adir / 'lesion_single.json'}")

        build_report(adir)
    else:
        paths.update(
            lesion_study(
                ckpt,
                adir,
                k=k,
                seed=seed,
                n_random=n_random,
                progress=progress,
                log=lambda m: say("  " + m),
            )
        )
    say((adir / "summary.txt").read_text().rstrip())
    say(f"done in {time.perf_counter() - t_all:.0f} s")
    say(f"report: {paths['report'].resolve()}")
    say(
        f"open it with: xdg-open {paths['report'].resolve()}  (or file://{paths['report'].resolve()})"
    )
    return paths


# --------------------------------------------------------------------------- CLI
