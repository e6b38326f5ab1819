"""The OpenAPI document fal publishes for an endpoint, as the emulator serves it.

fal serves each endpoint's queue schema at
``https://fal.ai/api/openapi/queue/openapi.json?endpoint_id=<id>``; the emulator
serves the same shape at ``{base_url}/api/openapi/queue/openapi.json``. The input
schema here is fal-js 1.10.1's ``Seedance2I2VFastInput`` (types regenerated
2026-08-02): it has ``bitrate_mode`` and **no** ``seed`` (the model page still
lists ``seed``; the emulator accepts it either way). The layout (``QueueStatus``,
``<Name>Input`` / ``<Name>Output`` components, four paths, ``servers``) follows
documents fal serves for other endpoints::

    doc = openapi_document("bytedance/seedance-2.0/fast/image-to-video", "http://127.0.0.1:8787/queue")
    doc["components"]["schemas"]["BytedanceSeedance20FastImageToVideoInput"]["properties"]["bitrate_mode"]
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ..schema import EndpointId

__all__ = ["ENDPOINTS", "input_schema", "openapi_document"]

#: Endpoints whose schema the emulator serves (they share this input shape in fal-js's types; the standard tier
#: adds ``1080p``, the mini tier has no ``bitrate_mode``).
ENDPOINTS: tuple[str, ...] = (
    "bytedance/seedance-2.0/fast/image-to-video",
    "bytedance/seedance-2.0/image-to-video",
    "bytedance/seedance-2.0/mini/image-to-video",
)
_STANDARD = "bytedance/seedance-2.0/image-to-video"
_MINI = "bytedance/seedance-2.0/mini/image-to-video"

_ASPECT_RATIOS = ["auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"]
_DURATIONS = ["auto", *(str(s) for s in range(4, 16))]

_INPUT: dict[str, Any] = {
    "title": "Seedance2I2VFastInput",
    "type": "object",
    "x-fal-order-properties": [
        "prompt",
        "image_url",
        "end_image_url",
        "resolution",
        "duration",
        "aspect_ratio",
        "generate_audio",
        "bitrate_mode",
        "end_user_id",
    ],
    "properties": {
        "prompt": {
            "title": "Prompt",
            "type": "string",
            "description": "The text prompt describing the desired motion and action for the video.",
        },
        "image_url": {
            "title": "Image Url",
            "type": "string",
            "description": "The URL of the starting frame image to animate. Supported formats: JPEG, PNG, WebP. "
            "Max 30 MB.",
        },
        "end_image_url": {
            "title": "End Image Url",
            "type": "string",
            "description": "The URL of the image to use as the last frame of the video. Supported formats: JPEG, "
            "PNG, WebP. Max 30 MB.",
        },
        "resolution": {
            "title": "Resolution",
            "type": "string",
            "enum": ["480p", "720p"],
            "default": "720p",
            "description": "Video resolution - 480p for faster generation, 720p for balance.",
        },
        "duration": {
            "title": "Duration",
            "type": "string",
            "enum": _DURATIONS,
            "default": "auto",
            "description": "Duration of the video in seconds. Supports 4 to 15 seconds, or auto to let the model "
            "decide based on the prompt.",
        },
        "aspect_ratio": {
            "title": "Aspect Ratio",
            "type": "string",
            "enum": _ASPECT_RATIOS,
            "default": "auto",
            "description": "The aspect ratio of the generated video, or auto to infer it from the input image.",
        },
        "generate_audio": {
            "title": "Generate Audio",
            "type": "boolean",
            "default": True,
            "description": "Whether to generate synchronized audio for the video. The cost is the same either way.",
        },
        "bitrate_mode": {
            "title": "Bitrate Mode",
            "type": "string",
            "enum": ["standard", "high"],
            "default": "standard",
            "description": "Output bitrate mode. 'high' requests a higher-quality, larger-file encode from the "
            "model; 'standard' uses the default bitrate.",
        },
        "end_user_id": {
            "title": "End User Id",
            "type": "string",
            "description": "The unique user ID of the end user.",
        },
    },
    "required": ["prompt", "image_url"],
}

_FILE: dict[str, Any] = {
    "title": "File",
    "type": "object",
    "x-fal-order-properties": ["url", "content_type", "file_name", "file_size", "file_data"],
    "properties": {
        "url": {"title": "Url", "type": "string", "description": "The URL where the file can be downloaded from."},
        "content_type": {"title": "Content Type", "type": "string", "description": "The mime type of the file."},
        "file_name": {"title": "File Name", "type": "string", "description": "The name of the file."},
        "file_size": {"title": "File Size", "type": "integer", "description": "The size of the file in bytes."},
        "file_data": {"title": "File Data", "type": "string", "format": "binary", "description": "File data"},
    },
    "required": ["url"],
}

_QUEUE_STATUS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]},
        "request_id": {"type": "string", "description": "The request id."},
        "response_url": {"type": "string", "description": "The response url."},
        "status_url": {"type": "string", "description": "The status url."},
        "cancel_url": {"type": "string", "description": "The cancel url."},
        "logs": {"type": "object", "description": "The logs.", "additionalProperties": True},
        "metrics": {"type": "object", "description": "The metrics.", "additionalProperties": True},
        "queue_position": {"type": "integer", "description": "The queue position."},
    },
    "required": ["status", "request_id"],
}


def _component_prefix(endpoint_id: str) -> str:
    """fal's component name: ``bytedance/seedance-2.0/fast/image-to-video`` -> ``BytedanceSeedance20Fast...``."""
    words = re.split(r"[^A-Za-z0-9]+", endpoint_id.replace(".", ""))
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def input_schema(endpoint_id: str = ENDPOINTS[0]) -> dict[str, Any]:
    """A copy of the endpoint's input schema (JSON Schema, as in fal's OpenAPI components).

    Args:
        endpoint_id: the endpoint: the standard tier's offers ``1080p`` (fal's model page), the mini tier's has no
            ``bitrate_mode`` (fal-js main's ``Seedance2I2VMiniInput``).
    """
    schema = copy.deepcopy(_INPUT)
    props = schema["properties"]
    if endpoint_id == _STANDARD:
        props["resolution"]["enum"] = ["480p", "720p", "1080p"]
        props["resolution"]["description"] = (
            "Video resolution - 480p for faster generation, 720p for balance, 1080p for the highest quality "
            "(standard tier only)."
        )
    elif endpoint_id == _MINI:
        del props["bitrate_mode"]
        schema["x-fal-order-properties"].remove("bitrate_mode")
    return schema


