"""Anomaly detection: detectors trained on normal data only score what is not normal.

Detectors are recipes with the :class:`~gankit.recipes.capabilities.ScoresAnomalies`
capability; the normal data they train on is the run's data restricted to the normal classes
(``data.classes``), less a seeded validation split of *normal* samples (:func:`split_normal`)
on which checkpoints and thresholds are chosen — never on test data.
"""
