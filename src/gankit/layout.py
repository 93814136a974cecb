"""The names of the files and folders of a run folder, defined once.

A run folder is the product of training and the input of every other command::

    config.yaml  dataset.json  metrics.jsonl  checkpoints/  samples/step_NNNNNN.png
    curves.png  eval_curves.png  *_final.png  report.html  eval.json  eval.md  latent/
"""

CONFIG = "config.yaml"  # the validated config: the run can be reproduced from it alone
DATASET = "dataset.json"  # what the data looked like (shape, range, classes, facts)
METRICS = "metrics.jsonl"  # one JSON object per logged step
CHECKPOINTS = "checkpoints"  # step_NNNNNNN.safetensors + .json
SAMPLES = "samples"  # the recipe's progress pictures, step_NNNNNN.png
CURVES = "curves.png"  # the logged scalars against step
EVAL_CURVES = "eval_curves.png"  # evaluation while training
FINAL_SUFFIX = "_final.png"  # the recipe's final pictures (grid_final.png, ...)
REPORT = "report.html"
EVAL_JSON = "eval.json"  # gankit eval: every score with its protocol
EVAL_MD = "eval.md"
LATENT = "latent"  # the latent tools' outputs
