"""A base model folder's config, tokenizer files and chat template, checked before any weight loads.

transformers reads `config.json` into attributes without checking types, and finds a config that disagrees with
the weights only while loading them (a report of mismatched or missing tensors, or layers left at their random
initialisation). Here the sizes the config declares are whole positive numbers, its `model_type` is one
transformers knows, and the embedding's shape and the number of layers in the weights agree with it; the tokenizer
files are JSON objects and the chat template compiles. Each problem is a `ModelFolderError` naming the file and
the key (or the template's line).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from harness.foundation.errors import ModelFolderError, read_json
from harness.foundation.textfiles import read_text_file
from harness.foundation.values import is_number
from harness.model.json_keys import KeyTable, check_keys, optional, positive_integer


def _token(v: object) -> bool:
    """A special token as tokenizer_config.json may hold it: a string, an AddedToken object, or null."""
    return v is None or isinstance(v, str) or (isinstance(v, dict) and isinstance(v.get("content"), str))


# the sizes tunegate reads (context) or checks against the weights (null: not set); others (intermediate_size, head
# counts) may be lists in some architectures and are left to transformers
SIZES: KeyTable = {key: (optional(positive_integer), "a positive integer") for key in (
    "vocab_size", "hidden_size", "num_hidden_layers", "n_embd", "n_layer", "max_position_embeddings", "n_positions",
    "max_sequence_length", "seq_length")}
SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
TOKEN = "a token (a string, an AddedToken object with \"content\", or null)"
# tokenizer_config.json keys transformers acts on (each of these breaks loading the tokenizer when mistyped)
TOKENIZER_KEYS: KeyTable = {
    "model_max_length": (lambda v: is_number(v) and v > 0, "a positive number"),
    "padding_side": (lambda v: v in ("left", "right"), "\"left\" or \"right\""),
    "truncation_side": (lambda v: v in ("left", "right"), "\"left\" or \"right\""),
    "tokenizer_class": (optional(lambda v: isinstance(v, str)), "a class name (a string)"),
    "additional_special_tokens": (optional(lambda v: isinstance(v, list) and all(map(_token, v))),
                                  "a list of tokens"),
    "extra_special_tokens": (lambda v: (isinstance(v, list) and all(map(_token, v))) or (
        isinstance(v, dict) and all(map(_token, v.values()))), "a list of tokens or an object of named tokens"),
    **{key: (_token, TOKEN) for key in SPECIAL_TOKENS},
}
EMBEDDINGS = ("embed_tokens.weight", "wte.weight", "word_embeddings.weight", "embed_in.weight")
WIDTH_KEYS = ("word_embed_proj_dim", "embedding_size", "hidden_size", "n_embd")  # the embedding's width, first found
LAYER_KEYS = ("num_hidden_layers", "n_layer")
_LAYER = r"(?:layers|h|blocks|layer)\.(\d+)\."


def check_base_config(path: Path, config: dict) -> None:
    """`model_type` a model type transformers knows, every size key present a positive integer, and the whole
    config one transformers reads."""
    model_type = config.get("model_type")
    if not isinstance(model_type, str):
        raise ModelFolderError(f"{path}: key 'model_type' missing: not a transformers model config (save the model "
                               "with `save_pretrained`)")
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if model_type not in CONFIG_MAPPING_NAMES:
        near = difflib.get_close_matches(model_type, CONFIG_MAPPING_NAMES, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ModelFolderError(f"{path}: key 'model_type' is {model_type!r}, unknown to transformers ({hint}tunegate "
                               "runs no remote code: use a model type of the installed transformers)")
    check_keys(path, config, SIZES, "restore the config.json saved with the weights")
    _transformers_reads(path)


def _transformers_reads(path: Path) -> None:
    """transformers reads the config (its own validation of every field's type, e.g. a string
    `tie_word_embeddings`): a ModelFolderError naming the file and transformers' words otherwise."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(str(path.parent), trust_remote_code=False)
    except Exception as err:  # transformers raises many types for a config it cannot read; all mean "refused"
        raise ModelFolderError(f"{path}: transformers cannot read it ({' '.join(str(err).split())}); restore the "
                               "config.json saved with the weights") from err


