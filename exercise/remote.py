"""Objects that live in another process: the channel between the grader's tests and the
student's code.

The grader runs its tests in a trusted process that never imports a submission; the code of
the part being graded runs in a worker process (sandboxed where the machine allows). The
two talk over a pair of pipes with this module, which both of them load:

- **Data crosses by value**, in a format that can only describe data: a JSON header (None,
  booleans, numbers, strings, tuples, lists, dicts, slices, dtypes) followed by the raw bytes
  of every NumPy array (numeric and boolean dtypes only). Nothing received is ever
  unpickled or evaluated, so a message from a hostile worker is at worst wrong data.
- **Everything else crosses by reference**: an object is exported under a number and the
  other side gets a proxy whose attribute reads, writes and calls travel back. A proxy of a
  class can be called (constructing a remote instance) and subclassed (a test's
  deliberately wrong layer overrides one method and calls ``super()`` for the rest); a
  proxy's class derives from the local copies of the framework's shared base classes
  (``layers.base.BaseLayer``, ``optimizers.optimizer.Optimizer``, ...), so ``isinstance``
  answers as it would in one process.
- **Calls nest**: while one side waits for an answer it serves the other's requests, so
  student code can call back into the grader's objects (a network calls the reference
  layers the test appended; a layer asks the test's initializer for weights).
- **What the trusted side serves is limited** (``Policy``): public attribute names only,
  objects of the project's own classes, lists the student's code was handed, NumPy
  generators; never modules, never code from elsewhere. Student code can reach what a
  test gave it and nothing more.

Arrays are copies on the other side; an argument array the callee changed in place is
written back into the caller's array when the call returns, so "forward must not change
its input" is still observable. NumPy's floating-point error state of the caller applies
during the call.
"""
import copy
import json
import os
import struct
import sys
import traceback
import types
import weakref

import numpy as np

MAX_HEADER_BYTES = 64 << 20
MAX_MESSAGE_BYTES = 1 << 30
MAX_DEPTH = 64
ALLOWED_DTYPE_KINDS = "biufc"
# Exception types that keep their type across the channel; any other becomes RemoteError.
BUILTIN_EXCEPTIONS = {cls.__name__: cls for cls in (
    ArithmeticError, AssertionError, AttributeError, FloatingPointError, ImportError, IndexError, KeyError,
    LookupError, MemoryError, ModuleNotFoundError, NameError, NotImplementedError, OverflowError,
    RecursionError, RuntimeError, StopIteration, SyntaxError, TypeError, UnboundLocalError, ValueError,
    ZeroDivisionError)}
MESSAGE_LIMIT = 4000
NAME_LIMIT = 100
MAX_ATTRIBUTES = 500
CALLABLE_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.BuiltinMethodType)
LIST_METHODS = ("append", "extend", "insert", "pop", "remove", "clear", "index", "count", "reverse")


class RemoteError(RuntimeError):
    """An exception of a type that does not cross the channel, or a channel that broke."""


class ChannelClosed(RemoteError):
    """The other process has gone (it exited, crashed or was killed)."""


# -- the wire format ----------------------------------------------------------------------


def _write_message(stream, header, buffers):
    text = json.dumps(header, allow_nan=True, separators=(",", ":")).encode("utf-8")
    parts = [struct.pack("<II", len(text), len(buffers)), text]
    for buffer in buffers:
        parts += [struct.pack("<Q", len(buffer)), buffer]
    stream.write(b"".join(parts))
    stream.flush()


def _read_exactly(stream, size):
    data = stream.read(size)
    if data is None or len(data) != size:
        raise ChannelClosed("the other process has gone")
    return data


def _read_message(stream):
    text_size, buffer_count = struct.unpack("<II", _read_exactly(stream, 8))
    if text_size > MAX_HEADER_BYTES or buffer_count > 100_000:
        raise RemoteError(f"a message of {text_size} header bytes and {buffer_count} buffers is over the limit")
    text = _read_exactly(stream, text_size)
    buffers, total = [], text_size
    for _ in range(buffer_count):
        (size,) = struct.unpack("<Q", _read_exactly(stream, 8))
        total += size
        if total > MAX_MESSAGE_BYTES:
            raise RemoteError(f"a message of more than {MAX_MESSAGE_BYTES} bytes is over the limit")
        buffers.append(_read_exactly(stream, size))
    try:
        header = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise RemoteError(f"an unreadable message ({type(error).__name__})") from None
    return header, buffers


