"""Real translation models from the Hub (MarianMT: the Helsinki-NLP opus-mt family), opened through `transformers`.

    translator = hub_translation.open_model("Helsinki-NLP/opus-mt-en-fr@<revision>")   # -> marian.MarianTranslator
    translator.translate("The European Economic Area was signed in 1992.", beam_size=4)

A Hub repo is untrusted, so it costs nothing before it is checked, in this order (`inspect`):
1. the repo id and revision are well formed and allowed (s2s/hub.py: parse_repo_spec, S2S_HUB_ALLOWLIST);
2. one request lists the repo's files with their sizes: weights must be a single model.safetensors (a repo with
   only pickles, pytorch_model.bin and the like, is refused: they can run code when loaded), the tokenizer's
   files must be there, and each file must be within FILE_LIMITS;
3. config.json alone is downloaded and read: its architectures must be on ARCHITECTURES' list, it may name no
   code of its own (auto_map: remote code is never run), its sizes must be within LIMITS, and the parameters of
   the model it describes (counted on the meta device, which allocates nothing) at most MAX_PARAMETERS, and the
   weights file about as large as those parameters;
only then are the other files downloaded (`download`) and loaded (`load`): the model class named by the list,
never an Auto class with remote code, `attn_implementation="eager"` so that attention weights exist, weights
from safetensors only, local files only; weights that are NaN or infinite are refused. Inputs are capped at
max_source_len pieces and outputs at max_target_len (S2S_MT_MAX_SOURCE, S2S_MT_MAX_TARGET).

Files land in huggingface_hub's cache (HF_HUB_CACHE or HF_HOME/hub) like every Hub checkpoint here; a repo pinned
to a commit that is cached is opened without asking the Hub, and offline (HF_HUB_OFFLINE) only a cached copy is.
Every refusal is an S2SError with a message a person can act on (a ValueError where the repo is at fault).
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import httpx2
import torch
from huggingface_hub import HfApi, constants, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

from . import environment, hub
from .checkpoint import MAX_PIECE_CHARS, PICKLE_SUFFIXES
from .errors import CheckpointError, CheckpointFileNotFound, CheckpointTooLarge, HubFileTooLarge, HubUnreachable
from .marian import MarianTranslator

# config.json's architecture -> (config class, model class, tokenizer class): the only code a repo may choose
# by name: transformers is imported when a model is checked or built, not with this module (its import takes ~3 s
# and ~140 MB, which every process importing the page, the Train tab's children included, would pay)
ARCHITECTURES = {"MarianMTModel": ("MarianConfig", "MarianMTModel", "MarianTokenizer")}


def classes(architecture: str) -> tuple[type, type, type]:
    """(config class, model class, tokenizer class) of an architecture on ARCHITECTURES' list, from transformers."""
    import transformers  # noqa: PLC0415 (a third-party library, imported when first needed: see ARCHITECTURES)

    return tuple(getattr(transformers, name) for name in ARCHITECTURES[architecture])
MAX_PARAMETERS = environment.count("S2S_MT_MAX_PARAMETERS", 100_000_000)  # opus-mt-en-fr has 75 million
MAX_SOURCE_PIECES = environment.count("S2S_MT_MAX_SOURCE", 128)  # pieces of one input, EOS included
MAX_TARGET_PIECES = environment.count("S2S_MT_MAX_TARGET", 128)  # pieces of one output (a reference's too)
LIMITS = {  # config.json's sizes, checked before anything is built (opus-mt: 512, 6, 8, 2048, 59514 and 512)
    "d_model": 2048, "encoder_layers": 24, "decoder_layers": 24, "encoder_attention_heads": 32,
    "decoder_attention_heads": 32, "encoder_ffn_dim": 16384, "decoder_ffn_dim": 16384, "vocab_size": 256_000,
    "decoder_vocab_size": 256_000, "max_position_embeddings": 4096,
}
WEIGHTS, CONFIG, VOCAB, TARGET_VOCAB = "model.safetensors", "config.json", "vocab.json", "target_vocab.json"
REQUIRED_FILES = (CONFIG, WEIGHTS, "source.spm", "target.spm", VOCAB)
OPTIONAL_FILES = ("generation_config.json", "tokenizer_config.json", TARGET_VOCAB, "README.md")
FILE_LIMITS = {CONFIG: 64 * 1024, "generation_config.json": 64 * 1024, "tokenizer_config.json": 64 * 1024,
               "source.spm": 8 * 2**20, "target.spm": 8 * 2**20, VOCAB: 16 * 2**20, TARGET_VOCAB: 16 * 2**20,
               "README.md": 256 * 1024, WEIGHTS: 4 * MAX_PARAMETERS + 2**20}
