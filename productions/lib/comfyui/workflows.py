"""ComfyUI workflows as files: an API-format graph plus a small manifest naming its parameters.

A workflow `NAME` is two files in the workflows directory (the repository's `workflows/`, or the directory the
caller names: the app passes TOWER_WORKFLOWS_DIR):

- `NAME.json`: the graph in ComfyUI's API format, `{node_id: {"class_type": ..., "inputs": {...}}}` (what
  ComfyUI's "Export (API)" writes);
- `NAME.params.json`: the manifest::

    {
      "kind": "segment",                 # "keyframe" (txt2img) or "segment" (img2vid)
      "model": "svd_xt",                 # segments: the model profile it runs (model_profiles.py); default svd_xt
      "description": "...",
      "priority": 0,                     # among usable workflows of a kind, the highest priority wins
      "output_node": "7",                # the SaveImage node whose images are the result
      "progress_node": "5",              # optional: the node whose steps drive Tower's progress bar
      "native_size": [1344, 768],        # optional (keyframes): the model's native size
      "params": {"seed": ["5", "seed"],  # parameter name -> [node_id, input] or a list of them
                 "lora_strength": [["2", "strength_model"], ["2", "strength_clip"]]},
      "defaults": {"steps": 20},         # values used when Tower does not give one
      "uploads": ["init_image"],         # parameters that receive an uploaded image name
      "bypass": {"lora_name": {"node": "2", "outputs": ["model", "clip"]}}
    }

`bypass` removes an optional node when its parameter is empty (null or ""): every link to output i of the node
is rewired to whatever feeds the node's input `outputs[i]`, as ComfyUI's own "bypass" does in the editor. With
`"outputs": []` the links to the node are dropped instead (the inputs they fed must be optional ones).

Reference image: a workflow whose model takes a picture of the character declares the parameter
`reference_image` (the `LoadImage` node whose `image` is set), lists it in `uploads` and bypasses that node with
`"outputs": []` so it runs without one too::

      "params": {..., "reference_image": ["12", "image"]},
      "uploads": ["init_image", "reference_image"],
      "bypass": {"reference_image": {"node": "12", "outputs": []}}

The backend then uploads the first reference picture among the shot's characters and sets it; a workflow without
the parameter ignores reference pictures.

LoRAs: a request's LoRA stack (the shot's characters', lib/prompts.py) is not a manifest parameter: `with_loras`
inserts one loader per LoRA between each model loader and the nodes using its model (`LoraLoader` on model and
CLIP where the loader gives a CLIP, as a checkpoint does; `LoraLoaderModelOnly` where it gives a model alone, as
Wan's `UNETLoader` does), in the stack's order, so every shot gets the same chain.

An admin adds a workflow by dropping the two files in the directory; no code changes. Parameters are declared
once, in the manifest; code fills them by name with `Workflow.fill()`. `validate_workflow()` checks a filled
graph against a server's `/object_info` before anything is queued.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import WorkflowInvalid

KINDS = ("keyframe", "segment")
DEFAULT_DIR = Path(__file__).resolve().parents[3] / "workflows"
MANIFEST_SUFFIX = ".params.json"


class WorkflowFileError(ValueError):
    """A workflow file or its manifest is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Bypass:
    node: str
    outputs: tuple[str, ...]  # output index i passes through the node's input outputs[i]


