"""One kernel lifecycle for ``kcf start`` and ``kcf run``: launch, use, stop, clean up.

Signals: :class:`StopSignals` is installed when ``main`` begins, before any kernel exists.
SIGTERM, SIGHUP and SIGINT are then only noted, never raised at a random point (an exception
in the middle of a launch or of ZeroMQ's socket set-up could leave a kernel, a file or a
blocked context behind). They act at safe points: a wait that is :meth:`~StopSignals.interruptible`
(no ZeroMQ inside), a check between slices of a wait, or a callback that ends the kernel so
that what waits on it returns.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import TYPE_CHECKING

from ._output import ERROR, CliError

if TYPE_CHECKING:
    from kcf_kernel import KernelProcess, KernelSpec

__all__ = ["Stopped", "StopSignals", "RunningKernel"]

#: What a terminal (Ctrl-C, hang-up) or a supervisor (SIGTERM) sends to stop a program.
_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


class Stopped(KeyboardInterrupt):
    """A stop signal arrived (a :class:`KeyboardInterrupt`, so Ctrl-C handling applies)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class StopSignals:
    """SIGTERM, SIGHUP and SIGINT, noted when they arrive and acted on at safe points.

    Only the first signal acts; later ones (a second Ctrl-C while stopping) are ignored, so
    the clean-up runs to its end. A signal ignored when this is installed (SIGHUP under
    ``nohup``) stays ignored.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._raised = False
        self._interruptible = False
        self._on_stop: Callable[[], object] | None = None
        self._previous: dict[int, signal._HANDLER] = {}

    def install(self) -> None:
        """Handle the stop signals from now on (main thread only)."""
        for sig in _STOP_SIGNALS:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        """Put back the handlers there were before :meth:`install`."""
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            return
        self.received = signum
        if self._interruptible:
            self.act()
        elif self._on_stop is not None:
            self._on_stop()

    def act(self) -> None:
        """Raise :class:`Stopped` for a signal that arrived and has not acted yet."""
        if self.received is not None and not self._raised:
            self._raised = True
            raise Stopped(self.received)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A block where a stop signal raises :class:`Stopped` at once (a plain wait: no
        launch, no ZeroMQ, no clean-up inside). A signal noted before acts on entry."""
        self.act()
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False

    @contextlib.contextmanager
    def on_stop(self, callback: Callable[[], object]) -> Iterator[None]:
        """Within the block, a stop signal calls ``callback`` (in the signal handler: it must
        be quick and must not raise); the waits it ends then return or fail by themselves."""
        self._on_stop = callback
        try:
            yield
        finally:
            self._on_stop = None


def _kernel_target(args: argparse.Namespace) -> tuple[list[str] | KernelSpec, str | None]:
    """What to start (an argv, or a kernelspec) and the kernel name to record
    (``None``: the kernelspec's)."""
    import kcf_kernel

    from ._args import KERNEL_WORDS

    if args.argv:
        argv = list(args.argv)
        return argv, os.path.basename(argv[0])
    kernel = args.kernel or "auto"
    if kernel not in KERNEL_WORDS:
        return kcf_kernel.get_kernel_spec(kernel), None
    if kernel in ("auto", "ipykernel"):
        import importlib.util

        if importlib.util.find_spec("ipykernel") is not None:
            return list(kcf_kernel.ipykernel_argv()), "python3"
        if kernel == "ipykernel":
            from kcf_client._errors import ProgramNotFound

            raise ProgramNotFound("ipykernel", "pip install ipykernel")
    return list(kcf_kernel.example_kernel_argv()), "kcf-example"


def _launch(args: argparse.Namespace) -> KernelProcess:
    import subprocess

    try:
        from kcf_kernel import KernelSpec, launch_kernel
    except ImportError as exc:
        raise CliError(f"kcf_kernel cannot launch kernels here: {exc}", ERROR) from exc
    target, name = _kernel_target(args)
    ports, dialect = args.ports, None
    if isinstance(target, KernelSpec):
        from ._strategy import choose

        choice = choose(target)
        if ports is None or ports == choice.strategy:
            ports, dialect = choice.strategy, choice.dialect
    # The kernel's own chatter (ipykernel's banner notes) must not mix with our output.
    quiet = None if args.kernel_output else subprocess.DEVNULL
    return launch_kernel(
        target,
        kernel_name=name,
        ports=ports,
        handshake_dialect=dialect,
        port_range=args.port_range,
        die_with_launcher=not getattr(args, "outlive", False),
        stdin=subprocess.DEVNULL,
        stdout=quiet,
        stderr=quiet,
    )


