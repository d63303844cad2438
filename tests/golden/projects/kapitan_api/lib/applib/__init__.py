"""A small kadet library in the style of kgenlib: it reads the run through Kapitan's modules."""

import contextvars

from kapitan.cached import args
from kapitan.inputs.kadet import (
    BaseModel,
    BaseObj,
    CompileError,
    Dict,
    current_target,
    inventory,
    inventory_global,
)
from kapitan.utils import prune_empty, render_jinja2_file

# kgenlib reads cached.args either way round.
search_paths = args.get("search_paths") if type(args) is dict else args.search_paths
target = current_target.get()
registry = contextvars.ContextVar("applib registry", default={})


def register(kind):
    def wrap(cls):
        registry.get().setdefault(target, []).append((kind, cls))
        return cls
    return wrap


def render(template, ctx):
    return render_jinja2_file(template, ctx, search_paths=search_paths)


class Resource(BaseModel):
    name: str
    kind: str = "ConfigMap"
    labels: dict = {}

    def body(self):
        self.root.apiVersion = "v1"
        self.root.kind = self.kind
        self.root.metadata.name = self.name
        self.root.metadata.namespace = inventory().parameters.namespace
        self.root.metadata.labels = prune_empty({**self.labels, "target": target, "none": None})
        self.root.metadata.annotations  # a default box read creates the key


@register("ConfigMap")
class ConfigMap(Resource):
    data: dict = {}

    def body(self):
        super().body()
        self.root.data = prune_empty(self.data)


class Service(BaseObj):
    def new(self):
        self.need("name")
        self.need("port", "a Service needs a port")

    def body(self):
        self.root.apiVersion = "v1"
        self.root.kind = "Service"
        self.root.metadata.name = self.kwargs.name
        self.root.spec.ports = [{"port": self.kwargs.port, "targetPort": self.kwargs.port}]


def generate():
    out = Dict()
    for kind, cls in registry.get().get(current_target.get(), []):
        out[kind] = cls
    return out


def peers():
    return sorted(inventory_global())


def failing_service():
    try:
        Service(name="broken")
    except CompileError as exc:
        return type(exc).__name__
    return "no error"
