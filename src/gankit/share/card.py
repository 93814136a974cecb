"""The model card (``README.md``) of an exported model, following the Hugging Face Hub's
conventions: YAML front matter (``library_name``, ``license``, ``tags``, ``pipeline_tag``), then
what the model is, the data it learnt, its training, its scores, how to use it with and without
gankit, and what it is and is not for."""

from __future__ import annotations

import json
from typing import Any

from gankit.layout import MODEL_CONFIG, MODEL_LATENT, MODEL_SAMPLES, MODEL_TORCHSCRIPT

#: what a recipe's generator is called in the card
KINDS = {"gan": ("GAN", "generator"), "vae": ("VAE", "decoder")}


def _yaml_str(text: str) -> str:
    """``text`` as a YAML scalar: as it is when plain, else quoted (JSON strings are YAML)."""
    text = str(text)
    plain = text and text[0].isalnum() and all(c.isalnum() or c in "-_." for c in text)
    return text if plain and text.isascii() else json.dumps(text, ensure_ascii=False)


def front_matter(doc: dict[str, Any], license: str) -> str:
    data = doc["data"]
    tags = ["gankit", doc["recipe"]]
    tags.append("image-generation" if data["kind"] == "image" else "generative-model")
    tags.append(data["name"])
    if doc["conditional"]:
        tags.append("class-conditional")
    lines = ["---", "library_name: gankit", f"license: {license}", "tags:"]
    lines += [f"- {_yaml_str(tag)}" for tag in dict.fromkeys(tags)]
    if data["kind"] == "image" and not doc["conditional"]:
        lines.append("pipeline_tag: unconditional-image-generation")
    return "\n".join([*lines, "---", ""])


def _options(section: Any) -> str:
    if not isinstance(section, dict) or not section:
        return "–"
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in section.items())


def _eval_section(evaluation: dict[str, Any] | None, doc: dict[str, Any]) -> list[str]:
    lines = ["## Evaluation", ""]
    if evaluation is None:
        return [*lines, "The run was not evaluated before it was exported ('gankit eval RUN' "
                "writes its scores, which a new export then shows here).", ""]
    from gankit.metrics.summary import eval_markdown

    try:
        table = eval_markdown(evaluation)
    except (KeyError, TypeError, ValueError, IndexError):
        table = None
    step = evaluation.get("step")
    if step != doc["step"]:
        lines += [f"These scores are of step {step}; the exported weights are of step "
                  f"{doc['step']:,}.", ""]
    scored = (evaluation.get("protocol") or {}).get("weights")
    exported = "EMA" if doc["weights"] == "ema" else "G"
    if scored in ("EMA", "G") and scored != exported:
        names = {"EMA": "the EMA weights", "G": "the generator's own weights"}
        lines += [f"These scores are of {names[scored]}; this folder holds {names[exported]}.",
                  ""]
    if table is None:
        return [*lines, "The run's evaluation is in `eval.json` (its scores with their "
                "protocol).", ""]
    body = table.splitlines()
    if body and body[0].startswith("# "):  # the table's own title: the card has its own
        body = body[1:]
    while body and not body[0].strip():
        body = body[1:]
    return [*lines, *body, "", "Every score with its full protocol is in `eval.json`.", ""]