def openapi_document(endpoint_id: str, queue_url: str = "https://queue.fal.run") -> dict[str, Any]:
    """fal's queue OpenAPI document for ``endpoint_id``, with ``servers`` pointing at ``queue_url``."""
    return {
        "openapi": "3.0.4",
        "info": {
            "title": f"Queue OpenAPI for {endpoint_id}",
            "version": "1.0.0",
            "description": f"The OpenAPI schema for the {endpoint_id} queue.",
            "x-fal-metadata": {
                "endpointId": endpoint_id,
                "category": "image-to-video",
                "playgroundUrl": f"https://fal.ai/models/{endpoint_id}",
                "documentationUrl": f"https://fal.ai/models/{endpoint_id}/api",
            },
        },
        "components": _components(endpoint_id),
        "paths": _paths(endpoint_id),
        "servers": [{"url": queue_url}],
        "security": [{"apiKeyAuth": []}],
    }


def _ref(component: str) -> dict[str, Any]:
    """A JSON reference to one of the document's component schemas."""
    return {"$ref": f"#/components/schemas/{component}"}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A 200 response with a JSON body of ``schema``."""
    return {"200": {"description": description, "content": {"application/json": {"schema": schema}}}}


def _components(endpoint_id: str) -> dict[str, Any]:
    """The document's security scheme and schemas: the queue status, the input, the output, a file."""
    name = _component_prefix(endpoint_id)
    return {
        "securitySchemes": {
            "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Fal Key"}
        },
        "schemas": {
            "QueueStatus": copy.deepcopy(_QUEUE_STATUS),
            f"{name}Input": input_schema(endpoint_id),
            f"{name}Output": {
                "title": "Seedance2I2VFastOutput",
                "type": "object",
                "x-fal-order-properties": ["video", "seed"],
                "properties": {
                    "video": {"title": "Video", "description": "The generated video.", **_ref("File")},
                    "seed": {"title": "Seed", "type": "integer", "description": "The seed used for generation."},
                },
                "required": ["video", "seed"],
            },
            "File": copy.deepcopy(_FILE),
        },
    }


def _paths(endpoint_id: str) -> dict[str, Any]:
    """The queue's paths: submit (the full id), and status, cancel and result (the app only)."""
    name = _component_prefix(endpoint_id)
    request_id = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}
    app = EndpointId.parse(endpoint_id).app  # status, result and cancel name the app only
    return {
        f"/{app}/requests/{{request_id}}/status": {
            "get": {
                "parameters": [
                    request_id,
                    {
                        "name": "logs",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "number", "description": "Whether to include logs (`1`) or not (`0`)."},
                    },
                ],
                "responses": _ok("The request status.", _ref("QueueStatus")),
            }
        },
        f"/{app}/requests/{{request_id}}/cancel": {
            "put": {
                "parameters": [request_id],
                "responses": _ok(
                    "The request was cancelled.",
                    {
                        "type": "object",
                        "properties": {
                            "status": {
                                "type": "string",
                                "enum": ["OK", "CANCELLATION_REQUESTED", "ALREADY_COMPLETED", "NOT_FOUND"],
                            }
                        },
                    },
                ),
            }
        },
        f"/{endpoint_id}": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(f"{name}Input")}},
                },
                "responses": _ok("The request status.", _ref("QueueStatus")),
            }
        },
        f"/{app}/requests/{{request_id}}": {
            "get": {"parameters": [request_id], "responses": _ok("Result of the request.", _ref(f"{name}Output"))}
        },
    }
