"""Schemas of the custom resources the manifests use, for offline validation.

kubernetes-validate knows the built-in API only. The ServiceMonitor example
(deploy/kubernetes/overlays/monitoring) is prometheus-operator's ``monitoring.coreos.com/v1``
kind, whose CRD (``servicemonitors.monitoring.coreos.com``, operator 0.84) declares the
``openAPIV3Schema`` written down here: its ``spec`` with every top-level field, and of each
``endpoints`` item the scrape fields (port, targetPort, path, scheme, params, interval,
scrapeTimeout, honorLabels, honorTimestamps, followRedirects, enableHttp2, filterRunning).
The endpoint's authentication, TLS, proxy and relabelling fields are left out: an example
that grows one fails validation until it is added here from the CRD.

Strict like ``kubectl apply`` (server-side field validation ``Strict``): an object schema
rejects fields it does not declare (``additionalProperties: false``), where the CRD's
pruning would drop them.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

# ^(0|(([0-9]+)y)?(([0-9]+)w)?...)$ in the CRD: Prometheus' duration
DURATION = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?"
    r"(([0-9]+)ms)?)$"
)
_INT_OR_STRING: Schema = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
_STRINGS: Schema = {"type": "array", "items": {"type": "string"}}
_INT64: Schema = {"type": "integer"}
_PROTOCOLS = [
    "PrometheusProto",
    "OpenMetricsText0.0.1",
    "OpenMetricsText1.0.0",
    "PrometheusText0.0.4",
    "PrometheusText1.0.0",
]


def _object(properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


_LABEL_SELECTOR = _object(
    {
        "matchExpressions": {
            "type": "array",
            "items": _object(
                {"key": {"type": "string"}, "operator": {"type": "string"}, "values": _STRINGS},
                required=("key", "operator"),
            ),
        },
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
    }
)

_ENDPOINT = _object(
    {
        "port": {"type": "string"},
        "targetPort": _INT_OR_STRING,
        "path": {"type": "string"},
        "scheme": {"type": "string", "enum": ["http", "https"]},
        "params": {"type": "object", "additionalProperties": _STRINGS},
        "interval": {"type": "string", "pattern": DURATION},
        "scrapeTimeout": {"type": "string", "pattern": DURATION},
        "honorLabels": {"type": "boolean"},
        "honorTimestamps": {"type": "boolean"},
        "followRedirects": {"type": "boolean"},
        "enableHttp2": {"type": "boolean"},
        "filterRunning": {"type": "boolean"},
    }
)

SERVICE_MONITOR_SPEC = _object(
    {
        "attachMetadata": _object({"node": {"type": "boolean"}}),
        "bodySizeLimit": {
            "type": "string",
            "pattern": r"(^0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$",
        },
        "convertClassicHistogramsToNHCB": {"type": "boolean"},
        "endpoints": {"type": "array", "items": _ENDPOINT},
        "fallbackScrapeProtocol": {"type": "string", "enum": _PROTOCOLS},
        "jobLabel": {"type": "string"},
        "keepDroppedTargets": _INT64,
        "labelLimit": _INT64,
        "labelNameLengthLimit": _INT64,
        "labelValueLengthLimit": _INT64,
        "namespaceSelector": _object({"any": {"type": "boolean"}, "matchNames": _STRINGS}),
        "nativeHistogramBucketLimit": _INT64,
        "nativeHistogramMinBucketFactor": _INT_OR_STRING,
        "podTargetLabels": _STRINGS,
        "sampleLimit": _INT64,
        "scrapeClass": {"type": "string", "minLength": 1},
        "scrapeClassicHistograms": {"type": "boolean"},
        "scrapeProtocols": {"type": "array", "items": {"type": "string", "enum": _PROTOCOLS}},
        "selector": _LABEL_SELECTOR,
        "selectorMechanism": {"type": "string", "enum": ["RelabelConfig", "RoleSelector"]},
        "targetLabels": _STRINGS,
        "targetLimit": _INT64,
    },
    required=("endpoints", "selector"),
)

# (apiVersion, kind) -> the schema of the whole object; `metadata` is checked separately,
# against the Kubernetes ObjectMeta schema
CUSTOM_RESOURCES: dict[tuple[str, str], Schema] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _object(
        {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": SERVICE_MONITOR_SPEC,
        },
        required=("spec",),
    ),
}