class RunningKernel:
    """A kernel started for the command, stopped and cleaned up when the block ends.

    Entering launches; a stop signal noted meanwhile then stops it at once. Leaving asks a
    kernel that was ready to shut down (``shutdown_request``), then
    :meth:`KernelProcess.close` stops what is left and removes the files. Stop signals only
    act between these steps, never inside one.
    """

    def __init__(self, args: argparse.Namespace, signals: StopSignals) -> None:
        self._args = args
        self._signals = signals
        self._kernel: KernelProcess | None = None
        self.ready = False
        self._detached = False

    @property
    def kernel(self) -> KernelProcess:
        """The kernel process (inside the block)."""
        if self._kernel is None:
            raise RuntimeError("RunningKernel used outside its with block")
        return self._kernel

    def wait_until_ready(self, timeout: float) -> None:
        """Return once the kernel answers ``kernel_info_request``; a stop signal ends the
        wait within a fraction of a second (checked between short waits).

        Raises:
            Stopped: a stop signal arrived.
            KernelTimeout: no answer within ``timeout``.
        """
        import time

        from kcf_spec import Channel

        from kcf_client._blocking import KernelConnection
        from kcf_client._errors import KernelTimeout

        deadline = time.monotonic() + timeout
        # Short waits, so that a signal acts soon; each one asks anew, and a reply that comes
        # after its wait is dropped, so they grow (to 1 s) for a kernel slow to answer.
        step = 0.25
        with KernelConnection(self.kernel.info, path=self.kernel.connection_file) as kc:
            while True:
                left = deadline - time.monotonic()
                try:
                    kc.wait_until_ready(max(0.01, min(step, left)))
                    break
                except KernelTimeout as exc:
                    self._signals.act()
                    if left <= step:  # the caller's whole timeout, not the last short wait
                        raise KernelTimeout(
                            kernel=exc.kernel,
                            channel=exc.channel or Channel.SHELL,
                            timeout=timeout,
                            request=exc.request,
                        ) from None
                step = min(step * 2, 1.0)
        self._signals.act()
        self.ready = True

    def detach(self) -> None:
        """Leave the kernel running when the block ends (``kcf start --outlive``): nothing
        is stopped or removed; its port reservation (if any) is released, as the kernel
        listens on its ports by now. A stop signal noted before acts first (the kernel is
        then stopped as usual)."""
        self._signals.act()
        if self.kernel.reservation is not None:
            self.kernel.reservation.release()
        self._detached = True

    def end_on_stop(self) -> contextlib.AbstractContextManager[None]:
        """Within the block, a stop signal terminates the kernel's process group, so that
        whatever waits on the kernel (running code) ends with :class:`KernelDied`."""
        return self._signals.on_stop(lambda: self.kernel.signal_group(signal.SIGTERM))

    def __enter__(self) -> RunningKernel:
        self._kernel = _launch(self._args)  # a signal here is noted, and acts just below
        try:
            self._signals.act()  # a signal that came during the launch
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._teardown()

    def _teardown(self) -> None:
        kernel = self._kernel
        if kernel is None or self._detached:
            return
        if self.ready and kernel.poll() is None:
            self._shut_down(kernel)
        kernel.close()

    @staticmethod
    def _shut_down(kernel: KernelProcess) -> None:
        """Ask the kernel to exit by itself (it may save state); close() does the rest."""
        from kcf_kernel import KernelWaitTimeout

        from kcf_client._blocking import KernelConnection
        from kcf_client._errors import ClientError

        try:
            with KernelConnection(kernel.info, path=kernel.connection_file) as kc:
                kc.shutdown(timeout=3.0)
        except ClientError:  # no answer, or dead already: close() makes sure
            return
        with contextlib.suppress(KernelWaitTimeout):
            kernel.wait(timeout=5.0)
