"""The names of the files and folders of a run folder, defined once.

A run folder is the product of training and the input of every other command::

    config.yaml  dataset.json  metrics.jsonl  checkpoints/  samples/step_NNNNNN.png
    curves.png  eval_curves.png  *_final.png  report.html  eval.json  eval.md  latent/

A model exported by ``gankit export-model`` is a folder laid out for the Hugging Face Hub::

    README.md  config.json  model.safetensors  generator.pt  [latent.safetensors]
    [samples.png]  [eval.json]
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

# an exported model folder (gankit export-model)
MODEL_CARD = "README.md"  # the model card: YAML front matter, then what it is and how to use it
MODEL_CONFIG = "config.json"  # everything needed to rebuild and use the generator
MODEL_WEIGHTS = "model.safetensors"  # the generator's weights (EMA when the run has them)
MODEL_TORCHSCRIPT = "generator.pt"  # the generator as TorchScript, for plain PyTorch
MODEL_LATENT = "latent.safetensors"  # mixture latent: the component centres
MODEL_SAMPLES = "samples.png"  # example samples shown in the model card