def _use_section(doc: dict[str, Any], name: str) -> list[str]:
    k, z_dim, latent = doc["num_classes"], doc["z_dim"], doc["latent"]
    rng = doc["output"]["range"]
    label_arg = ", labels" if k else ""
    cli = [f"gankit sample {name} -n 64 -o grid.png"]
    if k:
        cli.append(f"gankit sample {name} -n 16 --label {doc['class_names'][-1]} -o one.png")
    cli.append(f"gankit sample {name} -n 10000 -o samples.npz   # float32 in {rng}")
    shape = ", ".join(map(str, doc["data"]["sample_shape"]))
    py = ["import gankit", "", f"model = gankit.load(\"{name}\")",
          f"x = model.sample(16, seed=0)  # (16, {shape}) float32 in {rng}"]
    if k:
        py.append("x7 = model.sample(16, labels=7)  # or one class number per sample")
    plain = ["import torch", "", f"G = torch.jit.load(\"{name}/{MODEL_TORCHSCRIPT}\").eval()",
             "n = 16"]
    code = latent["code"]
    if latent["distribution"] == "mixture":
        code = code.replace(f"\"{MODEL_LATENT}\"", f"\"{name}/{MODEL_LATENT}\"")
    plain += code.splitlines()
    if k:
        plain.append(f"labels = torch.arange(n) % {k}  # int64 class numbers, not one-hot")
    plain += ["with torch.no_grad():", f"    x = G(z{label_arg})  # float32 in {rng}"]
    if doc["data"]["kind"] == "image" and doc["output"]["normalize"] == "symmetric":
        plain.append("images = (x + 1) / 2  # [0, 1], e.g. for torchvision.utils.save_image")
    lines = ["## How to use", "", "### With gankit", "", "```bash", *cli, "```", "",
             "```python", *py, "```", "",
             "`gankit.load` rebuilds the generator from `config.json` and `model.safetensors`; "
             "`gankit interpolate` and `gankit latent-arithmetic` work on this folder too. "
             "Commands that need more than the generator (resuming training, fine-tuning the "
             "discriminator) need the original run folder.", "",
             "### Without gankit (plain PyTorch)", "",
             f"`{MODEL_TORCHSCRIPT}` is a TorchScript module that needs only PyTorch: "
             + (f"`G(z, labels)` takes codes `z` (float32, `(N, {z_dim})`) and class numbers "
                f"`labels` (int64, `(N,)`, 0 to {k - 1} in the order "
                f"{', '.join(doc['class_names'])}; not one-hot)"
                if k else f"`G(z)` takes codes `z` (float32, `(N, {z_dim})`)")
             + f" and returns samples `(N, {shape})` "
               f"in {rng}.", "",
             "```python", *plain, "```", "",
             f"**Drawing z.** {latent['description'][:1].upper()}{latent['description'][1:]}."]
    if latent["distribution"] == "mixture":
        lines[-1] += (f" The centres are in `{MODEL_LATENT}` (key `centres`); they were fixed by "
                      "the run's seed, and codes drawn elsewhere are not what the generator "
                      "learnt from.")
    lines += ["", f"**The same samples as gankit.** {latent['seeded']}.", ""]
    return lines


