"""Every check a run's inputs can be given before any model loads, in one place (run by the plugin at configure).

Output folders must be writable folders; the base model's config (of its types, agreeing with the weights),
tokenizer files, chat template and weight files must be whole; every adapter (--adapter, --shadow, each checkpoint
of --checkpoints) must be a LoRA adapter whose config has its types and whose tensors agree with its `r`, its
`target_modules` and the base's layers, with a readable Trainer loss log if it has one; --ppl-window must fit the
base's context; the data folder's recipes, identity
file, datasets (placeholders filled, dev sets held out from training data, no record longer than the context) and
the audit history must be readable; the caches are checked before they are trusted (`check_caches`). The first
problem raises an `InputError` naming the file and key; warnings (train/dev overlap, caches recomputed or read-only)
are returned. Suites never see input these checks refuse.
"""

from __future__ import annotations

from pathlib import Path

from harness.data import DataError, Example, IdentitySpec, load_examples, load_prompt_baseline, load_text_lines
from harness.data.folder import BUILTIN_IDENTITY, PROBES, SELF_COGNITION, SPLITS, TASKS, DataFolder, task_file
from harness.data.prep import shared_records
from harness.evaluators.checkpoints import external_training_log, find_checkpoints
from harness.evaluators.identity import load_probes
from harness.foundation.cache import cache_root_label, can_write
from harness.foundation.errors import InputError, OutputError
from harness.foundation.textfiles import dangling_link, read_text_file
from harness.model.base_config import chat_templates, check_chat_templates, check_template
from harness.model.files import ModelFacts, check_adapter_folder, check_model_folder
from harness.plugin.settings import Settings
from harness.training.recipe import load_recipe, recipe_names
from harness.training.sequence import sequence_tasks

MAX_BYTES_PER_TOKEN = 100  # no tokenizer averages more on real text: a record longer is refused untokenized
TEMPLATE_ALLOWANCE = 64  # tokens a chat template may add around a record: records shorter than the context by more
# than this, counted in UTF-8 bytes (a token covers at least one byte), cannot overflow it and are not tokenized


def preflight(settings: Settings) -> list[str]:
    """Check everything about a run's inputs that its files can tell; raise the first `InputError`, return the
    warnings (train/dev overlap)."""
    check_outputs(settings)
    check_device(settings.device)
    base = base_model_facts(settings)
    check_context(settings, base)
    check_prompt_format(settings.prompt_format, base)
    check_adapters(settings, base)
    check_tuned_model(settings, base)
    warnings = check_data_folder(settings.fixtures, base, settings.prompt_format)
    if not settings.brings_model:  # the training files: checked once the selection is known (plugin.fixtures)
        warnings += check_recipes(settings.data_folder.recipes, base)
    check_history(settings.history)
    return warnings + check_caches(settings)


def check_caches(settings: Settings) -> list[str]:
    """The caches a run would trust, checked first: the model cache's entries, then the answer store it uses
    (--request-cache, else `<cache-dir>/answers/`, unless --no-answer-cache). Refuses a store tunegate may not use
    (CacheError); returns warnings for what is recomputed or not written."""
    from harness.model.store_checks import check_answer_folder, check_request_cache
    from harness.training.cached import model_cache_warnings

    warnings = model_cache_warnings(settings.cache_dir)
    if settings.request_cache is not None:
        return warnings + check_request_cache(settings.request_cache)
    return warnings + (check_answer_folder(settings.cache_dir / "answers") if settings.answer_cache else [])


def check_recipes(recipes: Path, base: ModelFacts | None) -> list[str]:
    """Every recipe the run may train, against the base's architecture (built on the meta device): an error
    (a target module the base lacks, a rank larger than a layer) refuses the run before any training; warnings
    (scaling, dropout, learning rate out of the usual range) are returned."""
    if base is None or not recipe_names(recipes):
        return []
    from harness.training.recipe_check import adaptable_layers, meta_model, refuse_errors, structure_findings

    model = meta_model(base.folder)
    layers, warnings = adaptable_layers(model), []
    for name in recipe_names(recipes):
        findings = structure_findings(load_recipe(recipes, name), layers, model.config.model_type)
        refuse_errors(findings, f"{recipes} [{name}]")
        warnings += [f"{recipes} [{name}] {f}" for f in findings if f.level == "warning"]
    return warnings