def _dtype_from(name):
    dtype = np.dtype(str(name))
    if dtype.kind not in ALLOWED_DTYPE_KINDS or dtype.hasobject or dtype.fields is not None:
        raise RemoteError(f"dtype {name!r} does not cross the channel")
    return dtype


# -- policy: what a side serves -----------------------------------------------------------


class Policy:
    """What the side that owns an object lets the other side do with it.

    ``strict`` (the trusted side): attribute names must be public, and only objects of
    classes from ``modules`` (module name prefixes), NumPy generators and lists handed over
    are exported; anything else is refused. Not strict (the worker): anything goes, the
    worker is untrusted anyway.
    """

    def __init__(self, strict=False, modules=()):
        self.strict, self.modules = strict, tuple(modules)

    def check_name(self, name):
        if not isinstance(name, str) or not name.isidentifier():
            raise RemoteError(f"not an attribute name: {name!r}")
        if self.strict and name.startswith("_"):
            raise AttributeError(f"attribute {name!r} is not shared with the student's code")

    def check_export(self, value):
        if not self.strict or isinstance(value, (list, np.random.Generator, np.random.BitGenerator)):
            return
        if isinstance(value, types.ModuleType):
            raise RemoteError("a module is not shared with the student's code")
        if isinstance(value, (types.MethodType, types.BuiltinMethodType)):
            owner = value.__self__              # a bound method: judge the object it belongs to
            if isinstance(owner, (list, np.random.Generator, np.random.BitGenerator)):
                return
            if isinstance(owner, types.ModuleType):
                raise RemoteError(f"{value.__name__} is not shared with the student's code")
            module = type(owner).__module__
        elif isinstance(value, (type, types.FunctionType)):
            module = value.__module__
        else:
            module = type(value).__module__
        top = (module or "").split(".")[0]
        if top not in self.modules and module not in self.modules and not top.startswith("test_"):
            raise RemoteError(f"a {type(value).__name__} is not shared with the student's code")


# -- proxies ------------------------------------------------------------------------------


class RemoteObject:
    """Base of every proxy class: attribute reads, writes and calls go to the remote object.

    A subclass defined locally (a test's deliberately wrong layer) keeps its own methods;
    everything else, including ``super()`` calls into the remote class, travels.
    """
    _remote_channel = None
    _remote_class_id = None

    def __new__(cls, *args, **kwargs):
        remote_class = next(klass for klass in cls.__mro__ if "_remote_class_id" in klass.__dict__
                            and klass.__dict__["_remote_class_id"] is not None)
        channel = remote_class._remote_channel
        reference = channel.request({"op": "new", "class": remote_class._remote_class_id}, args, kwargs,
                                    decode_reference=True)
        return _proxy_instance(cls, channel, reference)

    def __init__(self, *args, **kwargs):
        pass

    def __getattribute__(self, name):
        if name.startswith("__") and name.endswith("__") or name in ("_remote_id", "_remote_channel",
                                                                      "_remote_class_id", "_remote_methods",
                                                                      "_remote_duplicate"):
            return object.__getattribute__(self, name)
        cls = type(self)
        for klass in cls.__mro__:
            if klass.__dict__.get("_remote_class_id") is not None:
                break
            if name in klass.__dict__:                      # defined by a local subclass
                return object.__getattribute__(self, name)
        channel = cls._remote_channel
        if name in cls._remote_methods:
            return _BoundRemoteMethod(channel, object.__getattribute__(self, "_remote_id"), name)
        return channel.request({"op": "getattr", "target": object.__getattribute__(self, "_remote_id"),
                                "name": name})

    def __setattr__(self, name, value):
        type(self)._remote_channel.request({"op": "setattr", "target": self._remote_id, "name": name}, (value,))

    def __delattr__(self, name):
        type(self)._remote_channel.request({"op": "delattr", "target": self._remote_id, "name": name})

    def __deepcopy__(self, memo):
        return self._remote_duplicate("deepcopy")

    def __copy__(self):
        return self._remote_duplicate("copy")

    def _remote_duplicate(self, operation):
        """A copy of the remote object, as an instance of this (possibly local) subclass."""
        channel = type(self)._remote_channel
        reference = channel.request({"op": operation, "target": self._remote_id}, decode_reference=True)
        return _proxy_instance(type(self), channel, reference)

    def __reduce_ex__(self, protocol):
        raise TypeError(f"a remote {type(self).__name__} cannot be pickled")

    def __repr__(self):
        return f"<remote {type(self).__qualname__}>"


