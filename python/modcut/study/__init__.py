"""The study end to end: analyze a network, lesion its clusters, reproduce the table.

* :func:`analyze` — clusterability of one network against its null
  distribution, written as JSON, a text summary, figures and an HTML page.
* :func:`lesion_study` — single and double lesion tests of a trained
  checkpoint's sub-modules (method.md §6), added to the same page.
* :func:`specialization` — weight and activation partitions of a checkpoint, the
  importance (lesions) and coherence (top examples) of their sub-modules, and their
  agreement (Hod et al. 2021).
* :func:`reproduce` — train the variants of method.md §5 over several seeds,
  analyze each and write the study's table (CSV and Markdown); resumable.
* :func:`demo` — one short pruned MLP on Fashion-MNIST, analyzed, lesioned
  and reported, printing each step.

The ``modcut analyze|lesion|reproduce|demo`` commands that drive these live
in :mod:`modcut.cli`; the HTML page is :func:`modcut.report.build_report`.

Output folder of an analysis (fixed names, so steps can be re-run and add to
one another)::

    clusterability.json   ClusterabilityResult (ClusterabilityResult.from_json reads it)
    meta.json             source, dataset, test accuracy, widths, within-cluster weight share
    summary.txt           the human-readable summary
    clusters.csv          neurons per cluster and layer
    null_histogram.png, network.png, weights.png
    lesion_single.json/.csv, lesion_double.json/.csv, lesion_*.png   (after lesion tests)
    report.html           everything above on one self-contained page
"""

from modcut.study.analysis import analyze
from modcut.study.lesions import lesion_study, prepare_lesions
from modcut.study.reproduction import (
    STUDY_SHUFFLES,
    VARIANTS,
    aggregate_runs,
    reproduce,
    variant_config,
)
from modcut.study.specialization import specialization
from modcut.study.walkthrough import demo

__all__ = [
    "STUDY_SHUFFLES",
    "VARIANTS",
    "aggregate_runs",
    "analyze",
    "demo",
    "lesion_study",
    "prepare_lesions",
    "reproduce",
    "specialization",
    "variant_config",
]