def check_weights_agree(folder: Path, config: dict, shapes: dict[str, tuple[int, ...]]) -> None:
    """The input embedding's shape is (vocab_size, width) and the weights hold layers 0 .. num_hidden_layers - 1,
    as config.json says (more layers may be there: extra prediction heads), a ModelFolderError naming the tensor,
    its shape and the key otherwise."""
    embedding = next((k for k in sorted(shapes) if k.endswith(EMBEDDINGS) and len(shapes[k]) == 2), None)
    if embedding is None:
        return
    config_file, rows_by_width = folder / "config.json", shapes[embedding]
    width_key = next((k for k in WIDTH_KEYS if isinstance(config.get(k), int)), None)
    for key, size in (("vocab_size", rows_by_width[0]), (width_key, rows_by_width[1])):
        if key is not None and isinstance(config.get(key), int) and config[key] != size:
            raise ModelFolderError(f"{_weights_file(folder, embedding)}: tensor {embedding!r} has shape "
                                   f"{list(rows_by_width)}, but {config_file} key {key!r} is {config[key]}; the "
                                   "config belongs to another model: save config and weights together")
    prefix = ".".join(embedding.split(".")[:-2])
    layer = re.compile((re.escape(prefix + ".") if prefix else "") + _LAYER)
    found = {int(m[1]) for k in shapes if (m := layer.match(k))}
    key = next((k for k in LAYER_KEYS if isinstance(config.get(k), int)), None)
    if found and key is not None and (missing := set(range(config[key])) - found):
        raise ModelFolderError(f"{_weights_file(folder, None)}: the weights hold layers {_span(found)}, but "
                               f"{config_file} key {key!r} is {config[key]}: transformers would start layer(s) "
                               f"{_span(missing)} at random; the config belongs to another model: save config and "
                               "weights together")


def _weights_file(folder: Path, tensor: str | None) -> Path:
    """Where `tensor` is stored: its file by the safetensors index (the index itself for None), else the folder's
    one model*.safetensors (the folder when it has several)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        document = read_json(index, read_text_file(index, ModelFolderError, "safetensors index"), ModelFolderError)
        weight_map = document.get("weight_map") if isinstance(document, dict) else None
        return folder / weight_map.get(tensor, index.name) if isinstance(weight_map, dict) and tensor else index
    files = sorted(folder.glob("model*.safetensors"))
    return files[0] if len(files) == 1 else folder


def _span(indices: set[int]) -> str:
    """`2`, or `0-27` for a contiguous range of layer indices, the list otherwise."""
    ordered = sorted(indices)
    if len(ordered) == 1:
        return str(ordered[0])
    return f"{ordered[0]}-{ordered[-1]}" if ordered == list(range(ordered[0], ordered[-1] + 1)) else str(ordered)


def check_tokenizer_files(folder: Path) -> None:
    """tokenizer.json and tokenizer_config.json, where present, are JSON objects; tokenizer_config's keys that
    transformers acts on have their types (special tokens, lengths, sides), its `chat_template` is a template
    string or a list of named ones."""
    for name in ("tokenizer.json", "tokenizer_config.json"):
        path = folder / name
        if path.is_file():
            document = read_json(path, read_text_file(path, ModelFolderError, "tokenizer file"), ModelFolderError)
            if not isinstance(document, dict):
                raise ModelFolderError(f"{path}: expected a JSON object, got {type(document).__name__}; save the "
                                       "tokenizer again with `tokenizer.save_pretrained`")
            if name == "tokenizer_config.json":
                check_keys(path, document, TOKENIZER_KEYS, "save the tokenizer again with `tokenizer.save_pretrained`")
    chat_templates(folder)


def chat_templates(folder: Path) -> list[tuple[str, str]]:
    """The chat templates of a base model folder as (where, template): chat_template.jinja, and those of
    tokenizer_config.json's `chat_template` (a string, or a list of {"name", "template"})."""
    found = []
    if (jinja := folder / "chat_template.jinja").is_file():
        found.append((str(jinja), read_text_file(jinja, ModelFolderError, "chat template")))
    config = folder / "tokenizer_config.json"
    if not config.is_file():
        return found
    document = read_json(config, read_text_file(config, ModelFolderError, "tokenizer config"), ModelFolderError)
    value = document.get("chat_template") if isinstance(document, dict) else None
    if isinstance(value, str):
        return [*found, (f"{config}: key 'chat_template'", value)]
    if value is None:
        return found
    if isinstance(value, list) and all(isinstance(t, dict) and isinstance(t.get("template"), str) for t in value):
        return [*found, *((f"{config}: key 'chat_template' ({t.get('name')!r})", t["template"]) for t in value)]
    raise ModelFolderError(f"{config}: key 'chat_template' must be a Jinja template string or a list of "
                           f"{{\"name\", \"template\"}} objects, got {value!r}")


def check_chat_templates(folder: Path) -> None:
    """Every chat template of the folder compiles (`check_template`)."""
    for where, template in chat_templates(folder):
        check_template(where, template)


def check_template(where: str, template: str) -> None:
    """A chat template compiles as transformers compiles it: a ModelFolderError naming `where` (a .jinja file, or
    a file and key) and the template's line otherwise."""
    import jinja2
    from transformers.utils.chat_template_utils import _compile_jinja_template

    try:
        _compile_jinja_template(template)
    except jinja2.TemplateSyntaxError as err:
        at = f"{where}:{err.lineno}" if where.endswith(".jinja") else f"{where}, line {err.lineno}"
        raise ModelFolderError(f"{at}: not a valid Jinja template ({err.message}); fix the template or use "
                               "--prompt-format plain") from err