def check_outputs(settings: Settings) -> None:
    """Every folder the run writes to is a folder (or can be created as one) and is writable."""
    outputs = [("--report-dir", settings.report_dir), (cache_root_label(settings.cache_dir), settings.cache_dir)]
    if settings.save_baseline is not None:
        outputs.append(("--save-baseline (its --baseline-dir)", settings.save_baseline.parent))
    if settings.history is not None:
        outputs.append(("--history (its folder)", settings.history.parent))
    for option, folder in outputs:
        writable_folder(option, folder)
    for option, file in (("--save-baseline", settings.save_baseline), ("--history", settings.history)):
        if file is not None and (link := dangling_link(file)):
            raise OutputError(f"{option} {file}: {link}; create the target, or point the link elsewhere (a link "
                              "is written through, never replaced)")
    check_latest_link(settings.report_dir)


def check_latest_link(report_dir: Path) -> None:
    """`<report-dir>/latest` is the link tunegate points at the newest run after each run: a folder or file of
    that name, not a link, would be replaced, so the run is refused before it starts."""
    latest = report_dir / "latest"
    if latest.exists() and not latest.is_symlink():
        kind = "a folder" if latest.is_dir() else "a file"
        raise OutputError(f"--report-dir {report_dir}: {latest} is {kind}, not a link; tunegate points `latest` at "
                          "the newest run after each run, which would replace it: move or rename it")


def writable_folder(option: str, folder: Path) -> None:
    """`folder`, or the nearest folder above it that exists (where it will be created), must be a writable
    folder; an OutputError naming the option and the folder otherwise."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        if link := dangling_link(existing):
            raise OutputError(f"{option} {folder}: {existing} is {link}; create the target folder, or point the "
                              "link elsewhere (nothing is created through a dangling link)")
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{option} {folder}: {existing} is a file, not a folder; choose another folder")
    if not can_write(existing):
        raise OutputError(f"{option} {folder}: {existing} is not writable; choose another folder or make it "
                          "writable (nothing was run)")


def check_device(device: str) -> None:
    """--device cuda needs a visible GPU."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is visible to this process; use --device cpu (or auto)")


def base_model_facts(settings: Settings) -> ModelFacts | None:
    """The base model's facts from its files: --base-model FOLDER, or the shipped built-in model; None when the
    built-in model is still to be built from the data folder (built by tunegate, so nothing to check)."""
    if settings.base_model != "builtin":
        return check_model_folder(Path(settings.base_model), settings.allow_pickle)
    shipped = settings.data_folder.builtin_model
    return check_model_folder(shipped) if shipped.is_dir() else None


def check_context(settings: Settings, base: ModelFacts | None) -> None:
    """--ppl-window must fit the positions the base model has (a longer window silently changes perplexity), and
    --max-new-tokens must leave room for a prompt in them."""
    if base is None or base.context is None:
        return
    where = f"{base.folder / 'config.json'} key max_position_embeddings = {base.context}"
    if settings.ppl_window > base.context:
        raise InputError(f"--ppl-window {settings.ppl_window}: longer than the base model's context ({where}); use "
                         f"--ppl-window {base.context} or less")
    if settings.max_new_tokens >= base.context:
        raise InputError(f"--max-new-tokens {settings.max_new_tokens}: no prompt fits beside that many new tokens in "
                         f"the base model's context ({where}); use --max-new-tokens well below {base.context} (the "
                         "default is 48)")