@dataclass(frozen=True)
class Workflow:
    name: str
    kind: str
    graph: dict[str, Any]
    params: dict[str, tuple[tuple[str, str], ...]]
    output_node: str
    defaults: dict[str, Any] = field(default_factory=dict)
    uploads: frozenset[str] = frozenset()
    bypass: dict[str, Bypass] = field(default_factory=dict)
    progress_node: str | None = None
    priority: int = 0
    native_size: tuple[int, int] | None = None
    description: str = ""
    path: Path | None = None
    model: str = ""  # the model profile a segment workflow runs ("": SVD-XT's, the workflows made before profiles)

    @property
    def takes_reference_image(self) -> bool:
        """Whether the workflow sets a character's reference picture (manifest parameter `reference_image`)."""
        return "reference_image" in self.params

    def upload_inputs(self) -> set[tuple[str, str]]:
        """(node_id, input) pairs that receive uploaded file names (not checked against server lists)."""
        return {target for name in self.uploads for target in self.params.get(name, ())}

    def fill(self, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A new graph with the named parameters set (defaults first, then `values`).

        A value of None means "not given": the manifest's default applies, else the template's own value.
        Names the workflow does not declare are ignored (Tower passes the same names to every workflow).
        """
        merged: dict[str, Any] = dict(self.defaults)
        for key, value in (values or {}).items():
            if value is not None:
                merged[key] = value
        graph = copy.deepcopy(self.graph)
        for name, value in merged.items():
            for node_id, input_name in self.params.get(name, ()):
                graph[node_id]["inputs"][input_name] = value
        removed: dict[str, Bypass] = {}
        for name, rule in self.bypass.items():
            if merged.get(name) in (None, ""):
                removed[rule.node] = rule
        if removed:
            graph = _bypass_nodes(graph, removed)
        return graph


def _is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


_DROP = object()  # a link to a bypassed node without pass-through: the input is left unset


def _bypass_nodes(graph: dict[str, Any], removed: Mapping[str, Bypass]) -> dict[str, Any]:
    def resolve(link: list, depth: int = 0) -> Any:
        src, index = link
        rule = removed.get(src)
        if rule is None:
            return link
        if not rule.outputs:
            return _DROP
        if depth > len(removed) or index >= len(rule.outputs):
            raise WorkflowFileError(f"cannot bypass node {src}: its output {index} has no pass-through input")
        upstream = graph[src]["inputs"].get(rule.outputs[index])
        return resolve(upstream, depth + 1) if _is_link(upstream) else upstream

    out: dict[str, Any] = {}
    for node_id, node in graph.items():
        if node_id in removed:
            continue
        inputs = {k: (resolve(v) if _is_link(v) else v) for k, v in node.get("inputs", {}).items()}
        out[node_id] = {**node, "inputs": {k: v for k, v in inputs.items() if v is not _DROP}}
    return out


# -- LoRA stacks and reference pictures --------------------------------------------------------------------

REFERENCE_IMAGE = "reference_image"  # the manifest parameter of a workflow that takes a character's picture
LORA_LOADER, LORA_LOADER_MODEL_ONLY = "LoraLoader", "LoraLoaderModelOnly"


def lora_names(object_info: Mapping[str, Any]) -> list[str] | None:
    """The LoRA files a server lists (LoraLoader's `lora_name` dropdown, in either /object_info style); None
    when its /object_info has no LoRA loader at all. Works on the whole /object_info and on
    /object_info/LoraLoader alike."""
    for class_type in (LORA_LOADER, LORA_LOADER_MODEL_ONLY):
        info = object_info.get(class_type)
        if not isinstance(info, Mapping):
            continue
        options = combo_options(((info.get("input") or {}).get("required") or {}).get("lora_name"))
        if options is not None:
            return [str(o) for o in options]
    return None


def _input_types(info: Mapping[str, Any]) -> set[str]:
    spec_in = info.get("input") or {}
    return {t for group in ("required", "optional") for spec in (spec_in.get(group) or {}).values()
            if (t := _spec_type(spec)) is not None}


def model_loaders(graph: Mapping[str, Any], object_info: Mapping[str, Any]) -> list[tuple[str, int, int | None]]:
    """The nodes that load a diffusion model (they give a MODEL and take none: CheckpointLoaderSimple,
    UNETLoader, ImageOnlyCheckpointLoader...), each as (node_id, its MODEL output, its CLIP output or None)."""
    found = []
    for node_id, node in graph.items():
        info = object_info.get(node.get("class_type", ""))
        if not isinstance(info, Mapping):
            continue
        outputs = list(info.get("output") or [])
        if "MODEL" not in outputs or "MODEL" in _input_types(info):
            continue
        found.append((node_id, outputs.index("MODEL"), outputs.index("CLIP") if "CLIP" in outputs else None))
    return found


def with_loras(graph: Mapping[str, Any], loras: Sequence[Any], object_info: Mapping[str, Any]) -> dict[str, Any]:
    """A new graph with the LoRA stack `loras` (objects with `.name` and `.strength`, e.g. prompts.LoraUse, in
    order) chained between every model loader and the nodes that use its outputs: `LoraLoader` (strength_model =
    strength_clip = strength) where the loader gives a CLIP, `LoraLoaderModelOnly` where it gives a model alone.
    The graph is unchanged when the stack is empty. Validate the result with `workflow_problems` (the server
    must list each LoRA file)."""
    out = copy.deepcopy(dict(graph))
    if not loras:
        return out
    numbers = [int(k) for k in out if str(k).isdigit()]
    next_id = max(numbers, default=0) + 1
    for loader_id, model_index, clip_index in model_loaders(graph, object_info):
        model_src: list = [loader_id, model_index]
        clip_src: list | None = [loader_id, clip_index] if clip_index is not None else None
        model_users = [(n, k) for n, node in out.items() for k, v in node["inputs"].items()
                       if _is_link(v) and v == model_src]
        clip_users = [(n, k) for n, node in out.items() for k, v in node["inputs"].items()
                      if clip_src is not None and _is_link(v) and v == clip_src]
        for use in loras:
            node_id = str(next_id)
            next_id += 1
            strength = float(use.strength)
            if clip_src is not None:
                out[node_id] = {"class_type": LORA_LOADER, "inputs": {
                    "model": model_src, "clip": clip_src, "lora_name": use.name,
                    "strength_model": strength, "strength_clip": strength}}
                model_src, clip_src = [node_id, 0], [node_id, 1]
            else:
                out[node_id] = {"class_type": LORA_LOADER_MODEL_ONLY, "inputs": {
                    "model": model_src, "lora_name": use.name, "strength_model": strength}}
                model_src = [node_id, 0]
        for n, k in model_users:
            out[n]["inputs"][k] = list(model_src)
        for n, k in clip_users:
            out[n]["inputs"][k] = list(clip_src)
    return out


def lora_chain(graph: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The LoRA loaders of a graph, in chain order from the model loader (name, strength): what a job used."""
    nodes = {k: v for k, v in graph.items() if v.get("class_type") in (LORA_LOADER, LORA_LOADER_MODEL_ONLY)}
    fed_by_lora = {k for k, v in nodes.items() if _is_link(v["inputs"].get("model"))
                   and v["inputs"]["model"][0] in nodes}
    chain: list[tuple[str, float]] = []
    for start in sorted(set(nodes) - fed_by_lora, key=lambda k: (len(k), k)):
        current: str | None = start
        while current is not None:
            inputs = nodes[current]["inputs"]
            chain.append((inputs["lora_name"], inputs["strength_model"]))
            current = next((k for k, v in nodes.items() if v["inputs"].get("model") == [current, 0]), None)
    return chain


# -- loading ---------------------------------------------------------------------------------------------


def _targets(name: str, raw: Any, path: Path) -> tuple[tuple[str, str], ...]:
    if isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, str) for x in raw):
        return ((raw[0], raw[1]),)
    if isinstance(raw, list) and raw and all(
        isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t) for t in raw
    ):
        return tuple((t[0], t[1]) for t in raw)
    raise WorkflowFileError(
        f"{path.name}: parameter {name!r} must be [node_id, input_name] or a list of them, got {raw!r}"
    )


