"""The JEP 66 handshake as kernels ship it: three dialects, sans I/O.

JEP 66 lets a kernel bind its own ports and report them to a *registration socket* the
launcher bound. Three mutually incompatible dialects are deployed; this module knows each
one's registration file, report and reply, as frames in and frames out (no sockets):

* ``jupyter`` (jupyter_client's documentation): the file has ``kernel_id``,
  ``registration_ip`` and an integer ``registration_port``; a DEALER sends bare signed
  content (``kernel_id`` and the ports as strings); the reply is "a signed single-frame
  content ACK" whose content the docs leave open: kcf sends ``{"status": ...}``.
* ``xeus`` (xeus-zmq 4): the same file with ``registration_port`` a string, plus ``ip``
  and ``signature_scheme``; the same report bytes; the reply is a bare signed ``ACK``.
* ``kallichore`` (ark + Posit's Kallichore): the file has no ``kernel_id``, ``ip`` and an
  integer ``registration_port``; a REQ sends a full ``handshake_request`` message with
  integer ports; the reply is a full ``handshake_reply`` ``{status, capabilities}``.

Sources: jupyter_client ``docs/kernels.rst`` ("Registration file format") and
``docs/messaging.rst`` ("Kernel startup handshake"); xeus ``xkernel_configuration.cpp``,
xeus-zmq ``xhandshaking.cpp`` (kernel half) and ``xhandshake_client_zmq.cpp`` (launcher
half); ark ``amalthea/src/registration_file.rs``, ``kernel.rs``, ``wire/handshake_*.rs``;
Kallichore ``kcshared/src/handshake_protocol.rs``, ``kcserver/src/registration_socket.rs``.

A launcher receives with :func:`parse_report`, which accepts every shape whatever dialect
it wrote the file in (bare content or a full message, string or integer ports, a DEALER or
a REQ peer), and answers with :func:`build_reply`. A kernel sends :func:`build_report` and
reads the answer with :func:`parse_reply`. Which dialect a kernelspec speaks is
:func:`choose_dialect` (with its reason) or :func:`dialect_for_kernelspec`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from ._channel import Channel
from ._errors import ConnectionFileError, MalformedMessage, RemoteProtocolError, SignatureError
from ._registration import RegistrationInfo, parse_port_report
from ._signing import Signer, digest_name
from ._wire import DELIMITER, Codec

__all__ = [
    "Dialect",
    "DIALECTS",
    "DEFAULT_DIALECT",
    "HANDSHAKE_REQUEST",
    "HANDSHAKE_REPLY",
    "XEUS_ACK",
    "PortReport",
    "HandshakeAnswer",
    "check_dialect",
    "registration_document",
    "registration_dialect",
    "report_socket_type",
    "build_report",
    "parse_report",
    "build_reply",
    "build_refusal",
    "parse_reply",
    "DialectChoice",
    "choose_dialect",
    "dialect_for_kernelspec",
]

#: A handshake dialect: ``"jupyter"`` (jupyter_client's documentation), ``"xeus"``
#: (xeus-zmq 4) or ``"kallichore"`` (ark/amalthea with Posit's Kallichore supervisor).
Dialect = Literal["jupyter", "xeus", "kallichore"]

#: Every dialect, the documented one first.
DIALECTS: tuple[Dialect, ...] = ("jupyter", "xeus", "kallichore")

#: The dialect kcf speaks when none is asked for: jupyter_client's documented one.
DEFAULT_DIALECT: Dialect = "jupyter"

#: ``msg_type`` of the Kallichore dialect's report (ark's ``HandshakeRequest``).
HANDSHAKE_REQUEST = "handshake_request"
#: ``msg_type`` of the Kallichore dialect's reply (Kallichore's ``HandshakeReply``).
HANDSHAKE_REPLY = "handshake_reply"
#: The content of xeus-zmq's acknowledgement (``xhandshake_client_zmq``).
XEUS_ACK = b"ACK"

_PORT_ORDER_ARK = (Channel.CONTROL, Channel.SHELL, Channel.STDIN, Channel.IOPUB, Channel.HB)


def check_dialect(name: object) -> Dialect:
    """Return ``name`` as a :data:`Dialect`.

    Raises:
        ValueError: ``name`` is not one of :data:`DIALECTS` (the error lists them).

    .. versionadded:: 0.2.0
    """
    for dialect in DIALECTS:
        if name == dialect:
            return dialect
    raise ValueError(
        f"unknown handshake dialect {name!r}; expected one of {', '.join(map(repr, DIALECTS))}"
    )


# -- the registration file ----------------------------------------------------------------


def registration_document(registration: RegistrationInfo, dialect: Dialect) -> dict[str, Any]:
    """The registration file of ``dialect`` for ``registration``, as a JSON object.

    * ``jupyter``: the documented fields, ``registration_port`` an integer, plus ``ip``
      (the address the kernel binds: the registration address), which costs nothing and
      lets a kernel of another dialect that is handed this file find where to bind.
    * ``xeus``: the same with ``registration_port`` as a decimal string (xeus reads it with
      ``get<std::string>()`` and fails on a number); ``ip`` and ``signature_scheme`` are
      required by xeus's reader.
    * ``kallichore``: ``transport``, ``signature_scheme``, ``ip`` (the registration
      address), ``key``, integer ``registration_port``; no ``kernel_id`` (ark's reader
      ignores unknown fields, but Kallichore writes none, so neither do we). tcp only: ark
      builds ``{transport}://{ip}:{port}``, which is no ipc endpoint.

    Raises:
        ValueError: ``dialect`` is unknown, ``kallichore`` over ipc, or ``jupyter``/``xeus``
            without a kernel id.

    .. versionadded:: 0.2.0
    """
    dialect = check_dialect(dialect)
    reg = registration
    ip = reg.extras.get("ip", reg.registration_ip)
    if dialect == "kallichore":
        if reg.transport != "tcp":
            raise ValueError(
                "the kallichore dialect speaks tcp only (ark cannot build ipc endpoints)"
            )
        return {
            "transport": reg.transport,
            "signature_scheme": reg.signature_scheme,
            "ip": reg.registration_ip,
            "key": reg.key.decode("utf-8"),
            "registration_port": reg.registration_port,
        }
    if reg.kernel_id is None:
        raise ValueError(f"the {dialect} dialect needs a kernel_id in the registration file")
    doc: dict[str, Any] = {
        "kernel_id": reg.kernel_id,
        "transport": reg.transport,
        "registration_ip": reg.registration_ip,
        "registration_port": (
            str(reg.registration_port) if dialect == "xeus" else reg.registration_port
        ),
        "ip": ip,
        "key": reg.key.decode("utf-8"),
        "signature_scheme": reg.signature_scheme,
    }
    for k, v in reg.extras.items():
        doc.setdefault(k, v)
    return doc


def registration_dialect(data: Mapping[str, Any]) -> Dialect:
    """Which dialect wrote a valid registration document.

    A string ``registration_port`` is xeus's; a document without ``kernel_id`` is
    Kallichore's; anything else is the documented one.

    .. versionadded:: 0.2.0
    """
    if isinstance(data.get("registration_port"), str):
        return "xeus"
    if "kernel_id" not in data:
        return "kallichore"
    return "jupyter"


# -- the kernel's report ------------------------------------------------------------------


class PortReport(NamedTuple):
    """A kernel's port report as the launcher received it.

    Attributes:
        ports: ``{Channel: port}`` in canonical order.
        kernel_id: the ``kernel_id`` the kernel sent, or ``None`` (Kallichore's report
            has none).
        full_message: ``True`` for a full Jupyter message (``handshake_request``),
            ``False`` for bare signed content (jupyter docs, xeus).
        identities: the routing frames before the delimiter (a REQ peer's empty frame
            included), to answer on a ROUTER.
        header: the header of a full message (the reply's parent), else ``None``.

    .. versionadded:: 0.2.0
    """

    ports: dict[Channel, int]
    kernel_id: str | None
    full_message: bool
    identities: tuple[bytes, ...]
    header: Mapping[str, Any] | None = None


def report_socket_type(dialect: Dialect) -> Literal["DEALER", "REQ"]:
    """The ZeroMQ socket type the kernel half uses in ``dialect`` (by name, no zmq import).

    The documentation and xeus-zmq use a DEALER; ark uses a REQ.

    .. versionadded:: 0.2.0
    """
    return "REQ" if check_dialect(dialect) == "kallichore" else "DEALER"


def _sign_bare(key: bytes, scheme: str, content: bytes, *, always: bool) -> bytes:
    """The hex HMAC of one content frame. ``always``: xeus signs even with an empty key
    (OpenSSL's HMAC of an empty key), where Jupyter's convention is an empty signature."""
    if key or always:
        return hmac.new(key, content, digest_name(scheme)).hexdigest().encode("ascii")
    return b""


def _compact(obj: object, *, sort_keys: bool = False) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys).encode(
        "utf-8"
    )


def build_report(
    registration: RegistrationInfo,
    ports: Mapping[Channel, int],
    dialect: Dialect,
    *,
    codec: Codec | None = None,
) -> list[bytes]:
    """The frames the kernel half sends on its :func:`report_socket_type` socket.

    * ``jupyter`` and ``xeus``: ``[<IDS|MSG>, signature, content]``, the content a compact
      JSON object with sorted keys (byte for byte what xeus-zmq sends: ``kernel_id`` and
      the five ports as decimal strings), signed alone.
    * ``kallichore``: a full ``handshake_request`` message whose content is the five
      ports as integers in ark's order (control, shell, stdin, iopub, hb).

    Args:
        registration: the registration file read by the kernel.
        ports: the ports the kernel bound.
        dialect: which dialect to speak.
        codec: the codec for a full message (default: one from the registration's key).

    Raises:
        ValueError: unknown dialect, or a bare dialect without a kernel id.
        ConnectionFileError: a port is missing or out of range.

    .. versionadded:: 0.2.0
    """
    dialect = check_dialect(dialect)
    from ._registration import port_report

    strings = port_report(ports)  # validates every port
    key, scheme = registration.key, registration.signature_scheme
    if dialect == "kallichore":
        codec = codec if codec is not None else Codec(key, scheme)
        content = {c.port_key: int(strings[c.port_key]) for c in _PORT_ORDER_ARK}
        return codec.serialize(codec.message(HANDSHAKE_REQUEST, content))
    if registration.kernel_id is None:
        raise ValueError(f"the {dialect} dialect reports a kernel_id, and this file has none")
    body = _compact({"kernel_id": registration.kernel_id, **strings}, sort_keys=True)
    return [DELIMITER, _sign_bare(key, scheme, body, always=dialect == "xeus"), body]


def _split(frames: Sequence[bytes]) -> tuple[tuple[bytes, ...], list[bytes]]:
    parts = [bytes(f) for f in frames]
    try:
        idx = parts.index(DELIMITER)
    except ValueError:
        raise MalformedMessage(
            f"no {DELIMITER.decode()} delimiter among {len(parts)} frames", check="delimiter"
        ) from None
    return tuple(parts[:idx]), parts[idx + 1 :]


def _json_object(data: bytes, frame: str) -> dict[str, Any]:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedMessage(
            f"{frame} frame is not UTF-8 JSON: {exc}", check="json", frame=frame
        ) from None
    if not isinstance(obj, dict):
        raise MalformedMessage(
            f"{frame} frame must be a JSON object, got {type(obj).__name__}",
            check="object",
            frame=frame,
        )
    return obj


def _verify(signer: Signer, signature: bytes, parts: Sequence[bytes]) -> None:
    if not signer.signs:
        return  # no key: nothing to check (a xeus peer's HMAC of the empty key included)
    if not signature:
        raise SignatureError(
            "the handshake message is unsigned but a key is set", check="missing", frame="signature"
        )
    if not signer.verify(signature, parts):
        raise SignatureError(
            f"the handshake message's signature does not match ({signer.scheme})",
            check="mismatch",
            frame="signature",
        )


def _full_message(
    rest: list[bytes], signer: Signer, msg_type: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify and decode a full message after the delimiter; ``metadata`` may be ``null``
    (Kallichore writes it so). Returns (header, content)."""
    signature, body = rest[0], rest[1:5]
    _verify(signer, signature, body)
    header = _json_object(body[0], "header")
    if header.get("msg_type") != msg_type:
        raise RemoteProtocolError(
            f"expected a {msg_type} message, got msg_type {header.get('msg_type')!r}",
            check="field",
            frame="header",
        )
    return header, _json_object(body[3], "content")


def parse_report(
    frames: Sequence[bytes], signer: Signer, *, kernel_id: str | None = None
) -> PortReport:
    """Read a kernel's port report as a ROUTER received it, in any dialect.

    Accepts bare signed content (``[ids..., <IDS|MSG>, signature, content]``, jupyter docs
    and xeus) and full ``handshake_request`` messages (ark), from a DEALER or a REQ peer,
    with the ports as strings or integers.

    Args:
        frames: the frames as received.
        signer: the registration file's key and scheme.
        kernel_id: the id the launcher gave the kernel; a report naming another is
            refused (a report without one, as Kallichore's, is accepted).

    Raises:
        SignatureError: the signature is missing or wrong (not for us: ignore it).
        MalformedMessage: the frames are no report of any dialect.
        RemoteProtocolError: a well-signed report that says the wrong thing (another
            kernel's id, bad ports, a message of another type); answer it with an error.

    .. versionadded:: 0.2.0
    """
    identities, rest = _split(frames)
    header: dict[str, Any] | None = None
    if len(rest) == 2:
        _verify(signer, rest[0], rest[1:])
        content = _json_object(rest[1], "content")
    elif len(rest) >= 5:
        header, content = _full_message(rest, signer, HANDSHAKE_REQUEST)
    else:
        raise MalformedMessage(
            f"a port report has 2 frames after {DELIMITER.decode()} (signature, content) or "
            f"at least 5 (a full message), got {len(rest)}",
            check="frame-count",
        )
    reported = content.get("kernel_id")
    if reported is not None and kernel_id is not None and reported != kernel_id:
        raise RemoteProtocolError(
            f"report for another kernel {reported!r} (expected {kernel_id!r})",
            check="field",
            frame="content",
        )
    try:
        ports = parse_port_report(content)
    except ConnectionFileError as exc:
        raise RemoteProtocolError(
            f"bad port report: {exc}", check="field", frame="content"
        ) from None
    return PortReport(
        ports,
        reported if isinstance(reported, str) else None,
        header is not None,
        identities,
        header,
    )


# -- the launcher's reply -----------------------------------------------------------------


def build_reply(
    report: PortReport,
    dialect: Dialect,
    codec: Codec,
    *,
    error: str | None = None,
) -> list[bytes] | None:
    """The frames the launcher sends back (on its ROUTER) for ``report``.

    The reply follows the report's shape:

    * a full ``handshake_request`` gets a full ``handshake_reply`` (parent: the request)
      with Kallichore's content ``{"status": "ok" | "error", "capabilities": {}}`` plus
      ``"error"`` when refused; ark reads ``status``.
    * bare content in the ``xeus`` dialect gets xeus-zmq's bare signed ``ACK`` (signed even
      with an empty key, as xeus does). A refusal gets **no** reply (``None``): xeus only
      checks the signature, so any signed answer would read as acceptance; without one it
      gives up after 5 s.
    * bare content otherwise (the docs leave the content open) gets bare signed compact
      JSON ``{"status": "ok"}`` or ``{"status": "error", "error": ...}``: the shape of
      Kallichore's reply, which a kernel half can tell apart. A kernel that only checks
      the signature (as xeus does) takes it as the documented ACK.

    Args:
        report: what :func:`parse_report` returned.
        dialect: the dialect the registration file was written in.
        codec: the registration file's key and scheme.
        error: why the report is refused; ``None`` accepts it.

    .. versionadded:: 0.2.0
    """
    dialect = check_dialect(dialect)
    status: dict[str, Any] = {"status": "ok" if error is None else "error"}
    if error is not None:
        status["error"] = error
    if report.full_message:
        content = {**status, "capabilities": {}}
        msg = codec.message(
            HANDSHAKE_REPLY, content, parent=report.header, identities=report.identities
        )
        return codec.serialize(msg)
    if dialect == "xeus":
        if error is not None:
            return None
        signature = (
            codec.sign([XEUS_ACK])
            if codec.signs
            else _sign_bare(b"", codec.signature_scheme, XEUS_ACK, always=True)
        )
        return [*report.identities, DELIMITER, signature, XEUS_ACK]
    body = _compact(status)
    return [*report.identities, DELIMITER, codec.sign([body]), body]


def build_refusal(
    frames: Sequence[bytes], dialect: Dialect, codec: Codec, error: str
) -> list[bytes] | None:
    """The refusal of a correctly signed report that :func:`parse_report` rejected with
    :class:`RemoteProtocolError` (another kernel's id, bad ports, another message type),
    shaped as :func:`build_reply` shapes it; ``None`` where the dialect has no refusal
    (xeus) or the frames are no report at all.

    .. versionadded:: 0.2.0
    """
    try:
        identities, rest = _split(frames)
    except MalformedMessage:
        return None
    header: dict[str, Any] | None = None
    if len(rest) >= 5:
        try:
            header = _json_object(rest[1], "header")
        except MalformedMessage:
            return None
    elif len(rest) != 2:
        return None
    shell = PortReport({}, None, header is not None, identities, header)
    return build_reply(shell, dialect, codec, error=error)


class HandshakeAnswer(NamedTuple):
    """What the launcher answered, as the kernel half reads it.

    Attributes:
        ok: the launcher accepted the report.
        error: why it refused (``""`` when it accepted).
        content: the reply content (``{"ack": "ACK"}`` for xeus's bare ``ACK``).

    .. versionadded:: 0.2.0
    """

    ok: bool
    error: str
    content: Mapping[str, Any]


def parse_reply(frames: Sequence[bytes], signer: Signer) -> HandshakeAnswer:
    """Read the launcher's answer as the kernel half received it (DEALER or REQ).

    Accepts a bare signed ``ACK`` (xeus-zmq), a bare signed JSON object (kcf; ``status``
    other than ``"ok"`` is a refusal; any other signed content is the documented,
    implementation-defined ACK), and a full ``handshake_reply`` (Kallichore; its
    ``metadata`` may be ``null``).

    Raises:
        SignatureError: the answer is unsigned or its signature is wrong.
        MalformedMessage: the frames are no answer of any dialect.
        RemoteProtocolError: a full message of another type.

    .. versionadded:: 0.2.0
    """
    _, rest = _split(frames)
    if len(rest) == 2:
        _verify(signer, rest[0], rest[1:])
        if rest[1] == XEUS_ACK:
            return HandshakeAnswer(True, "", {"ack": XEUS_ACK.decode()})
        try:
            content: object = json.loads(rest[1].decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            content = None
        if not isinstance(content, dict):  # the docs leave the content open: a signed ACK
            return HandshakeAnswer(True, "", {"ack": rest[1].decode("utf-8", "replace")})
    elif len(rest) >= 5:
        _, content = _full_message(rest, signer, HANDSHAKE_REPLY)
    else:
        raise MalformedMessage(
            f"a handshake answer has 2 frames after {DELIMITER.decode()} or at least 5, "
            f"got {len(rest)}",
            check="frame-count",
        )
    status = content.get("status", "ok")
    if status == "ok":
        return HandshakeAnswer(True, "", content)
    reason = content.get("error", content.get("evalue", f"status {status!r}"))
    return HandshakeAnswer(False, str(reason), content)


# -- which dialect a kernelspec speaks ----------------------------------------------------

#: Modules run with ``python -m`` that are ipykernel, which never gets a registration file.
_IPYKERNEL_MODULES = frozenset({"ipykernel_launcher", "ipykernel", "IPython.kernel"})
#: Programs known to read a xeus-dialect registration file (checked: xeus-python 0.19).
_XEUS_PROGRAMS = frozenset({"xpython", "xpython_launcher"})
#: Programs known to read a Kallichore-dialect registration file (ark).
_KALLICHORE_PROGRAMS = frozenset({"ark"})


def _version(text: object) -> tuple[int, int] | None:
    if not isinstance(text, str):
        return None
    major, _, rest = text.strip().partition(".")
    minor = rest.partition(".")[0]
    if not (major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


def _programs(argv: Sequence[str]) -> set[str]:
    """The program of ``argv`` and, for ``python -m MODULE``, the module (basenames)."""
    names: set[str] = set()
    if argv:
        names.add(argv[0].replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".exe"))
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m":
            names.add(argv[i + 1])
    return names


class DialectChoice(NamedTuple):
    """Which handshake dialect a kernelspec's kernel reads, and why.

    Attributes:
        dialect: the dialect, or ``None``: give the kernel a classic connection file.
        reason: the rule that decided, in a few words (for ``kcf kernelspec list``).

    .. versionadded:: 0.2.0
    """

    dialect: Dialect | None
    reason: str


def choose_dialect(
    argv: Sequence[str],
    language: str = "",
    metadata: Mapping[str, Any] | None = None,
    kernel_protocol_version: str | None = None,
) -> DialectChoice:
    """The handshake dialect a kernelspec's kernel reads (``None``: give it a classic
    connection file), with the reason.

    The rule, first match wins:

    1. **ipykernel never** (``python -m ipykernel_launcher`` / ``ipykernel``): ipykernel
       7.4's kernel.json declares ``kernel_protocol_version`` 5.5 but it has no handshake
       and would fail on a registration file.
    2. An explicit choice in the kernelspec's metadata, namespaced for kcf:
       ``{"kcf": {"handshake_dialect": "xeus"}}`` (``null`` or ``false``: never).
    3. Kernels known by their program: xeus-python (``xpython``, ``python -m
       xpython_launcher``) → ``"xeus"``; ark (``ark``, language R) → ``"kallichore"``.
       Their kernelspecs declare no protocol version, so this is how they are found.
    4. An argv naming ``{registration_file}`` (the kernel takes a registration file, as
       kcf's example kernel with ``--registration``) → ``"jupyter"``.
    5. ``kernel_protocol_version`` >= 5.6, where jupyter_client's documentation puts the
       handshake → ``"jupyter"``.
    6. Anything else, 5.5 included (JEP 66 said 5.5, but the one kernel that declares it
       in the wild has no handshake), → ``None``.

    Args:
        argv: the kernelspec's ``argv``.
        language: its ``language``.
        metadata: its ``metadata``.
        kernel_protocol_version: its ``kernel_protocol_version`` (a string such as "5.5").

    Raises:
        ValueError: the metadata names an unknown dialect.

    .. versionadded:: 0.2.0
    """
    programs = _programs(argv)
    if programs & _IPYKERNEL_MODULES:
        return DialectChoice(None, "ipykernel has no handshake (whatever its kernelspec says)")
    kcf_meta = (metadata or {}).get("kcf")
    if isinstance(kcf_meta, Mapping) and "handshake_dialect" in kcf_meta:
        chosen = kcf_meta["handshake_dialect"]
        if chosen is None or chosen is False:
            return DialectChoice(None, "the kernelspec's metadata turns the handshake off")
        return DialectChoice(check_dialect(chosen), "the kernelspec's metadata names it")
    known = programs & _XEUS_PROGRAMS
    if known:
        return DialectChoice("xeus", f"{min(known)} (xeus-python) speaks the xeus dialect")
    known = programs & _KALLICHORE_PROGRAMS
    if known and language.lower() in ("r", ""):
        return DialectChoice("kallichore", f"{min(known)} speaks the kallichore dialect")
    if any("{registration_file}" in arg for arg in argv):
        return DialectChoice("jupyter", "the argv takes a {registration_file}")
    version = _version(kernel_protocol_version)
    if version is not None and version >= (5, 6):
        return DialectChoice("jupyter", f"kernel_protocol_version {kernel_protocol_version}")
    if version is not None:
        return DialectChoice(None, f"kernel_protocol_version {kernel_protocol_version} < 5.6")
    return DialectChoice(None, "no handshake declared")


def dialect_for_kernelspec(
    argv: Sequence[str],
    language: str = "",
    metadata: Mapping[str, Any] | None = None,
    kernel_protocol_version: str | None = None,
) -> Dialect | None:
    """The handshake dialect a kernelspec's kernel reads, or ``None``: give it a classic
    connection file. :func:`choose_dialect` without the reason (the rule is written there).

    Raises:
        ValueError: the metadata names an unknown dialect.

    .. versionadded:: 0.2.0
    """
    return choose_dialect(argv, language, metadata, kernel_protocol_version).dialect