def model_card(doc: dict[str, Any], evaluation: dict[str, Any] | None, name: str,
               license: str) -> str:
    """The README.md of an exported model (``doc``: its config.json)."""
    data, gen, cfg = doc["data"], doc["generator"], doc["config"]
    family, role = KINDS.get(doc["recipe"], (doc["recipe"], "generator"))
    k = doc["num_classes"]
    weights = ("the exponential moving average (EMA) of the generator's weights"
               if doc["weights"] == "ema" else "the generator's own weights (no EMA copy)")
    if doc["weights"] == "ema":
        weights += f", decay {cfg.get('train', {}).get('ema_decay')}"
    what = (f"A {'class-conditional ' if k else ''}{family} {role} of "
            f"{doc['output']['description']}, trained with "
            f"gankit on the `{data['name']}` data and exported at step {doc['step']:,}.")
    lines = [front_matter(doc, license), f"# {name}", "", what, ""]
    if MODEL_SAMPLES in doc["files"].values():
        lines += [f"![{CARD_CAPTION}]({MODEL_SAMPLES})", "", f"*{CARD_CAPTION}*", ""]
    preset = f" (preset `{doc['preset']}`)" if doc.get("preset") else ""
    rows = [("recipe", f"`{doc['recipe']}`{preset}"),
            (role, f"`{gen['class']}`" + (f" of the `{gen['family']}` family" if gen["family"]
                                          else "")),
            (f"{role} options", _options(gen["options"])),
            ("parameters", f"{gen['parameters']:,}"),
            ("latent", f"{doc['z_dim']} dimensions, {doc['latent']['description']}"),
            ("conditional", f"yes: {k} classes ({', '.join(doc['class_names'])})" if k
             else "no"),
            ("output", f"`(N, {', '.join(map(str, data['sample_shape']))})` float32 in "
                       f"{doc['output']['range']}"),
            ("weights", weights), ("gankit version", doc["gankit_version"])]
    lines += ["## Model", "", "| | |", "|---|---|", *[f"| {a} | {b} |" for a, b in rows], "",
              f"`{MODEL_CONFIG}` holds the run's full validated config (key `config`), from "
              "which the model can be rebuilt or retrained.", ""]
    facts = data.get("facts") or {}
    about = [f"- data set: `{data['name']}` ({data['kind']} data"
             + (f", {facts['num_samples']:,} training samples" if isinstance(
                 facts.get("num_samples"), int) else "") + ")"]
    source = facts.get("info", {}).get("source") if isinstance(facts.get("info"), dict) else None
    if source:
        about.append(f"- source: {source}")
    options = cfg.get("data", {})
    set_options = {k_: v for k_, v in options.items() if v not in (None, {}, "") and k_ != "name"}
    about.append(f"- data options: {_options(set_options)}")
    if data["class_names"]:
        about.append(f"- classes: {', '.join(data['class_names'])}")
    lines += ["## Training data", "", *about, "", "## Training", ""]
    train = cfg.get("train", {})
    lines += [f"- {doc['step']:,} steps of {train.get('steps', '?'):,} planned, batch size "
              f"{train.get('batch_size', '?')}, seed {cfg.get('seed')}"
              if isinstance(train.get("steps"), int) else f"- {doc['step']:,} steps"]
    for section in ("loss", "optim"):
        if isinstance(cfg.get(section), dict):
            lines.append(f"- {section}: {_options(cfg[section])}")
    lines.append("")
    lines += _eval_section(evaluation, doc)
    lines += _use_section(doc, name)
    lines += ["## Intended use and limitations", "",
              f"- It makes synthetic {doc['output']['description']} like those of its "
              f"training data (`{data['name']}`), and nothing else: it has no notion of "
              "anything outside that distribution, and gives no guarantee about any single "
              "sample.",
              "- Its samples carry the biases and gaps of the training data, and a GAN may "
              "cover only part of it (mode collapse): classes or styles that were rare may be "
              "rarer still, or missing; check the evaluation above before relying on them.",
              "- It is meant for research, teaching and experiments with generative models "
              "(e.g. data augmentation studies). Do not use it to identify, track or make "
              "decisions about people, nor present its samples as real data.",
              "- Small generators may reproduce training samples nearly exactly; do not share "
              "it when the training data must stay private.", "",
              "## Files", "", "| file | what it holds |", "|---|---|"]
    lines += [f"| `{file}` | {FILE_TEXT.get(key, key)} |" for key, file in doc["files"].items()]
    lines += ["", "## License", "",
              (f"`{license}`. " if license != "other" else
               "No license was chosen when it was exported (`gankit export-model --license` "
               "sets one). ")
              + "The terms of the training data may also apply to the model and its samples.",
              ""]
    return "\n".join(lines)


CARD_CAPTION = "Example samples of the exported generator"

FILE_TEXT = {
    "model_card": "this model card",
    "config": "what is needed to rebuild and use it: data spec, latent, classes, full config",
    "weights": "the generator's weights (safetensors)",
    "torchscript": "the generator as TorchScript, for plain PyTorch",
    "latent": "the mixture latent's component centres (key `centres`)",
    "samples": "example samples",
    "evaluation": "the run's evaluation: every score with its protocol",
}