WEIGHTS_SLACK = 2**20  # the safetensors header, beside 4 bytes a parameter
_COMMIT = re.compile(r"[0-9a-f]{40}")


class RemoteCodeRefused(CheckpointError):
    """The repo would run code of its own (auto_map, a custom class) or has only pickled weights."""


class ArchitectureNotAllowed(CheckpointError):
    """config.json names an architecture this app does not open."""


class ModelTooLarge(CheckpointTooLarge):
    """The model config.json describes is above MAX_PARAMETERS or LIMITS: nothing was loaded."""


@dataclass(frozen=True)
class Plan:
    """A repo checked and ready to download: what it is, which files, and how large."""

    repo_id: str
    commit: str
    revision: str
    files: tuple[str, ...]
    sizes: dict[str, int]
    config: dict  # config.json as the repo has it, checked
    architecture: str
    parameters: int

    @property
    def download_bytes(self) -> int:
        return sum(self.sizes.values())


def open_model(spec: str, *, device: str | torch.device = "cpu", timeout: float | None = None) -> MarianTranslator:
    """The translator of Hub repo "org/name[@revision]": checked, downloaded into the cache, loaded (module doc)."""
    plan = inspect(spec, timeout=timeout)
    return load(download(plan, timeout=timeout), plan, device=device)


def inspect(spec: str, *, timeout: float | None = None) -> Plan:
    """Check repo "org/name[@revision]" without downloading more than its config.json; raise what is wrong.

    Raises InvalidCheckpointName, RepoNotAllowed, RepoNotFound, RevisionNotFound, HubUnreachable, HubTimeout
    (as s2s.hub does), CheckpointFileNotFound (not a translation model's files), RemoteCodeRefused (pickled
    weights only, or code of its own), HubFileTooLarge, ArchitectureNotAllowed, ModelTooLarge.
    """
    repo_id, revision = hub.parse_repo_spec(spec.strip())
    hub.check_allowed(repo_id)
    revision = revision or constants.DEFAULT_REVISION
    where = f"{repo_id}@{revision}"
    cache_dir = constants.HF_HUB_CACHE
    cached = _cached(repo_id, revision, cache_dir)
    if cached is not None and (_COMMIT.fullmatch(revision) or constants.is_offline_mode()):
        sizes = {name: (cached / name).stat().st_size for name in (*REQUIRED_FILES, *OPTIONAL_FILES)
                 if (cached / name).is_file()}
        return _checked(repo_id, cached.name, revision, sizes, _read_json(cached / CONFIG, where))
    if constants.is_offline_mode():
        raise HubUnreachable(f"HF_HUB_OFFLINE is set and {where} is not in this server's Hub cache: unset "
                             "HF_HUB_OFFLINE, or open the model once while online.")
    endpoint, timeout = hub.endpoint_url(), hub.TIMEOUT if timeout is None else timeout
    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, timeout=timeout, files_metadata=True)
        found_id = info.id if info.id and info.id.lower() == repo_id.lower() else repo_id
        commit = info.sha or revision
        sizes = _file_sizes(info, where)
        config_path = hf_hub_download(found_id, CONFIG, revision=commit, cache_dir=cache_dir, endpoint=endpoint,
                                      etag_timeout=timeout)
    except (HfHubHTTPError, httpx2.TransportError, OfflineModeIsEnabled, LocalEntryNotFoundError) as error:
        raise hub._as_hub_error(error, repo_id, revision, endpoint, timeout) from error
    return _checked(found_id, commit, revision, sizes, _read_json(Path(config_path), where))