def check_prompt_format(prompt_format: str, base: ModelFacts | None) -> None:
    """--prompt-format chat needs a chat template in the base model's folder; one used (auto or chat) must
    compile, as must a FILE.jinja given."""
    if prompt_format.endswith(".jinja") and Path(prompt_format).is_file():
        check_template(prompt_format, read_text_file(Path(prompt_format), InputError, "chat template"))
    if prompt_format not in ("auto", "chat") or base is None:
        return
    check_chat_templates(base.folder)
    if prompt_format == "chat" and not (chat_templates(base.folder) or any(base.folder.glob("chat_template.*"))):
        raise InputError(f"--prompt-format chat: {base.folder} has no chat template (no chat_template.jinja, none "
                         "in tokenizer_config.json); use --prompt-format plain or --prompt-format FILE.jinja")


def check_tuned_model(settings: Settings, base: ModelFacts | None) -> None:
    """--tuned-model must be a whole model folder of the base's architecture and vocabulary."""
    if settings.tuned_model is None:
        return
    tuned = check_model_folder(settings.tuned_model, settings.allow_pickle)
    for key in ("model_type", "vocab_size", "hidden_size"):
        if base is not None and key in base.config and tuned.config.get(key) != base.config[key]:
            raise InputError(f"--tuned-model {tuned.folder / 'config.json'}: key {key!r} is {tuned.config.get(key)!r}, "
                             f"the base's is {base.config[key]!r}; a fine-tune of this base keeps it")


def check_adapters(settings: Settings, base: ModelFacts | None) -> None:
    """--adapter, --shadow and every checkpoint of --checkpoints against their own config and the base, with the
    Trainer's loss log beside each (if any)."""
    folders = [p for p in (settings.adapter, settings.shadow) if p is not None]
    if settings.checkpoints is not None:
        folders += [c.path for c in find_checkpoints(settings.checkpoints, settings.checkpoint_launches)]
    for folder in folders:
        check_adapter_folder(folder, base, settings.allow_pickle)
        external_training_log(folder)  # its trainer_state.json, read for the report's loss chart


def check_data_folder(fixtures: Path, base: ModelFacts | None, prompt_format: str = "auto") -> list[str]:
    """The data folder's recipes, prompt baseline, identity file, identity data, task datasets and held-out text
    (those that exist; a suite that needs a missing one says so when it runs). Returns overlap warnings."""
    folder = DataFolder(fixtures)
    if misnamed := folder.misnamed_increments():
        raise DataError(f"{folder.tasks / misnamed[0]}: an increment's folder is named increment_N, N a whole number "
                        f"(the order tasks were learned in); rename it, e.g. to increment_"
                        f"{len(folder.increments()) + 1}")
    for name in recipe_names(folder.recipes):
        load_recipe(folder.recipes, name)
    load_prompt_baseline(folder.prompted, "new_task")
    spec = folder.identity_spec()
    datasets = identity_datasets(fixtures, spec) + task_datasets(fixtures)
    if folder.heldout.exists():
        load_text_lines(folder.heldout)
    if base is not None and base.context is not None:
        check_lengths([ex for _, examples in datasets for ex in examples], base, prompt_format)
    return _overlap_warnings(fixtures, datasets)


def identity_datasets(fixtures: Path, spec: IdentitySpec | None) -> list[tuple[str, list[Example]]]:
    """(label, examples) of the identity data, read with the identity's placeholders filled (of probes.json, the
    held-out paraphrases: adversarial probes may repeat trained refusals on purpose)."""
    if spec is None:
        return []
    folder = DataFolder(fixtures)
    out = [(name, load_examples(folder.path(name), spec.variables))
           for name in (SELF_COGNITION, BUILTIN_IDENTITY) if folder.path(name).exists()]
    if folder.self_cognition.exists() and folder.probes.exists():
        out.append((PROBES, [p.example for p in load_probes(fixtures, spec) if p.kind == "held_out"]))
    return out


