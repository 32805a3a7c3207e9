"""Reaching Dask: an embedded LocalCluster on loopback, or a running scheduler (TCP or TLS).

A Dask scheduler runs whatever code its clients send on its workers: never
expose one to an untrusted network. The embedded cluster listens on
127.0.0.1 only and has no dashboard unless asked for; a remote scheduler is
reached over TLS with certificates from the flags or Dask's own
configuration (``distributed.comm.tls.*``).
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import SalcodecError


@dataclass(frozen=True)
class TLSFiles:
    """Client certificates for a ``tls://`` scheduler (PEM files)."""

    ca_file: str | None = None
    cert: str | None = None
    key: str | None = None

    def given(self) -> bool:
        return any((self.ca_file, self.cert, self.key))


def import_distributed():
    """``distributed``, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise SalcodecError("--distributed needs Dask: pip install 'salcodec[distributed]'"
                            ) from None
    return distributed


def local_workers() -> int:
    """Worker processes of the embedded cluster: one per core (each single-threaded)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@contextmanager
def connect(address: str | None = None, tls: TLSFiles | None = None,
            n_workers: int | None = None, dashboard: str | None = None):
    """Yield ``(client, local)``: a Dask client and whether its cluster is the embedded one.

    Parameters
    ----------
    address : str, optional
        ``tcp://host:port`` or ``tls://host:port`` of a running scheduler; None
        starts a LocalCluster on 127.0.0.1 (``n_workers`` processes, one
        thread each; default one per core).
    tls : TLSFiles, optional
        Certificates for a ``tls://`` address (else Dask's configuration).
    dashboard : str, optional
        Address for the embedded cluster's dashboard (default: none).
    """
    distributed = import_distributed()
    tls = tls or TLSFiles()
    if address is None:
        if tls.given():
            raise SalcodecError("--tls-* options are for a remote scheduler "
                                "(--distributed tls://host:port)")
        with warnings.catch_warnings():
            # The scheduler's HTTP routes (health, metrics; no dashboard unless
            # asked) try port 8787 first and warn when it is taken: not the user's business.
            warnings.filterwarnings("ignore", message="Port 8787 is already in use")
            cluster = distributed.LocalCluster(
                n_workers=n_workers or local_workers(), threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=dashboard, scheduler_port=0,
                silence_logs=40)
        try:
            with distributed.Client(cluster) as client:
                yield client, True
        finally:
            cluster.close()
        return
    security = None
    if address.startswith("tls://"):
        from distributed.security import Security

        if tls.given():
            if not (tls.cert and tls.key):
                raise SalcodecError("--tls-cert and --tls-key go together")
            security = Security(tls_ca_file=tls.ca_file, tls_client_cert=tls.cert,
                                tls_client_key=tls.key, require_encryption=True)
        else:
            security = Security()  # from Dask's configuration
    elif tls.given():
        raise SalcodecError(f"{address}: TLS certificates given for a plain tcp:// "
                            "scheduler; use tls://host:port")
    elif "://" in address and not address.startswith("tcp://"):
        raise SalcodecError(f"{address}: use tcp://host:port or tls://host:port")
    try:
        client = distributed.Client(address, security=security, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise SalcodecError(f"{address}: cannot reach the Dask scheduler ({exc})") from None
    with client:
        yield client, False
