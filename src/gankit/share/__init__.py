"""Models people can share: ``gankit export-model RUN -o DIR`` writes a trained generator as a
folder laid out for the Hugging Face Hub (model card, config.json, safetensors weights and a
TorchScript generator that needs only PyTorch), and ``gankit.load(DIR)`` reads it back.

>>> from gankit.share import export_model
>>> export_model(gankit.load("runs/digits"), "digits-gan")
>>> gankit.load("digits-gan").sample(16)
"""

from gankit.share.exported import ExportedGenerator, is_model_export, load_export

__all__ = ["ExportedGenerator", "export_model", "is_model_export", "load_export"]


def __getattr__(name: str):  # noqa: ANN202 (the writer imports gankit.run: only on use)
    if name in ("export_model", "describe", "check_target"):
        from gankit.share import export

        return getattr(export, name)
    raise AttributeError(f"module 'gankit.share' has no attribute {name!r}")