def task_datasets(fixtures: Path) -> list[tuple[str, list[Example]]]:
    """(label, examples) of every task's train and dev set (`tasks/<task>/<split>.json`)."""
    folder = DataFolder(fixtures)
    if not folder.tasks.is_dir():
        return []
    return [(task_file(task, split), load_examples(folder.task(task, split)))
            for task in sequence_tasks(fixtures) for split in SPLITS if folder.task(task, split).is_file()]


def check_lengths(examples: list[Example], base: ModelFacts, prompt_format: str = "auto") -> None:
    """No record may be longer (prompt + answer, in the base's tokens) than the base's context: a DataError
    naming the file, line and record id of the first that is. Only records long enough in bytes to possibly
    overflow are tokenized."""
    limit = base.context
    if limit is None:  # a base without max_position_embeddings: nothing to check against
        return
    suspects = [ex for ex in examples if _utf8_size(ex) + TEMPLATE_ALLOWANCE > limit]
    for ex in suspects:  # tokenizing megabytes takes seconds: what no tokenizer could fit is refused at once
        if _utf8_size(ex) > limit * MAX_BYTES_PER_TOKEN:
            raise DataError(f"{ex.source}: record {ex.id!r} is {_utf8_size(ex):,} bytes of text, more than "
                            f"{MAX_BYTES_PER_TOKEN} bytes per position of the base model's context of {limit} "
                            f"({base.folder / 'config.json'} max_position_embeddings); shorten or drop it")
    if not suspects:
        return
    from harness.model.loading import prompt_tokenizer
    from harness.model.prompts import answer_ids, prompt_ids

    tokenizer = prompt_tokenizer(base.folder, prompt_format)
    for ex in suspects:
        prompt, answer = len(prompt_ids(tokenizer, ex.messages)), len(answer_ids(tokenizer, ex.answer))
        if prompt + answer > limit:
            raise DataError(f"{ex.source}: record {ex.id!r} is {prompt + answer} tokens (prompt {prompt}, answer "
                            f"{answer}), longer than the base model's context of {limit} positions "
                            f"({base.folder / 'config.json'} max_position_embeddings); shorten or drop it")


def _utf8_size(example: Example) -> int:
    return sum(len(text.encode()) for _, text in example.messages) + len(example.answer.encode())


def _overlap_warnings(fixtures: Path, datasets: list[tuple[str, list[Example]]]) -> list[str]:
    """Records an evaluation set shares with its training data (same id or same prompt). A task dev set that is a
    copy of its train set is an error; one drawn wholly from it is a closed-book recall set (as the built-in tasks
    are: they measure whether facts were learned or kept) and is accepted; a partial overlap, or any overlap of
    the held-out identity probes, is a leak: a warning with the count and the first ids."""
    by_label = dict(datasets)
    pairs = [(task_file(t, "dev"), task_file(t, "train")) for t in
             ({label.split("/")[1] for label in by_label if label.startswith(f"{TASKS}/")})]
    pairs.append((PROBES, SELF_COGNITION))
    warnings = []
    for held_out, train in sorted(pairs):
        if held_out not in by_label or train not in by_label:
            continue
        shared = shared_records(by_label[held_out], by_label[train])
        if not shared:
            continue
        total = len(by_label[held_out])
        if held_out.startswith(f"{TASKS}/") and len(shared) == total:
            if total == len(by_label[train]):
                raise DataError(f"{fixtures / held_out}: holds exactly the {total} records of {fixtures / train}; a "
                                "copy of the training set measures nothing a sample of it would not: make the dev "
                                "set a held-out or a smaller recall sample")
            continue
        ids = ", ".join(shared[:5]) + (" ..." if len(shared) > 5 else "")
        warnings.append(f"{fixtures / held_out}: {len(shared)} of {total} records also appear in {fixtures / train} "
                        f"(same id or same prompt: {ids}); their scores measure memory, not generalisation")
    return warnings


def check_history(path: Path | None) -> None:
    """An existing audit history file must be readable as one (a HistoryError naming it, the line and the column
    otherwise)."""
    if path is None or not path.is_file():
        return
    from harness.report.history import read_history

    read_history(path)
