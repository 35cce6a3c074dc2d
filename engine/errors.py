"""Error hierarchy of the engine. Every error names what is wrong and where."""


class NeuropatchError(Exception):
    """Base of every error the engine raises on purpose."""


class PatchError(NeuropatchError):
    """A patch file is malformed. `path` is the JSON path of the fault (`$.nodes[3].params.gain`)."""

    def __init__(self, path: str, message: str, file: str | None = None):
        self.path = path
        self.message = message
        self.file = file
        super().__init__(f"{path}: {message}")

    def with_file(self, file: str) -> "PatchError":
        return PatchError(self.path, self.message, file)


class GraphError(NeuropatchError):
    """An edit command cannot be applied to the graph (unknown node, duplicate id, ...)."""


class CompileError(NeuropatchError):
    """The graph cannot be turned into a schedule."""


class StreamTypeError(CompileError):
    """An edge connects ports of incompatible stream kinds; the message names both ports."""


class CycleError(CompileError):
    """The graph has a loop that does not pass through a node that breaks feedback (a delay).
    ``breakers``: the type ids that may close a loop, named in the message."""

    def __init__(self, loop: list[str], breakers=()):
        self.loop = loop
        through = f" ({', '.join(breakers)})" if breakers else ""
        super().__init__(
            "feedback loop without a delay: " + " -> ".join(loop + loop[:1])
            + f" (close feedback loops through a delay node{through})")


class NodeConfigError(CompileError):
    """A node rejects its configuration in prepare() (bad input shape, missing resource)."""

    def __init__(self, node_id: str, message: str):
        self.node_id = node_id
        super().__init__(f"node '{node_id}': {message}")


class ResourceError(NeuropatchError):
    """A resource file (model, IR, audio file) is missing or unreadable."""


class ModelFormatError(ResourceError):
    """A model file is readable but its content is invalid; the message names the field."""


class AudioFileError(ResourceError):
    """An audio file is missing, corrupt or in an unsupported format."""