def _proxy_instance(cls, channel, reference):
    """An instance of the proxy class ``cls`` (or a local subclass) standing for the remote
    object ``reference``; the channel keeps it, so the same object gets the same proxy."""
    instance = object.__new__(cls)
    object.__setattr__(instance, "_remote_id", reference)
    channel.adopt(reference, instance)
    return instance


def shared_classes_of(module):
    """{(module, qualified name): class} of the classes ``module`` defines: the bases proxies
    of the other side's objects derive from (see ``Channel``)."""
    return {(value.__module__, value.__qualname__): value for value in vars(module).values()
            if isinstance(value, type) and value.__module__ == module.__name__}


class _BoundRemoteMethod:
    def __init__(self, channel, target, name):
        self.channel, self.target, self.name = channel, target, name

    def __call__(self, *args, **kwargs):
        return self.channel.request({"op": "call_method", "target": self.target, "name": self.name}, args, kwargs)

    def __repr__(self):
        return f"<remote method {self.name}>"


def _method_stub(name):
    def stub(self, *args, **kwargs):
        return type(self)._remote_channel.request({"op": "call_method", "target": self._remote_id, "name": name},
                                                  args, kwargs)
    stub.__name__ = name
    return stub


class RemoteCallable:
    """A remote function or bound method."""

    def __init__(self, channel, reference, name):
        self._channel, self._reference, self.__name__ = channel, reference, name

    def __call__(self, *args, **kwargs):
        return self._channel.request({"op": "call", "target": self._reference}, args, kwargs)

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return f"<remote function {self.__name__}>"


class RemoteList:
    """A remote list, live: reading, changing and iterating go to the list itself."""

    def __init__(self, channel, reference):
        self._channel, self._reference = channel, reference

    def _call(self, name, *args):
        return self._channel.request({"op": "call_method", "target": self._reference, "name": name}, args)

    def _value(self):
        return self._channel.request({"op": "value", "target": self._reference})

    def __len__(self):
        return self._call("__len__")

    def __getitem__(self, index):
        return self._call("__getitem__", index)

    def __setitem__(self, index, value):
        self._call("__setitem__", index, value)

    def __delitem__(self, index):
        self._call("__delitem__", index)

    def __iter__(self):
        return iter(self._value())

    def __contains__(self, item):
        return item in self._value()

    def __eq__(self, other):
        return self._value() == (other._value() if isinstance(other, RemoteList) else other)

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __deepcopy__(self, memo):
        return copy.deepcopy(self._value(), memo)

    def __repr__(self):
        return repr(self._value())

    def __getattr__(self, name):
        if name in LIST_METHODS:
            return lambda *args: self._call(name, *args)
        raise AttributeError(name)


class RemoteModule(type(sys)):
    """A remote module: its attributes are fetched (and kept) on first use."""

    def __init__(self, name, channel, reference):
        super().__init__(name)
        self.__dict__["_remote_channel"], self.__dict__["_remote_reference"] = channel, reference

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = self._remote_channel.request({"op": "getattr", "target": self._remote_reference, "name": name})
        self.__dict__[name] = value
        return value


# -- one end of the channel ---------------------------------------------------------------