def load_workflow(graph_path: Path, manifest_path: Path | None = None) -> Workflow:
    graph_path = Path(graph_path)
    name = graph_path.name[: -len(".json")] if graph_path.name.endswith(".json") else graph_path.stem
    manifest_path = manifest_path or graph_path.with_name(name + MANIFEST_SUFFIX)
    try:
        graph = json.loads(graph_path.read_text())
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise WorkflowFileError(f"workflow {name!r}: cannot read {exc}") from exc
    if not isinstance(graph, dict) or not graph:
        raise WorkflowFileError(f"{graph_path.name}: not an API-format workflow (expected {{node_id: node}})")
    if "nodes" in graph and "links" in graph:
        raise WorkflowFileError(
            f"{graph_path.name}: this is ComfyUI's editor format; export it with 'Export (API)' instead"
        )
    for node_id, node in graph.items():
        if not isinstance(node, dict) or "class_type" not in node or not isinstance(node.get("inputs"), dict):
            raise WorkflowFileError(f"{graph_path.name}: node {node_id} needs 'class_type' and 'inputs'")
    kind = manifest.get("kind")
    if kind not in KINDS:
        raise WorkflowFileError(f"{manifest_path.name}: 'kind' must be one of {KINDS}, got {kind!r}")
    output_node = str(manifest.get("output_node", ""))
    if output_node not in graph:
        raise WorkflowFileError(f"{manifest_path.name}: output_node {output_node!r} is not a node of the graph")
    progress_node = manifest.get("progress_node")
    if progress_node is not None and str(progress_node) not in graph:
        raise WorkflowFileError(f"{manifest_path.name}: progress_node {progress_node!r} is not in the graph")
    params: dict[str, tuple[tuple[str, str], ...]] = {}
    for pname, raw in (manifest.get("params") or {}).items():
        targets = _targets(pname, raw, manifest_path)
        for node_id, input_name in targets:
            if node_id not in graph:
                raise WorkflowFileError(
                    f"{manifest_path.name}: parameter {pname!r} points at node {node_id}, which is not in "
                    f"{graph_path.name}"
                )
            if input_name not in graph[node_id]["inputs"]:
                raise WorkflowFileError(
                    f"{manifest_path.name}: parameter {pname!r} points at input {input_name!r} of node "
                    f"{node_id} ({graph[node_id]['class_type']}), which the graph does not set"
                )
        params[pname] = targets
    uploads = frozenset(manifest.get("uploads") or ())
    for up in uploads:
        if up not in params:
            raise WorkflowFileError(f"{manifest_path.name}: upload {up!r} is not a declared parameter")
    bypass: dict[str, Bypass] = {}
    for pname, rule in (manifest.get("bypass") or {}).items():
        node_id = str(rule.get("node", ""))
        outputs = tuple(rule.get("outputs") or ())
        if node_id not in graph:
            raise WorkflowFileError(f"{manifest_path.name}: bypass {pname!r} names missing node {node_id!r}")
        for inp in outputs:
            if inp not in graph[node_id]["inputs"]:
                raise WorkflowFileError(
                    f"{manifest_path.name}: bypass {pname!r}: node {node_id} has no input {inp!r}"
                )
        bypass[pname] = Bypass(node=node_id, outputs=outputs)
    native = manifest.get("native_size")
    native_size = (int(native[0]), int(native[1])) if native else None
    return Workflow(
        name=name,
        kind=kind,
        graph=graph,
        params=params,
        output_node=output_node,
        defaults=dict(manifest.get("defaults") or {}),
        uploads=uploads,
        bypass=bypass,
        progress_node=str(progress_node) if progress_node is not None else None,
        priority=int(manifest.get("priority", 0)),
        native_size=native_size,
        description=str(manifest.get("description", "")),
        path=graph_path,
        model=str(manifest.get("model") or ""),
    )


