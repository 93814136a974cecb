"""Evaluation: feature extractors, sample-quality metrics and mode-collapse metrics.

Metrics are pure functions of feature arrays (``frechet``, ``kid``, ``prdc``, ``score``) or of
samples and mode centres (``modes``); feature extractors turn images into those arrays behind
the ``EXTRACTORS`` registry (``features``); ``evaluate`` runs a whole protocol on a run.
"""