class Channel:
    """One end of the channel: send requests and serve the other side's, over two streams.

    ``side``: this end's name ("grader" or "worker"); ``policy``: what it serves;
    ``shared_classes``: {(module, qualified name): class} of the local copies of the
    framework's shared base classes, which proxies of the other side's objects derive from.
    """

    def __init__(self, reader, writer, side, policy=None, shared_classes=None, where=None):
        self.reader, self.writer, self.side = reader, writer, side
        self.peer = "worker" if side == "grader" else "grader"
        self.policy = policy or Policy()
        self.shared_classes = shared_classes or {}
        self.where = where                  # optional: a function describing where an exception was raised
        self.exported, self.export_ids = {}, {}
        self.proxies = weakref.WeakValueDictionary()
        self.classes = {}
        self.closed = False

    # -- exporting and importing references --

    def export(self, value, check=True):
        key = id(value)
        if key in self.export_ids and self.exported[self.export_ids[key]] is value:
            return self.export_ids[key]
        if check:
            self.policy.check_export(value)
        number = len(self.exported) + 1
        self.exported[number], self.export_ids[key] = value, number
        return number

    def adopt(self, number, proxy):
        self.proxies[number] = proxy

    def _describe(self, value):
        """The reference header of a local object that crosses by reference."""
        reference = {"t": "ref", "owner": self.side, "id": self.export(value)}
        if isinstance(value, list):
            return dict(reference, kind="list")
        if isinstance(value, type):
            return dict(reference, kind="class", **{"class": self._class_info(value)})
        if isinstance(value, types.ModuleType):
            return dict(reference, kind="module", name=value.__name__)
        if isinstance(value, CALLABLE_TYPES):
            return dict(reference, kind="callable", name=getattr(value, "__name__", "function"))
        return dict(reference, kind="object", **{"class": self._class_info(type(value))})

    def _class_info(self, cls):
        shared = next(([klass.__module__, klass.__qualname__] for klass in cls.__mro__
                       if (klass.__module__, klass.__qualname__) in self.shared_classes), None)
        methods, attributes = [], []
        for name in dir(cls):
            if name.startswith("__"):
                continue
            attribute = getattr(cls, name, None)
            (methods if callable(attribute) and not isinstance(attribute, type) else attributes).append(name)
        # The class of a shared object goes with it (proxies need it); its own check is the object's.
        return {"id": self.export(cls, check=False), "name": cls.__name__, "qualname": cls.__qualname__,
                "module": cls.__module__, "shared": shared, "methods": methods, "attributes": attributes}

    def _proxy_class(self, info):
        number = info["id"]
        if number in self.classes:
            return self.classes[number]
        bases = [RemoteObject]
        shared = info.get("shared")
        if shared and tuple(shared) in self.shared_classes:
            bases.append(self.shared_classes[tuple(shared)])
        # Names come from the other side: bounded, so no class can carry megabytes into messages.
        methods = [name for name in list(info["methods"])[:MAX_ATTRIBUTES] if _plain_name(name)]
        attributes = [name for name in list(info.get("attributes", ()))[:MAX_ATTRIBUTES] if _plain_name(name)]
        namespace = {"_remote_channel": self, "_remote_class_id": number, "_remote_methods": frozenset(methods),
                     "__module__": _bounded(info["module"], NAME_LIMIT),
                     "__qualname__": _bounded(info["qualname"], NAME_LIMIT)}
        namespace.update({name: _method_stub(name) for name in methods})
        namespace.update({name: _RemoteAttribute(name) for name in attributes})
        name = _bounded(info["name"], NAME_LIMIT)
        proxy_class = _RemoteClassMeta(name if name.isidentifier() else "RemoteClass", tuple(bases), namespace)
        self.classes[number] = proxy_class
        return proxy_class

    def _from_reference(self, header):
        owner, number = header.get("owner"), header.get("id")
        if not isinstance(number, int):
            raise RemoteError("a reference without a number")
        if owner == self.side:
            if number not in self.exported:
                raise RemoteError(f"no object number {number} was shared")
            return self.exported[number]
        kind = header.get("kind")
        if kind == "class":
            return self._proxy_class(header["class"])
        existing = self.proxies.get(number)
        if existing is not None:
            return existing
        if kind == "object":
            return _proxy_instance(self._proxy_class(header["class"]), self, number)
        if kind == "list":
            proxy = RemoteList(self, number)
        elif kind == "callable":
            proxy = RemoteCallable(self, number, str(header.get("name", "function")))
        elif kind == "module":
            proxy = RemoteModule(str(header.get("name", "module")), self, number)
        else:
            raise RemoteError(f"an unknown kind of reference: {kind!r}")
        self.proxies[number] = proxy
        return proxy

    # -- values --

    def encode(self, value, buffers, depth=0):
        if depth > MAX_DEPTH:
            raise RemoteError("a value nested too deeply to send")
        if value is None or isinstance(value, (bool, str)):
            return value
        if type(value) is int:
            return value
        if type(value) is float:
            return value
        if isinstance(value, np.ndarray) and type(value) is np.ndarray and value.dtype.kind in ALLOWED_DTYPE_KINDS:
            order = "F" if value.flags.f_contiguous and not value.flags.c_contiguous else "C"
            buffers.append(value.tobytes(order=order))
            return {"t": "array", "i": len(buffers) - 1, "dtype": value.dtype.str, "shape": list(value.shape),
                    "order": order}
        if isinstance(value, np.generic) and value.dtype.kind in ALLOWED_DTYPE_KINDS:
            buffers.append(value.tobytes())
            return {"t": "scalar", "i": len(buffers) - 1, "dtype": value.dtype.str}
        if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
            return {"t": "dtype", "v": np.dtype(value).str}
        if type(value) is tuple:
            return {"t": "tuple", "v": [self.encode(item, buffers, depth + 1) for item in value]}
        if type(value) is dict:
            return {"t": "dict", "k": [self.encode(key, buffers, depth + 1) for key in value],
                    "v": [self.encode(item, buffers, depth + 1) for item in value.values()]}
        if type(value) in (set, frozenset):
            return {"t": type(value).__name__, "v": [self.encode(item, buffers, depth + 1) for item in value]}
        if type(value) is slice:
            return {"t": "slice", "v": [self.encode(part, buffers, depth + 1)
                                        for part in (value.start, value.stop, value.step)]}
        if value is Ellipsis:
            return {"t": "ellipsis"}
        if type(value) is complex:
            return {"t": "complex", "v": [value.real, value.imag]}
        if isinstance(value, _ByReference):
            return self._describe(value.value)
        if isinstance(value, RemoteObject) and type(value)._remote_channel is self:
            return {"t": "ref", "owner": self.peer, "id": object.__getattribute__(value, "_remote_id")}
        if isinstance(value, (RemoteList, RemoteCallable)) and value._channel is self:
            return {"t": "ref", "owner": self.peer, "id": value._reference}
        if isinstance(value, RemoteModule) and value._remote_channel is self:
            return {"t": "ref", "owner": self.peer, "id": value._remote_reference}
        if isinstance(value, type) and value.__dict__.get("_remote_channel") is self \
                and value.__dict__.get("_remote_class_id") is not None:
            return {"t": "ref", "owner": self.peer, "id": value._remote_class_id}
        if type(value) is list:         # by value; an attribute that is a list is read by reference
            return {"t": "list", "v": [self.encode(item, buffers, depth + 1) for item in value]}
        if isinstance(value, (int, float)) and not isinstance(value, bool):   # int/float subclasses: as numbers
            return {"t": "scalar_number", "v": float(value) if isinstance(value, float) else int(value)}
        return self._describe(value)

    def decode(self, item, buffers, depth=0):
        if depth > MAX_DEPTH:
            raise RemoteError("a value nested too deeply")
        if item is None or isinstance(item, (bool, int, float, str)):
            return item
        if isinstance(item, list):
            raise RemoteError("a bare list in a message")
        if not isinstance(item, dict):
            raise RemoteError("an unknown value in a message")
        kind = item.get("t")
        if kind == "array":
            dtype = _dtype_from(item["dtype"])
            shape = tuple(int(size) for size in item["shape"])
            if any(size < 0 for size in shape):
                raise RemoteError("a negative array dimension")
            data = buffers[int(item["i"])]
            if len(data) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
                raise RemoteError("an array whose bytes do not match its shape")
            order = "F" if item.get("order") == "F" else "C"
            return np.frombuffer(data, dtype=dtype).reshape(shape, order=order).copy(order=order)
        if kind == "scalar":
            dtype = _dtype_from(item["dtype"])
            data = buffers[int(item["i"])]
            if len(data) != dtype.itemsize:
                raise RemoteError("a scalar whose bytes do not match its dtype")
            return np.frombuffer(data, dtype=dtype)[0]
        if kind == "scalar_number":
            return item["v"]
        if kind == "dtype":
            return _dtype_from(item["v"])
        values = item.get("v")
        if kind in ("tuple", "list", "set", "frozenset"):
            decoded = [self.decode(value, buffers, depth + 1) for value in values]
            return {"tuple": tuple, "list": list, "set": set, "frozenset": frozenset}[kind](decoded)
        if kind == "dict":
            keys = [self.decode(key, buffers, depth + 1) for key in item["k"]]
            return dict(zip(keys, (self.decode(value, buffers, depth + 1) for value in values)))
        if kind == "slice":
            return slice(*(self.decode(value, buffers, depth + 1) for value in values))
        if kind == "ellipsis":
            return Ellipsis
        if kind == "complex":
            return complex(float(values[0]), float(values[1]))
        if kind == "ref":
            return self._from_reference(item)
        raise RemoteError(f"an unknown value type {kind!r} in a message")

    # -- requests --

    def request(self, header, args=(), kwargs=None, decode_reference=False):
        """Send a request and serve the other side's requests until its answer comes."""
        if self.closed:
            raise ChannelClosed(f"the {self.peer} process has gone")
        buffers = []
        message = dict(header, args=[self.encode(arg, buffers) for arg in args],
                       kwargs={str(key): self.encode(value, buffers) for key, value in (kwargs or {}).items()},
                       errors=np.geterr())
        self._send_global_random_state(message, buffers)
        self._send(message, buffers)
        while True:
            reply, reply_buffers = self._receive()
            if reply.get("op") in ("return", "raise"):
                self._receive_global_random_state(reply, reply_buffers)
            if reply.get("op") == "return":
                self._write_back(reply, reply_buffers, args, kwargs or {})
                if decode_reference:
                    value = reply.get("value")
                    if not (isinstance(value, dict) and value.get("t") == "ref" and value.get("owner") == self.peer):
                        raise RemoteError("the constructor did not return an object")
                    return value["id"]
                return self.decode(reply.get("value"), reply_buffers)
            if reply.get("op") == "raise":
                self._write_back(reply, reply_buffers, args, kwargs or {})
                raise _exception_from(reply)
            self.serve_one(reply, reply_buffers)

    # NumPy's global generator (np.random.seed, np.random.random) is one state shared by both
    # processes, as it would be in one: it travels whenever it has changed since it last did.
    _last_random_state = None

    def _send_global_random_state(self, message, buffers):
        state = np.random.get_state()
        if not _same_random_state(state, self._last_random_state):
            message["random"] = self.encode(state, buffers)
            self._last_random_state = state

    def _receive_global_random_state(self, message, buffers):
        if "random" in message:
            state = self.decode(message["random"], buffers)
            if not (isinstance(state, tuple) and len(state) == 5 and state[0] == "MT19937"
                    and isinstance(state[1], np.ndarray) and state[1].shape == (624,) and state[1].any()):
                raise RemoteError("NumPy's global generator cannot take that state")
            np.random.set_state(state)
            self._last_random_state = np.random.get_state()

    def _send(self, header, buffers):
        try:
            _write_message(self.writer, header, buffers)
        except (OSError, ValueError):
            self.closed = True
            raise ChannelClosed(f"the {self.peer} process has gone") from None

    def _receive(self):
        try:
            message, buffers = _read_message(self.reader)
        except ChannelClosed:
            self.closed = True
            raise ChannelClosed(f"the {self.peer} process has gone") from None
        if not isinstance(message, dict):
            raise RemoteError("a message that is not an object")
        return message, buffers

    def _write_back(self, reply, buffers, args, kwargs):
        changed = reply.get("changed", ())
        if changed and self.side == "grader":
            # The student's code changed an array it was given: in one process the caller's
            # array would have changed too, which the contract forbids ("never mutate the
            # incoming error_tensor or input"); say so instead of carrying the change over.
            positions = ", ".join(f"argument {position}" if isinstance(position, int) else repr(position)
                                  for position, _ in changed)
            raise ValueError(f"the student's code changed an array it was given ({positions}) in place; "
                             f"a layer, loss or optimizer must leave its arguments as they were")
        for position, encoded in changed:
            original = args[position] if isinstance(position, int) and 0 <= position < len(args) \
                else kwargs.get(position)
            value = self.decode(encoded, buffers)
            if isinstance(original, np.ndarray) and isinstance(value, np.ndarray) and original.flags.writeable \
                    and original.shape == value.shape:
                np.copyto(original, value, casting="unsafe")

    def serve_forever(self):
        """Serve requests until the other side closes the channel."""
        while True:
            try:
                message, buffers = self._receive()
            except ChannelClosed:
                return
            self.serve_one(message, buffers)

    def serve_one(self, message, buffers):
        args, kwargs = (), {}
        try:
            self._receive_global_random_state(message, buffers)
            args = tuple(self.decode(arg, buffers) for arg in message.get("args", ()))
            kwargs = {str(key): self.decode(value, buffers) for key, value in message.get("kwargs", {}).items()}
            snapshots = {position: value.copy() for position, value in list(enumerate(args)) + list(kwargs.items())
                         if isinstance(value, np.ndarray)}
            errors = message.get("errors") or {}
            with np.errstate(**{key: value for key, value in errors.items()
                                if key in ("divide", "over", "under", "invalid")
                                and value in ("ignore", "warn", "raise", "call", "print", "log")}):
                result = self._perform(message, args, kwargs)
            reply = {"op": "return"}
            reply_buffers = []
            reply["value"] = self.encode(result, reply_buffers)
        except BaseException as error:          # noqa: BLE001 - every failure goes back as an answer
            if isinstance(error, (KeyboardInterrupt, SystemExit)) and self.side == "grader":
                raise
            reply, reply_buffers, snapshots = self._describe_exception(error), [], locals().get("snapshots", {})
        changed = []
        for position, before in snapshots.items():
            after = args[position] if isinstance(position, int) else kwargs[position]
            if isinstance(after, np.ndarray) and after.shape == before.shape and not np.array_equal(
                    after, before, equal_nan=after.dtype.kind in "fc"):
                changed.append([position, self.encode(after, reply_buffers)])
        reply["changed"] = changed
        self._send_global_random_state(reply, reply_buffers)
        self._send(reply, reply_buffers)

    def _perform(self, message, args, kwargs):
        operation = message.get("op")
        if operation == "import":
            return self.import_module(str(message.get("name")))
        target = self._from_reference({"owner": self.side, "id": message.get("target", message.get("class"))})
        if operation == "new":
            if not isinstance(target, type):
                raise RemoteError("only a class can make an object")
            return target(*args, **kwargs)
        if operation == "call":
            return target(*args, **kwargs)
        if operation in ("getattr", "setattr", "delattr", "call_method"):
            name = message.get("name")
            if operation == "call_method" and isinstance(target, list) and name in (
                    "__len__", "__getitem__", "__setitem__", "__delitem__") + LIST_METHODS:
                return getattr(target, name)(*args)
            self.policy.check_name(name)
            if operation == "getattr":
                value = getattr(target, name)
                # A list attribute stays live (a test inserts into a network's layers).
                return _ByReference(value) if type(value) is list else value
            if operation in ("setattr", "delattr") and self.policy.strict and \
                    isinstance(target, (type, types.FunctionType, types.ModuleType, *CALLABLE_TYPES)):
                raise AttributeError(f"{getattr(target, '__name__', 'this')} cannot be changed by the student's code")
            if operation == "setattr":
                setattr(target, name, args[0])
                return None
            if operation == "delattr":
                delattr(target, name)
                return None
            return getattr(target, name)(*args, **kwargs)
        if operation == "deepcopy":
            return copy.deepcopy(target)
        if operation == "copy":
            return copy.copy(target)
        if operation == "value":
            return list(target)
        raise RemoteError(f"an unknown request {operation!r}")

    def import_module(self, name):
        raise RemoteError("this side imports nothing for the other")

    def _describe_exception(self, error):
        kind = next((klass.__name__ for klass in type(error).__mro__ if klass.__name__ in BUILTIN_EXCEPTIONS
                     and BUILTIN_EXCEPTIONS[klass.__name__] is klass), "RemoteError")
        try:
            message = str(error)
        except Exception:                       # noqa: BLE001 - a hostile __str__
            message = "(an exception whose message cannot be read)"
        if self.where is not None:
            location = self.where(error)
            if location:
                message = f"{message} [{location}]"
        return {"op": "raise", "type": kind, "name": _bounded(type(error).__name__, NAME_LIMIT),
                "message": _bounded(message, MESSAGE_LIMIT)}