def download(plan: Plan, *, timeout: float | None = None) -> Path:
    """The plan's files in the cache, pinned to its commit; returns the snapshot folder."""
    endpoint, timeout = hub.endpoint_url(), hub.TIMEOUT if timeout is None else timeout
    cache_dir = constants.HF_HUB_CACHE
    try:
        paths = [hf_hub_download(plan.repo_id, name, revision=plan.commit, cache_dir=cache_dir, endpoint=endpoint,
                                 etag_timeout=timeout) for name in plan.files]
    except (HfHubHTTPError, httpx2.TransportError, OfflineModeIsEnabled, LocalEntryNotFoundError) as error:
        raise hub._as_hub_error(error, plan.repo_id, plan.revision, endpoint, timeout) from error
    folder = Path(paths[0]).parent
    if plan.revision != plan.commit:
        hub.remember_ref(cache_dir, plan.repo_id, plan.revision, plan.commit)
    return folder


def load(folder: Path, plan: Plan, *, device: str | torch.device = "cpu") -> MarianTranslator:
    """Build the plan's model from its downloaded files: the listed classes, eager attention, safetensors only."""
    where = f"{plan.repo_id}@{plan.revision}"
    config_class, model_class, tokenizer_class = classes(plan.architecture)
    tokenizer_config = _read_json(folder / "tokenizer_config.json", where) if "tokenizer_config.json" in plan.files \
        else {}
    separate = tokenizer_config.get("separate_vocabs") is True
    _check_vocabulary(folder / VOCAB, plan, where)
    if separate:
        if TARGET_VOCAB not in plan.files:
            raise CheckpointFileNotFound(f"{where} says it has separate vocabularies but lacks {TARGET_VOCAB}.")
        _check_vocabulary(folder / TARGET_VOCAB, plan, where)
    languages = {key: tokenizer_config[key] for key in ("source_lang", "target_lang")
                 if isinstance(tokenizer_config.get(key), str) and len(tokenizer_config[key]) <= 16}
    with warnings.catch_warnings():  # it asks for sacremoses, a normaliser marian.Pieces never uses
        warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
        tokenizer = tokenizer_class(source_spm=str(folder / "source.spm"), target_spm=str(folder / "target.spm"),
                                    vocab=str(folder / VOCAB), separate_vocabs=separate,
                                    target_vocab_file=str(folder / TARGET_VOCAB) if separate else None, **languages)
    model = model_class.from_pretrained(folder, config=config_class.from_dict(plan.config),
                                        attn_implementation="eager", use_safetensors=True, trust_remote_code=False,
                                        local_files_only=True, dtype=torch.float32)
    banned = plan.config.get("bad_words_ids")  # older repos keep generation settings in config.json only
    if model.generation_config.bad_words_ids is None and isinstance(banned, list) and all(
            isinstance(ids, list) and all(isinstance(i, int) for i in ids) for ids in banned):
        model.generation_config.bad_words_ids = banned[:16]
    if model.config._attn_implementation != "eager":
        raise CheckpointError(f"{where}: transformers did not open the eager attention path, whose weights this "
                              "app shows.")
    broken = [name for name, tensor in model.state_dict().items() if not torch.isfinite(tensor).all()]
    if broken:
        raise CheckpointError(f"{where}: weights hold NaN or infinite values ({', '.join(broken[:3])}), so it was "
                              "not loaded.")
    c = plan.config
    config = dict(
        family="marian", model=c.get("model_type", "marian"), architecture=plan.architecture, repo_id=plan.repo_id,
        revision=plan.revision, commit=plan.commit, task="translation", languages=_card_languages(folder, plan),
        **languages, score="scaled_dot", query="state", trained_mask="bidirectional", encoder="self-attention",
        bridge="cross-attention", emb_size=c["d_model"], hidden_size=c["d_model"], num_layers=c["decoder_layers"],
        encoder_layers=c["encoder_layers"], decoder_layers=c["decoder_layers"],
        heads=c["decoder_attention_heads"], encoder_heads=c["encoder_attention_heads"], ff_size=c["decoder_ffn_dim"],
        input_vocab_size=c["vocab_size"], output_vocab_size=c.get("decoder_vocab_size") or c["vocab_size"],
        max_positions=c["max_position_embeddings"], parameters=plan.parameters,
        max_source_len=min(MAX_SOURCE_PIECES, c["max_position_embeddings"]),
        max_target_len=min(MAX_TARGET_PIECES, c["max_position_embeddings"]),
    )
    return MarianTranslator(model, tokenizer, config, device=device)


