"""The ASGI app of the simulated cluster's Kubernetes API: bearer auth, path routing, query
parameters, content negotiation (JSON, Tables), watch streaming, and Status errors."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections.abc import AsyncIterator
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.kinds import KindInfo
from app.security import safe_yaml
from app.sim.api import decoding, discovery, openapi, proto, schema
from app.sim.api.auth import authenticate
from app.sim.api.encoding import Wanted, list_in_pieces, negotiate, partial, partial_list, with_type
from app.sim.api.handlers import Api, method_not_allowed
from app.sim.api.paths import ResourcePath, not_served, parse_resource_path
from app.sim.api.printers import build_table
from app.sim.api.selectors import parse_field_selector, parse_label_selector
from app.sim.api.watch import WatchRequest, watch_events
from app.sim.errors import ApiError

log = logging.getLogger(__name__)
Obj = dict[str, Any]

ENDPOINTS_WARNING = '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"'


def _json(body: Obj, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status_code=status, media_type="application/json", headers=headers)


def _error(exc: ApiError, headers: dict[str, str] | None = None) -> Response:
    return _json(exc.status(), exc.code, headers)


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _int(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"invalid {name} {raw!r}") from exc


_BODY_TYPES = ("application/json", "application/yaml", "text/yaml", "application/x-yaml", proto.MEDIA_TYPE)
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def unsupported_media_type(accepted: tuple[str, ...]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


async def _read_body(
    request: Request, accepted: tuple[str, ...] = _BODY_TYPES, path: ResourcePath | None = None
) -> Any:
    """The parsed body; JSON keeps track of duplicate keys for strict decoding; protobuf (for the
    request's `path`) becomes the JSON object it stands for."""
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype and ctype not in accepted and ctype not in PATCH_TYPES:
        bodies = ("application/json", "application/yaml", proto.MEDIA_TYPE)
        raise unsupported_media_type(PATCH_TYPES if accepted == PATCH_TYPES else bodies)
    raw = await request.body()
    if ctype == proto.MEDIA_TYPE and path is not None and raw:
        return await proto.read_request(raw, request.method, path)
    if not raw.strip():
        return None
    try:
        if ctype.endswith("yaml"):
            return safe_yaml.safe_load(raw)
        return decoding.loads_json(raw)
    except RecursionError:  # the dashboard's body guard bounds depth first; this API also runs alone
        raise ApiError(400, "BadRequest", "the body of the request is nested too deeply") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {exc}") from exc


def _with_warnings(response: Response, warnings: list[str]) -> Response:
    """One `Warning` header per warning (they cannot share one header line)."""
    for text in warnings:
        response.raw_headers.append((b"warning", decoding.warning_header(text).encode()))
    return response


class KubeApi:
    """Routes one request to discovery or a resource verb."""

    def __init__(self, cluster: Any, token: str, *, bookmark_interval: float, watch_buffer: int) -> None:
        self.api = Api(cluster)
        self.token = token
        self.bookmark_interval = bookmark_interval
        self.watch_buffer = watch_buffer

    async def __call__(self, request: Request) -> Response:
        headers: dict[str, str] = {}
        try:
            parts = [p for p in request.path_params.get("path", "").split("/") if p]
            rest = authenticate(request.headers, parts, self.token)
            prefix = request.scope.get("root_path", "") + "".join(
                "/" + p for p in parts[: len(parts) - len(rest)]
            )
            request.state.url_prefix = prefix
            return await self._dispatch(request, rest, headers)
        except ApiError as exc:
            return _error(exc, headers)
        except Exception:  # the server never dies of one bad request
            log.exception("simulated API request failed: %s %s", request.method, request.url.path)
            return _error(
                ApiError(500, "InternalError", "an error on the server prevented the request"), headers
            )

    async def _dispatch(self, request: Request, parts: list[str], headers: dict[str, str]) -> Response:
        method = request.method
        if method in ("GET", "HEAD"):
            doc = await self._discovery(request, parts)
            if doc is not None:
                return doc
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise not_served()
        path = parse_resource_path(group, version, rest)
        if path.info.kind == "Endpoints":
            headers["Warning"] = ENDPOINTS_WARNING
        if path.subresource is not None:
            served = discovery.SUBRESOURCES.get(path.info.kind, {})
            if path.subresource not in served or path.name is None:
                raise not_served()
        if method == "GET":
            return await self._get(request, path, headers)
        if method in ("POST", "PUT", "PATCH") and not schema.ready():
            await asyncio.to_thread(schema.type_defs)
        if method == "POST":
            mode = decoding.directive(request.query_params, "CreateOptions")
            body = await _read_body(request, path=path)
            dry = request.query_params.get("dryRun") == "All"
            created = self.api.create(path, body, dry_run=dry, field_validation=mode)
            return _with_warnings(_json(with_type(created.obj, path.info), 201, headers), created.warnings)
        if method == "PUT":
            body = await _read_body(request, path=path)
            if path.subresource == "scale":
                return _json(self.api.put_scale(path, body), 200, headers)
            mode = decoding.directive(request.query_params, "UpdateOptions")
            updated = self.api.update(path, body, field_validation=mode)
            return _with_warnings(_json(with_type(updated.obj, path.info), 200, headers), updated.warnings)
        if method == "PATCH":
            body = await _read_body(request, PATCH_TYPES)
            ctype = request.headers.get("content-type") or ""
            if path.subresource == "scale":
                return _json(self.api.patch_scale(path, ctype, body), 200, headers)
            mode = decoding.directive(request.query_params, "PatchOptions")
            patched = self.api.patch(path, ctype, body, field_validation=mode)
            return _with_warnings(_json(with_type(patched.obj, path.info), 200, headers), patched.warnings)
        if method == "DELETE":
            body = await _read_body(request, path=path)
            options = self._delete_options(request, body)
            if path.name is None:
                labels = parse_label_selector(request.query_params.get("labelSelector"))
                fields = parse_field_selector(path.info.kind, request.query_params.get("fieldSelector"))
                return await self._delete_collection(path, labels, fields, options, headers)
            return _json(with_type(self.api.delete(path, options), path.info), 200, headers)
        raise method_not_allowed()

    # ---- discovery --------------------------------------------------------------------------
    async def _discovery(self, request: Request, parts: list[str]) -> Response | None:
        if not parts:
            paths = ["/api", "/api/v1", "/apis", "/version", "/healthz", "/livez", "/readyz"]
            paths += [f"/apis/{g}" for g in discovery.GROUP_VERSIONS if g]
            paths += [f"/apis/{g}/{v}" for g, vs in discovery.GROUP_VERSIONS.items() if g for v in vs]
            return _json({"paths": sorted(paths)})
        if parts[:2] == ["openapi", "v3"]:
            # The documents are built once, off the event loop (it takes about a second).
            if len(parts) == 2:
                return _json(await asyncio.to_thread(openapi.root_document, request.state.url_prefix))
            rest = parts[2:]
            data = None
            if rest[0] == "api" and len(rest) == 2:
                data = await asyncio.to_thread(openapi.gv_bytes, "", rest[1])
            elif rest[0] == "apis" and len(rest) == 3:
                data = await asyncio.to_thread(openapi.gv_bytes, rest[1], rest[2])
            if data is None:
                raise not_served()
            return Response(data, media_type="application/json")
        if parts == ["version"]:
            return _json(discovery.VERSION_INFO)
        if parts[0] in ("healthz", "livez", "readyz") and len(parts) == 1:
            return Response("ok", media_type="text/plain")
        if parts == ["api"]:
            host = f"{request.url.hostname}:{request.url.port or 80}"
            return _json(discovery.api_versions(host))
        if parts == ["apis"]:
            return _json(discovery.api_group_list())
        if len(parts) == 2 and parts[0] == "apis":
            group = discovery.api_group(parts[1])
            if group is None:
                raise not_served()
            return _json(group)
        if parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            doc = discovery.resource_list(group, version)
            if doc is None:
                raise not_served()
            return _json(doc)
        return None

    # ---- reads ------------------------------------------------------------------------------
    async def _get(self, request: Request, path: ResourcePath, headers: dict[str, str]) -> Response:
        q = request.query_params
        wanted = negotiate(request.headers.get("accept"))
        include = q.get("includeObject") or "Metadata"
        if path.name is not None:
            if path.subresource == "scale":
                return _json(self.api.scale_of(self.api.get(path)), 200, headers)
            if _bool(q.get("watch")) or path.legacy_watch:
                raise ApiError(405, "MethodNotAllowed", "watch on a single object: use a fieldSelector")
            obj = self.api.get(path)
            return _json(self._render_one(path.info, obj, wanted, include), 200, headers)
        labels = parse_label_selector(q.get("labelSelector"))
        fields = parse_field_selector(path.info.kind, q.get("fieldSelector"))
        if _bool(q.get("watch")) or path.legacy_watch:
            return self._watch(request, path, labels, fields, wanted, include, headers)
        items, md = self.api.list_page(
            path.info, path.namespace, labels, fields, _int(q, "limit"), q.get("continue")
        )
        if wanted.form == "Table":
            table = build_table(
                path.info.kind,
                items,
                self.api.now,
                resource_version=md["resourceVersion"],
                include_object=include,
                continue_token=md.get("continue"),
                remaining=md.get("remainingItemCount"),
            )
            table["apiVersion"] = wanted.api_version
            return _json(table, 200, headers)
        if wanted.form.startswith("PartialObjectMetadata"):
            return _json(partial_list(items, md, wanted.api_version), 200, headers)
        return _json(self.api.list_body(path.info, items, md), 200, headers)

    def _render_one(self, info: KindInfo, obj: Obj, wanted: Wanted, include: str) -> Obj:
        if wanted.form == "Table":
            table = build_table(
                info.kind,
                [obj],
                self.api.now,
                resource_version=obj["metadata"].get("resourceVersion"),
                include_object=include,
            )
            table["apiVersion"] = wanted.api_version
            return table
        if wanted.form.startswith("PartialObjectMetadata"):
            return partial(obj, wanted.api_version)
        return with_type(obj, info)

    def _watch(
        self,
        request: Request,
        path: ResourcePath,
        labels: list[Any],
        fields: list[Any],
        wanted: Wanted,
        include: str,
        headers: dict[str, str],
    ) -> Response:
        q = request.query_params
        rv = q.get("resourceVersion") or None
        if rv is not None and not rv.isdigit():
            raise ApiError(400, "BadRequest", f"invalid resource version: {rv!r}")
        timeout = _int(q, "timeoutSeconds")
        req = WatchRequest(
            kind=path.info.kind,
            namespace=path.namespace,
            labels=labels,
            fields=fields,
            resource_version=rv,
            send_initial_events=_bool(q.get("sendInitialEvents")),
            bookmarks=_bool(q.get("allowWatchBookmarks")),
            timeout_seconds=float(timeout) if timeout is not None else 1800.0 * (1 + random.random()),
        )
        info = path.info
        now = self.api

        def encode(event_type: str, obj: Obj, first: bool) -> Obj:
            if wanted.form == "Table":
                table = build_table(
                    info.kind,
                    [obj],
                    now.now,
                    resource_version=obj["metadata"].get("resourceVersion"),
                    include_object=include,
                    with_columns=first,
                )
                table["apiVersion"] = wanted.api_version
                return table
            if wanted.form.startswith("PartialObjectMetadata"):
                return partial(obj, wanted.api_version)
            return with_type(obj, info)

        stream = watch_events(
            self.api.store,
            req,
            encode,
            bookmark_interval=self.bookmark_interval,
            buffer_limit=self.watch_buffer,
        )
        return StreamingResponse(
            stream, media_type="application/json", headers={**headers, "Cache-Control": "no-cache, private"}
        )

    async def _delete_collection(
        self, path: ResourcePath, labels: Any, fields: Any, options: Obj, headers: dict[str, str]
    ) -> Response:
        """Deletes in batches and answers with the List in pieces, the event loop running between
        them (10,000 pods deleted and their 30 MB List encoded in one go held it for a second)."""
        deleted: list[Obj] = []
        for _ in self.api.delete_collection_steps(path, labels, fields, options, deleted):
            await asyncio.sleep(0)
        body = self.api.deleted_list(path, deleted)

        async def pieces() -> AsyncIterator[bytes]:
            for piece in list_in_pieces(body):
                yield piece
                await asyncio.sleep(0)

        return StreamingResponse(pieces(), media_type="application/json", headers=headers)

    def _delete_options(self, request: Request, body: Any) -> Obj:
        options: Obj = dict(body) if isinstance(body, dict) else {}
        q = request.query_params
        grace = _int(q, "gracePeriodSeconds")
        if grace is not None:
            options["gracePeriodSeconds"] = grace
        if q.get("propagationPolicy"):
            options["propagationPolicy"] = q["propagationPolicy"]
        if q.get("dryRun") == "All":
            options["dryRun"] = ["All"]
        if q.get("orphanDependents") is not None:
            options["orphanDependents"] = _bool(q.get("orphanDependents"))
        policy = options.get("propagationPolicy")
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise ApiError(
                422,
                "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "{policy}": '
                'supported values: "Foreground", "Background", "Orphan", "nil"',
            )
        return options


def create_k8s_api(
    cluster: Any,
    token: str,
    *,
    bookmark_interval: float = 60.0,
    watch_buffer: int = 10_000,
) -> Starlette:
    """A Kubernetes-compatible HTTP API over `cluster` (an object with `.store` and `.clock`, and
    optionally `.delete(kind, ns, name, grace_seconds=)` and `.scale(ns, name, replicas)`).

    All paths are relative to where the app is mounted; every request needs `Bearer <token>`.
    """
    handler = KubeApi(cluster, token, bookmark_interval=bookmark_interval, watch_buffer=watch_buffer)
    threading.Thread(target=openapi.warm_up, name="k8s-api-schemas", daemon=True).start()
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]

    async def endpoint(request: Request) -> Response:
        return await handler(request)

    routes = [Route("/{path:path}", endpoint, methods=methods)]
    return Starlette(routes=routes)