class WorkflowLibrary:
    """The workflows found in a directory, reloaded when the directory's files change."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory else DEFAULT_DIR
        self._stamp: tuple | None = None
        self._workflows: dict[str, Workflow] = {}
        self.errors: dict[str, str] = {}  # file name -> why it was skipped

    def _current_stamp(self) -> tuple:
        try:
            entries = sorted(self.directory.glob("*.json"))
            return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in entries)
        except OSError:
            return ()

    def reload(self) -> None:
        workflows: dict[str, Workflow] = {}
        errors: dict[str, str] = {}
        for manifest in sorted(self.directory.glob("*" + MANIFEST_SUFFIX)):
            name = manifest.name[: -len(MANIFEST_SUFFIX)]
            graph = manifest.with_name(name + ".json")
            if not graph.exists():
                errors[manifest.name] = f"no {graph.name} next to it"
                continue
            try:
                workflows[name] = load_workflow(graph, manifest)
            except WorkflowFileError as exc:
                errors[manifest.name] = str(exc)
        self._workflows, self.errors = workflows, errors
        self._stamp = self._current_stamp()

    def _fresh(self) -> dict[str, Workflow]:
        if self._stamp is None or self._stamp != self._current_stamp():
            self.reload()
        return self._workflows

    def names(self) -> list[str]:
        return sorted(self._fresh())

    def get(self, name: str) -> Workflow:
        workflows = self._fresh()
        if name not in workflows:
            why = self.errors.get(name + MANIFEST_SUFFIX)
            raise WorkflowFileError(
                f"no workflow {name!r} in {self.directory}" + (f" ({why})" if why else "")
                + f"; available: {', '.join(sorted(workflows)) or 'none'}"
            )
        return workflows[name]

    def of_kind(self, kind: str) -> list[Workflow]:
        """Workflows of a kind, highest priority first (ties by name)."""
        return sorted((w for w in self._fresh().values() if w.kind == kind), key=lambda w: (-w.priority, w.name))


# -- validation against /object_info ----------------------------------------------------------------------

FILE_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".onnx", ".sft", ".png", ".jpg",
                   ".jpeg", ".webp")
FILE_KINDS = {
    "ckpt_name": "checkpoint",
    "lora_name": "LoRA",
    "vae_name": "VAE",
    "clip_name": "CLIP model",
    "unet_name": "diffusion model",
    "control_net_name": "ControlNet model",
    "model_name": "model",
    "image": "input image",
}
CLASS_FILE_KINDS = {
    ("UpscaleModelLoader", "model_name"): "upscale model",
    ("RIFE VFI", "ckpt_name"): "RIFE model",
}


@dataclass(frozen=True)
class WorkflowProblem:
    node_id: str
    class_type: str
    input_name: str | None
    message: str  # a full sentence naming node, class, input and the missing file or value

    def __str__(self) -> str:
        return self.message


def where(node_id: str, class_type: str, input_name: str | None = None) -> str:
    return f"node {node_id} {class_type}" + (f", input {input_name}" if input_name else "")


def missing_value_message(node_id: str, class_type: str, input_name: str, value: Any,
                          options: list | None = None) -> str:
    kind = CLASS_FILE_KINDS.get((class_type, input_name)) or FILE_KINDS.get(input_name)
    looks_like_file = isinstance(value, str) and value.lower().endswith(FILE_EXTENSIONS)
    if kind or looks_like_file:
        return f"The server has no {kind or 'file'} {value!r} ({where(node_id, class_type, input_name)})"
    allowed = ""
    if options:
        shown = ", ".join(repr(o) for o in options[:8]) + (", ..." if len(options) > 8 else "")
        allowed = f"; allowed: {shown}"
    return f"{value!r} is not an allowed value ({where(node_id, class_type, input_name)}){allowed}"


def missing_node_message(node_id: str, class_type: str) -> str:
    return (
        f"The server has no node type {class_type!r} (node {node_id}): install the custom node pack that "
        f"provides it, or use a workflow without it"
    )


def combo_options(spec: Any) -> list | None:
    """The allowed values of a dropdown input, in either /object_info style, else None.

    Old style: `[["a.safetensors", "b.safetensors"], {...}]`; new style: `["COMBO", {"options": [...]}]`.
    """
    if not isinstance(spec, (list, tuple)) or not spec:
        return None
    first = spec[0]
    if isinstance(first, (list, tuple)):
        return list(first)
    if first == "COMBO":
        opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
        return list(opts.get("options") or [])
    return None


def _spec_type(spec: Any) -> str | None:
    if isinstance(spec, (list, tuple)) and spec and isinstance(spec[0], str):
        return spec[0]
    return None


def _types_match(output_type: str, input_type: str) -> bool:
    if "*" in (output_type, input_type) or output_type == input_type:
        return True
    return bool(set(output_type.split(",")) & set(input_type.split(",")))


def workflow_problems(
    workflow: Mapping[str, Any],
    object_info: Mapping[str, Any],
    *,
    ignore_values: Iterable[tuple[str, str]] = (),
) -> list[WorkflowProblem]:
    """Everything in `workflow` that the server described by `object_info` would refuse.

    Checks node classes exist, required inputs are present, links point at existing nodes and matching
    output types, dropdown values (model files...) are in the server's lists, numbers are within bounds.
    `ignore_values` lists (node_id, input) whose value is not checked (e.g. an image uploaded just before).
    """
    skip = set(ignore_values)
    problems: list[WorkflowProblem] = []
    for node_id, node in workflow.items():
        class_type = node.get("class_type", "")
        info = object_info.get(class_type)
        if info is None:
            problems.append(WorkflowProblem(node_id, class_type, None, missing_node_message(node_id, class_type)))
            continue
        spec_in = info.get("input") or {}
        required = spec_in.get("required") or {}
        optional = spec_in.get("optional") or {}
        inputs = node.get("inputs") or {}
        for name in required:
            if name not in inputs:
                problems.append(WorkflowProblem(
                    node_id, class_type, name,
                    f"The workflow does not set the required input {name!r} ({where(node_id, class_type, name)});"
                    f" the server's version of {class_type} needs it",
                ))
        for name, value in inputs.items():
            spec = required.get(name, optional.get(name))
            if spec is None:
                continue  # ComfyUI ignores inputs a node does not declare
            if _is_link(value):
                src, index = value
                if src not in workflow:
                    problems.append(WorkflowProblem(
                        node_id, class_type, name,
                        f"Input {name!r} links to node {src}, which is not in the workflow "
                        f"({where(node_id, class_type, name)})",
                    ))
                    continue
                src_info = object_info.get(workflow[src].get("class_type", ""))
                want = _spec_type(spec)
                if src_info is not None and want is not None:
                    outputs = src_info.get("output") or []
                    if index >= len(outputs):
                        problems.append(WorkflowProblem(
                            node_id, class_type, name,
                            f"Input {name!r} uses output {index} of node {src}, which has only {len(outputs)} "
                            f"outputs ({where(node_id, class_type, name)})",
                        ))
                    elif isinstance(outputs[index], str) and not _types_match(outputs[index], want):
                        problems.append(WorkflowProblem(
                            node_id, class_type, name,
                            f"Input {name!r} expects {want} but node {src} gives {outputs[index]} "
                            f"({where(node_id, class_type, name)})",
                        ))
                continue
            if (node_id, name) in skip:
                continue
            options = combo_options(spec)
            if options is not None:
                if value not in options:
                    problems.append(WorkflowProblem(
                        node_id, class_type, name,
                        missing_value_message(node_id, class_type, name, value, options),
                    ))
                continue
            kind = _spec_type(spec)
            cfg = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            if kind in ("INT", "FLOAT"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    isinstance(value, float) and not math.isfinite(value)
                ):
                    problems.append(WorkflowProblem(
                        node_id, class_type, name,
                        f"Input {name!r} must be a number, got {value!r} ({where(node_id, class_type, name)})",
                    ))
                    continue
                lo, hi = cfg.get("min"), cfg.get("max")
                if lo is not None and value < lo:
                    problems.append(WorkflowProblem(
                        node_id, class_type, name,
                        f"Input {name!r} is {value}, below the minimum {lo} ({where(node_id, class_type, name)})",
                    ))
                elif hi is not None and value > hi:
                    problems.append(WorkflowProblem(
                        node_id, class_type, name,
                        f"Input {name!r} is {value}, above the maximum {hi} ({where(node_id, class_type, name)})",
                    ))
            elif kind == "BOOLEAN" and not isinstance(value, bool):
                problems.append(WorkflowProblem(
                    node_id, class_type, name,
                    f"Input {name!r} must be true or false, got {value!r} ({where(node_id, class_type, name)})",
                ))
    return problems


def validate_workflow(
    workflow: Mapping[str, Any],
    object_info: Mapping[str, Any],
    *,
    ignore_values: Iterable[tuple[str, str]] = (),
    name: str = "",
    server: str | None = None,
) -> None:
    """Raise WorkflowInvalid (naming node id, class, input and the missing file or value) if the server
    described by `object_info` would refuse `workflow`; return None when it would accept it."""
    problems = workflow_problems(workflow, object_info, ignore_values=ignore_values)
    if problems:
        raise WorkflowInvalid(
            problems_message(problems, name=name, server=server), server=server, problems=problems
        )


def problems_message(problems: list[WorkflowProblem], *, name: str = "", server: str | None = None) -> str:
    head = "; ".join(p.message for p in problems[:5])
    if len(problems) > 5:
        head += f"; and {len(problems) - 5} more"
    ctx = []
    if name:
        ctx.append(f"workflow {name!r}")
    if server:
        ctx.append(f"server {server}")
    return head + (f" [{', '.join(ctx)}]" if ctx else "")


# -- the server's own validation answer (HTTP 400 from POST /prompt) ---------------------------------------

_MISSING_NODE = re.compile(r"node (.+?) does not exist", re.IGNORECASE)
_NODE_ID = re.compile(r"#([^'\"]+)")


def prompt_error_problems(body: Any) -> list[WorkflowProblem]:
    """Turn a 400 body from POST /prompt (`{"error": {...}, "node_errors": {...}}`) into plain problems."""
    problems: list[WorkflowProblem] = []
    if not isinstance(body, dict):
        return [WorkflowProblem("", "", None, f"The server refused the workflow: {str(body)[:300]}")]
    error = body.get("error")
    node_errors = body.get("node_errors")
    if isinstance(node_errors, dict):
        for node_id, entry in node_errors.items():
            if not isinstance(entry, dict):
                continue
            class_type = str(entry.get("class_type", ""))
            for err in entry.get("errors") or []:
                if not isinstance(err, dict):
                    continue
                extra = err.get("extra_info") if isinstance(err.get("extra_info"), dict) else {}
                input_name = extra.get("input_name")
                etype = err.get("type", "")
                if etype == "value_not_in_list" and input_name:
                    value = extra.get("received_value")
                    msg = missing_value_message(str(node_id), class_type, input_name, value)
                elif etype == "required_input_missing":
                    msg = (f"The workflow does not set the required input {input_name!r} "
                           f"({where(str(node_id), class_type, input_name)})")
                else:
                    text = str(err.get("message", "invalid input"))
                    details = str(err.get("details", "")).strip()
                    msg = f"{text}{': ' + details if details else ''} ({where(str(node_id), class_type, input_name)})"
                problems.append(WorkflowProblem(str(node_id), class_type, input_name, msg))
    if problems:
        return problems
    if isinstance(error, dict):
        message = str(error.get("message", "")).strip()
        details = str(error.get("details", "")).strip()
        match = _MISSING_NODE.search(message)
        if error.get("type") == "invalid_prompt" and match:
            node_match = _NODE_ID.search(details)
            node_id = node_match.group(1) if node_match else "?"
            class_type = match.group(1)
            return [WorkflowProblem(node_id, class_type, None, missing_node_message(node_id, class_type))]
        text = message or str(error.get("type", "invalid prompt"))
        return [WorkflowProblem("", "", None, f"The server refused the workflow: {text}"
                                + (f" ({details})" if details else ""))]
    return [WorkflowProblem("", "", None, f"The server refused the workflow: {error or body}")]