class _ByReference:
    """Send this value by reference even where its type would go by value."""

    def __init__(self, value):
        self.value = value


class _RemoteAttribute:
    """A data attribute of a remote class, read and written remotely (shadows a shared base's)."""

    def __init__(self, name):
        self.name = name

    def __get__(self, instance, owner):
        if instance is None:
            return owner._remote_channel.request({"op": "getattr", "target": owner._remote_class_id,
                                                  "name": self.name})
        return type(instance)._remote_channel.request(
            {"op": "getattr", "target": object.__getattribute__(instance, "_remote_id"), "name": self.name})

    def __set__(self, instance, value):
        type(instance)._remote_channel.request(
            {"op": "setattr", "target": object.__getattribute__(instance, "_remote_id"), "name": self.name}, (value,))

    def __delete__(self, instance):
        type(instance)._remote_channel.request(
            {"op": "delattr", "target": object.__getattribute__(instance, "_remote_id"), "name": self.name})


class _RemoteClassMeta(type):
    """The type of proxy classes: unknown class attributes are read from the remote class."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        owner = next((klass for klass in cls.__mro__ if klass.__dict__.get("_remote_class_id") is not None), None)
        if owner is None:
            raise AttributeError(name)
        return owner._remote_channel.request({"op": "getattr", "target": owner._remote_class_id, "name": name})


def _plain_name(name):
    return isinstance(name, str) and len(name) <= NAME_LIMIT and name.isidentifier() and not name.startswith("__")


def _bounded(text, limit):
    """``text`` as a string of at most ``limit`` characters that UTF-8 can always encode."""
    text = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _same_random_state(first, second):
    return second is not None and first[0] == second[0] and first[2:] == second[2:] \
        and np.array_equal(first[1], second[1])


def _exception_from(reply):
    kind = BUILTIN_EXCEPTIONS.get(str(reply.get("type")), RemoteError)
    message = _bounded(reply.get("message", ""), MESSAGE_LIMIT)
    name = _bounded(reply.get("name", kind.__name__), NAME_LIMIT)
    if kind is RemoteError and name != "RemoteError":
        message = f"{name}: {message}"
    if kind is KeyError:
        return KeyError(message)
    try:
        return kind(message)
    except Exception:                           # noqa: BLE001 - a type with another signature
        return RemoteError(f"{name}: {message}")


def last_frame_in(folder):
    """A function giving "file, line N, in function" of the innermost frame of an exception
    that lies inside ``folder`` (the student's sources), or None."""
    folder = os.path.abspath(folder) + os.sep

    def where(error):
        frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                  if os.path.abspath(frame.filename).startswith(folder)]
        if not frames:
            return None
        frame = frames[-1]
        return f"{os.path.relpath(frame.filename, folder)}, line {frame.lineno}, in {frame.name}"
    return where