# --- the checks ----------------------------------------------------------------------------------------------


def _file_sizes(info, where: str) -> dict[str, int]:
    """{name: bytes} of the files to download, once the repo's list passed every check (module doc, step 2)."""
    sizes: dict[str, int | None] = {}
    for sibling in info.siblings or ():
        reported = [s for s in (sibling.size, sibling.lfs.size if sibling.lfs else None) if s is not None]
        sizes[sibling.rfilename] = max(reported) if reported else None
    if WEIGHTS not in sizes:
        pickles = sorted(name for name in sizes if name.endswith((*PICKLE_SUFFIXES, ".h5", ".msgpack", ".ot")))
        if pickles:
            raise RemoteCodeRefused(
                f"{where} has its weights only as {', '.join(pickles[:3])}, which this app never loads (pickles can "
                f"run code): choose a revision with a single {WEIGHTS} (the Hub's safetensors conversion often "
                "waits as a pull request, revision refs/pr/N), or convert the weights and push them.")
        sharded = "model.safetensors.index.json" in sizes
        raise CheckpointFileNotFound(f"{where} has no {WEIGHTS}" + (
            " (its weights are split in shards, which only models above this app's size limit need)." if sharded
            else ": it is not a translation model this app can open."))
    missing = [name for name in REQUIRED_FILES if name not in sizes]
    if missing:
        raise CheckpointFileNotFound(f"{where} lacks {', '.join(missing)}: this app opens MarianMT models, whose "
                                     f"repos hold {', '.join(REQUIRED_FILES)}.")
    chosen = {}
    for name in (*REQUIRED_FILES, *OPTIONAL_FILES):
        if name not in sizes:
            continue
        if sizes[name] is None:
            raise HubFileTooLarge(f"{where}: the Hub did not say how large {name} is, so nothing was downloaded.")
        if sizes[name] > FILE_LIMITS[name]:
            raise HubFileTooLarge(
                f"{where}: {name} has {sizes[name]:,} bytes, above this app's limit of {FILE_LIMITS[name]:,} "
                f"(hub_translation.FILE_LIMITS), so nothing was downloaded: choose a smaller model.")
        chosen[name] = sizes[name]
    return chosen


