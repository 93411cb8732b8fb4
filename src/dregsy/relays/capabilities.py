"""What each relay can do, checked against the config before anything starts.

The native relay can do everything the config can say. The Docker daemon keeps one
platform per image and pushes by tag only (a digest without a tag is pushed as tag
`dregsy-<hex>`, as dregsy does); skopeo copies one image or a whole index, by tag or by
digest, but cannot write a new (subset) index. Neither copies referrers (signatures,
SBOMs, attestations) or cosign's digest tags: those keys need the native relay.
"""

from __future__ import annotations

from dregsy.config.types import Config, RelayKind
from dregsy.errors import ConfigProblem
from dregsy.selection.filters import TagRef


def capability_problems(config: Config) -> list[ConfigProblem]:
    """Mapping settings the chosen relay cannot honour, each with its key path."""
    why = f"does not work with the {config.relay} relay (selected by {config.relay_reason})"
    problems = []
    for i, task in enumerate(config.tasks):
        if config.relay is not RelayKind.NATIVE:
            problems += _referrer_problems(f"tasks[{i}]", task.referrer_keys, why)
        for j, mapping in enumerate(task.mappings):
            where = f"tasks[{i}].mappings[{j}]"
            selects = mapping.platforms or mapping.platform not in (None, "all")
            by_digest = config.relay is not RelayKind.DOCKER  # the daemon invents a tag
            for k, entry in enumerate(mapping.tags.entries if mapping.tags else ()):
                if not (by_digest and selects):
                    break
                if isinstance(entry, TagRef) and entry.tag is None and entry.digest:
                    message = (
                        "a digest without a tag cannot take a platform selection: the target "
                        "would hold another digest; write it as <tag>@sha256:..."
                    )
                    problems.append(ConfigProblem(f"{where}.tags[{k}]", message))
            if config.relay is RelayKind.NATIVE:
                continue
            problems += _referrer_problems(where, mapping.referrers.keys, why)
            if config.relay is RelayKind.DOCKER and mapping.platform == "all":
                message = f"'all' {why}: the daemon keeps one platform; name one or leave it out"
                problems.append(ConfigProblem(f"{where}.platform", message))
            if mapping.platforms:
                message = f"{why}: only the native relay writes a subset index"
                problems.append(ConfigProblem(f"{where}.platforms", message))
    return problems


def _referrer_problems(where: str, keys: tuple[str, ...], why: str) -> list[ConfigProblem]:
    """Referrers and cosign tags are copied by the native relay only."""
    message = f"{why}: only the native relay copies referrers and cosign tags"
    return [ConfigProblem(f"{where}.{key}", message) for key in keys]
