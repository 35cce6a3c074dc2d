"""neuropatch engine: graph model, node contract, registry, compiler, runtime, patch format.

GUI-free: nothing here imports Qt.
"""
from .errors import (AudioFileError, CompileError, CycleError, GraphError, ModelFormatError,
                     NeuropatchError, NodeConfigError, PatchError, ResourceError, StreamTypeError)
from .graph import (AddComment, AddNode, Batch, ClearParam, Connect, Disconnect, Edge, EditComment, Graph,
                    MoveNode, NodeSpec, RemoveComment, RemoveNode, SetBypass, SetNodeUi, SetParam,
                    SetResource)
from .node import HostIO, Node, PrepareContext, Resource, zero_outputs
from .params import Param, Smoother
from .streams import STREAM_KINDS, EventBuffer, FrameBuffer, Port, StreamSpec
from .registry import Registry, default_registry, load_registry
from .compiler import Schedule, compile_graph
from .runtime import Runtime
from .patch import (FORMAT_VERSION, dumps_patch, graph_from_dict, graph_to_dict, load_patch,
                    new_node_spec, parse_patch, save_patch)
from .render import render
from .subpatch import (SUBPATCH_TYPE, SetSubgraph, Subpatch, flatten, group_nodes, replace_subgraph,
                       ungroup)
from .subpatch_ports import INLET_TYPE, OUTLET_TYPE, Inlet, Outlet

__all__ = [n for n in dir() if not n.startswith("_")]