def _checked(repo_id: str, commit: str, revision: str, sizes: dict[str, int], config: object) -> Plan:
    """The plan, once config.json passed every check (module doc, step 3); nothing is allocated."""
    where = f"{repo_id}@{revision}"
    if not isinstance(config, dict):
        raise CheckpointError(f"{where}: config.json must hold a JSON object.")
    if "auto_map" in config or config.get("trust_remote_code"):
        raise RemoteCodeRefused(f"{where}: config.json names code of its own (auto_map), and this app never runs a "
                                "repo's code: choose a model that transformers itself defines.")
    names = config.get("architectures")
    known = [name for name in names if name in ARCHITECTURES] if isinstance(names, list) else []
    if len(known) != 1 or len(names) != 1:
        shown = ", ".join(map(str, names))[:80] if isinstance(names, list) else repr(names)[:80]
        raise ArchitectureNotAllowed(f"{where} is a {shown or 'model of no named architecture'}; this app opens "
                                     f"{', '.join(ARCHITECTURES)} models (opus-mt-* translation models) only.")
    for key, limit in LIMITS.items():
        value = config.get(key, 1) if key == "decoder_vocab_size" and config.get(key) is None else config.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CheckpointError(f"{where}: config.json's {key} must be a whole number; got {repr(value)[:40]}.")
        if value > limit:
            raise ModelTooLarge(f"{where}: config.json's {key} is {value:,}, above this app's limit of {limit:,} "
                                "(hub_translation.LIMITS), so nothing was loaded: choose a smaller model.")
    config_class, model_class, _ = classes(known[0])
    try:
        with torch.device("meta"):
            model = model_class(config_class.from_dict(config))
    except (TypeError, ValueError) as error:  # a value transformers' own config refuses
        raise CheckpointError(f"{where}: config.json does not describe a model transformers can build "
                              f"({str(error).splitlines()[0][:120]}).") from None
    parameters = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    if parameters > MAX_PARAMETERS:
        raise ModelTooLarge(
            f"{where} has {parameters:,} parameters (counted from its config.json), above this server's limit of "
            f"{MAX_PARAMETERS:,} (S2S_MT_MAX_PARAMETERS), so nothing else was downloaded: choose a smaller model "
            "(the opus-mt-* models have about 75 million), or raise the limit on a machine with the memory for it "
            f"(about {4 * parameters / 1e9:.1f} GB).")
    if sizes.get(WEIGHTS, 0) > 4 * parameters + WEIGHTS_SLACK:
        raise HubFileTooLarge(f"{where}: {WEIGHTS} has {sizes[WEIGHTS]:,} bytes, more than the {parameters:,} "
                              "float32 parameters its config.json describes need, so nothing else was downloaded.")
    files = tuple(name for name in (*REQUIRED_FILES, *OPTIONAL_FILES) if name in sizes)
    return Plan(repo_id, commit, revision, files, {name: sizes[name] for name in files}, config, known[0], parameters)


def _read_json(path: Path, where: str) -> object:
    limit = FILE_LIMITS.get(path.name, 64 * 1024)
    with path.open("rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise HubFileTooLarge(f"{where}: {path.name} is larger than this app's limit of {limit:,} bytes.")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError(f"{where}: {path.name} is not valid JSON.") from None


def _check_vocabulary(path: Path, plan: Plan, where: str) -> None:
    """vocab.json maps pieces of at most MAX_PIECE_CHARS characters to ids the model has, with <unk> and </s>."""
    vocabulary = _read_json(path, where)
    size = max(plan.config["vocab_size"], plan.config.get("decoder_vocab_size") or 0)
    if not isinstance(vocabulary, dict) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < size for i in vocabulary.values()):
        raise CheckpointError(f"{where}: {path.name} must map pieces to ids below the model's vocabulary of {size}.")
    if "<unk>" not in vocabulary or "</s>" not in vocabulary:
        raise CheckpointError(f"{where}: {path.name} lacks <unk> or </s>.")
    if any(len(piece) > MAX_PIECE_CHARS for piece in vocabulary):
        raise CheckpointError(f"{where}: {path.name} has pieces longer than {MAX_PIECE_CHARS} characters.")


def _card_languages(folder: Path, plan: Plan) -> list[str]:
    """The languages the model card's front matter lists (README.md's `language:`), [] if none."""
    if "README.md" not in plan.files:
        return []
    with (folder / "README.md").open("rb") as file:
        text = file.read(FILE_LIMITS["README.md"]).decode("utf-8", errors="replace")
    match = re.match(r"---\s*\n(.*?)\n---", text, re.S)
    block = re.search(r"^language:(.*?)(?=^[A-Za-z_]|\Z)", match.group(1), re.S | re.M) if match else None
    if block is None:
        return []
    found = re.findall(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?", block.group(1))
    return list(dict.fromkeys(found))[:32]


def _cached(repo_id: str, revision: str, cache_dir: str) -> Path | None:
    """The cached snapshot of repo_id@revision holding every required file, or None."""
    return hub._cached_snapshot(hub._cached_repo_id(repo_id, cache_dir), revision, cache_dir, REQUIRED_FILES)
